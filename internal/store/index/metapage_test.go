package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// segBlocks returns a segment's record block table, read from its file.
func segBlocks(t testing.TB, sg *segment) []blockRef {
	t.Helper()
	var out []blockRef
	if err := sg.eachBlock(func(_ int, b blockRef, _ uint64) error {
		out = append(out, b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// segBloom returns a segment's bloom filter, read from its file.
func segBloom(t testing.TB, sg *segment) bloom {
	t.Helper()
	b, err := sg.readAt(sg.bloomTab.off, sg.bloomWords*8)
	if err != nil {
		t.Fatal(err)
	}
	out := make(bloom, sg.bloomWords)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return out
}

// The block table and the bloom filter are read from the file after Open
// checked them: a page damaged since is caught by its CRC-32C, and the
// segment is quarantined like any other damage read while serving.
func TestMetaPagesDamagedAfterOpen(t *testing.T) {
	pristine := t.TempDir()
	items := richItems(t, 1, 60, 0)
	name := filepath.Base(buildOneSegment(t, pristine, items))
	ev := items[0].Event
	for _, c := range []struct {
		name  string
		off   func(sg *segment) int64
		probe func(ix *Index) error
	}{
		{"block table", func(sg *segment) int64 { return sg.blockTab.off + 2 }, func(ix *Index) error {
			_, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
			return err
		}},
		{"bloom filter", func(sg *segment) int64 {
			return sg.bloomTab.off + int64(bloomBlock(idHash(partName(ev.Account, ev.Region), ev.EventID), sg.bloomTab.n)*64)
		}, func(ix *Index) error {
			has, _, err := ix.HasEventIDs([]EventKey{{ev.Account, ev.Region, ev.EventID, 0}})
			if err == nil && has[0] {
				t.Error("HasEventIDs found the event in a damaged segment")
			}
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			path := filepath.Join(dir, name)
			ix := open(t, dir)
			ix.mu.RLock()
			sg := ix.segs[0]
			ix.mu.RUnlock()
			flipByte(t, path, c.off(sg))
			var err error
			mustNotPanic(t, c.name, func() { err = c.probe(ix) })
			if err != nil {
				t.Fatalf("got %v; want no error (the damaged segment quarantined)", err)
			}
			wantQuarantined(t, ix, path, "meta section page 0 of table at")
		})
	}
}

// Pages are read through the block cache and give what the meta section
// holds: every record block's entry, found by index and by sequence
// number, and the bloom filter, for segments of one page and of several.
func TestMetaPagesMatchTables(t *testing.T) {
	for _, n := range []int{1, 60, 40000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			items := richItems(t, 1, n, 0)
			sg := inspect(t, buildOneSegment(t, dir, items))
			blocks := segBlocks(t, sg)
			if len(blocks) != sg.blockTab.n || len(sg.blockTab.crcs) != sg.blockTab.pages() {
				t.Fatalf("%d blocks, table of %d in %d pages with %d CRCs", len(blocks), sg.blockTab.n, sg.blockTab.pages(), len(sg.blockTab.crcs))
			}
			for i, want := range blocks {
				got, err := sg.blockRef(i)
				if err != nil || got != want {
					t.Fatalf("blockRef(%d) = %+v, %v; want %+v", i, got, err, want)
				}
				for _, seq := range []uint64{want.first, want.first + 1} {
					j, got, err := sg.findBlock(seq)
					if i+1 < len(blocks) && seq >= blocks[i+1].first {
						continue
					}
					if err != nil || j != i || got != want {
						t.Fatalf("findBlock(%d) = %d %+v, %v; want %d", seq, j, got, err, i)
					}
				}
			}
			if j, _, err := sg.findBlock(blocks[0].first - 1); j != -1 || err != nil {
				t.Errorf("findBlock before the first block = %d, %v; want -1", j, err)
			}
			if n == 40000 && (sg.blockTab.pages() < 2 || sg.bloomTab.pages() < 2) {
				t.Fatalf("%d block table pages, %d bloom filter pages; want several of each", sg.blockTab.pages(), sg.bloomTab.pages())
			}
			t.Logf("%d directory blocks in %d pages", sg.dirCount, len(sg.dirPages))
			for i, want := range segDirIdx(t, sg) {
				got, err := sg.dirRef(i)
				if err != nil || !bytes.Equal(got.first, want.first) || got.off != want.off || got.n != want.n {
					t.Fatalf("dirRef(%d) = %+v, %v; want %+v", i, got, err, want)
				}
				if j, err := sg.findDir(want.first); j != i || err != nil {
					t.Fatalf("findDir(first key of block %d) = %d, %v", i, j, err)
				}
			}
			bl := segBloom(t, sg)
			for _, it := range items {
				h := idHash(partName(it.Event.Account, it.Event.Region), it.Event.EventID)
				got, err := sg.mayContain(h)
				if err != nil || !got || !bl.mayContain(h) {
					t.Fatalf("mayContain(%x) = %v, %v (the filter in memory: %v); want true", h, got, err, bl.mayContain(h))
				}
			}
			for h := range uint64(2000) {
				h *= 0x9e3779b97f4a7c15
				if got, err := sg.mayContain(h); err != nil || got != bl.mayContain(h) {
					t.Fatalf("mayContain(%x) = %v, %v; the filter in memory says %v", h, got, err, bl.mayContain(h))
				}
			}
		})
	}
}

// A duplicate probe with a time reads only the segments whose time range
// for the partition holds it: a segment of older events, its bloom filter
// damaged, is not read (and not quarantined) until a probe at one of its
// times reads it.
func TestHasEventIDsSkipsSegmentsOutsideTheTime(t *testing.T) {
	dir := t.TempDir()
	items := richItems(t, 1, 60, 0)
	path := buildOneSegment(t, dir, items)
	ix := open(t, dir)
	ix.mu.RLock()
	sg := ix.segs[0]
	ix.mu.RUnlock()
	for p := range sg.bloomTab.pages() {
		flipByte(t, path, sg.bloomTab.off+int64(p*metaPage))
	}
	ev := items[0].Event
	later := EventKey{ev.Account, ev.Region, ev.EventID, items[len(items)-1].Event.EventTime.Unix() + 1}
	has, _, err := ix.HasEventIDs([]EventKey{later})
	if err != nil || has[0] {
		t.Fatalf("HasEventIDs after the segment's events = %v, %v; want false, no error", has, err)
	}
	if n := ix.QuarantineCount(); n != 0 {
		t.Fatalf("%d segments quarantined: the probe read a segment outside its time", n)
	}
	if _, _, err := ix.HasEventIDs([]EventKey{{ev.Account, ev.Region, ev.EventID, ev.EventTime.Unix()}}); err != nil {
		t.Fatal(err)
	}
	wantQuarantined(t, ix, path, "meta section page 0 of table at")
}

// metaChecksum covers the meta section and the footer's first 36 bytes.
func metaChecksum(meta, footer []byte) uint32 {
	return crc32.Update(crc32.Checksum(meta, castagnoli), castagnoli, footer[:36])
}

// A writer that moves its block table, directory index and bloom filter
// to spill files writes the same segment, byte for byte, as one that
// holds them, and leaves no spill file behind.
func TestSegmentWriterSpills(t *testing.T) {
	items := richItems(t, 1, 20000, 0)
	build := func(entries, mem int) []byte {
		oldE, oldM := spillEntries, spillMem
		spillEntries, spillMem = entries, mem
		defer func() { spillEntries, spillMem = oldE, oldM }()
		dir := t.TempDir()
		path := buildOneSegment(t, dir, items)
		if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) > 0 {
			t.Errorf("spill files left: %v", left)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	held := build(1<<30, 1<<30)
	for _, c := range []struct{ entries, mem int }{{1, 100}, {3, 1 << 30}, {1 << 30, 64}} {
		if got := build(c.entries, c.mem); !bytes.Equal(got, held) {
			t.Errorf("spilling %d entries, %d bytes in memory: the segment differs (%d bytes, want %d)", c.entries, c.mem, len(got), len(held))
		}
	}
}

// segDirIdx returns a segment's directory index, read from its file.
func segDirIdx(t testing.TB, sg *segment) []dirRef {
	t.Helper()
	var out []dirRef
	for p := range sg.dirPages {
		refs, err := sg.dirPageRefs(p, false)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, refs...)
	}
	return out
}

// A directory index of several pages (an entry per directory block; here
// a block per about 150 keys, an AccessKeyId list per event) reads the
// same through pages as Open parsed it, and a page damaged after Open is
// caught.
func TestDirIndexPages(t *testing.T) {
	dir := t.TempDir()
	var items []Item
	for i := range 25000 {
		b, err := json.Marshal(map[string]any{"eventVersion": "1.08", "eventTime": event.FormatTime(t0.Add(time.Duration(i) * time.Second)),
			"eventID": fmt.Sprintf("k-%05d", i), "awsRegion": "us-east-1", "recipientAccountId": testAcct, "eventSource": "s3.amazonaws.com",
			"eventName": "GetObject", "userIdentity": map[string]any{"type": "IAMUser", "accessKeyId": fmt.Sprintf("AKIAUNIQUE%010d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		e, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Item{uint64(i + 1), &e})
	}
	path := buildOneSegment(t, dir, items)
	ix := open(t, dir)
	ix.mu.RLock()
	sg := ix.segs[0]
	ix.mu.RUnlock()
	if len(sg.dirPages) < 2 {
		t.Fatalf("%d directory blocks in %d pages; want several pages", sg.dirCount, len(sg.dirPages))
	}
	all := segDirIdx(t, sg)
	if len(all) != sg.dirCount {
		t.Fatalf("%d entries in the pages, %d directory blocks", len(all), sg.dirCount)
	}
	for i, want := range all {
		if j, err := sg.findDir(want.first); j != i || err != nil {
			t.Fatalf("findDir(first key of block %d) = %d, %v", i, j, err)
		}
	}
	q := Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Attr: AttrAccessKeyID, Start: 0, End: 1 << 40, Limit: 5}
	for _, i := range []int{0, 12345, 24999} {
		q.Value = fmt.Sprintf("AKIAUNIQUE%010d", i)
		hits, _, err := ix.Lookup(q)
		if err != nil || len(hits) != 1 || hits[0].Seq != uint64(i+1) {
			t.Fatalf("Lookup(%s) = %v, %v; want seq %d", q.Value, hits, err, i+1)
		}
	}
	// Damage the last page, out of the cache, and look up a key on it.
	last := len(sg.dirPages) - 1
	ix.cache.drop(sg.num)
	flipByte(t, path, sg.dirPages[last].off+1)
	q.Value = fmt.Sprintf("AKIAUNIQUE%010d", 24999)
	if _, _, err := ix.Lookup(q); err != nil {
		t.Fatal(err)
	}
	wantQuarantined(t, ix, path, fmt.Sprintf("meta section page %d of the directory index", last))
}

// The block cache's budget counts what its blocks take on the heap: a
// record block of a little more than 32 KiB takes 40 KiB.
func TestBlockCacheCountsHeapSize(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		want int64
	}{
		{"small", 100, 100},
		{"32 KiB", 32 << 10, 32 << 10},
		{"a record block", 33 << 10, 40 << 10},
		{"64 KiB", 64 << 10, 64 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := heapSize(make([]byte, c.n)); got != c.want {
				t.Errorf("heapSize(%d bytes) = %d, want %d", c.n, got, c.want)
			}
		})
	}
	c := newBlockCache(400 << 10)
	for i := range 20 {
		c.put(cacheKey{1, cacheRecord, i}, make([]byte, 33<<10))
	}
	if c.size > c.max || len(c.items) != 10 {
		t.Errorf("%d blocks of 33 KiB, %d bytes counted, in a cache of %d; want 10", len(c.items), c.size, c.max)
	}
}
