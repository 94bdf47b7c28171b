package alarm

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// retain marks "Retain current state" in the case tables.
const retain State = "retain"

// points turns a row of the User Guide's tables ("0 - X - X", oldest on the
// left, 0 non-breaching, X breaching, - missing) into datapoints for the
// evaluation range that ends at end.
func points(t *testing.T, row string, period time.Duration, end time.Time) []Datapoint {
	t.Helper()
	cells := strings.Fields(row)
	var out []Datapoint
	for i, c := range cells {
		ts := end.Add(-time.Duration(len(cells)-i) * period)
		switch c {
		case "0":
			out = append(out, Datapoint{Timestamp: ts, Value: 0, SampleCount: 1})
		case "X":
			out = append(out, Datapoint{Timestamp: ts, Value: 5, SampleCount: 1})
		case "-":
		default:
			t.Fatalf("bad cell %q", c)
		}
	}
	return out
}

// TestEvaluateMissingDataDocTables is the CloudWatch User Guide's
// "Configuring how CloudWatch alarms treat missing data" section (archived
// as awsdocs/amazon-cloudwatch-user-guide doc_source/AlarmThatSendsEmail.md,
// "How Alarm State is Evaluated When Data is Missing"): both tables, every
// row, every treatment, with the evaluation range of 5 datapoints the
// tables use for 3 evaluation periods.
//
// Two cells of the archived page disagree with the rest of it and with the
// current page, which says missing goes to INSUFFICIENT_DATA only "if all
// data points in the alarm evaluation range are missing" and gives
// "- - X - -" as ALARM under missing: the archived rows "- - - - X" say
// Insufficient data under MISSING while its row "X - - - -" says ALARM
// ("because the oldest evaluated data point is breaching and there aren't
// any non-breaching data points"). Those cells follow the current page here
// (marked "current page").
func TestEvaluateMissingDataDocTables(t *testing.T) {
	type row struct {
		points                                   string
		missing, ignore, breaching, notBreaching State
		note                                     string
	}
	tables := []struct {
		name string
		m    int
		rows []row
	}{
		{"3 of 3", 3, []row{
			{"0 - X - X", StateOK, StateOK, StateOK, StateOK, ""},
			{"0 - - - -", StateOK, StateOK, StateOK, StateOK, ""},
			{"- - - - -", StateInsufficientData, retain, StateAlarm, StateOK, ""},
			{"0 X X - X", StateAlarm, StateAlarm, StateAlarm, StateAlarm, ""},
			{"- - - - X", StateAlarm, retain, StateAlarm, StateOK, "current page; the archived page says Insufficient data under MISSING"},
			{"X - - - -", StateAlarm, retain, StateAlarm, StateOK, ""},
			{"- - X - -", StateAlarm, retain, StateAlarm, StateOK, "current page"},
			{"- - - - 0", StateOK, StateOK, StateOK, StateOK, "current page"},
		}},
		{"2 of 3", 2, []row{
			{"0 - X - X", StateAlarm, StateAlarm, StateAlarm, StateAlarm, ""},
			{"0 0 X 0 X", StateAlarm, StateAlarm, StateAlarm, StateAlarm, ""},
			{"0 - X - -", StateOK, StateOK, StateAlarm, StateOK, ""},
			{"- - - - 0", StateOK, StateOK, StateAlarm, StateOK, ""},
			{"- - - - X", StateAlarm, retain, StateAlarm, StateOK, "current page; the archived page says Insufficient data under MISSING"},
			{"- - X - -", StateAlarm, retain, StateAlarm, StateOK, "current page"},
		}},
	}
	end := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	now := end.Add(61 * time.Second) // after the ingestion delay
	for _, tbl := range tables {
		for _, r := range tbl.rows {
			for _, tc := range []struct {
				treat string
				want  State
			}{{TreatMissing, r.missing}, {TreatIgnore, r.ignore}, {TreatBreaching, r.breaching}, {TreatNotBreaching, r.notBreaching}} {
				t.Run(fmt.Sprintf("%s/%s/%s", tbl.name, r.points, tc.treat), func(t *testing.T) {
					cfg := &Config{
						AlarmName: "a", MetricName: "m", Namespace: "n", Statistic: "Sum", Period: 300,
						EvaluationPeriods: 3, DatapointsToAlarm: tbl.m, Threshold: 1,
						ComparisonOperator: GreaterThanOrEqualToThreshold, TreatMissingData: tc.treat,
					}
					if err := cfg.Validate(); err != nil {
						t.Fatal(err)
					}
					pts := points(t, r.points, 5*time.Minute, end)
					for _, current := range []State{StateOK, StateAlarm, StateInsufficientData} {
						got := Evaluate(cfg, current, pts, now)
						want := tc.want
						if want == retain {
							want = current
						}
						if got.State != want {
							t.Errorf("from %s: %s, want %s (%s)", current, got.State, want, r.note)
						}
						if got.State != current && got.Reason == "" {
							t.Errorf("from %s: a change without a reason", current)
						}
					}
				})
			}
		}
	}
}

// The reason AWS writes for the simplest alarm (alerts.md §5.3).
func TestEvaluateReasonAWSExample(t *testing.T) {
	cfg := &Config{
		AlarmName: "a", MetricName: "m", Namespace: "n", Statistic: "Sum", Period: 60, EvaluationPeriods: 1,
		Threshold: 1, ComparisonOperator: GreaterThanOrEqualToThreshold,
	}
	at := time.Date(2021, 6, 24, 23, 16, 0, 0, time.UTC)
	now := time.Date(2021, 6, 24, 23, 17, 8, 516_000_000, time.UTC)
	got := Evaluate(cfg, StateOK, []Datapoint{{Timestamp: at.Add(30 * time.Second), Value: 2, SampleCount: 1}}, now)
	want := "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (24/06/21 23:16:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition)."
	if got.State != StateAlarm || got.Reason != want {
		t.Errorf("got %s %q\nwant ALARM %q", got.State, got.Reason, want)
	}
	wantData := `{"version":"1.0","queryDate":"2021-06-24T23:17:08.516+0000","startDate":"2021-06-24T23:16:00.000+0000","statistic":"Sum","period":60,"recentDatapoints":[2.0],"threshold":1.0,"evaluatedDatapoints":[{"timestamp":"2021-06-24T23:16:00.000+0000","sampleCount":1.0,"value":2.0}]}`
	if string(got.ReasonData) != wantData {
		t.Errorf("reason data\n got %s\nwant %s", got.ReasonData, wantData)
	}
	if !json.Valid(got.ReasonData) {
		t.Error("reason data is not JSON")
	}
}

func TestEvaluateReasons(t *testing.T) {
	base := Config{AlarmName: "a", MetricName: "m", Namespace: "n", Statistic: "Maximum", Period: 300,
		EvaluationPeriods: 3, Threshold: 3, ComparisonOperator: GreaterThanThreshold}
	end := time.Date(2023, 2, 10, 10, 15, 0, 0, time.UTC)
	now := end.Add(time.Minute)
	for _, c := range []struct {
		name    string
		edit    func(*Config)
		row     string
		current State
		want    State
		reason  string
	}{
		{"3 of 3 breach", nil, "- - X X X", StateOK, StateAlarm,
			"Threshold Crossed: 3 out of the last 3 datapoints [5.0 (10/02/23 10:10:00), 5.0 (10/02/23 10:05:00), 5.0 (10/02/23 10:00:00)] were greater than the threshold (3.0) (minimum 3 datapoints for OK -> ALARM transition)."},
		{"2 of 3", func(c *Config) { c.DatapointsToAlarm = 2 }, "0 0 X 0 X", StateInsufficientData, StateAlarm,
			"Threshold Crossed: 2 out of the last 3 datapoints [5.0 (10/02/23 10:10:00), 5.0 (10/02/23 10:00:00)] were greater than the threshold (3.0) (minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition)."},
		{"1 of 3 breach is OK for 2 of 3", func(c *Config) { c.DatapointsToAlarm = 2 }, "0 X 0 X 0", StateAlarm, StateOK,
			"Threshold Crossed: 2 datapoints [0.0 (10/02/23 10:10:00), 0.0 (10/02/23 10:00:00)] were not greater than the threshold (3.0)."},
		{"ok", nil, "X X X 0 X", StateAlarm, StateOK,
			"Threshold Crossed: 1 datapoint [0.0 (10/02/23 10:05:00)] was not greater than the threshold (3.0)."},
		{"ok two", nil, "- - 0 X 0", StateAlarm, StateOK,
			"Threshold Crossed: 2 datapoints [0.0 (10/02/23 10:10:00), 0.0 (10/02/23 10:00:00)] were not greater than the threshold (3.0)."},
		{"all missing, breaching", func(c *Config) { c.TreatMissingData = TreatBreaching }, "- - - - -", StateOK, StateAlarm,
			"Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [Breaching] (minimum 3 datapoints for OK -> ALARM transition)."},
		{"all missing, not breaching", func(c *Config) { c.TreatMissingData = TreatNotBreaching }, "- - - - -", StateAlarm, StateOK,
			"Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [NonBreaching]."},
		{"filled breaching", func(c *Config) { c.TreatMissingData = TreatBreaching }, "- - - - X", StateOK, StateAlarm,
			"Threshold Crossed: 1 out of the last 3 datapoints [5.0 (10/02/23 10:10:00)] was greater than the threshold (3.0) and 2 missing datapoints were treated as [Breaching] (minimum 3 datapoints for OK -> ALARM transition)."},
		{"filled not breaching", func(c *Config) { c.TreatMissingData = TreatNotBreaching }, "- - - 0 -", StateAlarm, StateOK,
			"Threshold Crossed: 1 datapoint [0.0 (10/02/23 10:05:00)] was not greater than the threshold (3.0) and 2 missing datapoints were treated as [NonBreaching]."},
		{"breaching but too few", func(c *Config) { c.TreatMissingData = TreatNotBreaching }, "- - - X -", StateAlarm, StateOK,
			"Threshold Crossed: 1 out of the last 3 datapoints [5.0 (10/02/23 10:05:00)] was greater than the threshold (3.0), fewer than the 3 needed and 2 missing datapoints were treated as [NonBreaching]."},
		{"insufficient", nil, "- - - - -", StateOK, StateInsufficientData, "Insufficient Data: 3 datapoints were unknown."},
		{"insufficient one", func(c *Config) { c.EvaluationPeriods = 1 }, "- - -", StateAlarm, StateInsufficientData, "Insufficient Data: 1 datapoint was unknown."},
		{"less than", func(c *Config) { c.ComparisonOperator = LessThanOrEqualToThreshold; c.EvaluationPeriods = 1 }, "- - 0", StateOK, StateAlarm,
			"Threshold Crossed: 1 out of the last 1 datapoints [0.0 (10/02/23 10:10:00)] was less than or equal to the threshold (3.0) (minimum 1 datapoint for OK -> ALARM transition)."},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			if c.edit != nil {
				c.edit(&cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := Evaluate(&cfg, c.current, points(t, c.row, 5*time.Minute, end), now)
			if got.State != c.want || got.Reason != c.reason {
				t.Errorf("got %s %q\nwant %s %q", got.State, got.Reason, c.want, c.reason)
			}
			if !json.Valid(got.ReasonData) {
				t.Errorf("reason data %q is not JSON", got.ReasonData)
			}
		})
	}
}

// The CIS alarm shape (Sum, 300 s, >= 1, one period, missing): one match
// raises it, it holds while the datapoint is in the evaluation range, and
// it goes to INSUFFICIENT_DATA (not OK: a metric filter without a default
// value emits nothing) once the range is empty.
func TestEvaluateCISAlarmOverTime(t *testing.T) {
	cfg := &Config{AlarmName: "cis-4.3", MetricName: "root_usage_metric", Namespace: "CISBenchmark", Statistic: "Sum",
		Period: 300, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: GreaterThanOrEqualToThreshold}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	pts := []Datapoint{{Timestamp: t0.Add(2 * time.Minute), Value: 1, SampleCount: 1}}
	state := StateInsufficientData
	var got []State
	for i := 1; i <= 5; i++ {
		r := Evaluate(cfg, state, pts, t0.Add(time.Duration(i)*5*time.Minute+time.Minute))
		state = r.State
		got = append(got, state)
	}
	want := []State{StateAlarm, StateAlarm, StateAlarm, StateInsufficientData, StateInsufficientData}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	// A datapoint in the current, incomplete period is not evaluated yet.
	r := Evaluate(cfg, StateOK, []Datapoint{{Timestamp: t0.Add(6 * time.Minute), Value: 1}}, t0.Add(9*time.Minute))
	if r.State != StateInsufficientData {
		t.Errorf("a datapoint of the current period was evaluated: %s", r.State)
	}
}

func TestEvaluateLowSamplePercentile(t *testing.T) {
	cfg := &Config{AlarmName: "a", MetricName: "m", Namespace: "n", ExtendedStatistic: "p99", Period: 60,
		EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: GreaterThanThreshold, EvaluateLowSampleCountPercentile: "ignore"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(90 * time.Second)
	// p99 needs 10/(1-0.99) = 1000 samples.
	if r := Evaluate(cfg, StateOK, []Datapoint{{Timestamp: t0, Value: 5, SampleCount: 999}}, now); r.State != StateOK || r.Reason != "" {
		t.Errorf("low sample count evaluated: %+v", r)
	}
	if r := Evaluate(cfg, StateOK, []Datapoint{{Timestamp: t0, Value: 5, SampleCount: 1000}}, now); r.State != StateAlarm {
		t.Errorf("enough samples: %s", r.State)
	}
	cfg.EvaluateLowSampleCountPercentile = "evaluate"
	if r := Evaluate(cfg, StateOK, []Datapoint{{Timestamp: t0, Value: 5, SampleCount: 1}}, now); r.State != StateAlarm {
		t.Errorf("evaluate: %s", r.State)
	}
}

func TestFormatDouble(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", 2.5: "2.5", -3: "-3.0", 0.001: "0.001", 1e-4: "1.0E-4", 1.5e-5: "1.5E-5",
		9_999_999: "9999999.0", 1e7: "1.0E7", 12345678.9: "1.23456789E7", 1e21: "1.0E21",
	} {
		if got := formatDouble(f); got != want {
			t.Errorf("formatDouble(%v) = %q, want %q", f, got, want)
		}
	}
}

// StateReasonData lists the evaluated datapoints only: recentDatapoints
// oldest first, evaluatedDatapoints newest first.
func TestEvaluateReasonDataLists(t *testing.T) {
	cfg := &Config{AlarmName: "a", MetricName: "m", Namespace: "n", Statistic: "Sum", Period: 60,
		EvaluationPeriods: 2, Threshold: 1, ComparisonOperator: GreaterThanThreshold}
	end := time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)
	r := Evaluate(cfg, StateOK, points(t, "X - 0 X", time.Minute, end), end.Add(5*time.Second))
	var d struct {
		StartDate           string    `json:"startDate"`
		RecentDatapoints    []float64 `json:"recentDatapoints"`
		EvaluatedDatapoints []struct {
			Timestamp string  `json:"timestamp"`
			Value     float64 `json:"value"`
		} `json:"evaluatedDatapoints"`
	}
	if err := json.Unmarshal(r.ReasonData, &d); err != nil {
		t.Fatal(err)
	}
	if d.StartDate != "2024-01-01T00:08:00.000+0000" {
		t.Errorf("startDate %s", d.StartDate)
	}
	if diff := cmp.Diff([]float64{0, 5}, d.RecentDatapoints); diff != "" {
		t.Errorf("recentDatapoints (-want +got):\n%s", diff)
	}
	if len(d.EvaluatedDatapoints) != 2 || d.EvaluatedDatapoints[0].Timestamp != "2024-01-01T00:09:00.000+0000" || d.EvaluatedDatapoints[0].Value != 5 {
		t.Errorf("evaluatedDatapoints %+v", d.EvaluatedDatapoints)
	}
}
