package insights

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// job is a periodic job: calls RotateKeys calls every period minutes, at
// second 5 of the minute, except in [stopFrom, stopTo).
func job(period, calls, stopFrom, stopTo int) func(m int) []call {
	return func(m int) []call {
		if m%period != 0 || m >= stopFrom && m < stopTo {
			return nil
		}
		out := make([]call, calls)
		for i := range out {
			out[i] = call{at: at(m, 5), source: "kms.amazonaws.com", name: "RotateKeys", user: "scheduler"}
		}
		return out
	}
}

// TestJobThatStops: a job of 40 calls every 15 minutes, around the clock
// on weekdays, stops on the fourth day from 10:07 to 16:07. The drop rule
// (decision §83) raises a Start dated from the minute after its last run,
// with an insight average below the baseline's, once the window holds
// no run; the End is the job's first run back.
func TestJobThatStops(t *testing.T) {
	const day = 24 * 60
	stopFrom, stopTo := 3*day+10*60+7, 3*day+16*60+7
	d := newDetector(testOptions())
	recs := feed(t, d, 0, 4*day, job(15, 40, stopFrom, stopTo), always)
	if len(recs) != 2 {
		t.Fatalf("%d records, want a Start and an End", len(recs))
	}
	start, end := decodeRecord(t, recs[0]), decodeRecord(t, recs[1])
	lastRun := stopFrom / 15 * 15
	firstBack := (stopTo + 14) / 15 * 15
	type got struct {
		Time, State, Shared string
		Below               bool
		Duration            int64
	}
	summary := func(r record) got {
		st := r.InsightDetails.InsightContext.Statistics
		return got{r.EventTime, r.InsightDetails.State, r.SharedEventID, st.Insight.Average < st.Baseline.Average, st.InsightDuration}
	}
	want := []got{
		{Time: minuteTime(floorDiv(t0.Unix(), 60) + int64(lastRun+1)), State: "Start", Shared: start.SharedEventID, Below: true},
		{Time: minuteTime(floorDiv(t0.Unix(), 60) + int64(firstBack)), State: "End", Shared: start.SharedEventID, Below: true,
			Duration: int64(firstBack - lastRun - 1)},
	}
	gotStart := summary(start)
	gotStart.Duration = 0 // how long the window took to empty: checked below
	if diff := cmp.Diff(want, []got{gotStart, summary(end)}); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if st := start.InsightDetails.InsightContext.Statistics; st.Insight.Average != 0 || st.Baseline.Average < 2 || st.Baseline.Average > 3 {
		t.Errorf("Start statistics %+v: want no calls against about 40/15 a minute", st)
	}
	// The Start is decided within the window (3 hours and the current
	// one) after the last run, not later.
	if n := start.InsightDetails.InsightContext.Statistics.InsightDuration; n < 2*60 || n > 4*60 {
		t.Errorf("the Start was decided %d minutes after the last run", n)
	}
}

// TestDropRuleQuiet: what must raise no drop: a busy API's quiet night
// (a daily cycle learned), a weekend (no earlier weekend in the window),
// a rare API's silence, and a job whose window expects too few calls.
func TestDropRuleQuiet(t *testing.T) {
	const day = 24 * 60
	for _, tt := range []struct {
		name    string
		days    int
		traffic func(m int) []call
	}{
		{"daily cycle", 5, func(m int) []call {
			if h := m % day / 60; h < 8 || h >= 20 {
				return steady(m)[:1] // one call a minute at night
			}
			return steady(m)
		}},
		{"weekend", 7, func(m int) []call {
			if m/day%7 >= 5 {
				return nil // t0 is a Monday: nothing on Saturday and Sunday
			}
			return job(15, 40, 0, 0)(m)
		}},
		{"rare API", 5, func(m int) []call {
			if m%97 == 0 && m/day != 3 {
				return steady(m)[:1]
			}
			return nil
		}},
		{"small job", 5, job(60, 4, 3*day, 4*day)}, // 16 calls in 4 hours: below DropMin
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := newDetector(testOptions())
			if recs := feed(t, d, 0, tt.days*day, tt.traffic, always); len(recs) != 0 {
				t.Errorf("%d records; first %s", len(recs), recs[0].Raw)
			}
		})
	}
}

// TestDropStateRoundTrip: an open drop anomaly survives the state file,
// and its End follows after a restart.
func TestDropStateRoundTrip(t *testing.T) {
	const day = 24 * 60
	stopFrom, stopTo := 3*day+10*60+7, 3*day+16*60+7
	traffic := job(15, 40, stopFrom, stopTo)
	o := testOptions()
	d := newDetector(o)
	recs := feed(t, d, 0, 3*day+15*60, traffic, always)
	if len(recs) != 1 {
		t.Fatalf("%d records before the restart, want the Start", len(recs))
	}
	b, err := d.encode(0, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	d2, _, _, err := decode(b, o)
	if err != nil {
		t.Fatal(err)
	}
	after := feed(t, d2, 3*day+15*60, 4*day, traffic, always)
	if len(after) != 1 {
		t.Fatalf("%d records after the restart, want the End", len(after))
	}
	if s, e := decodeRecord(t, recs[0]), decodeRecord(t, after[0]); e.InsightDetails.State != "End" || e.SharedEventID != s.SharedEventID {
		t.Errorf("after the restart: %s %s, want the End of %s", e.InsightDetails.State, e.SharedEventID, s.SharedEventID)
	}
	if b2, err := d2.encode(0, nil, 0); err != nil || len(b2) == 0 {
		t.Fatal(err)
	}
}

// TestReadsVersion1: a state written before drop anomalies (version 1,
// without live, last and gaps) is read, and its anomalies end.
func TestReadsVersion1(t *testing.T) {
	o := shortOptions()
	d := newDetector(o)
	feed(t, d, 0, 153, errorStorm(150, 200), always)
	b, err := d.encode(0, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sf map[string]any
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	sf["version"] = 1
	for _, p := range sf["partitions"].([]any) {
		delete(p.(map[string]any), "live")
		for _, s := range p.(map[string]any)["series"].([]any) {
			delete(s.(map[string]any), "last")
			delete(s.(map[string]any), "gaps")
		}
	}
	if b, err = json.Marshal(sf); err != nil {
		t.Fatal(err)
	}
	d1, _, _, err := decode(b, o)
	if err != nil {
		t.Fatalf("a version 1 state: %v", err)
	}
	if n := d1.parts[partKey{acct, "us-east-1"}].nOpen; n != 2 {
		t.Fatalf("%d anomalies open, want the call and error rates'", n)
	}
	recs := feed(t, d1, 153, 170, errorStorm(150, 155), always)
	if len(recs) != 2 || decodeRecord(t, recs[0]).InsightDetails.State != "End" || decodeRecord(t, recs[1]).InsightDetails.State != "End" {
		t.Errorf("after reading version 1: %d records, want the two Ends", len(recs))
	}
}
