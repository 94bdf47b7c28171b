package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// A segment writer's tables that grow with the segment, the record block
// table, the directory index and the bloom filter (about 2.8 bytes an
// event together), would make a merge's or a full compaction's memory
// grow with its output. The writer keeps at most spillEntries of each in
// memory and moves the rest, encoded as the meta section holds them, to a
// temporary file beside the segment, copied into the meta section when
// the segment is finished (decisions §91). The file ends in ".tmp", so an
// Open after a crash deletes it with the segment's own temporary file.

// spillEntries is how many block table or directory index entries a
// segment writer holds before it moves them to its spill file.
var spillEntries = 4096

// spillMem is how many encoded bytes a spill holds before it creates its
// file: a flushed segment's tables fit.
var spillMem = 1 << 20

// spill is the encoded entries of one table moved out of the writer's
// tables: in mem, then, past spillMem, in the file at path.
type spill struct {
	path  string
	mem   []byte
	f     *os.File
	w     *bufio.Writer
	count int // entries
	err   error
}

// write appends encoded entries, count of them.
func (s *spill) write(b []byte, count int) {
	s.count += count
	if s.err != nil {
		return
	}
	if s.f == nil && len(s.mem)+len(b) <= spillMem {
		s.mem = append(s.mem, b...)
		return
	}
	if s.f == nil {
		if s.f, s.err = os.OpenFile(s.path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644); s.err != nil {
			return
		}
		s.w = bufio.NewWriterSize(s.f, 64<<10)
	}
	if _, err := s.w.Write(s.mem); err != nil {
		s.err = err
	}
	s.mem = nil
	if _, err := s.w.Write(b); err != nil {
		s.err = err
	}
}

// copyTo writes the spilled bytes to w.
func (s *spill) copyTo(w io.Writer) error {
	if s.err != nil {
		return fmt.Errorf("segment writer: spill file: %w", s.err)
	}
	if s.f == nil {
		_, err := w.Write(s.mem)
		return err
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("segment writer: spill file: %w", err)
	}
	if _, err := io.Copy(w, io.NewSectionReader(s.f, 0, 1<<62)); err != nil {
		return fmt.Errorf("segment writer: spill file: %w", err)
	}
	return nil
}

// remove deletes the file, if any.
func (s *spill) remove() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.path)
		s.f = nil
	}
}

// bloomWriter builds a bloom filter of n blocks from hashes given in
// increasing order, which fill its blocks in order (bloomBlock), holding
// one block in memory: the others are in out, encoded.
type bloomWriter struct {
	n   int // blocks
	cur int // the block being filled; those before it are in out
	blk [8]uint64
	out spill
	buf []byte
}

func (bw *bloomWriter) add(h uint64) {
	i := bloomBlock(h, bw.n)
	bw.advance(i)
	x := bloomBits(h)
	for range bloomProbes {
		bit := x & 511
		bw.blk[bit>>6] |= 1 << (bit & 63)
		x >>= 9
	}
}

// advance writes the blocks before block i out.
func (bw *bloomWriter) advance(i int) {
	for bw.cur < i {
		for _, w := range bw.blk {
			bw.buf = binary.LittleEndian.AppendUint64(bw.buf, w)
		}
		bw.blk = [8]uint64{}
		bw.cur++
		if len(bw.buf) >= 64<<10 {
			bw.out.write(bw.buf, 0)
			bw.buf = bw.buf[:0]
		}
	}
}

// finish writes every block out.
func (bw *bloomWriter) finish() {
	bw.advance(bw.n)
	bw.out.write(bw.buf, 0)
	bw.buf = nil
}
