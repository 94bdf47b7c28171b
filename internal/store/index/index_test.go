package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ev(t *testing.T, id string, sec int, category string) *event.Event {
	t.Helper()
	m := map[string]any{"eventTime": event.FormatTime(t0.Add(time.Duration(sec) * time.Second)), "eventID": id,
		"awsRegion": "us-east-1", "recipientAccountId": "123456789012", "eventSource": "s3.amazonaws.com",
		"eventName": "GetObject", "eventCategory": category, "readOnly": true}
	if category == event.CategoryInsight {
		m["insightDetails"] = map[string]any{"eventName": "GetObject", "eventSource": "s3.amazonaws.com"}
	}
	b, _ := json.Marshal(m)
	e, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

func open(t *testing.T, dir string) *Index { return openOpts(t, dir, nil) }

func openOpts(t *testing.T, dir string, edit func(*Options)) *Index {
	t.Helper()
	o := DefaultOptions()
	o.ScrubPause = -1 // tests of the scrub turn it on
	if edit != nil {
		edit(&o)
	}
	ix, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// modes runs a test with its events left in the memtable, flushed to
// segments after every Apply, and merged into one segment.
func modes(t *testing.T, test func(t *testing.T, apply func(*Index, []Item))) {
	t.Run("memtable", func(t *testing.T) {
		test(t, func(ix *Index, items []Item) {
			if err := ix.Apply(items); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("segments", func(t *testing.T) {
		test(t, func(ix *Index, items []Item) {
			if err := ix.Apply(items); err != nil {
				t.Fatal(err)
			}
			if _, err := ix.Sync(); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("merged", func(t *testing.T) {
		test(t, func(ix *Index, items []Item) {
			// Two segments per call, then one.
			half := len(items) / 2
			for _, part := range [][]Item{items[:half], items[half:]} {
				if err := ix.Apply(part); err != nil {
					t.Fatal(err)
				}
				if _, err := ix.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if err := ix.Compact(); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func hitIDs(t *testing.T, hits []Hit) []string {
	var ids []string
	for _, h := range hits {
		e, err := event.Parse(h.Raw)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.EventID)
	}
	return ids
}

func TestApplyLookupKindsAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	items := []Item{
		{1, ev(t, "m1", 1, event.CategoryMgmt)},
		{2, ev(t, "d1", 2, event.CategoryData)},
		{3, ev(t, "i1", 3, event.CategoryInsight)},
		{4, ev(t, "m2", 4, event.CategoryMgmt)},
	}
	if err := ix.Apply(items); err != nil {
		t.Fatal(err)
	}
	if ix.Checkpoint() != 4 {
		t.Fatalf("checkpoint %d", ix.Checkpoint())
	}
	q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, Start: 0, End: t0.Unix() + 100, Limit: 10}
	hits, next, err := ix.Lookup(q)
	if err != nil || next != nil {
		t.Fatal(err, next)
	}
	if diff := cmp.Diff([]string{"m2", "m1"}, hitIDs(t, hits)); diff != "" {
		t.Fatal(diff)
	}
	q.Kind = KindInsight
	hits, _, _ = ix.Lookup(q)
	if diff := cmp.Diff([]string{"i1"}, hitIDs(t, hits)); diff != "" {
		t.Fatal(diff)
	}
	// Durable across reopen once synced.
	if ck, err := ix.Sync(); err != nil || ck != 4 {
		t.Fatalf("Sync = %d, %v", ck, err)
	}
	ix.Close()
	ix = open(t, dir)
	if ix.Checkpoint() != 4 {
		t.Fatalf("checkpoint after reopen %d", ix.Checkpoint())
	}
	q.Kind, q.Attr, q.Value = KindManagement, AttrEventName, "GetObject"
	hits, _, _ = ix.Lookup(q)
	if diff := cmp.Diff([]string{"m2", "m1"}, hitIDs(t, hits)); diff != "" {
		t.Fatal(diff)
	}
}

func TestHasEventIDs(t *testing.T) {
	modes(t, func(t *testing.T, apply func(*Index, []Item)) {
		ix := open(t, t.TempDir())
		var items []Item
		for i := range 500 {
			items = append(items, Item{uint64(i + 1), ev(t, fmt.Sprintf("id-%03d", i), i, event.CategoryMgmt)})
		}
		apply(ix, items)
		keys := []EventKey{
			{"123456789012", "us-east-1", "id-007", 0},
			{"123456789012", "us-east-1", "id-999", 0},
			{"123456789012", "eu-west-1", "id-007", 0}, // unknown partition
			{"123456789012", "us-east-1", "id-499", 0},
			{"123456789012", "us-east-1", "id-00", 0}, // prefix of a stored id
		}
		got, _, err := ix.HasEventIDs(keys)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]bool{true, false, false, true, false}, got); diff != "" {
			t.Fatal(diff)
		}
		if got, _, _ := ix.HasEventIDs([]EventKey{{"123456789012", "us-east-1", "id-123", 0}}); !got[0] {
			t.Fatal("HasEventIDs missed a stored id")
		}
	})
}

// A key with a time names the event with that id at that time only: a
// duplicate is the same record again (decisions §92).
func TestHasEventIDsWithTime(t *testing.T) {
	modes(t, func(t *testing.T, apply func(*Index, []Item)) {
		ix := open(t, t.TempDir())
		var items []Item
		for i := range 300 {
			items = append(items, Item{uint64(i + 1), ev(t, fmt.Sprintf("id-%03d", i), i*60, event.CategoryMgmt)})
		}
		apply(ix, items)
		at := func(i int) int64 { return t0.Unix() + int64(i*60) }
		keys := []EventKey{
			{"123456789012", "us-east-1", "id-007", at(7)},
			{"123456789012", "us-east-1", "id-007", at(7) + 1},    // another time
			{"123456789012", "us-east-1", "id-007", at(299) + 60}, // after every stored event
			{"123456789012", "us-east-1", "id-007", 0},            // any time
			{"123456789012", "us-east-1", "id-299", at(299)},
			{"123456789012", "eu-west-1", "id-007", at(7)},
		}
		got, _, err := ix.HasEventIDs(keys)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]bool{true, false, false, true, true, false}, got); diff != "" {
			t.Fatal(diff)
		}
	})
}

func TestEventIDLookupRespectsRangeAndKind(t *testing.T) {
	modes(t, func(t *testing.T, apply func(*Index, []Item)) {
		ix := open(t, t.TempDir())
		apply(ix, []Item{{1, ev(t, "a", 10, event.CategoryMgmt)}, {2, ev(t, "b", 20, event.CategoryData)}})
		base := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, Attr: AttrEventID, Limit: 5}
		for _, c := range []struct {
			name       string
			value      string
			start, end int64
			want       int
		}{
			{"in range", "a", t0.Unix(), t0.Unix() + 10, 1},
			{"end excludes", "a", t0.Unix(), t0.Unix() + 9, 0},
			{"start excludes", "a", t0.Unix() + 11, t0.Unix() + 100, 0},
			{"data event never", "b", 0, t0.Unix() + 100, 0},
			{"unknown", "zz", 0, t0.Unix() + 100, 0},
		} {
			q := base
			q.Value, q.Start, q.End = c.value, c.start, c.end
			hits, next, err := ix.Lookup(q)
			if err != nil || next != nil || len(hits) != c.want {
				t.Errorf("%s: %d hits, next %v, err %v; want %d", c.name, len(hits), next, err, c.want)
			}
		}
	})
}

func TestCursor(t *testing.T) {
	modes(t, func(t *testing.T, apply func(*Index, []Item)) {
		ix := open(t, t.TempDir())
		var items []Item
		for i := range 7 {
			items = append(items, Item{uint64(i + 1), ev(t, fmt.Sprint("e", i), i/2, event.CategoryMgmt)}) // pairs share a second
		}
		apply(ix, items)
		q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, End: t0.Unix() + 10, Limit: 3}
		var all []string
		for {
			hits, next, err := ix.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, hitIDs(t, hits)...)
			if next == nil {
				break
			}
			q.Cursor = next
		}
		// Same second: later arrival (higher sequence number) first.
		if diff := cmp.Diff([]string{"e6", "e5", "e4", "e3", "e2", "e1", "e0"}, all); diff != "" {
			t.Fatal(diff)
		}
		for _, bad := range [][]byte{{}, {9}, make([]byte, 14), append([]byte{cursorV1}, make([]byte, 5)...)} {
			q.Cursor = bad
			if len(bad) == 0 {
				q.Cursor = []byte{}
			}
			if _, _, err := ix.Lookup(q); !errors.Is(err, ErrBadCursor) {
				t.Errorf("cursor %x: err %v, want ErrBadCursor", bad, err)
			}
		}
	})
}

func TestSweep(t *testing.T) {
	modes(t, func(t *testing.T, apply func(*Index, []Item)) {
		ix := open(t, t.TempDir())
		var items []Item
		for i := range 10 {
			items = append(items, Item{uint64(i + 1), ev(t, fmt.Sprint("s", i), i, event.CategoryMgmt)})
		}
		apply(ix, items)
		n, err := ix.Sweep(t0.Unix() + 4)
		if err != nil || n != 4 {
			t.Fatalf("Sweep = %d, %v; want 4", n, err)
		}
		q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, Attr: AttrReadOnly, Value: "true", End: t0.Unix() + 100, Limit: 50}
		hits, _, _ := ix.Lookup(q)
		if len(hits) != 6 {
			t.Fatalf("after sweep %d events found by attribute, want 6", len(hits))
		}
		if has, _, _ := ix.HasEventIDs([]EventKey{{"123456789012", "us-east-1", "s2", 0}}); has[0] {
			t.Fatal("swept event's id still known")
		}
	})
}

// TestAttributeLookupsMatchModel checks attribute lookups
// against a brute-force model: events with random, out-of-order times,
// applied in batches of random size, paged with random limits and ranges.
// Events arriving in time order fill segments whose times do not overlap,
// so lookups stop at the first segments (ordered); at random times every
// segment holds every time.
func TestAttributeLookupsMatchModel(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		ordered := seed > 4
		t.Run(fmt.Sprint("seed", seed, map[bool]string{true: "/ordered"}[ordered]), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			dir := t.TempDir()
			// A tiny memtable: flushes and merges run in the background
			// while batches are applied.
			small := func(o *Options) { o.MemtableBytes, o.MaxSegments, o.MergeIdle = 16<<10, 3, 20*time.Millisecond }
			ix := openOpts(t, dir, small)
			type rec struct {
				id   string
				sec  int
				seq  uint64
				name string
			}
			var model []rec
			seq := uint64(0)
			for len(model) < 3000 {
				n := 1 + rng.Intn(400)
				var items []Item
				for range n {
					seq++
					r := rec{id: fmt.Sprint("p", seq), sec: rng.Intn(900), seq: seq, name: fmt.Sprint("N", rng.Intn(4))}
					if ordered {
						r.sec = min(max(int(seq)*900/3400+rng.Intn(31)-15, 0), 899)
					}
					if rng.Intn(10) == 0 {
						r.sec = 400 // many events in one second
					}
					e := ev(t, r.id, r.sec, event.CategoryMgmt)
					e.EventName = r.name
					items = append(items, Item{seq, e})
					model = append(model, r)
				}
				if err := ix.Apply(items); err != nil {
					t.Fatal(err)
				}
				switch rng.Intn(10) {
				case 0:
					if _, err := ix.Sync(); err != nil {
						t.Fatal(err)
					}
				case 1:
					if err := ix.Compact(); err != nil {
						t.Fatal(err)
					}
				case 2:
					if err := ix.Close(); err != nil {
						t.Fatal(err)
					}
					ix = openOpts(t, dir, small)
				}
			}
			ids := make([]EventKey, 0, len(model)+1)
			for _, r := range model {
				ids = append(ids, EventKey{"123456789012", "us-east-1", r.id, 0})
			}
			ids = append(ids, EventKey{"123456789012", "us-east-1", "absent", 0})
			has, _, err := ix.HasEventIDs(ids)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(slices.DeleteFunc(has, func(b bool) bool { return b })); n != 1 {
				t.Fatalf("HasEventIDs: %d of %d ids not found, want only the absent one", n, len(ids))
			}
			for range 60 {
				name := fmt.Sprint("N", rng.Intn(5)) // N4 matches nothing
				start := rng.Intn(900)
				end := start + rng.Intn(900-start+50)
				limit := 1 + rng.Intn(60)
				var want []string
				sorted := slices.Clone(model)
				slices.SortFunc(sorted, func(a, b rec) int {
					if a.sec != b.sec {
						return b.sec - a.sec
					}
					return int(int64(b.seq) - int64(a.seq))
				})
				for _, r := range sorted {
					if r.name == name && r.sec >= start && r.sec <= end {
						want = append(want, r.id)
					}
				}
				q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, Attr: AttrEventName, Value: name,
					Start: t0.Unix() + int64(start), End: t0.Unix() + int64(end), Limit: limit}
				var got []string
				for pages := 0; ; pages++ {
					hits, next, err := ix.Lookup(q)
					if err != nil {
						t.Fatal(err)
					}
					if len(hits) > limit || (next != nil && len(hits) != limit) {
						t.Fatalf("page of %d hits with limit %d, next %v", len(hits), limit, next != nil)
					}
					got = append(got, hitIDs(t, hits)...)
					if next == nil {
						break
					}
					q.Cursor = next
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s [%d,%d] limit %d (-want +got):\n%s", name, start, end, limit, diff)
				}
			}
		})
	}
}

// A memtable is flushed once it holds MemtableEvents events, however few
// bytes they are: what a restart reads back from the WAL stays bounded.
func TestMemtableFlushesByEventCount(t *testing.T) {
	dir := t.TempDir()
	ix := openOpts(t, dir, func(o *Options) {
		o.MemtableBytes, o.MemtableEvents, o.FlushAge, o.MergeIdle = 1<<40, 10, 1<<40, 1<<40
	})
	var items []Item
	for seq := uint64(1); seq <= 25; seq++ {
		items = append(items, Item{seq, ev(t, fmt.Sprint("e", seq), int(seq), event.CategoryMgmt)})
		if seq%5 == 0 {
			if err := ix.Apply(items); err != nil {
				t.Fatal(err)
			}
			items = nil
		}
	}
	// Applied in fives: the memtable reached 10 events at 10 and at 20.
	waitFor(t, func() bool { return ix.Durable() == 20 })
	if got := ix.Checkpoint(); got != 25 {
		t.Fatalf("Checkpoint = %d, want 25", got)
	}
	// The last five stayed in the memtable; Sync flushes them.
	if _, err := ix.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := ix.Durable(); got != 25 {
		t.Fatalf("after Sync Durable = %d, want 25", got)
	}
}

// Opening counts as a flush for MergeIdle: after a crash the WAL's events
// are applied again first, so merges wait until the index has been quiet
// for MergeIdle since it opened.
func TestOpenDefersMerges(t *testing.T) {
	dir := t.TempDir()
	ix := openOpts(t, dir, func(o *Options) {
		o.MemtableBytes, o.MemtableEvents, o.FlushAge, o.MergeIdle = 1<<40, 10, 1<<40, 1<<40
	})
	for seq := uint64(1); seq <= 40; seq += 10 {
		var items []Item
		for s := seq; s < seq+10; s++ {
			items = append(items, Item{s, ev(t, fmt.Sprint("e", s), int(s), event.CategoryMgmt)})
		}
		if err := ix.Apply(items); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return ix.Durable() == seq+9 })
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	segments := func(ix *Index) int {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		return len(ix.segs)
	}
	const idle = 400 * time.Millisecond
	opened := time.Now()
	ix = openOpts(t, dir, func(o *Options) {
		o.MemtableBytes, o.MemtableEvents, o.FlushAge, o.MergeIdle = 1<<40, 10, 1<<40, idle
	})
	if n := segments(ix); n != 4 {
		t.Fatalf("%d segments at open, want 4", n)
	}
	time.Sleep(idle / 2) // two of the merge loop's ticks
	if n := segments(ix); n != 4 && time.Since(opened) < idle {
		t.Fatalf("%d segments %v after open, want 4 until MergeIdle (%v) has passed", n, time.Since(opened), idle)
	}
	waitFor(t, func() bool { return segments(ix) == 1 })
	if time.Since(opened) < idle {
		t.Fatalf("merged %v after open, before MergeIdle (%v)", time.Since(opened), idle)
	}
}
