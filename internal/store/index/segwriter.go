package index

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

const (
	segMagic     = "OTSEG002" // version 2, the one written
	segMagicV1   = "OTSEG001"
	segEndMagic  = "OTSEGEND"
	footerLen    = 48
	blockTarget  = 32 << 10 // with the record dictionary, as small as 64 KiB without, and as fast to decode (decisions §87)
	dirTarget    = 8 << 10
	idEntryLen   = 12
	idSparseStep = 256
)

type blockRef struct {
	off   int64
	n     uint32
	first uint64
	crc   uint32 // CRC-32C of the stored bytes (version 2)
}

type dirRef struct {
	first []byte
	off   int64
	n     uint32
}

type partInfo struct {
	name     string
	kind     byte
	events   uint32
	min, max int64
}

// segWriter writes one segment file (docs/format/index.md) in section
// order: records, then postings with their directory, then the eventID
// table. It writes to a temporary name and renames on finish.
type segWriter struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	off       int64
	dirEnc    *zstd.Encoder // directory blocks
	rec       *codec        // record blocks: the segment's record dictionary
	recEnc    *zstd.Encoder
	firstSeq  uint64

	cur      []byte
	curFirst uint64
	curOpen  bool
	blocks   []blockRef

	postings bool
	lastKey  []byte
	dirBuf   []byte
	dirFirst []byte
	dirIdx   []dirRef
	scratch  []byte
	parts    []partInfo
	events   int

	idsOpen  bool
	idsOff   int64
	idCount  int
	idSparse []uint64
	idCRCs   []uint32 // CRC-32C of each group of idSparseStep entries
	lastID   [2]uint64
	bloom    bloomWriter

	// Entries moved out of blocks and dirIdx, and the bloom filter's
	// blocks (spill.go).
	blockSpill, dirSpill spill

	pw postingWriter // the posting list being written, its buffers reused
}

// newSegWriter starts the segment file at path. Its record blocks, those
// it compresses and those added compressed, use rec's record dictionary;
// dirEnc compresses its directory blocks (without one).
func newSegWriter(path string, dirEnc *zstd.Encoder, rec *codec, firstSeq uint64, expectedIDs int) (*segWriter, error) {
	_, recEnc, err := rec.encoders()
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	sw := &segWriter{path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), dirEnc: dirEnc, rec: rec, recEnc: recEnc,
		firstSeq: firstSeq, bloom: bloomWriter{n: len(newBloom(expectedIDs)) / 8}}
	sw.blockSpill.path = path + ".blocks.tmp"
	sw.dirSpill.path = path + ".dir.tmp"
	sw.bloom.out.path = path + ".bloom.tmp"
	sw.write([]byte(segMagic))
	return sw, nil
}

func (sw *segWriter) write(b []byte) {
	n, _ := sw.w.Write(b) // a write error sticks in the bufio.Writer and is reported by Flush
	sw.off += int64(n)
}

// abort removes the unfinished file.
func (sw *segWriter) abort() {
	sw.f.Close()
	os.Remove(sw.tmp)
	sw.removeSpills()
}

func (sw *segWriter) removeSpills() {
	sw.blockSpill.remove()
	sw.dirSpill.remove()
	sw.bloom.out.remove()
}

// addBlockRef records a record block in the block table.
func (sw *segWriter) addBlockRef(b blockRef) {
	sw.blocks = spillFull(sw, &sw.blockSpill, append(sw.blocks, b), appendBlockEntry)
}

// spillFull writes entries to s, encoded by appendEntry, once there are
// spillEntries of them, and returns the entries the writer still holds.
func spillFull[T any](sw *segWriter, s *spill, entries []T, appendEntry func([]byte, T) []byte) []T {
	if len(entries) < spillEntries {
		return entries
	}
	sw.scratch = sw.scratch[:0]
	for _, e := range entries {
		sw.scratch = appendEntry(sw.scratch, e)
	}
	s.write(sw.scratch, len(entries))
	return entries[:0]
}

// addRecord appends a record; records come in sequence order.
func (sw *segWriter) addRecord(seq uint64, raw []byte) {
	if !sw.curOpen {
		sw.curFirst, sw.curOpen = seq, true
	}
	sw.cur, _ = appendRecord(sw.cur, sw.curFirst, seq, raw)
	if len(sw.cur) >= blockTarget {
		sw.finishBlock()
	}
}

func (sw *segWriter) finishBlock() {
	if !sw.curOpen {
		return
	}
	sw.scratch = sw.recEnc.EncodeAll(sw.cur, sw.scratch[:0])
	b := blockRef{sw.off, uint32(len(sw.scratch)), sw.curFirst, crc32.Checksum(sw.scratch, castagnoli)}
	sw.write(sw.scratch)
	sw.addBlockRef(b)
	sw.cur, sw.curOpen = sw.cur[:0], false
}

// addBlock copies a record block compressed with the writer's record
// dictionary (or none if it has none) from another segment.
func (sw *segWriter) addBlock(first uint64, comp []byte) {
	sw.finishBlock()
	sw.addBlockRef(blockRef{sw.off, uint32(len(comp)), first, crc32.Checksum(comp, castagnoli)})
	sw.write(comp)
}

// addPosting appends a posting list; keys come in increasing order and
// entries newest first.
func (sw *segWriter) addPosting(key []byte, entries []pos) error {
	if len(entries) == 0 {
		return nil
	}
	pw, err := sw.beginPosting(key, len(entries))
	if err != nil {
		return err
	}
	for _, e := range entries {
		pw.add(e)
	}
	return pw.finish()
}

// postingSpill is the size of encoded chunk data beyond which a posting
// list is written out as it grows, its chunk header table written last in
// the place left for it, so a list of any length takes bounded memory.
var postingSpill = 1 << 20

// postingWriter writes one posting list of a known number of entries,
// given newest first.
type postingWriter struct {
	postingEnc
	sw      *segWriter
	key     []byte
	off     int64 // file offset of the list
	spilled bool  // the header table's place and some data are written
}

// beginPosting starts the posting list of key, which will have n entries;
// keys come in increasing order. Add the entries, then call finish.
func (sw *segWriter) beginPosting(key []byte, n int) (*postingWriter, error) {
	if n <= 0 {
		return nil, fmt.Errorf("segment writer: posting list %q with %d entries", key, n)
	}
	if !sw.postings {
		sw.finishBlock()
		sw.postings = true
	} else if bytes.Compare(key, sw.lastKey) <= 0 {
		return nil, fmt.Errorf("segment writer: key %q out of order", key)
	}
	sw.lastKey = append(sw.lastKey[:0], key...)
	pw := &sw.pw
	pw.postingEnc.reset(n)
	pw.sw, pw.key, pw.off, pw.spilled = sw, sw.lastKey, sw.off, false
	return pw, nil
}

// add appends the next entry (older than the previous one).
func (pw *postingWriter) add(e pos) {
	pw.postingEnc.add(e)
	if !pw.flushable() {
		return
	}
	if !pw.spilled && len(pw.data) >= postingSpill {
		// Leave the header table's place, written by finish.
		pw.sw.write(make([]byte, len(pw.hdrs)))
		pw.spilled = true
	}
	if pw.spilled && len(pw.data) >= 64<<10 {
		pw.sw.write(pw.data)
		pw.drain()
	}
}

// finish writes what is left of the list and its directory entry.
func (pw *postingWriter) finish() error {
	sw := pw.sw
	if pw.added != pw.n {
		return fmt.Errorf("segment writer: posting list %q got %d entries, announced %d", pw.key, pw.added, pw.n)
	}
	pw.done()
	if pw.dataLen > math.MaxUint32 {
		return fmt.Errorf("segment writer: posting list %q is too large", pw.key)
	}
	chunks := len(pw.hdrs) / chunkHdrLen
	if !pw.spilled {
		sw.write(pw.hdrs)
		sw.write(pw.data)
	} else {
		sw.write(pw.data)
		// The header table's place is behind the buffer now.
		if err := sw.w.Flush(); err != nil {
			return fmt.Errorf("write segment: %w", err)
		}
		if _, err := sw.f.WriteAt(pw.hdrs, pw.off); err != nil {
			return fmt.Errorf("write segment: %w", err)
		}
	}
	pw.drain()
	crc := crc32.Checksum(pw.hdrs, castagnoli)
	if len(sw.dirBuf) == 0 {
		sw.dirFirst = append(sw.dirFirst[:0], pw.key...)
	}
	sw.dirBuf = binary.AppendUvarint(sw.dirBuf, uint64(len(pw.key)))
	sw.dirBuf = append(sw.dirBuf, pw.key...)
	sw.dirBuf = binary.AppendUvarint(sw.dirBuf, uint64(pw.off))
	sw.dirBuf = binary.AppendUvarint(sw.dirBuf, uint64(pw.n))
	sw.dirBuf = binary.AppendUvarint(sw.dirBuf, uint64(chunks))
	sw.dirBuf = binary.LittleEndian.AppendUint32(sw.dirBuf, crc)
	if len(sw.dirBuf) >= dirTarget {
		sw.finishDir()
	}
	if k, err := parseKey(pw.key); err == nil && k.attr == 0 {
		sw.parts = append(sw.parts, partInfo{name: k.part, kind: k.kind, events: uint32(pw.n), min: pw.prev.t, max: pw.first.t})
		sw.events += pw.n
	}
	return nil
}

func (sw *segWriter) finishDir() {
	if len(sw.dirBuf) == 0 {
		return
	}
	sw.scratch = sw.dirEnc.EncodeAll(sw.dirBuf, sw.scratch[:0])
	sw.dirIdx = append(sw.dirIdx, dirRef{bytes.Clone(sw.dirFirst), sw.off, uint32(len(sw.scratch))})
	sw.write(sw.scratch)
	sw.dirBuf = sw.dirBuf[:0]
	sw.dirIdx = spillFull(sw, &sw.dirSpill, sw.dirIdx, appendDirEntry)
}

// addID appends an eventID table entry; entries come sorted by hash, then
// seq.
func (sw *segWriter) addID(h, seq uint64) error {
	if !sw.idsOpen {
		sw.finishBlock()
		sw.finishDir()
		sw.idsOpen, sw.idsOff = true, sw.off
	} else if h < sw.lastID[0] || (h == sw.lastID[0] && seq <= sw.lastID[1]) {
		return errors.New("segment writer: eventID entries out of order")
	}
	if seq < sw.firstSeq || seq-sw.firstSeq > math.MaxUint32 {
		return fmt.Errorf("segment writer: seq %d outside the segment's range", seq)
	}
	sw.lastID = [2]uint64{h, seq}
	if sw.idCount%idSparseStep == 0 {
		sw.idSparse = append(sw.idSparse, h)
	}
	var b [idEntryLen]byte
	binary.LittleEndian.PutUint64(b[:], h)
	binary.LittleEndian.PutUint32(b[8:], uint32(seq-sw.firstSeq))
	sw.write(b[:])
	if sw.idCount%idSparseStep == 0 {
		sw.idCRCs = append(sw.idCRCs, 0)
	}
	g := len(sw.idCRCs) - 1
	sw.idCRCs[g] = crc32.Update(sw.idCRCs[g], castagnoli, b[:])
	sw.idCount++
	sw.bloom.add(h)
	return nil
}

// finish writes the meta section and footer, syncs the file and renames it
// into place.
func (sw *segWriter) finish(lastSeq uint64) (err error) {
	defer func() {
		if err != nil {
			sw.abort()
		}
	}()
	sw.finishBlock()
	sw.finishDir()
	if !sw.idsOpen {
		sw.idsOff = sw.off
	}
	meta := segMeta{blocks: sw.blocks, dirIdx: sw.dirIdx, parts: sw.parts, idsOff: sw.idsOff, idCount: sw.idCount,
		idSparse: sw.idSparse, idCRCs: sw.idCRCs, first: sw.firstSeq, last: lastSeq, events: sw.events, dict: sw.rec.dict,
		blockSpill: &sw.blockSpill, dirSpill: &sw.dirSpill}
	if sw.idCount > 0 {
		sw.bloom.finish()
		meta.bloomSpill, meta.bloomWords = &sw.bloom.out, sw.bloom.n*8
	}
	if err := meta.writeTail(sw.w, sw.off); err != nil {
		return err
	}
	sw.removeSpills()
	if err := sw.w.Flush(); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if err := sw.f.Sync(); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if err := sw.f.Close(); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if err := os.Rename(sw.tmp, sw.path); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	return fileutil.SyncDir(filepath.Dir(sw.path))
}

// segMeta is what a segment's meta section and footer hold.
type segMeta struct {
	blocks      []blockRef
	dirIdx      []dirRef
	parts       []partInfo
	idsOff      int64
	idCount     int
	idSparse    []uint64
	idCRCs      []uint32
	bloom       bloom
	first, last uint64
	events      int
	dict        []byte // the record dictionary, nil: none

	// A writer's entries moved out of blocks and dirIdx come first, from
	// these; its bloom filter (bloomWords words) from bloomSpill, instead
	// of bloom. Nil: none.
	blockSpill, dirSpill, bloomSpill *spill
	bloomWords                       int
}

func appendBlockEntry(m []byte, b blockRef) []byte {
	m = binary.LittleEndian.AppendUint64(m, uint64(b.off))
	m = binary.LittleEndian.AppendUint32(m, b.n)
	m = binary.LittleEndian.AppendUint64(m, b.first)
	return binary.LittleEndian.AppendUint32(m, b.crc)
}

func appendDirEntry(m []byte, d dirRef) []byte {
	m = binary.AppendUvarint(m, uint64(len(d.first)))
	m = append(m, d.first...)
	m = binary.LittleEndian.AppendUint64(m, uint64(d.off))
	return binary.LittleEndian.AppendUint32(m, d.n)
}

// crcWriter counts and checksums what it passes on to w.
type crcWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (c *crcWriter) Write(b []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, b)
	c.n += int64(len(b))
	return c.w.Write(b)
}

// appendTail appends the meta section and the footer, for a meta section
// that starts at file offset metaOff.
func (sm *segMeta) appendTail(dst []byte, metaOff int64) []byte {
	b := bytes.NewBuffer(dst)
	sm.writeTail(b, metaOff)
	return b.Bytes()
}

// writeTail writes the meta section and the footer to w, for a meta
// section that starts at file offset metaOff, a piece at a time: the
// section of a large segment (about 2.5 bytes an event) is never held
// whole. A write error to w is w's to keep (bufio.Writer and bytes.Buffer
// do); the error returned is a spill file's.
func (sm *segMeta) writeTail(w io.Writer, metaOff int64) error {
	cw := &crcWriter{w: w}
	var m []byte
	put := func(force bool) {
		if len(m) >= 64<<10 || force {
			cw.Write(m)
			m = m[:0]
		}
	}
	count := func(s *spill, n int) int {
		if s != nil {
			n += s.count
		}
		return n
	}
	copySpill := func(s *spill) error {
		put(true)
		if s == nil {
			return nil
		}
		return s.copyTo(cw)
	}
	m = binary.AppendUvarint(m, uint64(count(sm.blockSpill, len(sm.blocks))))
	if err := copySpill(sm.blockSpill); err != nil {
		return err
	}
	for _, b := range sm.blocks {
		m = appendBlockEntry(m, b)
		put(false)
	}
	m = binary.AppendUvarint(m, uint64(count(sm.dirSpill, len(sm.dirIdx))))
	if err := copySpill(sm.dirSpill); err != nil {
		return err
	}
	for _, d := range sm.dirIdx {
		m = appendDirEntry(m, d)
		put(false)
	}
	m = binary.AppendUvarint(m, uint64(len(sm.parts)))
	for _, p := range sm.parts {
		m = binary.AppendUvarint(m, uint64(len(p.name)))
		m = append(m, p.name...)
		m = append(m, p.kind)
		m = binary.LittleEndian.AppendUint32(m, p.events)
		m = binary.LittleEndian.AppendUint64(m, uint64(p.min))
		m = binary.LittleEndian.AppendUint64(m, uint64(p.max))
		put(false)
	}
	m = binary.LittleEndian.AppendUint64(m, uint64(sm.idsOff))
	m = binary.AppendUvarint(m, uint64(sm.idCount))
	m = binary.AppendUvarint(m, uint64(len(sm.idSparse)))
	for i, h := range sm.idSparse {
		m = binary.LittleEndian.AppendUint64(m, h)
		m = binary.LittleEndian.AppendUint32(m, sm.idCRCs[i])
		put(false)
	}
	if sm.bloomSpill != nil {
		m = binary.AppendUvarint(m, uint64(sm.bloomWords))
		if err := copySpill(sm.bloomSpill); err != nil {
			return err
		}
	} else {
		m = binary.AppendUvarint(m, uint64(len(sm.bloom)))
		for _, x := range sm.bloom {
			m = binary.LittleEndian.AppendUint64(m, x)
			put(false)
		}
	}
	m = binary.AppendUvarint(m, uint64(len(sm.dict)))
	if len(sm.dict) > 0 {
		m = binary.LittleEndian.AppendUint32(m, dictID(sm.dict))
		m = append(m, sm.dict...)
	}
	put(true)
	var ft [footerLen]byte
	binary.LittleEndian.PutUint64(ft[0:], uint64(metaOff))
	binary.LittleEndian.PutUint64(ft[8:], uint64(cw.n))
	binary.LittleEndian.PutUint64(ft[16:], sm.first)
	binary.LittleEndian.PutUint64(ft[24:], sm.last)
	binary.LittleEndian.PutUint32(ft[32:], uint32(sm.events))
	binary.LittleEndian.PutUint32(ft[36:], crc32.Update(cw.crc, castagnoli, ft[:36]))
	copy(ft[40:], segEndMagic)
	w.Write(ft[:])
	return nil
}
