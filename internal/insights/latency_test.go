package insights

import (
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// memLog is an event log in memory, appended to by the test.
type memLog struct {
	entries []store.Entry
	pos     int
}

func (l *memLog) Read(limit int) ([]store.Entry, error) {
	n := min(limit, len(l.entries)-l.pos)
	out := l.entries[l.pos : l.pos+n]
	l.pos += n
	return out, nil
}
func (l *memLog) Release(uint64)            {}
func (l *memLog) Position() uint64          { return uint64(l.pos) }
func (l *memLog) Head() uint64              { return uint64(len(l.entries)) }
func (l *memLog) Progress() <-chan struct{} { return nil }
func (l *memLog) add(ev *event.Event) {
	l.entries = append(l.entries, store.Entry{Seq: l.Head() + 1, Event: ev})
}
func (l *memLog) deps() Deps     { return Deps{Log: l, Enabled: always} }
func (l *memLog) caughtUp() bool { return l.pos == len(l.entries) }
func (l *memLog) addCalls(t *testing.T, cs []call) {
	t.Helper()
	for _, c := range cs {
		l.add(mkEvent(t, c))
	}
}

// spread is n RunInstances calls evenly spread over minute m: call i at
// second ⌊60·i/n⌋.
func spread(m, n int) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = call{at: at(m, 60*i/n), source: "ec2.amazonaws.com", name: "RunInstances"}
	}
	return out
}

// TestStartLatency plays live traffic second by second on the detector's
// fake clock (Options.Now), as the engine sees it: each second, the
// events whose eventTime has come are appended to the log, read, and the
// engine takes a step. A steady 8, 10, 12 calls a minute (mean 10,
// threshold 20) is followed at minute burstAt by 3 or 5 times that, for
// 10 minutes. The Start must be decided at most 2 minutes after the burst
// began (issue 11), with the statistics of decision §63, and the End
// must count every minute once.
func TestStartLatency(t *testing.T) {
	const burstAt, burstLen = 180, 10
	for _, tc := range []struct {
		name    string
		rate    int
		early   bool
		decided time.Duration // after the burst began; 0: at most 2 minutes
	}{
		{name: "3x, early", rate: 30, early: true},
		{name: "5x, early", rate: 50, early: true},
		{name: "3x, closed minutes only", rate: 30, early: false, decided: 2*time.Minute + 30*time.Second},
		{name: "steady, early", rate: 0, early: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := shortOptions()
			o.Logger = discard
			o.Early = tc.early
			o.SaveInterval = time.Hour
			var now time.Time
			o.Now = func() time.Time { return now }
			e, err := Open(t.TempDir(), *o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			traffic := func(m int) []call {
				if tc.rate > 0 && m >= burstAt && m < burstAt+burstLen {
					return spread(m, tc.rate)
				}
				return spread(m, 8+2*(m%3))
			}
			l := &memLog{}
			var pending []call
			var startAt time.Time
			var recs []record
			for m := range burstAt + burstLen + 10 {
				pending = append(pending, traffic(m)...)
				for s := range 60 {
					now = at(m, s)
					i := 0
					for i < len(pending) && !pending[i].at.After(now) {
						i++
					}
					l.addCalls(t, pending[:i])
					pending = pending[i:]
					if _, _, err := e.consume(l, map[string]bool{}); err != nil {
						t.Fatal(err)
					}
					if err := e.step(l.caughtUp(), l.deps(), false); err != nil {
						t.Fatal(err)
					}
					for _, r := range e.outbox[len(recs):] {
						rec := decodeRecord(t, Record{Account: r.Account, Region: r.Region, EventID: r.EventID, Raw: r.Record})
						if rec.InsightDetails.State == "Start" && startAt.IsZero() {
							startAt = now
						}
						recs = append(recs, rec)
					}
				}
			}
			if tc.rate == 0 {
				if len(recs) != 0 {
					t.Fatalf("steady traffic raised %d records: %+v", len(recs), recs[0])
				}
				return
			}
			if len(recs) != 2 {
				t.Fatalf("%d records, want Start and End", len(recs))
			}
			burst := at(burstAt, 0)
			t.Logf("Start decided %v after the burst began", startAt.Sub(burst))
			if took := startAt.Sub(burst); tc.decided == 0 && took > 2*time.Minute || tc.decided != 0 && took != tc.decided {
				t.Errorf("the Start was decided %v after the burst began; want %v", took, map[bool]any{true: "at most 2m0s", false: tc.decided}[tc.decided == 0])
			}
			start, end := recs[0].InsightDetails, recs[1].InsightDetails
			if recs[0].EventTime != event.FormatTime(burst) || start.State != "Start" ||
				start.InsightContext.Statistics.Insight.Average != float64(tc.rate) || start.InsightContext.Statistics.InsightDuration != 2 {
				t.Errorf("Start at %s: %+v; want at the burst's first minute, its count %d, 2 minutes", recs[0].EventTime, start, tc.rate)
			}
			if st := end.InsightContext.Statistics; recs[1].EventTime != event.FormatTime(at(burstAt+burstLen, 0)) ||
				st.Insight.Average != float64(tc.rate) || st.InsightDuration != burstLen {
				t.Errorf("End at %s: %+v; want %d minutes at %d a minute", recs[1].EventTime, st, burstLen, tc.rate)
			}
			if got := start.InsightContext.Attributions[0].Insight; len(got) != 1 || got[0].Average != float64(tc.rate) {
				t.Errorf("Start attributions %+v; want alice at %d a minute", got, tc.rate)
			}
		})
	}
}
