package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Errors of RebuildQuarantined.
var (
	// ErrNotQuarantined means no quarantine entry has that file name.
	ErrNotQuarantined = errors.New("index: no such quarantined segment")
	// ErrRangeUnknown means the quarantined segment's sequence range is
	// unknown (its footer was unreadable), so it cannot be rebuilt from
	// the WAL: re-import the trail's log files instead.
	ErrRangeUnknown = errors.New("index: the quarantined segment's sequence range is unknown")
)

// maxCorruptRetries bounds how often a read is retried after quarantining
// the segment it found damaged.
const maxCorruptRetries = 8

// retryCorrupt runs fn; when fn fails with a *CorruptionError naming a
// live segment, the segment is quarantined and fn runs again without it.
func (ix *Index) retryCorrupt(fn func() error) error {
	for tries := 0; ; tries++ {
		err := fn()
		if err == nil || tries == maxCorruptRetries || !ix.quarantineFor(err, false) {
			return err
		}
	}
}

// retryCorruptLocked is retryCorrupt for a caller that holds manMu.
func (ix *Index) retryCorruptLocked(fn func() error) error {
	for tries := 0; ; tries++ {
		err := fn()
		if err == nil || tries == maxCorruptRetries || !ix.quarantineFor(err, true) {
			return err
		}
	}
}

// quarantineFor quarantines the segment a *CorruptionError in err names.
// It reports whether the segment is no longer live, so that a retry does
// not read it; locked tells whether the caller holds manMu.
func (ix *Index) quarantineFor(err error, locked bool) bool {
	var ce *CorruptionError
	if !errors.As(err, &ce) || ix.opts.ReadOnly {
		return false
	}
	ix.mu.RLock()
	i := slices.IndexFunc(ix.segs, func(sg *segment) bool { return sg.path == ce.Path })
	var sg *segment
	if i >= 0 {
		sg = ix.segs[i]
		sg.acquire()
	}
	ix.mu.RUnlock()
	if sg == nil {
		return true // quarantined or merged away meanwhile
	}
	defer sg.release()
	if !locked {
		ix.manMu.Lock()
		defer ix.manMu.Unlock()
	}
	if qerr := ix.quarantineLocked(sg, ce.Reason); qerr != nil {
		ix.log.Error("index: quarantining a damaged segment failed", "file", ce.Path, "reason", ce.Reason, "err", qerr)
		return false
	}
	return true
}

// quarantineLocked moves a live segment to quarantine/ and drops it from
// the live set: the MANIFEST first, then the file (Open finishes the move
// after a crash). The caller holds manMu.
func (ix *Index) quarantineLocked(sg *segment, reason string) error {
	name := segName(sg.num)
	if !slices.Contains(ix.man.Segments, name) {
		return nil
	}
	q := QuarantinedSegment{First: sg.first, Last: sg.last, Events: sg.events, Reason: reason, Time: time.Now().UTC().Truncate(time.Second)}
	q.File = freeQuarantineName(ix.dir, name, ix.man.Quarantined)
	nm := ix.man
	nm.Segments = slices.DeleteFunc(slices.Clone(ix.man.Segments), func(n string) bool { return n == name })
	nm.Quarantined = append(slices.Clone(ix.man.Quarantined), q)
	if err := ix.writeManifest(nm); err != nil {
		return err
	}
	ix.mu.Lock()
	ix.segs = slices.DeleteFunc(slices.Clone(ix.segs), func(s *segment) bool { return s == sg })
	ix.mu.Unlock()
	sg.release() // the live set's reference; readers keep the open file
	ix.quarantines.Add(1)
	ix.log.Error("index: a damaged segment was moved to quarantine; "+missingText(q), "file", name, "reason", reason)
	if err := moveToQuarantine(ix.dir, name, q.File); err != nil {
		ix.log.Error("index: moving a quarantined segment failed; the next start finishes it", "file", name, "err", err)
	}
	select {
	case ix.quarantined <- struct{}{}:
	default:
	}
	return nil
}

// Quarantined returns the MANIFEST's quarantine entries, oldest first.
func (ix *Index) Quarantined() []QuarantinedSegment {
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	return slices.Clone(ix.man.Quarantined)
}

// QuarantineCount is how many segments were quarantined since Open.
func (ix *Index) QuarantineCount() int64 { return ix.quarantines.Load() }

// QuarantineNotify returns a channel that receives a value after a segment
// is quarantined (at most one value waits). It is meant for one reader,
// which calls Quarantined to see what changed.
func (ix *Index) QuarantineNotify() <-chan struct{} { return ix.quarantined }

// holesOf returns the quarantined segments of m not rebuilt yet whose
// sequence range is known. A merge never spans one, so that the rebuilt
// segment can take its place.
func holesOf(m manifest) []QuarantinedSegment {
	var out []QuarantinedSegment
	for _, q := range m.Quarantined {
		if q.missing() && q.knownRange() {
			out = append(out, q)
		}
	}
	return out
}

// RebuildQuarantined writes an equivalent of the quarantined segment file
// (its name in Quarantined) from its events, which read passes to add in
// sequence order (every WAL record in the segment's range; the ones sweeps
// deleted are left out), and lists it in the segment's place. It returns
// the new segment's name; the quarantined file stays in quarantine/, and
// its entry records the rebuild. An error from read is returned as it is,
// and nothing changes.
func (ix *Index) RebuildQuarantined(file string, read func(add func(Item) error) error) (string, error) {
	if ix.opts.ReadOnly {
		return "", errors.New("index rebuild: read-only")
	}
	ix.manMu.Lock()
	i := slices.IndexFunc(ix.man.Quarantined, func(q QuarantinedSegment) bool { return q.File == file })
	var q QuarantinedSegment
	if i >= 0 {
		q = ix.man.Quarantined[i]
	}
	ix.manMu.Unlock()
	switch {
	case i < 0:
		return "", fmt.Errorf("%w: %s", ErrNotQuarantined, file)
	case !q.missing():
		return q.RebuiltAs, nil
	case !q.knownRange():
		return "", fmt.Errorf("%w: %s", ErrRangeUnknown, file)
	}
	ix.mu.RLock()
	sw := ix.sweeps
	overlap := overlapsLive(ix.segs, q.First, q.Last)
	ix.mu.RUnlock()
	if overlap {
		return "", fmt.Errorf("index rebuild %s: live segments hold part of %d..%d", file, q.First, q.Last)
	}
	num := ix.nextFile()
	path := filepath.Join(ix.dir, segName(num))
	if err := ix.writeRebuilt(q, path, sw, read); err != nil {
		return "", err
	}
	sg, err := openSegment(path, num, ix.cache, ix.codecs)
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("index rebuild %s: %w", file, err)
	}
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	i = slices.IndexFunc(ix.man.Quarantined, func(e QuarantinedSegment) bool { return e.File == file })
	ix.mu.RLock()
	overlap = overlapsLive(ix.segs, q.First, q.Last)
	ix.mu.RUnlock()
	if i < 0 || !ix.man.Quarantined[i].missing() || overlap {
		sg.release()
		os.Remove(path)
		return "", fmt.Errorf("index rebuild %s: the index changed meanwhile", file)
	}
	nm := ix.man
	nm.Quarantined = slices.Clone(ix.man.Quarantined)
	nm.Quarantined[i].RebuiltAs = segName(num)
	ix.mu.RLock()
	at, _ := slices.BinarySearchFunc(ix.segs, q.First, func(s *segment, seq uint64) int { return cmpU64(s.first, seq) })
	ix.mu.RUnlock()
	nm.Segments = slices.Insert(slices.Clone(ix.man.Segments), at, segName(num))
	if err := ix.writeManifest(nm); err != nil {
		sg.release()
		os.Remove(path)
		return "", fmt.Errorf("index rebuild %s: %w", file, err)
	}
	ix.mu.Lock()
	ix.segs = slices.Insert(slices.Clone(ix.segs), at, sg)
	ix.mu.Unlock()
	ix.log.Info("index: a quarantined segment was rebuilt from the WAL; its events are served again", "quarantined", file, "file", segName(num), "first", q.First, "last", q.Last, "events", sg.events)
	return segName(num), nil
}

// writeRebuilt writes the segment of q's range at path from what read
// adds, in pieces of at most MemtableBytes merged into one.
func (ix *Index) writeRebuilt(q QuarantinedSegment, path string, sw sweeps, read func(add func(Item) error) error) error {
	var pieces []*segment
	defer func() {
		for _, p := range pieces {
			os.Remove(p.path)
			p.release()
		}
	}()
	ix.mu.RLock()
	rec := ix.rec
	ix.mu.RUnlock()
	_, enc, err := rec.encoders()
	if err != nil {
		return err
	}
	m := newMemtable(rec, enc, nil)
	var keyBuf []byte
	prev := uint64(0)
	piece := func() error {
		num := ix.nextFile()
		p := filepath.Join(ix.dir, segName(num)+".rebuild.tmp")
		first := q.First
		if len(pieces) > 0 {
			first = pieces[len(pieces)-1].last + 1
		}
		if _, err := writeMemtable(m, p, ix.enc, sw, first, m.recs[len(m.recs)-1].seq); err != nil {
			return err
		}
		sg, err := openSegment(p, num, ix.cache, ix.codecs)
		if err != nil {
			return err
		}
		pieces = append(pieces, sg)
		m = newMemtable(rec, enc, nil)
		return nil
	}
	err = read(func(it Item) error {
		if it.Seq < q.First || it.Seq > q.Last || it.Seq <= prev {
			return fmt.Errorf("index rebuild %s: record %d is out of order or outside %d..%d", q.File, it.Seq, q.First, q.Last)
		}
		prev = it.Seq
		keyBuf = m.add(it.Seq, it.Event, keyBuf)
		if m.bytes >= ix.opts.MemtableBytes {
			return piece()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(pieces) == 0 {
		if len(m.recs) == 0 {
			return ix.emptySegment(path, q.First, q.Last)
		}
		if wrote, err := writeMemtable(m, path, ix.enc, sw, q.First, q.Last); err != nil || wrote {
			return err
		}
		return ix.emptySegment(path, q.First, q.Last)
	}
	if len(m.recs) > 0 {
		if err := piece(); err != nil {
			return err
		}
	}
	wrote, err := ix.writeMerged(pieces, path, sw, q.First, q.Last)
	if err != nil || wrote {
		return err
	}
	return ix.emptySegment(path, q.First, q.Last)
}

// emptySegment writes a segment with no events covering first..last: every
// event in the range was deleted.
func (ix *Index) emptySegment(path string, first, last uint64) error {
	plain, err := ix.codecs.plain()
	if err != nil {
		return err
	}
	w, err := newSegWriter(path, ix.enc, plain, first, 0)
	if err != nil {
		return err
	}
	return w.finish(last)
}

// scrubLoop reads every segment listed at Open whole, one at a time with
// ScrubPause between them, and quarantines those that fail.
// scrubShare is the share of one core the background scrub takes.
const scrubShare = 0.25

func (ix *Index) scrubLoop() {
	defer ix.wg.Done()
	ix.mu.RLock()
	nums := make([]uint64, len(ix.segs))
	for i, sg := range ix.segs {
		nums[i] = sg.num
	}
	ix.mu.RUnlock()
	pc := &pacer{stop: ix.stop, share: scrubShare}
	for _, num := range nums {
		select {
		case <-ix.stop:
			return
		case <-time.After(ix.opts.ScrubPause):
		}
		ix.mu.RLock()
		i := slices.IndexFunc(ix.segs, func(sg *segment) bool { return sg.num == num })
		var sg *segment
		if i >= 0 {
			sg = ix.segs[i]
			sg.acquire()
		}
		ix.mu.RUnlock()
		if sg == nil {
			continue // merged away or dropped meanwhile
		}
		err := sg.verify(pc)
		sg.release()
		switch {
		case errors.Is(err, errStopped):
			return
		case err == nil:
		case ix.quarantineFor(err, false):
		default:
			ix.log.Error("index: checking a segment failed", "file", sg.path, "err", err)
		}
	}
	ix.scrubbed.Store(true)
}

// Scrubbed reports whether the background scrub has checked every segment
// listed at Open.
func (ix *Index) Scrubbed() bool { return ix.scrubbed.Load() }
