package api

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/objstore"
)

// Lake imports (lake.md §9, operations.md §3.6).

// Importer runs Lake imports (a *lake.Engine with the daemon's buckets).
// Every method is scoped to the caller's account; errors wrap the imports
// package's sentinels (or the queries package's, for the store).
type Importer interface {
	// StartImport validates the source and starts the import; retryID
	// retries an earlier one instead.
	StartImport(ctx context.Context, req imports.Info, retryID string) (imports.Info, error)
	GetImport(account, id string) (imports.Info, error)
	ListImports(account, store, status string) []imports.Info
	StopImport(account, id string) (imports.Info, error)
	// HasOngoingImport reports whether an import into the store (its id)
	// is in progress.
	HasOngoingImport(store string) bool
}

var importStatuses = []string{imports.Initializing, imports.InProgress, imports.Failed, imports.Stopped, imports.Completed}

type s3ImportSource struct {
	S3LocationUri         *string `json:"S3LocationUri"`
	S3BucketRegion        *string `json:"S3BucketRegion"`
	S3BucketAccessRoleArn *string `json:"S3BucketAccessRoleArn"`
}

type importSource struct {
	S3 *s3ImportSource `json:"S3"`
}

type startImportInput struct {
	Destinations   []string      `json:"Destinations"`
	ImportSource   *importSource `json:"ImportSource"`
	StartEventTime *awsjson.Time `json:"StartEventTime"`
	EndEventTime   *awsjson.Time `json:"EndEventTime"`
	ImportId       *string       `json:"ImportId"`
}

type importStatistics struct {
	PrefixesFound     int64 `json:"PrefixesFound"`
	PrefixesCompleted int64 `json:"PrefixesCompleted"`
	FilesCompleted    int64 `json:"FilesCompleted"`
	EventsCompleted   int64 `json:"EventsCompleted"`
	FailedEntries     int64 `json:"FailedEntries"`
}

type s3ImportSourceOut struct {
	S3LocationUri         string `json:"S3LocationUri"`
	S3BucketRegion        string `json:"S3BucketRegion"`
	S3BucketAccessRoleArn string `json:"S3BucketAccessRoleArn"`
}

type importOutput struct {
	ImportId         string                       `json:"ImportId"`
	Destinations     []string                     `json:"Destinations"`
	ImportSource     map[string]s3ImportSourceOut `json:"ImportSource"`
	StartEventTime   *awsjson.Time                `json:"StartEventTime,omitempty"`
	EndEventTime     *awsjson.Time                `json:"EndEventTime,omitempty"`
	ImportStatus     string                       `json:"ImportStatus"`
	CreatedTimestamp awsjson.Time                 `json:"CreatedTimestamp"`
	UpdatedTimestamp awsjson.Time                 `json:"UpdatedTimestamp"`
	ImportStatistics *importStatistics            `json:"ImportStatistics,omitempty"`
}

func importOut(i imports.Info, stats bool) *importOutput {
	out := &importOutput{
		ImportId: i.ID, Destinations: []string{i.StoreARN},
		ImportSource: map[string]s3ImportSourceOut{"S3": {S3LocationUri: i.S3LocationURI, S3BucketRegion: i.S3BucketRegion, S3BucketAccessRoleArn: i.S3RoleARN}},
		ImportStatus: i.Status, CreatedTimestamp: awsjson.Time{Time: i.Created}, UpdatedTimestamp: awsjson.Time{Time: i.Updated},
	}
	if !i.StartEventTime.IsZero() {
		out.StartEventTime = &awsjson.Time{Time: i.StartEventTime}
	}
	if !i.EndEventTime.IsZero() {
		out.EndEventTime = &awsjson.Time{Time: i.EndEventTime}
	}
	if stats {
		s := i.Stats
		out.ImportStatistics = &importStatistics{PrefixesFound: s.PrefixesFound, PrefixesCompleted: s.PrefixesCompleted,
			FilesCompleted: s.FilesCompleted, EventsCompleted: s.EventsCompleted, FailedEntries: s.FailedEntries}
	}
	return out
}

func (h *Handler) startImport(ctx context.Context, caller identity.Caller, in *startImportInput) (*importOutput, error) {
	if in.ImportId != nil {
		if !uuidPattern.MatchString(*in.ImportId) {
			return nil, invalid(codeInvalidParameter, "ImportId %q is not an import id (36 characters of a-f, 0-9 and -).", *in.ImportId)
		}
		if in.Destinations != nil || in.ImportSource != nil || in.StartEventTime != nil || in.EndEventTime != nil {
			return nil, invalid(codeInvalidParameter, "To retry an import give only its ImportId; to start a new one give Destinations and ImportSource without ImportId.")
		}
		i, err := h.opts.Imports.StartImport(ctx, imports.Info{Account: caller.AccountID, Region: caller.Region}, *in.ImportId)
		if err != nil {
			return nil, err
		}
		return importOut(i, false), nil
	}
	if len(in.Destinations) != 1 {
		return nil, invalid(codeInvalidParameter, "Destinations must hold exactly one event data store ARN; the request has %d.", len(in.Destinations))
	}
	if in.ImportSource == nil || in.ImportSource.S3 == nil {
		return nil, invalid(codeInvalidParameter, "ImportSource.S3 is required: give S3LocationUri, S3BucketRegion and S3BucketAccessRoleArn.")
	}
	src := in.ImportSource.S3
	for name, v := range map[string]*string{"S3LocationUri": src.S3LocationUri, "S3BucketRegion": src.S3BucketRegion, "S3BucketAccessRoleArn": src.S3BucketAccessRoleArn} {
		if v == nil || *v == "" {
			return nil, invalid(codeInvalidParameter, "ImportSource.S3.%s is required.", name)
		}
	}
	rest, ok := strings.CutPrefix(*src.S3LocationUri, "s3://")
	bucket, _, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return nil, invalid("InvalidImportSourceException", "S3LocationUri %q is not an S3 URI (s3://bucket/prefix).", *src.S3LocationUri)
	}
	if err := objstore.CheckBucketName(bucket); err != nil {
		return nil, &bucketError{Bucket: bucket, Err: err}
	}
	var start, end time.Time
	if in.StartEventTime != nil {
		start = in.StartEventTime.Time
	}
	if in.EndEventTime != nil {
		end = in.EndEventTime.Time
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, invalid(codeInvalidParameter, "StartEventTime (%s) is after EndEventTime (%s).", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	}
	id, err := h.resolveStore(caller, in.Destinations[0])
	if err != nil {
		return nil, err
	}
	// The bucket must be the caller's, as a trail's must: the import
	// would otherwise read another account's logs.
	if err := h.checkBucket(ctx, caller, bucket); err != nil {
		return nil, err
	}
	req := imports.Info{Account: caller.AccountID, Region: caller.Region, Store: id,
		StoreARN:      "arn:aws:cloudtrail:" + caller.Region + ":" + caller.AccountID + ":eventdatastore/" + id,
		S3LocationURI: *src.S3LocationUri, S3BucketRegion: *src.S3BucketRegion, S3RoleARN: *src.S3BucketAccessRoleArn,
		StartEventTime: start, EndEventTime: end}
	i, err := h.opts.Imports.StartImport(ctx, req, "")
	if err != nil {
		return nil, err
	}
	return importOut(i, false), nil
}

type importIDInput struct {
	ImportId   *string `json:"ImportId"`
	MaxResults *int32  `json:"MaxResults"`
	NextToken  *string `json:"NextToken"`
}

func checkImportID(in *importIDInput) error {
	if in.ImportId == nil {
		return invalid(codeInvalidParameter, "ImportId is required.")
	}
	if !uuidPattern.MatchString(*in.ImportId) {
		return invalid(codeInvalidParameter, "ImportId %q is not an import id (36 characters of a-f, 0-9 and -).", *in.ImportId)
	}
	return nil
}

func (h *Handler) getImport(_ context.Context, caller identity.Caller, in *importIDInput) (*importOutput, error) {
	if err := checkImportID(in); err != nil {
		return nil, err
	}
	i, err := h.opts.Imports.GetImport(caller.AccountID, *in.ImportId)
	if err != nil {
		return nil, err
	}
	return importOut(i, true), nil
}

func (h *Handler) stopImport(_ context.Context, caller identity.Caller, in *importIDInput) (*importOutput, error) {
	if err := checkImportID(in); err != nil {
		return nil, err
	}
	i, err := h.opts.Imports.StopImport(caller.AccountID, *in.ImportId)
	if err != nil {
		return nil, err
	}
	return importOut(i, true), nil
}

type listImportsInput struct {
	MaxResults   *int32  `json:"MaxResults"`
	Destination  *string `json:"Destination"`
	ImportStatus *string `json:"ImportStatus"`
	NextToken    *string `json:"NextToken"`
}

type importItem struct {
	ImportId         string       `json:"ImportId"`
	ImportStatus     string       `json:"ImportStatus"`
	Destinations     []string     `json:"Destinations"`
	CreatedTimestamp awsjson.Time `json:"CreatedTimestamp"`
	UpdatedTimestamp awsjson.Time `json:"UpdatedTimestamp"`
}

type listImportsOutput struct {
	Imports   []importItem `json:"Imports"`
	NextToken string       `json:"NextToken,omitempty"`
}

// pageOf returns the page of n items after the item whose key the token
// names, and the token of the next page.
func (h *Handler) pageOf(scope tokenScope, token *string, keys []string, limit int) (start, end int, next string, err error) {
	if token != nil {
		cur, err := h.tokens.open(scope, *token)
		if err != nil {
			return 0, 0, "", errBadToken
		}
		var after struct{ K string }
		if json.Unmarshal(cur, &after) != nil {
			return 0, 0, "", errBadToken
		}
		start = len(keys)
		for i, k := range keys {
			if k == after.K {
				start = i + 1
				break
			}
		}
	}
	end = min(len(keys), start+limit)
	if end < len(keys) && end > start {
		cur, _ := json.Marshal(struct{ K string }{keys[end-1]})
		next = h.tokens.seal(scope, cur)
	}
	return start, end, next, nil
}

func maxResults(v *int32, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < 1 || *v > 1000 {
		return 0, invalid(codeInvalidParameter, "MaxResults must be between 1 and 1000; the request has %d.", *v)
	}
	return int(*v), nil
}

func (h *Handler) listImports(_ context.Context, caller identity.Caller, in *listImportsInput) (*listImportsOutput, error) {
	limit, err := maxResults(in.MaxResults, 1000)
	if err != nil {
		return nil, err
	}
	status, store := "", ""
	if in.ImportStatus != nil {
		status = *in.ImportStatus
		if !contains(importStatuses, status) {
			return nil, invalid(codeInvalidParameter, "ImportStatus %q is not one of %v.", status, importStatuses)
		}
	}
	if in.Destination != nil {
		if store, err = h.resolveStore(caller, *in.Destination); err != nil {
			return nil, err
		}
	}
	scope := tokenScope{op: "ListImports", account: caller.AccountID, region: caller.Region}
	var ph paramHash
	ph.add(in.Destination != nil, store)
	ph.add(in.ImportStatus != nil, status)
	scope.params = ph.sum()
	all := h.opts.Imports.ListImports(caller.AccountID, store, status)
	keys := make([]string, len(all))
	for i, im := range all {
		keys[i] = im.ID
	}
	start, end, next, err := h.pageOf(scope, in.NextToken, keys, limit)
	if err != nil {
		return nil, err
	}
	out := &listImportsOutput{Imports: []importItem{}, NextToken: next}
	for _, i := range all[start:end] {
		out.Imports = append(out.Imports, importItem{ImportId: i.ID, ImportStatus: i.Status, Destinations: []string{i.StoreARN},
			CreatedTimestamp: awsjson.Time{Time: i.Created}, UpdatedTimestamp: awsjson.Time{Time: i.Updated}})
	}
	return out, nil
}

type importFailureItem struct {
	Location        string       `json:"Location"`
	Status          string       `json:"Status"`
	ErrorType       string       `json:"ErrorType"`
	ErrorMessage    string       `json:"ErrorMessage"`
	LastUpdatedTime awsjson.Time `json:"LastUpdatedTime"`
}

type listImportFailuresOutput struct {
	Failures  []importFailureItem `json:"Failures"`
	NextToken string              `json:"NextToken,omitempty"`
}

func (h *Handler) listImportFailures(_ context.Context, caller identity.Caller, in *importIDInput) (*listImportFailuresOutput, error) {
	if err := checkImportID(in); err != nil {
		return nil, err
	}
	limit, err := maxResults(in.MaxResults, 1000)
	if err != nil {
		return nil, err
	}
	i, err := h.opts.Imports.GetImport(caller.AccountID, *in.ImportId)
	if err != nil {
		return nil, err
	}
	scope := tokenScope{op: "ListImportFailures", account: caller.AccountID, region: caller.Region}
	var ph paramHash
	ph.add(true, i.ID)
	scope.params = ph.sum()
	keys := make([]string, len(i.Failures))
	for n, f := range i.Failures {
		keys[n] = f.Location + "\x00" + f.LastUpdated.String()
	}
	start, end, next, err := h.pageOf(scope, in.NextToken, keys, limit)
	if err != nil {
		return nil, err
	}
	out := &listImportFailuresOutput{Failures: []importFailureItem{}, NextToken: next}
	for _, f := range i.Failures[start:end] {
		out.Failures = append(out.Failures, importFailureItem{Location: f.Location, Status: f.Status, ErrorType: f.ErrorType,
			ErrorMessage: f.ErrorMessage, LastUpdatedTime: awsjson.Time{Time: f.LastUpdated}})
	}
	return out, nil
}
