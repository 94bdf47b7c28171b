package alarm

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func FuzzParsePercentile(f *testing.F) {
	for _, s := range []string{"p99", "p0", "p100", "p99.99", "p", "p-1", "pNaN", "p1e2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePercentile(s)
		if ok && (p < 0 || p > 100 || math.IsNaN(p)) {
			t.Fatalf("ParsePercentile(%q) = %v", s, p)
		}
	})
}

// FuzzEvaluate: any valid configuration and datapoints evaluate without
// panicking to a valid state with JSON reason data.
func FuzzEvaluate(f *testing.F) {
	f.Add(300, 3, 2, 1.0, "GreaterThanOrEqualToThreshold", "missing", int64(0), 2.0, int64(300), 0.0, int64(1_700_000_000))
	f.Add(10, 1, 0, -5.0, "LessThanThreshold", "ignore", int64(-10), -6.0, int64(5), 1e300, int64(0))
	f.Fuzz(func(t *testing.T, period, n, m int, threshold float64, op, treat string, t1 int64, v1 float64, t2 int64, v2 float64, now int64) {
		cfg := &Config{AlarmName: "a", MetricName: "m", Namespace: "n", Statistic: "Sum", Period: period,
			EvaluationPeriods: n, DatapointsToAlarm: m, Threshold: threshold, ComparisonOperator: op, TreatMissingData: treat}
		if cfg.Validate() != nil || math.IsNaN(threshold) || math.IsInf(threshold, 0) {
			return
		}
		pts := []Datapoint{{Timestamp: time.Unix(t1, 0), Value: v1, SampleCount: 1}, {Timestamp: time.Unix(t2, 0), Value: v2, SampleCount: 2}}
		for _, cur := range []State{StateOK, StateAlarm, StateInsufficientData} {
			r := Evaluate(cfg, cur, pts, time.Unix(now, 0))
			if !r.State.Valid() {
				t.Fatalf("state %q", r.State)
			}
			if r.ReasonData != nil && !json.Valid(r.ReasonData) {
				t.Fatalf("reason data %q", r.ReasonData)
			}
		}
	})
}
