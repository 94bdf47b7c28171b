package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
)

// compressed waits until the compressor has compressed every full block of
// ix's memtable.
func compressed(ix *Index) {
	ix.mu.RLock()
	m := ix.mem
	ix.mu.RUnlock()
	m.pending.Wait()
}

// TestCompressorWhileLookingUp: while Apply hands full record blocks to
// the compressor, lookups by eventID (under the read lock, as the blocks
// are swapped) read every record applied so far back byte for byte; once
// it has caught up, every full block is compressed and reads back too.
func TestCompressorWhileLookingUp(t *testing.T) {
	ix := open(t, t.TempDir())
	const n = 4000
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{uint64(i + 1), ev(t, fmt.Sprintf("ev-%04d", i), i, event.CategoryMgmt)}
	}
	check := func(upto int) {
		t.Helper()
		for _, it := range items[:upto] {
			hits, _, err := ix.Lookup(Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, Attr: AttrEventID, Value: it.Event.EventID, End: t0.Unix() + n, Limit: 1})
			if err != nil || len(hits) != 1 || string(hits[0].Raw) != string(it.Event.Raw) {
				t.Fatalf("event %d: %d hits, %v", it.Seq, len(hits), err)
			}
		}
	}
	done := make(chan struct{})
	var applied atomic.Int64
	go func() {
		defer close(done)
		for i := 0; i < n; i += 50 {
			if err := ix.Apply(items[i : i+50]); err != nil {
				t.Error(err)
				return
			}
			applied.Store(int64(i + 50))
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		check(int(applied.Load()))
	}
	compressed(ix)
	ix.mu.RLock()
	full, raw := 0, 0
	for _, b := range ix.mem.blocks {
		if b.full {
			full++
			if b.comp == nil || b.raw != nil {
				raw++
			}
		}
	}
	ix.mu.RUnlock()
	if full == 0 || raw > 0 {
		t.Fatalf("%d full blocks, %d of them not compressed: want some, all compressed", full, raw)
	}
	check(n)
}

// TestMemtableBlocks checks that records in the memtable's compressed
// blocks read back, by attribute and by eventID, and that a flush after a
// sweep deleted some of them writes the rest (a block is written again
// without its deleted records).
func TestMemtableBlocks(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	const n = 3000
	var items []Item
	var want []string
	for i := range n {
		id := fmt.Sprintf("ev-%04d", i)
		items = append(items, Item{uint64(i + 1), ev(t, id, i, event.CategoryMgmt)})
		want = append(want, id)
	}
	slices.Reverse(want)
	if err := ix.Apply(items); err != nil {
		t.Fatal(err)
	}
	compressed(ix)
	ix.mu.RLock()
	compressed := slices.IndexFunc(ix.mem.blocks, func(b memBlock) bool { return b.comp != nil && b.raw == nil })
	ix.mu.RUnlock()
	if compressed < 0 {
		t.Fatal("no memtable block was compressed: the test applies too little")
	}
	q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, End: t0.Unix() + n, Limit: n}
	lookup := func(want []string) {
		t.Helper()
		for _, attr := range []struct {
			attr  byte
			value string
		}{{0, ""}, {AttrEventName, "GetObject"}} {
			q := q
			q.Attr, q.Value = attr.attr, attr.value
			hits, _, err := ix.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, hitIDs(t, hits)); diff != "" {
				t.Fatalf("attr %d (-want +got):\n%s", attr.attr, diff)
			}
		}
		for _, id := range []string{"ev-0000", "ev-1499", "ev-1500", "ev-2999"} {
			q := q
			q.Attr, q.Value = AttrEventID, id
			hits, _, err := ix.Lookup(q)
			if err != nil {
				t.Fatal(err)
			}
			var w []string
			if slices.Contains(want, id) {
				w = []string{id}
			}
			if diff := cmp.Diff(w, hitIDs(t, hits)); diff != "" {
				t.Fatalf("EventId %s (-want +got):\n%s", id, diff)
			}
		}
	}
	lookup(want)
	// A record read from the open block stays whole while more records
	// fill the block and its buffer takes the next one.
	newest, _, err := ix.Lookup(Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, End: t0.Unix() + n, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	kept := hitIDs(t, newest)
	var more []Item
	for i := range 400 {
		more = append(more, Item{uint64(n + i + 1), ev(t, fmt.Sprintf("later-%04d", i), n+1000+i, event.CategoryMgmt)})
	}
	if err := ix.Apply(more); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ev-2999"}, kept); diff != "" || !slices.Equal(hitIDs(t, newest), kept) {
		t.Fatalf("a record read from the open block changed: %v, then %v", kept, hitIDs(t, newest))
	}
	// Delete the first half, still in the memtable, then flush.
	if _, err := ix.Sweep(t0.Unix() + n/2); err != nil {
		t.Fatal(err)
	}
	lookup(want[:n/2])
	if _, err := ix.Sync(); err != nil {
		t.Fatal(err)
	}
	lookup(want[:n/2])
	ix.Close()
	ix = open(t, dir)
	lookup(want[:n/2])
	if res := ix.Verify(); len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	// The flush wrote no deleted record.
	records := 0
	for _, sg := range ix.segs {
		for i := range segBlocks(t, sg) {
			b, err := sg.block(false, i)
			if err != nil {
				t.Fatal(err)
			}
			forEachRecord(b, segBlocks(t, sg)[i].first, func(uint64, []byte) bool { records++; return true })
		}
	}
	if records != n/2+len(more) {
		t.Fatalf("the segments hold %d records, want %d", records, n/2+len(more))
	}
}

// TestMemtableOutOfOrder: events applied out of time order leave the
// memtable's postings unsorted; lookups, interleaved with applies of
// sizes below and above unsortedTail, return the newest events of the
// range as a sort of everything would (the byTime view and its catch-up
// merge).
func TestMemtableOutOfOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	ix := open(t, t.TempDir())
	type rec struct {
		id       string
		sec, seq int
	}
	var model []rec
	seq := 0
	for round := range 30 {
		n := rng.IntN(3 * unsortedTail)
		if round%3 == 0 {
			n = rng.IntN(50)
		}
		items := make([]Item, 0, n)
		for range n {
			seq++
			r := rec{fmt.Sprintf("ev-%05d", seq), rng.IntN(4000), seq}
			model = append(model, r)
			items = append(items, Item{uint64(seq), ev(t, r.id, r.sec, event.CategoryMgmt)})
		}
		if err := ix.Apply(items); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(model, func(a, b rec) int {
			if a.sec != b.sec {
				return b.sec - a.sec
			}
			return b.seq - a.seq
		})
		for range 4 {
			start := rng.IntN(4000)
			end := start + rng.IntN(4000-start+1)
			limit := 1 + rng.IntN(60)
			var want []string
			for _, r := range model {
				if r.sec >= start && r.sec <= end && len(want) < limit {
					want = append(want, r.id)
				}
			}
			for _, attr := range []struct {
				attr  byte
				value string
			}{{0, ""}, {AttrEventName, "GetObject"}} {
				q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, Attr: attr.attr, Value: attr.value,
					Start: t0.Unix() + int64(start), End: t0.Unix() + int64(end), Limit: limit}
				hits, _, err := ix.Lookup(q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, hitIDs(t, hits)); diff != "" {
					t.Fatalf("round %d, attr %d, range [%d, %d], limit %d (-want +got):\n%s", round, attr.attr, start, end, limit, diff)
				}
			}
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.imm != nil || len(ix.mem.recs) != seq {
		t.Fatalf("the memtable holds %d of %d events: the test meant to look up in one memtable", len(ix.mem.recs), seq)
	}
}
