package index

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var quietLog = slog.New(slog.DiscardHandler)

func TestRebuild(t *testing.T) {
	t.Run("missing MANIFEST, an interrupted merge", func(t *testing.T) {
		dir, items := threeSegments(t)
		m := readManifest(t, dir)
		merged := mergeCopy(t, dir, m.Segments[:2], 7)
		if err := os.Remove(filepath.Join(dir, manifestName)); err != nil {
			t.Fatal(err)
		}
		rep, err := Rebuild(dir, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		want := RebuildReport{
			Used: []SegmentInfo{{merged, 1, 60, 60}, {m.Segments[2], 61, 90, 30}},
			Skipped: []SkippedSegment{
				{SegmentInfo: SegmentInfo{m.Segments[1], 31, 60, 30}, Reason: "overlaps newer [0000000000000007.seg], which hold its events (the next start deletes it)"},
				{SegmentInfo: SegmentInfo{m.Segments[0], 1, 30, 30}, Reason: "overlaps newer [0000000000000007.seg], which hold its events (the next start deletes it)"},
			},
			Covered:    []SeqRange{{1, 90}},
			Checkpoint: 90,
		}
		if diff := cmp.Diff(want, rep); diff != "" {
			t.Fatalf("report (-want +got):\n%s", diff)
		}
		ix := open(t, dir)
		if n, err := ix.Count(); err != nil || n != 90 {
			t.Fatalf("Count = %d, %v", n, err)
		}
		hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
		if err != nil || !sameStrings(hitIDs(t, hits), idsOf(items, "us-east-1", KindManagement)) {
			t.Fatalf("lookup after the rebuild: %d hits, %v", len(hits), err)
		}
		if diff := cmp.Diff([]string{m.Segments[2], merged, manifestName}, dirListing(t, dir)); diff != "" {
			t.Errorf("files after Open (-want +got):\n%s", diff)
		}
	})
	t.Run("a damaged segment is quarantined", func(t *testing.T) {
		dir, _ := threeSegments(t)
		m := readManifest(t, dir)
		if err := os.Remove(filepath.Join(dir, manifestName)); err != nil {
			t.Fatal(err)
		}
		sg := inspect(t, filepath.Join(dir, m.Segments[1]))
		flipByte(t, sg.path, segBlocks(t, sg)[0].off+4) // caught by the whole-segment read only
		rep, err := Rebuild(dir, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Skipped) != 1 || !rep.Skipped[0].Quarantined || rep.Skipped[0].First != 31 || !strings.Contains(rep.Skipped[0].Reason, "damaged") {
			t.Fatalf("skipped %+v", rep.Skipped)
		}
		if diff := cmp.Diff([]SeqRange{{31, 60}}, rep.Gaps); diff != "" {
			t.Fatalf("gaps (-want +got):\n%s", diff)
		}
		ix := open(t, dir)
		vr := ix.Verify()
		if vr.Missing != 30 || len(vr.Problems) != 1 || !strings.Contains(vr.Problems[0], "31..60") {
			t.Fatalf("Verify: %+v", vr)
		}
		if !exists(t, filepath.Join(dir, quarantineDir, m.Segments[1])) {
			t.Fatal("the damaged segment is not in quarantine/")
		}
	})
	t.Run("a MANIFEST that parses keeps its sweeps", func(t *testing.T) {
		dir, _ := threeSegments(t)
		m := readManifest(t, dir)
		m.Sweeps = sweeps{{Seq: 90, Before: t0.Unix() + 10}}
		m.Segments = append(m.Segments, "00000000000000aa.seg") // listed, missing
		writeManifestFile(t, dir, m)
		rep, err := Rebuild(dir, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Kept || !slices.Equal(rep.Missing, []string{"00000000000000aa.seg"}) {
			t.Fatalf("report %+v", rep)
		}
		ix := open(t, dir)
		if n, err := ix.Count(); err != nil || n != 80 {
			t.Fatalf("Count = %d, %v; want 80 (the sweep kept)", n, err)
		}
	})
	t.Run("the checkpoint follows the WAL", func(t *testing.T) {
		dir, _ := threeSegments(t)
		m := readManifest(t, dir)
		if err := os.Remove(filepath.Join(dir, m.Segments[2])); err != nil { // lost
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, manifestName)); err != nil {
			t.Fatal(err)
		}
		rep, err := RebuildWith(dir, RebuildOptions{Logger: quietLog, LogFirst: 101})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Checkpoint != 100 || !slices.Equal(rep.Gaps, []SeqRange{{61, 100}}) {
			t.Fatalf("checkpoint %d, gaps %v; want 100 and [61..100]", rep.Checkpoint, rep.Gaps)
		}
		ix := open(t, dir)
		if ix.Checkpoint() != 100 {
			t.Fatalf("index checkpoint %d", ix.Checkpoint())
		}
	})
}

// fuzzPool is the events fuzzed segment files hold: event i at seq i.
var fuzzPool []Item

// FuzzRebuild builds a directory of up to six segments with arbitrary
// file numbers and sequence ranges (overlapping or not, some damaged), with
// no MANIFEST or a garbled one, and checks Rebuild: it lists segments that
// do not overlap, moves what it cannot list to quarantine/ rather than
// deleting it, accounts for every event of every sound file, and leaves a
// directory Open accepts and serves.
func FuzzRebuild(f *testing.F) {
	if fuzzPool == nil {
		fuzzPool = richItems(f, 1, 48, 0)
	}
	f.Add([]byte{1, 1, 10, 2, 11, 10, 3, 1, 20}, uint8(0))        // a merge and an input
	f.Add([]byte{1, 1, 10, 2, 5, 10, 3, 30, 3}, uint8(1))         // overlapping, not nested
	f.Add([]byte{0x81, 1, 10, 2, 11, 10, 7, 1, 25}, uint8(2))     // a damaged segment
	f.Add([]byte{5, 20, 5, 4, 1, 40, 9, 3, 3, 9, 3, 3}, uint8(3)) // the same file number twice
	f.Fuzz(func(t *testing.T, spec []byte, flags uint8) {
		if len(spec) > 18 {
			spec = spec[:18]
		}
		dir := t.TempDir()
		rec := plainCodec(t)
		enc, err := zstdEncoder()
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		type file struct {
			name        string
			first, last uint64
			damaged     bool
		}
		var files []file
		for i := 0; i+2 < len(spec); i += 3 {
			num := uint64(spec[i]&0x3f) + 1
			first := uint64(spec[i+1]%40) + 1
			last := min(first+uint64(spec[i+2]%16), uint64(len(fuzzPool)))
			fl := file{segName(num), first, last, spec[i]&0x80 != 0}
			if slices.ContainsFunc(files, func(o file) bool { return o.name == fl.name }) {
				continue
			}
			m := newMemtable(rec, enc, nil)
			for s := first; s <= last; s++ {
				m.add(s, fuzzPool[s-1].Event, nil)
			}
			path := filepath.Join(dir, fl.name)
			if _, err := writeMemtable(m, path, enc, nil, first, last); err != nil {
				t.Fatal(err)
			}
			if fl.damaged {
				editFile(t, path, func(b []byte) []byte { b[len(b)-footerLen-1] ^= 1; return b })
			}
			files = append(files, fl)
		}
		switch flags % 3 {
		case 1:
			os.WriteFile(filepath.Join(dir, manifestName), []byte(`{"version":2,"segm`), 0o644)
		case 2:
			os.WriteFile(filepath.Join(dir, manifestName), []byte(`{"version":2,"checkpoint":3,"nextFile":2,"sweeps":[{"seq":3,"before":1767323145}],"segments":["0000000000000001.seg"]}`), 0o644)
		}
		rep, err := Rebuild(dir, quietLog)
		if err != nil {
			t.Fatal(err)
		}
		// Nothing deleted; every file used or skipped.
		for _, fl := range files {
			q := exists(t, filepath.Join(dir, quarantineDir, fl.name))
			if !exists(t, filepath.Join(dir, fl.name)) && !q {
				t.Fatalf("%s is gone", fl.name)
			}
			used := slices.ContainsFunc(rep.Used, func(s SegmentInfo) bool { return s.File == fl.name })
			skipped := slices.ContainsFunc(rep.Skipped, func(s SkippedSegment) bool { return s.File == fl.name && s.Quarantined == q })
			if used == skipped {
				t.Fatalf("%s: used %v, skipped %v (report %+v)", fl.name, used, skipped, rep)
			}
			if fl.damaged && !q {
				t.Fatalf("damaged %s not quarantined", fl.name)
			}
		}
		for i := 1; i < len(rep.Used); i++ {
			if rep.Used[i].First <= rep.Used[i-1].Last {
				t.Fatalf("used segments overlap: %+v", rep.Used)
			}
		}
		ix, err := Open(dir, Options{ScrubPause: -1, Logger: quietLog})
		if err != nil {
			t.Fatalf("Open after Rebuild: %v (report %+v)", err, rep)
		}
		defer ix.Close()
		// Every event of a sound file is served, or its file was
		// quarantined with its range (and fsck says so).
		entries := ix.Quarantined()
		var keys []EventKey
		for _, it := range fuzzPool {
			keys = append(keys, EventKey{testAcct, it.Event.Region, it.Event.EventID, 0})
		}
		has, _, err := ix.HasEventIDs(keys)
		if err != nil {
			t.Fatal(err)
		}
		swept := flags%3 == 2
		for _, fl := range files {
			if fl.damaged {
				continue
			}
			for s := fl.first; s <= fl.last; s++ {
				inQ := slices.ContainsFunc(entries, func(q QuarantinedSegment) bool { return q.missing() && q.First <= s && s <= q.Last })
				if !has[s-1] && !inQ && !(swept && s <= 3) {
					t.Fatalf("seq %d of %s is neither served nor quarantined (report %+v, entries %+v)", s, fl.name, rep, entries)
				}
			}
		}
		want := 0
		for _, u := range rep.Used {
			want += u.Events
		}
		if n, err := ix.Count(); err != nil || n > want {
			t.Fatalf("Count = %d, %v; the used segments hold %d", n, err, want)
		}
		if vr := ix.Verify(); len(vr.Problems) != len(slices.DeleteFunc(slices.Clone(entries), func(q QuarantinedSegment) bool { return !q.missing() })) {
			t.Fatalf("Verify problems %q for entries %+v", vr.Problems, entries)
		}
	})
}
