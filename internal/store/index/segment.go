package index

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
)

// CorruptionError reports a segment file that fails its checks.
type CorruptionError struct {
	Path   string
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("index segment %s is corrupt: %s; run opentrail fsck", e.Path, e.Reason)
}

// key is a parsed posting key: part 0x00 kind attr value.
type key struct {
	part       string
	kind, attr byte
	value      string
}

func appendKey(dst []byte, part string, kind, attr byte, value string) []byte {
	dst = append(dst, part...)
	dst = append(dst, 0, kind, attr)
	return append(dst, value...)
}

func parseKey(k []byte) (key, error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+3 {
		return key{}, errors.New("malformed posting key")
	}
	return key{part: string(k[:i]), kind: k[i+1], attr: k[i+2], value: string(k[i+3:])}, nil
}

// segment is one open, immutable segment file. refs counts the index's
// list (1 while the segment is live) plus readers; the file closes when it
// drops to 0.
type segment struct {
	num         uint64
	path        string
	f           *os.File
	size        int64
	first, last uint64
	events      int
	blockTab    metaTable // the record block table, on disk (metapage.go)
	blockFirsts []uint64  // the first sequence number of each of its pages
	dirPages    []dirPage // the directory index, on disk, 64 entries a page
	dirCount    int       // directory blocks
	parts       []partInfo
	partSet     map[string]timeSpan // each partition's time range, over its kinds
	idsOff      int64
	idCount     int
	idSparse    []uint64
	idCRCs      []uint32
	bloomTab    metaTable // the bloom filter, on disk, a page of 64 blocks at a time
	bloomWords  int
	refs        atomic.Int32
	cache       *blockCache
	version     int    // 1 or 2 (docs/format/index.md)
	codec       *codec // its record dictionary's, or the plain one
}

// timeSpan is a range of event times, Unix seconds, inclusive.
type timeSpan struct{ min, max int64 }

// mayHold reports whether the segment may hold an event of partition part
// at time t (0: at any time).
func (sg *segment) mayHold(part string, t int64) bool {
	sp, ok := sg.partSet[part]
	return ok && (t == 0 || sp.min <= t && t <= sp.max)
}

// openSegment opens the segment file at path, checking its footer and meta
// section; cs gives the codec of its record dictionary.
func openSegment(path string, num uint64, cache *blockCache, cs *codecs) (*segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sg := &segment{num: num, path: path, f: f, cache: cache, partSet: map[string]timeSpan{}}
	if err := sg.load(cs); err != nil {
		f.Close()
		var ce *CorruptionError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("open segment %s: %w", path, err)
	}
	sg.refs.Store(1)
	return sg, nil
}

func (sg *segment) corrupt(format string, args ...any) error {
	return &CorruptionError{Path: sg.path, Reason: fmt.Sprintf(format, args...)}
}

func (sg *segment) load(cs *codecs) error {
	st, err := sg.f.Stat()
	if err != nil {
		return err
	}
	sg.size = st.Size()
	if sg.size < int64(len(segMagic))+footerLen {
		return sg.corrupt("file too short (%d bytes)", sg.size)
	}
	var hd [len(segMagic)]byte
	if _, err := sg.f.ReadAt(hd[:], 0); err != nil {
		return err
	}
	switch string(hd[:]) {
	case segMagic:
		sg.version = 2
	case segMagicV1:
		sg.version = 1
	default:
		return sg.corrupt("bad header magic %q", hd[:])
	}
	var ft [footerLen]byte
	if _, err := sg.f.ReadAt(ft[:], sg.size-footerLen); err != nil {
		return err
	}
	if string(ft[40:]) != segEndMagic {
		return sg.corrupt("bad footer magic")
	}
	metaOff := int64(binary.LittleEndian.Uint64(ft[0:]))
	metaLen := int64(binary.LittleEndian.Uint64(ft[8:]))
	sg.first = binary.LittleEndian.Uint64(ft[16:])
	sg.last = binary.LittleEndian.Uint64(ft[24:])
	sg.events = int(binary.LittleEndian.Uint32(ft[32:]))
	if metaOff < int64(len(segMagic)) || metaLen < 0 || metaOff+metaLen != sg.size-footerLen {
		return sg.corrupt("bad meta section bounds")
	}
	s := newMetaStream(sg.f, metaOff, metaLen)
	r := &metaReader{s: s}
	perr := sg.parseMeta(r, metaOff, metaLen)
	if r.err == nil {
		r.trailing = s.left != 0
	}
	if err := s.drain(); err != nil { // for the CRC
		r.fail()
	}
	if s.err != nil {
		return fmt.Errorf("read segment %s: %w", sg.path, s.err)
	}
	if crc32.Update(s.crc, castagnoli, ft[:36]) != binary.LittleEndian.Uint32(ft[36:]) {
		return sg.corrupt("meta section checksum mismatch")
	}
	if sg.last < sg.first {
		return sg.corrupt("sequence range %d..%d", sg.first, sg.last)
	}
	if perr != nil {
		return perr
	}
	if r.err != nil || r.trailing {
		return sg.corrupt("malformed meta section")
	}
	if !within(sg.idsOff, int64(sg.idCount)*idEntryLen, metaOff) || len(sg.idSparse) != (sg.idCount+idSparseStep-1)/idSparseStep || sg.bloomWords%8 != 0 {
		return sg.corrupt("bad eventID table")
	}
	if sg.codec, err = cs.get(r.dict); err != nil {
		return err
	}
	return nil
}

// parseMeta reads the meta section (docs/format/index.md) from r, which
// starts at file offset metaOff and is metaLen bytes long. The block
// table and the bloom filter stay on disk: it keeps their places and each
// of their pages' CRC-32C. A malformed section leaves r.err set; the
// caller checks the section's CRC before it looks at r.err or the error
// returned (a table entry out of bounds, a bad record dictionary), so
// damage reads as a checksum mismatch.
func (sg *segment) parseMeta(r *metaReader, metaOff, metaLen int64) error {
	entry := 20 // a block table entry's size
	if sg.version >= 2 {
		entry = 24
	}
	n := r.count(entry)
	sg.blockTab = metaTable{kind: cacheBlockTable, off: metaOff + r.s.pos(metaLen), entry: entry, n: n}
	per := sg.blockTab.perPage()
	var crc uint32
	var prev uint64
	for i := range n {
		raw := r.take(entry)
		if r.err != nil {
			return nil
		}
		crc = crc32.Update(crc, castagnoli, raw)
		b := sg.blockEntry(raw)
		if i%per == 0 {
			sg.blockFirsts = append(sg.blockFirsts, b.first)
		}
		if i%per == per-1 || i == n-1 {
			sg.blockTab.crcs = append(sg.blockTab.crcs, crc)
			crc = 0
		}
		if !within(b.off, int64(b.n), metaOff) || b.first < sg.first || b.first > sg.last || (i > 0 && b.first <= prev) {
			return sg.corrupt("record block %d out of bounds", i)
		}
		prev = b.first
	}
	n = r.count(13)
	sg.dirCount = n
	for i := range n {
		if i%dirPageEntries == 0 {
			sg.endDirPage(r, metaOff, metaLen)
			sg.dirPages = append(sg.dirPages, dirPage{off: metaOff + r.s.pos(metaLen)})
			r.s.sub = 0
		}
		first := r.bytes()
		d := dirRef{first, int64(r.u64()), r.u32()}
		if r.err != nil {
			return nil
		}
		if i%dirPageEntries == 0 {
			sg.dirPages[len(sg.dirPages)-1].first = first
		}
		if !within(d.off, int64(d.n), metaOff) {
			return sg.corrupt("directory block %d out of bounds", i)
		}
	}
	sg.endDirPage(r, metaOff, metaLen)
	n = r.count(22)
	sg.parts = make([]partInfo, 0, min(n, 1<<16))
	for range n {
		p := partInfo{name: string(r.bytes())}
		p.kind = r.byte()
		p.events = r.u32()
		p.min, p.max = int64(r.u64()), int64(r.u64())
		if r.err != nil {
			return nil
		}
		sg.parts = append(sg.parts, p)
		sp, ok := sg.partSet[p.name]
		if !ok {
			sp = timeSpan{p.min, p.max}
		}
		sg.partSet[p.name] = timeSpan{min(sp.min, p.min), max(sp.max, p.max)}
	}
	sg.idsOff = int64(r.u64())
	sg.idCount = r.count(0)
	n = r.count(12)
	sg.idSparse = make([]uint64, 0, min(n, 1<<16))
	sg.idCRCs = make([]uint32, 0, min(n, 1<<16))
	for range n {
		h, c := r.u64(), r.u32()
		if r.err != nil {
			return nil
		}
		sg.idSparse = append(sg.idSparse, h)
		sg.idCRCs = append(sg.idCRCs, c)
	}
	n = r.count(8)
	sg.bloomWords = n
	sg.bloomTab = metaTable{kind: cacheBloom, off: metaOff + r.s.pos(metaLen), entry: 64, n: n / 8}
	crc = 0
	for i := range n / 8 {
		raw := r.take(64)
		if r.err != nil {
			return nil
		}
		crc = crc32.Update(crc, castagnoli, raw)
		if i%64 == 63 || i == n/8-1 {
			sg.bloomTab.crcs = append(sg.bloomTab.crcs, crc)
			crc = 0
		}
	}
	r.take(n % 8 * 8)
	if sg.version >= 2 {
		if n = r.count(0); n > dictMax {
			return sg.corrupt("record dictionary of %d bytes", n)
		}
		if n > 0 {
			id := r.u32()
			r.dict = bytes.Clone(r.take(n))
			if r.err == nil && id != dictID(r.dict) {
				return sg.corrupt("record dictionary ID %d does not match its bytes", id)
			}
		}
	}
	return nil
}

// within reports whether [off, off+n) lies inside the file's data, between
// the header and limit, without overflowing.
func within(off, n, limit int64) bool {
	return off >= int64(len(segMagic)) && n >= 0 && off <= limit && n <= limit-off
}

// metaReader parses a meta section or a directory block: from b, or,
// when s is set, from the file.
type metaReader struct {
	b        []byte
	s        *metaStream
	err      error // errShortMeta once anything did not parse
	dict     []byte
	trailing bool // bytes are left after the meta section's last field
}

// errShortMeta is a meta section or directory entry that does not parse.
var errShortMeta = errors.New("short meta")

func (r *metaReader) fail() {
	if r.err == nil {
		r.err = errShortMeta
	}
	r.b = nil
}

// left is the number of bytes not read yet.
func (r *metaReader) left() int64 {
	if r.s != nil {
		return r.s.left
	}
	return int64(len(r.b))
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	if r.s != nil {
		v, err := binary.ReadUvarint(r.s)
		if err != nil {
			r.fail()
			return 0
		}
		return v
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items of at least minSize bytes each, checking it
// against what is left.
func (r *metaReader) count(minSize int) int {
	v := r.uvarint()
	if minSize > 0 && v > uint64(r.left()/int64(minSize)) {
		r.fail()
		return 0
	}
	if v > 1<<40 {
		r.fail()
		return 0
	}
	return int(v)
}

// take returns the next n bytes; from a file they are valid until the
// next call.
func (r *metaReader) take(n int) []byte {
	if r.err != nil || r.left() < int64(n) {
		r.fail()
		return make([]byte, n)
	}
	if r.s != nil {
		b, err := r.s.read(n)
		if err != nil {
			r.fail()
			return make([]byte, n)
		}
		return b
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *metaReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *metaReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *metaReader) byte() byte  { return r.take(1)[0] }
func (r *metaReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(r.left()) {
		r.fail()
		return nil
	}
	return bytes.Clone(r.take(int(n)))
}

func (sg *segment) acquire() { sg.refs.Add(1) }

func (sg *segment) release() {
	if sg.refs.Add(-1) == 0 {
		sg.f.Close()
		sg.cache.drop(sg.num)
	}
}

func (sg *segment) readAt(off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := sg.f.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, sg.corrupt("read past the end at %d", off)
		}
		return nil, fmt.Errorf("read segment %s: %w", sg.path, err)
	}
	return b, nil
}

// block returns a decompressed record (dir false) or directory block.
func (sg *segment) block(dir bool, i int) ([]byte, error) {
	k := cacheKey{sg.num, cacheRecord, i}
	if dir {
		k.kind = cacheDir
	}
	if b, ok := sg.cache.get(k); ok {
		return b, nil
	}
	b, err := sg.decodeBlock(dir, i, nil)
	if err == nil {
		sg.cache.put(k, b)
	}
	return b, err
}

// cached reports whether record block i is in the block cache.
func (sg *segment) cached(i int) bool {
	_, ok := sg.cache.get(cacheKey{sg.num, cacheRecord, i})
	return ok
}

// decodeBlock reads and decompresses a block into dst[:0].
func (sg *segment) decodeBlock(dir bool, i int, dst []byte) ([]byte, error) {
	if dir {
		d, err := sg.dirRef(i)
		if err != nil {
			return nil, err
		}
		return sg.decode(d.off, d.n, nil, dst)
	}
	b, err := sg.blockRef(i)
	if err != nil {
		return nil, err
	}
	return sg.decodeRecords(b, dst)
}

// decodeRecords reads and decompresses the record block b into dst[:0].
func (sg *segment) decodeRecords(b blockRef, dst []byte) ([]byte, error) {
	return sg.decode(b.off, b.n, &b, dst)
}

// decode reads and decompresses n bytes at off into dst[:0], checking
// them against rec's CRC first when they are a record block.
func (sg *segment) decode(off int64, n uint32, rec *blockRef, dst []byte) ([]byte, error) {
	comp, err := sg.readAt(off, int(n))
	if err != nil {
		return nil, err
	}
	if rec != nil {
		if err := sg.checkBlock(*rec, comp); err != nil {
			return nil, err
		}
	}
	b, err := sg.codec.dec.DecodeAll(comp, dst[:0])
	if err != nil {
		return nil, sg.corrupt("block at %d: %v", off, err)
	}
	return b, nil
}

// checkBlock checks a record block's bytes against the CRC-32C in its
// block table entry b (version 2; a version-1 block table has none).
func (sg *segment) checkBlock(b blockRef, comp []byte) error {
	if sg.version >= 2 && crc32.Checksum(comp, castagnoli) != b.crc {
		return sg.corrupt("block at %d: CRC-32C mismatch", b.off)
	}
	return nil
}

// dirEntry locates one posting list.
type dirEntry struct {
	key     []byte
	off     int64
	entries int
	chunks  int
	crc     uint32
}

// parseDirEntry decodes the entry at the start of b and returns the rest.
// The list it names must lie before limit and hold at most maxEntries.
func parseDirEntry(b []byte, limit int64, maxEntries int) (dirEntry, []byte, bool) {
	r := metaReader{b: b}
	var e dirEntry
	kl := r.uvarint()
	if kl > uint64(len(r.b)) {
		return e, nil, false
	}
	e.key = r.take(int(kl))
	off, entries, chunks := r.uvarint(), r.uvarint(), r.uvarint()
	e.crc = r.u32()
	if r.err != nil || entries == 0 || entries > uint64(maxEntries) || chunks != (entries+chunkEntries-1)/chunkEntries || off > uint64(limit) {
		return e, nil, false
	}
	e.off, e.entries, e.chunks = int64(off), int(entries), int(chunks)
	if !within(e.off, int64(e.chunks)*chunkHdrLen, limit) {
		return e, nil, false
	}
	return e, r.b, true
}

// parseDir is parseDirEntry with the segment's bounds: lists lie before the
// eventID table, and none has more entries than the segment has events.
func (sg *segment) parseDir(b []byte) (dirEntry, []byte, bool) {
	return parseDirEntry(b, sg.idsOff, sg.events)
}

// find returns the directory entry for k.
func (sg *segment) find(k []byte) (dirEntry, bool, error) {
	i, err := sg.findDir(k)
	if i < 0 || err != nil {
		return dirEntry{}, false, err
	}
	b, err := sg.block(true, i)
	if err != nil {
		return dirEntry{}, false, err
	}
	for len(b) > 0 {
		e, rest, ok := sg.parseDir(b)
		if !ok {
			return dirEntry{}, false, sg.corrupt("malformed directory block %d", i)
		}
		switch c := bytes.Compare(e.key, k); {
		case c == 0:
			return e, true, nil
		case c > 0:
			return dirEntry{}, false, nil
		}
		b = rest
	}
	return dirEntry{}, false, nil
}

// reader reads a segment's bytes: the segment itself (positioned reads) or
// a window over it for sequential passes.
type reader interface {
	readAt(off int64, n int) ([]byte, error)
}

// window serves sequential reads (merges, checks, sweeps) from reads of
// size bytes (default 1 MiB) into one reused buffer: a slice it returns is
// valid until the next call.
type window struct {
	sg    *segment
	size  int
	buf   []byte
	start int64
}

func (w *window) readAt(off int64, n int) ([]byte, error) {
	if off >= w.start && off+int64(n) <= w.start+int64(len(w.buf)) {
		return w.buf[off-w.start : off-w.start+int64(n)], nil
	}
	if w.size <= 0 {
		w.size = 1 << 20
	}
	size := min(max(int64(n), int64(w.size)), w.sg.size-off)
	if size < int64(n) || off < 0 {
		return nil, w.sg.corrupt("read past the end at %d", off)
	}
	if int64(cap(w.buf)) < size {
		w.buf = make([]byte, size)
	}
	w.buf, w.start = w.buf[:size], off
	if _, err := w.sg.f.ReadAt(w.buf, off); err != nil {
		w.buf = w.buf[:0]
		if errors.Is(err, io.EOF) {
			return nil, w.sg.corrupt("read past the end at %d", off)
		}
		return nil, fmt.Errorf("read segment %s: %w", w.sg.path, err)
	}
	return w.buf[:n], nil
}

func (sg *segment) headers(r reader, e dirEntry) ([]chunkHeader, error) {
	hb, err := r.readAt(e.off, e.chunks*chunkHdrLen)
	if err != nil {
		return nil, err
	}
	return sg.checkHeaders(e, hb, nil)
}

// headerBuf holds the buffers a lookup reads a posting list's chunk
// header table into. A long list's table (24 bytes a chunk of 128
// entries: 1.9 MB for 10M events) read anew for each lookup made the
// garbage collector run the more often the less else the heap held;
// lookups recycle them through headerBufs.
type headerBuf struct {
	raw []byte
	hs  []chunkHeader
}

var headerBufs = sync.Pool{New: func() any { return new(headerBuf) }}

// headersInto is headers from the file, into hb's buffers.
func (sg *segment) headersInto(e dirEntry, hb *headerBuf) ([]chunkHeader, error) {
	n := e.chunks * chunkHdrLen
	if cap(hb.raw) < n {
		hb.raw = make([]byte, n)
	}
	hb.raw = hb.raw[:n]
	if _, err := sg.f.ReadAt(hb.raw, e.off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, sg.corrupt("read past the end at %d", e.off)
		}
		return nil, fmt.Errorf("read segment %s: %w", sg.path, err)
	}
	hs, err := sg.checkHeaders(e, hb.raw, hb.hs)
	if hs != nil {
		hb.hs = hs
	}
	return hs, err
}

// checkHeaders checks and parses list e's chunk header table hb, into
// dst's array if it is long enough.
func (sg *segment) checkHeaders(e dirEntry, hb []byte, dst []chunkHeader) ([]chunkHeader, error) {
	if crc32.Checksum(hb, castagnoli) != e.crc {
		return nil, sg.corrupt("posting list at %d: header checksum mismatch", e.off)
	}
	hs, err := parseChunkHeadersInto(dst, hb, e.chunks)
	if err != nil {
		return nil, sg.corrupt("posting list at %d: %v", e.off, err)
	}
	// Each entry takes at most 20 bytes after its chunk's first.
	if data := e.off + int64(e.chunks)*chunkHdrLen; !within(data, int64(hs[len(hs)-1].end), sg.idsOff) || int64(hs[len(hs)-1].end) > int64(e.entries)*20 {
		return nil, sg.corrupt("posting list at %d: chunks out of bounds", e.off)
	}
	return hs, nil
}

func (sg *segment) chunk(dst []pos, e dirEntry, hs []chunkHeader, c int) ([]pos, error) {
	start := uint32(0)
	if c > 0 {
		start = hs[c-1].end
	}
	data, err := sg.readAt(e.off+int64(e.chunks*chunkHdrLen)+int64(start), int(hs[c].end-start))
	if err != nil {
		return dst, err
	}
	dst, err = decodeChunk(dst, hs[c], data, chunkLen(e.entries, c))
	if err != nil {
		return dst, sg.corrupt("posting list at %d: %v", e.off, err)
	}
	return dst, nil
}

// top appends to dst up to limit entries of the list strictly below upper
// that f wants, newest first.
func (sg *segment) top(dst []pos, e dirEntry, f *filter, upper pos, limit int) ([]pos, error) {
	hb := headerBufs.Get().(*headerBuf)
	defer headerBufs.Put(hb)
	hs, err := sg.headersInto(e, hb)
	if err != nil {
		return dst, err
	}
	// The first chunk whose first entry is below upper; entries below
	// upper may also sit at the end of the chunk before it.
	c := sort.Search(len(hs), func(i int) bool { return hs[i].first.less(upper) })
	c = max(c-1, 0)
	var buf []pos
	for ; c < len(hs) && limit > 0; c++ {
		if hs[c].first.t < f.lo {
			break
		}
		if buf, err = sg.chunk(buf[:0], e, hs, c); err != nil {
			return dst, err
		}
		n := len(dst)
		dst = topBelow(dst, buf, f, upper, limit)
		limit -= len(dst) - n
	}
	return dst, nil
}

// all appends every entry of a list to out, newest first. It holds the
// whole list: passes over whole segments iterate (listIter) instead.
func (sg *segment) all(r reader, e dirEntry, out []pos) ([]pos, error) {
	it, err := sg.iter(r, e)
	if err != nil {
		return nil, err
	}
	for x, ok := it.next(); ok; x, ok = it.next() {
		out = append(out, x)
	}
	if it.err != nil {
		return nil, it.err
	}
	return out, nil
}

// listIter walks one posting list newest first, a chunk at a time, so a
// pass over a list of any length holds its chunk header table and one
// chunk of entries.
type listIter struct {
	sg   *segment
	r    reader
	e    dirEntry
	hs   []chunkHeader
	c    int   // the next chunk to decode
	buf  []pos // the decoded chunk
	i    int   // the next entry of buf
	err  error
	data int64 // file offset of the chunk data
}

// iter returns an iterator over the list e, read through r.
func (sg *segment) iter(r reader, e dirEntry) (*listIter, error) {
	it := &listIter{sg: sg, r: r}
	return it, it.reset(r, e)
}

// reset points the iterator at the list e, read through r, keeping its
// buffers.
func (it *listIter) reset(r reader, e dirEntry) error {
	hs, err := it.sg.headers(r, e)
	if err != nil {
		it.err = err
		return err
	}
	it.r, it.e, it.hs, it.c, it.buf, it.i, it.err = r, e, hs, 0, it.buf[:0], 0, nil
	it.data = e.off + int64(e.chunks*chunkHdrLen)
	return nil
}

// next returns the next entry; false at the end of the list or on an error,
// which it.err then holds.
func (it *listIter) next() (pos, bool) {
	for it.i == len(it.buf) {
		if it.err != nil || it.c == len(it.hs) {
			return pos{}, false
		}
		start := uint32(0)
		if it.c > 0 {
			start = it.hs[it.c-1].end
		}
		h := it.hs[it.c]
		if h.end < start {
			it.err = it.sg.corrupt("posting list at %d: chunks out of order", it.e.off)
			return pos{}, false
		}
		data, err := it.r.readAt(it.data+int64(start), int(h.end-start))
		if err != nil {
			it.err = err
			return pos{}, false
		}
		if it.buf, err = decodeChunk(it.buf[:0], h, data, chunkLen(it.e.entries, it.c)); err != nil {
			it.err = it.sg.corrupt("posting list at %d: %v", it.e.off, err)
			return pos{}, false
		}
		it.c++
		it.i = 0
	}
	x := it.buf[it.i]
	it.i++
	return x, true
}

// record returns the record with sequence number seq.
func (sg *segment) record(seq uint64) ([]byte, error) {
	i, ref, err := sg.findBlock(seq)
	if i < 0 || err != nil {
		return nil, err
	}
	return sg.recordIn(i, ref, seq)
}

// recordIn returns the record with sequence number seq from record block
// i, whose block table entry is ref; nil if the block does not hold it.
func (sg *segment) recordIn(i int, ref blockRef, seq uint64) ([]byte, error) {
	b, err := sg.block(false, i)
	if err != nil {
		return nil, err
	}
	var raw []byte
	ok := forEachRecord(b, ref.first, func(s uint64, r []byte) bool {
		if s == seq {
			raw = r
		}
		return raw == nil
	})
	if !ok {
		return nil, sg.corrupt("malformed record block %d", i)
	}
	return raw, nil
}

// forEachRecord calls fn for each record of a decompressed record block
// whose first sequence number is first, until fn returns false. It reports
// false if the block is malformed.
func forEachRecord(b []byte, first uint64, fn func(seq uint64, raw []byte) bool) bool {
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return false
		}
		b = b[n:]
		if !fn(first+d, b[:l]) {
			return true
		}
		b = b[l:]
	}
	return true
}

// partEvents calls fn with every event of one partition and kind in the
// segment (its attr-0 posting list), newest first, until fn returns false.
func (sg *segment) partEvents(p partInfo, fn func(pos) bool) error {
	e, ok, err := sg.find(appendKey(nil, p.name, p.kind, 0, ""))
	if err != nil {
		return err
	}
	if !ok {
		return sg.corrupt("partition %s has no event list", p.name)
	}
	it, err := sg.iter(&window{sg: sg, size: 64 << 10}, e)
	if err != nil {
		return err
	}
	for x, ok := it.next(); ok && fn(x); x, ok = it.next() {
	}
	return it.err
}

// ids returns the sequence numbers whose eventID hash is h.
func (sg *segment) ids(h uint64) ([]uint64, error) {
	if sg.idCount == 0 {
		return nil, nil
	}
	if ok, err := sg.mayContain(h); !ok || err != nil {
		return nil, err
	}
	g := sort.Search(len(sg.idSparse), func(i int) bool { return sg.idSparse[i] >= h })
	g = max(g-1, 0)
	var out []uint64
	for ; g < len(sg.idSparse) && sg.idSparse[g] <= h; g++ {
		n := min(idSparseStep, sg.idCount-g*idSparseStep)
		b, err := sg.readAt(sg.idsOff+int64(g*idSparseStep*idEntryLen), n*idEntryLen)
		if err != nil {
			return nil, err
		}
		if crc32.Checksum(b, castagnoli) != sg.idCRCs[g] {
			return nil, sg.corrupt("eventID table group %d: checksum mismatch", g)
		}
		for i := range n {
			e := b[i*idEntryLen:]
			if hh := binary.LittleEndian.Uint64(e); hh == h {
				out = append(out, sg.first+uint64(binary.LittleEndian.Uint32(e[8:])))
			} else if hh > h {
				return out, nil
			}
		}
	}
	return out, nil
}

// dirIter walks every directory entry in key order (merges and checks);
// cur is valid until the next call. It reads past the block cache: a pass over a whole directory would only
// evict what lookups use (a segment's directory can hold an entry per
// event, for resource names).
type dirIter struct {
	sg    *segment
	block int
	refs  []dirRef // the directory index page that holds block's entry
	buf   []byte   // the current block, its buffer reused for the next
	rest  []byte
	cur   dirEntry
	err   error
}

func (it *dirIter) next() bool {
	for len(it.rest) == 0 {
		if it.block >= it.sg.dirCount {
			return false
		}
		if it.block%dirPageEntries == 0 {
			refs, err := it.sg.dirPageRefs(it.block/dirPageEntries, false)
			if err != nil {
				it.err = err
				return false
			}
			it.refs = refs
		}
		d := it.refs[it.block%dirPageEntries]
		b, err := it.sg.decode(d.off, d.n, nil, it.buf)
		if err != nil {
			it.err = err
			return false
		}
		it.block++
		it.buf, it.rest = b, b
	}
	e, rest, ok := it.sg.parseDir(it.rest)
	if !ok {
		it.err = it.sg.corrupt("malformed directory block %d", it.block-1)
		return false
	}
	it.cur, it.rest = e, rest
	return true
}

// idIter walks the eventID table in order (merges).
type idIter struct {
	sg   *segment
	r    *bufio.Reader
	left int
	crc  uint32
	h    uint64
	seq  uint64
	err  error
}

func (sg *segment) idIterator() *idIter {
	return &idIter{sg: sg, r: bufio.NewReaderSize(io.NewSectionReader(sg.f, sg.idsOff, int64(sg.idCount)*idEntryLen), 64<<10), left: sg.idCount}
}

func (it *idIter) next() bool {
	if it.left == 0 {
		return false
	}
	var b [idEntryLen]byte
	if _, err := io.ReadFull(it.r, b[:]); err != nil {
		it.err = fmt.Errorf("read segment %s: %w", it.sg.path, err)
		return false
	}
	g := (it.sg.idCount - it.left) / idSparseStep
	it.crc = crc32.Update(it.crc, castagnoli, b[:])
	it.left--
	if (it.sg.idCount-it.left)%idSparseStep == 0 || it.left == 0 {
		if it.crc != it.sg.idCRCs[g] {
			it.err = it.sg.corrupt("eventID table group %d: checksum mismatch", g)
			return false
		}
		it.crc = 0
	}
	it.h = binary.LittleEndian.Uint64(b[:])
	it.seq = it.sg.first + uint64(binary.LittleEndian.Uint32(b[8:]))
	return true
}
