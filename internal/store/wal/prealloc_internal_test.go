package wal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// waitSpare waits until the writer's spare segment is ready.
func waitSpare(t *testing.T, w *WAL) {
	t.Helper()
	for range 2000 {
		if w.spareReady() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the spare segment was never ready")
}

// fileSize returns the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// copyDir copies the files of a WAL directory, as a crash would leave them.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Records go into zeros written beforehand (docs/format/wal.md,
// Preallocation): a follower that read ahead into those zeros still reads
// each record as written, sealed segments hold no zeros, a crash leaves a
// log that opens without a cut, and a clean close leaves only records.
func TestPreallocatedSegments(t *testing.T) {
	const segSize = 64 << 10
	dir := t.TempDir()
	w := openT(t, dir, segSize)
	waitSpare(t, w)
	es := entries(0, 3000)
	// The first write puts the spare in the new log's empty segment.
	if _, err := w.Write(es[:1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if !w.prealloc || fileSize(t, segPath(dir, 1)) != segSize {
		t.Fatalf("prealloc %v, segment of %d bytes: want the spare of %d in its place", w.prealloc, fileSize(t, segPath(dir, 1)), segSize)
	}
	// A follower reads what is durable, its buffer reaching into the
	// zeros after it, while the writer goes on in small groups.
	rd, err := NewReader(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var got []Record
	follow := func() {
		t.Helper()
		for {
			r, err := rd.NextBefore(w.NextSeq())
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("follower after %d records: %v", len(got), err)
			}
			got = append(got, r)
		}
	}
	follow()
	for i := 1; i < len(es); i += 7 {
		if i%700 == 1 {
			waitSpare(t, w) // so that rotations use it
		}
		if _, err := w.Write(es[i:min(i+7, len(es))]); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		follow()
	}
	var want []Record
	for i, e := range es {
		want = append(want, Record{Seq: uint64(i + 1), Entry: e})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("the follower read (-want +got):\n%s", diff)
	}
	rep, err := Check(dir, nil)
	if err != nil || len(rep.Problems)+len(rep.Fixes) != 0 || rep.Segments < 3 {
		t.Fatalf("Check = %+v, %v; want a healthy log of several segments", rep, err)
	}
	for _, e := range w.man[:len(w.man)-1] {
		if b, _ := os.ReadFile(segPath(dir, e.First)); nonZeroLen(b) != int64(len(b)) || int64(len(b)) != e.Size {
			t.Fatalf("sealed segment %d: %d bytes, %d before zeros, MANIFEST %d", e.First, len(b), nonZeroLen(b), e.Size)
		}
	}
	active := segPath(dir, w.man[len(w.man)-1].First)
	if !w.prealloc || fileSize(t, active) != segSize {
		t.Fatalf("active segment of %d bytes (prealloc %v), want %d", fileSize(t, active), w.prealloc, segSize)
	}

	// A crash now: the copy opens with no cut, at the same place, and
	// goes on writing over the zeros.
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	w2 := openT(t, crashed, segSize)
	if w2.NextSeq() != w.NextSeq() || w2.Repaired() != 0 || !w2.prealloc {
		t.Fatalf("after a crash: next %d (want %d), cut %d bytes, prealloc %v", w2.NextSeq(), w.NextSeq(), w2.Repaired(), w2.prealloc)
	}
	more := entries(3000, 5)
	if _, err := w2.Write(more); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(es, more...), entriesOf(readAll(t, crashed, 1))); diff != "" {
		t.Fatalf("after a crash and more writes (-want +got):\n%s", diff)
	}

	// A clean close leaves the records only, and no spare.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(active); nonZeroLen(b) != int64(len(b)) {
		t.Fatalf("closed active segment of %d bytes holds zeros after %d", len(b), nonZeroLen(b))
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spare after a clean close: %v", err)
	}
	if diff := cmp.Diff(es, entriesOf(readAll(t, dir, 1))); diff != "" {
		t.Fatalf("after a clean close (-want +got):\n%s", diff)
	}
}

func entriesOf(rs []Record) []Entry {
	out := make([]Entry, len(rs))
	for i, r := range rs {
		out[i] = r.Entry
	}
	return out
}

// A crash during rotation can leave the renamed spare, header and zeros,
// unlisted after the active segment: Open removes it. A spare left over is
// no problem either.
func TestCrashLeavesSpare(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 1<<20, 40, nil)
	spare := make([]byte, 64<<10)
	copy(spare, magic)
	if err := os.WriteFile(segPath(dir, 41), spare, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spareName), spare, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(dir, nil)
	if err != nil || len(rep.Problems) != 0 || len(rep.Fixes) != 1 {
		t.Fatalf("Check = %+v, %v; want one fix: remove the empty segment", rep, err)
	}
	w := openT(t, dir, 1<<20)
	if w.NextSeq() != 41 {
		t.Fatalf("next %d, want 41", w.NextSeq())
	}
	if _, err := os.Stat(segPath(dir, 41)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the unlisted empty segment is still there: %v", err)
	}
	w.Close()
	// The same file holding a record that does not follow the log's last
	// one is not removed: Open refuses.
	rec := append(make([]byte, headerSize), payloadV1, 1, 'a', 1, 'b', '{', '}')
	frame(rec, 43)
	copy(spare[len(magic):], rec)
	os.WriteFile(segPath(dir, 43), spare, 0o644)
	if _, err := Open(dir, quietOptions()); err == nil {
		t.Fatal("Open accepted an unlisted segment holding a record that does not continue the log")
	}
	os.Remove(segPath(dir, 43))
	// Holding the next record, it is the segment a rotation started before
	// its MANIFEST was written: Open lists it and goes on writing it.
	frame(rec, 41)
	copy(spare[len(magic):], rec)
	os.WriteFile(segPath(dir, 41), spare, 0o644)
	w = openT(t, dir, 1<<20)
	if w.NextSeq() != 42 {
		t.Fatalf("next %d, want 42", w.NextSeq())
	}
	m, err := readManifest(dir)
	if err != nil || len(m.Segments) != 2 || m.Segments[1].First != 41 {
		t.Fatalf("MANIFEST %+v, %v; want segments 1 and 41", m, err)
	}
	w.Close()
}

// Zeros where records a follower has processed were are lost
// acknowledged data, not the end of the log.
func TestZeroTailBelowSeenIsRefused(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, 1<<20, 50, nil)
	sp := spans(t, dir)
	path := segPath(dir, 1)
	b, _ := os.ReadFile(path)
	clear(b[sp[45].off:])
	os.WriteFile(path, b, 0o644)
	o := quietOptions()
	o.Seen = 50
	if _, err := Open(dir, o); err == nil {
		t.Fatal("Open accepted zeros in place of records a follower had seen")
	}
	o.Seen = 44
	w, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if w.NextSeq() != 45 {
		t.Fatalf("next %d, want 45", w.NextSeq())
	}
	w.Close()
}

// When the directory sync after the spare took the empty active
// segment's name fails, nothing is written until Rollback has synced it,
// and what is written then goes to the file under that name.
func TestAdoptSpareDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 64<<10)
	waitSpare(t, w)
	w.inject = func(step string) error {
		if step == "adopt" {
			return errors.New("injected: directory sync failed")
		}
		return nil
	}
	if _, err := w.Write(entries(0, 1)); err == nil {
		t.Fatal("Write succeeded although the directory sync failed")
	}
	w.inject = nil
	if _, err := w.Write(entries(0, 1)); !errors.Is(err, ErrRollbackNeeded) {
		t.Fatalf("Write before Rollback = %v, want ErrRollbackNeeded", err)
	}
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	es := entries(0, 20)
	if _, err := w.Write(es); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	// A crash now: the records are under the segment's name.
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	if diff := cmp.Diff(es, entriesOf(readAll(t, crashed, 1))); diff != "" {
		t.Fatalf("after a crash (-want +got):\n%s", diff)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A log opened after a crash and closed without a write (a server that
// refused to start) changes no file it found: not the preallocated active
// segment, not the spare.
func TestUntouchedLogChangesNothing(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 64<<10)
	waitSpare(t, w)
	if _, err := w.Write(entries(0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	waitSpare(t, w)
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	w.Close()
	if _, err := os.Stat(filepath.Join(crashed, spareName)); err != nil {
		t.Fatalf("the crash left no spare: %v", err)
	}
	before := snapshot(t, crashed)
	w2 := openT(t, crashed, 64<<10)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, crashed)); diff != "" {
		t.Fatalf("open and close without a write changed files (-before +after):\n%s", diff)
	}
	// A log closed cleanly has no spare; one opened and closed without a
	// write removes the spare it made meanwhile (it held 32 MiB of zeros
	// after every import's reopen).
	before = snapshot(t, dir)
	w3 := openT(t, dir, 64<<10)
	waitSpare(t, w3)
	if err := w3.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Fatalf("open and close without a write left files (-before +after):\n%s", diff)
	}
}

// A rotation writes the MANIFEST that names the new segment in the
// background. A crash before it is written leaves the new segment
// unlisted, holding acknowledged records: Open lists it, and every record
// is there. A failed write is made again before the MANIFEST changes next,
// so it never lags by more than one rotation.
func TestRotationManifestInBackground(t *testing.T) {
	dir := t.TempDir()
	w := openT(t, dir, 4<<10)
	fail := errors.New("injected: MANIFEST write failed")
	w.inject = func(step string) error {
		if step == "manifest" {
			return fail
		}
		return nil
	}
	next := 0
	for w.manWrite == nil && !w.manStale {
		if _, err := w.Write(entries(next, 10)); err != nil {
			t.Fatal(err)
		}
		next += 10
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	// The MANIFEST on disk still names the first segment only.
	if m, err := readManifest(dir); err != nil || len(m.Segments) != 1 {
		t.Fatalf("MANIFEST %+v, %v; want the first segment only", m, err)
	}
	for !w.spareReady() && w.spare != nil {
		time.Sleep(time.Millisecond)
	}
	// A crash now: the WAL is not closed. Open lists the new segment.
	rep, err := Check(dir, nil)
	if err != nil || len(rep.Problems) != 0 || int(rep.Next) != next+1 {
		t.Fatalf("Check = %+v, %v; want no problem and next %d", rep, err, next+1)
	}
	w2 := openT(t, dir, 4<<10)
	if int(w2.NextSeq()) != next+1 {
		t.Fatalf("next %d, want %d", w2.NextSeq(), next+1)
	}
	if got := readAll(t, dir, 1); len(got) != next {
		t.Fatalf("read %d records, want %d", len(got), next)
	}
	m, err := readManifest(dir)
	if err != nil || len(m.Segments) != 2 {
		t.Fatalf("MANIFEST after Open %+v, %v; want two segments", m, err)
	}
	w2.Close()
	w.f.Close() // the crashed writer's file

	// Without a crash, the failed write is made again at the next
	// rotation, before that one starts, and at Close.
	dir = t.TempDir()
	w = openT(t, dir, 4<<10)
	w.inject = func(step string) error {
		if step == "manifest" {
			return fail
		}
		return nil
	}
	rotations := func() int {
		segs, err := listSegments(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(segs)
	}
	for next = 0; rotations() < 3; next += 10 {
		if _, err := w.Write(entries(next, 10)); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		if m, err := readManifest(dir); err != nil || len(m.Segments) < rotations()-1 {
			t.Fatalf("MANIFEST %+v, %v with %d segments: it lags by more than one rotation", m, err, rotations())
		}
	}
	w.inject = nil
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m, err := readManifest(dir); err != nil || len(m.Segments) != 3 {
		t.Fatalf("MANIFEST after Close %+v, %v; want three segments", m, err)
	}
}

// The spare is the header and zeros up to the size, whether the file
// system allocates the zeros (fallocate) or they are written because it
// cannot; another failure removes the spare and is returned.
func TestPrepareSpare(t *testing.T) {
	const size = 3<<20 + 100
	want := make([]byte, size)
	copy(want, magic)
	orig := fallocate
	t.Cleanup(func() { fallocate = orig })
	for _, tc := range []struct {
		name      string
		fallocate func(*os.File, int64) error
		wantErr   bool
	}{
		{"fallocate", orig, false},
		{"unsupported", func(*os.File, int64) error { return syscall.EOPNOTSUPP }, false},
		{"no space", func(*os.File, int64) error { return syscall.ENOSPC }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fallocate = tc.fallocate
			dir := t.TempDir()
			err := prepareSpare(dir, size)
			got, rerr := os.ReadFile(filepath.Join(dir, spareName))
			if tc.wantErr {
				if err == nil || !errors.Is(rerr, os.ErrNotExist) {
					t.Fatalf("prepareSpare: %v, spare left: %v; want the error and no spare", err, rerr)
				}
				return
			}
			if err != nil || rerr != nil {
				t.Fatalf("prepareSpare: %v; reading it: %v", err, rerr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("spare of %d bytes, header %q: want %d bytes, the header, then zeros", len(got), got[:min(len(got), 8)], size)
			}
		})
	}
}
