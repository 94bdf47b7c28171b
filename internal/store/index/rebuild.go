package index

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// SegmentInfo describes one segment file by its footer.
type SegmentInfo struct {
	File        string
	First, Last uint64
	Events      int
}

// SkippedSegment is a segment file Rebuild did not list.
type SkippedSegment struct {
	SegmentInfo
	Reason string
	// Quarantined tells whether Rebuild moved it to quarantine/ (it is
	// damaged, or holds events no listed segment has but overlaps one);
	// otherwise the listed segments account for its events and the next
	// Open deletes it.
	Quarantined bool
}

// SeqRange is a run of WAL sequence numbers, both ends included.
type SeqRange struct{ First, Last uint64 }

// RebuildReport is what Rebuild did.
type RebuildReport struct {
	Used       []SegmentInfo // listed in the new MANIFEST, in sequence order
	Skipped    []SkippedSegment
	Covered    []SeqRange // the ranges the listed segments cover
	Gaps       []SeqRange // the ranges in 1..Checkpoint no listed segment covers
	Checkpoint uint64
	// Kept tells whether the old MANIFEST still parsed, so that its
	// retention sweeps and quarantine entries were kept. When false the
	// sweep list was lost: events a sweep had deleted but whose bytes were
	// still in a segment are visible again until the next retention sweep
	// deletes them (lookups hide events older than the retention window
	// meanwhile).
	Kept bool
	// Missing lists segments the old MANIFEST named that are not there.
	Missing []string
}

// RebuildOptions tune Rebuild.
type RebuildOptions struct {
	Logger *slog.Logger
	// LogFirst is the first sequence number the WAL holds (0: unknown).
	// The checkpoint is raised to LogFirst-1 if it is lower: the records
	// before LogFirst cannot be replayed, and event history resumes at
	// LogFirst.
	LogFirst uint64
}

// Rebuild writes a new MANIFEST for the index in dir from its segment
// files, which describe themselves: for `opentrail fsck --repair`, when
// Open fails with a *ManifestError. The index must not be open. It reads
// every segment whole, lists a set whose sequence ranges do not overlap,
// preferring newer file numbers (a merge's output over its inputs), moves
// damaged segments, and segments it cannot list that hold events no listed
// one has, to quarantine/ (recorded in the MANIFEST), and sets the
// checkpoint to the highest sequence number covered. It deletes nothing.
func Rebuild(dir string, logger *slog.Logger) (RebuildReport, error) {
	return RebuildWith(dir, RebuildOptions{Logger: logger})
}

// RebuildWith is Rebuild with options.
func RebuildWith(dir string, o RebuildOptions) (RebuildReport, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var rep RebuildReport
	df, err := listDir(dir)
	if err != nil {
		return rep, fmt.Errorf("rebuild index: %w", err)
	}
	old, err := loadManifest(dir)
	switch {
	case err == nil:
		rep.Kept = true
	case errors.Is(err, fs.ErrNotExist) || errors.As(err, new(*ManifestError)):
		old = manifest{NextFile: 1}
	default:
		return rep, fmt.Errorf("rebuild index: %w", err)
	}
	cs := newCodecs(1)
	defer cs.close()
	cache := newBlockCache(8 << 20)
	qdir := filepath.Join(dir, quarantineDir)
	entries := slices.Clone(old.Quarantined)
	quarantine := func(info SegmentInfo, reason string) error {
		q := QuarantinedSegment{File: freeQuarantineName(dir, info.File, entries), First: info.First, Last: info.Last,
			Events: info.Events, Reason: reason, Time: time.Now().UTC().Truncate(time.Second)}
		if !q.knownRange() {
			q.First, q.Last = 0, 0
		}
		if err := moveToQuarantine(dir, info.File, q.File); err != nil {
			return err
		}
		entries = append(entries, q)
		rep.Skipped = append(rep.Skipped, SkippedSegment{SegmentInfo: info, Reason: reason, Quarantined: true})
		o.Logger.Warn("index rebuild: moved a segment to quarantine", "file", info.File, "reason", reason)
		return nil
	}
	var cands []*segment
	defer func() {
		for _, sg := range cands {
			sg.release()
		}
	}()
	for _, name := range df.segs {
		if i := slices.IndexFunc(old.Quarantined, func(q QuarantinedSegment) bool { return quarantineBase(q.File) == name }); i >= 0 {
			if _, err := os.Stat(filepath.Join(qdir, old.Quarantined[i].File)); errors.Is(err, fs.ErrNotExist) {
				// An interrupted quarantine: finish it.
				if err := moveToQuarantine(dir, name, old.Quarantined[i].File); err != nil {
					return rep, fmt.Errorf("rebuild index: %w", err)
				}
				q := old.Quarantined[i]
				rep.Skipped = append(rep.Skipped, SkippedSegment{SegmentInfo: SegmentInfo{name, q.First, q.Last, q.Events}, Reason: "quarantined (the move to quarantine/ was interrupted)", Quarantined: true})
				continue
			}
		}
		num, _ := segNum(name)
		sg, err := openSegment(filepath.Join(dir, name), num, cache, cs)
		if err == nil {
			if err = sg.verify(nil); err != nil {
				sg.release()
			}
		}
		if err != nil {
			info := SegmentInfo{File: name}
			if first, last, events, ok := readFooter(filepath.Join(dir, name)); ok {
				info.First, info.Last, info.Events = first, last, events
			}
			if qerr := quarantine(info, fmt.Sprintf("damaged: %v", err)); qerr != nil {
				return rep, fmt.Errorf("rebuild index: %w", qerr)
			}
			continue
		}
		cands = append(cands, sg)
	}
	used, skipped := chooseSegments(cands)
	for _, sg := range skipped {
		info := sg.info()
		var over []string
		for _, u := range used {
			if u.first <= sg.last && sg.first <= u.last {
				over = append(over, segName(u.num))
			}
		}
		left, err := sg.uncovered(used, old.Sweeps)
		if err != nil {
			return rep, fmt.Errorf("rebuild index: %w", err)
		}
		if left == 0 {
			rep.Skipped = append(rep.Skipped, SkippedSegment{SegmentInfo: info, Reason: fmt.Sprintf("overlaps newer %v, which hold its events (the next start deletes it)", over)})
			continue
		}
		if err := quarantine(info, fmt.Sprintf("overlaps newer %v but holds %d events they do not", over, left)); err != nil {
			return rep, fmt.Errorf("rebuild index: %w", err)
		}
	}
	nm := manifest{Version: manifestVersion, NextFile: max(old.NextFile, df.maxNum+1)}
	if rep.Kept {
		nm.Sweeps = old.Sweeps
		nm.Checkpoint = old.Checkpoint
		for _, name := range old.Segments {
			if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
				rep.Missing = append(rep.Missing, name)
			}
		}
	}
	for _, sg := range used {
		nm.Segments = append(nm.Segments, segName(sg.num))
		rep.Used = append(rep.Used, sg.info())
		nm.Checkpoint = max(nm.Checkpoint, sg.last)
		if n := len(rep.Covered); n > 0 && rep.Covered[n-1].Last+1 == sg.first {
			rep.Covered[n-1].Last = sg.last
		} else {
			rep.Covered = append(rep.Covered, SeqRange{sg.first, sg.last})
		}
	}
	if o.LogFirst > 0 {
		nm.Checkpoint = max(nm.Checkpoint, o.LogFirst-1)
	}
	at := uint64(1)
	for _, c := range rep.Covered {
		if c.First > at {
			rep.Gaps = append(rep.Gaps, SeqRange{at, c.First - 1})
		}
		at = c.Last + 1
	}
	if at <= nm.Checkpoint {
		rep.Gaps = append(rep.Gaps, SeqRange{at, nm.Checkpoint})
	}
	for i, q := range entries {
		if q.missing() && q.knownRange() && covered(used, q.First, q.Last) {
			j := slices.IndexFunc(used, func(sg *segment) bool { return sg.first <= q.First && q.First <= sg.last })
			entries[i].RebuiltAs = segName(used[j].num)
		}
	}
	nm.Quarantined = entries
	rep.Checkpoint = nm.Checkpoint
	if err := storeManifest(dir, nm); err != nil {
		return rep, fmt.Errorf("rebuild index: %w", err)
	}
	o.Logger.Info("index rebuild: wrote a new MANIFEST", "segments", len(nm.Segments), "checkpoint", nm.Checkpoint,
		"skipped", len(rep.Skipped), "gaps", len(rep.Gaps), "kept", rep.Kept)
	return rep, nil
}

func (sg *segment) info() SegmentInfo {
	return SegmentInfo{File: filepath.Base(sg.path), First: sg.first, Last: sg.last, Events: sg.events}
}

// chooseSegments picks, newest file number first, the segments whose
// ranges overlap none picked before: used (in sequence order) and skipped.
func chooseSegments(cands []*segment) (used, skipped []*segment) {
	byNum := slices.Clone(cands)
	slices.SortFunc(byNum, func(a, b *segment) int { return cmpU64(b.num, a.num) })
	for _, sg := range byNum {
		if overlapsLive(used, sg.first, sg.last) {
			skipped = append(skipped, sg)
		} else {
			used = append(used, sg)
		}
	}
	slices.SortFunc(used, func(a, b *segment) int { return cmpU64(a.first, b.first) })
	return used, skipped
}
