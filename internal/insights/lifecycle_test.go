package insights

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// shortOptions warm up in an hour, so tests need little history.
func shortOptions() *Options {
	o := testOptions()
	o.WarmUp = time.Hour
	return o
}

func at(m, s int) time.Time {
	return t0.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

// errorStorm is steady traffic plus, from minute from to to, 30
// AccessDenied errors a minute on DeleteBucket.
func errorStorm(from, to int) func(m int) []call {
	return func(m int) []call {
		out := steady(m)
		if m%10 == 0 {
			out = append(out, call{at: at(m, 1), source: "s3.amazonaws.com", name: "DeleteBucket", errorCode: "AccessDenied"})
		}
		if m >= from && m < to {
			for i := range 30 {
				out = append(out, call{at: at(m, i), source: "s3.amazonaws.com", name: "DeleteBucket", errorCode: "AccessDenied", user: "eve"})
			}
		}
		return out
	}
}

func TestErrorRate(t *testing.T) {
	d := newDetector(shortOptions())
	recs := feed(t, d, 0, 200, errorStorm(150, 160), always)
	var got []string
	for _, r := range recs {
		rec := decodeRecord(t, r)
		dt := rec.InsightDetails
		got = append(got, dt.State+" "+dt.InsightType+" "+dt.EventName+" "+dt.ErrorCode+" "+rec.EventTime)
		if dt.InsightType == ErrorRate {
			for _, a := range dt.InsightContext.Attributions {
				if a.Attribute == "errorCode" {
					t.Errorf("error-rate record with an errorCode attribution: %s", r.Raw)
				}
			}
		}
	}
	// DeleteBucket is a write: the storm is also an unusual call rate.
	want := []string{
		"Start ApiCallRateInsight DeleteBucket  2026-03-02T02:30:00Z",
		"Start ApiErrorRateInsight DeleteBucket AccessDenied 2026-03-02T02:30:00Z",
		"End ApiCallRateInsight DeleteBucket  2026-03-02T02:40:00Z",
		"End ApiErrorRateInsight DeleteBucket AccessDenied 2026-03-02T02:40:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A burst after which the account goes silent still ends, by the wall
// clock, once the detector has read the log.
func TestEndWhenTrafficStops(t *testing.T) {
	d := newDetector(shortOptions())
	burst := func(m int) []call {
		out := steady(m)
		if m >= 100 {
			for i := range 60 {
				out = append(out, call{at: at(m, i), source: "ec2.amazonaws.com", name: "RunInstances"})
			}
		}
		return out
	}
	recs := feed(t, d, 0, 103, burst, always)
	if len(recs) != 1 {
		t.Fatalf("%d records, want a Start", len(recs))
	}
	// Nothing more arrives; the event clock stands still.
	if r := d.advance(at(200, 0), false, always); len(r) != 0 {
		t.Fatalf("without the wall clock: %d records", len(r))
	}
	r := d.advance(at(110, 0), true, always)
	if len(r) != 1 || decodeRecord(t, r[0]).InsightDetails.State != "End" || decodeRecord(t, r[0]).EventTime != "2026-03-02T01:43:00Z" {
		t.Fatalf("wall clock: %d records: %s", len(r), r)
	}
}

func TestLateEvents(t *testing.T) {
	d := newDetector(shortOptions())
	feed(t, d, 0, 10, steady, always)
	d.add(mkEvent(t, call{at: at(5, 0), source: "ec2.amazonaws.com", name: "RunInstances"}))
	if d.late != 1 {
		t.Errorf("late = %d, want 1", d.late)
	}
	// Within the grace period an event still counts.
	d.advance(at(11, 20), true, always)
	d.add(mkEvent(t, call{at: at(10, 59), source: "ec2.amazonaws.com", name: "RunInstances"}))
	if d.late != 1 {
		t.Errorf("an event within the grace period was late")
	}
}

func TestMaxOpen(t *testing.T) {
	o := shortOptions()
	o.MaxOpen = 1
	d := newDetector(o)
	two := func(m int) []call {
		out := steady(m)
		if m >= 100 && m < 110 {
			for i := range 40 {
				out = append(out, call{at: at(m, i), source: "ec2.amazonaws.com", name: "RunInstances"},
					call{at: at(m, i), source: "ec2.amazonaws.com", name: "TerminateInstances"})
			}
		}
		return out
	}
	recs := feed(t, d, 0, 130, two, always)
	if len(recs) != 2 || d.dropped != 1 {
		t.Errorf("%d records, %d dropped; want one pair and one dropped", len(recs), d.dropped)
	}
}

// The state file holds everything: a detector decoded from it mid-anomaly
// (or mid-streak) decides exactly what the original would have.
func TestStateRoundTrip(t *testing.T) {
	traffic := errorStorm(150, 160)
	for _, cut := range []int{150, 151, 152, 155, 161, 163} {
		a := newDetector(shortOptions())
		feed(t, a, 0, cut, traffic, always)
		// Leave some minutes open.
		for _, c := range traffic(cut) {
			a.add(mkEvent(t, c))
		}
		b1, err := a.encode(42, []outboxRec{{Account: acct, Region: "us-east-1", EventID: "x", Record: json.RawMessage(`{}`)}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, ck, outbox, err := decode(b1, a.opts)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if ck != 42 || len(outbox) != 1 {
			t.Errorf("cut %d: checkpoint %d, outbox %v", cut, ck, outbox)
		}
		b2, _ := b.encode(42, outbox, 0)
		if string(b1) != string(b2) {
			t.Fatalf("cut %d: encoding is not stable:\n%s\n%s", cut, b1, b2)
		}
		// Both go on; ids differ, so compare what was decided.
		rest := func(d *detector) []string {
			d.advance(at(cut+1, 30), true, always)
			var out []string
			shared := map[string]string{} // ids by order of appearance
			for _, r := range append(d.advance(at(cut+1, 30), true, always), feed(t, d, cut+1, 200, traffic, always)...) {
				var rec record
				json.Unmarshal(r.Raw, &rec)
				rec.EventID = ""
				if shared[rec.SharedEventID] == "" {
					shared[rec.SharedEventID] = string(rune('A' + len(shared)))
				}
				rec.SharedEventID = shared[rec.SharedEventID]
				j, _ := json.Marshal(rec)
				out = append(out, string(j))
			}
			return out
		}
		ra, rb := rest(a), rest(b)
		if diff := cmp.Diff(ra, rb); diff != "" {
			t.Errorf("cut %d: decisions differ after a restart (-original +restored):\n%s", cut, diff)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	o := testOptions()
	for _, tt := range []struct{ name, in string }{
		{"not JSON", `{"version":1,`},
		{"version", `{"version":3}`},
		{"drop anomaly in version 1", `{"version":1,"partitions":[{"account":"1","region":"r","series":[{"cat":"Management","type":"ApiCallRateInsight","source":"s","name":"n","anomaly":{"shared":"x","start":4,"last":4,"threshold":5,"drop":true}}]}]}`},
		{"bad type", `{"version":1,"partitions":[{"account":"1","region":"r","series":[{"type":"X"}]}]}`},
		{"series index", `{"version":1,"partitions":[{"account":"1","region":"r","open":{"5":[{"s":3,"n":1}]},"series":[]}]}`},
		{"open minute before closed", `{"version":1,"partitions":[{"account":"1","region":"r","closed":10,"open":{"5":[]},"series":[]}]}`},
		{"repeated partition", `{"version":1,"partitions":[{"account":"1","region":"r"},{"account":"1","region":"r"}]}`},
		{"outbox without record", `{"version":1,"outbox":[{"eventId":"x"}]}`},
		{"hour entry", `{"version":1,"partitions":[{"account":"1","region":"r","series":[{"type":"ApiCallRateInsight","hours":[[1,2]]}]}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := decode([]byte(tt.in), o); err == nil {
				t.Error("accepted")
			}
		})
	}
}
