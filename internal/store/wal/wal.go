// Package wal is OpenTrail's write-ahead log: CRC-framed event records in
// numbered segment files chained by a MANIFEST, written with group commit,
// read back by followers from any sequence number. [Open] cuts a torn tail
// after a crash and refuses on any other damage; [Check] reports the same
// problems without changing anything, and [Repair] keeps every readable
// record, records what was lost as a gap, and keeps the dropped bytes in a
// quarantine directory.
//
// The byte format is documented in docs/format/wal.md. A WAL is used by one
// writer at a time; readers opened with [NewReader] may read sealed data
// concurrently with the writer.
package wal

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

const (
	magic        = "OTWAL\x00\x01\n"
	headerSize   = 12 + 4 // len, crc, seq
	maxPayload   = 1 << 20
	segSuffix    = ".wal"
	segNameWidth = 20
	// spareName is the spare segment prepared in the background: the
	// header, then zeros up to the segment size (docs/format/wal.md,
	// Preallocation).
	spareName = ".spare-segment"
	// maxSpare bounds the spare's size: a segment larger than that grows
	// past its preallocated space.
	maxSpare = 32 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a WAL.
type Options struct {
	// SegmentSize is the size at which a new segment is started.
	SegmentSize int64
	// Seen is the highest seq some follower of the log has processed, if
	// known: a torn tail whose cut would end the log at or below it holds
	// acknowledged records, and Open refuses instead of cutting it.
	Seen   uint64
	Logger *slog.Logger
	// NoSpare turns preallocation off (docs/format/wal.md): segments
	// grow as records are appended. For comparison; it helps no
	// filesystem measured so far.
	NoSpare bool
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

// CorruptionError reports damage the WAL does not repair by itself: a bad
// record with a valid one after it, damage in a sealed segment, or a broken
// segment chain (docs/format/wal.md). Operators should run `opentrail
// fsck`, which says what was found, and `opentrail fsck --repair` ([Repair])
// to keep every readable record and set the damage aside.
type CorruptionError struct {
	// Segment is the path of the segment (or file) concerned.
	Segment string
	// Offset is the byte offset of the damage, or -1 when the whole file
	// is concerned (missing, or of the wrong size).
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("wal corruption in %s: %v", e.Segment, e.Err)
	}
	return fmt.Sprintf("wal corruption in %s at offset %d: %v", e.Segment, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// ErrClosed is returned by operations on a closed WAL.
var ErrClosed = errors.New("wal: closed")

// WAL is the write side of the log.
type WAL struct {
	dir      string
	opts     Options
	man      []manEntry // the MANIFEST: every segment, the last one active
	f        *os.File
	bw       *bufio.Writer
	size     int64  // bytes in the active segment, including buffered ones
	next     uint64 // seq of the next record
	buf      []byte
	closed   bool
	repaired int64 // bytes cut from the tail on open
	// syncedSize and syncedNext are the active segment's size and the
	// next seq as of the last Sync (or the segment's start): what
	// Rollback returns to.
	syncedSize int64
	syncedNext uint64
	// broken is set when a write or sync failed: nothing more is written
	// until Rollback succeeds.
	broken bool
	// prealloc is set when the active segment holds zeros after its
	// records, up to the segment size: syncs then write only data.
	prealloc bool
	// spare yields the outcome of preparing the spare segment in the
	// background (nil when none is being prepared); spareOK is set once
	// a spare is ready.
	spare   chan error
	spareOK bool
	// spareNew is set when this run made the spare (there was none at
	// Open): Close removes it even if nothing was written.
	spareNew bool
	// dirDirty is set when the directory may not yet hold the name of
	// the active segment durably (a failed sync after adoptSpare).
	dirDirty bool
	// touched is set by the first write or seal: until then the log
	// changes no file it found, Close included (a server that refuses
	// to start leaves the data directory as it found it).
	touched bool
	// manWrite yields the outcome of the MANIFEST write a rotation left
	// running (nil when none is); manStale is set when that write failed,
	// so the MANIFEST on disk does not name the active segment yet. Either
	// is settled before the MANIFEST is written again or another rotation
	// starts: the MANIFEST never lags by more than one rotation.
	manWrite chan error
	manStale bool
	// manInline (benchmarks) writes a rotation's MANIFEST before the
	// new segment takes records, as before decision 106.
	manInline bool
	// inject, when set (tests), may fail a step: "sync" before the data
	// sync, "rollback" before the truncation, "create" before a new
	// segment's header is written, "adopt" before the directory sync
	// that makes the spare the active segment, "manifest" before the
	// MANIFEST write a rotation starts in the background.
	inject func(step string) error
}

func (w *WAL) fault(step string) error {
	if w.inject == nil {
		return nil
	}
	return w.inject(step)
}

// ErrRollbackNeeded is returned by Write and Sync after a failed write or
// sync, until Rollback succeeds.
var ErrRollbackNeeded = errors.New("wal: a write failed; roll back before writing again")

// Open opens (or creates) the WAL in dir. It cuts a torn tail from the
// newest segment and settles what a crash during rotation or truncation
// left (docs/format/wal.md). Any other damage, it returns as a
// *CorruptionError without changing a byte: [Check] reports the same, and
// [Repair] deals with it.
func Open(dir string, opts Options) (*WAL, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultOptions().SegmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	p, err := examine(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	p.seenCheck(opts.Seen)
	if err := p.refusal(); err != nil {
		return nil, err
	}
	w := &WAL{dir: dir, opts: opts, next: 1}
	if err := w.settle(p, ""); err != nil {
		return nil, err
	}
	// A spare left by an earlier run is rewritten at the first write,
	// not before (see touched); a new one only adds a file, which Close
	// removes.
	if _, err := os.Stat(filepath.Join(dir, spareName)); errors.Is(err, os.ErrNotExist) {
		w.spareNew = true
		w.startSpare()
	}
	return w, nil
}

// refusal is the error Open returns for the problems p found.
func (p *plan) refusal() error {
	if len(p.rep.Problems) == 0 {
		return nil
	}
	more := ""
	if n := len(p.rep.Problems) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more problems)", n)
	}
	return fmt.Errorf("open wal: %w%s; nothing was changed: run `opentrail fsck` to see every problem, and `opentrail fsck --repair` to keep every readable record and set the damage aside", p.rep.Problems[0], more)
}

// settle makes what Open found usable, doing the fixes of p (which has no
// problems), and opens the active segment for appending. stamp names
// quarantine files ("" for the current time).
func (w *WAL) settle(p *plan, stamp string) error {
	log := w.opts.Logger
	for _, path := range p.remove {
		log.Warn("wal: removing what a crash left", "file", path)
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open wal: %w", err)
		}
	}
	if len(p.remove) > 0 {
		if err := fileutil.SyncDir(w.dir); err != nil {
			return fmt.Errorf("open wal: %w", err)
		}
	}
	if p.create {
		return w.startSegment(1)
	}
	w.man = slices.Clone(p.chain)
	active := w.man[len(w.man)-1].First
	if p.writeManifest {
		for i := range w.man[:len(w.man)-1] {
			w.man[i].Size = p.present[w.man[i].First]
		}
	}
	if p.recreate {
		log.Warn("wal: writing the header of a segment again", "segment", segPath(w.dir, active))
		w.man = w.man[:len(w.man)-1]
		return w.startSegment(active)
	}
	path := segPath(w.dir, active)
	f, err := os.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open wal: %w", err)
	}
	if t := p.torn; t != nil {
		w.repaired = t.end - t.off
		q, err := quarantineTail(w.dir, path, t.off, t.end, stamp)
		if err != nil {
			f.Close()
			return fmt.Errorf("open wal: keep torn tail: %w", err)
		}
		log.Warn("wal: cutting torn tail", "segment", path, "offset", t.off, "bytes", w.repaired, "reason", t.err, "quarantine", q)
		if err := f.Truncate(t.off); err != nil {
			f.Close()
			return fmt.Errorf("open wal: repair: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("open wal: repair: %w", err)
		}
	}
	if _, err := f.Seek(p.activeEnd, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("open wal: %w", err)
	}
	if p.writeManifest {
		if err := writeManifest(w.dir, w.man); err != nil {
			f.Close()
			return fmt.Errorf("open wal: %w", err)
		}
	}
	w.f, w.size, w.next = f, p.activeEnd, p.rep.Next
	w.prealloc = p.zeroTail != nil
	w.syncedSize, w.syncedNext = w.size, w.next
	w.bw = bufio.NewWriterSize(f, 1<<20)
	return nil
}

// Repaired reports how many bytes Open cut from a torn tail.
func (w *WAL) Repaired() int64 { return w.repaired }

// NextSeq is the sequence number the next appended record will get.
func (w *WAL) NextSeq() uint64 { return w.next }

// FirstSeq is the sequence number of the oldest record still in the WAL (or
// NextSeq when it is empty).
func (w *WAL) FirstSeq() uint64 { return w.man[0].First }

// Write appends entries and returns the sequence number of the first. The
// records are not durable until Sync returns.
func (w *WAL) Write(entries []Entry) (uint64, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if w.broken {
		return 0, ErrRollbackNeeded
	}
	if !w.touched {
		w.touched = true
		w.startSpare()
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
				w.broken = true
				return 0, err
			}
		} else if !w.prealloc && w.size == int64(len(magic)) && w.spareReady() {
			if err := w.adoptSpare(); err != nil {
				w.broken = true
				return 0, err
			}
		}
		w.buf = slices.Grow(w.buf[:0], headerSize+n)[:headerSize]
		w.buf = append(w.buf, payloadV1, byte(len(e.Account)))
		w.buf = append(w.buf, e.Account...)
		w.buf = append(w.buf, byte(len(e.Region)))
		w.buf = append(w.buf, e.Region...)
		w.buf = append(w.buf, e.Raw...)
		frame(w.buf, w.next)
		if _, err := w.bw.Write(w.buf); err != nil {
			w.broken = true
			return 0, fmt.Errorf("wal write: %w", err)
		}
		w.size += int64(len(w.buf))
		w.next++
	}
	return first, nil
}

// Sync makes every written record durable. After a failure the records
// written since the last Sync may or may not be on disk: call Rollback.
func (w *WAL) Sync() error {
	if w.closed {
		return ErrClosed
	}
	if w.broken {
		return ErrRollbackNeeded
	}
	if err := w.bw.Flush(); err != nil {
		w.broken = true
		return fmt.Errorf("wal sync: %w", err)
	}
	if err := w.fault("sync"); err != nil {
		w.broken = true
		return fmt.Errorf("wal sync: %w", err)
	}
	if err := syscall.Fdatasync(int(w.f.Fd())); err != nil {
		w.broken = true
		return fmt.Errorf("wal sync: %w", err)
	}
	w.syncedSize, w.syncedNext = w.size, w.next
	return nil
}

// Rollback undoes what was written to the active segment since the last
// successful Sync after a write or sync failed (a full disk, an I/O
// error): it drops the buffered bytes, truncates the segment back to its
// synced size, and makes that durable. Records a rotation synced into an
// earlier segment meanwhile stay: NextSeq tells where the log now ends. If
// Rollback fails (the disk still refuses), the WAL stays unwritable and
// Rollback may be called again later. It does nothing when no write
// failed.
func (w *WAL) Rollback() error {
	if w.closed {
		return ErrClosed
	}
	if !w.broken {
		return nil
	}
	w.bw.Reset(w.f) // drop what is buffered
	if err := w.fault("rollback"); err != nil {
		return fmt.Errorf("wal rollback: %w", err)
	}
	if w.dirDirty {
		if err := fileutil.SyncDir(w.dir); err != nil {
			return fmt.Errorf("wal rollback: %w", err)
		}
		w.dirDirty = false
	}
	if err := w.f.Truncate(w.syncedSize); err != nil {
		return fmt.Errorf("wal rollback: %w", err)
	}
	if _, err := w.f.Seek(w.syncedSize, io.SeekStart); err != nil {
		return fmt.Errorf("wal rollback: %w", err)
	}
	// After a failed fsync the page cache may claim bytes the disk does
	// not have; the truncation and this sync settle what the file holds.
	if err := syscall.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("wal rollback: %w", err)
	}
	w.size, w.next, w.broken = w.syncedSize, w.syncedNext, false
	w.prealloc = false
	return nil
}

// rotate seals the active segment and starts the next one. The active
// segment is synced (and truncated to its records) and the next one
// created, durable with the directory, before the active one is let go: if
// either fails (a full disk), the active segment stays active and nothing
// written is lost. The MANIFEST that names the new segment is written in
// the background, while records go into it (docs/format/wal.md,
// MANIFEST): it was most of a rotation's time, which every append waited
// for. Until it is written, Open finds the new segment by its name, the
// one after the active segment's last record.
func (w *WAL) rotate() error {
	if err := w.settleManifest(); err != nil {
		return fmt.Errorf("wal rotate: %w", err)
	}
	if err := w.Sync(); err != nil {
		return err
	}
	if err := w.trim(); err != nil {
		return fmt.Errorf("wal rotate: %w", err)
	}
	f, pre, err := w.newSegment(w.next)
	if err != nil {
		return fmt.Errorf("wal rotate: %w", err)
	}
	man := slices.Clone(w.man)
	man[len(man)-1].Size = w.size
	man = append(man, manEntry{First: w.next})
	if err := w.f.Close(); err != nil {
		w.opts.Logger.Warn("wal: closing a sealed segment failed", "err", err)
	}
	w.man = man
	w.activate(f, pre)
	ch := make(chan error, 1)
	w.manWrite = ch
	dir, snapshot, fault := w.dir, slices.Clone(man), w.fault("manifest")
	if w.manInline {
		ch <- writeManifest(dir, snapshot)
		return w.settleManifest()
	}
	go func() {
		if fault != nil {
			ch <- fault
			return
		}
		ch <- writeManifest(dir, snapshot)
	}()
	return nil
}

// settleManifest waits for the MANIFEST write a rotation started, and
// writes the MANIFEST again if that one failed.
func (w *WAL) settleManifest() error {
	if w.manWrite != nil {
		err := <-w.manWrite
		w.manWrite = nil
		if err != nil {
			w.opts.Logger.Warn("wal: writing the MANIFEST after a rotation failed; trying again", "err", err)
			w.manStale = true
		}
	}
	if w.manStale {
		if err := writeManifest(w.dir, w.man); err != nil {
			return err
		}
		w.manStale = false
	}
	return nil
}

// trim truncates a preallocated active segment to its records and makes
// that durable: before it is sealed, and when the log is closed.
func (w *WAL) trim() error {
	if !w.prealloc {
		return nil
	}
	if err := w.f.Truncate(w.size); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	w.prealloc = false
	return nil
}

// adoptSpare puts the ready spare in the place of the active segment, which
// is empty and not preallocated (a new log, or one sealed at a clean stop).
// A crash leaves one or the other under the segment's name, both an empty
// active segment.
func (w *WAL) adoptSpare() error {
	defer w.startSpare() // the next one, or again after a failure
	if err := w.fault("create"); err != nil {
		return fmt.Errorf("wal: use the spare segment: %w", err)
	}
	f, err := w.takeSpare(segPath(w.dir, w.next))
	if err != nil {
		return fmt.Errorf("wal: use the spare segment: %w", err)
	}
	if err := w.f.Close(); err != nil {
		w.opts.Logger.Warn("wal: closing a replaced empty segment failed", "err", err)
	}
	w.activate(f, true)
	err = w.fault("adopt")
	if err == nil {
		err = fileutil.SyncDir(w.dir)
	}
	if err != nil {
		w.dirDirty = true // Rollback syncs it before anything is written
		return fmt.Errorf("wal: use the spare segment: %w", err)
	}
	return nil
}

// newSegment makes the segment whose first record is first: the spare
// renamed, when one is ready (pre is then set), else a new file with its
// header. Both are durable, with the directory.
func (w *WAL) newSegment(first uint64) (f *os.File, pre bool, err error) {
	defer w.startSpare() // the next one, or again after a failure
	if err := w.fault("create"); err != nil {
		return nil, false, err
	}
	if w.spareReady() {
		path := segPath(w.dir, first)
		f, err := w.takeSpare(path)
		if err == nil {
			if err = fileutil.SyncDir(w.dir); err == nil {
				return f, true, nil
			}
			f.Close()
			os.Remove(path)
		}
		w.opts.Logger.Warn("wal: the spare segment could not be used; creating one", "err", err)
	}
	f, err = w.createSegment(first)
	return f, false, err
}

// takeSpare gives the ready spare the segment name path and returns it
// open, positioned after its header; the directory is not synced. The
// spare is opened before the rename, so the handle is the file the name
// then holds (never a file the rename replaced). After it, the spare is
// used up whether or not it succeeded.
func (w *WAL) takeSpare(path string) (*os.File, error) {
	w.spareOK = false
	spare := filepath.Join(w.dir, spareName)
	f, err := os.OpenFile(spare, os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(int64(len(magic)), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if err := os.Rename(spare, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// startSpare starts preparing the spare segment in the background, unless
// one is ready or being prepared.
func (w *WAL) startSpare() {
	if w.spare != nil || w.spareOK || w.opts.NoSpare {
		return
	}
	ch := make(chan error, 1)
	w.spare = ch
	dir, size := w.dir, min(w.opts.SegmentSize, maxSpare)
	go func() { ch <- prepareSpare(dir, size) }()
}

// spareReady reports, without waiting, whether the spare is ready.
func (w *WAL) spareReady() bool {
	if w.spareOK || w.spare == nil {
		return w.spareOK
	}
	select {
	case err := <-w.spare:
		w.spare = nil
		if err != nil {
			// Tried again at the next rotation.
			w.opts.Logger.Warn("wal: preparing the spare segment failed; segments grow as they are written until it succeeds", "err", err)
			return false
		}
		w.spareOK = true
		return true
	default:
		return false
	}
}

// prepareSpare writes the spare segment: the header, then zeros up to
// size, fsynced. The zeros are allocated with fallocate(2) where the file
// system supports it, which reads them back as zeros without writing them
// (decision 172), and written otherwise. On failure it removes what it
// wrote.
func prepareSpare(dir string, size int64) (err error) {
	path := filepath.Join(dir, spareName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if _, err := f.Write([]byte(magic)[:min(size, int64(len(magic)))]); err != nil {
		return err
	}
	if size > int64(len(magic)) {
		err := fallocate(f, size)
		if errors.Is(err, errors.ErrUnsupported) {
			err = writeZeros(f, size-int64(len(magic)))
		}
		if err != nil {
			return err
		}
	}
	return f.Sync()
}

// fallocate allocates f's blocks up to size, which then read as zeros
// (mode 0: the file's size becomes size). A variable so that tests can
// take the path of a file system without it.
var fallocate = func(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != syscall.EINTR {
			return err
		}
	}
}

// writeZeros writes n zero bytes at f's offset.
func writeZeros(f *os.File, n int64) error {
	buf := make([]byte, min(n, 1<<20))
	for n > 0 {
		k, err := f.Write(buf[:min(int64(len(buf)), n)])
		if err != nil {
			return err
		}
		n -= int64(k)
	}
	return nil
}

// createSegment creates the segment whose first record is first with its
// header, durably (file and directory fsynced). On failure it removes what
// it created.
func (w *WAL) createSegment(first uint64) (*os.File, error) {
	path := segPath(w.dir, first)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := w.fault("create"); err != nil {
		return fail(err)
	}
	if _, err := f.Write([]byte(magic)); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := fileutil.SyncDir(w.dir); err != nil {
		return fail(err)
	}
	return f, nil
}

// activate makes f, a segment just created (pre: the spare, holding
// zeros after its header), the one records go to.
func (w *WAL) activate(f *os.File, pre bool) {
	w.f, w.size, w.prealloc = f, int64(len(magic)), pre
	w.syncedSize, w.syncedNext = w.size, w.next
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 1<<20)
	} else {
		w.bw.Reset(f)
	}
}

// startSegment creates the segment whose first record is first, with its
// header, makes it durable, and then makes it the active segment in the
// MANIFEST; no record goes into it before that (docs/format/wal.md).
func (w *WAL) startSegment(first uint64) error {
	if err := w.settleManifest(); err != nil {
		return fmt.Errorf("wal new segment: %w", err)
	}
	f, err := w.createSegment(first)
	if err != nil {
		return fmt.Errorf("wal new segment: %w", err)
	}
	w.man = append(w.man, manEntry{First: first})
	if err := writeManifest(w.dir, w.man); err != nil {
		f.Close()
		return fmt.Errorf("wal new segment: %w", err)
	}
	w.next = first
	w.activate(f, false)
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
	w.touched = true
	return w.rotate()
}

// Truncate deletes sealed segments whose records all have seq < before. The
// active segment is never deleted. The MANIFEST stops listing them before
// their files are removed.
func (w *WAL) Truncate(before uint64) (int, error) {
	n := 0
	for n+1 < len(w.man) && w.man[n+1].First <= before {
		n++
	}
	if n == 0 {
		return 0, nil // without waiting for a rotation's MANIFEST write
	}
	if err := w.settleManifest(); err != nil {
		return 0, fmt.Errorf("wal truncate: %w", err)
	}
	gone := w.man[:n]
	if err := writeManifest(w.dir, w.man[n:]); err != nil {
		return 0, fmt.Errorf("wal truncate: %w", err)
	}
	w.man = slices.Clone(w.man[n:])
	for _, e := range gone {
		if err := os.Remove(segPath(w.dir, e.First)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("wal truncate: %w", err)
		}
	}
	if err := fileutil.SyncDir(w.dir); err != nil {
		return n, fmt.Errorf("wal truncate: %w", err)
	}
	return n, nil
}

// Close syncs and closes the active segment (after a failed write, it
// rolls back first). It is safe to call twice.
func (w *WAL) Close() error {
	if w.closed {
		return nil
	}
	err := w.Rollback()
	if err == nil {
		err = w.Sync()
	}
	err = errors.Join(err, w.settleManifest())
	if w.spare != nil {
		<-w.spare
		w.spare = nil
	}
	if w.touched && err == nil {
		err = w.trim()
	}
	if w.touched || w.spareNew {
		if rerr := os.Remove(filepath.Join(w.dir, spareName)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	w.closed = true
	return errors.Join(err, w.f.Close())
}

func segPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%0*d%s", segNameWidth, first, segSuffix))
}

// listSegments lists the segment files in dir, by first seq.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []uint64
	for _, e := range ents {
		if n, ok := parseSegName(e.Name()); ok {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs, nil
}
