package api

import (
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/identity"
)

// ListInsightsMetricData (operations.md §3.5, insights.md §4,
// docs/design/decisions.md §66).

// InsightsMetrics answers ListInsightsMetricData from the Insights
// detector's per-minute counts.
type InsightsMetrics interface {
	Metrics(q MetricsQuery) ([]MetricPoint, error)
}

// MetricsQuery selects one series' counts per period in [Start, End).
type MetricsQuery struct {
	Account, Region                string
	Category                       string // Management, or Data with a TrailName
	InsightType, EventSource, Name string
	ErrorCode                      string
	Start, End                     time.Time
	Period                         time.Duration
	FillWithZeros                  bool
}

// MetricPoint is one period's count.
type MetricPoint struct {
	Time  time.Time
	Value float64
}

type listInsightsMetricDataInput struct {
	TrailName   *string       `json:"TrailName,omitempty"`
	EventSource *string       `json:"EventSource,omitempty"`
	EventName   *string       `json:"EventName,omitempty"`
	InsightType *string       `json:"InsightType,omitempty"`
	ErrorCode   *string       `json:"ErrorCode,omitempty"`
	StartTime   *awsjson.Time `json:"StartTime,omitempty"`
	EndTime     *awsjson.Time `json:"EndTime,omitempty"`
	Period      *int64        `json:"Period,omitempty"`
	DataType    *string       `json:"DataType,omitempty"`
	MaxResults  *int64        `json:"MaxResults,omitempty"`
	NextToken   *string       `json:"NextToken,omitempty"`
}

type listInsightsMetricDataOutput struct {
	TrailARN    string         `json:"TrailARN,omitempty"`
	EventSource string         `json:"EventSource"`
	EventName   string         `json:"EventName"`
	InsightType string         `json:"InsightType"`
	ErrorCode   string         `json:"ErrorCode,omitempty"`
	Timestamps  []awsjson.Time `json:"Timestamps"`
	Values      []float64      `json:"Values"`
	NextToken   string         `json:"NextToken,omitempty"`
}

var (
	metricsSourceRE = regexp.MustCompile(`^[a-z0-9_-]+\.amazonaws\.com$`)
	metricsNameRE   = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	metricsErrorRE  = regexp.MustCompile(`^[\w\d\s_.,\-:\[\]]+$`)
)

const metricsMaxResults = 21600

func (h *Handler) listInsightsMetricData(_ context.Context, caller identity.Caller, in *listInsightsMetricDataInput) (*listInsightsMetricDataOutput, error) {
	bad := func(format string, args ...any) error { return invalid(codeInvalidParameter, format, args...) }
	src, name, typ := deref(in.EventSource), deref(in.EventName), deref(in.InsightType)
	switch {
	case in.EventSource == nil || len(src) > 256 || !metricsSourceRE.MatchString(src):
		return nil, bad("EventSource %q is not valid: give the service's endpoint, such as ec2.amazonaws.com (at most 256 characters).", clip(src))
	case in.EventName == nil || len(name) > 128 || !metricsNameRE.MatchString(name):
		return nil, bad("EventName %q is not valid: letters, digits and underscores, at most 128 characters.", clip(name))
	case typ != "ApiCallRateInsight" && typ != "ApiErrorRateInsight":
		return nil, bad("InsightType %q is not valid; use ApiCallRateInsight or ApiErrorRateInsight.", clip(typ))
	}
	code := deref(in.ErrorCode)
	switch {
	case typ == "ApiErrorRateInsight" && in.ErrorCode == nil:
		return nil, bad("ErrorCode is required when InsightType is ApiErrorRateInsight.")
	case typ == "ApiCallRateInsight" && in.ErrorCode != nil:
		return nil, bad("ErrorCode is only for InsightType ApiErrorRateInsight.")
	case in.ErrorCode != nil && (len(code) > 128 || !metricsErrorRE.MatchString(code)):
		return nil, bad("ErrorCode %q is not valid (at most 128 characters of letters, digits, spaces and _.,-:[]).", clip(code))
	}
	period := int64(3600)
	if in.Period != nil {
		period = *in.Period
		if period != 60 && period != 300 && period != 3600 {
			return nil, bad("Period %d is not valid; use 60, 300 or 3600 seconds.", period)
		}
	}
	fill := false
	switch dt := deref(in.DataType); {
	case in.DataType == nil || dt == "NonZeroData":
	case dt == "FillWithZeros":
		fill = true
	default:
		return nil, bad("DataType %q is not valid; use NonZeroData or FillWithZeros.", clip(dt))
	}
	limit := int64(metricsMaxResults)
	if in.MaxResults != nil {
		if limit = *in.MaxResults; limit < 1 || limit > metricsMaxResults {
			return nil, bad("MaxResults %d is not valid: 1 to %d.", limit, metricsMaxResults)
		}
	}
	q := MetricsQuery{Account: caller.AccountID, Region: caller.Region, Category: "Management", InsightType: typ,
		EventSource: src, Name: name, ErrorCode: code, Period: time.Duration(period) * time.Second, FillWithZeros: fill}
	out := &listInsightsMetricDataOutput{EventSource: src, EventName: name, InsightType: typ, ErrorCode: code,
		Timestamps: []awsjson.Time{}, Values: []float64{}}
	if in.TrailName != nil {
		if h.opts.Trails == nil {
			return nil, errUnsupported("ListInsightsMetricData with TrailName")
		}
		t, err := h.findTrail(caller, in.TrailName, "TrailName", false)
		if err != nil {
			return nil, err
		}
		q.Category, out.TrailARN = "Data", t.ARN()
	}

	// The token carries the resolved time range, so that pages of a
	// request with default times line up.
	var ph paramHash
	for _, p := range []*string{in.TrailName, in.EventSource, in.EventName, in.InsightType, in.ErrorCode, in.DataType} {
		ph.add(p != nil, deref(p))
	}
	ph.add(in.StartTime != nil, timeKey(in.StartTime))
	ph.add(in.EndTime != nil, timeKey(in.EndTime))
	ph.add(true, strconv.FormatInt(period, 10))
	scope := tokenScope{op: "ListInsightsMetricData", account: caller.AccountID, region: caller.Region, params: ph.sum()}
	var offset int64
	if t := in.NextToken; t != nil {
		if len(*t) < 1 || len(*t) > 5000 {
			return nil, bad("NextToken must be 1 to 5000 characters.")
		}
		cursor, err := h.tokens.open(scope, *t)
		if err != nil || len(cursor) != 24 {
			return nil, bad("NextToken is not valid: it was altered, or comes back with other parameters than the request that returned it.")
		}
		q.Start = time.Unix(int64(binary.BigEndian.Uint64(cursor)), 0)
		q.End = time.Unix(int64(binary.BigEndian.Uint64(cursor[8:])), 0)
		offset = int64(binary.BigEndian.Uint64(cursor[16:]))
	} else {
		now := h.now()
		q.Start, q.End = now.Add(-90*24*time.Hour), now
		if in.StartTime != nil {
			q.Start = in.StartTime.Time
		}
		if in.EndTime != nil {
			q.End = in.EndTime.Time
		}
		if !q.Start.Before(q.End) {
			return nil, bad("StartTime must be before EndTime.")
		}
	}
	points, err := h.opts.InsightsMetrics.Metrics(q)
	if err != nil {
		return nil, fmt.Errorf("list insights metric data: %w", err)
	}
	if offset > int64(len(points)) {
		offset = int64(len(points))
	}
	points = points[offset:]
	if int64(len(points)) > limit {
		cursor := binary.BigEndian.AppendUint64(nil, uint64(q.Start.Unix()))
		cursor = binary.BigEndian.AppendUint64(cursor, uint64(q.End.Unix()))
		cursor = binary.BigEndian.AppendUint64(cursor, uint64(offset+limit))
		out.NextToken = h.tokens.seal(scope, cursor)
		points = points[:limit]
	}
	for _, p := range points {
		out.Timestamps = append(out.Timestamps, awsjson.Time{Time: p.Time})
		out.Values = append(out.Values, p.Value)
	}
	return out, nil
}
