package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// segReader decodes records of one segment as a stream.
type segReader struct {
	br *bufio.Reader
	// f is the file br reads, when it can seek: a record that fails to
	// decode is read from it again (see next).
	f    io.ReadSeeker
	path string
	off  int64
	seq  uint64 // expected next seq
	// from: records numbered below it are checked but not copied out
	// (the Reader skips them).
	from uint64
	hdr  [headerSize]byte
	buf  []byte
}

func newSegReader(f io.Reader, path string, first uint64) *segReader {
	r := &segReader{br: bufio.NewReaderSize(f, 1<<20), path: path, seq: first}
	r.f, _ = f.(io.ReadSeeker)
	return r
}

func (r *segReader) readMagic() error {
	var m [len(magic)]byte
	if _, err := io.ReadFull(r.br, m[:]); err != nil || string(m[:]) != magic {
		return &CorruptionError{Segment: r.path, Offset: 0, Err: errors.New("bad segment header")}
	}
	r.off = int64(len(magic))
	return nil
}

// next returns the next event record, passing over gap records (a repair
// recorded those sequence numbers as lost). At a clean end of file it
// returns io.EOF; at a damaged record it returns an error wrapping errTorn,
// with r.off left at the damaged record's start.
//
// What the reader read ahead of the active segment's records may be the
// zeros of its preallocated space (docs/format/wal.md), which the writer
// has since written records over. So a record that does not decode from
// the buffer is read from the file once more before it counts as the end
// or as damage.
func (r *segReader) next() (Record, error) {
	rec, err := r.read()
	if err == nil || r.f == nil {
		return rec, err
	}
	if _, serr := r.f.Seek(r.off, io.SeekStart); serr != nil {
		return rec, err
	}
	r.br.Reset(r.f)
	return r.read()
}

// read is next, from what br holds.
func (r *segReader) read() (Record, error) {
	for {
		if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			return Record{}, fmt.Errorf("short header: %w", errTorn)
		}
		hd, err := parseHeader(r.hdr[:])
		if err != nil {
			return Record{}, err
		}
		if hd.seq != r.seq {
			return Record{}, fmt.Errorf("seq %d, want %d: %w", hd.seq, r.seq, errTorn)
		}
		r.buf = slices.Grow(r.buf[:0], hd.n)[:hd.n]
		if _, err := io.ReadFull(r.br, r.buf); err != nil {
			return Record{}, fmt.Errorf("short payload: %w", errTorn)
		}
		d, err := decodeBody(r.hdr[:], hd, r.buf, hd.seq >= r.from)
		if err != nil {
			return Record{}, err
		}
		r.off += int64(headerSize + hd.n)
		r.seq = d.last() + 1
		if d.gap == nil {
			return d.rec, nil
		}
	}
}

// Reader reads records in sequence order from a starting sequence number.
type Reader struct {
	dir  string
	segs []uint64
	i    int
	from uint64
	// last is the seq of the last record returned, or the last seq of a
	// gap record passed after it; 0 before the first.
	last uint64
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

// Passed is the highest sequence number the reader has gone past: the
// last record it returned, or the end of a gap a repair recorded after it.
// Sequence numbers in a recorded gap are never returned: a caller that
// expects every seq up to some end uses Passed to tell a recorded gap from
// records that are missing.
func (rd *Reader) Passed() uint64 { return rd.last }

// Next returns the next record, or io.EOF when there are no more. Records
// come in sequence order, one seq after another, except across a gap a
// repair recorded (see [Gap]). Damage inside a sealed segment is a
// *CorruptionError; at the end of the newest segment a torn record is
// reported as io.EOF.
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
			rd.r.from = rd.from
			if err := rd.r.readMagic(); err != nil {
				return Record{}, err
			}
		}
		rec, err := rd.r.next()
		if p := rd.r.seq - 1; p > rd.last && p >= rd.from {
			rd.last = p // past a gap record
		}
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
		if want >= end {
			return Record{}, io.EOF // the reader passed a recorded gap up to end
		}
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
