package index

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// model is what the index should hold: every event applied, and whether a
// sweep deleted it (the rule of docs/format/index.md, applied when the
// sweep runs).
type model struct {
	evs     []mev
	applied uint64
}

type mev struct {
	id      string
	t       int64
	seq     uint64
	region  string
	kind    byte
	name    string
	deleted bool
}

func (m *model) apply(items []Item) {
	for _, it := range items {
		e := it.Event
		m.evs = append(m.evs, mev{id: e.EventID, t: eventTime(e), seq: it.Seq, region: e.Region, kind: KindOf(&e.Summary), name: e.EventName})
		m.applied = it.Seq
	}
}

// sweep deletes what Sweep(cutoff) should and returns how many.
func (m *model) sweep(cutoff int64) int {
	n := 0
	for i := range m.evs {
		if e := &m.evs[i]; !e.deleted && e.seq <= m.applied && e.t < cutoff {
			e.deleted = true
			n++
		}
	}
	return n
}

func (m *model) countBefore(cutoff int64) int {
	n := 0
	for _, e := range m.evs {
		if !e.deleted && e.t < cutoff {
			n++
		}
	}
	return n
}

// lookup returns the ids a lookup should, newest first.
func (m *model) lookup(region string, kind byte, name string, start, end int64) []string {
	var sel []mev
	for _, e := range m.evs {
		if !e.deleted && e.region == region && e.kind == kind && (name == "" || e.name == name) && e.t >= start && e.t <= end {
			sel = append(sel, e)
		}
	}
	slices.SortFunc(sel, func(a, b mev) int { return cmpDesc(pos{a.t, a.seq}, pos{b.t, b.seq}) })
	var ids []string
	for _, e := range sel {
		ids = append(ids, e.id)
	}
	return ids
}

// checkModel compares the index with the model: counts, paged lookups
// (all events and by name), EventId lookups and duplicate probes.
func checkModel(t *testing.T, ix *Index, m *model, rng *rand.Rand) {
	t.Helper()
	live := 0
	for _, e := range m.evs {
		if !e.deleted {
			live++
		}
	}
	if n, err := ix.Count(); err != nil || n != live {
		t.Fatalf("Count = %d, %v; want %d", n, err, live)
	}
	for range 3 {
		c := t0.Unix() + int64(rng.Intn(1100)) - 50
		if n, err := ix.CountBefore(c); err != nil || n != m.countBefore(c) {
			t.Fatalf("CountBefore(t0+%d) = %d, %v; want %d", c-t0.Unix(), n, err, m.countBefore(c))
		}
	}
	for _, name := range []string{"", "PutObject", "GetObject"} {
		start := t0.Unix() + int64(rng.Intn(1000)) - 100
		if rng.Intn(3) == 0 {
			start = 0
		}
		end := start + int64(rng.Intn(1200))
		limit := 1 + rng.Intn(40)
		q := Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Start: start, End: end, Limit: limit}
		if name != "" {
			q.Attr, q.Value = AttrEventName, name
		}
		var got []string
		for {
			hits, next, err := ix.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, hitIDs(t, hits)...)
			if next == nil {
				break
			}
			q.Cursor = next
		}
		if diff := cmp.Diff(m.lookup("us-east-1", KindManagement, name, start, end), got); diff != "" {
			t.Fatalf("lookup %q [%d, %d] (-want +got):\n%s", name, start-t0.Unix(), end-t0.Unix(), diff)
		}
	}
	keys := make([]EventKey, len(m.evs))
	for i, e := range m.evs {
		keys[i] = EventKey{testAcct, e.region, e.id, 0}
	}
	has, _, err := ix.HasEventIDs(keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range m.evs {
		if has[i] == e.deleted {
			t.Fatalf("HasEventIDs(%s, seq %d, t0+%d) = %v, deleted %v", e.id, e.seq, e.t-t0.Unix(), has[i], e.deleted)
		}
	}
	for range 10 {
		e := m.evs[rng.Intn(len(m.evs))]
		hits, _, err := ix.Lookup(Query{Account: testAcct, Region: e.region, Kind: e.kind, Attr: AttrEventID, Value: e.id, End: t0.Unix() + 2000, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if want := !e.deleted; (len(hits) == 1) != want {
			t.Fatalf("EventId lookup of %s (deleted %v, kind %c): %d hits", e.id, e.deleted, e.kind, len(hits))
		}
	}
}

// TestSweepsMatchModel applies batches of events with times old and new,
// sweeps with random cutoffs, and flushes, merges and reopens at random
// (with a tiny memtable, flushes and merges also run in the background),
// checking the index against the model after every step: a sweep deletes
// the events applied before it that are older than its cutoff, never
// events applied after it.
func TestSweepsMatchModel(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			small := func(o *Options) { o.MemtableBytes, o.MaxSegments, o.MergeIdle = 16<<10, 3, 20*time.Millisecond }
			ix := openOpts(t, dir, small)
			m := &model{}
			seq := uint64(0)
			for step := range 40 {
				switch op := rng.Intn(10); {
				case op < 5:
					n := 1 + rng.Intn(150)
					items := make([]Item, n)
					for i := range items {
						seq++
						items[i] = Item{seq, richEvent(t, int(seq), int64(rng.Intn(1000)))}
					}
					if err := ix.Apply(items); err != nil {
						t.Fatal(err)
					}
					m.apply(items)
				case op < 7:
					cutoff := t0.Unix() + int64(rng.Intn(1000))
					want := m.sweep(cutoff)
					if n, err := ix.Sweep(cutoff); err != nil || n != want {
						t.Fatalf("step %d: Sweep(t0+%d) = %d, %v; want %d", step, cutoff-t0.Unix(), n, err, want)
					}
				case op == 7:
					if _, err := ix.Sync(); err != nil {
						t.Fatal(err)
					}
				case op == 8:
					if err := ix.Compact(); err != nil {
						t.Fatal(err)
					}
				default:
					if err := ix.Close(); err != nil {
						t.Fatal(err)
					}
					ix = openOpts(t, dir, small)
				}
				if len(m.evs) > 0 {
					checkModel(t, ix, m, rng)
				}
			}
		})
	}
}
