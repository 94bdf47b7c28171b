package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func entries(from, n int) []Entry {
	var es []Entry
	for i := from; i < from+n; i++ {
		es = append(es, Entry{Account: "123456789012", Region: "us-east-1", Raw: []byte(fmt.Sprintf(`{"eventID":"e%d"}`, i))})
	}
	return es
}

func readAll(t *testing.T, dir string, from uint64) []Record {
	t.Helper()
	rd, err := NewReader(dir, from)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []Record
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

func openT(t *testing.T, dir string, segSize int64) *WAL {
	t.Helper()
	o := quietOptions()
	o.SegmentSize = segSize
	w, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWriteReadReopen(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 400) // tiny segments force rotation
	first, err := w.Write(entries(0, 20))
	if err != nil || first != 1 {
		t.Fatalf("Write = %d, %v", first, err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	segs, _ := listSegments(dir)
	if len(segs) < 3 {
		t.Fatalf("want rotation into several segments, got %v", segs)
	}
	w = openT(t, dir, 400)
	if w.NextSeq() != 21 {
		t.Fatalf("NextSeq after reopen = %d, want 21", w.NextSeq())
	}
	if _, err := w.Write(entries(20, 5)); err != nil {
		t.Fatal(err)
	}
	w.Sync()
	w.Close()
	got := readAll(t, dir, 1)
	if len(got) != 25 {
		t.Fatalf("read %d records, want 25", len(got))
	}
	for i, r := range got {
		want := Record{Seq: uint64(i + 1), Entry: entries(i, 1)[0]}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Fatalf("record %d (-want +got):\n%s", i, diff)
		}
	}
	// From the middle of a segment: the records before 17 are passed
	// without being copied out; 17 on come whole.
	if diff := cmp.Diff(got[16:], readAll(t, dir, 17)); diff != "" {
		t.Fatalf("read from 17 (-want +got):\n%s", diff)
	}
}

func TestTornTailIsCut(t *testing.T) {
	for _, cut := range []int{1, 5, 16, 20} {
		t.Run(fmt.Sprintf("cut%d", cut), func(t *testing.T) {
			dir := t.TempDir()
			w := openT(t, dir, 1<<20)
			w.Write(entries(0, 10))
			w.Sync()
			w.Close()
			path := segPath(dir, 1)
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()-int64(cut)); err != nil {
				t.Fatal(err)
			}
			w = openT(t, dir, 1<<20)
			if w.Repaired() == 0 {
				t.Fatal("expected a repair")
			}
			if w.NextSeq() != 10 {
				t.Fatalf("NextSeq = %d, want 10 (record 10 was torn)", w.NextSeq())
			}
			w.Write(entries(9, 1))
			w.Sync()
			w.Close()
			if got := readAll(t, dir, 1); len(got) != 10 {
				t.Fatalf("read %d records, want 10", len(got))
			}
		})
	}
}

func TestGarbageTailIsCut(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 1<<20)
	w.Write(entries(0, 3))
	w.Sync()
	w.Close()
	f, _ := os.OpenFile(segPath(dir, 1), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("\x10\x00\x00\x00garbage-garbage-garbage"))
	f.Close()
	w = openT(t, dir, 1<<20)
	defer w.Close()
	if w.NextSeq() != 4 {
		t.Fatalf("NextSeq = %d, want 4", w.NextSeq())
	}
}

func TestCorruptSealedSegment(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 300)
	w.Write(entries(0, 20))
	w.Sync()
	w.Close()
	// Flip a payload byte in the first (sealed) segment.
	path := segPath(dir, 1)
	b, _ := os.ReadFile(path)
	b[len(magic)+headerSize+3] ^= 0xff
	os.WriteFile(path, b, 0o644)
	rd, _ := NewReader(dir, 1)
	defer rd.Close()
	_, err := rd.Next()
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.Segment != path {
		t.Fatalf("Next = %v, want CorruptionError in %s", err, path)
	}
}

func TestIncompleteHeaderSegment(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 1<<20)
	w.Write(entries(0, 2))
	w.Sync()
	w.Close()
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.wal", 3)), []byte("OTW"), 0o644)
	w = openT(t, dir, 1<<20)
	defer w.Close()
	if w.NextSeq() != 3 {
		t.Fatalf("NextSeq = %d, want 3", w.NextSeq())
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 300)
	w.Write(entries(0, 30))
	w.Sync()
	var segs []uint64
	for _, e := range w.man {
		segs = append(segs, e.First)
	}
	n, err := w.Truncate(segs[2])
	if err != nil || n != 2 {
		t.Fatalf("Truncate = %d, %v; want 2", n, err)
	}
	if w.FirstSeq() != segs[2] {
		t.Fatalf("FirstSeq = %d, want %d", w.FirstSeq(), segs[2])
	}
	// The active segment survives any truncation.
	w.Truncate(1 << 60)
	w.Close()
	got := readAll(t, dir, 1)
	if len(got) == 0 || got[len(got)-1].Seq != 30 {
		t.Fatalf("after truncate, records end at %v", got)
	}
}

func FuzzSegmentDecode(f *testing.F) {
	seed := seedSegment(f, 3)
	f.Add(seed)
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(segPath(d, 1), data, 0o644)
		before, err := Check(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A check that keeps the records (visit) finds the same as one
		// that only checks them, and hands out each record it counts.
		visited := 0
		kept, err := Check(d, func(Record) { visited++ })
		if err != nil {
			t.Fatal(err)
		}
		if kept.Records != before.Records || visited != before.Records || kept.Next != before.Next || len(kept.Problems) != len(before.Problems) {
			t.Fatalf("check with visit: %d records (%d visited), next %d, %d problems; without: %d, next %d, %d problems",
				kept.Records, visited, kept.Next, len(kept.Problems), before.Records, before.Next, len(before.Problems))
		}
		w, err := Open(d, quietOptions())
		if err != nil {
			// Open refuses exactly when Check reports a problem.
			if len(before.Problems) == 0 {
				t.Fatalf("Open refused (%v) what Check accepts", err)
			}
			if b, _ := os.ReadFile(segPath(d, 1)); string(b) != string(data) {
				t.Fatal("a refused Open changed the segment")
			}
			return
		}
		if len(before.Problems) > 0 {
			t.Fatalf("Open accepted what Check refuses: %v", before.Problems)
		}
		next := w.NextSeq()
		w.Close()
		// After open, every record up to next-1 reads back (except those
		// in recorded gaps), and nothing more.
		got := readAll(t, d, 1)
		lost := uint64(0)
		for _, g := range before.Gaps {
			lost += g.Last - g.First + 1
		}
		if uint64(len(got))+lost != next-1 || len(got) > 0 && got[len(got)-1].Seq >= next {
			t.Fatalf("read %d records, %d in gaps, NextSeq %d", len(got), lost, next)
		}
	})
}

func TestSealThenTruncateLeavesOnlyAnEmptySegment(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 1<<20)
	w.Write(entries(0, 10))
	w.Sync()
	if err := w.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(); err != nil { // sealing an empty segment is a no-op
		t.Fatal(err)
	}
	if n, err := w.Truncate(w.NextSeq()); err != nil || n != 1 {
		t.Fatalf("Truncate = %d, %v; want the one sealed segment removed", n, err)
	}
	w.Close()
	segs, _ := listSegments(dir)
	if len(segs) != 1 || segs[0] != 11 {
		t.Fatalf("segments = %v, want one starting at 11", segs)
	}
	w = openT(t, dir, 1<<20)
	defer w.Close()
	if w.NextSeq() != 11 {
		t.Fatalf("NextSeq after reopen = %d, want 11: sequence numbers never restart", w.NextSeq())
	}
}
