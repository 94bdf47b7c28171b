package index

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// damageBlock flips a byte in the middle of the segment's last record
// block.
func damageBlock(t *testing.T, path string) {
	t.Helper()
	sg := inspect(t, path)
	b := segBlocks(t, sg)[len(segBlocks(t, sg))-1]
	flipByte(t, path, b.off+int64(b.n)/2)
}

func itemsIn(items []Item, first, last uint64) []Item {
	var out []Item
	for _, it := range items {
		if it.Seq >= first && it.Seq <= last {
			out = append(out, it)
		}
	}
	return out
}

// feed returns a RebuildQuarantined reader over items.
func feed(items []Item) func(add func(Item) error) error {
	return func(add func(Item) error) error {
		for _, it := range items {
			if err := add(it); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestDamagedSegmentAnsweredFromTheRest: every kind of read that meets a
// damaged segment quarantines it and answers from the other segments, with
// no error; then RebuildQuarantined puts the events back.
func TestDamagedSegmentAnsweredFromTheRest(t *testing.T) {
	for _, read := range []struct {
		name string
		fn   func(ix *Index) error
	}{
		{"lookup", func(ix *Index) error { _, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); return err }},
		{"attribute lookup", func(ix *Index) error {
			q := allQuery("us-east-1", KindManagement)
			q.Attr, q.Value = AttrEventSource, "s3.amazonaws.com"
			_, _, err := ix.Lookup(q)
			return err
		}},
		{"duplicate probe", func(ix *Index) error {
			_, _, err := ix.HasEventIDs([]EventKey{{testAcct, "us-east-1", "r-0040", 0}})
			return err
		}},
		{"merge", func(ix *Index) error { return ix.Compact() }},
	} {
		t.Run(read.name, func(t *testing.T) {
			dir, items := threeSegments(t)
			m := readManifest(t, dir)
			path := filepath.Join(dir, m.Segments[1])
			damageBlock(t, path)
			ix := open(t, dir)
			if err := read.fn(ix); err != nil {
				t.Fatalf("%s: %v", read.name, err)
			}
			wantQuarantined(t, ix, path, "block at")
			rest := append(itemsIn(items, 1, 30), itemsIn(items, 61, 90)...)
			hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
			if err != nil || !sameStrings(hitIDs(t, hits), idsOf(rest, "us-east-1", KindManagement)) {
				t.Fatalf("lookup after the quarantine: %v, %v", hitIDs(t, hits), err)
			}
			if n, err := ix.Count(); err != nil || n != 60 {
				t.Fatalf("Count = %d, %v; want 60", n, err)
			}
			if got := ix.QuarantineCount(); got != 1 {
				t.Fatalf("QuarantineCount = %d", got)
			}
			select {
			case <-ix.QuarantineNotify():
			default:
				t.Fatal("no notification of the quarantine")
			}
			// Rebuilt from the WAL's copy of 31..60.
			q := ix.Quarantined()[0]
			name, err := ix.RebuildQuarantined(q.File, feed(itemsIn(items, 31, 60)))
			if err != nil {
				t.Fatal(err)
			}
			if got := ix.Quarantined()[0]; got.RebuiltAs != name {
				t.Fatalf("entry after the rebuild: %+v", got)
			}
			check := func(ix *Index) {
				t.Helper()
				hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
				if err != nil || !sameStrings(hitIDs(t, hits), idsOf(items, "us-east-1", KindManagement)) {
					t.Fatalf("lookup after the rebuild: %d hits, %v", len(hits), err)
				}
				if vr := ix.Verify(); len(vr.Problems) != 0 || vr.Missing != 0 {
					t.Fatalf("Verify after the rebuild: %+v", vr)
				}
			}
			check(ix)
			ix.Close()
			ix = open(t, dir)
			check(ix)
			if !exists(t, filepath.Join(dir, quarantineDir, q.File)) {
				t.Fatal("the quarantined file is gone")
			}
			// Once rebuilt, merges may span the range again.
			if err := ix.Compact(); err != nil {
				t.Fatal(err)
			}
			check(ix)
		})
	}
}

func TestRebuildQuarantinedErrors(t *testing.T) {
	dir, items := threeSegments(t)
	m := readManifest(t, dir)
	path := filepath.Join(dir, m.Segments[1])
	damageBlock(t, path)
	ix := open(t, dir)
	if _, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err != nil {
		t.Fatal(err)
	}
	q := wantQuarantined(t, ix, path, "")
	stop := errors.New("the log is gone")
	for _, c := range []struct {
		name string
		file string
		read func(add func(Item) error) error
		want error
		msg  string
	}{
		{"unknown file", "nope.seg", feed(nil), ErrNotQuarantined, ""},
		{"read fails", q.File, func(add func(Item) error) error { return stop }, stop, ""},
		{"outside the range", q.File, feed(itemsIn(items, 25, 35)), nil, "outside"},
		{"out of order", q.File, feed(append(itemsIn(items, 40, 41), itemsIn(items, 33, 33)...)), nil, "out of order"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := dirListing(t, dir)
			_, err := ix.RebuildQuarantined(c.file, c.read)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v", err)
			}
			if diff := cmp.Diff(before, dirListing(t, dir)); diff != "" {
				t.Fatalf("a failed rebuild changed the directory:\n%s", diff)
			}
			if got := ix.Quarantined(); len(got) != 1 || got[0].RebuiltAs != "" {
				t.Fatalf("entries %+v", got)
			}
		})
	}
	t.Run("range unknown", func(t *testing.T) {
		ix.manMu.Lock()
		nm := ix.man
		nm.Quarantined = append(slices.Clone(nm.Quarantined), QuarantinedSegment{File: "lost.seg", Reason: "footer unreadable"})
		if err := ix.writeManifest(nm); err != nil {
			t.Fatal(err)
		}
		ix.manMu.Unlock()
		if _, err := ix.RebuildQuarantined("lost.seg", feed(nil)); !errors.Is(err, ErrRangeUnknown) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("in pieces", func(t *testing.T) {
		// A memtable limit far below the segment: written in pieces and
		// merged into one.
		ix.opts.MemtableBytes = 4 << 10
		name, err := ix.RebuildQuarantined(q.File, feed(itemsIn(items, 31, 60)))
		if err != nil {
			t.Fatal(err)
		}
		sg := inspect(t, filepath.Join(dir, name))
		if sg.first != 31 || sg.last != 60 || sg.events != 30 {
			t.Fatalf("rebuilt segment %d..%d with %d events", sg.first, sg.last, sg.events)
		}
		if slices.ContainsFunc(dirListing(t, dir), func(n string) bool { return strings.HasSuffix(n, ".tmp") }) {
			t.Fatalf("pieces left: %v", dirListing(t, dir))
		}
		hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
		if err != nil || !sameStrings(hitIDs(t, hits), idsOf(items, "us-east-1", KindManagement)) {
			t.Fatalf("lookup after the rebuild: %d hits, %v", len(hits), err)
		}
	})
}

// TestRebuildLeavesSweptEventsOut: a rebuild applies the sweeps, and a
// range whose events were all deleted rebuilds as an empty segment.
func TestRebuildLeavesSweptEventsOut(t *testing.T) {
	dir, items := threeSegments(t)
	m := readManifest(t, dir)
	path := filepath.Join(dir, m.Segments[1])
	ix := open(t, dir)
	if _, err := ix.Sweep(t0.Unix() + 45); err != nil {
		t.Fatal(err)
	}
	damageBlock(t, path)
	ix.cache.drop(inspect(t, path).num)
	if _, err := ix.Count(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err != nil {
		t.Fatal(err)
	}
	q := wantQuarantined(t, ix, path, "")
	name, err := ix.RebuildQuarantined(q.File, feed(itemsIn(items, 31, 60)))
	if err != nil {
		t.Fatal(err)
	}
	if sg := inspect(t, filepath.Join(dir, name)); sg.events != 15 {
		t.Fatalf("rebuilt segment holds %d events, want 15 (seconds 45..59)", sg.events)
	}
	if n, err := ix.Count(); err != nil || n != 45 {
		t.Fatalf("Count = %d, %v; want 45", n, err)
	}
}

// TestScrub: after Open, the background scrub reads every segment whole
// and quarantines the damaged one, which Open's checks cannot see.
func TestScrub(t *testing.T) {
	dir, items := threeSegments(t)
	m := readManifest(t, dir)
	path := filepath.Join(dir, m.Segments[0])
	damageBlock(t, path)
	ix := openOpts(t, dir, func(o *Options) { o.ScrubPause = time.Millisecond })
	waitFor(t, ix.Scrubbed)
	wantQuarantined(t, ix, path, "block at")
	if ix.QuarantineCount() != 1 {
		t.Fatalf("QuarantineCount = %d", ix.QuarantineCount())
	}
	hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
	if err != nil || !sameStrings(hitIDs(t, hits), idsOf(itemsIn(items, 31, 90), "us-east-1", KindManagement)) {
		t.Fatalf("lookup: %d hits, %v", len(hits), err)
	}
	// Close stops a scrub under way.
	ix2 := openOpts(t, copyDirAll(t, dir), func(o *Options) { o.ScrubPause = time.Hour })
	if err := ix2.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds (the test's own timeout bounds it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("gave up")
		case <-time.After(time.Millisecond):
		}
	}
}

func copyDirAll(t *testing.T, dir string) string {
	t.Helper()
	return takeSnapshot(t, dir).restore(t)
}

// TestMergesKeepHoles: a merge never spans the range of a quarantined
// segment not rebuilt, so the rebuild can take its place.
func TestMergesKeepHoles(t *testing.T) {
	mk := func(first, last uint64, events int) *segment {
		return &segment{first: first, last: last, events: events}
	}
	segs := []*segment{mk(1, 10, 10), mk(11, 20, 10), mk(31, 40, 10), mk(41, 50, 10), mk(51, 60, 10)}
	if got := pickRun(segs, nil); len(got) != 5 {
		t.Fatalf("without a hole: run of %d", len(got))
	}
	hole := []QuarantinedSegment{{File: "x", First: 21, Last: 30}}
	if got := pickRun(segs, hole); len(got) != 0 {
		t.Fatalf("a run of %d spans the hole (3 after it are too few)", len(got))
	}
	segs = append(segs, mk(61, 70, 10))
	if got := pickRun(segs, hole); len(got) != 4 || got[0].first != 31 {
		t.Fatalf("run %v, want the 4 after the hole", got)
	}
}

// TestReadOnlyNeverQuarantines: fsck's read-only index reports damage and
// changes nothing.
func TestReadOnlyNeverQuarantines(t *testing.T) {
	dir, _ := threeSegments(t)
	m := readManifest(t, dir)
	path := filepath.Join(dir, m.Segments[1])
	damageBlock(t, path)
	before := dirListing(t, dir)
	ix, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if _, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err == nil {
		t.Fatal("a read-only lookup of damage answered without an error")
	}
	vr := ix.Verify()
	if len(vr.Problems) != 1 || !strings.Contains(vr.Problems[0], m.Segments[1]) || !strings.Contains(vr.Problems[0], "31..60") {
		t.Fatalf("Verify: %q", vr.Problems)
	}
	if diff := cmp.Diff(before, dirListing(t, dir)); diff != "" {
		t.Fatalf("read-only index changed the directory:\n%s", diff)
	}
}
