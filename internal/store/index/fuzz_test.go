package index

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/event"
)

// seedSegments returns real segment files made by the writer: a flush of
// varied events, a flush with multi-chunk posting lists spanning several
// record blocks, a merge (Compact) of three flushes after a sweep, so
// that the merge drops entries and blocks (its record blocks use a record
// dictionary), and a version-1 segment (testdata/index-v1).
func seedSegments(tb testing.TB) [][]byte {
	tb.Helper()
	build := func(batches [][]Item, sweep int64, compact bool) []byte {
		dir := tb.TempDir()
		ix, err := Open(dir, DefaultOptions())
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range batches {
			if err := ix.Apply(b); err != nil {
				tb.Fatal(err)
			}
			if _, err := ix.Sync(); err != nil {
				tb.Fatal(err)
			}
		}
		if sweep != 0 {
			if _, err := ix.Sweep(sweep); err != nil {
				tb.Fatal(err)
			}
		}
		if compact {
			if err := ix.Compact(); err != nil {
				tb.Fatal(err)
			}
		}
		if err := ix.Close(); err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, manifestName))
		if err != nil {
			tb.Fatal(err)
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			tb.Fatal(err)
		}
		if len(m.Segments) != 1 {
			tb.Fatalf("seed index has segments %v, want one", m.Segments)
		}
		seg, err := os.ReadFile(filepath.Join(dir, m.Segments[0]))
		if err != nil {
			tb.Fatal(err)
		}
		return seg
	}
	// Long lists: more than chunkEntries events of one partition and
	// name, and records big enough for two blocks (they compress well).
	var long []Item
	for i := range 150 {
		raw := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventID":"long-%d","awsRegion":"us-east-1","recipientAccountId":%q,`+
			`"eventSource":"s3.amazonaws.com","eventName":"GetObject","readOnly":true,"pad":%q}`,
			event.FormatTime(t0.Add(time.Duration(i/2)*time.Second)), i, testAcct, strings.Repeat(string(rune('a'+i%26)), 300))
		e, err := event.Parse([]byte(raw))
		if err != nil {
			tb.Fatal(err)
		}
		long = append(long, Item{uint64(1000 + i), &e})
	}
	v1, err := os.ReadFile(filepath.Join("testdata", "index-v1", "0000000000000001.seg"))
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{
		build([][]Item{richItems(tb, 1, 50, 0)}, 0, false),
		build([][]Item{long}, 0, false),
		build([][]Item{richItems(tb, 100, 20, 0), richItems(tb, 120, 20, 10), richItems(tb, 140, 15, 5)}, t0.Unix()+8, true),
		v1,
	}
}

// probes are the keys and eventID hashes the fuzz body looks up: every one
// in the seeds plus some that are in none.
type probes struct {
	keys   [][]byte
	hashes []uint64
}

func collectProbes(tb testing.TB, seeds [][]byte, dec *codecs) probes {
	var p probes
	seen := map[string]bool{}
	for i, b := range seeds {
		path := filepath.Join(tb.TempDir(), "seed.seg")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		sg, err := openSegment(path, uint64(i+1), newBlockCache(1<<20), dec)
		if err != nil {
			tb.Fatalf("seed %d does not open: %v", i, err)
		}
		it := &dirIter{sg: sg}
		for it.next() {
			if !seen[string(it.cur.key)] {
				seen[string(it.cur.key)] = true
				p.keys = append(p.keys, bytes.Clone(it.cur.key))
			}
		}
		if it.err != nil {
			tb.Fatal(it.err)
		}
		ids := sg.idIterator()
		for ids.next() {
			p.hashes = append(p.hashes, ids.h)
		}
		if ids.err != nil {
			tb.Fatal(ids.err)
		}
		sg.release()
	}
	part := partName(testAcct, "us-east-1")
	for _, k := range [][]byte{
		nil, {}, {0}, {0xff, 0xff, 0xff}, []byte("zzz"),
		appendKey(nil, part, KindManagement, 0, ""),
		appendKey(nil, part, KindManagement, AttrEventName, "NoSuchName"),
		appendKey(nil, part, KindInsight, AttrAccessKeyID, ""),
		appendKey(nil, partName("000000000000", "aa-none-1"), KindManagement, 0, ""),
	} {
		p.keys = append(p.keys, k)
	}
	p.hashes = append(p.hashes, 0, 1, math.MaxUint64, idHash(part, "r-0001"), idHash(part, "absent"))
	return p
}

// resealMeta returns b with its footer's checksum (of the meta section and
// the footer's fields) recomputed, or nil
// when the footer does not delimit a meta section or the checksum is
// already right. It lets the fuzzer past the CRC into the meta parser.
func resealMeta(b []byte) []byte {
	if len(b) < len(segMagic)+footerLen {
		return nil
	}
	ft := b[len(b)-footerLen:]
	metaOff := binary.LittleEndian.Uint64(ft[0:])
	metaLen := binary.LittleEndian.Uint64(ft[8:])
	end := uint64(len(b) - footerLen)
	if metaOff < uint64(len(segMagic)) || metaOff > end || metaLen != end-metaOff {
		return nil
	}
	crc := metaChecksum(b[metaOff:end], ft)
	if crc == binary.LittleEndian.Uint32(ft[36:]) {
		return nil
	}
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[len(c)-footerLen+36:], crc)
	return c
}

// newFuzzCodecs returns codecs whose decoders are limited to decodeLimit
// per frame, as in Open.
func newFuzzCodecs(tb testing.TB) *codecs {
	return testCodecs(tb)
}

// checkSegmentBytes writes b to path as a segment file and, if openSegment
// accepts it, reads it every way the index does. Errors are fine; they
// must be *CorruptionError (the file is whole and readable). Nothing may
// panic, and no call may allocate much more than the file's size, or, if
// it decodes zstd frames, than decodeLimit per frame.
func checkSegmentBytes(t *testing.T, path string, b []byte, pr probes, dec *codecs) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	heapAllocs := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	plain := uint64(16<<20 + 256*len(b)) // bound for a call that decodes no frame
	measure := func(what string, frames int, fn func()) {
		a := heapAllocs()
		fn()
		if d, limit := heapAllocs()-a, plain+uint64(frames)*2*decodeLimit; d > limit {
			t.Errorf("%s allocated %d MiB reading a %d-byte segment (limit %d MiB)", what, d>>20, len(b), limit>>20)
		}
	}
	var sg *segment
	var err error
	measure("openSegment", 0, func() { sg, err = openSegment(path, 1, newBlockCache(4<<20), dec) })
	if err != nil {
		var ce *CorruptionError
		if !errors.As(err, &ce) {
			t.Fatalf("openSegment: %v is not a *CorruptionError", err)
		}
		return
	}
	defer sg.release()
	size := uint64(len(b))
	// What load promises once it accepts the file: every section it
	// located lies within the file.
	for i, r := range segBlocks(t, sg) {
		if r.off < 0 || uint64(r.off) > size || uint64(r.n) > size-uint64(r.off) {
			t.Errorf("accepted record block %d at %d+%d in a %d-byte file", i, r.off, r.n, size)
		}
	}
	for i, r := range segDirIdx(t, sg) {
		if r.off < 0 || uint64(r.off) > size || uint64(r.n) > size-uint64(r.off) {
			t.Errorf("accepted directory block %d at %d+%d in a %d-byte file", i, r.off, r.n, size)
		}
	}
	if sg.idsOff < 0 || uint64(sg.idsOff) > size || uint64(sg.idCount)*idEntryLen > size-uint64(sg.idsOff) {
		t.Errorf("accepted an eventID table of %d entries at %d in a %d-byte file", sg.idCount, sg.idsOff, size)
	}
	if t.Failed() {
		return // reading would allocate what the bad bounds say
	}
	readErr := func(what string, err error) {
		var ce *CorruptionError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("%s: %v is not a *CorruptionError", what, err)
		}
	}
	top := pos{math.MaxInt64, math.MaxUint64}
	useList := func(e dirEntry) {
		measure("top", 0, func() { _, err = sg.top(nil, e, &filter{lo: 0, check: noCut}, top, 3) })
		if err != nil {
			readErr("top", err)
			return
		}
		var all []pos
		measure("all", 0, func() { all, err = sg.all(sg, e, nil) })
		readErr("all", err)
		if err == nil {
			if len(all) != e.entries {
				t.Errorf("all returned %d entries of a %d-entry list", len(all), e.entries)
			}
			if len(all) > 2 {
				mid := all[len(all)/2]
				measure("top below", 0, func() { _, err = sg.top(nil, e, &filter{lo: mid.t - 1, check: noCut}, mid, 200) })
				readErr("top below", err)
			}
		}
		measure("all (window)", 0, func() { all, err = sg.all(&window{sg: sg}, e, nil) })
		readErr("all (window)", err)
		if err == nil && len(all) != e.entries {
			t.Errorf("all (window) returned %d entries of a %d-entry list", len(all), e.entries)
		}
	}
	// find for every probe (top only: the walk below reads every list).
	for _, k := range pr.keys {
		var e dirEntry
		var ok bool
		measure("find", 1, func() { e, ok, err = sg.find(k) })
		readErr("find", err)
		if ok {
			measure("top", 0, func() { _, err = sg.top(nil, e, &filter{lo: 0, check: noCut}, top, 3) })
			readErr("top", err)
		}
	}
	it := &dirIter{sg: sg}
	for n := 0; n < 5000; n++ {
		var more bool
		measure("dirIter", 1, func() { more = it.next() })
		if !more {
			break
		}
		useList(it.cur)
	}
	readErr("dirIter", it.err)
	record := func(s uint64) {
		measure("record", 1, func() { _, err = sg.record(s) })
		readErr("record", err)
	}
	for _, s := range []uint64{0, sg.first - 1, sg.last + 1, math.MaxUint64} {
		record(s)
	}
	// Some records of each block, and of the gaps between.
	step := max(1, (sg.last-sg.first)/40)
	for s, n := sg.first, 0; n <= 41; n++ {
		record(s)
		if sg.last-s < step {
			break
		}
		s += step
	}
	measure("idIterator", 0, func() {
		ids := sg.idIterator()
		for n := 0; n < 5000 && ids.next(); n++ {
		}
	})
	for i, h := range pr.hashes {
		if i%8 == 0 || i >= len(pr.hashes)-5 {
			// One frame per candidate record; the table rarely has two.
			measure("eventByID", 4, func() { _, err = sg.eventByID(h, testAcct, "us-east-1", "r-0001", 0, nil) })
			readErr("eventByID", err)
		} else {
			measure("ids", 0, func() { _, err = sg.ids(h) })
			readErr("ids", err)
		}
	}
	for _, r := range [][2]int64{{0, math.MaxInt64}, {t0.Unix() + 5, t0.Unix() + 20}} {
		// A sweep that cuts through the segment's sequence range.
		sw := sweeps{{Seq: sg.first + (sg.last-sg.first)/2, Before: r[0]}}
		measure("countVisible", 1+len(sg.parts), func() { _, err = sg.countVisible(sw, r[1]) })
		readErr("countVisible", err)
	}
	// fsck's whole-segment check reads damaged files by design.
	measure("verify", len(segBlocks(t, sg))+len(segDirIdx(t, sg)), func() { err = sg.verify(nil) })
	readErr("verify", err)
}

// FuzzSegment feeds mutated segment files to the reader. Each input is
// also tried with its meta checksum fixed, so mutations reach the meta
// parser; the record blocks, directory blocks and posting lists keep their
// own checksums.
func FuzzSegment(f *testing.F) {
	dec := newFuzzCodecs(f)
	seeds := seedSegments(f)
	pr := collectProbes(f, seeds, dec)
	for _, s := range seeds {
		f.Add(s)
	}
	// One file, rewritten by each call: calls in a process do not overlap.
	path := filepath.Join(f.TempDir(), "0000000000000001.seg")
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSegmentBytes(t, path, b, pr, dec)
		if r := resealMeta(b); r != nil {
			checkSegmentBytes(t, path, r, pr, dec)
		}
	})
}

// TestFuzzSeedsRead makes sure the fuzz body reads the seeds through:
// every probe key of a seed is found and its lists decode.
func TestFuzzSeedsRead(t *testing.T) {
	dec := newFuzzCodecs(t)
	seeds := seedSegments(t)
	pr := collectProbes(t, seeds, dec)
	if len(pr.keys) < 80 || len(pr.hashes) < 240 {
		t.Fatalf("probes: %d keys, %d hashes", len(pr.keys), len(pr.hashes))
	}
	for i, b := range seeds {
		path := filepath.Join(t.TempDir(), "0000000000000001.seg")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sg := inspect(t, path)
		t.Logf("seed %d: %d bytes, seqs %d..%d, %d events, %d blocks, %d directory blocks, %d ids", i, len(b), sg.first, sg.last, sg.events, len(segBlocks(t, sg)), len(segDirIdx(t, sg)), sg.idCount)
		multi := false
		it := &dirIter{sg: sg}
		for it.next() {
			all, err := sg.all(sg, it.cur, nil)
			if err != nil || len(all) != it.cur.entries {
				t.Fatalf("seed %d: list %q: %d entries, %v", i, it.cur.key, len(all), err)
			}
			multi = multi || it.cur.chunks > 1
		}
		if it.err != nil {
			t.Fatal(it.err)
		}
		if i == 1 && (!multi || len(segBlocks(t, sg)) < 2 || sg.events != 150) {
			t.Errorf("seed 1: %d blocks, multi-chunk lists %v; want both", len(segBlocks(t, sg)), multi)
		}
		if i == 2 && sg.codec.dict == nil {
			t.Errorf("seed 2 has no record dictionary")
		}
		if want := map[bool]int{true: 1, false: 2}[i == 3]; sg.version != want {
			t.Errorf("seed %d: version %d, want %d", i, sg.version, want)
		}
		for s := sg.first; s <= sg.last; s++ {
			raw, err := sg.record(s)
			if err != nil {
				t.Fatal(err)
			}
			if raw == nil && i != 2 { // the merged seed lost its swept blocks
				t.Fatalf("seed %d: record %d missing", i, s)
			}
		}
		checkSegmentBytes(t, filepath.Join(t.TempDir(), "0000000000000001.seg"), b, pr, dec)
	}
}

// FuzzDecodeChunk checks the posting chunk decoder on arbitrary bytes, and
// that encodePosting and the decoder round-trip any list.
func FuzzDecodeChunk(f *testing.F) {
	lists := [][]pos{
		{{100, 7}},
		{{100, 7}, {100, 5}, {90, 9}, {0, 1}},
		{{math.MaxInt64, math.MaxUint64}, {math.MinInt64, 0}, {5, 5}},
	}
	var long []pos
	for i := range 300 {
		long = append(long, pos{int64(1000 - i/3), uint64(5000 - i)})
	}
	lists = append(lists, long)
	for _, l := range lists {
		b, chunks := encodePosting(nil, l)
		f.Add(b[:chunks*chunkHdrLen], b[chunks*chunkHdrLen:], uint16(len(l)), int64(1))
	}
	f.Add([]byte{}, []byte{}, uint16(0), int64(0))
	f.Fuzz(func(t *testing.T, hdr, data []byte, entries uint16, seed int64) {
		// Arbitrary bytes: no panic; a chunk that decodes has its count.
		n := int(entries)
		chunks := (n + chunkEntries - 1) / chunkEntries
		if hs, err := parseChunkHeaders(hdr, chunks); err == nil {
			if len(hs) != chunks {
				t.Fatalf("%d headers for %d chunks", len(hs), chunks)
			}
			start := uint32(0)
			for c, h := range hs {
				if h.end > uint32(len(data)) {
					break // a read past the list's end fails before decoding
				}
				chunk := data[start:h.end]
				for _, fix := range []bool{false, true} {
					if fix {
						h.crc = crc32.Checksum(chunk, castagnoli)
					}
					out, err := decodeChunk(nil, h, chunk, chunkLen(n, c))
					if err == nil && len(out) != chunkLen(n, c) {
						t.Fatalf("chunk %d decoded %d entries, want %d", c, len(out), chunkLen(n, c))
					}
					if err == nil && out[0] != h.first {
						t.Fatalf("chunk %d starts with %v, header says %v", c, out[0], h.first)
					}
					if err != nil && !errors.Is(err, errCorruptPosting) {
						t.Fatalf("error %v is not errCorruptPosting", err)
					}
				}
				start = h.end
			}
		}
		// Round trip of a list built from the inputs.
		rng := rand.New(rand.NewSource(seed))
		list := make([]pos, 1+int(entries)%700)
		p := pos{rng.Int63(), rng.Uint64()}
		for i := range list {
			list[i] = p
			switch rng.Intn(4) {
			case 0: // same second
				p.s -= uint64(rng.Intn(3) + 1)
			case 1:
				p.t -= int64(rng.Intn(1 << 20))
				p.s = rng.Uint64()
			case 2: // anything: the codec must not depend on order
				p = pos{rng.Int63() - rng.Int63(), rng.Uint64()}
			default:
				if len(data) >= 16 {
					p = pos{int64(binary.LittleEndian.Uint64(data)), binary.LittleEndian.Uint64(data[8:])}
					data = data[1:]
				}
			}
		}
		enc, chunks2 := encodePosting(nil, list)
		hs, err := parseChunkHeaders(enc[:chunks2*chunkHdrLen], chunks2)
		if err != nil {
			t.Fatal(err)
		}
		body := enc[chunks2*chunkHdrLen:]
		var got []pos
		start := uint32(0)
		for c, h := range hs {
			if got, err = decodeChunk(got, h, body[start:h.end], chunkLen(len(list), c)); err != nil {
				t.Fatalf("chunk %d: %v", c, err)
			}
			start = h.end
		}
		if int(start) != len(body) || !slices.Equal(got, list) {
			t.Fatalf("round trip of %d entries: got %d entries, %d of %d bytes used", len(list), len(got), start, len(body))
		}
	})
}

// dirFuzzBase is a real segment with one directory block, directly
// followed by the eventID table, taken apart so that the block can be
// replaced.
type dirFuzzBase struct {
	ref    []byte
	sg     *segment // ref, opened
	dirBuf []byte   // ref's directory block, decompressed
	enc    *zstd.Encoder
	blocks []blockRef // sg's block table
	dir    dirRef     // its directory block
	bloom  bloom      // sg's bloom filter
}

func newDirFuzzBase(tb testing.TB, ref []byte, dec *codecs) *dirFuzzBase {
	path := filepath.Join(tb.TempDir(), "0000000000000001.seg")
	if err := os.WriteFile(path, ref, 0o644); err != nil {
		tb.Fatal(err)
	}
	sg, err := openSegment(path, 1, newBlockCache(1<<20), dec)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sg.release)
	dirIdx := segDirIdx(tb, sg)
	if len(dirIdx) != 1 || dirIdx[0].off+int64(dirIdx[0].n) != sg.idsOff {
		tb.Fatalf("base segment: %d directory blocks, the first ending at %d, eventID table at %d", len(dirIdx), dirIdx[0].off+int64(dirIdx[0].n), sg.idsOff)
	}
	dirBuf, err := sg.block(true, 0)
	if err != nil {
		tb.Fatal(err)
	}
	// The writer's encoder settings (Open), so that the base reassembles
	// to itself.
	enc, err := newEncoder(nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { enc.Close() })
	return &dirFuzzBase{ref: ref, sg: sg, dirBuf: bytes.Clone(dirBuf), enc: enc, blocks: segBlocks(tb, sg), bloom: segBloom(tb, sg), dir: dirIdx[0]}
}

// with returns the base segment with dirBuf as its directory block: the
// records and posting lists as they are, then the new block, the eventID
// table, and the meta section and footer written as segWriter.finish
// writes them.
func (d *dirFuzzBase) with(dirBuf []byte) []byte {
	sg := d.sg
	out := bytes.Clone(d.ref[:d.dir.off])
	comp := d.enc.EncodeAll(dirBuf, nil)
	dirOff := int64(len(out))
	out = append(out, comp...)
	idsOff := int64(len(out))
	out = append(out, d.ref[sg.idsOff:sg.idsOff+int64(sg.idCount)*idEntryLen]...)
	meta := segMeta{blocks: d.blocks, dirIdx: []dirRef{{d.dir.first, dirOff, uint32(len(comp))}}, parts: sg.parts,
		idsOff: idsOff, idCount: sg.idCount, idSparse: sg.idSparse, idCRCs: sg.idCRCs, bloom: d.bloom,
		first: sg.first, last: sg.last, events: sg.events, dict: sg.codec.dict}
	return meta.appendTail(out, int64(len(out)))
}

// FuzzDirectoryBlock puts arbitrary directory blocks, under a valid zstd
// checksum, into a real segment: the entries' keys, offsets, counts and
// CRCs reach the reader as a writer bug or a crafted file would make
// them, which FuzzSegment's byte flips cannot (the block's checksum stops
// them).
func FuzzDirectoryBlock(f *testing.F) {
	dec := newFuzzCodecs(f)
	seeds := seedSegments(f)
	pr := collectProbes(f, seeds, dec)
	bases := []*dirFuzzBase{newDirFuzzBase(f, seeds[0], dec), newDirFuzzBase(f, seeds[1], dec)}
	for i, d := range bases {
		if !bytes.Equal(d.with(d.dirBuf), d.ref) {
			f.Fatalf("base %d does not reassemble to itself", i)
		}
		f.Add(uint8(i), d.dirBuf)
		// And the first half of the block (a cut entry).
		f.Add(uint8(i), d.dirBuf[:len(d.dirBuf)/2])
	}
	path := filepath.Join(f.TempDir(), "0000000000000001.seg")
	f.Fuzz(func(t *testing.T, base uint8, dirBuf []byte) {
		checkSegmentBytes(t, path, bases[int(base)%len(bases)].with(dirBuf), pr, dec)
	})
}

// FuzzDirEntry checks parseDirEntry alone: what it accepts lies within
// its bounds.
func FuzzDirEntry(f *testing.F) {
	f.Add([]byte{1, 'k', 8, 3, 1, 0, 0, 0, 0}, int64(100), 10)
	f.Add(binary.AppendUvarint(nil, 1<<63), int64(1<<40), 1<<20)
	f.Add(append(append([]byte{1, 'k', 8}, binary.AppendUvarint(binary.AppendUvarint(nil, math.MaxInt64), math.MaxUint64)...), 0, 0, 0, 0), int64(math.MaxInt64), math.MaxInt)
	f.Fuzz(func(t *testing.T, b []byte, limit int64, maxEntries int) {
		if maxEntries < 0 {
			return // the segment's event count: never negative
		}
		e, rest, ok := parseDirEntry(b, limit, maxEntries)
		if !ok {
			return
		}
		if len(rest) >= len(b) || !bytes.HasSuffix(b, rest) {
			t.Fatalf("rest of %d bytes after an entry of a %d-byte block", len(rest), len(b))
		}
		if e.entries <= 0 || e.entries > maxEntries || e.chunks != (e.entries+chunkEntries-1)/chunkEntries {
			t.Fatalf("accepted %d entries in %d chunks (at most %d entries)", e.entries, e.chunks, maxEntries)
		}
		if e.off < int64(len(segMagic)) || e.off > limit || int64(e.chunks)*chunkHdrLen > limit-e.off {
			t.Fatalf("accepted a list at %d with %d chunk headers, limit %d", e.off, e.chunks, limit)
		}
	})
}
