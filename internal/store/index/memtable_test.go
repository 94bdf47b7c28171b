package index

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
)

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
