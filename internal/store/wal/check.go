package wal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

const (
	manifestName = "MANIFEST"
	// QuarantineDir is the directory, inside the WAL directory, where
	// repairs and torn-tail cuts keep the bytes they remove.
	QuarantineDir = "quarantine"
)

// manEntry is one segment in the MANIFEST: its first seq and, once
// sealed, its size.
type manEntry struct {
	First uint64 `json:"first"`
	Size  int64  `json:"size,omitempty"`
}

type manifest struct {
	Version  int        `json:"version"`
	Segments []manEntry `json:"segments"`
}

func readManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("MANIFEST does not parse: %w", err)
	}
	if m.Version != 1 {
		return m, fmt.Errorf("MANIFEST version %d, want 1", m.Version)
	}
	if len(m.Segments) == 0 {
		return m, errors.New("MANIFEST lists no segment")
	}
	for i, s := range m.Segments {
		switch {
		case s.First == 0:
			return m, errors.New("MANIFEST lists a segment starting at 0")
		case i > 0 && s.First <= m.Segments[i-1].First:
			return m, errors.New("MANIFEST lists segments out of order")
		case i < len(m.Segments)-1 && s.Size < int64(len(magic)):
			return m, fmt.Errorf("MANIFEST gives sealed segment %d a size of %d", s.First, s.Size)
		case i == len(m.Segments)-1 && s.Size != 0:
			return m, errors.New("MANIFEST gives the active segment a size")
		}
	}
	return m, nil
}

func writeManifest(dir string, segs []manEntry) error {
	segs = slices.Clone(segs)
	segs[len(segs)-1].Size = 0
	b, err := json.Marshal(manifest{Version: 1, Segments: segs})
	if err != nil {
		return err
	}
	return fileutil.WriteFileAtomic(filepath.Join(dir, manifestName), append(b, '\n'), 0o644)
}

// Report is what [Check] found in a WAL directory. Start-up ([Open]) runs
// the same check and refuses while Problems is not empty.
type Report struct {
	// Segments is the number of segments in the chain; First is the seq
	// of the oldest record the WAL holds and Next the seq the next record
	// gets (0 when damage hides it).
	Segments    int
	First, Next uint64
	// Records is the number of event records read.
	Records int
	// Gaps are the losses earlier repairs recorded.
	Gaps []Gap
	// Problems is damage: Open refuses while there is any, and [Repair]
	// deals with it.
	Problems []*CorruptionError
	// Fixes are what Open does by itself: cut a torn tail, remove what a
	// crash during rotation or truncation left, write a missing MANIFEST.
	Fixes []string
	// Notes are harmless findings: files the WAL ignores, the quarantine.
	Notes []string
}

type problemKind uint8

const (
	probDamage   problemKind = iota // bad bytes in a segment: Repair rewrites it
	probMissing                     // a listed segment is gone: Repair writes a gap segment
	probManifest                    // MANIFEST unreadable: Repair rebuilds it from the listing
	probForeign                     // a file Repair does not touch: the operator moves it
)

type problem struct {
	kind  problemKind
	first uint64 // the segment concerned
}

// plan is a WAL directory as examined: the Report, and what Open and Repair
// act on.
type plan struct {
	dir     string
	rep     Report
	probs   []problem
	chain   []manEntry       // the segments, oldest first; the last is active
	present map[uint64]int64 // segment files on disk and their sizes
	remove  []string         // leftovers of a crash, removed by Open
	create  bool             // no log yet
	// recreate is set when the active segment is at most a header;
	// torn is the torn tail of the active segment, if any; activeEnd is
	// where the next record goes.
	recreate  bool
	torn      *piece
	activeEnd int64
	// zeroTail is the active segment's zeros after its last record (its
	// preallocated space), if any.
	zeroTail      *piece
	writeManifest bool // the MANIFEST is missing or must be rebuilt
	// buf holds the segment being read; each segment reuses it, so a
	// check allocates one segment's worth, not the whole log's.
	buf []byte
}

func (p *plan) problem(kind problemKind, first uint64, seg string, off int64, err error) {
	p.rep.Problems = append(p.rep.Problems, &CorruptionError{Segment: seg, Offset: off, Err: err})
	p.probs = append(p.probs, problem{kind: kind, first: first})
}

func (p *plan) fix(format string, a ...any) {
	p.rep.Fixes = append(p.rep.Fixes, fmt.Sprintf(format, a...))
}

func (p *plan) note(format string, a ...any) {
	p.rep.Notes = append(p.rep.Notes, fmt.Sprintf(format, a...))
}

// Check examines the WAL in dir without changing anything. It is the check
// [Open] makes before it starts, so whatever makes Open refuse is in
// Report.Problems, and what Open would settle by itself is in Fixes. It
// reads every segment whole. visit, if not nil, gets every event record in
// sequence order.
func Check(dir string, visit func(Record)) (*Report, error) {
	return CheckSeen(dir, 0, visit)
}

// CheckSeen is Check for a WAL whose records up to seen some follower has
// already processed (Options.Seen): a torn tail that would take the log
// back to or below seen holds acknowledged records, so it is a problem,
// not a fix.
func CheckSeen(dir string, seen uint64, visit func(Record)) (*Report, error) {
	p, err := examine(dir, visit)
	if err != nil {
		return nil, err
	}
	p.seenCheck(seen)
	return &p.rep, nil
}

// seenCheck turns a torn-tail cut that would lose records some follower
// processed (seq <= seen) into a problem: those records were acknowledged.
func (p *plan) seenCheck(seen uint64) {
	t := p.torn
	if t == nil {
		t = p.zeroTail // zeros where acknowledged records were are no end
	}
	if t == nil || seen < p.rep.Next || p.rep.Next == 0 {
		return
	}
	for i, f := range p.rep.Fixes {
		if strings.HasPrefix(f, "cut the torn tail") {
			p.rep.Fixes = append(p.rep.Fixes[:i:i], p.rep.Fixes[i+1:]...)
			break
		}
	}
	seg := segPath(p.dir, p.chain[len(p.chain)-1].First)
	p.problem(probDamage, p.chain[len(p.chain)-1].First, seg, t.off,
		fmt.Errorf("%v, and no valid record after it: the segment ends early, but records up to %d were processed by a follower, so this is lost acknowledged data, not a torn tail (the log would end at %d)", t.err, seen, p.rep.Next-1))
	p.torn, p.zeroTail = nil, nil
}

// examine is the one check behind Open, Check and Repair. It reads every
// segment whole; it changes nothing.
func examine(dir string, visit func(Record)) (*plan, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("check wal: %w", err)
	}
	p := &plan{dir: dir, present: map[uint64]int64{}}
	haveManifest := false
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		first, isSeg := parseSegName(name)
		switch {
		case name == manifestName && e.Type().IsRegular():
			haveManifest = true
		case name == spareName:
			// The writer's spare segment (Preallocation): it prepares
			// it again.
		case isTempName(name):
			p.remove = append(p.remove, path)
			p.fix("remove %s, a temporary file a crash left", path)
		case name == QuarantineDir && e.IsDir():
			if q, err := os.ReadDir(path); err == nil && len(q) > 0 {
				p.note("%s holds %d files set aside by earlier repairs or torn-tail cuts; delete them once looked at", path, len(q))
			}
		case isSeg && e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("check wal: %w", err)
			}
			p.present[first] = info.Size()
		case strings.Contains(name, segSuffix):
			p.problem(probForeign, 0, path, -1, errors.New("named like a WAL segment but is not one; move it out of the WAL directory"))
		default:
			p.note("%s is not part of the WAL; ignored", path)
		}
	}
	listing := slices.Sorted(maps.Keys(p.present))
	legacy := false
	switch m, err := readManifest(dir); {
	case err == nil:
		p.chain = m.Segments
	case haveManifest || !errors.Is(err, os.ErrNotExist):
		p.problem(probManifest, 0, filepath.Join(dir, manifestName), -1, fmt.Errorf("%w; repair rebuilds it from the segments", err))
		legacy = true
	case len(listing) == 0:
		p.create = true
		p.rep.First, p.rep.Next = 1, 1
		p.fix("create a new log in %s", dir)
		return p, nil
	default:
		legacy = true
		p.fix("write %s for a log from before it existed, once every segment has been read", filepath.Join(dir, manifestName))
	}
	if legacy {
		p.writeManifest = true
		p.chain = nil
		for _, f := range listing {
			p.chain = append(p.chain, manEntry{First: f, Size: p.present[f]})
		}
		if len(p.chain) == 0 {
			return p, nil
		}
	}
	// Segment files the MANIFEST does not list.
	oldest, newest := p.chain[0].First, p.chain[len(p.chain)-1].First
	var next uint64 // the oldest unlisted segment after the chain that holds records
	for _, f := range listing {
		if slices.ContainsFunc(p.chain, func(e manEntry) bool { return e.First == f }) {
			continue
		}
		path := segPath(dir, f)
		switch {
		case f < oldest:
			p.remove = append(p.remove, path)
			p.fix("remove %s, a segment a truncation had released (a crash left the file)", path)
		case f > newest && holdsNoRecord(path, p.present[f]):
			p.remove = append(p.remove, path)
			p.fix("remove %s, an empty segment a crash during rotation left", path)
		case f > newest && next == 0 && !legacy:
			// Perhaps the segment a rotation started: below.
			next = f
		default:
			p.problem(probForeign, f, path, -1, fmt.Errorf("segment is not in %s (%d bytes); move it out of the WAL directory or restore the MANIFEST it belongs with", manifestName, p.present[f]))
		}
	}
	p.rep.Segments = len(p.chain)
	p.rep.First = oldest
	for i, e := range p.chain {
		path := segPath(dir, e.First)
		size, ok := p.present[e.First]
		active := i == len(p.chain)-1
		if !ok {
			what := fmt.Sprintf("records %d to %d", e.First, p.chain[min(i+1, len(p.chain)-1)].First-1)
			if active {
				what = fmt.Sprintf("the newest records, from %d on", e.First)
			}
			p.problem(probMissing, e.First, path, -1, fmt.Errorf("segment is missing: %s are gone; restore the file from a backup, or run `opentrail fsck --repair` to record them as lost", what))
			continue
		}
		if active {
			if err := p.checkActive(e.First, path, size, visit); err != nil {
				return nil, err
			}
			continue
		}
		limit := p.chain[i+1].First - 1
		if err := p.checkSealed(e, path, size, limit, visit); err != nil {
			return nil, err
		}
	}
	if next != 0 {
		if err := p.continueChain(next, visit); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// continueChain deals with next, the oldest unlisted segment after the
// chain that holds records. A rotation writes the MANIFEST that names the
// new segment while records go into it, so a crash before that write
// leaves the new segment unlisted. It continues the chain when the listed
// active segment ends cleanly with record next-1 (a rotation truncates it
// to its records and syncs it before the new segment exists): then the
// listed active segment is sealed as it is, next becomes the active one,
// and Open writes the MANIFEST. Anything else is damage.
func (p *plan) continueChain(next uint64, visit func(Record)) error {
	last := &p.chain[len(p.chain)-1]
	path := segPath(p.dir, next)
	size := p.present[last.First]
	if len(p.rep.Problems) > 0 || p.rep.Next != next || p.recreate || p.torn != nil || p.zeroTail != nil || p.activeEnd != size {
		p.problem(probForeign, next, path, -1, fmt.Errorf("segment is not in %s (%d bytes) and does not continue its newest segment %s; move it out of the WAL directory or restore the MANIFEST it belongs with", manifestName, p.present[next], segPath(p.dir, last.First)))
		return nil
	}
	last.Size = size
	p.chain = append(p.chain, manEntry{First: next})
	p.rep.Segments = len(p.chain)
	p.writeManifest = true
	p.fix("list %s in %s as the active segment: a rotation started it before a crash, and the MANIFEST did not name it yet", path, manifestName)
	return p.checkActive(next, path, p.present[next], visit)
}

// checkSealed reads a sealed segment whole. Every damage is a problem.
func (p *plan) checkSealed(e manEntry, path string, size int64, limit uint64, visit func(Record)) error {
	b, err := p.read(path)
	if err != nil {
		return fmt.Errorf("check wal: %w", err)
	}
	ps := parseSegment(b, path, e.First, limit, visit)
	p.rep.Records += ps.records
	p.rep.Gaps = append(p.rep.Gaps, ps.gaps...)
	n := len(p.rep.Problems)
	for _, pc := range ps.damaged() {
		p.problem(probDamage, e.First, path, pc.off, describeDamage(pc, limit))
	}
	if len(ps.damaged()) == 0 && ps.next <= limit {
		p.problem(probDamage, e.First, path, size, fmt.Errorf("segment ends at record %d but the next segment starts at %d: records %d to %d are missing", ps.next-1, limit+1, ps.next, limit))
	}
	if len(p.rep.Problems) == n && size != e.Size {
		p.problem(probDamage, e.First, path, -1, fmt.Errorf("sealed segment is %d bytes, %s says %d", size, manifestName, e.Size))
	}
	return nil
}

// checkActive reads the newest segment: a torn tail is a fix, any other
// damage a problem.
func (p *plan) checkActive(first uint64, path string, size int64, visit func(Record)) error {
	b, err := p.read(path)
	if err != nil {
		return fmt.Errorf("check wal: %w", err)
	}
	if len(b) <= len(magic) && string(b) != magic {
		// A crash while the segment was being created: it holds no record.
		p.recreate = true
		p.rep.Next = first
		p.fix("write the header of %s again (it has %d bytes: a crash while it was created)", path, len(b))
		return nil
	}
	size = int64(len(b))
	ps := parseSegment(b, path, first, ^uint64(0), visit)
	p.rep.Records += ps.records
	p.rep.Gaps = append(p.rep.Gaps, ps.gaps...)
	p.rep.Next, p.activeEnd = ps.next, size
	for _, pc := range ps.damaged() {
		switch {
		case ps.badMagic && pc.off == 0:
			p.problem(probDamage, first, path, 0, errors.New("bad segment header: the header was fsynced before any record, so this is not a torn tail"))
		case pc.zero:
			p.zeroTail, p.activeEnd = &pc, pc.off
		case pc.tail:
			pc.end = pc.off + nonZeroLen(b[pc.off:pc.end]) // the zeros after need no keeping
			p.torn, p.activeEnd = &pc, pc.off
			p.fix("cut the torn tail of %s: %d bytes from offset %d (%v), no valid record after them; they were never acknowledged", path, pc.end-pc.off, pc.off, pc.err)
		default:
			p.problem(probDamage, first, path, pc.off, describeDamage(pc, 0))
		}
	}
	return nil
}

// holdsNoRecord reports whether the segment file at path, of size bytes,
// is at most its header followed by zeros: a segment a crash during
// rotation left before any record went in (the spare renamed, or a new
// file). A file it cannot read holds records as far as it knows.
func holdsNoRecord(path string, size int64) bool {
	if size <= int64(len(magic)) {
		return true
	}
	b, err := os.ReadFile(path)
	return err == nil && len(b) >= len(magic) && string(b[:len(magic)]) == magic && nonZeroLen(b[len(magic):]) == 0
}

// nonZeroLen is the length of b without its trailing zero bytes.
func nonZeroLen(b []byte) int64 {
	const chunk = 4096
	var zeros [chunk]byte
	n := len(b)
	for n >= chunk && bytes.Equal(b[n-chunk:n], zeros[:]) {
		n -= chunk
	}
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return int64(n)
}

// read reads the file at path whole into p.buf and returns its bytes,
// valid until the next read. parseSegment copies what it hands to visit.
func (p *plan) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := p.buf[:0]
	if st, err := f.Stat(); err == nil && cap(b) <= int(st.Size()) {
		// With room for a quarter more: the segments of a log differ
		// in size by a few records, and a buffer that fitted each one
		// exactly was allocated (and cleared) again for most of them,
		// 0.14 CPU s of a restart's 0.19 s WAL check (issue 13).
		b = make([]byte, 0, int(st.Size())+int(st.Size())/4+1)
	}
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, 1<<20)
		}
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			p.buf = b
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// describeDamage says what a damage piece holds and loses. limit is the
// last seq of a sealed segment (0 for the active one).
func describeDamage(pc piece, limit uint64) error {
	n := pc.end - pc.off
	switch {
	case pc.tail && limit > 0 && pc.first <= limit:
		return fmt.Errorf("%w; the %d bytes to the end cannot be read: records %d to %d are lost", pc.err, n, pc.first, limit)
	case pc.tail:
		return fmt.Errorf("%w; the %d bytes to the end cannot be read", pc.err, n)
	case pc.first > pc.last:
		return fmt.Errorf("%w; %d bytes up to offset %d cannot be read (no record lost: a valid record follows them)", pc.err, n, pc.end)
	case n == 0:
		return fmt.Errorf("records %d to %d are missing: the record here is %d", pc.first, pc.last, pc.last+1)
	default:
		return fmt.Errorf("%w; %d bytes up to offset %d cannot be read, and valid records follow them (record %d is next): records %d to %d are lost", pc.err, n, pc.end, pc.last+1, pc.first, pc.last)
	}
}

// isTempName reports whether name is a temporary file of
// fileutil.WriteFileAtomic replacing the MANIFEST or a segment.
func isTempName(name string) bool {
	base, _, ok := strings.Cut(strings.TrimPrefix(name, "."), ".tmp")
	if !ok || !strings.HasPrefix(name, ".") {
		return false
	}
	_, isSeg := parseSegName(base)
	return base == manifestName || isSeg
}

func parseSegName(name string) (uint64, bool) {
	if !strings.HasSuffix(name, segSuffix) || len(name) != segNameWidth+len(segSuffix) {
		return 0, false
	}
	digits := strings.TrimSuffix(name, segSuffix)
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}
