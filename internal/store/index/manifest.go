package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// manifest is the MANIFEST file (docs/format/index.md). Segments and
// Quarantined are replaced, never changed in place, so a copy of the struct
// may share them.
type manifest struct {
	Version     int                  `json:"version"`
	Checkpoint  uint64               `json:"checkpoint"`
	NextFile    uint64               `json:"nextFile"`
	Sweeps      sweeps               `json:"sweeps,omitempty"`
	Segments    []string             `json:"segments"`
	Quarantined []QuarantinedSegment `json:"quarantined,omitempty"`
	// SweptBefore is version 1's retention watermark, read only.
	SweptBefore int64 `json:"sweptBefore,omitempty"`
}

// QuarantinedSegment is a damaged segment moved to the index's quarantine
// directory: the events in First..Last it held are missing from event
// history unless RebuiltAs is set.
type QuarantinedSegment struct {
	File   string    `json:"file"` // its name in quarantine/
	First  uint64    `json:"first"`
	Last   uint64    `json:"last"` // First and Last are 0 when the range is unknown
	Events int       `json:"events"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	// RebuiltAs names the segment rebuilt from the WAL in its place.
	RebuiltAs string `json:"rebuiltAs,omitempty"`
}

// missing reports whether the entry's events are missing from event
// history (not rebuilt).
func (q QuarantinedSegment) missing() bool { return q.RebuiltAs == "" }

// knownRange reports whether the entry's sequence range is known.
func (q QuarantinedSegment) knownRange() bool { return q.First != 0 && q.First <= q.Last }

// quarantineDir is the subdirectory damaged segments are moved to.
const quarantineDir = "quarantine"

// parseManifest parses and checks a MANIFEST. A version-1 MANIFEST's
// watermark becomes one sweep at its checkpoint; sweeps are normalized.
func parseManifest(b []byte) (manifest, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest{}, err
	}
	switch m.Version {
	case 1:
		if m.Sweeps != nil || m.Quarantined != nil {
			return manifest{}, errors.New("version 1 with version 2 fields")
		}
		if m.SweptBefore != 0 {
			m.Sweeps = sweeps{{Seq: m.Checkpoint, Before: m.SweptBefore}}
		}
		m.SweptBefore = 0
	case manifestVersion:
		if m.SweptBefore != 0 {
			return manifest{}, errors.New("version 2 with sweptBefore")
		}
	default:
		return manifest{}, fmt.Errorf("unsupported version %d", m.Version)
	}
	m.Version = manifestVersion
	m.Sweeps = normalizeSweeps(m.Sweeps)
	seen := map[string]bool{}
	for _, name := range m.Segments {
		num, err := segNum(name)
		if err != nil {
			return manifest{}, err
		}
		if seen[name] {
			return manifest{}, fmt.Errorf("segment %s listed twice", name)
		}
		seen[name] = true
		m.NextFile = max(m.NextFile, num+1)
	}
	qseen := map[string]bool{}
	for _, q := range m.Quarantined {
		if !validFileName(q.File) {
			return manifest{}, fmt.Errorf("bad quarantined file name %q", q.File)
		}
		if qseen[q.File] {
			return manifest{}, fmt.Errorf("quarantined file %s listed twice", q.File)
		}
		qseen[q.File] = true
		if q.First > q.Last || (q.First == 0) != (q.Last == 0) {
			return manifest{}, fmt.Errorf("quarantined file %s: sequence range %d..%d", q.File, q.First, q.Last)
		}
		if q.Events < 0 {
			return manifest{}, fmt.Errorf("quarantined file %s: %d events", q.File, q.Events)
		}
		if q.RebuiltAs != "" {
			if _, err := segNum(q.RebuiltAs); err != nil {
				return manifest{}, fmt.Errorf("quarantined file %s: rebuilt as %w", q.File, err)
			}
		}
		if num, err := segNum(quarantineBase(q.File)); err == nil {
			m.NextFile = max(m.NextFile, num+1)
		}
	}
	m.NextFile = max(m.NextFile, 1)
	if _, err := json.Marshal(m); err != nil {
		return manifest{}, err // a time it could not write back
	}
	return m, nil
}

// validFileName accepts a plain file name: no directory, not "." or "..".
func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`) && filepath.Base(name) == name && len(name) <= 255
}

// quarantineBase strips the numeric suffix a quarantined file gets when its
// name was taken: "x.seg.2" is "x.seg".
func quarantineBase(file string) string {
	i := strings.LastIndex(file, ".seg.")
	if i < 0 {
		return file
	}
	if _, err := strconv.ParseUint(file[i+len(".seg."):], 10, 32); err != nil {
		return file
	}
	return file[:i+len(".seg")]
}

func segName(num uint64) string { return fmt.Sprintf("%016x.seg", num) }

func segNum(name string) (uint64, error) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || hex == "" || len(hex) > 16 {
		return 0, fmt.Errorf("bad segment name %q", name)
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || n == math.MaxUint64 {
		return 0, fmt.Errorf("bad segment name %q", name)
	}
	return n, nil
}

// sweep is one retention sweep: it deleted the events applied up to Seq
// whose time (Unix seconds) is before Before.
type sweep struct {
	Seq    uint64 `json:"seq"`
	Before int64  `json:"before"`
}

// sweeps is a normalized list: Seq ascending, Before strictly descending.
// It is never changed in place.
type sweeps []sweep

// noCut is cut's answer when no sweep can delete an event.
const noCut = math.MinInt64

// normalizeSweeps returns the sweeps that no other one subsumes (one with
// a Seq and a Before both at least as large), in normalized order.
func normalizeSweeps(in []sweep) sweeps {
	if len(in) == 0 {
		return nil
	}
	s := slices.Clone(in)
	slices.SortFunc(s, func(a, b sweep) int {
		if c := cmpU64(a.Seq, b.Seq); c != 0 {
			return c
		}
		return cmpI64(a.Before, b.Before)
	})
	// From the largest Seq down, keep a sweep only if its Before exceeds
	// every kept one's.
	out := make(sweeps, 0, len(s))
	best := int64(noCut)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Before > best {
			out = append(out, s[i])
			best = s[i].Before
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Reverse(out)
	return out
}

// add returns the list with sw added, normalized.
func (ss sweeps) add(sw sweep) sweeps {
	return normalizeSweeps(append(slices.Clone([]sweep(ss)), sw))
}

// cut returns the time before which the event with sequence number seq is
// deleted: the Before of the first sweep with Seq >= seq, or noCut.
func (ss sweeps) cut(seq uint64) int64 {
	switch {
	case len(ss) == 0:
		return noCut
	case len(ss) == 1:
		if seq <= ss[0].Seq {
			return ss[0].Before
		}
		return noCut
	}
	i := sort.Search(len(ss), func(i int) bool { return ss[i].Seq >= seq })
	if i == len(ss) {
		return noCut
	}
	return ss[i].Before
}

// deleted reports whether a sweep deleted the event at time t with
// sequence number seq.
func (ss sweeps) deleted(t int64, seq uint64) bool { return t < ss.cut(seq) }

// filter tells which entries of one source (a memtable or a segment with
// sequence range first..last) a reader wants: not before lo, which is the
// query's start or cut(last), before which every entry is deleted; entries
// at or after check, cut(first), are never deleted, and those in between
// are checked one by one.
type filter struct {
	lo, check int64
	sw        sweeps
}

func newFilter(sw sweeps, start int64, first, last uint64) filter {
	return filter{lo: max(start, sw.cut(last)), check: sw.cut(first), sw: sw}
}

// keep reports whether an entry at or after lo is wanted.
func (f *filter) keep(p pos) bool { return p.t >= f.check || !f.sw.deleted(p.t, p.s) }

// visible reports whether an entry is wanted.
func (f *filter) visible(p pos) bool { return p.t >= f.lo && f.keep(p) }

func cmpI64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ManifestError means the MANIFEST does not describe the segment files of
// the index: it is missing or does not parse while segments exist, it names
// a segment that is missing, or a segment it does not name holds events no
// listed segment has (or cannot be read). Open changed nothing. The remedy
// is `opentrail fsck --repair`, which rebuilds the MANIFEST from the
// segments (Rebuild).
type ManifestError struct {
	Dir    string
	File   string // the file concerned, if one
	Reason string
	Err    error
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("index %s: %s; nothing was changed: run `opentrail fsck --repair` (with the server stopped) to rebuild the index MANIFEST from its segments", e.Dir, e.Reason)
}

func (e *ManifestError) Unwrap() error { return e.Err }
