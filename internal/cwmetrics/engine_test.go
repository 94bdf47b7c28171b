package cwmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/alarm"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// fakeNotifier records publications and fails while fail is set.
type fakeNotifier struct {
	mu   sync.Mutex
	sent []published
	fail error
}

type published struct{ Account, Topic, Subject, Message string }

func (f *fakeNotifier) Publish(_ context.Context, account, topic, subject, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.sent = append(f.sent, published{account, topic, subject, message})
	return nil
}

func (f *fakeNotifier) all() []published {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]published(nil), f.sent...)
}

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func open(t *testing.T, dir string, c *clock, n Notifier) *Engine {
	t.Helper()
	o := DefaultOptions()
	o.Now = c.Now
	o.Notifier = n
	e, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func f(v float64) *float64 { return &v }

func TestPutAndGetStatistics(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0.Add(30 * time.Minute)}
	e := open(t, dir, c, nil)
	dims := []Dimension{{Name: "Stage", Value: "prod"}, {Name: "Host", Value: "a"}}
	err := e.PutMetricData(acct, region, "App", []Datum{
		{MetricName: "Latency", Dimensions: dims, Timestamp: t0.Add(time.Minute), Value: f(10), Unit: "Milliseconds"},
		{MetricName: "Latency", Dimensions: dims, Timestamp: t0.Add(90 * time.Second), Values: []float64{2, 30}, Counts: []float64{1, 3}, Unit: "Milliseconds"},
		{MetricName: "Latency", Dimensions: dims, Timestamp: t0.Add(6 * time.Minute), StatisticValues: &alarm.StatisticSet{SampleCount: 2, Sum: 8, Minimum: 3, Maximum: 5}, Unit: "Milliseconds"},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := StatisticsInput{Namespace: "App", MetricName: "Latency", Dimensions: []Dimension{dims[1], dims[0]},
		StartTime: t0, EndTime: t0.Add(10 * time.Minute), Period: 300, Statistics: []string{"Sum", "SampleCount", "Maximum", "Minimum", "Average"}}
	want := []StatDatapoint{
		{Timestamp: t0, Unit: "Milliseconds", Values: map[string]float64{"Sum": 102, "SampleCount": 5, "Maximum": 30, "Minimum": 2, "Average": 20.4}},
		{Timestamp: t0.Add(5 * time.Minute), Unit: "Milliseconds", Values: map[string]float64{"Sum": 8, "SampleCount": 2, "Maximum": 5, "Minimum": 3, "Average": 4}},
	}
	check := func(e *Engine) {
		t.Helper()
		got, err := e.GetMetricStatistics(acct, region, in)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("datapoints (-want +got):\n%s", d)
		}
	}
	check(e)
	// Percentiles: exact over raw minutes, absent where a set was merged.
	pin := in
	pin.Statistics, pin.ExtendedStatistics = nil, []string{"p50"}
	got, err := e.GetMetricStatistics(acct, region, pin)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Extended["p50"] != 30 || got[1].Extended != nil {
		t.Errorf("p50 = %+v", got)
	}
	// Restart keeps the data.
	e.Close()
	check(open(t, dir, c, nil))
}

func TestPutMetricDataErrors(t *testing.T) {
	c := &clock{t: t0}
	e := open(t, t.TempDir(), c, nil)
	tests := []struct {
		name, ns string
		data     []Datum
		code     string
	}{
		{"no namespace", "", []Datum{{MetricName: "m", Value: f(1)}}, CodeMissingParameter},
		{"AWS namespace", "AWS/EC2", []Datum{{MetricName: "m", Value: f(1)}}, CodeInvalidParameterValue},
		{"too old", "App", []Datum{{MetricName: "m", Value: f(1), Timestamp: t0.Add(-15 * 24 * time.Hour)}}, CodeInvalidParameterValue},
		{"too far ahead", "App", []Datum{{MetricName: "m", Value: f(1), Timestamp: t0.Add(3 * time.Hour)}}, CodeInvalidParameterValue},
		{"value and values", "App", []Datum{{MetricName: "m", Value: f(1), Values: []float64{1}}}, CodeInvalidParameterCombination},
		{"counts mismatch", "App", []Datum{{MetricName: "m", Values: []float64{1, 2}, Counts: []float64{1}}}, CodeInvalidParameterValue},
		{"no value", "App", []Datum{{MetricName: "m"}}, CodeMissingParameter},
		{"bad unit", "App", []Datum{{MetricName: "m", Value: f(1), Unit: "Parsecs"}}, CodeInvalidParameterValue},
		{"duplicate dimension", "App", []Datum{{MetricName: "m", Value: f(1), Dimensions: []Dimension{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}}}}, CodeInvalidParameterCombination},
		{"bad set", "App", []Datum{{MetricName: "m", StatisticValues: &alarm.StatisticSet{SampleCount: 1, Minimum: 3, Maximum: 2}}}, CodeInvalidParameterValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.PutMetricData(acct, region, tc.ns, tc.data)
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
	if n, _, _ := e.ListMetrics(acct, region, ListMetricsInput{}); len(n) != 0 {
		t.Errorf("refused data was stored: %v", n)
	}
}

func TestGetMetricStatisticsLimits(t *testing.T) {
	e := open(t, t.TempDir(), &clock{t: t0}, nil)
	base := StatisticsInput{Namespace: "App", MetricName: "m", StartTime: t0.Add(-24 * time.Hour), EndTime: t0.Add(time.Minute), Period: 60, Statistics: []string{"Sum"}}
	_, err := e.GetMetricStatistics(acct, region, base)
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != CodeInvalidParameterCombination {
		t.Errorf("1,441 datapoints: err = %v", err)
	}
	ok := base
	ok.EndTime = t0
	if _, err := e.GetMetricStatistics(acct, region, ok); err != nil {
		t.Errorf("1,440 datapoints: %v", err)
	}
	bad := ok
	bad.Period = 90
	if _, err := e.GetMetricStatistics(acct, region, bad); !errors.As(err, &ce) || ce.Code != CodeInvalidParameterValue {
		t.Errorf("period 90: err = %v", err)
	}
}

func TestListMetricsAndGetMetricData(t *testing.T) {
	c := &clock{t: t0.Add(10 * time.Minute)}
	e := open(t, t.TempDir(), c, nil)
	for i, h := range []string{"a", "b", "c"} {
		if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "Req", Dimensions: []Dimension{{Name: "Host", Value: h}}, Timestamp: t0.Add(time.Duration(i) * time.Minute), Value: f(float64(i + 1))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.PutMetricData("999999999999", region, "App", []Datum{{MetricName: "Req", Value: f(1)}}); err != nil {
		t.Fatal(err)
	}
	ms, next, err := e.ListMetrics(acct, region, ListMetricsInput{Namespace: "App", Dimensions: []DimensionFilter{{Name: "Host"}}})
	if err != nil || next != "" || len(ms) != 3 {
		t.Fatalf("ListMetrics = %v, %q, %v", ms, next, err)
	}
	ms, _, _ = e.ListMetrics(acct, region, ListMetricsInput{Dimensions: []DimensionFilter{{Name: "Host", Value: "b"}}})
	if len(ms) != 1 || ms[0].Dimensions[0].Value != "b" {
		t.Errorf("filtered = %v", ms)
	}
	if _, _, err := e.ListMetrics(acct, region, ListMetricsInput{NextToken: "!!"}); err == nil {
		t.Error("bad token accepted")
	}
	q := func(id, host string) DataQuery {
		return DataQuery{ID: id, MetricStat: &MetricStat{Metric: Metric{Namespace: "App", MetricName: "Req", Dimensions: []Dimension{{Name: "Host", Value: host}}}, Period: 60, Stat: "Sum"}}
	}
	in := DataInput{Queries: []DataQuery{q("a", "a"), q("c", "c")}, StartTime: t0, EndTime: t0.Add(5 * time.Minute), MaxDatapoints: 1, ScanBy: "TimestampAscending"}
	res, next, err := e.GetMetricData(acct, region, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []DataResult{
		{ID: "a", Label: "Req", Timestamps: []time.Time{t0}, Values: []float64{1}, StatusCode: "Complete"},
		{ID: "c", Label: "Req", Timestamps: []time.Time{}, Values: []float64{}, StatusCode: "PartialData"},
	}
	if d := cmp.Diff(want, res); d != "" || next == "" {
		t.Fatalf("page 1 (-want +got):\n%s next %q", d, next)
	}
	in.NextToken = next
	res, next, err = e.GetMetricData(acct, region, in)
	if err != nil || next != "" || len(res[1].Values) != 1 || res[1].Values[0] != 3 || !res[1].Timestamps[0].Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("page 2 = %+v, %q, %v", res, next, err)
	}
	expr := DataInput{Queries: []DataQuery{{ID: "e", Expression: "SUM(METRICS())"}}, StartTime: t0, EndTime: t0.Add(time.Hour)}
	var ce *Error
	if _, _, err := e.GetMetricData(acct, region, expr); !errors.As(err, &ce) || ce.Code != CodeInvalidParameterValue {
		t.Errorf("expression: err = %v", err)
	}
}

func sumAlarm(name string, actions ...string) alarm.Config {
	return alarm.Config{AlarmName: name, ActionsEnabled: true, AlarmActions: actions, OKActions: actions, MetricName: "Errors", Namespace: "App",
		Statistic: "Sum", Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: alarm.GreaterThanOrEqualToThreshold}
}

const topic = "arn:aws:sns:us-east-1:123456789012:alerts"

func TestAlarmFiresAndNotifiesOnce(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	n := &fakeNotifier{}
	e := open(t, dir, c, n)
	ctx := t.Context()
	if err := e.PutMetricAlarm(acct, region, sumAlarm("errors", topic), nil); err != nil {
		t.Fatal(err)
	}
	e.Tick(ctx, c.Now())
	if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "Errors", Value: f(2), Timestamp: t0.Add(10 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	// The minute ends at 10:01; with the 1 s delay it is evaluated at
	// 10:01:01.
	c.Set(t0.Add(time.Minute + 500*time.Millisecond))
	e.Tick(ctx, c.Now())
	if got := state(t, e, "errors"); got != alarm.StateInsufficientData {
		t.Fatalf("state before the delay = %s", got)
	}
	c.Set(t0.Add(time.Minute + time.Second))
	e.Tick(ctx, c.Now())
	if got := state(t, e, "errors"); got != alarm.StateAlarm {
		t.Fatalf("state = %s, want ALARM", got)
	}
	sent := n.all()
	if len(sent) != 1 || sent[0].Topic != topic || sent[0].Account != acct {
		t.Fatalf("sent = %+v", sent)
	}
	if want := `ALARM: "errors" in US East (N. Virginia)`; sent[0].Subject != want {
		t.Errorf("subject = %q, want %q", sent[0].Subject, want)
	}
	var msg map[string]any
	if err := json.Unmarshal([]byte(sent[0].Message), &msg); err != nil {
		t.Fatal(err)
	}
	if msg["NewStateValue"] != "ALARM" || msg["OldStateValue"] != "INSUFFICIENT_DATA" || msg["AlarmArn"] != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:errors" ||
		!strings.HasPrefix(msg["NewStateReason"].(string), "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (05/12/26 10:00:00)]") {
		t.Errorf("message = %s", sent[0].Message)
	}
	// More breaching data: the state holds, no second notification,
	// also across a restart.
	if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "Errors", Value: f(5), Timestamp: c.Now()}}); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(4 * time.Minute))
	e.Tick(ctx, c.Now())
	e.Close()
	e = open(t, dir, c, n)
	e.Tick(ctx, c.Now())
	if got := state(t, e, "errors"); got != alarm.StateAlarm {
		t.Fatalf("state after restart = %s", got)
	}
	if len(n.all()) != 1 {
		t.Fatalf("notified again while the state held: %+v", n.all())
	}
	// Breaching: 10:03 had 5 ≥ 1. 10:04 has no data: missing keeps ALARM
	// with the datapoint present; move far ahead so all is missing.
	c.Set(t0.Add(time.Hour))
	e.Tick(ctx, c.Now())
	if got := state(t, e, "errors"); got != alarm.StateInsufficientData {
		t.Fatalf("state with all data missing = %s", got)
	}
	h, _, err := e.DescribeAlarmHistory(acct, region, HistoryInput{AlarmName: "errors", Type: HistoryStateUpdate, ScanBy: "TimestampAscending"})
	if err != nil || len(h) != 2 || h[0].Summary != "Alarm updated from INSUFFICIENT_DATA to ALARM" {
		t.Fatalf("history = %+v, %v", h, err)
	}
	acts, _, _ := e.DescribeAlarmHistory(acct, region, HistoryInput{Type: HistoryAction})
	if len(acts) != 1 || !strings.HasPrefix(acts[0].Summary, "Successfully executed action") {
		t.Errorf("action history = %+v", acts)
	}
}

func state(t *testing.T, e *Engine, name string) alarm.State {
	t.Helper()
	as, _, err := e.DescribeAlarms(acct, region, DescribeInput{Names: []string{name}})
	if err != nil || len(as) != 1 {
		t.Fatalf("DescribeAlarms(%s) = %v, %v", name, as, err)
	}
	return as[0].State
}

func TestOutboxSurvivesCrashAndRetries(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	n := &fakeNotifier{fail: errors.New("sns down")}
	e := open(t, dir, c, n)
	ctx := t.Context()
	if err := e.PutMetricAlarm(acct, region, sumAlarm("a", topic), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.SetAlarmState(acct, region, "a", alarm.StateAlarm, "testing", `{"x":1}`); err != nil {
		t.Fatal(err)
	}
	e.deliver(ctx, c.Now()) // fails: stays pending
	if len(n.all()) != 0 {
		t.Fatal("sent while failing")
	}
	// "Crash": reopen without Close (the files are fsynced).
	n2 := &fakeNotifier{}
	e2 := open(t, dir, c, n2)
	e2.deliver(ctx, c.Now())
	if got := n2.all(); len(got) != 1 || !strings.HasPrefix(got[0].Subject, "ALARM:") {
		t.Fatalf("after restart sent %+v", got)
	}
	e2.deliver(ctx, c.Now().Add(time.Hour))
	if len(n2.all()) != 1 {
		t.Fatal("sent twice after it was marked sent")
	}
	e.Close()
	// Same state again: no action.
	if err := e2.SetAlarmState(acct, region, "a", alarm.StateAlarm, "again", ""); err != nil {
		t.Fatal(err)
	}
	e2.deliver(ctx, c.Now().Add(2*time.Hour))
	if len(n2.all()) != 1 {
		t.Fatal("SetAlarmState to the same state ran actions")
	}
}

func TestNotificationGivenUp(t *testing.T) {
	c := &clock{t: t0}
	n := &fakeNotifier{fail: errors.New("NotFound: topic does not exist")}
	e := open(t, t.TempDir(), c, n)
	if err := e.PutMetricAlarm(acct, region, sumAlarm("a", topic), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.SetAlarmState(acct, region, "a", alarm.StateAlarm, "r", ""); err != nil {
		t.Fatal(err)
	}
	now := c.Now()
	for range maxAttempts {
		e.deliver(t.Context(), now)
		now = now.Add(maxBackoff)
	}
	e.mu.Lock()
	pending := len(e.outbox)
	e.mu.Unlock()
	if pending != 0 {
		t.Fatalf("%d notifications still pending after %d failures", pending, maxAttempts)
	}
	h, _, _ := e.DescribeAlarmHistory(acct, region, HistoryInput{Type: HistoryAction})
	if len(h) != 1 || !strings.HasPrefix(h[0].Summary, "Failed to execute action") {
		t.Errorf("history = %+v", h)
	}
}

func TestAlarmCRUD(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	e := open(t, dir, c, nil)
	for _, name := range []string{"b-2", "a-1", "b-1"} {
		if err := e.PutMetricAlarm(acct, region, sumAlarm(name, topic), []Tag{{"k", "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	bad := sumAlarm("x")
	bad.Period = 7
	var ae *alarm.Error
	if err := e.PutMetricAlarm(acct, region, bad, nil); !errors.As(err, &ae) {
		t.Errorf("invalid alarm: err = %v", err)
	}
	hires := sumAlarm("x")
	hires.Period = 30
	if err := e.PutMetricAlarm(acct, region, hires, nil); !errors.As(err, new(*Error)) {
		t.Errorf("high-resolution alarm: err = %v", err)
	}
	if err := e.SetAlarmState(acct, region, "b-1", alarm.StateOK, "manual", ""); err != nil {
		t.Fatal(err)
	}
	// Update keeps the state.
	upd := sumAlarm("b-1", topic)
	upd.Threshold = 10
	if err := e.PutMetricAlarm(acct, region, upd, nil); err != nil {
		t.Fatal(err)
	}
	page, next, err := e.DescribeAlarms(acct, region, DescribeInput{NamePrefix: "b-", MaxRecords: 1})
	if err != nil || len(page) != 1 || page[0].Config.AlarmName != "b-1" || next == "" {
		t.Fatalf("page 1 = %+v %q %v", page, next, err)
	}
	if page[0].State != alarm.StateOK || page[0].Config.Threshold != 10 {
		t.Errorf("updated alarm = %+v", page[0])
	}
	page, next, _ = e.DescribeAlarms(acct, region, DescribeInput{NamePrefix: "b-", MaxRecords: 1, NextToken: next})
	if len(page) != 1 || page[0].Config.AlarmName != "b-2" || next != "" {
		t.Fatalf("page 2 = %+v %q", page, next)
	}
	if got, _, _ := e.DescribeAlarms(acct, region, DescribeInput{State: "OK"}); len(got) != 1 {
		t.Errorf("state filter = %+v", got)
	}
	if got, _, _ := e.DescribeAlarms(acct, region, DescribeInput{ActionPrefix: "arn:aws:sns:us-east-1:"}); len(got) != 3 {
		t.Errorf("action prefix = %d alarms", len(got))
	}
	if got, _ := e.DescribeAlarmsForMetric(acct, region, ForMetricInput{Namespace: "App", MetricName: "Errors"}); len(got) != 3 {
		t.Errorf("for metric = %d alarms", len(got))
	}
	if err := e.SetActionsEnabled(acct, region, []string{"a-1"}, false); err != nil {
		t.Fatal(err)
	}
	var ce *Error
	if err := e.DeleteAlarms(acct, region, []string{"a-1", "nope"}); !errors.As(err, &ce) || ce.Code != CodeResourceNotFound {
		t.Errorf("delete missing: err = %v", err)
	}
	if err := e.DeleteAlarms(acct, region, []string{"b-2"}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetAlarmState(acct, region, "b-2", alarm.StateOK, "r", ""); !errors.As(err, &ce) || ce.Code != CodeResourceNotFound {
		t.Errorf("set state of deleted alarm: err = %v", err)
	}
	if err := e.SetAlarmState(acct, region, "a-1", alarm.StateOK, "r", "{"); !errors.As(err, &ce) || ce.Code != CodeInvalidFormat {
		t.Errorf("bad reason data: err = %v", err)
	}
	e.Close()
	e = open(t, dir, c, nil)
	all, _, _ := e.DescribeAlarms(acct, region, DescribeInput{})
	var names []string
	for _, a := range all {
		names = append(names, a.Config.AlarmName+":"+string(a.State)+":"+map[bool]string{true: "on", false: "off"}[a.Config.ActionsEnabled])
	}
	if d := cmp.Diff([]string{"a-1:INSUFFICIENT_DATA:off", "b-1:OK:on"}, names); d != "" {
		t.Errorf("after restart (-want +got):\n%s", d)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	e := open(t, dir, c, nil)
	if err := e.PutMetricAlarm(acct, region, sumAlarm("x"), nil); err != nil {
		t.Fatal(err)
	}
	for i := range 1100 {
		st := alarm.StateOK
		if i%2 == 0 {
			st = alarm.StateAlarm
		}
		if err := e.SetAlarmState(acct, region, "x", st, "r", ""); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	frames := e.frames
	e.mu.Unlock()
	if frames > 1000 {
		t.Errorf("alarm log holds %d frames: not compacted", frames)
	}
	e.Close()
	e = open(t, dir, c, nil)
	if got := state(t, e, "x"); got != alarm.StateOK {
		t.Errorf("state after compaction = %s", got)
	}
	h, _, _ := e.DescribeAlarmHistory(acct, region, HistoryInput{AlarmName: "x"})
	if len(h) != maxHistory {
		t.Errorf("history after compaction: %d items", len(h))
	}
}

func TestTornTailAndDamage(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	e := open(t, dir, c, nil)
	if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "m", Value: f(1)}, {MetricName: "m", Value: f(2)}}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	path := filepath.Join(dir, metricsDir, dayName(t0.Unix()))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A torn frame at the end is cut.
	torn := append(append([]byte(nil), data...), appendFrame(nil, []byte(`{"a":"x"}`))[:10]...)
	if err := os.WriteFile(path, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(dir)
	if err != nil || rep.Torn[path] != 10 || rep.Records != 2 {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
	e = open(t, dir, c, nil)
	got, _ := e.GetMetricStatistics(acct, region, StatisticsInput{Namespace: "App", MetricName: "m", StartTime: t0, EndTime: t0.Add(time.Minute), Period: 60, Statistics: []string{"Sum"}})
	if len(got) != 1 || got[0].Values["Sum"] != 3 {
		t.Errorf("after torn tail: %+v", got)
	}
	e.Close()
	if fi, _ := os.Stat(path); fi.Size() != int64(len(data)) {
		t.Errorf("size after cut = %d, want %d", fi.Size(), len(data))
	}
	// A flipped byte in the second frame is damage, refused with its offset.
	first := frameHeader + int(data[0]) | int(data[1])<<8
	bad := append([]byte(nil), data...)
	bad[len(bad)-2] ^= 0xff
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	var cerr *CorruptionError
	o := DefaultOptions()
	o.Now = c.Now
	if _, err := Open(dir, o); !errors.As(err, &cerr) || cerr.File != path || cerr.Offset != int64(first) {
		t.Fatalf("Open = %v, want damage at %s offset %d", err, path, first)
	}
	if _, err := Check(dir); !errors.As(err, &cerr) {
		t.Errorf("Check = %v", err)
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	e := open(t, dir, c, nil)
	if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "m", Value: f(1), Timestamp: t0.Add(-13 * 24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, metricsDir, dayName(t0.Add(-13*24*time.Hour).Unix()))
	c.Set(t0.Add(3 * 24 * time.Hour))
	e.Tick(t.Context(), c.Now())
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("day file past retention still there: %v", err)
	}
	if ms, _, _ := e.ListMetrics(acct, region, ListMetricsInput{}); len(ms) != 0 {
		t.Errorf("metric past retention listed: %v", ms)
	}
}

func TestPutStatistics(t *testing.T) {
	c := &clock{t: t0.Add(5 * time.Minute)}
	e := open(t, t.TempDir(), c, nil)
	pts := []Point{{Namespace: "CIS", Name: "RootUse", Dimensions: map[string]string{"b": "2", "a": "1"}, Minute: t0, Count: 2, Sum: 2, Min: 1, Max: 1},
		{Namespace: "CIS", Name: "RootUse", Dimensions: map[string]string{"a": "1", "b": "2"}, Minute: t0, Count: 1, Sum: 1, Min: 1, Max: 1}}
	if err := e.PutStatistics(acct, region, pts); err != nil {
		t.Fatal(err)
	}
	got, err := e.GetMetricStatistics(acct, region, StatisticsInput{Namespace: "CIS", MetricName: "RootUse", Dimensions: []Dimension{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}},
		StartTime: t0, EndTime: t0.Add(time.Minute), Period: 60, Statistics: []string{"Sum", "SampleCount"}})
	if err != nil || len(got) != 1 || got[0].Values["Sum"] != 3 || got[0].Values["SampleCount"] != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestOutboxBounded(t *testing.T) {
	c := &clock{t: t0}
	o := DefaultOptions()
	o.Now, o.MaxOutbox = c.Now, 3
	e, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.PutMetricAlarm(acct, region, sumAlarm("a", topic), nil); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		st := alarm.StateOK
		if i%2 == 0 {
			st = alarm.StateAlarm
		}
		if err := e.SetAlarmState(acct, region, "a", st, "r", ""); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	var ids []uint64
	for _, o := range e.outbox {
		ids = append(ids, o.ID)
	}
	e.mu.Unlock()
	if d := cmp.Diff([]uint64{3, 4, 5}, ids); d != "" {
		t.Errorf("pending ids (-want +got):\n%s", d)
	}
}

func TestPutStatisticsSkipsInvalidPoints(t *testing.T) {
	c := &clock{t: t0.Add(5 * time.Minute)}
	e := open(t, t.TempDir(), c, nil)
	pts := []Point{
		{Namespace: "CIS", Name: "Ok", Minute: t0, Count: 1, Sum: 1, Min: 1, Max: 1},
		{Namespace: "CIS", Name: "BadUnit", Unit: "Parsecs", Minute: t0, Count: 1, Sum: 1, Min: 1, Max: 1},
		{Namespace: "CIS", Name: "TooOld", Minute: t0.Add(-15 * 24 * time.Hour), Count: 1, Sum: 1, Min: 1, Max: 1},
	}
	err := e.PutStatistics(acct, region, pts)
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "BadUnit") || !strings.Contains(err.Error(), "TooOld") {
		t.Errorf("err = %v", err)
	}
	ms, _, _ := e.ListMetrics(acct, region, ListMetricsInput{})
	if len(ms) != 1 || ms[0].MetricName != "Ok" {
		t.Errorf("stored %+v, want only Ok", ms)
	}
}

func TestMissingAlarmLogRefused(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	e := open(t, dir, c, nil)
	if err := e.PutMetricAlarm(acct, region, sumAlarm("a"), nil); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := os.Remove(filepath.Join(dir, alarmsFile)); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Now = c.Now
	if _, err := Open(dir, o); !errors.Is(err, ErrAlarmLogMissing) {
		t.Errorf("Open = %v, want ErrAlarmLogMissing", err)
	}
	if _, err := Check(dir); !errors.Is(err, ErrAlarmLogMissing) {
		t.Errorf("Check = %v, want ErrAlarmLogMissing", err)
	}
	if err := os.WriteFile(filepath.Join(dir, alarmsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if e, err := Open(dir, o); err != nil {
		t.Errorf("Open with an empty alarm log: %v", err)
	} else {
		e.Close()
	}
}

// TestAlarmRechecksLateData: a datapoint that arrives after its period was
// first evaluated is seen when the same periods are evaluated again, at
// RecheckDelay.
func TestAlarmRechecksLateData(t *testing.T) {
	c := &clock{t: t0}
	n := &fakeNotifier{}
	e := open(t, t.TempDir(), c, n)
	ctx := t.Context()
	if err := e.PutMetricAlarm(acct, region, sumAlarm("late", topic), nil); err != nil {
		t.Fatal(err)
	}
	e.Tick(ctx, c.Now())
	c.Set(t0.Add(time.Minute + time.Second)) // 10:00 evaluated: no data yet
	e.Tick(ctx, c.Now())
	if got := state(t, e, "late"); got != alarm.StateInsufficientData {
		t.Fatalf("state at the first evaluation = %s", got)
	}
	// A point for 10:00 arrives at 10:01:30.
	c.Set(t0.Add(90 * time.Second))
	if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "Errors", Value: f(3), Timestamp: t0.Add(30 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	e.Tick(ctx, c.Now())
	c.Set(t0.Add(2 * time.Minute)) // the recheck of 10:00, 60 s after its end
	e.Tick(ctx, c.Now())
	if got := state(t, e, "late"); got != alarm.StateAlarm {
		t.Fatalf("state after the recheck = %s, want ALARM", got)
	}
	if sent := n.all(); len(sent) != 1 {
		t.Fatalf("sent %d notifications, want 1", len(sent))
	}
}
