package wal

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
)

func readSeqs(t *testing.T, dir string) []uint64 {
	t.Helper()
	rd, err := NewReader(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var seqs []uint64
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return seqs
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, rec.Seq)
	}
}

// A failed sync (a full disk) leaves the WAL refusing writes until
// Rollback, which drops exactly what was not synced; a failed rollback
// can be retried; afterwards the log continues where the synced records
// end, across reopen, with nothing damaged.
func TestRollbackAfterFailedSync(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(entries(0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	full := syscall.ENOSPC
	w.inject = func(step string) error {
		if step == "sync" || step == "rollback" {
			return full
		}
		return nil
	}
	if _, err := w.Write(entries(10, 5)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Sync on a full disk = %v", err)
	}
	if _, err := w.Write(entries(15, 1)); !errors.Is(err, ErrRollbackNeeded) {
		t.Fatalf("Write before Rollback = %v, want ErrRollbackNeeded", err)
	}
	if err := w.Rollback(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Rollback while the disk refuses = %v", err)
	}
	w.inject = nil // space is back
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	if w.NextSeq() != 11 {
		t.Fatalf("after rollback NextSeq = %d, want 11", w.NextSeq())
	}
	first, err := w.Write(entries(20, 3))
	if err != nil || first != 11 {
		t.Fatalf("Write after rollback = %d, %v", first, err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(dir, nil)
	if err != nil || len(rep.Problems) > 0 || len(rep.Fixes) > 0 {
		t.Fatalf("Check after rollback: %+v, %v", rep, err)
	}
	if seqs := readSeqs(t, dir); len(seqs) != 13 || seqs[12] != 13 {
		t.Fatalf("records %v, want 1..13", seqs)
	}
}

// A rotation that cannot create the next segment (a full disk) leaves the
// active segment active and every synced record readable.
func TestRotationFailureKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	o := DefaultOptions()
	o.SegmentSize = 2 << 10
	w, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(entries(0, 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	next := w.NextSeq()
	segs := len(w.man)
	w.inject = func(step string) error {
		if step == "create" {
			return syscall.ENOSPC
		}
		return nil
	}
	_, werr := w.Write(entries(100, 200))
	w.inject = nil
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("Write with a failing rotation = %v", werr)
	}
	if len(w.man) != segs {
		t.Fatalf("the failed rotation changed the segment list: %d segments, was %d", len(w.man), segs)
	}
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	if w.NextSeq() < next {
		t.Fatalf("NextSeq went back from %d to %d", next, w.NextSeq())
	}
	kept := w.NextSeq() - 1
	if _, err := w.Write(entries(500, 5)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if seqs := readSeqs(t, dir); uint64(len(seqs)) != kept+5 {
		t.Fatalf("read %d records, want %d", len(seqs), kept+5)
	}
}

// A tail cut that would end the log below what a follower processed holds
// acknowledged records: Open refuses without changing a byte, and
// CheckSeen reports it; with nothing seen beyond the tail it is cut.
func TestTornTailBelowSeenIsRefused(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(entries(0, 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	path := segPath(dir, 1)
	b, _ := os.ReadFile(path)
	cut := len(b) - 10 // inside record 20
	if err := os.WriteFile(path, b[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Seen = 20 // a follower had processed record 20
	if _, err := Open(dir, o); err == nil {
		t.Fatal("Open cut a tail holding a record a follower had processed")
	}
	if after, _ := os.ReadFile(path); len(after) != cut {
		t.Fatalf("the refused Open changed the segment: %d bytes, was %d", len(after), cut)
	}
	rep, err := CheckSeen(dir, 20, nil)
	if err != nil || len(rep.Problems) != 1 || len(rep.Fixes) != 0 {
		t.Fatalf("CheckSeen = %+v, %v; want one problem and no fix", rep, err)
	}
	rep, err = CheckSeen(dir, 19, nil)
	if err != nil || len(rep.Problems) != 0 || len(rep.Fixes) != 1 {
		t.Fatalf("CheckSeen(19) = %+v, %v; want the torn tail as a fix", rep, err)
	}
	o.Seen = 19
	w, err = Open(dir, o)
	if err != nil {
		t.Fatalf("Open with nothing seen beyond the tail: %v", err)
	}
	if w.NextSeq() != 20 {
		t.Fatalf("NextSeq = %d after the cut, want 20", w.NextSeq())
	}
	w.Close()
}
