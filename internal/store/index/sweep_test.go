package index

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

// TestSweepAcrossSegments sweeps an index whose events are spread over
// three flushed segments and the memtable, some out of time order: one
// segment wholly older than the cutoff, one straddling it, one newer, and a
// memtable with old and new events.
func TestSweepAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	ix := openOpts(t, dir, nil)
	type rec struct {
		id   string
		sec  int64
		seq  uint64
		name string
	}
	var model []rec
	seq := uint64(0)
	batch := func(secs ...int64) []Item {
		var items []Item
		for _, s := range secs {
			seq++
			id := fmt.Sprintf("w-%03d", seq)
			e := ev(t, id, int(s), event.CategoryMgmt)
			e.EventName = fmt.Sprint("N", seq%3)
			items = append(items, Item{seq, e})
			model = append(model, rec{id, s, seq, e.EventName})
		}
		return items
	}
	span := func(from, to int64) []int64 {
		var s []int64
		for x := from; x < to; x++ {
			s = append(s, x)
		}
		return s
	}
	// Segment A: seconds 0..9, all older than the cutoff.
	applySync(t, ix, batch(span(0, 10)...))
	// Segment B: 10..19 and one old event at 2.
	applySync(t, ix, batch(append(span(10, 20), 2)...))
	// Segment C: 20..29.
	applySync(t, ix, batch(span(20, 30)...))
	// Memtable: 30..34, and old events at 1 and 14.
	if err := ix.Apply(batch(append(span(30, 35), 1, 14)...)); err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, dir)
	if len(m.Segments) != 3 {
		t.Fatalf("MANIFEST lists %v, want 3 segments", m.Segments)
	}
	segA, segB, segC := m.Segments[0], m.Segments[1], m.Segments[2]

	const cut = 15
	cutoff := t0.Unix() + cut
	want := 0
	for _, r := range model {
		if r.sec < cut {
			want++
		}
	}
	n, err := ix.Sweep(cutoff)
	if err != nil || n != want {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, want)
	}

	check := func(t *testing.T, ix *Index) {
		t.Helper()
		// Lookups, also with Start 0, return exactly the events not swept,
		// newest first.
		for _, name := range []string{"", "N0", "N1", "N2"} {
			var wantIDs []string
			sorted := slices.Clone(model)
			slices.SortFunc(sorted, func(a, b rec) int {
				if a.sec != b.sec {
					return int(b.sec - a.sec)
				}
				return int(int64(b.seq) - int64(a.seq))
			})
			for _, r := range sorted {
				if r.sec >= cut && (name == "" || r.name == name) {
					wantIDs = append(wantIDs, r.id)
				}
			}
			q := Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Start: 0, End: t0.Unix() + 1000, Limit: 7}
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
			if !sameStrings(got, wantIDs) {
				t.Errorf("lookup %q after sweep:\n got %v\nwant %v", name, got, wantIDs)
			}
		}
		keys := make([]EventKey, len(model))
		for i, r := range model {
			keys[i] = EventKey{testAcct, "us-east-1", r.id, 0}
		}
		has, _, err := ix.HasEventIDs(keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range model {
			if has[i] != (r.sec >= cut) {
				t.Errorf("HasEventIDs(%s at %d) = %v", r.id, r.sec, has[i])
			}
			// EventId lookups with the widest range.
			hits, _, err := ix.Lookup(Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Attr: AttrEventID, Value: r.id, End: t0.Unix() + 1000, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if (len(hits) == 1) != (r.sec >= cut) {
				t.Errorf("EventId lookup of %s at %d: %d hits", r.id, r.sec, len(hits))
			}
		}
	}
	check(t, ix)

	// The wholly old segment is gone from disk and from MANIFEST; the
	// others stay.
	m = readManifest(t, dir)
	wantSweeps := sweeps{{Seq: seq, Before: cutoff}}
	if !slices.Equal(m.Segments, []string{segB, segC}) || !slices.Equal(m.Sweeps, wantSweeps) {
		t.Fatalf("MANIFEST after sweep: segments %v sweeps %v; want [%s %s] %v", m.Segments, m.Sweeps, segB, segC, wantSweeps)
	}
	if exists(t, filepath.Join(dir, segA)) {
		t.Fatalf("segment %s, all older than the cutoff, is still on disk", segA)
	}
	for _, s := range []string{segB, segC} {
		if !exists(t, filepath.Join(dir, s)) {
			t.Fatalf("segment %s was deleted", s)
		}
	}
	// Sweeping again to the same or an older cutoff deletes nothing.
	for _, c := range []int64{cutoff, cutoff - 5} {
		if n, err := ix.Sweep(c); err != nil || n != 0 {
			t.Fatalf("repeated Sweep(%d) = %d, %v; want 0", c-t0.Unix(), n, err)
		}
	}

	// The state survives Close and Open (Close flushes the memtable less
	// its swept events).
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = openOpts(t, dir, nil)
	t.Run("reopened", func(t *testing.T) { check(t, ix) })
	if m := readManifest(t, dir); !slices.Equal(m.Sweeps, wantSweeps) || slices.Contains(m.Segments, segA) || len(m.Segments) != 3 {
		t.Fatalf("MANIFEST after reopen: %+v", m)
	}
	// The next sweep counts only the events in [cutoff, cutoff+1): B's 15.
	if n, err := ix.Sweep(cutoff + 1); err != nil || n != 1 {
		t.Fatalf("Sweep(cutoff+1) after reopen = %d, %v; want 1", n, err)
	}
	// A merge drops the swept entries and keeps the rest.
	if err := ix.Compact(); err != nil {
		t.Fatal(err)
	}
	m = readManifest(t, dir)
	if len(m.Segments) != 1 {
		t.Fatalf("after Compact MANIFEST lists %v", m.Segments)
	}
	sg := inspect(t, filepath.Join(dir, m.Segments[0]))
	if sg.events != len(model)-want-1 {
		t.Errorf("merged segment holds %d events, want %d", sg.events, len(model)-want-1)
	}
	hits, _, err := ix.Lookup(Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, End: t0.Unix() + 1000, Limit: 1000})
	if err != nil || len(hits) != len(model)-want-1 {
		t.Fatalf("after Compact: %d hits, %v; want %d", len(hits), err, len(model)-want-1)
	}
	// Sweeping everything deletes every segment.
	if n, err := ix.Sweep(t0.Unix() + 1000); err != nil || n != len(model)-want-1 {
		t.Fatalf("final Sweep = %d, %v; want %d", n, err, len(model)-want-1)
	}
	if m := readManifest(t, dir); len(m.Segments) != 0 {
		t.Fatalf("after sweeping everything MANIFEST lists %v", m.Segments)
	}
}
