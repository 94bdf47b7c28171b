package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
)

// System tests of the Lake query operations (StartQuery, DescribeQuery,
// GetQueryResults, ListQueries, CancelQuery) through the Go SDK against a
// daemon with the real Lake engine: every error the model declares that
// OpenTrail can produce, with its code, HTTP status and message, the row
// format of lake.md §4 on the wire, statistics, paging and filters.

// otherAccount is a second account of the data directory.
const otherAccount = "444455556666"

// lakeEnv is a daemon with one event data store of lakeEvents (the
// "forensics" store of testAccount) and a second account.
type lakeEnv struct {
	d     *daemon.Daemon
	store string // the store's id
	arn   string
	// local is the id of the import that filled the store from a local
	// file (opentrail import --event-data-store), which ListImports lists.
	local string
	ct    *cloudtrail.Client // testAccount in us-east-1
	other *cloudtrail.Client // otherAccount in us-east-1
}

// lakeEvents are the events of the lakeEnv's store, in eventtime order:
// five calls of alice, one failed (errorCode AccessDenied).
var lakeEvents = []map[string]any{
	lakeRecord(1, "CreateBucket", "aws-cli/1.45", ""),
	lakeRecord(2, "DeleteBucket", "console.amazonaws.com", "AccessDenied"),
	lakeRecord(3, "PutObject", "aws-cli/1.45", ""),
	lakeRecord(4, "GetObject", "boto3/1.40", ""),
	lakeRecord(5, "ListBuckets", "aws-cli/1.45", ""),
}

func newLakeEnv(t *testing.T, mut func(*config.Config)) *lakeEnv {
	t.Helper()
	root := t.TempDir()
	id := lakeStoreWith(t, root, lakeEvents)
	d := startDaemon(t, root, func(c *config.Config) {
		c.Lake.Threads = 1
		if mut != nil {
			mut(c)
		}
	})
	if _, _, err := d.Identities().CreateDefault(otherAccount); err != nil {
		t.Fatal(err)
	}
	e := &lakeEnv{d: d, store: id, arn: "arn:aws:cloudtrail:us-east-1:" + testAccount + ":eventdatastore/" + id,
		ct: rootClient(t, d, testAccount, "us-east-1"), other: rootClient(t, d, otherAccount, "us-east-1")}
	l, err := e.ct.ListImports(t.Context(), &cloudtrail.ListImportsInput{})
	if err != nil || len(l.Imports) != 1 || !slices.Equal(l.Imports[0].Destinations, []string{e.arn}) {
		t.Fatalf("ListImports: %v %+v, want the import that filled the store", err, l)
	}
	e.local = aws.ToString(l.Imports[0].ImportId)
	return e
}

// start starts a query and returns its id.
func (e *lakeEnv) start(t *testing.T, c *cloudtrail.Client, stmt string) string {
	t.Helper()
	out, err := c.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt)})
	if err != nil {
		t.Fatalf("StartQuery %s: %v", stmt, err)
	}
	id := aws.ToString(out.QueryId)
	if !regexp.MustCompile(`^[a-f0-9-]{36}$`).MatchString(id) {
		t.Fatalf("QueryId %q is not of the model's UUID shape", id)
	}
	return id
}

// wait polls DescribeQuery until the query has ended.
func (e *lakeEnv) wait(t *testing.T, c *cloudtrail.Client, id string) *cloudtrail.DescribeQueryOutput {
	t.Helper()
	return waitQuery(t, c, &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)})
}

// waitQuery polls DescribeQuery (by QueryId, or by QueryAlias and
// RefreshId) until the query has ended.
func waitQuery(t *testing.T, c *cloudtrail.Client, in *cloudtrail.DescribeQueryInput) *cloudtrail.DescribeQueryOutput {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := c.DescribeQuery(t.Context(), in)
		if err != nil {
			t.Fatalf("DescribeQuery %s%s: %v", aws.ToString(in.QueryId), aws.ToString(in.QueryAlias), err)
		}
		if out.QueryStatus != cttypes.QueryStatusQueued && out.QueryStatus != cttypes.QueryStatusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s is still %s after 60s", aws.ToString(out.QueryId), out.QueryStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run starts a query, waits for it and requires it FINISHED.
func (e *lakeEnv) run(t *testing.T, stmt string) string {
	t.Helper()
	id := e.start(t, e.ct, stmt)
	if out := e.wait(t, e.ct, id); out.QueryStatus != cttypes.QueryStatusFinished {
		t.Fatalf("%s: %s: %s", stmt, out.QueryStatus, aws.ToString(out.ErrorMessage))
	}
	return id
}

// rawCall sends a hand-signed JSON request for op as account in region
// and returns the HTTP status and body: for the members the SDK checks
// before sending, and to see the exact JSON of a response.
func rawCall(t *testing.T, d *daemon.Daemon, account, region, op, body string) (int, []byte) {
	t.Helper()
	k, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."+op)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "cloudtrail", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// checkRaw requires a raw response to be the error code with HTTP 400
// and a message containing msg.
func checkRaw(t *testing.T, status int, body []byte, code, msg string) {
	t.Helper()
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%d %s: %v", status, body, err)
	}
	if status != http.StatusBadRequest || e.Type != code || !strings.Contains(e.Message, msg) {
		t.Errorf("got %d %s %q, want 400 %s with %q", status, e.Type, e.Message, code, msg)
	}
}

// checkErr requires err to be the API error code, with HTTP 400 and a
// message containing each of msgs.
func checkErr(t *testing.T, err error, code string, msgs ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Errorf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if s := httpStatus(err); s != http.StatusBadRequest {
		t.Errorf("%s: HTTP status %d, want 400", code, s)
	}
	for _, m := range msgs {
		if !strings.Contains(ae.ErrorMessage(), m) {
			t.Errorf("%s message %q does not contain %q", code, ae.ErrorMessage(), m)
		}
	}
}

// TestLakeStartQueryErrors: every StartQuery refusal OpenTrail can give,
// each with the model's exception and a message that says what is wrong.
func TestLakeStartQueryErrors(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	// A store of another account, a store pending deletion, and stores
	// of other regions and kinds.
	otherStore := mustCreate(t, e.other, "theirs")
	gone := mustCreate(t, e.ct, "gone")
	if _, err := e.ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	west := mustCreate(t, rootClient(t, e.d, testAccount, "eu-west-1"), "west")
	const unknown = "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13"

	tests := []struct {
		name string
		in   cloudtrail.StartQueryInput
		code string
		msgs []string
	}{
		{name: "syntax error", in: stmt("SELEC eventname FROM " + e.store), code: "InvalidQueryStatementException", msgs: []string{"SELEC"}},
		{name: "not a SELECT", in: stmt("DELETE FROM " + e.store), code: "InvalidQueryStatementException"},
		{name: "insert", in: stmt("INSERT INTO " + e.store + " VALUES (1)"), code: "InvalidQueryStatementException"},
		{name: "two statements", in: stmt("SELECT eventname FROM " + e.store + "; SELECT eventid FROM " + e.store), code: "InvalidQueryStatementException"},
		{name: "no FROM", in: stmt("SELECT 1"), code: "InvalidQueryStatementException", msgs: []string{"FROM"}},
		{name: "too long", in: stmt("SELECT eventname FROM " + e.store + " WHERE eventname = '" + strings.Repeat("x", 10000) + "'"),
			code: "InvalidQueryStatementException", msgs: []string{"10000"}},
		{name: "empty", in: stmt(""), code: "InvalidParameterException", msgs: []string{"QueryStatement"}},
		{name: "unknown store", in: stmt("SELECT eventname FROM " + unknown), code: "EventDataStoreNotFoundException", msgs: []string{unknown}},
		{name: "another account's store", in: stmt("SELECT eventname FROM " + storeID(otherStore)), code: "EventDataStoreNotFoundException",
			msgs: []string{storeID(otherStore)}},
		{name: "a store of another region", in: stmt("SELECT eventname FROM " + storeID(west)), code: "EventDataStoreNotFoundException",
			msgs: []string{storeID(west)}},
		{name: "store pending deletion", in: stmt("SELECT eventname FROM " + storeID(gone)), code: "InactiveEventDataStoreException",
			msgs: []string{storeID(gone), "pending deletion"}},
		{name: "pending deletion in a join", in: stmt("SELECT a.eventname FROM " + e.store + " a JOIN " + storeID(gone) + " b ON a.eventid = b.eventid"),
			code: "InactiveEventDataStoreException", msgs: []string{storeID(gone)}},
		{name: "owner of another account", in: cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + e.store),
			EventDataStoreOwnerAccountId: aws.String(otherAccount)}, code: "EventDataStoreNotFoundException", msgs: []string{otherAccount}},
		{name: "owner not an account id", in: cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + e.store),
			EventDataStoreOwnerAccountId: aws.String("alice")}, code: "InvalidParameterException", msgs: []string{"alice"}},
		{name: "unknown query alias", in: cloudtrail.StartQueryInput{QueryAlias: aws.String("widget-1")}, code: "InvalidParameterException", msgs: []string{"widget-1", "GetDashboard lists them"}},
		{name: "delivery not an S3 URI", in: cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + e.store),
			DeliveryS3Uri: aws.String("https://bucket.example.com/x")}, code: "InvalidParameterException", msgs: []string{"s3://bucket"}},
		{name: "delivery bucket missing", in: cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + e.store),
			DeliveryS3Uri: aws.String("s3://no-such-bucket/x")}, code: "S3BucketDoesNotExistException", msgs: []string{"no-such-bucket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ct.StartQuery(ctx, &tt.in)
			checkErr(t, err, tt.code, tt.msgs...)
		})
	}
	// None of them was started.
	list, err := e.ct.ListQueries(ctx, &cloudtrail.ListQueriesInput{EventDataStore: aws.String(e.store)})
	if err != nil || len(list.Queries) != 0 {
		t.Errorf("ListQueries after refused StartQuery calls: %v %+v", err, list)
	}
}

func stmt(s string) cloudtrail.StartQueryInput {
	return cloudtrail.StartQueryInput{QueryStatement: aws.String(s)}
}

// mustCreate creates an event data store without termination protection
// and returns its ARN.
func mustCreate(t *testing.T, c *cloudtrail.Client, name string, sel ...cttypes.AdvancedEventSelector) string {
	t.Helper()
	out, err := c.CreateEventDataStore(t.Context(), &cloudtrail.CreateEventDataStoreInput{Name: aws.String(name),
		TerminationProtectionEnabled: aws.Bool(false), AdvancedEventSelectors: sel, RetentionPeriod: aws.Int32(3653)})
	if err != nil {
		t.Fatalf("CreateEventDataStore %s: %v", name, err)
	}
	return aws.ToString(out.EventDataStoreArn)
}

func storeID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// TestLakeQueryRows checks GetQueryResults' rows on the wire (lake.md §4):
// a list of rows, each a list of one-entry maps in select-list order;
// column names from the alias, the last identifier as typed, or _colN;
// every value a string, NULL as JSON null, timestamps as
// YYYY-MM-DD HH:MM:SS.mmm, booleans and numbers as text.
func TestLakeQueryRows(t *testing.T) {
	e := newLakeEnv(t, nil)
	id := e.run(t, "SELECT eventName, userIdentity.userName, eventTime, errorCode AS code, readOnly, "+
		"count(*) OVER (), element_at(requestParameters, 'bucketName') FROM "+e.store+" ORDER BY eventTime")
	status, body := rawCall(t, e.d, testAccount, "us-east-1", "GetQueryResults", `{"QueryId":"`+id+`"}`)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	var raw struct {
		QueryStatus     string
		QueryStatistics map[string]int64
		QueryResultRows [][]map[string]*string
		NextToken       *string
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if raw.QueryStatus != "FINISHED" || raw.NextToken != nil || raw.QueryStatistics["ResultsCount"] != 5 || raw.QueryStatistics["TotalResultsCount"] != 5 ||
		raw.QueryStatistics["BytesScanned"] <= 0 {
		t.Errorf("status %s, statistics %v, NextToken %v", raw.QueryStatus, raw.QueryStatistics, raw.NextToken)
	}
	var got [][]string
	for _, row := range raw.QueryResultRows {
		var cells []string
		for _, cell := range row {
			if len(cell) != 1 {
				t.Fatalf("a cell is %v, not a one-entry map", cell)
			}
			for k, v := range cell {
				s := k + "=<null>"
				if v != nil {
					s = k + "=" + *v
				}
				cells = append(cells, s)
			}
		}
		got = append(got, cells)
	}
	var want [][]string
	for _, r := range lakeEvents {
		tm, err := time.Parse(time.RFC3339, r["eventTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		code := "code=<null>"
		if c, ok := r["errorCode"]; ok {
			code = "code=" + c.(string)
		}
		want = append(want, []string{"eventName=" + r["eventName"].(string), "userName=alice",
			"eventTime=" + tm.UTC().Format("2006-01-02 15:04:05.000"), code, "readOnly=false", "_col5=5", "_col6=<null>"})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if !bytes.Contains(body, []byte(`{"code":null}`)) || !bytes.Contains(body, []byte(`{"eventTime":"`)) {
		t.Errorf("NULL is not JSON null on the wire: %s", body)
	}

	// The Go SDK reads the same rows (NULL as "").
	res, err := e.ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.QueryResultRows) != 5 || res.QueryResultRows[1][3]["code"] != "AccessDenied" || res.QueryResultRows[1][1]["userName"] != "alice" {
		t.Errorf("SDK rows %v", res.QueryResultRows)
	}
}

// TestLakeQueryStatistics: DescribeQuery of a finished query gives the
// statement, the status and plausible statistics; GetQueryResults the
// result counts.
func TestLakeQueryStatistics(t *testing.T) {
	e := newLakeEnv(t, nil)
	before := time.Now().Add(-time.Second)
	q := "SELECT eventname FROM " + e.store + " WHERE useragent = 'aws-cli/1.45'"
	id := e.run(t, q)
	d, err := e.ct.DescribeQuery(t.Context(), &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	s := d.QueryStatistics
	if aws.ToString(d.QueryId) != id || aws.ToString(d.QueryString) != q || d.QueryStatus != cttypes.QueryStatusFinished || d.ErrorMessage != nil {
		t.Errorf("DescribeQuery: %+v", d)
	}
	if s == nil || s.CreationTime == nil {
		t.Fatalf("QueryStatistics %+v", s)
	}
	matched, scanned, bytes := aws.ToInt64(s.EventsMatched), aws.ToInt64(s.EventsScanned), aws.ToInt64(s.BytesScanned)
	if s.EventsMatched == nil || s.EventsScanned == nil || s.BytesScanned == nil || s.ExecutionTimeInMillis == nil {
		t.Errorf("QueryStatistics leaves members out: %+v", s)
	}
	if matched != 3 || scanned < matched || scanned > int64(len(lakeEvents)) || bytes <= 0 ||
		aws.ToInt32(s.ExecutionTimeInMillis) < 0 || s.CreationTime.Before(before) || s.CreationTime.After(time.Now()) {
		t.Errorf("QueryStatistics: matched %d, scanned %d, bytes %d, %d ms, created %v", matched, scanned, bytes,
			aws.ToInt32(s.ExecutionTimeInMillis), s.CreationTime)
	}
	r, err := e.ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if rs := r.QueryStatistics; rs == nil || aws.ToInt32(rs.ResultsCount) != 3 || aws.ToInt32(rs.TotalResultsCount) != 3 || aws.ToInt64(rs.BytesScanned) != bytes {
		t.Errorf("GetQueryResults statistics %+v", r.QueryStatistics)
	}

	// A query that fails while it runs is FAILED with its reason.
	id = e.start(t, e.ct, "SELECT CAST(eventname AS integer) FROM "+e.store)
	if d := e.wait(t, e.ct, id); d.QueryStatus != cttypes.QueryStatusFailed || !strings.Contains(aws.ToString(d.ErrorMessage), "CreateBucket") {
		t.Errorf("a failing query: %s: %s", d.QueryStatus, aws.ToString(d.ErrorMessage))
	}
	r, err = e.ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil || r.QueryStatus != cttypes.QueryStatusFailed || len(r.QueryResultRows) != 0 || aws.ToString(r.ErrorMessage) == "" {
		t.Errorf("GetQueryResults of a failed query: %v %+v", err, r)
	}
}

// TestLakeQueryResultsPaging: GetQueryResults pages of 1 to 1000 rows
// with NextToken, through the SDK's paginator too; tokens are bound to
// their query, and MaxQueryResults out of 1–1000 is refused.
func TestLakeQueryResultsPaging(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	id := e.run(t, "SELECT eventid FROM "+e.store+" ORDER BY eventid")
	other := e.run(t, "SELECT eventname FROM "+e.store)
	all := func(size int32) ([]string, int) {
		var ids []string
		pages := 0
		p := cloudtrail.NewGetQueryResultsPaginator(e.ct, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id), MaxQueryResults: aws.Int32(size)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("page %d of %d: %v", pages, size, err)
			}
			pages++
			if rc := aws.ToInt32(out.QueryStatistics.ResultsCount); rc != int32(len(out.QueryResultRows)) || aws.ToInt32(out.QueryStatistics.TotalResultsCount) != 5 {
				t.Errorf("page %d: ResultsCount %d for %d rows, TotalResultsCount %d", pages, rc, len(out.QueryResultRows), aws.ToInt32(out.QueryStatistics.TotalResultsCount))
			}
			for _, row := range out.QueryResultRows {
				ids = append(ids, row[0]["eventid"])
			}
		}
		return ids, pages
	}
	var want []string
	for _, r := range lakeEvents {
		want = append(want, r["eventID"].(string))
	}
	slices.Sort(want)
	for size, pages := range map[int32]int{1: 5, 2: 3, 5: 1, 1000: 1} {
		got, n := all(size)
		if diff := cmp.Diff(want, got); diff != "" || n != pages {
			t.Errorf("MaxQueryResults %d: %d pages, want %d; rows (-want +got):\n%s", size, n, pages, diff)
		}
	}

	first, err := e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id), MaxQueryResults: aws.Int32(2)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first page: %v %+v", err, first)
	}
	// The token may be used with another page size.
	rest, err := e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id), NextToken: first.NextToken, MaxQueryResults: aws.Int32(10)})
	if err != nil || len(rest.QueryResultRows) != 3 || rest.NextToken != nil {
		t.Errorf("the rest after a page of 2: %v %+v", err, rest)
	}
	tok := aws.ToString(first.NextToken)
	for name, in := range map[string]*cloudtrail.GetQueryResultsInput{
		"tampered":        {QueryId: aws.String(id), NextToken: aws.String(tok[:len(tok)-2] + flip(tok[len(tok)-2:]))},
		"garbage":         {QueryId: aws.String(id), NextToken: aws.String("not-a-token")},
		"another query's": {QueryId: aws.String(other), NextToken: first.NextToken},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.ct.GetQueryResults(ctx, in)
			checkErr(t, err, "InvalidNextTokenException")
		})
	}
	// Another account's token is not accepted either.
	_, err = e.other.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id), NextToken: first.NextToken})
	if c := apiCode(err); c != "QueryIdNotFoundException" && c != "InvalidNextTokenException" {
		t.Errorf("another account's token: %v", err)
	}
	for _, n := range []int32{0, -1, 1001} {
		_, err := e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id), MaxQueryResults: aws.Int32(n)})
		checkErr(t, err, "InvalidMaxResultsException", fmt.Sprint(n), "1000")
	}
}

// flip changes every character of s.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// TestLakeQueryIDErrors: DescribeQuery, GetQueryResults and CancelQuery
// with a malformed, unknown or another account's QueryId, and CancelQuery
// on a finished query.
func TestLakeQueryIDErrors(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	mine := e.run(t, "SELECT eventname FROM "+e.store)
	theirs := mustCreate(t, e.other, "theirs")
	foreign := e.start(t, e.other, "SELECT eventname FROM "+storeID(theirs))
	e.wait(t, e.other, foreign)
	// A query belongs to its region, like the stores it reads.
	west := rootClient(t, e.d, testAccount, "us-west-2")
	westward := e.start(t, west, "SELECT eventname FROM "+storeID(mustCreate(t, west, "west")))
	e.wait(t, west, westward)

	ops := map[string]func(id string) error{
		"DescribeQuery": func(id string) error {
			_, err := e.ct.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)})
			return err
		},
		"GetQueryResults": func(id string) error {
			_, err := e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
			return err
		},
		"CancelQuery": func(id string) error {
			_, err := e.ct.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: aws.String(id)})
			return err
		},
	}
	ids := map[string]string{
		"malformed":         "not-a-query-id",
		"upper case":        strings.ToUpper(mine),
		"unknown":           "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13",
		"another account's": foreign,
		"another region's":  westward,
	}
	for op, call := range ops {
		for name, id := range ids {
			t.Run(op+"/"+name, func(t *testing.T) {
				checkErr(t, call(id), "QueryIdNotFoundException", id)
			})
		}
	}
	_, err := e.ct.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: aws.String(mine)})
	checkErr(t, err, "InactiveQueryException", mine, "FINISHED")

	// QueryId is required (the SDK checks; a raw request gets the
	// server's answer).
	for _, op := range []string{"DescribeQuery", "GetQueryResults", "CancelQuery"} {
		status, body := rawCall(t, e.d, testAccount, "us-east-1", op, `{}`)
		checkRaw(t, status, body, "InvalidParameterException", "QueryId")
	}
	// The deprecated EventDataStore member still names a store of the
	// caller.
	_, err = e.ct.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(mine), EventDataStore: aws.String(theirs)})
	checkErr(t, err, "EventDataStoreNotFoundException")
	if _, err := e.ct.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(mine), EventDataStore: aws.String(e.arn)}); err != nil {
		t.Errorf("DescribeQuery with its store: %v", err)
	}
}

// slowQuery runs until it is cancelled or times out, in constant memory:
// a Levenshtein distance of two 300-character strings (about 0.15 ms of
// CPU) for each of a million generated rows per event of the store. The
// work is in the rows, so DuckDB sees an interrupt within a vector's
// worth of them (under 0.5 s). Counting generated rows alone does not
// do: both a cross join of independent lists and a chain of lateral
// UNNESTs were materialized by DuckDB up to the instance's 1 GB, and a
// query does not spill (decision 104), so they failed with out-of-memory
// (CI, under -race) before the timeout they were meant to reach.
func slowQuery(store string) string {
	return "SELECT count(*) FROM " + store + " CROSS JOIN UNNEST(sequence(1, 1000000)) AS a(x)" +
		" WHERE levenshtein_distance(rpad(eventname, 300, 'ab'), rpad(CAST(x AS varchar), 300, 'ba')) = 0"
}

// TestLakeConcurrentQueriesAndCancel: an account has at most 10 queries
// queued or running (MaxConcurrentQueriesException for the 11th, which
// another account does not feel); CancelQuery ends a queued or running
// query, which reads CANCELLED, and a cancelled query cannot be cancelled
// again; the slot is free again.
func TestLakeConcurrentQueriesAndCancel(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	var ids []string
	t.Cleanup(func() {
		for _, id := range ids {
			e.ct.CancelQuery(context.Background(), &cloudtrail.CancelQueryInput{QueryId: aws.String(id)})
		}
	})
	for range 10 {
		ids = append(ids, e.start(t, e.ct, slowQuery(e.store)))
	}
	_, err := e.ct.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + e.store)})
	checkErr(t, err, "MaxConcurrentQueriesException", "10")

	// The limit is the account's: another account may start a query
	// (which waits for a worker like the others).
	theirs := mustCreate(t, e.other, "theirs")
	foreign := e.start(t, e.other, "SELECT eventname FROM "+storeID(theirs))
	if _, err := e.other.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: aws.String(foreign)}); err != nil && apiCode(err) != "InactiveQueryException" {
		t.Fatal(err)
	}

	// Statuses while they wait: running or queued, with no rows yet.
	res, err := e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(ids[9])})
	if err != nil || (res.QueryStatus != cttypes.QueryStatusQueued && res.QueryStatus != cttypes.QueryStatusRunning) || len(res.QueryResultRows) != 0 {
		t.Fatalf("GetQueryResults of a waiting query: %v %+v", err, res)
	}
	queued, err := e.ct.ListQueries(ctx, &cloudtrail.ListQueriesInput{EventDataStore: aws.String(e.store), QueryStatus: cttypes.QueryStatusQueued})
	if err != nil || len(queued.Queries) < 8 {
		t.Fatalf("ListQueries QUEUED: %v %+v", err, queued)
	}

	for _, id := range ids {
		out, err := e.ct.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: aws.String(id)})
		if err != nil || aws.ToString(out.QueryId) != id || out.QueryStatus != cttypes.QueryStatusCancelled {
			t.Fatalf("CancelQuery: %v %+v", err, out)
		}
	}
	for _, id := range ids {
		if d := e.wait(t, e.ct, id); d.QueryStatus != cttypes.QueryStatusCancelled {
			t.Errorf("after CancelQuery %s is %s (%s)", id, d.QueryStatus, aws.ToString(d.ErrorMessage))
		}
		_, err := e.ct.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: aws.String(id)})
		checkErr(t, err, "InactiveQueryException", "CANCELLED")
	}
	res, err = e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(ids[0])})
	if err != nil || res.QueryStatus != cttypes.QueryStatusCancelled || len(res.QueryResultRows) != 0 {
		t.Errorf("GetQueryResults of a cancelled query: %v %+v", err, res)
	}
	e.run(t, "SELECT eventname FROM "+e.store)
}

// TestLakeQueryTimeout: a query that runs past the configured timeout is
// TIMED_OUT, saying so.
func TestLakeQueryTimeout(t *testing.T) {
	e := newLakeEnv(t, func(c *config.Config) { c.Lake.QueryTimeout = config.Duration(time.Second) })
	id := e.start(t, e.ct, slowQuery(e.store))
	if d := e.wait(t, e.ct, id); d.QueryStatus != cttypes.QueryStatusTimedOut || !strings.Contains(aws.ToString(d.ErrorMessage), "1s") {
		t.Errorf("%s: %s", d.QueryStatus, aws.ToString(d.ErrorMessage))
	}
	_, err := e.ct.CancelQuery(t.Context(), &cloudtrail.CancelQueryInput{QueryId: aws.String(id)})
	checkErr(t, err, "InactiveQueryException", "TIMED_OUT")
}

// TestLakeListQueries: ListQueries needs a store of the caller, lists the
// queries that read it newest first, filters by creation time and status,
// pages, and refuses bad ranges, statuses and page sizes.
func TestLakeListQueries(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	second := mustCreate(t, e.ct, "second")
	q1 := e.run(t, "SELECT eventname FROM "+e.store)
	// Each query is created in a later millisecond (the precision of
	// times on the wire) than the one before; mid is between q1 and q2.
	mid := nextMilli()
	q2 := e.start(t, e.ct, "SELECT eventname FROM "+e.store+" WHERE eventname = 'x'")
	e.wait(t, e.ct, q2)
	nextMilli()
	failed := e.start(t, e.ct, "SELECT CAST(eventname AS integer) FROM "+e.store)
	e.wait(t, e.ct, failed)
	q3 := e.run(t, "SELECT eventname FROM "+storeID(second))
	joined := e.run(t, "SELECT a.eventname FROM "+e.store+" a JOIN "+storeID(second)+" b ON a.eventid = b.eventid")

	list := func(in cloudtrail.ListQueriesInput) []string {
		t.Helper()
		out, err := e.ct.ListQueries(ctx, &in)
		if err != nil {
			t.Fatalf("ListQueries %+v: %v", in, err)
		}
		var ids []string
		for _, q := range out.Queries {
			if q.CreationTime == nil || q.QueryStatus == "" {
				t.Errorf("query item %+v", q)
			}
			ids = append(ids, aws.ToString(q.QueryId))
		}
		return ids
	}
	created := func(id string) time.Time {
		d, err := e.ct.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return *d.QueryStatistics.CreationTime
	}
	store := aws.String(e.store)
	tests := []struct {
		name string
		in   cloudtrail.ListQueriesInput
		want []string
	}{
		{"all, newest first", cloudtrail.ListQueriesInput{EventDataStore: store}, []string{joined, failed, q2, q1}},
		{"by ARN", cloudtrail.ListQueriesInput{EventDataStore: aws.String(e.arn)}, []string{joined, failed, q2, q1}},
		{"other store", cloudtrail.ListQueriesInput{EventDataStore: aws.String(second)}, []string{joined, q3}},
		{"failed", cloudtrail.ListQueriesInput{EventDataStore: store, QueryStatus: cttypes.QueryStatusFailed}, []string{failed}},
		{"cancelled", cloudtrail.ListQueriesInput{EventDataStore: store, QueryStatus: cttypes.QueryStatusCancelled}, nil},
		{"before mid", cloudtrail.ListQueriesInput{EventDataStore: store, EndTime: aws.Time(mid.Add(-time.Millisecond))}, []string{q1}},
		{"from mid", cloudtrail.ListQueriesInput{EventDataStore: store, StartTime: aws.Time(mid)}, []string{joined, failed, q2}},
		{"up to q2's CreationTime", cloudtrail.ListQueriesInput{EventDataStore: store, EndTime: aws.Time(created(q2))}, []string{q2, q1}},
		{"from q2's CreationTime", cloudtrail.ListQueriesInput{EventDataStore: store, StartTime: aws.Time(created(q2)), EndTime: aws.Time(created(q2))}, []string{q2}},
		{"in the future", cloudtrail.ListQueriesInput{EventDataStore: store, StartTime: aws.Time(time.Now().Add(time.Hour))}, nil},
		{"finished between", cloudtrail.ListQueriesInput{EventDataStore: store, StartTime: aws.Time(mid), EndTime: aws.Time(time.Now().Add(time.Minute)),
			QueryStatus: cttypes.QueryStatusFinished}, []string{joined, q2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// Paging, with the SDK's paginator.
	var paged []string
	p := cloudtrail.NewListQueriesPaginator(e.ct, &cloudtrail.ListQueriesInput{EventDataStore: store, MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Queries) != 1 {
			t.Fatalf("a page of %d", len(out.Queries))
		}
		paged = append(paged, aws.ToString(out.Queries[0].QueryId))
	}
	if diff := cmp.Diff([]string{joined, failed, q2, q1}, paged); diff != "" {
		t.Errorf("pages of 1 (-want +got):\n%s", diff)
	}
	page, err := e.ct.ListQueries(ctx, &cloudtrail.ListQueriesInput{EventDataStore: store, MaxResults: aws.Int32(2)})
	if err != nil || page.NextToken == nil {
		t.Fatal(err, page)
	}

	errs := []struct {
		name string
		in   cloudtrail.ListQueriesInput
		code string
		msgs []string
	}{
		{"start after end", cloudtrail.ListQueriesInput{EventDataStore: store, StartTime: aws.Time(mid), EndTime: aws.Time(mid.Add(-time.Second))},
			"InvalidDateRangeException", []string{"StartTime"}},
		{"unknown status", cloudtrail.ListQueriesInput{EventDataStore: store, QueryStatus: "DONE"}, "InvalidQueryStatusException", []string{"DONE", "FINISHED"}},
		{"MaxResults 0", cloudtrail.ListQueriesInput{EventDataStore: store, MaxResults: aws.Int32(0)}, "InvalidMaxResultsException", []string{"1000"}},
		{"MaxResults 1001", cloudtrail.ListQueriesInput{EventDataStore: store, MaxResults: aws.Int32(1001)}, "InvalidMaxResultsException", []string{"1001"}},
		{"tampered token", cloudtrail.ListQueriesInput{EventDataStore: store, NextToken: aws.String(flip(aws.ToString(page.NextToken)))}, "InvalidNextTokenException", nil},
		{"token of another store", cloudtrail.ListQueriesInput{EventDataStore: aws.String(second), NextToken: page.NextToken}, "InvalidNextTokenException", nil},
		{"token with another filter", cloudtrail.ListQueriesInput{EventDataStore: store, NextToken: page.NextToken, QueryStatus: cttypes.QueryStatusFinished},
			"InvalidNextTokenException", nil},
		{"unknown store", cloudtrail.ListQueriesInput{EventDataStore: aws.String("0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13")}, "EventDataStoreNotFoundException", []string{"0f8b3c1e"}},
		{"malformed store", cloudtrail.ListQueriesInput{EventDataStore: aws.String("no such store!")}, "EventDataStoreARNInvalidException", nil},
		{"another account's store", cloudtrail.ListQueriesInput{EventDataStore: aws.String(mustCreate(t, e.other, "theirs"))}, "EventDataStoreNotFoundException", nil},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ct.ListQueries(ctx, &tt.in)
			checkErr(t, err, tt.code, tt.msgs...)
		})
	}
	status, body := rawCall(t, e.d, testAccount, "us-east-1", "ListQueries", `{}`)
	checkRaw(t, status, body, "InvalidParameterException", "EventDataStore")
}

// TestLakeQueriesOfDeletedStore: once a store is pending deletion, its
// queries can no longer be described, read or listed
// (InactiveEventDataStoreException); after a restore they can again.
func TestLakeQueriesOfDeletedStore(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	arn := mustCreate(t, e.ct, "doomed")
	id := e.run(t, "SELECT eventname FROM "+storeID(arn))
	if _, err := e.ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.ct.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)})
	checkErr(t, err, "InactiveEventDataStoreException", storeID(arn))
	_, err = e.ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	checkErr(t, err, "InactiveEventDataStoreException", storeID(arn))
	_, err = e.ct.ListQueries(ctx, &cloudtrail.ListQueriesInput{EventDataStore: aws.String(arn)})
	checkErr(t, err, "InactiveEventDataStoreException", "pending deletion")
	_, err = e.ct.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + storeID(arn))})
	checkErr(t, err, "InactiveEventDataStoreException", "pending deletion")
	_, err = e.ct.CancelQuery(ctx, &cloudtrail.CancelQueryInput{QueryId: aws.String(id)})
	if c := apiCode(err); c != "InactiveEventDataStoreException" && c != "InactiveQueryException" {
		t.Errorf("CancelQuery of a deleted store's query: %v", err)
	}

	if _, err := e.ct.RestoreEventDataStore(ctx, &cloudtrail.RestoreEventDataStoreInput{EventDataStore: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if d, err := e.ct.DescribeQuery(ctx, &cloudtrail.DescribeQueryInput{QueryId: aws.String(id)}); err != nil || d.QueryStatus != cttypes.QueryStatusFinished {
		t.Errorf("after restore: %v %+v", err, d)
	}
}

// httpStatus is the HTTP status of an SDK error's response.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// nextMilli waits for the next whole millisecond and returns it.
func nextMilli() time.Time {
	next := time.Now().Truncate(time.Millisecond).Add(time.Millisecond)
	time.Sleep(time.Until(next))
	return next
}
