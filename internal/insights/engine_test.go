package insights

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// rig is an event log with the detector's directory beside it.
type rig struct {
	st  *store.Store
	dir string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	so := store.DefaultOptions()
	so.Logger = discard
	st, err := store.Open(filepath.Join(t.TempDir(), "events"), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &rig{st: st, dir: filepath.Join(t.TempDir(), "insights")}
}

func (r *rig) append(t *testing.T, evs ...*event.Event) {
	t.Helper()
	in := make([]event.Event, len(evs))
	for i, ev := range evs {
		in[i] = *ev
	}
	if _, err := r.st.Append(t.Context(), in, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) appendMinutes(t *testing.T, from, to int, traffic func(int) []call) {
	t.Helper()
	for m := from; m < to; m++ {
		var evs []*event.Event
		for _, c := range traffic(m) {
			evs = append(evs, mkEvent(t, c))
		}
		r.append(t, evs...)
	}
}

// insightRecords returns the Insights records in the log, in log order.
func (r *rig) insightRecords(t *testing.T) []record {
	t.Helper()
	f, err := r.st.Follow("reader", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []record
	for {
		es, err := f.Read(4096)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		for _, e := range es {
			if e.Event.Insight() {
				var rec record
				if err := json.Unmarshal(e.Event.Raw, &rec); err != nil {
					t.Fatal(err)
				}
				out = append(out, rec)
			}
		}
	}
}

func (r *rig) open(t *testing.T) *Engine {
	t.Helper()
	o := shortOptions()
	o.Logger = discard
	o.SaveInterval = time.Hour // commits only when records are decided, and at the end
	o.Reorder = 5 * time.Minute
	e, err := Open(r.dir, *o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs e until the log is read and the outbox is empty.
func (r *rig) run(t *testing.T, e *Engine) {
	t.Helper()
	ck, ok := e.Checkpoint()
	if !ok {
		ck = 0
	}
	f, err := r.st.Follow("insights", ck, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, r.deps(f)) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.mu.Lock()
		idle := len(e.outbox) == 0
		e.mu.Unlock()
		if idle && f.Position() == r.st.Head() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the detector did not catch up: position %d, head %d", f.Position(), r.st.Head())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func (r *rig) deps(l Log) Deps {
	return Deps{Log: l, Enabled: always, Append: func(ctx context.Context, evs []event.Event) error {
		_, err := r.st.Append(ctx, evs, store.AppendOptions{})
		return err
	}}
}

func states(recs []record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.InsightDetails.State+" "+r.InsightDetails.InsightType)
	}
	return out
}

func TestEngineWritesRecordsOnce(t *testing.T) {
	r := newRig(t)
	traffic := errorStorm(150, 160)
	r.appendMinutes(t, 0, 158, traffic) // the Start is decided when minute 151 closes
	e := r.open(t)
	r.run(t, e)
	recs := r.insightRecords(t)
	if got := states(recs); len(got) != 2 || got[0] != "Start ApiCallRateInsight" || got[1] != "Start ApiErrorRateInsight" {
		t.Fatalf("after the burst's start: %v", got)
	}
	// A restart resumes where the state says: no second Start, and the
	// End shares the Start's id.
	e = r.open(t)
	r.appendMinutes(t, 158, 200, traffic)
	r.run(t, e)
	recs = r.insightRecords(t)
	if got := states(recs); len(got) != 4 {
		t.Fatalf("records %v, want 2 Starts and 2 Ends", got)
	}
	for _, end := range recs[2:] {
		if end.InsightDetails.State != "End" || (end.SharedEventID != recs[0].SharedEventID && end.SharedEventID != recs[1].SharedEventID) {
			t.Errorf("End %+v does not pair with a Start", end)
		}
	}
}

// A crash after the state with the outbox is committed: whether the
// records reached the log or not, they are in it exactly once after the
// next start.
func TestEngineOutboxAfterCrash(t *testing.T) {
	for _, appended := range []bool{true, false} {
		t.Run(map[bool]string{true: "appended before the crash", false: "not appended"}[appended], func(t *testing.T) {
			r := newRig(t)
			traffic := errorStorm(150, 160)
			r.appendMinutes(t, 0, 158, traffic)
			// The first run decides and commits, then "crashes": it never
			// reads its records back.
			e := r.open(t)
			f, err := r.st.Follow("insights", 0, store.FollowOptions{})
			if err != nil {
				t.Fatal(err)
			}
			deps := r.deps(f)
			for {
				n, _, err := e.consume(f, map[string]bool{})
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			if err := e.step(true, deps, true); err != nil {
				t.Fatal(err)
			}
			if len(e.outbox) != 2 {
				t.Fatalf("outbox holds %d records, want 2", len(e.outbox))
			}
			if appended {
				if err := e.appendOutbox(t.Context(), deps, map[string]bool{}); err != nil {
					t.Fatal(err)
				}
				// More traffic after the records, so the next run must
				// read past them.
				r.appendMinutes(t, 158, 159, traffic)
			}
			f.Close()
			// The next start.
			e = r.open(t)
			r.run(t, e)
			if got := states(r.insightRecords(t)); len(got) != 2 {
				t.Fatalf("records in the log: %v, want each Start once", got)
			}
			b, err := os.ReadFile(filepath.Join(r.dir, StateFile))
			if err != nil {
				t.Fatal(err)
			}
			var sf stateFile
			if err := json.Unmarshal(b, &sf); err != nil || len(sf.Outbox) != 0 {
				t.Errorf("outbox after the run: %d entries (%v)", len(sf.Outbox), err)
			}
		})
	}
}

func TestEngineQuarantinesDamagedState(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":1,"partitions":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := Check(dir); len(rep.Problems) != 1 {
		t.Errorf("Check: %+v", rep)
	}
	o := DefaultOptions()
	o.Logger = discard
	e, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Checkpoint(); ok {
		t.Error("a damaged state gave a checkpoint")
	}
	q, _ := os.ReadDir(filepath.Join(dir, "quarantine"))
	if len(q) != 1 {
		t.Errorf("quarantine holds %d files, want the damaged state", len(q))
	}
	if err := e.Init(7); err != nil {
		t.Fatal(err)
	}
	if rep := Check(dir); len(rep.Problems) != 0 || rep.Checkpoint != 7 || !rep.HasState {
		t.Errorf("Check after Init: %+v", rep)
	}
}

func TestCheckFindsLostMetrics(t *testing.T) {
	r := newRig(t)
	r.appendMinutes(t, 0, 30, steady)
	o := shortOptions()
	o.Logger = discard
	o.Now = func() time.Time { return t0.Add(40 * time.Minute) } // the counts are recent: none is dropped
	e, err := Open(r.dir, *o)
	if err != nil {
		t.Fatal(err)
	}
	r.run(t, e)
	e.Close()
	if rep := Check(r.dir); len(rep.Problems) != 0 || !rep.HasState {
		t.Fatalf("Check of a sound state: %+v", rep)
	}
	if err := os.Truncate(filepath.Join(r.dir, MetricsFile), 10); err != nil {
		t.Fatal(err)
	}
	if rep := Check(r.dir); len(rep.Problems) != 1 {
		t.Errorf("Check of a cut metrics file: %+v", rep)
	}
}

// Under a fast ingest the state is written once SaveEvents events were
// read since the last save, not only every SaveInterval: the log keeps
// every event after the detector's checkpoint.
func TestEngineSavesEveryManyEvents(t *testing.T) {
	for _, tt := range []struct {
		name       string
		saveEvents uint64
		wantSaved  bool
	}{
		{"after SaveEvents", 200, true},
		{"SaveInterval only", 1 << 40, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			o := shortOptions()
			o.Logger = discard
			o.SaveInterval = 1000 * time.Hour
			o.SaveEvents = tt.saveEvents
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			o.Now = func() time.Time { return time.Unix(0, clock.Add(int64(time.Second))) }
			e, err := Open(r.dir, *o)
			if err != nil {
				t.Fatal(err)
			}
			f, err := r.st.Follow("insights", 0, store.FollowOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// A first run leaves a saved state; the second reads many
			// events after it.
			r.appendMinutes(t, 0, 10, steady)
			var ck0 uint64
			for round := range 2 {
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- e.Run(ctx, r.deps(f)) }()
				deadline := time.Now().Add(30 * time.Second)
				for f.Position() != r.st.Head() {
					if time.Now().After(deadline) {
						t.Fatalf("the detector did not catch up: position %d, head %d", f.Position(), r.st.Head())
					}
					time.Sleep(10 * time.Millisecond)
				}
				if round == 0 {
					cancel()
					if err := <-done; err != nil {
						t.Fatal(err)
					}
					ck0, _ = e.Checkpoint()
					r.appendMinutes(t, 10, 300, steady)
					continue
				}
				// The follower reaches the head before Run's step that
				// may save: wait for a save, or, where none is due, for
				// a tick of Run's loop in which it would have been.
				ck, _ := e.Checkpoint()
				if tt.wantSaved {
					for wait := time.Now().Add(10 * time.Second); ck <= ck0 && time.Now().Before(wait); ck, _ = e.Checkpoint() {
						time.Sleep(10 * time.Millisecond)
					}
				} else {
					time.Sleep(1500 * time.Millisecond)
					ck, _ = e.Checkpoint()
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if recs := r.insightRecords(t); len(recs) > 0 {
					t.Fatalf("steady traffic gave %d Insights records: the test needs none", len(recs))
				}
				head := r.st.Head()
				if head-ck0 < 2000 {
					t.Fatalf("only %d events after the first save: too few for the test", head-ck0)
				}
				if saved := ck > ck0; saved != tt.wantSaved {
					t.Errorf("checkpoint %d while running (%d after the first run, head %d): saved %v, want %v", ck, ck0, head, saved, tt.wantSaved)
				}
			}
		})
	}
}

// StateCheckpoint reads the checkpoint Check reads, without decoding the
// rest; damage after the checkpoint does not hide it, other damage gives 0.
func TestStateCheckpoint(t *testing.T) {
	r := newRig(t)
	if got := StateCheckpoint(r.dir); got != 0 {
		t.Fatalf("no state: %d, want 0", got)
	}
	r.appendMinutes(t, 0, 30, steady)
	r.run(t, r.open(t))
	want := Check(r.dir)
	if !want.HasState || want.Checkpoint == 0 {
		t.Fatalf("Check after a run: %+v", want)
	}
	if got := StateCheckpoint(r.dir); got != want.Checkpoint {
		t.Fatalf("StateCheckpoint %d, Check %d", got, want.Checkpoint)
	}
	path := filepath.Join(r.dir, StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte(`"partitions"`))
	if at < 0 {
		t.Fatalf("no partitions in %.200s", b)
	}
	for _, tt := range []struct {
		name string
		data []byte
		want uint64
	}{
		{"cut after the checkpoint", b[:at+5], want.Checkpoint},
		{"cut before it", b[:bytes.Index(b, []byte(`"checkpoint"`))+4], 0},
		{"not JSON", []byte("garbage"), 0},
		{"an array", []byte(`[{"checkpoint":7}]`), 0},
		{"a checkpoint that is not a number", []byte(`{"version":2,"checkpoint":"7"}`), 0},
	} {
		if err := os.WriteFile(path, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := StateCheckpoint(r.dir); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
