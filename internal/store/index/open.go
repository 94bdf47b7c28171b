package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// dirFiles is what the index directory holds.
type dirFiles struct {
	segs   []string // *.seg files with a segment name, sorted
	tmps   []string // leftovers of interrupted writes
	maxNum uint64   // the largest segment file number, here or in quarantine
}

func listDir(dir string) (dirFiles, error) {
	var df dirFiles
	ents, err := os.ReadDir(dir)
	if err != nil {
		return df, err
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".tmp") || strings.HasPrefix(n, "."+manifestName+".tmp"):
			df.tmps = append(df.tmps, n)
		case strings.HasSuffix(n, ".seg"):
			if num, err := segNum(n); err == nil {
				df.segs = append(df.segs, n)
				df.maxNum = max(df.maxNum, num)
			}
		}
	}
	qents, err := os.ReadDir(filepath.Join(dir, quarantineDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return df, err
	}
	for _, e := range qents {
		if num, err := segNum(quarantineBase(e.Name())); err == nil {
			df.maxNum = max(df.maxNum, num)
		}
	}
	return df, nil
}

// loadManifest reads the MANIFEST of dir; a missing one is reported as
// fs.ErrNotExist.
func loadManifest(dir string) (manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return manifest{}, err
	}
	m, err := parseManifest(b)
	if err != nil {
		return manifest{}, &ManifestError{Dir: dir, File: manifestName, Reason: fmt.Sprintf("its MANIFEST does not parse (%v)", err), Err: err}
	}
	return m, nil
}

// opening is what load finds before it changes anything.
type opening struct {
	damaged  []QuarantinedSegment // listed segments that fail their checks
	adopt    []*segment           // interrupted rebuilds to list
	adoptFor []int                // the quarantined entry each rebuilds
	moves    [][2]string          // interrupted quarantines: file, name in quarantine/
	delete   [][2]string          // provable leftovers: file, why
	refuse   []*ManifestError     // unlisted files that cannot be accounted for
}

// load reads the MANIFEST and opens the listed segments. It accounts for
// every other segment file before it changes anything: see "Files that
// MANIFEST does not list" in docs/format/index.md.
func (ix *Index) load() error {
	df, err := listDir(ix.dir)
	if errors.Is(err, fs.ErrNotExist) && ix.opts.ReadOnly {
		ix.man = manifest{Version: manifestVersion, NextFile: 1}
		return nil
	}
	if err != nil {
		return err
	}
	m, err := loadManifest(ix.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && len(df.segs) == 0:
		// A new index. Its MANIFEST is written at once: from then on a
		// segment file without one is a MANIFEST lost.
		m = manifest{Version: manifestVersion, NextFile: 1}
		if !ix.opts.ReadOnly {
			if err := storeManifest(ix.dir, m); err != nil {
				return err
			}
		}
	case errors.Is(err, fs.ErrNotExist):
		return &ManifestError{Dir: ix.dir, Reason: fmt.Sprintf("its MANIFEST is missing but %d segment files are present (%s)", len(df.segs), strings.Join(df.segs, ", ")), Err: err}
	case err != nil:
		return err
	}
	m.NextFile = max(m.NextFile, df.maxNum+1)
	ix.man = m
	var op opening
	if err := ix.openListed(&op); err != nil {
		return err
	}
	if err := ix.classifyUnlisted(df, &op); err != nil {
		return err
	}
	if ix.opts.ReadOnly {
		ix.reportOpening(df, &op)
	} else if err := ix.finishOpening(df, &op); err != nil {
		return err
	}
	ix.applied = ix.man.Checkpoint
	ix.sweeps = ix.man.Sweeps
	ix.holes = holesOf(ix.man)
	return nil
}

// openListed opens the listed segments; those that fail their checks go
// to op.damaged.
func (ix *Index) openListed(op *opening) error {
	m := ix.man
	type slot struct {
		sg     *segment
		reason string
	}
	slots := make([]slot, len(m.Segments))
	for i, name := range m.Segments {
		num, _ := segNum(name) // parseManifest checked it
		sg, err := openSegment(filepath.Join(ix.dir, name), num, ix.cache, ix.codecs)
		var ce *CorruptionError
		switch {
		case err == nil:
			if n := len(ix.segs); n > 0 && sg.first <= ix.segs[n-1].last {
				sg.release()
				return &ManifestError{Dir: ix.dir, File: name, Reason: fmt.Sprintf("its MANIFEST lists segments %s and %s out of order or overlapping", segName(ix.segs[n-1].num), name)}
			}
			if sg.last > m.Checkpoint {
				sg.release()
				return &ManifestError{Dir: ix.dir, File: name, Reason: fmt.Sprintf("segment %s ends at %d, past the MANIFEST's checkpoint %d", name, sg.last, m.Checkpoint)}
			}
			ix.segs = append(ix.segs, sg)
			slots[i].sg = sg
		case errors.As(err, &ce):
			slots[i].reason = ce.Reason
		case errors.Is(err, fs.ErrNotExist):
			return &ManifestError{Dir: ix.dir, File: name, Reason: fmt.Sprintf("its MANIFEST lists segment %s, which is missing", name), Err: err}
		default:
			return err
		}
	}
	// Each damaged segment's range: its footer's, if that lies between its
	// sound neighbours; else the whole gap between them if it is alone
	// there; else unknown. It must not overlap another entry.
	taken := slices.Clone(m.Quarantined)
	for i, sl := range slots {
		if sl.sg != nil {
			continue
		}
		lo, hi := uint64(1), m.Checkpoint
		alone := true
		for j := i - 1; j >= 0; j-- {
			if slots[j].sg != nil {
				lo = slots[j].sg.last + 1
				break
			}
			alone = false
		}
		for j := i + 1; j < len(slots); j++ {
			if slots[j].sg != nil {
				hi = slots[j].sg.first - 1
				break
			}
			alone = false
		}
		q := QuarantinedSegment{File: m.Segments[i], Reason: sl.reason, Time: time.Now().UTC().Truncate(time.Second)}
		path := filepath.Join(ix.dir, m.Segments[i])
		if first, last, events, ok := readFooter(path); ok && lo <= first && first <= last && last <= hi && !overlapsEntry(taken, first, last) {
			q.First, q.Last, q.Events = first, last, events
		} else if alone && lo <= hi && !overlapsEntry(taken, lo, hi) {
			q.First, q.Last = lo, hi
		}
		taken = append(taken, q)
		op.damaged = append(op.damaged, q)
	}
	return nil
}

// readFooter reads a segment file's footer without checking it.
func readFooter(path string) (first, last uint64, events int, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < int64(len(segMagic))+footerLen {
		return 0, 0, 0, false
	}
	var ft [footerLen]byte
	if _, err := f.ReadAt(ft[:], st.Size()-footerLen); err != nil || string(ft[40:]) != segEndMagic {
		return 0, 0, 0, false
	}
	first, last = binary.LittleEndian.Uint64(ft[16:]), binary.LittleEndian.Uint64(ft[24:])
	return first, last, int(binary.LittleEndian.Uint32(ft[32:])), first != 0 && first <= last
}

func overlapsEntry(qs []QuarantinedSegment, first, last uint64) bool {
	return slices.ContainsFunc(qs, func(q QuarantinedSegment) bool {
		return q.knownRange() && q.First <= last && first <= q.Last
	})
}

// covered reports whether segs (sorted, not overlapping) cover every
// sequence number in first..last.
func covered(segs []*segment, first, last uint64) bool {
	at := first
	for _, sg := range segs {
		if sg.last < at {
			continue
		}
		if sg.first > at {
			return false
		}
		if sg.last >= last {
			return true
		}
		at = sg.last + 1
	}
	return false
}

// classifyUnlisted decides what each unlisted segment file is.
func (ix *Index) classifyUnlisted(df dirFiles, op *opening) error {
	m := ix.man
	listed := map[string]bool{}
	for _, n := range m.Segments {
		listed[n] = true
	}
	qdir := filepath.Join(ix.dir, quarantineDir)
	refuse := func(name, reason string, err error) {
		op.refuse = append(op.refuse, &ManifestError{Dir: ix.dir, File: name, Reason: reason, Err: err})
	}
	for _, name := range df.segs {
		if listed[name] {
			continue
		}
		if i := slices.IndexFunc(m.Quarantined, func(q QuarantinedSegment) bool { return quarantineBase(q.File) == name }); i >= 0 {
			if _, err := os.Stat(filepath.Join(qdir, m.Quarantined[i].File)); errors.Is(err, fs.ErrNotExist) {
				op.moves = append(op.moves, [2]string{name, m.Quarantined[i].File})
				continue
			}
		}
		num, _ := segNum(name)
		sg, err := openSegment(filepath.Join(ix.dir, name), num, ix.cache, ix.codecs)
		if err != nil {
			refuse(name, fmt.Sprintf("%s is not listed in MANIFEST and cannot be read (%v), so it may hold events no listed segment has", name, err), err)
			continue
		}
		keep := false
		switch left, err := sg.uncovered(ix.segs, m.Sweeps); {
		case err != nil:
			refuse(name, fmt.Sprintf("%s is not listed in MANIFEST and cannot be read (%v), so it may hold events no listed segment has", name, err), err)
		case left == 0:
			op.delete = append(op.delete, [2]string{name, fmt.Sprintf("its events %d..%d are in listed segments or deleted by retention (left by an interrupted merge or sweep)", sg.first, sg.last)})
		case sg.first > m.Checkpoint:
			op.delete = append(op.delete, [2]string{name, fmt.Sprintf("its events %d..%d are after the checkpoint %d (left by an interrupted flush; the WAL replays them)", sg.first, sg.last, m.Checkpoint)})
		default:
			i := slices.IndexFunc(m.Quarantined, func(q QuarantinedSegment) bool {
				return q.missing() && q.knownRange() && q.First == sg.first && q.Last == sg.last
			})
			if i < 0 || slices.Contains(op.adoptFor, i) || overlapsLive(ix.segs, sg.first, sg.last) {
				refuse(name, fmt.Sprintf("%s is not listed in MANIFEST and holds %d events in %d..%d that no listed segment has", name, left, sg.first, sg.last), nil)
				break
			}
			if err := sg.verify(nil); err != nil {
				refuse(name, fmt.Sprintf("segment %s, an unlisted rebuild of quarantined %s, is damaged (%v)", name, m.Quarantined[i].File, err), err)
				break
			}
			op.adopt, op.adoptFor = append(op.adopt, sg), append(op.adoptFor, i)
			keep = true
		}
		if !keep {
			sg.release()
		}
	}
	return nil
}

// overlapsLive reports whether a live segment holds a sequence number in
// first..last.
func overlapsLive(segs []*segment, first, last uint64) bool {
	return slices.ContainsFunc(segs, func(sg *segment) bool { return sg.first <= last && first <= sg.last })
}

// uncovered counts the segment's events that are neither in the range of
// one of segs (sorted, not overlapping) nor deleted by sw.
func (sg *segment) uncovered(segs []*segment, sw sweeps) (int, error) {
	if covered(segs, sg.first, sg.last) {
		return 0, nil
	}
	in := func(seq uint64) bool {
		i, _ := slices.BinarySearchFunc(segs, seq, func(s *segment, q uint64) int {
			switch {
			case s.last < q:
				return -1
			case s.first > q:
				return 1
			}
			return 0
		})
		return i < len(segs) && segs[i].first <= seq && seq <= segs[i].last
	}
	f := newFilter(sw, noCut, sg.first, sg.last)
	n := 0
	for _, p := range sg.parts {
		if err := sg.partEvents(p, func(x pos) bool {
			if f.visible(x) && !in(x.s) {
				n++
			}
			return true
		}); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// reportOpening records, in read-only mode, what a normal Open would do.
func (ix *Index) reportOpening(df dirFiles, op *opening) {
	add := func(format string, a ...any) { ix.problems = append(ix.problems, fmt.Sprintf(format, a...)) }
	// What an interrupted write or flush leaves, which the next start
	// deletes, is the normal state after a crash: not a problem.
	leftover := func(format string, a ...any) { ix.leftovers = append(ix.leftovers, fmt.Sprintf(format, a...)) }
	for _, r := range op.refuse {
		add("%s; the server refuses to start until `opentrail fsck --repair` rebuilds the MANIFEST", r.Reason)
	}
	for _, n := range df.tmps {
		leftover("%s is left over from an interrupted write; the next start deletes it", n)
	}
	for _, d := range op.delete {
		leftover("%s is not listed in MANIFEST: %s; the next start deletes it", d[0], d[1])
	}
	for _, mv := range op.moves {
		add("%s was being moved to quarantine/ when the index stopped; the next start finishes the move", mv[0])
	}
	for i, sg := range op.adopt {
		add("%s is a rebuild of quarantined %s that was not yet listed; the next start lists it", filepath.Base(sg.path), ix.man.Quarantined[op.adoptFor[i]].File)
		sg.release()
	}
	for _, q := range op.damaged {
		add("segment %s is damaged (%s): the next start moves it to quarantine/, and %s", q.File, q.Reason, missingText(q))
	}
	op.adopt = nil
}

// finishOpening carries out what load decided, or refuses.
func (ix *Index) finishOpening(df dirFiles, op *opening) error {
	if len(op.refuse) > 0 {
		for _, sg := range op.adopt {
			sg.release()
		}
		if len(op.refuse) == 1 {
			return op.refuse[0]
		}
		var reasons []string
		for _, r := range op.refuse {
			reasons = append(reasons, r.Reason)
		}
		return &ManifestError{Dir: ix.dir, File: op.refuse[0].File, Reason: strings.Join(reasons, "; "), Err: op.refuse[0].Err}
	}
	for _, n := range df.tmps {
		if err := os.Remove(filepath.Join(ix.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, mv := range op.moves {
		ix.log.Warn("index: finishing the quarantine of a damaged segment", "file", mv[0])
		if err := moveToQuarantine(ix.dir, mv[0], mv[1]); err != nil {
			return err
		}
	}
	if len(op.damaged) > 0 || len(op.adopt) > 0 {
		nm := ix.man
		nm.Quarantined = slices.Clone(ix.man.Quarantined)
		for i, sg := range op.adopt {
			nm.Quarantined[op.adoptFor[i]].RebuiltAs = segName(sg.num)
			ix.segs = append(ix.segs, sg)
		}
		slices.SortFunc(ix.segs, func(a, b *segment) int { return cmpU64(a.first, b.first) })
		nm.Segments = make([]string, len(ix.segs))
		for i, sg := range ix.segs {
			nm.Segments[i] = segName(sg.num)
		}
		nm.Quarantined = append(nm.Quarantined, op.damaged...)
		for i := range op.damaged {
			q := &nm.Quarantined[len(nm.Quarantined)-len(op.damaged)+i]
			q.File = freeQuarantineName(ix.dir, q.File, nm.Quarantined[:len(nm.Quarantined)-len(op.damaged)+i])
		}
		if err := ix.writeManifest(nm); err != nil {
			return err
		}
		for i, q := range op.damaged {
			ix.log.Error("index: a damaged segment was moved to quarantine; "+missingText(q), "file", op.damaged[i].File, "reason", q.Reason)
			if err := moveToQuarantine(ix.dir, op.damaged[i].File, nm.Quarantined[len(nm.Quarantined)-len(op.damaged)+i].File); err != nil {
				return err
			}
			ix.quarantines.Add(1)
		}
		for i, sg := range op.adopt {
			ix.log.Warn("index: listing a segment rebuilt from the WAL before the index stopped", "file", segName(sg.num), "quarantined", nm.Quarantined[op.adoptFor[i]].File)
		}
	}
	for _, d := range op.delete {
		ix.log.Warn("index: deleting a segment file the MANIFEST does not list: "+d[1], "file", d[0])
		if err := os.Remove(filepath.Join(ix.dir, d[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(op.delete) > 0 || len(df.tmps) > 0 {
		return fileutil.SyncDir(ix.dir)
	}
	return nil
}

// missingText says what a quarantine entry means for event history.
func missingText(q QuarantinedSegment) string {
	switch {
	case !q.missing():
		return fmt.Sprintf("its events were rebuilt from the WAL as %s", q.RebuiltAs)
	case !q.knownRange():
		return "the events it held (its sequence range is unknown) are missing from event history: re-import the trail's log files (opentrail import) to get them back"
	}
	events := "its events"
	if q.Events > 0 {
		events = fmt.Sprintf("its %d events", q.Events)
	}
	return fmt.Sprintf("%s (sequence %d..%d) are missing from event history until they are rebuilt from the WAL, which happens at start-up if the WAL still holds %d..%d; otherwise re-import the trail's log files (opentrail import) to get them back", events, q.First, q.Last, q.First, q.Last)
}

// freeQuarantineName returns name, or name with a numeric suffix, so that
// neither quarantine/ nor an entry of taken has it.
func freeQuarantineName(dir, name string, taken []QuarantinedSegment) string {
	for i := 0; i < math.MaxInt32; i++ {
		n := name
		if i > 0 {
			n = fmt.Sprintf("%s.%d", name, i)
		}
		if slices.ContainsFunc(taken, func(q QuarantinedSegment) bool { return q.File == n }) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, quarantineDir, n)); errors.Is(err, fs.ErrNotExist) {
			return n
		}
	}
	return name
}

// moveToQuarantine moves the segment file name of dir to
// quarantine/target.
func moveToQuarantine(dir, name, target string) error {
	qdir := filepath.Join(dir, quarantineDir)
	if err := fileutil.MkdirAll(qdir, 0o755); err != nil {
		return fmt.Errorf("quarantine %s: %w", name, err)
	}
	if err := os.Rename(filepath.Join(dir, name), filepath.Join(qdir, target)); err != nil {
		return fmt.Errorf("quarantine %s: %w", name, err)
	}
	if err := fileutil.SyncDir(qdir); err != nil {
		return fmt.Errorf("quarantine %s: %w", name, err)
	}
	if err := fileutil.SyncDir(dir); err != nil {
		return fmt.Errorf("quarantine %s: %w", name, err)
	}
	return nil
}
