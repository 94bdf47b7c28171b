package api

import (
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
)

// ListInsightsData (operations.md §3.5, insights.md §4,
// docs/design/decisions.md §81).

// InsightsRecords lists the Insights records raised on data events (the
// Insights detector's index, adapted by the daemon).
//
// InsightsData MUST return only records whose Insights type is in q.Types,
// of q.Account, in q.Regions (every region when nil), with eventTime in
// [q.Start, q.End], matching q.Key and q.Value, and, when q.AfterID is
// set, after (q.AfterTime, q.AfterID); newest first (eventTime, then
// eventID, descending), at most q.Limit, with their Summary filled.
type InsightsRecords interface {
	InsightsData(q InsightsDataQuery) ([]event.Event, error)
}

// InsightsDataQuery selects Insights records raised on data events.
type InsightsDataQuery struct {
	Account string
	Regions []string // nil: every region
	Types   []string // Insights types
	// Key is "", EventId, EventName or EventSource; Value what it equals.
	Key, Value string
	Start, End time.Time // inclusive
	AfterTime  time.Time
	AfterID    string
	Limit      int
}

type listInsightsDataInput struct {
	InsightSource *string           `json:"InsightSource,omitempty"`
	DataType      *string           `json:"DataType,omitempty"`
	Dimensions    map[string]string `json:"Dimensions,omitempty"`
	StartTime     *awsjson.Time     `json:"StartTime,omitempty"`
	EndTime       *awsjson.Time     `json:"EndTime,omitempty"`
	MaxResults    *int64            `json:"MaxResults,omitempty"`
	NextToken     *string           `json:"NextToken,omitempty"`
}

type listInsightsDataOutput struct {
	Events    []lookupEvent `json:"Events"` // always present, [] when empty
	NextToken string        `json:"NextToken,omitempty"`
}

const (
	insightsDataMaxResults = 50
	insightsDataMaxValue   = 2000
	// insightsDataWindow is how far back ListInsightsData reaches, as
	// AWS documents.
	insightsDataWindow = 90 * 24 * time.Hour
	insightsEventsType = "InsightsEvents"
)

// resourceARNRE is the model's ResourceArn pattern.
var resourceARNRE = regexp.MustCompile(`^[a-zA-Z0-9._/\-:]+$`)

// insightsDataKeys are the model's ListInsightsDataDimensionKey enum.
var insightsDataKeys = []string{"EventId", "EventName", "EventSource"}

// insightsDataRequest is a ListInsightsData request checked, before the
// trail it names is looked up.
type insightsDataRequest struct {
	source     string
	key, value string
	start, end time.Time
	limit      int
	// afterTime and afterID are the token's position (afterID "" without
	// a token).
	afterTime time.Time
	afterID   string
}

// parseInsightsData checks every member of in but the trail's existence;
// every error is InvalidParameterException, the only parameter error the
// model declares for the operation.
func (h *Handler) parseInsightsData(caller identity.Caller, in *listInsightsDataInput) (insightsDataRequest, error) {
	bad := func(format string, args ...any) error { return invalid(codeInvalidParameter, format, args...) }
	var r insightsDataRequest
	src := deref(in.InsightSource)
	switch {
	case in.InsightSource == nil || src == "":
		return r, bad("InsightSource is required: give the ARN of a trail that has Insights on data events.")
	case len(src) < 3 || len(src) > 256 || !resourceARNRE.MatchString(src):
		return r, bad("InsightSource %q is not valid: a trail ARN of 3 to 256 letters, digits and ._/-: characters.", clip(src))
	case !strings.HasPrefix(src, "arn:"):
		return r, bad("InsightSource %q is not an ARN: give the trail's ARN, arn:aws:cloudtrail:<region>:<account>:trail/<name>.", clip(src))
	}
	r.source = src

	switch dt := deref(in.DataType); {
	case in.DataType == nil:
		return r, bad("DataType is required; use %s.", insightsEventsType)
	case dt != insightsEventsType:
		return r, bad("DataType %q is not valid; the only valid value is %s.", clip(dt), insightsEventsType)
	}

	if in.Dimensions != nil {
		if n := len(in.Dimensions); n != 1 {
			return r, bad("Dimensions must hold exactly one entry, with the key EventId, EventName or EventSource; the request has %d.", n)
		}
		for k, v := range in.Dimensions {
			if !slices.Contains(insightsDataKeys, k) {
				return r, bad("Dimensions key %q is not valid; use %s.", clip(k), strings.Join(insightsDataKeys, ", "))
			}
			if n := utf8.RuneCountInString(v); n < 1 || n > insightsDataMaxValue {
				return r, bad("Dimensions value for %s must be 1 to %d characters; it has %d.", k, insightsDataMaxValue, n)
			}
			r.key, r.value = k, v
		}
	}

	r.limit = insightsDataMaxResults
	if m := in.MaxResults; m != nil {
		if *m < 1 || *m > insightsDataMaxResults {
			return r, bad("MaxResults must be between 1 and %d; the request has %d.", insightsDataMaxResults, *m)
		}
		r.limit = int(*m)
	}

	// The token carries the resolved time range, so that pages of a
	// request with default times line up, and the position of the last
	// event returned.
	scope := h.insightsDataScope(caller, in)
	if t := in.NextToken; t != nil {
		if len(*t) < 4 || len(*t) > 1000 {
			return r, bad("NextToken must be 4 to 1000 characters.")
		}
		cursor, err := h.tokens.open(scope, *t)
		if err != nil || len(cursor) < 25 {
			return r, bad("NextToken is not valid: it was altered, or comes back with other parameters than the request that returned it.")
		}
		r.start = time.Unix(int64(binary.BigEndian.Uint64(cursor)), 0).UTC()
		r.end = time.Unix(int64(binary.BigEndian.Uint64(cursor[8:])), 0).UTC()
		r.afterTime = time.Unix(int64(binary.BigEndian.Uint64(cursor[16:])), 0).UTC()
		r.afterID = string(cursor[24:])
		return r, nil
	}
	now := h.now()
	floor := now.Add(-insightsDataWindow)
	r.start, r.end = floor, now
	if in.EndTime != nil {
		r.end = in.EndTime.Time
	}
	if in.StartTime != nil {
		r.start = in.StartTime.Time
	}
	if in.StartTime != nil && r.start.After(r.end) {
		return r, bad("StartTime (%s) is after EndTime (%s).", r.start.UTC().Format(time.RFC3339), r.end.UTC().Format(time.RFC3339))
	}
	// Older than the window there is nothing: a range ending before it
	// is empty.
	r.start = maxTime(r.start, floor)
	// Event times are whole seconds: the inclusive range is
	// [ceil(start), floor(end)].
	r.start, r.end = ceilSecond(r.start).UTC(), r.end.Truncate(time.Second).UTC()
	return r, nil
}

// insightsDataScope binds a token to the request's parameters (all but
// MaxResults and NextToken: the position in the token holds whatever the
// page size).
func (h *Handler) insightsDataScope(caller identity.Caller, in *listInsightsDataInput) tokenScope {
	var ph paramHash
	ph.add(in.InsightSource != nil, deref(in.InsightSource))
	ph.add(in.DataType != nil, deref(in.DataType))
	ph.add(in.Dimensions != nil, "")
	for _, k := range insightsDataKeys {
		v, ok := in.Dimensions[k]
		ph.add(ok, v)
	}
	ph.add(in.StartTime != nil, timeKey(in.StartTime))
	ph.add(in.EndTime != nil, timeKey(in.EndTime))
	return tokenScope{op: "ListInsightsData", account: caller.AccountID, region: caller.Region, params: ph.sum()}
}

func (h *Handler) listInsightsData(_ context.Context, caller identity.Caller, in *listInsightsDataInput) (*listInsightsDataOutput, error) {
	if h.insightsData != nil && !h.insightsData.allow(caller.AccountID+"/"+caller.Region, h.now()) {
		return nil, errThrottled("ListInsightsData")
	}
	r, err := h.parseInsightsData(caller, in)
	if err != nil {
		return nil, err
	}
	t, err := h.insightsTrail(caller, r.source)
	if err != nil {
		return nil, err
	}
	q := InsightsDataQuery{Account: t.Account, Types: dataInsightTypes(&t), Key: r.key, Value: r.value,
		Start: r.start, End: r.end, AfterTime: r.afterTime, AfterID: r.afterID, Limit: r.limit + 1}
	if !t.IsMultiRegionTrail {
		q.Regions = []string{t.HomeRegion}
	}
	out := &listInsightsDataOutput{Events: []lookupEvent{}}
	if r.start.After(r.end) {
		return out, nil
	}
	evs, err := h.opts.InsightsData.InsightsData(q)
	if err != nil {
		return nil, fmt.Errorf("list insights data: %w", err)
	}
	if len(evs) > r.limit {
		evs = evs[:r.limit]
		last := evs[len(evs)-1]
		cursor := binary.BigEndian.AppendUint64(nil, uint64(r.start.Unix()))
		cursor = binary.BigEndian.AppendUint64(cursor, uint64(r.end.Unix()))
		cursor = binary.BigEndian.AppendUint64(cursor, uint64(last.EventTime.Unix()))
		cursor = append(cursor, last.EventID...)
		out.NextToken = h.tokens.seal(h.insightsDataScope(caller, in), cursor)
	}
	for i := range evs {
		out.Events = append(out.Events, toLookupEvent(&evs[i]))
	}
	return out, nil
}

// insightsTrail resolves InsightSource to a trail of the caller's account
// visible in its region that has Insights on data events (decision §81).
func (h *Handler) insightsTrail(caller identity.Caller, source string) (catalog.Trail, error) {
	ref, err := parseTrailRef(caller, source)
	if err != nil {
		return catalog.Trail{}, invalid(codeInvalidParameter,
			"InsightSource %q is not a trail ARN: give arn:aws:cloudtrail:<region>:<12-digit account>:trail/<name>.", clip(source))
	}
	t, ok := h.opts.Trails.Get(ref.arn)
	if !ok || t.Account != caller.AccountID || !t.VisibleIn(caller.Region) {
		return catalog.Trail{}, invalid(codeInvalidParameter, "InsightSource %s is not a trail of account %s in region %s.",
			clip(source), caller.AccountID, caller.Region)
	}
	if len(dataInsightTypes(&t)) == 0 {
		return catalog.Trail{}, invalid(codeInvalidParameter,
			`Trail %s has no Insights on data events: turn them on with PutInsightSelectors and EventCategories ["Data"] (the trail must log data events).`, t.ARN())
	}
	return t, nil
}

// dataInsightTypes are the Insights types t has on data events.
func dataInsightTypes(t *catalog.Trail) []string {
	var out []string
	for _, s := range t.InsightSelectors {
		if slices.Contains(s.EventCategories, event.CategoryData) {
			out = append(out, s.InsightType)
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
