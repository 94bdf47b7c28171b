package api

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/identity"
)

// LookupEvents (operations.md §2.7, §3.2; event-record.md §9).

type lookupEventsInput struct {
	LookupAttributes []lookupAttribute `json:"LookupAttributes,omitempty"`
	StartTime        *awsjson.Time     `json:"StartTime,omitempty"`
	EndTime          *awsjson.Time     `json:"EndTime,omitempty"`
	EventCategory    *string           `json:"EventCategory,omitempty"`
	MaxResults       *int64            `json:"MaxResults,omitempty"`
	NextToken        *string           `json:"NextToken,omitempty"`
}

type lookupAttribute struct {
	AttributeKey   *string `json:"AttributeKey,omitempty"`
	AttributeValue *string `json:"AttributeValue,omitempty"`
}

type lookupEventsOutput struct {
	Events    []lookupEvent `json:"Events"` // always present, [] when empty
	NextToken string        `json:"NextToken,omitempty"`
}

type lookupEvent struct {
	EventID         string           `json:"EventId,omitempty"`
	EventName       string           `json:"EventName,omitempty"`
	ReadOnly        string           `json:"ReadOnly,omitempty"` // "true" or "false": a string on the wire
	AccessKeyID     string           `json:"AccessKeyId,omitempty"`
	EventTime       *awsjson.Time    `json:"EventTime,omitempty"`
	EventSource     string           `json:"EventSource,omitempty"`
	Username        string           `json:"Username,omitempty"`
	Resources       []lookupResource `json:"Resources"` // [] when none
	CloudTrailEvent string           `json:"CloudTrailEvent"`
}

type lookupResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

const (
	codeInvalidLookupAttributes = "InvalidLookupAttributesException"
	codeInvalidTimeRange        = "InvalidTimeRangeException"
	codeInvalidEventCategory    = "InvalidEventCategoryException"
	codeInvalidMaxResults       = "InvalidMaxResultsException"

	lookupMaxResults    = 50
	lookupMaxValueChars = 2000
	insightCategory     = "insight"
)

// lookupKeys are the AttributeKey enum, in model order, with whether
// Insights lookups accept them.
var lookupKeys = []struct {
	name    string
	key     history.AttrKey
	insight bool
}{
	{"EventId", history.AttrEventID, true},
	{"EventName", history.AttrEventName, true},
	{"ReadOnly", history.AttrReadOnly, false},
	{"Username", history.AttrUsername, false},
	{"ResourceType", history.AttrResourceType, false},
	{"ResourceName", history.AttrResourceName, false},
	{"EventSource", history.AttrEventSource, true},
	{"AccessKeyId", history.AttrAccessKeyID, false},
}

func (h *Handler) lookupEvents(ctx context.Context, caller identity.Caller, in *lookupEventsInput) (*lookupEventsOutput, error) {
	if h.lookups != nil && !h.lookups.allow(caller.AccountID+"/"+caller.Region, h.now()) {
		return nil, errThrottled("LookupEvents")
	}
	q := history.Query{Account: caller.AccountID, Region: caller.Region, Limit: lookupMaxResults}
	var ph paramHash

	// LookupAttributes: at most one.
	switch n := len(in.LookupAttributes); {
	case n > 1:
		return nil, invalid(codeInvalidLookupAttributes, "LookupAttributes can contain only one item; the request has %d.", n)
	case n == 1:
		key, value, err := lookupAttr(in.LookupAttributes[0])
		if err != nil {
			return nil, err
		}
		q.Key, q.Value = key, value
		ph.add(true, keyName(key))
		ph.add(true, value)
	default:
		ph.add(false, "")
		ph.add(false, "")
	}

	if c := in.EventCategory; c != nil {
		if *c != insightCategory {
			return nil, invalid(codeInvalidEventCategory, "EventCategory '%s' is not valid; the only valid value is '%s'.", clip(*c), insightCategory)
		}
		q.Insight = true
		if q.Key != history.AttrNone && !insightKey(q.Key) {
			return nil, invalid(codeInvalidLookupAttributes,
				"AttributeKey '%s' cannot be used with EventCategory 'insight'; use EventId, EventName or EventSource.", keyName(q.Key))
		}
	}
	ph.add(in.EventCategory != nil, deref(in.EventCategory))

	if m := in.MaxResults; m != nil {
		if *m < 1 || *m > lookupMaxResults {
			return nil, invalid(codeInvalidMaxResults, "MaxResults must be between 1 and %d; the request has %d.", lookupMaxResults, *m)
		}
		q.Limit = int(*m)
	}
	ph.add(in.MaxResults != nil, strconv.Itoa(q.Limit))

	// Time range: inclusive, defaults [now-Retention, now], StartTime
	// clamped to the retention window.
	now := h.now()
	var floor time.Time
	if h.opts.Retention > 0 {
		floor = now.Add(-h.opts.Retention)
	}
	start, end := floor, now
	if in.EndTime != nil {
		end = in.EndTime.Time
	}
	if in.StartTime != nil {
		start = in.StartTime.Time
		if start.After(end) {
			endDesc := "now"
			if in.EndTime != nil {
				endDesc = end.UTC().Format(time.RFC3339Nano)
			}
			return nil, invalid(codeInvalidTimeRange, "StartTime (%s) is after EndTime (%s); the time range must have StartTime <= EndTime.",
				start.UTC().Format(time.RFC3339Nano), endDesc)
		}
		if start.Before(floor) {
			start = floor
		}
	}
	ph.add(in.StartTime != nil, timeKey(in.StartTime))
	ph.add(in.EndTime != nil, timeKey(in.EndTime))

	scope := tokenScope{op: "LookupEvents", account: caller.AccountID, region: caller.Region, params: ph.sum()}
	if t := in.NextToken; t != nil && *t != "" {
		cursor, err := h.tokens.open(scope, *t)
		if err != nil {
			return nil, err
		}
		q.Cursor = cursor
	}

	// Event times have second precision, so an inclusive range becomes
	// [ceil(start), floor(end)] in whole seconds.
	q.Start, q.End = ceilSecond(start), end.Truncate(time.Second)
	out := &lookupEventsOutput{Events: []lookupEvent{}}
	if q.Start.After(q.End) {
		return out, nil
	}
	page, err := h.opts.Events.Lookup(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range page.Events {
		out.Events = append(out.Events, toLookupEvent(&page.Events[i]))
	}
	if page.Next != nil {
		out.NextToken = h.tokens.seal(scope, page.Next)
	}
	return out, nil
}

// toLookupEvent is a stored event in the Event shape LookupEvents and
// ListInsightsData return.
func toLookupEvent(ev *event.Event) lookupEvent {
	e := lookupEvent{
		EventID:         ev.EventID,
		EventName:       ev.EventName,
		AccessKeyID:     ev.AccessKeyID,
		EventTime:       awsjson.NewTime(ev.EventTime),
		EventSource:     ev.EventSource,
		Username:        ev.Username,
		Resources:       make([]lookupResource, 0, len(ev.LookupResources)),
		CloudTrailEvent: string(ev.Raw),
	}
	if ev.ReadOnly != nil {
		e.ReadOnly = strconv.FormatBool(*ev.ReadOnly)
	}
	for _, r := range ev.LookupResources {
		e.Resources = append(e.Resources, lookupResource{ResourceType: r.ResourceType, ResourceName: r.ResourceName})
	}
	return e
}

// lookupAttr validates one lookup attribute.
func lookupAttr(a lookupAttribute) (history.AttrKey, string, error) {
	if a.AttributeKey == nil {
		return 0, "", invalid(codeInvalidLookupAttributes, "LookupAttributes[0].AttributeKey is required.")
	}
	if a.AttributeValue == nil {
		return 0, "", invalid(codeInvalidLookupAttributes, "LookupAttributes[0].AttributeValue is required.")
	}
	key := history.AttrNone
	for _, k := range lookupKeys {
		if k.name == *a.AttributeKey {
			key = k.key
			break
		}
	}
	if key == history.AttrNone {
		names := make([]string, len(lookupKeys))
		for i, k := range lookupKeys {
			names[i] = k.name
		}
		return 0, "", invalid(codeInvalidLookupAttributes, "AttributeKey '%s' is not valid; valid keys are %s.", clip(*a.AttributeKey), strings.Join(names, ", "))
	}
	v := *a.AttributeValue
	if n := attrValueLength(v); n < 1 || n > lookupMaxValueChars {
		return 0, "", invalid(codeInvalidLookupAttributes,
			"AttributeValue must be 1 to %d characters long, where '_', ' ', ',' and newline count as two; the value counts %d.", lookupMaxValueChars, n)
	}
	if key == history.AttrReadOnly && v != "true" && v != "false" {
		return 0, "", invalid(codeInvalidLookupAttributes, "AttributeValue for ReadOnly must be 'true' or 'false', not '%s'.", clip(v))
	}
	return key, v, nil
}

// attrValueLength counts characters the way the model documents:
// '_', ' ', ',' and newline count twice.
func attrValueLength(s string) int {
	n := utf8.RuneCountInString(s)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '_', ' ', ',', '\n':
			n++
		}
	}
	return n
}

func insightKey(k history.AttrKey) bool {
	for _, lk := range lookupKeys {
		if lk.key == k {
			return lk.insight
		}
	}
	return false
}

func keyName(k history.AttrKey) string {
	for _, lk := range lookupKeys {
		if lk.key == k {
			return lk.name
		}
	}
	return strconv.Itoa(int(k))
}

func timeKey(t *awsjson.Time) string {
	if t == nil {
		return ""
	}
	return strconv.FormatInt(t.Unix(), 10) + "." + strconv.Itoa(t.Nanosecond())
}

func ceilSecond(t time.Time) time.Time {
	if tt := t.Truncate(time.Second); !tt.Equal(t) {
		return tt.Add(time.Second)
	}
	return t
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// clip shortens user input quoted in an error message.
func clip(s string) string { return audit.Truncate(s, 128) }
