package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// RepairOptions configure [Repair].
type RepairOptions struct {
	// Seen is the highest sequence number the rest of the data directory
	// has seen: the index's and every follower's checkpoint. The repaired
	// log hands out only higher ones, so records up to Seen that the WAL
	// no longer holds are recorded as lost rather than numbered again.
	Seen uint64
	// Now is the clock for gap records and quarantine names; nil means
	// time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// RepairAction is one thing [Repair] did.
type RepairAction struct {
	// Segment is the path of the segment changed.
	Segment string
	// Offset and Bytes are the byte range dropped from the original
	// segment (Bytes is 0 when nothing was dropped).
	Offset, Bytes int64
	// Lost says whether records were lost, and which; false when none
	// were, or when no one can know (a torn tail: never acknowledged).
	Lost                bool
	FirstLost, LastLost uint64
	// Quarantine is the path of the file that keeps the original bytes
	// ("" when no byte was dropped).
	Quarantine string
	// What says it in a sentence.
	What string
}

// RepairResult is what [Repair] did and what [Check] says afterwards.
type RepairResult struct {
	Actions []RepairAction
	Report  *Report
}

// ErrNotRepairable means the WAL directory holds something Repair will not
// decide about: a file named like a segment that the MANIFEST does not
// list, or that is not a segment name. The error says which; the operator
// moves it away (or restores what it belongs with) and runs Repair again.
var ErrNotRepairable = errors.New("wal: damage that repair does not decide about")

// Repair repairs the WAL in dir (docs/format/wal.md, "Repair"), which no
// process may have open. It keeps every record that can still be read
// under its own sequence number, replaces each run of lost records with a
// gap record, copies every segment it rewrites to the quarantine directory
// first, writes a segment holding a gap record for each missing segment,
// rebuilds the MANIFEST, and then does what Open would (cut a torn tail,
// remove what a crash left). A WAL without problems is left as it is.
func Repair(dir string, opts RepairOptions) (*RepairResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p, err := examine(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("repair wal: %w", err)
	}
	var foreign []error
	for i, pr := range p.probs {
		if pr.kind == probForeign {
			foreign = append(foreign, p.rep.Problems[i])
		}
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("repair wal: %w: nothing was changed: %w", ErrNotRepairable, errors.Join(foreign...))
	}
	now := opts.Now().UTC().Truncate(time.Second)
	rp := &repairer{dir: dir, now: now, log: opts.Logger}
	if p.create {
		return &RepairResult{Report: &p.rep}, nil
	}
	needs := map[uint64]problemKind{}
	for _, pr := range p.probs {
		if pr.kind == probDamage || pr.kind == probMissing {
			needs[pr.first] = pr.kind
		}
	}
	for i, e := range p.chain {
		active := i == len(p.chain)-1
		limit := ^uint64(0)
		if !active {
			limit = p.chain[i+1].First - 1
		}
		kind, bad := needs[e.First]
		switch {
		case bad && kind == probMissing:
			err = rp.replaceMissing(e.First, limit, active, opts.Seen)
		case bad:
			err = rp.rewrite(e.First, limit, active, opts.Seen)
		case active && (p.torn != nil || opts.Seen >= p.rep.Next):
			err = rp.rewrite(e.First, limit, active, opts.Seen)
		}
		if err != nil {
			return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
		}
	}
	if len(rp.actions) > 0 || p.writeManifest {
		chain := slices.Clone(p.chain)
		for i := range chain[:len(chain)-1] {
			st, err := os.Stat(segPath(dir, chain[i].First))
			if err != nil {
				return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
			}
			chain[i].Size = st.Size()
		}
		if err := writeManifest(dir, chain); err != nil {
			return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
		}
		if slices.ContainsFunc(p.probs, func(pr problem) bool { return pr.kind == probManifest }) {
			rp.act(RepairAction{Segment: filepath.Join(dir, manifestName), Offset: -1, What: fmt.Sprintf("wrote %s again from the %d segments in the directory", manifestName, len(chain))})
		}
	}
	// What is left is what Open does by itself; do it the same way.
	p2, err := examine(dir, nil)
	if err != nil {
		return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
	}
	if err := p2.refusal(); err != nil {
		return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: problems remain after repair: %w", err)
	}
	for _, f := range p2.rep.Fixes {
		rp.actions = append(rp.actions, RepairAction{What: f})
	}
	w := &WAL{dir: dir, opts: Options{SegmentSize: DefaultOptions().SegmentSize, Logger: opts.Logger}, next: 1}
	if err := w.settle(p2, now.Format(stampLayout)); err != nil {
		return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
	}
	if err := w.Close(); err != nil {
		return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
	}
	rep, err := Check(dir, nil)
	if err != nil {
		return &RepairResult{Actions: rp.actions}, fmt.Errorf("repair wal: %w", err)
	}
	return &RepairResult{Actions: rp.actions, Report: rep}, nil
}

const stampLayout = "20060102T150405Z"

type repairer struct {
	dir     string
	now     time.Time
	log     *slog.Logger
	actions []RepairAction
}

func (rp *repairer) act(a RepairAction) {
	rp.actions = append(rp.actions, a)
	rp.log.Warn("wal repair: "+a.What, "segment", a.Segment, "offset", a.Offset, "bytes", a.Bytes, "quarantine", a.Quarantine)
}

// replaceMissing writes a segment for one that is gone: a gap record for
// the records it held (up to limit, or up to seen for the active segment).
func (rp *repairer) replaceMissing(first, limit uint64, active bool, seen uint64) error {
	path := segPath(rp.dir, first)
	b := []byte(magic)
	last := limit
	if active {
		last = seen
	}
	a := RepairAction{Segment: path}
	if last >= first {
		b = appendGapRecord(b, Gap{First: first, Last: last, Time: rp.now})
		a.Lost, a.FirstLost, a.LastLost = true, first, last
		a.What = fmt.Sprintf("segment was missing: wrote it again holding a gap record for records %d to %d, which are lost", first, last)
	} else {
		a.What = "the active segment was missing and no record in it was seen elsewhere: wrote it again empty"
	}
	if err := rp.replace(path, b); err != nil {
		return err
	}
	rp.act(a)
	return nil
}

// rewrite writes segment first again (see salvage). The original is
// copied to the quarantine directory first when any byte is dropped.
func (rp *repairer) rewrite(first, limit uint64, active bool, seen uint64) error {
	path := segPath(rp.dir, first)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	qrel := filepath.Join(QuarantineDir, uniqueName(filepath.Join(rp.dir, QuarantineDir), filepath.Base(path)+"."+rp.now.Format(stampLayout)))
	out, acts, dropped := salvage(b, path, first, limit, active, seen, qrel, rp.now)
	if dropped {
		qpath := filepath.Join(rp.dir, qrel)
		if err := keep(rp.dir, qpath, b); err != nil {
			return err
		}
		for i := range acts {
			if acts[i].Bytes > 0 {
				acts[i].Quarantine = qpath
			}
		}
	}
	if err := rp.replace(path, out); err != nil {
		return err
	}
	for _, a := range acts {
		rp.act(a)
	}
	return nil
}

// salvage returns the bytes of segment path (b, whose first record is
// first and last at most limit) repaired: the header, every valid record
// byte for byte, and a gap record for each run of lost records, naming
// qrel as the quarantine file. A sealed segment is filled with a gap up to
// limit, the active one up to seen. dropped says whether any byte of b was
// left out.
func salvage(b []byte, path string, first, limit uint64, active bool, seen uint64, qrel string, now time.Time) (out []byte, acts []RepairAction, dropped bool) {
	ps := parseSegment(b, path, first, limit, nil)
	out = []byte(magic)
	next := first
	gap := func(lo, hi uint64, off, n int64, why string) {
		q := qrel
		if n == 0 {
			q = ""
		}
		if hi >= lo {
			out = appendGapRecord(out, Gap{First: lo, Last: hi, Time: now, Offset: off, Bytes: n, Quarantine: q})
			next = hi + 1
			acts = append(acts, RepairAction{Segment: path, Offset: off, Bytes: n, Lost: true, FirstLost: lo, LastLost: hi,
				What: fmt.Sprintf("%s: records %d to %d are lost; a gap record stands for them", why, lo, hi)})
			return
		}
		if n > 0 {
			acts = append(acts, RepairAction{Segment: path, Offset: off, Bytes: n, What: why + ": no record lost"})
		}
	}
	for _, pc := range ps.pieces {
		n := pc.end - pc.off
		dropped = dropped || n > 0 && pc.kind == pieceDamage && !(pc.zero && active)
		switch {
		case pc.kind != pieceDamage:
			out = append(out, b[pc.off:pc.end]...)
			next = pc.last + 1
		case pc.zero && active:
			// The active segment's preallocated space: not damage.
		case pc.tail && active:
			acts = append(acts, RepairAction{Segment: path, Offset: pc.off, Bytes: n,
				What: fmt.Sprintf("dropped %d bytes from offset %d to the end (%v), with no valid record after them: a torn tail, never acknowledged", n, pc.off, pc.err)})
		case pc.tail:
			gap(pc.first, limit, pc.off, n, fmt.Sprintf("dropped %d unreadable bytes from offset %d to the end of a sealed segment (%v)", n, pc.off, pc.err))
		default:
			gap(pc.first, pc.last, pc.off, n, fmt.Sprintf("dropped %d unreadable bytes from offset %d to %d (%v)", n, pc.off, pc.end, pc.err))
		}
	}
	switch {
	case !active && next <= limit:
		gap(next, limit, int64(len(b)), 0, fmt.Sprintf("the segment ends at record %d but the next starts at %d", next-1, limit+1))
	case active && seen >= next:
		gap(next, seen, int64(len(b)), 0, fmt.Sprintf("the log ends at record %d but the index or a follower has seen records up to %d", next-1, seen))
	}
	return out, acts, dropped
}

// replace puts b at path atomically (fileutil.WriteFileAtomic: a crash
// leaves the old file or the new one).
func (rp *repairer) replace(path string, b []byte) error {
	return fileutil.WriteFileAtomic(path, b, 0o644)
}

// keep writes b to the quarantine file qpath and makes it durable before
// anything is removed from the log.
func keep(dir, qpath string, b []byte) error {
	if err := fileutil.MkdirAll(filepath.Dir(qpath), 0o755); err != nil {
		return err
	}
	if err := fileutil.SyncDir(dir); err != nil {
		return err
	}
	return fileutil.WriteFileAtomic(qpath, b, 0o644)
}

// quarantineTail keeps the bytes [off, end) of segment path before Open
// cuts them as a torn tail, unless they are all zero (nothing to look at).
// It returns the quarantine file's path ("" when nothing was kept).
func quarantineTail(dir, path string, off, end int64, stamp string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := make([]byte, end-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return "", err
	}
	if !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		return "", nil
	}
	if stamp == "" {
		stamp = time.Now().UTC().Format(stampLayout)
	}
	qdir := filepath.Join(dir, QuarantineDir)
	q := filepath.Join(qdir, uniqueName(qdir, fmt.Sprintf("%s.tail-%d.%s", filepath.Base(path), off, stamp)))
	return q, keep(dir, q, b)
}

// uniqueName returns name, or name with a counter added if a file of that
// name is already in dir.
func uniqueName(dir, name string) string {
	n := name
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, n)); errors.Is(err, os.ErrNotExist) {
			return n
		}
		n = fmt.Sprintf("%s-%d", name, i)
	}
}
