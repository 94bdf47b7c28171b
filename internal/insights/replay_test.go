package insights

import (
	"testing"
)

// Offline, the detector finds what it finds online, whatever the order of
// events within the reorder window.
func TestReplay(t *testing.T) {
	o := shortOptions()
	r, err := NewReplayer(*o)
	if err != nil {
		t.Fatal(err)
	}
	traffic := errorStorm(150, 160)
	for m := range 200 {
		calls := traffic(m)
		// Each minute's calls backwards: out of order within the minute.
		for i := len(calls) - 1; i >= 0; i-- {
			r.Add(mkEvent(t, calls[i]))
		}
	}
	recs, open := r.Finish()
	var got []string
	for _, rec := range recs {
		dt := decodeRecord(t, rec)
		got = append(got, dt.InsightDetails.State+" "+dt.InsightDetails.InsightType+" "+dt.EventTime)
	}
	want := []string{
		"Start ApiCallRateInsight 2026-03-02T02:30:00Z", "Start ApiErrorRateInsight 2026-03-02T02:30:00Z",
		"End ApiCallRateInsight 2026-03-02T02:40:00Z", "End ApiErrorRateInsight 2026-03-02T02:40:00Z",
	}
	if len(got) != len(want) || open != 0 || r.Late() != 0 {
		t.Fatalf("records %v, open %d, late %d; want %v", got, open, r.Late(), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %s, want %s", i, got[i], want[i])
		}
	}

	// Logs that end during a burst: the Start, no End.
	r, _ = NewReplayer(*o)
	for m := range 155 {
		for _, c := range traffic(m) {
			r.Add(mkEvent(t, c))
		}
	}
	if recs, open := r.Finish(); len(recs) != 2 || open != 2 {
		t.Errorf("logs ending mid-burst: %d records, %d open; want 2 Starts, 2 open", len(recs), open)
	}
}
