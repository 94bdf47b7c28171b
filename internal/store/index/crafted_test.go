package index

// Segments with bad values under valid checksums, as a writer bug or a
// crafted file would make them. The three TestCrafted... tests failed at
// commit c085d69 (a panic, an unbounded allocation, bounds checks that
// overflow, footer fields no check covered); the comment on each says how.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/event"
)

// craftHooks tamper with a segment while craftSegment writes it, so that
// the file carries bad values under valid checksums (as a writer bug or a
// crafted file would).
type craftHooks struct {
	records  func(sw *segWriter) // after the record blocks are written
	postings func(sw *segWriter) // after the posting lists, before the directory block is written
	ids      func(sw *segWriter) // after the eventID table, before the meta section
}

// craftSegment writes items as segment 1 of an index in dir, as a flush
// would, calling the hooks on the way, and a MANIFEST listing it.
func craftSegment(t *testing.T, dir string, items []Item, h craftHooks) string {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	rec := plainCodec(t)
	m := newMemtable(rec, enc, nil)
	for _, it := range items {
		m.add(it.Seq, it.Event, nil)
	}
	path := filepath.Join(dir, segName(1))
	sw, err := newSegWriter(path, enc, rec, items[0].Seq, len(items))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		sw.addRecord(it.Seq, it.Event.Raw)
	}
	sw.finishBlock()
	if h.records != nil {
		h.records(sw)
	}
	for _, k := range m.sortedKeys() {
		if err := sw.addPosting([]byte(k), m.entries(m.post[k], &filter{lo: noCut, check: noCut}, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if h.postings != nil {
		h.postings(sw)
	}
	type idEnt struct{ h, seq uint64 }
	var ids []idEnt
	for _, r := range m.recs {
		ids = append(ids, idEnt{r.h, r.seq})
	}
	slices.SortFunc(ids, func(a, b idEnt) int {
		if a.h != b.h {
			return cmpU64(a.h, b.h)
		}
		return cmpU64(a.seq, b.seq)
	})
	for _, e := range ids {
		if err := sw.addID(e.h, e.seq); err != nil {
			t.Fatal(err)
		}
	}
	if h.ids != nil {
		h.ids(sw)
	}
	last := items[len(items)-1].Seq
	if err := sw.finish(last); err != nil {
		t.Fatal(err)
	}
	writeManifestFile(t, dir, manifest{Version: manifestVersion, Checkpoint: last, NextFile: 2, Segments: []string{segName(1)}})
	return path
}

// rawDirEntry is a directory entry with every field as it is encoded.
type rawDirEntry struct {
	keyLen               uint64
	key                  []byte
	off, entries, chunks uint64
	crc                  uint32
}

// editDirectory rewrites the unwritten directory block of sw, calling edit
// on each entry.
func editDirectory(t *testing.T, sw *segWriter, edit func(e *rawDirEntry)) {
	t.Helper()
	var out []byte
	b := sw.dirBuf
	for len(b) > 0 {
		e, rest, ok := parseDirEntry(b, math.MaxInt64, math.MaxInt)
		if !ok {
			t.Fatal("directory block does not parse")
		}
		r := rawDirEntry{uint64(len(e.key)), bytes.Clone(e.key), uint64(e.off), uint64(e.entries), uint64(e.chunks), e.crc}
		edit(&r)
		out = binary.AppendUvarint(out, r.keyLen)
		out = append(out, r.key...)
		out = binary.AppendUvarint(out, r.off)
		out = binary.AppendUvarint(out, r.entries)
		out = binary.AppendUvarint(out, r.chunks)
		out = binary.LittleEndian.AppendUint32(out, r.crc)
		b = rest
	}
	sw.dirBuf = out
}

func craftItems(t *testing.T) []Item {
	return []Item{{1, ev(t, "c1", 1, event.CategoryMgmt)}, {2, ev(t, "c2", 2, event.CategoryMgmt)}, {3, ev(t, "c3", 3, event.CategoryMgmt)}}
}

// TestCraftSegment checks craftSegment without tampering: the failures the
// tests below look for come from their edits alone.
func TestCraftSegment(t *testing.T) {
	dir := t.TempDir()
	items := craftItems(t)
	var edited bool
	path := craftSegment(t, dir, items, craftHooks{postings: func(sw *segWriter) {
		editDirectory(t, sw, func(e *rawDirEntry) { edited = true })
	}})
	if !edited {
		t.Fatal("no directory entries to edit")
	}
	ix := open(t, dir)
	hits, err := lookupAll(ix)
	if err != nil {
		t.Fatal(err)
	}
	if got := hitIDs(t, hits); !sameStrings(got, []string{"c3", "c2", "c1"}) {
		t.Fatalf("lookup: %v", got)
	}
	if has, _, err := ix.HasEventIDs([]EventKey{{testAcct, "us-east-1", "c2", 0}}); err != nil || !has[0] {
		t.Fatalf("HasEventIDs = %v, %v", has, err)
	}
	ix.Close()
	if err := inspect(t, path).verify(nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// lookupAll runs a lookup of every management event of the partition,
// turning a panic into an error mentioning it.
func lookupAll(ix *Index) (hits []Hit, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PANIC: %v", r)
		}
	}()
	hits, _, err = ix.Lookup(allQuery("us-east-1", KindManagement))
	return hits, err
}

// TestCraftedDirEntryBounded: a directory entry's fields must be checked
// before use. The directory block's zstd checksum guards only against
// accidental damage; at c085d69 a segment with valid checksums but a bad
// entry made a lookup panic or allocate what the entry said:
//
//   - parseDirEntry read the key length with r.take(int(r.uvarint())); a
//     length >= 2^63 is negative as an int, metaReader.take's check
//     len(r.b) < n passed and r.b[:n] panicked ("slice bounds out of
//     range"); a large positive one (2^40) reached make([]byte, n) on the
//     fail path: a fatal out-of-memory (not exercised here).
//   - its check chunks == (entries+127)/128 overflowed for entries near
//     MaxInt64, so a negative chunk count passed and headers' readAt(off,
//     chunks*24) panicked in make ("len out of range").
//   - nothing bounded the offset, the entry count or the chunk ends by the
//     file: entries = 2^27 in a 1 KiB file made a lookup allocate 24 MiB
//     before the read failed (2^35: 768 GiB).
//
// Wanted: the damage found (the segment quarantined), no panic, no
// allocation beyond the file.
func TestCraftedDirEntryBounded(t *testing.T) {
	attr0 := appendKey(nil, partName(testAcct, "us-east-1"), KindManagement, 0, "")
	overflowEntries := math.MaxInt64
	overflowChunks := (overflowEntries + chunkEntries - 1) / chunkEntries // wraps negative, as in parseDirEntry
	for _, c := range []struct {
		name string
		edit func(e *rawDirEntry)
	}{
		{"key length 2^63", func(e *rawDirEntry) {
			if bytes.Equal(e.key, attr0) {
				e.keyLen = 1 << 63
			}
		}},
		{"entries MaxInt64", func(e *rawDirEntry) {
			if bytes.Equal(e.key, attr0) {
				e.entries, e.chunks = uint64(overflowEntries), uint64(overflowChunks)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := craftSegment(t, dir, craftItems(t), craftHooks{postings: func(sw *segWriter) { editDirectory(t, sw, c.edit) }})
			ix := open(t, dir)
			_, err := lookupAll(ix)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			wantQuarantined(t, ix, path, "")
		})
	}
	t.Run("entries 2^27 allocates", func(t *testing.T) {
		dir := t.TempDir()
		path := craftSegment(t, dir, craftItems(t), craftHooks{postings: func(sw *segWriter) {
			editDirectory(t, sw, func(e *rawDirEntry) {
				if bytes.Equal(e.key, attr0) {
					e.entries = 1 << 27
					e.chunks = (e.entries + chunkEntries - 1) / chunkEntries
				}
			})
		}})
		ix := open(t, dir)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := lookupAll(ix)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		wantQuarantined(t, ix, path, "")
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("a lookup in a %d-byte segment allocated %d MiB", fileSize(t, path), alloc>>20)
		}
	})
}

// TestCraftedMetaBoundsOverflow: load's bounds checks on the sections the
// meta section locates must not overflow. At c085d69 they added offset and
// length in int64 ("b.off < 0 || b.off+int64(b.n) > metaOff" for record
// and directory blocks, "sg.idsOff+int64(sg.idCount)*idEntryLen >
// metaOff" for the eventID table), so an offset near MaxInt64 passed and
// openSegment accepted the file; reads then allocated the section's length
// (up to 4 GiB for a block) before failing at EOF. The meta section is
// CRC-checked, so this takes a crafted or mis-written file.
func TestCraftedMetaBoundsOverflow(t *testing.T) {
	for _, c := range []struct {
		name  string
		hooks craftHooks
	}{
		{"record block", craftHooks{records: func(sw *segWriter) { sw.blocks[0].off = math.MaxInt64 }}},
		{"directory block", craftHooks{ids: func(sw *segWriter) { sw.dirIdx[0].off = math.MaxInt64 }}},
		{"eventID table", craftHooks{ids: func(sw *segWriter) { sw.idsOff = math.MaxInt64 }}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := craftSegment(t, dir, craftItems(t), c.hooks)
			sg, err := openSegment(path, 1, newBlockCache(1<<20), testCodecs(t))
			if err == nil {
				sg.release()
			}
			wantCorruption(t, err, path)
		})
	}
}

// TestCraftedFooterSeqRange: the footer's first and last sequence numbers
// must be checked. At c085d69 the CRC covered the meta section only and
// load did not compare the footer with the block table, so a damaged
// footer opened without error and then:
//
//   - first: eventID entries hold seq-first, so every id resolved to the
//     wrong record and HasEventIDs said false, with no error, for every
//     event of the segment (the import's duplicate probe lets duplicates
//     in).
//   - last: writeMerged ends the segment's last record block at sg.last+1;
//     with last below the block's first seq the merge dropped the block
//     but kept its posting entries, so every lookup of the partition then
//     failed ("posting names record N, which is missing"): records lost.
func TestCraftedFooterSeqRange(t *testing.T) {
	t.Run("first", func(t *testing.T) {
		dir := t.TempDir()
		items := richItems(t, 1, 30, 0)
		path := buildOneSegment(t, dir, items)
		size := fileSize(t, path)
		flipByte(t, path, size-footerLen+16)
		ix, err := Open(dir, Options{ScrubPause: -1})
		if err == nil {
			defer ix.Close()
			if ix.QuarantineCount() == 1 {
				wantQuarantined(t, ix, path, "checksum")
				return
			}
			keys := make([]EventKey, len(items))
			for i, it := range items {
				keys[i] = EventKey{testAcct, it.Event.Region, it.Event.EventID, 0}
			}
			has, _, herr := ix.HasEventIDs(keys)
			missed := 0
			for _, h := range has {
				if !h {
					missed++
				}
			}
			t.Errorf("Open accepted a footer whose first seq is damaged; HasEventIDs then says %d of %d stored ids are absent (err %v)", missed, len(keys), herr)
			return
		}
		wantCorruption(t, err, path)
	})
	t.Run("last", func(t *testing.T) {
		dir := t.TempDir()
		ix := open(t, dir)
		applySync(t, ix, richItems(t, 1, 10, 0))   // seqs 1..10 at 0..9 s
		applySync(t, ix, richItems(t, 11, 10, 10)) // seqs 11..20 at 10..19 s
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		m := readManifest(t, dir)
		path := filepath.Join(dir, m.Segments[1])
		editFile(t, path, func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[len(b)-footerLen+24:], 10) // last := first-1
			return b
		})
		ix, err := Open(dir, Options{ScrubPause: -1})
		if err != nil {
			wantCorruption(t, err, path)
			return
		}
		defer ix.Close()
		if ix.QuarantineCount() == 1 {
			wantQuarantined(t, ix, path, "checksum")
			if hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err != nil || len(hits) != len(idsOf(richItems(t, 1, 10, 0), "us-east-1", KindManagement)) {
				t.Errorf("the other segment serves %d hits, %v", len(hits), err)
			}
			return
		}
		// A sweep that leaves part of the first segment makes the merge
		// filter blocks.
		if _, err := ix.Sweep(t0.Unix() + 5); err != nil {
			t.Fatal(err)
		}
		if err := ix.Compact(); err != nil {
			t.Fatal(err)
		}
		hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
		t.Errorf("Open accepted a footer with last < first; after Sweep and Compact a lookup returns %d hits, err %v", len(hits), err)
	})
}
