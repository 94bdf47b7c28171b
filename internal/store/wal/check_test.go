package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeLog writes n records (of varied sizes) to a new WAL in dir and closes
// it. It returns the entries, entry i having seq i+1.
func writeLog(t *testing.T, dir string, segSize int64, n int, rng *rand.Rand) []Entry {
	t.Helper()
	w := openT(t, dir, segSize)
	var es []Entry
	for i := range n {
		pad := ""
		if rng != nil {
			pad = strings.Repeat("x", rng.IntN(200))
		}
		e := Entry{Account: "123456789012", Region: "us-east-1", Raw: fmt.Appendf(nil, `{"eventID":"e%d","pad":"%s"}`, i, pad)}
		es = append(es, e)
		if _, err := w.Write([]Entry{e}); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return es
}

// snapshot returns every file under dir and its bytes.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[strings.TrimPrefix(path, dir)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type span struct {
	path     string
	off, end int64
}

// spans returns where each record of a healthy WAL lies.
func spans(t *testing.T, dir string) map[uint64]span {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]span{}
	for _, first := range segs {
		path := segPath(dir, first)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ps := parseSegment(b, path, first, ^uint64(0), nil)
		for _, pc := range ps.pieces {
			if pc.kind != pieceRecord {
				t.Fatalf("unexpected piece %+v in %s", pc, path)
			}
			out[pc.first] = span{path, pc.off, pc.end}
		}
	}
	return out
}

func wantRecords(t *testing.T, dir string, es []Entry, skip map[uint64]bool) {
	t.Helper()
	got := readAll(t, dir, 1)
	var want []Record
	for i, e := range es {
		if !skip[uint64(i+1)] {
			want = append(want, Record{Seq: uint64(i + 1), Entry: e})
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
}

var quiet = slog.New(slog.DiscardHandler)

func quietOptions() Options {
	o := DefaultOptions()
	o.Logger = quiet
	return o
}

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// The repro of issue 8 item 1.3: one flipped byte in the middle of the
// newest segment, with many valid records after it.
func TestDamageInNewestSegmentIsRefusedAndRepaired(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int64 // offset inside the record
	}{
		{"payload", headerSize + 10},
		{"len", 1},
		{"crc", 5},
		{"seq", 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			es := writeLog(t, dir, 1<<30, 2000, nil)
			sp := spans(t, dir)
			const victim = 700
			path := segPath(dir, 1)
			b, _ := os.ReadFile(path)
			b[sp[victim].off+tc.at] ^= 0x40
			os.WriteFile(path, b, 0o644)
			before := snapshot(t, dir)

			_, err := Open(dir, quietOptions())
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Segment != path || ce.Offset != sp[victim].off {
				t.Fatalf("Open = %v, want a CorruptionError in %s at %d", err, path, sp[victim].off)
			}
			if !strings.Contains(err.Error(), "fsck --repair") {
				t.Errorf("Open's error does not say what to do: %v", err)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Fatalf("a refused Open changed files (-before +after):\n%s", diff)
			}

			rep, err := Check(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Problems) != 1 || rep.Problems[0].Segment != path || rep.Problems[0].Offset != sp[victim].off {
				t.Fatalf("Check problems = %v, want one at %s:%d", rep.Problems, path, sp[victim].off)
			}
			if !strings.Contains(rep.Problems[0].Error(), "records 700 to 700 are lost") {
				t.Errorf("Check does not say what is lost: %v", rep.Problems[0])
			}
			if rep.Records != 1999 {
				t.Errorf("Check read %d records, want 1999", rep.Records)
			}

			res, err := Repair(dir, RepairOptions{Now: fixedNow, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			q := filepath.Join(dir, QuarantineDir, "00000000000000000001.wal.20260102T030405Z")
			want := []RepairAction{{Segment: path, Offset: sp[victim].off, Bytes: sp[victim].end - sp[victim].off,
				Lost: true, FirstLost: victim, LastLost: victim, Quarantine: q}}
			if diff := cmp.Diff(want, res.Actions, cmpIgnoreWhat); diff != "" {
				t.Fatalf("repair actions (-want +got):\n%s", diff)
			}
			if kept, _ := os.ReadFile(q); string(kept) != string(b) {
				t.Fatal("the quarantine does not hold the original segment")
			}
			if len(res.Report.Problems) != 0 || len(res.Report.Gaps) != 1 || res.Report.Gaps[0].First != victim || res.Report.Gaps[0].Quarantine != filepath.Join(QuarantineDir, filepath.Base(q)) {
				t.Fatalf("report after repair: %+v", res.Report)
			}
			wantRecords(t, dir, es, map[uint64]bool{victim: true})

			w := openT(t, dir, 1<<30)
			if w.NextSeq() != 2001 {
				t.Fatalf("NextSeq after repair = %d, want 2001", w.NextSeq())
			}
			w.Write(entries(2000, 1))
			w.Close()
			if got := readAll(t, dir, 699); len(got) != 1302 || got[0].Seq != 699 || got[1].Seq != 701 {
				t.Fatalf("reading across the gap: %d records starting %v", len(got), got[:2])
			}
		})
	}
}

var cmpIgnoreWhat = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".What" }, cmp.Ignore())

// A power loss during a group write can leave valid records after a torn
// one (later pages durable, earlier not). Open cannot tell that from
// corruption and refuses; repair keeps the readable records.
func TestTornGroupWithLaterPagesIsRefused(t *testing.T) {
	dir := t.TempDir()
	es := writeLog(t, dir, 1<<30, 300, nil)
	sp := spans(t, dir)
	path := segPath(dir, 1)
	b, _ := os.ReadFile(path)
	// Zero records 290 and 291 (pages of the last group not written).
	clear(b[sp[290].off:sp[291].end])
	os.WriteFile(path, b, 0o644)
	before := snapshot(t, dir)
	if _, err := Open(dir, quietOptions()); err == nil {
		t.Fatal("Open accepted valid records after a torn one")
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Fatalf("a refused Open changed files:\n%s", diff)
	}
	res, err := Repair(dir, RepairOptions{Now: fixedNow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 1 || res.Actions[0].FirstLost != 290 || res.Actions[0].LastLost != 291 {
		t.Fatalf("actions %+v", res.Actions)
	}
	wantRecords(t, dir, es, map[uint64]bool{290: true, 291: true})
}

// Zeros to the end of the newest segment are its end (its preallocated
// space, or a write that never reached the disk): nothing to cut or report.
// Anything else after the last valid record is a torn tail, cut.
func TestTornTailVariantsAreCut(t *testing.T) {
	for _, tc := range []struct {
		name       string
		damage     func(b []byte, sp map[uint64]span) []byte
		next       uint64
		quarantine bool
		zeros      bool
	}{
		{"partial last record", func(b []byte, sp map[uint64]span) []byte { return b[:sp[50].end-3] }, 50, true, false},
		{"partial last record, then zeros", func(b []byte, sp map[uint64]span) []byte {
			return append(b[:sp[50].end-3], make([]byte, 1<<16)...)
		}, 50, true, false},
		{"last header only", func(b []byte, sp map[uint64]span) []byte { return b[:sp[50].off+headerSize] }, 50, true, false},
		{"zeros after the end", func(b []byte, _ map[uint64]span) []byte { return append(b, make([]byte, 4096)...) }, 51, false, true},
		{"last record zeroed", func(b []byte, sp map[uint64]span) []byte { clear(b[sp[50].off:]); return b }, 50, false, true},
		{"garbage after the end", func(b []byte, _ map[uint64]span) []byte {
			return append(b, "\x30\x00\x00\x00garbage that is not a record"...)
		}, 51, true, false},
		{"last record flipped", func(b []byte, sp map[uint64]span) []byte { b[sp[50].off+20] ^= 1; return b }, 50, true, false},
		{"stale record from an earlier seq after the end", func(b []byte, sp map[uint64]span) []byte {
			return append(append(b, 0, 0, 0), b[sp[10].off:sp[10].end]...)
		}, 51, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			es := writeLog(t, dir, 1<<30, 50, nil)
			sp := spans(t, dir)
			path := segPath(dir, 1)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, tc.damage(b, sp), 0o644)
			rep, err := Check(dir, nil)
			switch {
			case tc.zeros && (err != nil || len(rep.Problems) != 0 || len(rep.Fixes) != 0 || rep.Next != tc.next):
				t.Fatalf("Check = %+v, %v; want nothing to fix and next %d", rep, err, tc.next)
			case !tc.zeros && (err != nil || len(rep.Problems) != 0 || len(rep.Fixes) != 1 || !strings.Contains(rep.Fixes[0], "torn tail")):
				t.Fatalf("Check = %+v, %v; want one torn-tail fix", rep, err)
			}
			w := openT(t, dir, 1<<30)
			if w.NextSeq() != tc.next || (w.Repaired() == 0) != tc.zeros {
				t.Fatalf("NextSeq = %d, Repaired = %d; want %d and a cut: %v", w.NextSeq(), w.Repaired(), tc.next, !tc.zeros)
			}
			// The log goes on after its end, over the zeros if any.
			more := []Entry{{Account: "111122223333", Region: "eu-west-1", Raw: []byte(`{"eventID":"after"}`)}}
			if _, err := w.Write(more); err != nil {
				t.Fatal(err)
			}
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			kept, _ := filepath.Glob(filepath.Join(dir, QuarantineDir, "*.tail-*"))
			if tc.quarantine != (len(kept) == 1) {
				t.Fatalf("quarantine %v, want kept=%v", kept, tc.quarantine)
			}
			if len(kept) == 1 {
				if q, _ := os.ReadFile(kept[0]); len(q) > 100 {
					t.Fatalf("quarantined %d bytes: the zeros after a torn record need no keeping", len(q))
				}
			}
			wantRecords(t, dir, append(slices.Clone(es[:tc.next-1]), more...), nil)
		})
	}
}

func TestDeletedSegment(t *testing.T) {
	for _, tc := range []struct {
		name  string
		which func(segs []uint64) int
	}{
		{"first", func([]uint64) int { return 0 }},
		{"middle", func(segs []uint64) int { return len(segs) / 2 }},
		{"newest", func(segs []uint64) int { return len(segs) - 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			es := writeLog(t, dir, 600, 60, nil)
			segs, _ := listSegments(dir)
			if len(segs) < 4 {
				t.Fatalf("segments %v", segs)
			}
			i := tc.which(segs)
			gone := segPath(dir, segs[i])
			os.Remove(gone)
			before := snapshot(t, dir)
			_, err := Open(dir, quietOptions())
			var ce *CorruptionError
			if !errors.As(err, &ce) || ce.Segment != gone || !strings.Contains(err.Error(), "segment is missing") {
				t.Fatalf("Open = %v, want the missing segment %s", err, gone)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Fatalf("a refused Open changed files:\n%s", diff)
			}
			rep, err := Check(dir, nil)
			if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Segment != gone || rep.Problems[0].Offset != -1 {
				t.Fatalf("Check = %+v, %v", rep, err)
			}
			lost := map[uint64]bool{}
			last := uint64(60)
			if i+1 < len(segs) {
				last = segs[i+1] - 1
			}
			for s := segs[i]; s <= last; s++ {
				lost[s] = true
			}
			// The index had seen every record (the newest segment's end
			// is known only from it).
			res, err := Repair(dir, RepairOptions{Seen: 60, Now: fixedNow, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Actions) != 1 || res.Actions[0].FirstLost != segs[i] || res.Actions[0].LastLost != last {
				t.Fatalf("actions %+v, want records %d to %d lost", res.Actions, segs[i], last)
			}
			wantRecords(t, dir, es, lost)
			w := openT(t, dir, 600)
			defer w.Close()
			if w.NextSeq() != 61 || w.FirstSeq() != 1 {
				t.Fatalf("after repair: FirstSeq %d NextSeq %d", w.FirstSeq(), w.NextSeq())
			}
		})
	}
}

// A crash between the steps of a rotation or a truncation leaves files the
// MANIFEST does not name; Open settles them by itself.
func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	es := writeLog(t, dir, 600, 60, nil)
	segs, _ := listSegments(dir)
	m, err := readManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Truncation: the MANIFEST dropped the first segment, the file stayed.
	if err := writeManifest(dir, m.Segments[1:]); err != nil {
		t.Fatal(err)
	}
	// Rotation: a new segment with only its header, not yet listed.
	os.WriteFile(segPath(dir, 61), []byte(magic), 0o644)
	// A replaced MANIFEST's temporary file, and an unrelated file.
	os.WriteFile(filepath.Join(dir, ".MANIFEST.tmp123"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dir, ".00000000000000000001.wal.tmp77"), []byte(magic), 0o644) // a repair's
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o644)
	rep, err := Check(dir, nil)
	if err != nil || len(rep.Problems) != 0 || len(rep.Fixes) != 4 || len(rep.Notes) != 1 {
		t.Fatalf("Check = %+v, %v; want 4 fixes and a note", rep, err)
	}
	w := openT(t, dir, 600)
	if w.FirstSeq() != segs[1] || w.NextSeq() != 61 {
		t.Fatalf("FirstSeq %d NextSeq %d", w.FirstSeq(), w.NextSeq())
	}
	w.Close()
	for _, f := range []string{segPath(dir, 1), segPath(dir, 61), filepath.Join(dir, ".MANIFEST.tmp123"), filepath.Join(dir, ".00000000000000000001.wal.tmp77")} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Error("Open removed a file that is not its own")
	}
	gone := map[uint64]bool{}
	for s := uint64(1); s < segs[1]; s++ {
		gone[s] = true
	}
	wantRecords(t, dir, es, gone)
}

func TestProblemsOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		damage     func(t *testing.T, dir string, segs []uint64)
		want       string
		repairable bool
	}{
		{"sealed segment grew", func(t *testing.T, dir string, segs []uint64) {
			f, _ := os.OpenFile(segPath(dir, segs[1]), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("x"))
			f.Close()
		}, "cannot be read", true},
		{"sealed segment cut at a record boundary", func(t *testing.T, dir string, segs []uint64) {
			path := segPath(dir, segs[1])
			b, _ := os.ReadFile(path)
			ps := parseSegment(b, path, segs[1], ^uint64(0), nil)
			os.Truncate(path, ps.pieces[len(ps.pieces)-1].off)
		}, "are missing", true},
		{"sealed segment cut mid-record", func(t *testing.T, dir string, segs []uint64) {
			path := segPath(dir, segs[1])
			st, _ := os.Stat(path)
			os.Truncate(path, st.Size()-5)
		}, "are lost", true},
		{"flip in a sealed segment", func(t *testing.T, dir string, segs []uint64) {
			path := segPath(dir, segs[0])
			b, _ := os.ReadFile(path)
			b[len(magic)+headerSize+4] ^= 1
			os.WriteFile(path, b, 0o644)
		}, "crc mismatch", true},
		{"bad header of the newest segment", func(t *testing.T, dir string, segs []uint64) {
			path := segPath(dir, segs[len(segs)-1])
			b, _ := os.ReadFile(path)
			b[2] ^= 1
			os.WriteFile(path, b, 0o644)
		}, "bad segment header", true},
		{"MANIFEST unreadable", func(t *testing.T, dir string, segs []uint64) {
			os.WriteFile(filepath.Join(dir, manifestName), []byte("{not json"), 0o644)
		}, "MANIFEST does not parse", true},
		{"stray file named like a segment", func(t *testing.T, dir string, segs []uint64) {
			os.WriteFile(filepath.Join(dir, "0001.wal"), []byte(magic), 0o644)
		}, "named like a WAL segment", false},
		{"unlisted segment with records", func(t *testing.T, dir string, segs []uint64) {
			b, _ := os.ReadFile(segPath(dir, segs[0]))
			os.WriteFile(segPath(dir, 1000), b, 0o644)
		}, "not in MANIFEST", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			es := writeLog(t, dir, 600, 60, nil)
			segs, _ := listSegments(dir)
			tc.damage(t, dir, segs)
			before := snapshot(t, dir)
			_, err := Open(dir, quietOptions())
			var ce *CorruptionError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want a CorruptionError saying %q", err, tc.want)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Fatalf("a refused Open changed files:\n%s", diff)
			}
			rep, err := Check(dir, nil)
			if err != nil || len(rep.Problems) == 0 || rep.Problems[0].Error() != ce.Error() {
				t.Fatalf("Check = %+v, %v; want the problem Open refused on: %v", rep, err, ce)
			}
			res, err := Repair(dir, RepairOptions{Seen: 60, Now: fixedNow, Logger: quiet})
			if !tc.repairable {
				if !errors.Is(err, ErrNotRepairable) {
					t.Fatalf("Repair = %v, want ErrNotRepairable", err)
				}
				if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
					t.Fatalf("a refused Repair changed files:\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Report.Problems) != 0 {
				t.Fatalf("problems after repair: %v", res.Report.Problems)
			}
			got := readAll(t, dir, 1)
			byseq := map[uint64]Entry{}
			for _, r := range got {
				byseq[r.Seq] = r.Entry
			}
			for i, e := range es {
				if g, ok := byseq[uint64(i+1)]; ok && !cmp.Equal(g, e) {
					t.Fatalf("record %d changed", i+1)
				}
			}
			w := openT(t, dir, 600)
			defer w.Close()
			if w.NextSeq() != 61 {
				t.Fatalf("NextSeq %d after repair", w.NextSeq())
			}
		})
	}
}

// A log written before the MANIFEST existed gets one on open, once its
// chain has been read whole; a gap in its chain is refused.
func TestLogWithoutManifest(t *testing.T) {
	dir := t.TempDir()
	es := writeLog(t, dir, 600, 60, nil)
	os.Remove(filepath.Join(dir, manifestName))
	want, _ := listSegments(dir)
	w := openT(t, dir, 600)
	w.Close()
	m, err := readManifest(dir)
	if err != nil || len(m.Segments) != len(want) {
		t.Fatalf("MANIFEST %+v, %v", m, err)
	}
	wantRecords(t, dir, es, nil)

	os.Remove(filepath.Join(dir, manifestName))
	os.Remove(segPath(dir, want[1]))
	if _, err := Open(dir, quietOptions()); err == nil || !strings.Contains(err.Error(), "are missing") {
		t.Fatalf("Open = %v, want the gap in the chain", err)
	}
}

// The randomized repro: damage one place of a multi-segment log; Open
// either keeps every record or refuses without changing a byte; repair
// keeps every record whose bytes were not touched.
func TestRandomDamage(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 60
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 8))
			dir := t.TempDir()
			n := 20 + rng.IntN(150)
			es := writeLog(t, dir, int64(800+rng.IntN(3000)), n, rng)
			sp := spans(t, dir)
			segs, _ := listSegments(dir)
			seg := segs[rng.IntN(len(segs))]
			newest := seg == segs[len(segs)-1]
			path := segPath(dir, seg)
			orig, _ := os.ReadFile(path)
			b := append([]byte(nil), orig...)
			var what string
			switch k := rng.IntN(3); {
			case k == 0 && len(b) > 0:
				at := rng.IntN(len(b))
				b[at] ^= byte(1 + rng.IntN(255))
				what = fmt.Sprintf("flip at %d", at)
			case k == 1:
				at := rng.IntN(len(b))
				b = b[:at]
				what = fmt.Sprintf("truncate at %d", at)
			default:
				at := rng.IntN(len(b))
				end := min(len(b), at+1+rng.IntN(300))
				clear(b[at:end])
				what = fmt.Sprintf("zero %d..%d", at, end)
			}
			os.WriteFile(path, b, 0o644)
			// A record is touched if one of its bytes changed or is gone.
			touched := map[uint64]bool{}
			firstTouched := uint64(0)
			for s, r := range sp {
				if r.path != path {
					continue
				}
				if r.end > int64(len(b)) || string(b[r.off:r.end]) != string(orig[r.off:r.end]) {
					touched[s] = true
					if firstTouched == 0 || s < firstTouched {
						firstTouched = s
					}
				}
			}
			headerTouched := len(b) < len(magic) || string(b[:len(magic)]) != magic
			t.Logf("%d records, segments %v; %s in %s; touched %d records", n, segs, what, filepath.Base(path), len(touched))
			before := snapshot(t, dir)

			w, err := Open(dir, quietOptions())
			if err != nil {
				var ce *CorruptionError
				if !errors.As(err, &ce) {
					t.Fatalf("Open = %v, not a CorruptionError", err)
				}
				if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
					t.Fatalf("a refused Open changed files:\n%s", diff)
				}
				if len(touched) == 0 && !headerTouched && len(b) == len(orig) {
					t.Fatalf("Open refused a log whose records are all intact: %v", err)
				}
			} else {
				next := w.NextSeq()
				w.Close()
				// Accepted: only a torn tail of the newest segment was cut.
				if len(touched) > 0 {
					if !newest {
						t.Fatalf("Open accepted damage to a sealed segment")
					}
					for s := firstTouched; s <= uint64(n); s++ {
						if sp[s].path == path && !touched[s] {
							t.Fatalf("Open cut record %d, which was intact", s)
						}
					}
					if next != firstTouched {
						t.Fatalf("NextSeq %d, want %d", next, firstTouched)
					}
				} else if next != uint64(n+1) {
					t.Fatalf("NextSeq %d with no record touched", next)
				}
				skip := map[uint64]bool{}
				for s := next; s <= uint64(n); s++ {
					skip[s] = true
				}
				wantRecords(t, dir, es, skip)
			}

			res, err := Repair(dir, RepairOptions{Seen: uint64(n), Now: fixedNow, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Report.Problems) > 0 {
				t.Fatalf("problems after repair: %v", res.Report.Problems)
			}
			wantRecords(t, dir, es, touched)
			w = openT(t, dir, 1000)
			defer w.Close()
			if w.NextSeq() != uint64(n+1) {
				t.Fatalf("NextSeq %d after repair, want %d", w.NextSeq(), n+1)
			}
		})
	}
}

func FuzzRepair(f *testing.F) {
	seed := seedSegment(f, 5)
	f.Add(seed, uint16(40), byte(1))
	f.Add(seed, uint16(0), byte(0xff))
	f.Fuzz(func(t *testing.T, data []byte, at uint16, x byte) {
		if int(at) < len(data) {
			data = append([]byte(nil), data...)
			data[at] ^= x
		}
		d := t.TempDir()
		os.WriteFile(segPath(d, 1), data, 0o644)
		// Whatever the bytes, repair ends with a log that opens and reads.
		res, err := Repair(d, RepairOptions{Now: fixedNow, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Report.Problems) > 0 {
			t.Fatalf("problems after repair: %v", res.Report.Problems)
		}
		w, err := Open(d, quietOptions())
		if err != nil {
			t.Fatal(err)
		}
		next := w.NextSeq()
		w.Close()
		got := readAll(t, d, 1)
		if len(got) > 0 && got[len(got)-1].Seq >= next {
			t.Fatalf("record %d at or after NextSeq %d", got[len(got)-1].Seq, next)
		}
	})
}

// FuzzSalvage checks the repair of one segment's bytes, in memory: the
// result parses without damage, keeps every valid record byte for byte, and
// accounts for every sequence number up to the limit.
func FuzzSalvage(f *testing.F) {
	seed := seedSegment(f, 5)
	f.Add(seed, false)
	f.Add(seed[:60], true)
	f.Add([]byte(magic), true)
	f.Fuzz(func(t *testing.T, data []byte, active bool) {
		limit, seen := uint64(8), uint64(0)
		if active {
			limit, seen = ^uint64(0), 3
		}
		in := parseSegment(data, "s", 1, limit, nil)
		out, _, _ := salvage(data, "s", 1, limit, active, seen, "q", fixedNow())
		got := parseSegment(out, "s", 1, limit, nil)
		if d := got.damaged(); len(d) > 0 || got.badMagic {
			t.Fatalf("salvaged segment is damaged: %+v", d)
		}
		var kept []string
		for _, pc := range in.pieces {
			if pc.kind != pieceDamage {
				kept = append(kept, string(data[pc.off:pc.end]))
			}
		}
		j := 0
		for _, pc := range got.pieces {
			if j < len(kept) && string(out[pc.off:pc.end]) == kept[j] {
				j++
			}
		}
		if j != len(kept) {
			t.Fatalf("valid record %d of %d not kept byte for byte", j, len(kept))
		}
		switch {
		case !active && got.next != limit+1:
			t.Fatalf("sealed segment accounts up to %d, want %d", got.next-1, limit)
		case active && got.next < max(in.next, seen+1):
			t.Fatalf("active segment ends at %d, before %d", got.next, max(in.next, seen+1))
		}
	})
}

// seedSegment returns the bytes of a segment holding n records.
func seedSegment(f *testing.F, n int) []byte {
	dir := f.TempDir()
	w, err := Open(dir, quietOptions())
	if err != nil {
		f.Fatal(err)
	}
	w.Write(entries(0, n))
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(segPath(dir, 1))
	if err != nil {
		f.Fatal(err)
	}
	return seed
}
