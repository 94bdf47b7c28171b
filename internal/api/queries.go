package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/objstore"
)

// Lake queries (lake.md §3–§4, operations.md §2).

// Lake is CloudTrail Lake's query engine as the API uses it (a
// *lake.Engine). Every method is scoped to the caller's account; errors
// wrap the queries package's sentinels.
type Lake interface {
	StartQuery(ctx context.Context, account, region, statement string, opt queries.StartOptions) (string, error)
	DescribeQuery(account, region, id string) (queries.Info, error)
	QueryResults(account, region, id string, offset, limit int) (queries.Info, [][]*string, error)
	ListQueries(account, store string, from, to time.Time, status string) []queries.Info
	CancelQuery(account, region, id string) (queries.Info, error)
	// QueryByAlias returns the newest query started for a QueryAlias (of
	// the dashboard refresh refreshID when not ""); queries.ErrQueryNotFound
	// when there is none.
	QueryByAlias(account, region, alias, refreshID string) (queries.Info, error)
	// ResolveStore returns the id of the caller's event data store named
	// by its ARN or id; queries.ErrStoreNotFound or
	// queries.ErrStoreInactive when it has none or it is being deleted.
	ResolveStore(account, region, idOrARN string) (string, error)
	// CheckQuery validates a statement exactly as StartQuery does, without
	// running it (GenerateQuery's check of a generated statement).
	CheckQuery(ctx context.Context, account, region, statement string) error
	// StoreSchema returns the columns of the caller's store id, one per
	// line with its type, for a query generator's prompt.
	StoreSchema(account, region, id string) (string, error)
}

const (
	codeInvalidQuery  = "InvalidQueryStatementException"
	codeQueryNotFound = "QueryIdNotFoundException"
	codeEDSNotFound   = "EventDataStoreNotFoundException"
	codeEDSInactive   = "InactiveEventDataStoreException"
	codeEDSARNInvalid = "EventDataStoreARNInvalidException"
)

var (
	uuidPattern       = regexp.MustCompile(`^[a-f0-9\-]{36}$`)
	storeNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9._/\-:]{3,256}$`)
	deliveryS3Pattern = regexp.MustCompile(`^s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?$`)
	accountIDPattern  = regexp.MustCompile(`^\d{12,16}$`)
	queryStatuses     = []string{queries.Queued, queries.Running, queries.Finished, queries.Failed, queries.Cancelled, queries.TimedOut}
)

type startQueryInput struct {
	QueryStatement               *string  `json:"QueryStatement"`
	DeliveryS3Uri                *string  `json:"DeliveryS3Uri"`
	QueryAlias                   *string  `json:"QueryAlias"`
	QueryParameters              []string `json:"QueryParameters"`
	EventDataStoreOwnerAccountId *string  `json:"EventDataStoreOwnerAccountId"`
}

// QueryAliasResolver resolves StartQuery's QueryAlias and QueryParameters
// to the statement to run, for the caller's account and region. ok is
// false when alias is not one the resolver knows, so the next one is
// asked; err, when ok, wraps a sentinel of the catalogue (the parameters
// do not fit, the statement is invalid). A dashboard widget's alias is one
// kind ([dashboards.Engine.ResolveAlias]); a generated query's is another.
type QueryAliasResolver func(ctx context.Context, account, region, alias string, params []string) (statement string, ok bool, err error)

var queryAliasPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9._\-]{0,255}$`)

// aliasStatement returns the statement StartQuery runs for a QueryAlias,
// and the prompt it was generated from for a GenerateQuery alias.
func (h *Handler) aliasStatement(ctx context.Context, caller identity.Caller, in *startQueryInput) (statement, prompt string, err error) {
	alias := *in.QueryAlias
	if in.QueryStatement != nil {
		return "", "", invalid(codeInvalidParameter, "Give either QueryStatement or QueryAlias (with its QueryParameters), not both.")
	}
	if !queryAliasPattern.MatchString(alias) {
		return "", "", invalid(codeInvalidParameter, "QueryAlias %q is not a query alias: 1 to 256 of A-Z a-z 0-9 . _ -, starting with a letter.", clip(alias))
	}
	if in.QueryParameters != nil && (len(in.QueryParameters) < 1 || len(in.QueryParameters) > 10) {
		return "", "", invalid(codeInvalidParameter, "QueryParameters has %d elements; give 1 to 10, or leave it out for the alias's defaults.", len(in.QueryParameters))
	}
	for i, p := range in.QueryParameters {
		if len(p) < 1 || len(p) > 1024 {
			return "", "", invalid(codeInvalidParameter, "QueryParameters[%d] must be 1 to 1024 characters.", i)
		}
	}
	if in.QueryParameters == nil {
		if stmt, prompt, ok := h.queryAlias(caller, alias); ok {
			return stmt, prompt, nil
		}
	}
	for _, resolve := range h.opts.QueryAliases {
		stmt, ok, err := resolve(ctx, caller.AccountID, caller.Region, alias, in.QueryParameters)
		if ok {
			return stmt, "", err
		}
	}
	return "", "", invalid(codeInvalidParameter, "QueryAlias %q is not the alias of a query in this account and region: use a dashboard widget's QueryAlias (GetDashboard lists them) "+
		"or one GenerateQuery returned in the last 7 days (or generate the query again).", clip(alias))
}

type startQueryOutput struct {
	QueryId string `json:"QueryId"`
}

func (h *Handler) startQuery(ctx context.Context, caller identity.Caller, in *startQueryInput) (*startQueryOutput, error) {
	if err := checkOwner(caller, in.EventDataStoreOwnerAccountId); err != nil {
		return nil, err
	}
	var opt queries.StartOptions
	statement := ""
	switch {
	case in.QueryAlias != nil:
		stmt, prompt, err := h.aliasStatement(ctx, caller, in)
		if err != nil {
			return nil, err
		}
		statement, opt.Alias, opt.Prompt = stmt, *in.QueryAlias, prompt
	case in.QueryParameters != nil:
		return nil, invalid(codeInvalidParameter, "QueryParameters go with a QueryAlias; give the SQL in QueryStatement, or the QueryAlias of a dashboard widget.")
	case in.QueryStatement == nil || *in.QueryStatement == "":
		return nil, invalid(codeInvalidParameter, "QueryStatement is required: give the SQL to run (or the QueryAlias of a dashboard widget).")
	default:
		statement = *in.QueryStatement
	}
	if n := len([]rune(statement)); n > 10000 {
		return nil, invalid(codeInvalidQuery, "QueryStatement is %d characters; at most 10000 are allowed.", n)
	}
	if in.DeliveryS3Uri != nil {
		if err := h.checkDeliveryURI(ctx, caller, *in.DeliveryS3Uri); err != nil {
			return nil, err
		}
		opt.DeliveryS3URI = *in.DeliveryS3Uri
	}
	id, err := h.opts.Lake.StartQuery(ctx, caller.AccountID, caller.Region, statement, opt)
	if err != nil {
		return nil, err
	}
	return &startQueryOutput{QueryId: id}, nil
}

// checkDeliveryURI checks a DeliveryS3Uri as CreateTrail checks a trail's
// bucket and prefix: the model's pattern, S3's bucket naming rules
// (InvalidS3BucketNameException), a prefix every store can hold
// (InvalidS3PrefixException), then a bucket that exists
// (S3BucketDoesNotExistException) and is the caller's
// (InsufficientS3BucketPolicyException).
func (h *Handler) checkDeliveryURI(ctx context.Context, caller identity.Caller, uri string) error {
	if len(uri) > 1024 || !deliveryS3Pattern.MatchString(uri) {
		return invalid(codeInvalidParameter, "DeliveryS3Uri %q is not an S3 URI of the form s3://bucket[/prefix].", uri)
	}
	loc, err := resultfile.ParseURI(uri)
	if err != nil {
		if errors.Is(err, objstore.ErrInvalidBucketName) {
			return err
		}
		return invalid(codeInvalidParameter, "DeliveryS3Uri %q is not an S3 URI of the form s3://bucket[/prefix].", uri)
	}
	if _, err := checkKeyPrefix("The prefix of DeliveryS3Uri", loc.Prefix); err != nil {
		return err
	}
	return h.checkBucket(ctx, caller, loc.Bucket)
}

// checkOwner refuses another account as EventDataStoreOwnerAccountId:
// OpenTrail has no organization-wide stores, so a caller queries its own.
func checkOwner(caller identity.Caller, owner *string) error {
	if owner == nil {
		return nil
	}
	if !accountIDPattern.MatchString(*owner) {
		return invalid(codeInvalidParameter, "EventDataStoreOwnerAccountId %q is not an account id (12 to 16 digits).", *owner)
	}
	if *owner != caller.AccountID {
		return invalid(codeEDSNotFound, "Account %s shares no event data store with account %s.", *owner, caller.AccountID)
	}
	return nil
}

type queryIDInput struct {
	EventDataStore               *string `json:"EventDataStore"`
	QueryId                      *string `json:"QueryId"`
	QueryAlias                   *string `json:"QueryAlias"`
	RefreshId                    *string `json:"RefreshId"`
	EventDataStoreOwnerAccountId *string `json:"EventDataStoreOwnerAccountId"`
	NextToken                    *string `json:"NextToken"`
	MaxQueryResults              *int32  `json:"MaxQueryResults"`
}

// checkQueryID validates QueryId and the deprecated EventDataStore.
func (h *Handler) checkQueryID(caller identity.Caller, in *queryIDInput) error {
	if err := checkOwner(caller, in.EventDataStoreOwnerAccountId); err != nil {
		return err
	}
	if in.QueryId == nil {
		return invalid(codeInvalidParameter, "QueryId is required.")
	}
	if !uuidPattern.MatchString(*in.QueryId) {
		// The model's only word for an id no query has, whatever its
		// form: "The query ID does not exist or does not map to a query."
		return invalid(codeQueryNotFound, "QueryId %q does not exist: a query id is 36 characters of a-f, 0-9 and -.", *in.QueryId)
	}
	if in.EventDataStore != nil {
		if _, err := h.resolveStore(caller, *in.EventDataStore); err != nil {
			return err
		}
	}
	return nil
}

var refreshIDPattern = regexp.MustCompile(`^\d{10,20}$`)

// describedID returns the query DescribeQuery describes: QueryId, or the
// newest query of QueryAlias (in the dashboard refresh RefreshId when
// given).
func (h *Handler) describedID(caller identity.Caller, in *queryIDInput) (string, error) {
	switch {
	case in.QueryId != nil && (in.QueryAlias != nil || in.RefreshId != nil):
		return "", invalid(codeInvalidParameter, "Give either QueryId or QueryAlias (with RefreshId), not both.")
	case in.QueryId == nil && in.RefreshId != nil && in.QueryAlias == nil:
		return "", invalid(codeInvalidParameter, "RefreshId goes with the QueryAlias of a dashboard widget.")
	case in.QueryId == nil && in.QueryAlias != nil:
		if err := checkOwner(caller, in.EventDataStoreOwnerAccountId); err != nil {
			return "", err
		}
		if !queryAliasPattern.MatchString(*in.QueryAlias) {
			return "", invalid(codeInvalidParameter, "QueryAlias %q is not a query alias: 1 to 256 of A-Z a-z 0-9 . _ -, starting with a letter.", clip(*in.QueryAlias))
		}
		refresh := ""
		if in.RefreshId != nil {
			if !refreshIDPattern.MatchString(*in.RefreshId) {
				return "", invalid(codeInvalidParameter, "RefreshId %q is not a refresh id (10 to 20 digits, as StartDashboardRefresh returns).", clip(*in.RefreshId))
			}
			refresh = *in.RefreshId
		}
		q, err := h.opts.Lake.QueryByAlias(caller.AccountID, caller.Region, *in.QueryAlias, refresh)
		if err != nil {
			return "", err
		}
		return q.ID, nil
	}
	if err := h.checkQueryID(caller, in); err != nil {
		return "", err
	}
	return *in.QueryId, nil
}

// resolveStore validates an EventDataStore member and returns the id.
func (h *Handler) resolveStore(caller identity.Caller, name string) (string, error) {
	if !storeNamePattern.MatchString(name) {
		return "", invalid(codeEDSARNInvalid, "EventDataStore %q is not an event data store ARN or id.", name)
	}
	return h.opts.Lake.ResolveStore(caller.AccountID, caller.Region, name)
}

type queryStatistics struct {
	EventsMatched         int64         `json:"EventsMatched"`
	EventsScanned         int64         `json:"EventsScanned"`
	BytesScanned          int64         `json:"BytesScanned"`
	ExecutionTimeInMillis int64         `json:"ExecutionTimeInMillis"`
	CreationTime          *awsjson.Time `json:"CreationTime,omitempty"`
}

type describeQueryOutput struct {
	QueryId         string          `json:"QueryId"`
	QueryString     string          `json:"QueryString"`
	QueryStatus     string          `json:"QueryStatus"`
	QueryStatistics queryStatistics `json:"QueryStatistics"`
	ErrorMessage    string          `json:"ErrorMessage,omitempty"`
	DeliveryS3Uri   string          `json:"DeliveryS3Uri,omitempty"`
	DeliveryStatus  string          `json:"DeliveryStatus,omitempty"`
	Prompt          string          `json:"Prompt,omitempty"`
}

func (h *Handler) describeQuery(_ context.Context, caller identity.Caller, in *queryIDInput) (*describeQueryOutput, error) {
	id, err := h.describedID(caller, in)
	if err != nil {
		return nil, err
	}
	q, err := h.opts.Lake.DescribeQuery(caller.AccountID, caller.Region, id)
	if err != nil {
		return nil, err
	}
	return &describeQueryOutput{
		QueryId: q.ID, QueryString: q.Statement, QueryStatus: q.Status,
		QueryStatistics: queryStatistics{EventsMatched: q.EventsMatched, EventsScanned: q.EventsScanned, BytesScanned: q.BytesScanned,
			ExecutionTimeInMillis: q.ExecutionMilli, CreationTime: &awsjson.Time{Time: q.Created}},
		ErrorMessage: errorMessage(q.ErrorMessage), DeliveryS3Uri: q.DeliveryS3URI, DeliveryStatus: q.DeliveryStatus,
		Prompt: q.Prompt,
	}, nil
}

// errorMessage fits an ErrorMessage into the model's 4 to 1000 characters.
func errorMessage(s string) string {
	switch r := []rune(s); {
	case len(r) == 0:
		return ""
	case len(r) < 4:
		return s + "..."
	case len(r) > 1000:
		return string(r[:997]) + "..."
	}
	return s
}

type resultStatistics struct {
	ResultsCount      int64 `json:"ResultsCount"`
	TotalResultsCount int64 `json:"TotalResultsCount"`
	BytesScanned      int64 `json:"BytesScanned"`
}

// resultCell is one {column: value} entry of a result row; a NULL value
// is JSON null (lake.md §4).
type resultCell map[string]*string

type getQueryResultsOutput struct {
	QueryStatus     string           `json:"QueryStatus"`
	QueryStatistics resultStatistics `json:"QueryStatistics"`
	QueryResultRows [][]resultCell   `json:"QueryResultRows"`
	NextToken       string           `json:"NextToken,omitempty"`
	ErrorMessage    string           `json:"ErrorMessage,omitempty"`
}

// maxQueryResults is GetQueryResults' page size when MaxQueryResults is
// absent (AWS's default is unverified; lake.md §4).
const maxQueryResults = 1000

func (h *Handler) getQueryResults(_ context.Context, caller identity.Caller, in *queryIDInput) (*getQueryResultsOutput, error) {
	if err := h.checkQueryID(caller, in); err != nil {
		return nil, err
	}
	limit := maxQueryResults
	if in.MaxQueryResults != nil {
		if *in.MaxQueryResults < 1 || *in.MaxQueryResults > 1000 {
			return nil, invalid(codeInvalidMaxResults, "MaxQueryResults must be between 1 and 1000; the request has %d.", *in.MaxQueryResults)
		}
		limit = int(*in.MaxQueryResults)
	}
	scope := tokenScope{op: "GetQueryResults", account: caller.AccountID, region: caller.Region}
	var ph paramHash
	ph.add(true, *in.QueryId)
	scope.params = ph.sum()
	offset := 0
	if in.NextToken != nil {
		cur, err := h.tokens.open(scope, *in.NextToken)
		if err != nil || len(cur) != 8 {
			return nil, errBadToken
		}
		offset = int(binary.BigEndian.Uint64(cur))
	}
	q, rows, err := h.opts.Lake.QueryResults(caller.AccountID, caller.Region, *in.QueryId, offset, limit)
	if err != nil {
		return nil, err
	}
	out := &getQueryResultsOutput{QueryStatus: q.Status, ErrorMessage: errorMessage(q.ErrorMessage),
		QueryStatistics: resultStatistics{ResultsCount: int64(len(rows)), TotalResultsCount: q.Results, BytesScanned: q.BytesScanned},
		QueryResultRows: make([][]resultCell, len(rows))}
	for i, r := range rows {
		row := make([]resultCell, len(r))
		for j, v := range r {
			name := "_col" + strconv.Itoa(j)
			if j < len(q.Columns) {
				name = q.Columns[j]
			}
			row[j] = resultCell{name: v}
		}
		out.QueryResultRows[i] = row
	}
	if next := offset + len(rows); len(rows) > 0 && int64(next) < q.Results {
		out.NextToken = h.tokens.seal(scope, binary.BigEndian.AppendUint64(nil, uint64(next)))
	}
	return out, nil
}

type listQueriesInput struct {
	EventDataStore *string       `json:"EventDataStore"`
	NextToken      *string       `json:"NextToken"`
	MaxResults     *int32        `json:"MaxResults"`
	StartTime      *awsjson.Time `json:"StartTime"`
	EndTime        *awsjson.Time `json:"EndTime"`
	QueryStatus    *string       `json:"QueryStatus"`
}

type queryItem struct {
	QueryId      string       `json:"QueryId"`
	QueryStatus  string       `json:"QueryStatus"`
	CreationTime awsjson.Time `json:"CreationTime"`
}

type listQueriesOutput struct {
	Queries   []queryItem `json:"Queries"`
	NextToken string      `json:"NextToken,omitempty"`
}

func (h *Handler) listQueries(_ context.Context, caller identity.Caller, in *listQueriesInput) (*listQueriesOutput, error) {
	if in.EventDataStore == nil {
		return nil, invalid(codeInvalidParameter, "EventDataStore is required: give the ARN or id of the event data store whose queries to list.")
	}
	limit := maxQueryResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, invalid(codeInvalidMaxResults, "MaxResults must be between 1 and 1000; the request has %d.", *in.MaxResults)
		}
		limit = int(*in.MaxResults)
	}
	status := ""
	if in.QueryStatus != nil {
		status = *in.QueryStatus
		if !contains(queryStatuses, status) {
			return nil, invalid("InvalidQueryStatusException", "QueryStatus %q is not one of %v.", status, queryStatuses)
		}
	}
	var from, to time.Time
	if in.StartTime != nil {
		from = in.StartTime.Time
	}
	if in.EndTime != nil {
		to = in.EndTime.Time
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return nil, invalid("InvalidDateRangeException", "StartTime (%s) is after EndTime (%s).", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		// Times travel in whole milliseconds (awsjson.AppendEpoch), so
		// EndTime covers its millisecond: a query's CreationTime as
		// DescribeQuery reports it finds the query.
		to = to.Truncate(time.Millisecond).Add(time.Millisecond - time.Nanosecond)
	}
	id, err := h.resolveStore(caller, *in.EventDataStore)
	if err != nil {
		return nil, err
	}
	scope := tokenScope{op: "ListQueries", account: caller.AccountID, region: caller.Region}
	var ph paramHash
	ph.add(true, id)
	ph.add(in.StartTime != nil, from.String())
	ph.add(in.EndTime != nil, to.String())
	ph.add(in.QueryStatus != nil, status)
	scope.params = ph.sum()
	all := h.opts.Lake.ListQueries(caller.AccountID, id, from, to, status)
	keys := make([]string, len(all))
	for i, q := range all {
		keys[i] = q.ID
	}
	start, end, next, err := h.pageOf(scope, in.NextToken, keys, limit)
	if err != nil {
		return nil, err
	}
	out := &listQueriesOutput{Queries: []queryItem{}, NextToken: next}
	for _, q := range all[start:end] {
		out.Queries = append(out.Queries, queryItem{QueryId: q.ID, QueryStatus: q.Status, CreationTime: awsjson.Time{Time: q.Created}})
	}
	return out, nil
}

type cancelQueryOutput struct {
	QueryId     string `json:"QueryId"`
	QueryStatus string `json:"QueryStatus"`
}

func (h *Handler) cancelQuery(_ context.Context, caller identity.Caller, in *queryIDInput) (*cancelQueryOutput, error) {
	if err := h.checkQueryID(caller, in); err != nil {
		return nil, err
	}
	q, err := h.opts.Lake.CancelQuery(caller.AccountID, caller.Region, *in.QueryId)
	if err != nil {
		return nil, err
	}
	return &cancelQueryOutput{QueryId: q.ID, QueryStatus: q.Status}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// lakeText renders what the engine wrapped around sentinel: the detail
// that names the store or query, or says what is wrong with the statement,
// as a sentence. When the detail is only a name (the engine's "%w: ID"),
// the sentence is bare with the name in it: the name is not changed.
func lakeText(sentinel error, bare string) func(error) string {
	return func(err error) string {
		msg := err.Error()
		if i := strings.Index(msg, sentinel.Error()+": "); i >= 0 {
			msg = msg[i+len(sentinel.Error())+2:]
		} else if msg == sentinel.Error() {
			return ""
		}
		if bare != "" && msg != "" && !strings.ContainsAny(msg, " \t\n") {
			return fmt.Sprintf(bare, msg)
		}
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
			if !strings.HasSuffix(msg, ".") {
				msg += "."
			}
		}
		return msg
	}
}
