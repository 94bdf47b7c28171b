package index

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// snapshot is every file of an index directory, quarantine/ included.
type snapshot map[string][]byte

func takeSnapshot(t *testing.T, dir string) snapshot {
	t.Helper()
	s := snapshot{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		s[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s snapshot) restore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range s {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// crashState is what a crash leaves when it interrupts an operation that
// changed the directory from before to after: before the MANIFEST was
// replaced (new files written, the old MANIFEST), or after it (the new
// MANIFEST, files the operation was about to delete or move still there).
func crashState(before, after snapshot, committed bool) snapshot {
	s := snapshot{}
	for n, b := range before {
		s[n] = b
	}
	for n, b := range after {
		if n == manifestName && !committed {
			continue
		}
		if strings.HasPrefix(n, quarantineDir+string(filepath.Separator)) {
			continue // moved after the MANIFEST: still in the index directory
		}
		s[n] = b
	}
	return s
}

// indexState is what an index serves: its count, and which of the ids it
// holds.
type indexState struct {
	Count int
	Has   []bool
}

func stateOf(t *testing.T, ix *Index, items []Item) indexState {
	t.Helper()
	keys := make([]EventKey, len(items))
	for i, it := range items {
		keys[i] = EventKey{testAcct, it.Event.Region, it.Event.EventID, 0}
	}
	has, _, err := ix.HasEventIDs(keys)
	if err != nil {
		t.Fatal(err)
	}
	n, err := ix.Count()
	if err != nil {
		t.Fatal(err)
	}
	return indexState{n, has}
}

// TestCrashAroundEveryManifestChange interrupts each kind of MANIFEST
// change (flush, merge, sweep with a segment dropped, quarantine, rebuild)
// just before and just after the MANIFEST is replaced, reopens, replays
// the WAL (the items after the checkpoint) and compares with what the
// index served before or after the change. Open must never refuse, and
// must leave only listed segments behind.
func TestCrashAroundEveryManifestChange(t *testing.T) {
	quiet := func(o *Options) {
		o.MemtableBytes, o.FlushAge, o.MergeIdle, o.MaxSegments = 1<<40, 1<<40, 1<<40, 1<<20
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir := t.TempDir()
	ix := openOpts(t, dir, quiet)
	var items []Item // the WAL
	add := func(first uint64, n int, sec0 int64) {
		more := richItems(t, first, n, sec0)
		if err := ix.Apply(more); err != nil {
			t.Fatal(err)
		}
		items = append(items, more...)
	}
	sync := func(*Index) error { _, err := ix.Sync(); return err }
	var damaged QuarantinedSegment
	for _, op := range []struct {
		name string
		prep func()
		run  func(*Index) error
		// what a crash before the commit serves: before (false) or after
		// (true: Open completes the operation)
		beforeIsAfter bool
		skipBefore    bool
	}{
		{name: "flush", prep: func() { add(1, 100, 0) }, run: sync},
		{name: "second flush", prep: func() { add(101, 100, 100) }, run: sync},
		{name: "third flush", prep: func() { add(201, 100, 200) }, run: sync},
		{name: "merge", run: func(ix *Index) error { return ix.Compact() }},
		{name: "flush of old events", prep: func() { add(301, 100, 0) }, run: sync},
		// Deletes the events before t0+100 of seqs 1..450: all of the
		// last segment (dropped), part of the merged one and of the
		// memtable.
		{name: "sweep", prep: func() { add(401, 50, 0) }, run: func(ix *Index) error {
			_, err := ix.Sweep(t0.Unix() + 100)
			return err
		}},
		// Old events applied after the sweep stay.
		{name: "flush after the sweep", prep: func() { add(451, 50, 0) }, run: sync},
		{name: "quarantine", skipBefore: true, run: func(ix *Index) error {
			ix.mu.RLock()
			path, num := ix.segs[0].path, ix.segs[0].num
			ix.mu.RUnlock()
			// The last block: its events are not swept, so lookups read it.
			sg := inspect(t, path)
			b := segBlocks(t, sg)[len(segBlocks(t, sg))-1]
			flipByte(t, path, b.off+int64(b.n)/2)
			ix.cache.drop(num) // read the damage, not the cached block
			if _, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err != nil {
				return err
			}
			qs := ix.Quarantined()
			if len(qs) != 1 {
				t.Fatalf("quarantined: %+v", qs)
			}
			damaged = qs[0]
			return nil
		}},
		{name: "rebuild", beforeIsAfter: true, run: func(ix *Index) error {
			_, err := ix.RebuildQuarantined(damaged.File, func(add func(Item) error) error {
				for _, it := range items {
					if it.Seq >= damaged.First && it.Seq <= damaged.Last {
						if err := add(it); err != nil {
							return err
						}
					}
				}
				return nil
			})
			return err
		}},
	} {
		if op.prep != nil {
			op.prep()
		}
		before := takeSnapshot(t, dir)
		stBefore := stateOf(t, ix, items)
		if err := op.run(ix); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		after := takeSnapshot(t, dir)
		stAfter := stateOf(t, ix, items)
		if op.name == "sweep" && stAfter.Count >= stBefore.Count {
			t.Fatalf("the sweep deleted nothing (%d, %d)", stBefore.Count, stAfter.Count)
		}
		for _, committed := range []bool{false, true} {
			if !committed && op.skipBefore {
				continue
			}
			name := op.name + map[bool]string{false: " before the MANIFEST", true: " after the MANIFEST"}[committed]
			t.Run(name, func(t *testing.T) {
				cdir := crashState(before, after, committed).restore(t)
				cix, err := Open(cdir, Options{ScrubPause: -1, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatalf("Open after the crash: %v", err)
				}
				defer cix.Close()
				var replay []Item
				for _, it := range items {
					if it.Seq > cix.Durable() {
						replay = append(replay, it)
					}
				}
				if err := cix.Apply(replay); err != nil {
					t.Fatal(err)
				}
				want := stBefore
				if committed || op.beforeIsAfter {
					want = stAfter
				}
				if diff := cmp.Diff(want, stateOf(t, cix, items)); diff != "" {
					t.Fatalf("served after the crash (-want +got):\n%s", diff)
				}
				// Only listed segments are left, and nothing was lost from
				// quarantine/.
				var segs []string
				ents, _ := os.ReadDir(cdir)
				for _, e := range ents {
					if strings.HasSuffix(e.Name(), ".seg") {
						segs = append(segs, e.Name())
					}
				}
				cix.manMu.Lock()
				listed := slices.Clone(cix.man.Segments)
				cix.manMu.Unlock()
				slices.Sort(listed)
				if diff := cmp.Diff(listed, segs); diff != "" {
					t.Errorf("segment files (-listed +present):\n%s", diff)
				}
				for n := range after {
					if strings.HasPrefix(n, quarantineDir) && committed && !exists(t, filepath.Join(cdir, n)) {
						t.Errorf("%s is missing", n)
					}
				}
				// Another reopen changes nothing.
				if err := cix.Close(); err != nil {
					t.Fatal(err)
				}
				cix = openOpts(t, cdir, nil)
				if diff := cmp.Diff(want, stateOf(t, cix, items)); diff != "" {
					t.Fatalf("after another reopen (-want +got):\n%s", diff)
				}
			})
		}
	}
}
