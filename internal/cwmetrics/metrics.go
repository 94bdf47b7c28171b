package cwmetrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarm"
)

// Dimension is a metric dimension.
type Dimension = alarm.Dimension

// Datum is one MetricData member of PutMetricData: exactly one of Value,
// Values (with optional Counts) and StatisticValues.
type Datum struct {
	MetricName string
	Dimensions []Dimension
	// Timestamp is zero for "now".
	Timestamp       time.Time
	Value           *float64
	Values          []float64
	Counts          []float64
	StatisticValues *alarm.StatisticSet
	Unit            string
}

// Point is a pre-aggregated minute of a metric, as CloudWatch Logs metric
// filters emit them (PutStatistics).
type Point struct {
	Namespace  string
	Name       string
	Unit       string
	Dimensions map[string]string
	// Minute is truncated to the minute.
	Minute               time.Time
	Count, Sum, Min, Max float64
}

// Limits of PutMetricData, as AWS documents them.
const (
	MaxDatums     = 1000
	MaxDimensions = 30
	MaxValues     = 150
	maxPast       = 14 * 24 * time.Hour
	maxAhead      = 2 * time.Hour
)

// record is one frame of a metric day file.
type record struct {
	Account   string       `json:"a"`
	Region    string       `json:"r"`
	Namespace string       `json:"ns"`
	Name      string       `json:"m"`
	Dims      [][2]string  `json:"d,omitempty"`
	Unit      string       `json:"u,omitempty"`
	Minute    int64        `json:"t"`
	Count     float64      `json:"n"`
	Sum       float64      `json:"s"`
	Min       float64      `json:"lo"`
	Max       float64      `json:"hi"`
	Values    [][2]float64 `json:"v,omitempty"`
}

// minute is one minute of one metric.
type minute struct {
	unit                 string
	count, sum, min, max float64
	// values are [value, count] pairs while raw is true.
	values [][2]float64
	raw    bool
}

// series is one metric: namespace, name and dimension set in an account
// and Region.
type series struct {
	key                       string
	account, region, ns, name string
	dims                      []Dimension
	mins                      map[int64]*minute
	last                      int64 // newest minute with data
}

func seriesKey(account, region, ns, name string, dims []Dimension) string {
	var b strings.Builder
	for _, s := range []string{account, region, ns, name} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, d := range dims {
		b.WriteString(d.Name)
		b.WriteByte(1)
		b.WriteString(d.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// sortDims returns a sorted copy.
func sortDims(dims []Dimension) []Dimension {
	out := slices.Clone(dims)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *record) dims() []Dimension {
	out := make([]Dimension, len(r.Dims))
	for i, d := range r.Dims {
		out[i] = Dimension{Name: d[0], Value: d[1]}
	}
	return out
}

func dayName(minute int64) string {
	return time.Unix(minute, 0).UTC().Format("2006-01-02") + ".log"
}

// apply merges a record into memory.
func (e *Engine) apply(r *record) {
	dims := r.dims()
	k := seriesKey(r.Account, r.Region, r.Namespace, r.Name, dims)
	s := e.series[k]
	if s == nil {
		s = &series{key: k, account: r.Account, region: r.Region, ns: r.Namespace, name: r.Name, dims: dims, mins: map[int64]*minute{}}
		e.series[k] = s
	}
	m := s.mins[r.Minute]
	if m == nil {
		m = &minute{min: r.Min, max: r.Max, raw: true}
		s.mins[r.Minute] = m
	}
	m.unit = r.Unit
	m.count += r.Count
	m.sum += r.Sum
	m.min = math.Min(m.min, r.Min)
	m.max = math.Max(m.max, r.Max)
	if m.raw {
		if r.Values == nil {
			m.raw, m.values = false, nil
		} else {
			for _, v := range r.Values {
				i := slices.IndexFunc(m.values, func(p [2]float64) bool { return p[0] == v[0] })
				if i >= 0 {
					m.values[i][1] += v[1]
				} else {
					m.values = append(m.values, v)
				}
			}
			if len(m.values) > e.o.MaxRawValues {
				m.raw, m.values = false, nil
			}
		}
	}
	s.last = max(s.last, r.Minute)
}

func validNamespace(ns string) error {
	switch {
	case ns == "":
		return &Error{Code: CodeMissingParameter, Message: "The parameter Namespace is required."}
	case len(ns) > 255:
		return invalid("The parameter Namespace must be at most 255 characters.")
	case strings.HasPrefix(ns, ":"), strings.HasPrefix(ns, "AWS/"):
		return invalid("The value %s for parameter Namespace is invalid.", ns)
	}
	return nil
}

func validMetric(name string, dims []Dimension, unit string) error {
	if name == "" {
		return &Error{Code: CodeMissingParameter, Message: "The parameter MetricName is required."}
	}
	if len(name) > 255 {
		return invalid("The parameter MetricName must be at most 255 characters.")
	}
	if len(dims) > MaxDimensions {
		return invalid("The collection Dimensions must not have a size greater than %d.", MaxDimensions)
	}
	seen := map[string]bool{}
	for _, d := range dims {
		if d.Name == "" || len(d.Name) > 255 {
			return invalid("The parameter Dimensions.Name must be 1 to 255 characters.")
		}
		if d.Value == "" || len(d.Value) > 1024 {
			return invalid("The parameter Dimensions.Value must be 1 to 1024 characters.")
		}
		if seen[d.Name] {
			return &Error{Code: CodeInvalidParameterCombination, Message: fmt.Sprintf("No metric may have duplicate dimension names: %s.", d.Name)}
		}
		seen[d.Name] = true
	}
	if unit != "" && !slices.Contains(alarm.Units, unit) {
		return invalid("The value %s for parameter Unit is not a valid unit.", unit)
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// datumRecord validates d and turns it into a record.
func (e *Engine) datumRecord(account, region, ns string, i int, d *Datum, now time.Time) (*record, error) {
	if err := validMetric(d.MetricName, d.Dimensions, d.Unit); err != nil {
		return nil, err
	}
	ts := d.Timestamp
	if ts.IsZero() {
		ts = now
	}
	if ts.Before(now.Add(-maxPast)) || ts.After(now.Add(maxAhead)) {
		return nil, invalid("The parameter MetricData.member.%d.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future.", i+1)
	}
	r := &record{Account: account, Region: region, Namespace: ns, Name: d.MetricName, Unit: unitOf(d.Unit), Minute: ts.Unix() / 60 * 60}
	for _, dim := range sortDims(d.Dimensions) {
		r.Dims = append(r.Dims, [2]string{dim.Name, dim.Value})
	}
	n := 0
	if d.Value != nil {
		n++
	}
	if d.Values != nil {
		n++
	}
	if d.StatisticValues != nil {
		n++
	}
	switch {
	case n > 1:
		return nil, &Error{Code: CodeInvalidParameterCombination, Message: fmt.Sprintf("The parameters MetricData.member.%d.Value, MetricData.member.%d.Values and MetricData.member.%d.StatisticValues are mutually exclusive and you have specified more than one.", i+1, i+1, i+1)}
	case d.Value != nil:
		if !finite(*d.Value) {
			return nil, invalid("The value %v for parameter MetricData.member.%d.Value is invalid.", *d.Value, i+1)
		}
		r.Values = [][2]float64{{*d.Value, 1}}
	case d.Values != nil:
		if len(d.Values) > MaxValues {
			return nil, invalid("The collection MetricData.member.%d.Values must not have a size greater than %d.", i+1, MaxValues)
		}
		if d.Counts != nil && len(d.Counts) != len(d.Values) {
			return nil, &Error{Code: CodeInvalidParameterValue, Message: fmt.Sprintf("The parameters MetricData.member.%d.Values and MetricData.member.%d.Counts must be of the same size.", i+1, i+1)}
		}
		for j, v := range d.Values {
			c := 1.0
			if d.Counts != nil {
				c = d.Counts[j]
			}
			if !finite(v) || !finite(c) || c < 0 {
				return nil, invalid("The parameter MetricData.member.%d.Values contains an invalid value or count.", i+1)
			}
			if c > 0 {
				r.Values = append(r.Values, [2]float64{v, c})
			}
		}
		if len(r.Values) == 0 {
			return nil, nil // nothing to record
		}
	case d.StatisticValues != nil:
		s := d.StatisticValues
		if !finite(s.SampleCount) || !finite(s.Sum) || !finite(s.Minimum) || !finite(s.Maximum) || s.SampleCount <= 0 || s.Minimum > s.Maximum {
			return nil, invalid("The parameter MetricData.member.%d.StatisticValues is invalid: SampleCount must be positive and Minimum at most Maximum.", i+1)
		}
		r.Count, r.Sum, r.Min, r.Max = s.SampleCount, s.Sum, s.Minimum, s.Maximum
		return r, nil
	default:
		return nil, &Error{Code: CodeMissingParameter, Message: fmt.Sprintf("The parameter MetricData.member.%d.Value, Values or StatisticValues is required.", i+1)}
	}
	r.Min, r.Max = math.Inf(1), math.Inf(-1)
	for _, v := range r.Values {
		r.Count += v[1]
		r.Sum += v[0] * v[1]
		r.Min = math.Min(r.Min, v[0])
		r.Max = math.Max(r.Max, v[0])
	}
	return r, nil
}

func unitOf(u string) string {
	if u == "None" {
		return ""
	}
	return u
}

// PutMetricData records data for namespace ns in the caller's account
// and Region. It returns once the data is fsynced. Validation errors are
// *Error; nothing is written unless every datum is valid.
func (e *Engine) PutMetricData(account, region, ns string, data []Datum) error {
	if err := validNamespace(ns); err != nil {
		return err
	}
	if len(data) == 0 {
		return &Error{Code: CodeMissingParameter, Message: "The parameter MetricData is required."}
	}
	if len(data) > MaxDatums {
		return invalid("The collection MetricData must not have a size greater than %d.", MaxDatums)
	}
	now := e.o.Now()
	recs := make([]*record, 0, len(data))
	for i := range data {
		r, err := e.datumRecord(account, region, ns, i, &data[i], now)
		if err != nil {
			return err
		}
		if r != nil {
			recs = append(recs, r)
		}
	}
	return e.write(recs)
}

// PutStatistics records pre-aggregated minutes, as CloudWatch Logs metric
// filters publish them; points with a non-positive Count are skipped. It
// returns once the data is fsynced. An invalid point (a bad namespace,
// name, dimension or unit, a minute outside the window PutMetricData
// accepts, statistics that are not finite) is left out and named in the
// returned *Error; the others are written.
func (e *Engine) PutStatistics(account, region string, pts []Point) error {
	recs := make([]*record, 0, len(pts))
	var bad []error
	now := e.o.Now()
	for _, p := range pts {
		if !(p.Count > 0) {
			continue
		}
		dims := make([]Dimension, 0, len(p.Dimensions))
		for k, v := range p.Dimensions {
			dims = append(dims, Dimension{Name: k, Value: v})
		}
		err := validNamespace(p.Namespace)
		if err == nil {
			err = validMetric(p.Name, dims, p.Unit)
		}
		if err == nil && (!finite(p.Sum) || !finite(p.Min) || !finite(p.Max) || !finite(p.Count) || p.Min > p.Max) {
			err = invalid("The statistics of metric %s are not finite or have Min > Max.", p.Name)
		}
		if err == nil && (p.Minute.Before(now.Add(-maxPast)) || p.Minute.After(now.Add(maxAhead))) {
			err = invalid("The minute %s of metric %s is more than two weeks old or two hours ahead.", p.Minute.UTC().Format(time.RFC3339), p.Name)
		}
		if err != nil {
			bad = append(bad, fmt.Errorf("%s/%s: %w", p.Namespace, p.Name, err))
			continue
		}
		r := &record{Account: account, Region: region, Namespace: p.Namespace, Name: p.Name, Unit: unitOf(p.Unit),
			Minute: p.Minute.Unix() / 60 * 60, Count: p.Count, Sum: p.Sum, Min: p.Min, Max: p.Max}
		for _, d := range sortDims(dims) {
			r.Dims = append(r.Dims, [2]string{d.Name, d.Value})
		}
		recs = append(recs, r)
	}
	return errors.Join(e.write(recs), errors.Join(bad...))
}

// write appends recs to their day files, fsyncs them, then applies them.
func (e *Engine) write(recs []*record) error {
	if len(recs) == 0 {
		return nil
	}
	byDay := map[string][]byte{}
	for _, r := range recs {
		p, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("put metric data: %w", err)
		}
		d := dayName(r.Minute)
		byDay[d] = appendFrame(byDay[d], p)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	cutoff := e.retentionCutoff(e.o.Now())
	written := map[string]bool{}
	var werr error
	for day, frames := range byDay {
		if day < cutoff {
			continue // older than retention: would be deleted at once
		}
		f, err := e.dayFile(day)
		if err == nil {
			err = f.write(frames)
		}
		if err != nil {
			werr = fmt.Errorf("put metric data: %w", err)
			break
		}
		written[day] = true
	}
	// What reached the disk is in memory too, even when another day's
	// file failed: memory matches what a restart would read.
	for _, r := range recs {
		if written[dayName(r.Minute)] {
			e.apply(r)
		}
	}
	return werr
}

// dayFile returns the open day file, opening (creating) it when needed.
// The caller holds e.mu.
func (e *Engine) dayFile(day string) (*logFile, error) {
	if f := e.days[day]; f != nil {
		return f, nil
	}
	path := filepath.Join(e.dir, metricsDir, day)
	_, statErr := os.Stat(path)
	f, _, err := openLog(path, func(int64, []byte) error { return nil })
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(filepath.Join(e.dir, metricsDir)); err != nil {
			f.Close()
			return nil, err
		}
	}
	e.days[day] = f
	return f, nil
}

// retentionCutoff is the name of the oldest day file kept at now.
func (e *Engine) retentionCutoff(now time.Time) string {
	return now.Add(-e.o.Retention).UTC().Format("2006-01-02") + ".log"
}

// sweep drops day files, and minutes in memory, older than retention.
// The caller holds e.mu.
func (e *Engine) sweep(now time.Time) error {
	cutoff := e.retentionCutoff(now)
	entries, err := os.ReadDir(filepath.Join(e.dir, metricsDir))
	if err != nil {
		return fmt.Errorf("sweep metrics: %w", err)
	}
	var errs []error
	for _, ent := range entries {
		name := ent.Name()
		if !strings.HasSuffix(name, ".log") || name >= cutoff {
			continue
		}
		if f := e.days[name]; f != nil {
			errs = append(errs, f.Close())
			delete(e.days, name)
		}
		if err := os.Remove(filepath.Join(e.dir, metricsDir, name)); err != nil {
			errs = append(errs, err)
			continue
		}
		e.o.Logger.Info("cloudwatch: deleted metric data past retention", "file", name)
	}
	limit := now.Add(-e.o.Retention).UTC().Truncate(24 * time.Hour).Unix()
	for k, s := range e.series {
		for m := range s.mins {
			if m < limit {
				delete(s.mins, m)
			}
		}
		if len(s.mins) == 0 {
			delete(e.series, k)
		}
	}
	return errors.Join(errs...)
}
