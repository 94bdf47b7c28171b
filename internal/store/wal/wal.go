// Package wal is OpenTrail's write-ahead log: CRC-framed event records in
// numbered segment files, written with group commit, read back by followers
// from any sequence number, and repaired at a torn tail after a crash.
//
// The byte format is documented in docs/format/wal.md. A WAL is used by one
// writer at a time; readers opened with [NewReader] may read sealed data
// concurrently with the writer.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

const (
	magic        = "OTWAL\x00\x01\n"
	headerSize   = 12 + 4 // len, crc, seq
	maxPayload   = 1 << 20
	payloadV1    = 1
	segSuffix    = ".wal"
	segNameWidth = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a WAL.
type Options struct {
	// SegmentSize is the size at which a new segment is started.
	SegmentSize int64
	Logger      *slog.Logger
}

// DefaultOptions returns the defaults: 32 MiB segments.
func DefaultOptions() Options {
	return Options{SegmentSize: 32 << 20, Logger: slog.Default()}
}

// Entry is one event to append: its partition and its compact JSON.
type Entry struct {
	Account string
	Region  string
	Raw     []byte
}

// Record is an entry read back, with its sequence number.
type Record struct {
	Seq uint64
	Entry
}

// CorruptionError reports damage the WAL cannot repair by itself: a bad
// record before the tail of the newest segment, or a broken segment chain.
// Operators should run `opentrail fsck`, which says what was found.
type CorruptionError struct {
	Segment string
	Offset  int64
	Err     error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal corruption in %s at offset %d: %v", e.Segment, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// ErrClosed is returned by operations on a closed WAL.
var ErrClosed = errors.New("wal: closed")

// WAL is the write side of the log.
type WAL struct {
	dir      string
	opts     Options
	segs     []uint64 // first seq of each segment, ascending
	f        *os.File
	bw       *bufio.Writer
	size     int64  // bytes in the active segment, including buffered ones
	next     uint64 // seq of the next record
	buf      []byte
	closed   bool
	repaired int64 // bytes cut from the tail on open
}

// Open opens (or creates) the WAL in dir, cutting a torn tail from the newest
// segment. It returns a *CorruptionError for damage elsewhere.
func Open(dir string, opts Options) (*WAL, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultOptions().SegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	w := &WAL{dir: dir, opts: opts, segs: segs, next: 1}
	if len(segs) == 0 {
		if err := w.startSegment(1); err != nil {
			return nil, err
		}
		return w, nil
	}
	last := segs[len(segs)-1]
	path := segPath(dir, last)
	end, next, err := scanTail(path, last)
	if err != nil {
		// A crash while a segment was being created can leave it shorter
		// than its header: it holds no record, so start it again.
		if st, serr := os.Stat(path); serr == nil && st.Size() <= int64(len(magic)) {
			opts.Logger.Warn("wal: recreating segment with incomplete header", "segment", path)
			w.segs, w.next = segs[:len(segs)-1], last
			if err := w.startSegment(last); err != nil {
				return nil, err
			}
			return w, nil
		}
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open wal: %w", err)
	}
	if st.Size() != end {
		w.repaired = st.Size() - end
		opts.Logger.Warn("wal: cutting torn tail", "segment", path, "offset", end, "bytes", w.repaired)
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, fmt.Errorf("open wal: repair: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("open wal: repair: %w", err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open wal: %w", err)
	}
	w.f, w.size, w.next = f, end, next
	w.bw = bufio.NewWriterSize(f, 1<<20)
	return w, nil
}

// Repaired reports how many bytes Open cut from a torn tail.
func (w *WAL) Repaired() int64 { return w.repaired }

// NextSeq is the sequence number the next appended record will get.
func (w *WAL) NextSeq() uint64 { return w.next }

// FirstSeq is the sequence number of the oldest record still in the WAL (or
// NextSeq when it is empty).
func (w *WAL) FirstSeq() uint64 { return w.segs[0] }

// Write appends entries and returns the sequence number of the first. The
// records are not durable until Sync returns.
func (w *WAL) Write(entries []Entry) (uint64, error) {
	if w.closed {
		return 0, ErrClosed
	}
	first := w.next
	for i := range entries {
		e := &entries[i]
		if len(e.Account) > 255 || len(e.Region) > 255 {
			return 0, fmt.Errorf("wal write: partition name too long")
		}
		n := 1 + 1 + len(e.Account) + 1 + len(e.Region) + len(e.Raw)
		if n > maxPayload {
			return 0, fmt.Errorf("wal write: record of %d bytes exceeds %d", n, maxPayload)
		}
		if w.size+int64(headerSize+n) > w.opts.SegmentSize && w.size > int64(len(magic)) {
			if err := w.rotate(); err != nil {
				return 0, err
			}
		}
		w.buf = slices.Grow(w.buf[:0], headerSize+n)[:headerSize]
		w.buf = append(w.buf, payloadV1, byte(len(e.Account)))
		w.buf = append(w.buf, e.Account...)
		w.buf = append(w.buf, byte(len(e.Region)))
		w.buf = append(w.buf, e.Region...)
		w.buf = append(w.buf, e.Raw...)
		binary.LittleEndian.PutUint32(w.buf[0:], uint32(n))
		binary.LittleEndian.PutUint64(w.buf[8:], w.next)
		crc := crc32.Update(0, castagnoli, w.buf[8:])
		binary.LittleEndian.PutUint32(w.buf[4:], crc)
		if _, err := w.bw.Write(w.buf); err != nil {
			return 0, fmt.Errorf("wal write: %w", err)
		}
		w.size += int64(len(w.buf))
		w.next++
	}
	return first, nil
}

// Sync makes every written record durable.
func (w *WAL) Sync() error {
	if w.closed {
		return ErrClosed
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("wal sync: %w", err)
	}
	if err := syscall.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("wal sync: %w", err)
	}
	return nil
}

func (w *WAL) rotate() error {
	if err := w.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("wal rotate: %w", err)
	}
	return w.startSegment(w.next)
}

func (w *WAL) startSegment(first uint64) error {
	path := segPath(w.dir, first)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("wal new segment: %w", err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		f.Close()
		return fmt.Errorf("wal new segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal new segment: %w", err)
	}
	if err := fileutil.SyncDir(w.dir); err != nil {
		f.Close()
		return fmt.Errorf("wal new segment: %w", err)
	}
	if len(w.segs) == 0 || w.segs[len(w.segs)-1] != first {
		w.segs = append(w.segs, first)
	}
	w.f, w.size = f, int64(len(magic))
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 1<<20)
	} else {
		w.bw.Reset(f)
	}
	return nil
}

// Seal closes the active segment and starts a new, empty one, so that
// Truncate can remove everything written so far. Stores call it on a clean
// shutdown once every follower has applied the whole log.
func (w *WAL) Seal() error {
	if w.closed {
		return ErrClosed
	}
	if w.size <= int64(len(magic)) {
		return nil // already empty
	}
	return w.rotate()
}

// Truncate deletes sealed segments whose records all have seq < before. The
// active segment is never deleted.
func (w *WAL) Truncate(before uint64) (int, error) {
	n := 0
	for len(w.segs) > 1 && w.segs[1] <= before {
		if err := os.Remove(segPath(w.dir, w.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("wal truncate: %w", err)
		}
		w.segs = w.segs[1:]
		n++
	}
	if n > 0 {
		if err := fileutil.SyncDir(w.dir); err != nil {
			return n, fmt.Errorf("wal truncate: %w", err)
		}
	}
	return n, nil
}

// Close syncs and closes the active segment. It is safe to call twice.
func (w *WAL) Close() error {
	if w.closed {
		return nil
	}
	err := w.Sync()
	w.closed = true
	return errors.Join(err, w.f.Close())
}

func segPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%0*d%s", segNameWidth, first, segSuffix))
}

func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || len(name) != segNameWidth+len(segSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || n == 0 {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// scanTail reads the newest segment and returns the offset just past its
// last intact record and the seq that follows it.
func scanTail(path string, first uint64) (end int64, next uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open wal: %w", err)
	}
	defer f.Close()
	r := newSegReader(f, path, first)
	if err := r.readMagic(); err != nil {
		// A segment whose header never became durable holds no
		// acknowledged record: treat the whole file as tail.
		return 0, first, fmt.Errorf("open wal: %w", err)
	}
	for {
		_, err := r.next()
		if err != nil {
			return r.off, r.seq, nil
		}
	}
}

// segReader decodes records of one segment.
type segReader struct {
	br   *bufio.Reader
	path string
	off  int64
	seq  uint64 // expected next seq
	hdr  [headerSize]byte
	buf  []byte
}

func newSegReader(f io.Reader, path string, first uint64) *segReader {
	return &segReader{br: bufio.NewReaderSize(f, 1<<20), path: path, seq: first}
}

func (r *segReader) readMagic() error {
	var m [len(magic)]byte
	if _, err := io.ReadFull(r.br, m[:]); err != nil || string(m[:]) != magic {
		return &CorruptionError{Segment: r.path, Offset: 0, Err: errors.New("bad segment header")}
	}
	r.off = int64(len(magic))
	return nil
}

// errTorn marks a short, torn or corrupt record; a clean end of data is
// io.EOF.
var errTorn = errors.New("torn or corrupt record")

// next returns the next record. At a clean end of file it returns io.EOF;
// at a damaged record it returns an error wrapping errTorn, with r.off left
// at the damaged record's start.
func (r *segReader) next() (Record, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		if err == io.EOF {
			return Record{}, io.EOF
		}
		return Record{}, fmt.Errorf("short header: %w", errTorn)
	}
	n := binary.LittleEndian.Uint32(r.hdr[0:])
	crc := binary.LittleEndian.Uint32(r.hdr[4:])
	seq := binary.LittleEndian.Uint64(r.hdr[8:])
	if n > maxPayload || n < 3 {
		return Record{}, fmt.Errorf("bad length %d: %w", n, errTorn)
	}
	if seq != r.seq {
		return Record{}, fmt.Errorf("seq %d, want %d: %w", seq, r.seq, errTorn)
	}
	r.buf = slices.Grow(r.buf[:0], int(n))[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return Record{}, fmt.Errorf("short payload: %w", errTorn)
	}
	c := crc32.Update(0, castagnoli, r.hdr[8:])
	if crc32.Update(c, castagnoli, r.buf) != crc {
		return Record{}, fmt.Errorf("crc mismatch: %w", errTorn)
	}
	rec, err := decodePayload(seq, r.buf)
	if err != nil {
		return Record{}, fmt.Errorf("%v: %w", err, errTorn)
	}
	r.off += int64(headerSize) + int64(n)
	r.seq++
	return rec, nil
}

func decodePayload(seq uint64, p []byte) (Record, error) {
	if p[0] != payloadV1 {
		return Record{}, fmt.Errorf("unknown payload version %d", p[0])
	}
	p = p[1:]
	al := int(p[0])
	if len(p) < 1+al+1 {
		return Record{}, errors.New("short payload")
	}
	acct := string(p[1 : 1+al])
	p = p[1+al:]
	rl := int(p[0])
	if len(p) < 1+rl {
		return Record{}, errors.New("short payload")
	}
	region := string(p[1 : 1+rl])
	raw := append([]byte(nil), p[1+rl:]...)
	return Record{Seq: seq, Entry: Entry{Account: acct, Region: region, Raw: raw}}, nil
}

// Reader reads records in sequence order from a starting sequence number.
type Reader struct {
	dir  string
	segs []uint64
	i    int
	from uint64
	last uint64 // seq of the last record returned; 0 before the first
	// live is set by NextBefore: the directory may change under the
	// reader. finished is the first seq of the last segment it finished.
	live     bool
	finished uint64
	f        *os.File
	r        *segReader
}

// NewReader returns a reader positioned at the first record with seq >= from.
// It reads what is on disk; records written later by a concurrent writer
// may or may not be seen.
func NewReader(dir string, from uint64) (*Reader, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("wal reader: %w", err)
	}
	rd := &Reader{dir: dir, segs: segs, from: from}
	// Start at the last segment whose first seq is <= from.
	for rd.i+1 < len(segs) && segs[rd.i+1] <= from {
		rd.i++
	}
	return rd, nil
}

// Next returns the next record, or io.EOF when there are no more. Damage
// inside a sealed segment is a *CorruptionError; at the end of the newest
// segment a torn record is reported as io.EOF.
func (rd *Reader) Next() (Record, error) {
	for {
		if rd.r == nil {
			if rd.i >= len(rd.segs) {
				return Record{}, io.EOF
			}
			path := segPath(rd.dir, rd.segs[rd.i])
			f, err := os.Open(path)
			if err != nil {
				return Record{}, fmt.Errorf("wal reader: %w", err)
			}
			rd.f, rd.r = f, newSegReader(f, path, rd.segs[rd.i])
			if err := rd.r.readMagic(); err != nil {
				return Record{}, err
			}
		}
		rec, err := rd.r.next()
		if err == nil {
			if rec.Seq < rd.from {
				continue
			}
			rd.last = rec.Seq
			return rec, nil
		}
		last := rd.i == len(rd.segs)-1
		if !errors.Is(err, io.EOF) && !last {
			return Record{}, &CorruptionError{Segment: rd.r.path, Offset: rd.r.off, Err: err}
		}
		if !last && rd.r.seq != rd.segs[rd.i+1] {
			if rd.live {
				// A directory listing taken while the writer rotates
				// may miss a segment; NextBefore lists again.
				rd.finished = rd.segs[rd.i]
				rd.f.Close()
				rd.f, rd.r = nil, nil
				rd.i = len(rd.segs)
				return Record{}, errStaleList
			}
			return Record{}, &CorruptionError{Segment: rd.r.path, Offset: rd.r.off,
				Err: fmt.Errorf("segment ends at seq %d but the next starts at %d", rd.r.seq-1, rd.segs[rd.i+1])}
		}
		rd.finished = rd.segs[rd.i]
		rd.f.Close()
		rd.f, rd.r = nil, nil
		if last {
			rd.i++
			return Record{}, io.EOF
		}
		rd.i++
	}
}

// NextBefore is Next for a reader that follows a live WAL: it returns the
// next record if its seq is below end, and io.EOF without reading anything
// once the reader has reached end. Records below end MUST be durable (the
// writer has fsynced them), so they are read whole even while the writer
// appends after them; segments the writer started after the reader was
// opened are found when the reader gets to them.
func (rd *Reader) NextBefore(end uint64) (Record, error) {
	rd.live = true
	for {
		if rd.want() >= end {
			return Record{}, io.EOF
		}
		rec, err := rd.Next()
		if !errors.Is(err, io.EOF) && !errors.Is(err, errStaleList) {
			return rec, err
		}
		// The segments known are exhausted (or their listing was stale)
		// but records below end exist: the writer has rotated since.
		// Find the segment holding the next record and continue there.
		want := rd.want()
		segs, i, err := rd.relist(want)
		if err != nil {
			return Record{}, fmt.Errorf("wal reader: record %d is below the durable end %d: %w", want, end, err)
		}
		rd.segs, rd.i = segs, i
		rd.from = want
	}
}

// errStaleList marks a segment listing that missed a segment.
var errStaleList = errors.New("wal reader: stale segment list")

// relist lists the segments again and returns the index of the one that
// holds want, which must be newer than the segment the reader finished. A
// listing made while the writer creates a segment may leave that segment
// out (directory reads race with creation), so it retries for a while.
func (rd *Reader) relist(want uint64) ([]uint64, int, error) {
	var last error
	for attempt := range 200 {
		if attempt > 0 {
			time.Sleep(time.Millisecond)
		}
		segs, err := listSegments(rd.dir)
		if err != nil {
			return nil, 0, err
		}
		i := len(segs) - 1
		for i >= 0 && segs[i] > want {
			i--
		}
		if i >= 0 && segs[i] > rd.finished {
			return segs, i, nil
		}
		last = fmt.Errorf("no segment after %d holds it (%d segments)", rd.finished, len(segs))
	}
	return nil, 0, last
}

// want is the seq of the next record the reader will return.
func (rd *Reader) want() uint64 {
	if rd.last+1 > rd.from {
		return rd.last + 1
	}
	return rd.from
}

// Close releases the reader's file.
func (rd *Reader) Close() error {
	if rd.f != nil {
		err := rd.f.Close()
		rd.f = nil
		return err
	}
	return nil
}
