package cwmetrics

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarm"
)

// Metric names a metric.
type Metric struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension // sorted by name
}

// DimensionFilter is a ListMetrics dimension filter: a metric matches
// when it has the dimension, with Value when Value is set.
type DimensionFilter struct {
	Name  string
	Value string // "" matches any value
}

// ListMetricsInput is ListMetrics' request.
type ListMetricsInput struct {
	Namespace, MetricName string
	Dimensions            []DimensionFilter
	// RecentlyActive is "" or "PT3H".
	RecentlyActive string
	NextToken      string
}

// listPage is ListMetrics' page size, as at AWS.
const listPage = 500

// ListMetrics lists the account's metrics in the Region with data in the
// retention window, sorted by namespace, name and dimensions, 500 a page.
func (e *Engine) ListMetrics(account, region string, in ListMetricsInput) ([]Metric, string, error) {
	if len(in.Dimensions) > 10 {
		return nil, "", invalid("The collection Dimensions must not have a size greater than 10.")
	}
	if in.RecentlyActive != "" && in.RecentlyActive != "PT3H" {
		return nil, "", invalid("The value %s for parameter RecentlyActive is invalid; it must be PT3H.", in.RecentlyActive)
	}
	after := ""
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, "", &Error{Code: CodeInvalidNextToken, Message: "The NextToken is invalid."}
		}
		after = string(b)
	}
	now := e.o.Now()
	e.mu.Lock()
	var keys []string
	for k, s := range e.series {
		if s.account != account || s.region != region || k <= after {
			continue
		}
		if in.Namespace != "" && s.ns != in.Namespace || in.MetricName != "" && s.name != in.MetricName {
			continue
		}
		if in.RecentlyActive != "" && time.Unix(s.last, 0).Before(now.Add(-3*time.Hour)) {
			continue
		}
		if !matchFilters(s.dims, in.Dimensions) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	next := ""
	if len(keys) > listPage {
		keys = keys[:listPage]
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[len(keys)-1]))
	}
	out := make([]Metric, len(keys))
	for i, k := range keys {
		s := e.series[k]
		out[i] = Metric{Namespace: s.ns, MetricName: s.name, Dimensions: slices.Clone(s.dims)}
	}
	e.mu.Unlock()
	return out, next, nil
}

func matchFilters(dims []Dimension, fs []DimensionFilter) bool {
	for _, f := range fs {
		if !slices.ContainsFunc(dims, func(d Dimension) bool { return d.Name == f.Name && (f.Value == "" || d.Value == f.Value) }) {
			return false
		}
	}
	return true
}

// StatisticsInput is GetMetricStatistics' request.
type StatisticsInput struct {
	Namespace, MetricName string
	Dimensions            []Dimension
	StartTime, EndTime    time.Time
	Period                int
	Statistics            []string
	ExtendedStatistics    []string
	Unit                  string
}

// StatDatapoint is one period of GetMetricStatistics.
type StatDatapoint struct {
	Timestamp time.Time
	Unit      string // "None" when unset
	// Values holds the requested simple statistics; Extended the
	// percentiles available for the period.
	Values   map[string]float64
	Extended map[string]float64
}

// MaxDatapoints is GetMetricStatistics' limit.
const MaxDatapoints = 1440

func checkPeriod(member string, p int) error {
	if p <= 0 {
		return &Error{Code: CodeMissingParameter, Message: fmt.Sprintf("The parameter %s is required and must be positive.", member)}
	}
	if p%60 != 0 {
		return invalid("The parameter %s must be a multiple of 60: OpenTrail stores 1-minute data.", member)
	}
	return nil
}

func checkStat(s string) bool {
	if slices.Contains(alarm.Statistics, s) {
		return true
	}
	_, ok := alarm.ParsePercentile(s)
	return ok
}

// GetMetricStatistics returns the statistics of one metric (the exact
// dimension set) over [StartTime, EndTime) in periods aligned to
// StartTime rounded down to the minute, oldest first, periods without
// data left out.
func (e *Engine) GetMetricStatistics(account, region string, in StatisticsInput) ([]StatDatapoint, error) {
	switch {
	case in.Namespace == "":
		return nil, &Error{Code: CodeMissingParameter, Message: "The parameter Namespace is required."}
	case in.MetricName == "":
		return nil, &Error{Code: CodeMissingParameter, Message: "The parameter MetricName is required."}
	case in.StartTime.IsZero():
		return nil, &Error{Code: CodeMissingParameter, Message: "The parameter StartTime is required."}
	case in.EndTime.IsZero():
		return nil, &Error{Code: CodeMissingParameter, Message: "The parameter EndTime is required."}
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return nil, &Error{Code: CodeMissingParameter, Message: "Must specify either Statistics or ExtendedStatistics."}
	case len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0:
		return nil, &Error{Code: CodeInvalidParameterCombination, Message: "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both."}
	case len(in.Statistics)+len(in.ExtendedStatistics) > 5:
		return nil, invalid("The collection Statistics must not have a size greater than 5.")
	}
	if err := checkPeriod("Period", in.Period); err != nil {
		return nil, err
	}
	if err := validMetric(in.MetricName, in.Dimensions, in.Unit); err != nil {
		return nil, err
	}
	for _, s := range in.Statistics {
		if !slices.Contains(alarm.Statistics, s) {
			return nil, invalid("The value %s for parameter Statistics is not a valid statistic (SampleCount, Average, Sum, Minimum, Maximum).", s)
		}
	}
	for _, s := range in.ExtendedStatistics {
		if _, ok := alarm.ParsePercentile(s); !ok {
			return nil, invalid("The value %s for parameter ExtendedStatistics is not a valid percentile (p0.0 to p100; OpenTrail serves pNN only).", s)
		}
	}
	start := in.StartTime.Truncate(time.Minute)
	if !start.Before(in.EndTime) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	period := time.Duration(in.Period) * time.Second
	n := (in.EndTime.Sub(start) + period - 1) / period
	if n > MaxDatapoints {
		return nil, &Error{Code: CodeInvalidParameterCombination, Message: fmt.Sprintf("You have requested up to %d datapoints, which exceeds the limit of %d. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n, MaxDatapoints)}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.series[seriesKey(account, region, in.Namespace, in.MetricName, sortDims(in.Dimensions))]
	if s == nil {
		return []StatDatapoint{}, nil
	}
	out := []StatDatapoint{}
	for t := start; t.Before(in.EndTime); t = t.Add(period) {
		end := t.Add(period)
		if end.After(in.EndTime) {
			end = in.EndTime
		}
		agg, unit := s.aggregate(t.Unix(), end.Unix(), unitOf(in.Unit), in.Unit != "")
		if agg.SampleCount() == 0 {
			continue
		}
		dp := StatDatapoint{Timestamp: t, Unit: unit, Values: map[string]float64{}}
		for _, st := range in.Statistics {
			dp.Values[st], _ = agg.Statistic(st)
		}
		for _, st := range in.ExtendedStatistics {
			if v, ok := agg.Statistic(st); ok {
				if dp.Extended == nil {
					dp.Extended = map[string]float64{}
				}
				dp.Extended[st] = v
			}
		}
		out = append(out, dp)
	}
	return out, nil
}

// aggregate sums the minutes in [from, to) (Unix seconds); with
// filterUnit only those of unit. It returns the unit seen ("None" when
// unset).
func (s *series) aggregate(from, to int64, unit string, filterUnit bool) (*alarm.Aggregate, string) {
	var agg alarm.Aggregate
	seen := ""
	first := (from + 59) / 60 * 60
	for m := first; m < to; m += 60 {
		mm := s.mins[m]
		if mm == nil || filterUnit && mm.unit != unit {
			continue
		}
		seen = mm.unit
		if mm.raw {
			for _, v := range mm.values {
				agg.Add(v[0], v[1])
			}
		} else {
			agg.AddSet(alarm.StatisticSet{SampleCount: mm.count, Sum: mm.sum, Minimum: mm.min, Maximum: mm.max})
		}
	}
	if seen == "" {
		seen = "None"
	}
	return &agg, seen
}

// MetricStat is a GetMetricData query's metric and statistic.
type MetricStat struct {
	Metric Metric
	Period int
	Stat   string
	Unit   string
}

// DataQuery is one MetricDataQueries member.
type DataQuery struct {
	ID         string
	Label      string
	ReturnData *bool
	Expression string
	MetricStat *MetricStat
	Period     int
}

// DataInput is GetMetricData's request.
type DataInput struct {
	Queries            []DataQuery
	StartTime, EndTime time.Time
	// ScanBy is TimestampDescending (default) or TimestampAscending.
	ScanBy        string
	MaxDatapoints int
	NextToken     string
}

// DataResult is one MetricDataResults member.
type DataResult struct {
	ID         string
	Label      string
	Timestamps []time.Time
	Values     []float64
	StatusCode string // Complete or PartialData
}

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// DefaultMaxDatapoints is GetMetricData's default page size.
const DefaultMaxDatapoints = 100800

// GetMetricData runs MetricStat queries (metric math is refused) and
// pages their datapoints, MaxDatapoints at a time across all queries.
func (e *Engine) GetMetricData(account, region string, in DataInput) ([]DataResult, string, error) {
	if len(in.Queries) == 0 {
		return nil, "", &Error{Code: CodeMissingParameter, Message: "The parameter MetricDataQueries is required."}
	}
	if len(in.Queries) > 500 {
		return nil, "", invalid("The collection MetricDataQueries must not have a size greater than 500.")
	}
	if in.StartTime.IsZero() || in.EndTime.IsZero() {
		return nil, "", &Error{Code: CodeMissingParameter, Message: "The parameters StartTime and EndTime are required."}
	}
	switch in.ScanBy {
	case "":
		in.ScanBy = "TimestampDescending"
	case "TimestampDescending", "TimestampAscending":
	default:
		return nil, "", invalid("The value %s for parameter ScanBy is invalid.", in.ScanBy)
	}
	if in.MaxDatapoints < 0 {
		return nil, "", invalid("The parameter MaxDatapoints must be positive.")
	}
	if in.MaxDatapoints == 0 {
		in.MaxDatapoints = DefaultMaxDatapoints
	}
	start := in.StartTime.Truncate(time.Minute)
	if !start.Before(in.EndTime) {
		return nil, "", invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	ids := map[string]bool{}
	for i, q := range in.Queries {
		switch {
		case !queryID.MatchString(q.ID) || len(q.ID) > 255:
			return nil, "", invalid("The value %q for parameter MetricDataQueries.member.%d.Id is invalid: it must start with a lowercase letter and hold only letters, digits and underscores.", q.ID, i+1)
		case ids[q.ID]:
			return nil, "", invalid("The value %s for parameter MetricDataQueries.member.%d.Id is not unique.", q.ID, i+1)
		case q.Expression != "":
			return nil, "", invalid("The parameter MetricDataQueries.member.%d.Expression is not supported: OpenTrail serves MetricStat queries only, no metric math.", i+1)
		case q.MetricStat == nil:
			return nil, "", &Error{Code: CodeMissingParameter, Message: fmt.Sprintf("The parameter MetricDataQueries.member.%d.MetricStat is required.", i+1)}
		}
		ids[q.ID] = true
		ms := q.MetricStat
		if err := checkPeriod(fmt.Sprintf("MetricDataQueries.member.%d.MetricStat.Period", i+1), ms.Period); err != nil {
			return nil, "", err
		}
		if !checkStat(ms.Stat) {
			return nil, "", invalid("The value %s for parameter MetricDataQueries.member.%d.MetricStat.Stat is not supported (SampleCount, Average, Sum, Minimum, Maximum, pNN).", ms.Stat, i+1)
		}
		if err := validNamespace(ms.Metric.Namespace); err != nil {
			return nil, "", err
		}
		if err := validMetric(ms.Metric.MetricName, ms.Metric.Dimensions, ms.Unit); err != nil {
			return nil, "", err
		}
	}
	offset := 0
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		n, perr := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || perr != nil || !strings.HasPrefix(string(b), "o:") || n <= 0 {
			return nil, "", &Error{Code: CodeInvalidNextToken, Message: "The NextToken is invalid."}
		}
		offset = n
	}
	var all []DataResult
	e.mu.Lock()
	for _, q := range in.Queries {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		ms := q.MetricStat
		r := DataResult{ID: q.ID, Label: q.Label, StatusCode: "Complete", Timestamps: []time.Time{}, Values: []float64{}}
		if r.Label == "" {
			r.Label = ms.Metric.MetricName
		}
		period := time.Duration(ms.Period) * time.Second
		if s := e.series[seriesKey(account, region, ms.Metric.Namespace, ms.Metric.MetricName, sortDims(ms.Metric.Dimensions))]; s != nil {
			for t := start; t.Before(in.EndTime); t = t.Add(period) {
				end := t.Add(period)
				if end.After(in.EndTime) {
					end = in.EndTime
				}
				agg, _ := s.aggregate(t.Unix(), end.Unix(), unitOf(ms.Unit), ms.Unit != "")
				if v, ok := agg.Statistic(ms.Stat); ok {
					r.Timestamps = append(r.Timestamps, t)
					r.Values = append(r.Values, v)
				}
			}
		}
		if in.ScanBy == "TimestampDescending" {
			slices.Reverse(r.Timestamps)
			slices.Reverse(r.Values)
		}
		all = append(all, r)
	}
	e.mu.Unlock()
	// Page: skip offset datapoints, take MaxDatapoints.
	skip, room := offset, in.MaxDatapoints
	out := make([]DataResult, len(all))
	total := 0
	for i, r := range all {
		total += len(r.Values)
		n := len(r.Values)
		lo := min(skip, n)
		skip -= lo
		hi := lo + min(room, n-lo)
		room -= hi - lo
		out[i] = DataResult{ID: r.ID, Label: r.Label, StatusCode: "Complete", Timestamps: r.Timestamps[lo:hi], Values: r.Values[lo:hi]}
		if hi < n {
			out[i].StatusCode = "PartialData"
		}
	}
	if offset > 0 && offset >= total {
		return nil, "", &Error{Code: CodeInvalidNextToken, Message: "The NextToken is invalid or has expired."}
	}
	next := ""
	if offset+in.MaxDatapoints < total {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset+in.MaxDatapoints)))
	}
	return out, next, nil
}
