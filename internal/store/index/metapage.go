package index

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"sort"
)

// An open segment keeps the two parts of its meta section that grow with
// its events, the record block table (about a byte an event) and the
// eventID bloom filter (about 1.25), on disk, and reads them a page at a
// time through the block cache, so a process's memory does not grow with
// the history it holds (decisions §91). Open reads the meta section once,
// checks it whole against the footer's CRC and keeps each page's CRC-32C;
// a page read again later is checked against that, so it is trusted as
// much as the checked meta section was.

// metaPage is the size of a page of a table kept on disk, in bytes.
const metaPage = 4 << 10

// Kinds of block in the block cache.
const (
	cacheRecord     byte = iota // a record block (segment or memtable)
	cacheDir                    // a directory block
	cacheBlockTable             // a page of a segment's record block table
	cacheBloom                  // a page of a segment's bloom filter
	cacheDirIndex               // a page of a segment's directory index
)

// dirPageEntries is how many directory index entries a page holds. The
// entries vary in length (each holds its block's first key), so a page is
// a run of entries, and the segment keeps each page's first key, offset,
// length and CRC-32C.
const dirPageEntries = 64

// dirPage locates a page of the directory index in the meta section.
type dirPage struct {
	first []byte // the first key of the page's first entry
	off   int64
	n     uint32
	crc   uint32
}

// endDirPage closes the directory index page being parsed, if any.
func (sg *segment) endDirPage(r *metaReader, metaOff, metaLen int64) {
	if len(sg.dirPages) == 0 {
		return
	}
	p := &sg.dirPages[len(sg.dirPages)-1]
	if p.n == 0 {
		p.n = uint32(metaOff + r.s.pos(metaLen) - p.off)
		p.crc = r.s.sub
	}
}

// dirPageRefs returns the entries of directory index page p, through the
// cache or not; their keys point into the page, which callers must not
// modify.
func (sg *segment) dirPageRefs(p int, cached bool) ([]dirRef, error) {
	pg := sg.dirPages[p]
	k := cacheKey{sg.num, cacheDirIndex, p}
	var b []byte
	if cached {
		b, _ = sg.cache.get(k)
	}
	if b == nil {
		var err error
		if b, err = sg.readAt(pg.off, int(pg.n)); err != nil {
			return nil, err
		}
		if crc32.Checksum(b, castagnoli) != pg.crc {
			return nil, sg.corrupt("meta section page %d of the directory index: checksum mismatch", p)
		}
		if cached {
			sg.cache.put(k, b)
		}
	}
	refs := make([]dirRef, 0, min(dirPageEntries, sg.dirCount-p*dirPageEntries))
	r := metaReader{b: b}
	for len(refs) < cap(refs) {
		kl := r.uvarint()
		first := r.take(int(min(kl, uint64(len(r.b)))))
		d := dirRef{first, int64(r.u64()), r.u32()}
		if r.err != nil {
			return nil, sg.corrupt("meta section page %d of the directory index: malformed", p)
		}
		refs = append(refs, d)
	}
	return refs, nil
}

// dirRef returns directory block i's entry in the directory index.
func (sg *segment) dirRef(i int) (dirRef, error) {
	refs, err := sg.dirPageRefs(i/dirPageEntries, true)
	if err != nil {
		return dirRef{}, err
	}
	return refs[i%dirPageEntries], nil
}

// findDir returns the index of the directory block that would hold key k
// (the last whose first key is at most k), or -1.
func (sg *segment) findDir(k []byte) (int, error) {
	p := sort.Search(len(sg.dirPages), func(p int) bool { return bytes.Compare(sg.dirPages[p].first, k) > 0 }) - 1
	if p < 0 {
		return -1, nil
	}
	refs, err := sg.dirPageRefs(p, true)
	if err != nil {
		return -1, err
	}
	j := sort.Search(len(refs), func(j int) bool { return bytes.Compare(refs[j].first, k) > 0 }) - 1
	if j < 0 { // the page's first key is not the one Open read
		return -1, sg.corrupt("meta section page %d of the directory index: first key changed", p)
	}
	return p*dirPageEntries + j, nil
}

// metaTable locates a table of fixed-size entries in a segment's meta
// section.
type metaTable struct {
	kind  byte     // its pages' kind in the block cache
	off   int64    // file offset of entry 0
	entry int      // bytes an entry
	n     int      // entries
	crcs  []uint32 // CRC-32C of each page
}

func (t *metaTable) perPage() int { return max(1, metaPage/t.entry) }

// pages is the number of pages.
func (t *metaTable) pages() int { return (t.n + t.perPage() - 1) / t.perPage() }

// page returns page p of t, through the cache or not (a pass over the
// whole table would only evict what lookups use); callers must not modify
// it.
func (sg *segment) page(t *metaTable, p int, cached bool) ([]byte, error) {
	k := cacheKey{sg.num, t.kind, p}
	if cached {
		if b, ok := sg.cache.get(k); ok {
			return b, nil
		}
	}
	per := t.perPage()
	n := min(per, t.n-p*per)
	b, err := sg.readAt(t.off+int64(p*per*t.entry), n*t.entry)
	if err != nil {
		return nil, err
	}
	if crc32.Checksum(b, castagnoli) != t.crcs[p] {
		return nil, sg.corrupt("meta section page %d of table at %d: checksum mismatch", p, t.off)
	}
	if cached {
		sg.cache.put(k, b)
	}
	return b, nil
}

// blockEntry decodes a block table entry.
func (sg *segment) blockEntry(b []byte) blockRef {
	r := blockRef{off: int64(binary.LittleEndian.Uint64(b)), n: binary.LittleEndian.Uint32(b[8:]), first: binary.LittleEndian.Uint64(b[12:])}
	if sg.version >= 2 {
		r.crc = binary.LittleEndian.Uint32(b[20:])
	}
	return r
}

// blockRef returns record block i's entry in the block table.
func (sg *segment) blockRef(i int) (blockRef, error) {
	t := &sg.blockTab
	per := t.perPage()
	pg, err := sg.page(t, i/per, true)
	if err != nil {
		return blockRef{}, err
	}
	j := i % per * t.entry
	return sg.blockEntry(pg[j : j+t.entry]), nil
}

// findBlock returns the index and entry of the record block that would
// hold seq (the last whose first sequence number is at most seq), or -1.
func (sg *segment) findBlock(seq uint64) (int, blockRef, error) {
	p := sort.Search(len(sg.blockFirsts), func(p int) bool { return sg.blockFirsts[p] > seq }) - 1
	if p < 0 {
		return -1, blockRef{}, nil
	}
	t := &sg.blockTab
	pg, err := sg.page(t, p, true)
	if err != nil {
		return -1, blockRef{}, err
	}
	n := len(pg) / t.entry
	j := sort.Search(n, func(j int) bool { return sg.blockEntry(pg[j*t.entry:]).first > seq }) - 1
	return p*t.perPage() + j, sg.blockEntry(pg[j*t.entry:]), nil
}

// eachBlock calls fn with every record block's index and entry in order,
// and the first sequence number after the block (the next block's first,
// or last+1), reading the table past the cache. It stops at fn's first
// error and returns it.
func (sg *segment) eachBlock(fn func(i int, b blockRef, end uint64) error) error {
	t := &sg.blockTab
	per := t.perPage()
	var prev blockRef
	for i := 0; i < t.n; i += per {
		pg, err := sg.page(t, i/per, false)
		if err != nil {
			return err
		}
		for j := range len(pg) / t.entry {
			b := sg.blockEntry(pg[j*t.entry:])
			if i+j > 0 {
				if err := fn(i+j-1, prev, b.first); err != nil {
					return err
				}
			}
			prev = b
		}
	}
	if t.n > 0 {
		return fn(t.n-1, prev, sg.last+1)
	}
	return nil
}

// mayContain asks the segment's bloom filter about eventID hash h.
func (sg *segment) mayContain(h uint64) (bool, error) {
	t := &sg.bloomTab
	if t.n == 0 {
		return false, nil
	}
	i := bloomBlock(h, t.n)
	per := t.perPage()
	pg, err := sg.page(t, i/per, true)
	if err != nil {
		return false, err
	}
	j := i % per * t.entry
	return bloomBlockHas(pg[j:j+t.entry], h), nil
}

// metaStream reads a meta section from the file, keeping its CRC-32C, so
// Open need not hold the section whole.
type metaStream struct {
	r    *bufio.Reader
	left int64 // bytes not yet read
	crc  uint32
	sub  uint32 // CRC-32C since the caller last zeroed it
	buf  []byte
	err  error // a read of the file that failed, not at its end
}

func newMetaStream(r io.ReaderAt, off, n int64) *metaStream {
	return &metaStream{r: bufio.NewReaderSize(io.NewSectionReader(r, off, n), 64<<10), left: n}
}

// read returns the next n bytes, valid until the next call, or false if
// the section ends first or the file cannot be read (err set).
func (s *metaStream) read(n int) ([]byte, error) {
	if int64(n) > s.left {
		return nil, io.ErrUnexpectedEOF
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if _, err := io.ReadFull(s.r, b); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && s.err == nil {
			s.err = err
		}
		return nil, err
	}
	s.crc = crc32.Update(s.crc, castagnoli, b)
	s.sub = crc32.Update(s.sub, castagnoli, b)
	s.left -= int64(n)
	return b, nil
}

func (s *metaStream) ReadByte() (byte, error) {
	b, err := s.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// drain reads the rest of the section (for its CRC).
func (s *metaStream) drain() error {
	for s.left > 0 {
		if _, err := s.read(int(min(s.left, 64<<10))); err != nil {
			return err
		}
	}
	return nil
}

// pos is the offset of the next byte from the section's start, given its
// length.
func (s *metaStream) pos(length int64) int64 { return length - s.left }
