package index

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// dirListing returns the names in dir and quarantine/, sorted.
func dirListing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{dir, filepath.Join(dir, quarantineDir)} {
		ents, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				rel, _ := filepath.Rel(dir, filepath.Join(d, e.Name()))
				out = append(out, rel)
			}
		}
	}
	slices.Sort(out)
	return out
}

// threeSegments builds an index of three flushed segments (seqs 1..30,
// 31..60, 61..90) and returns its directory and items.
func threeSegments(t *testing.T) (string, []Item) {
	t.Helper()
	dir := t.TempDir()
	ix := openOpts(t, dir, nil)
	var items []Item
	for i := range 3 {
		more := richItems(t, uint64(1+30*i), 30, int64(30*i))
		applySync(t, ix, more)
		items = append(items, more...)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, items
}

func wantManifestError(t *testing.T, err error, mention ...string) *ManifestError {
	t.Helper()
	var me *ManifestError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want a *ManifestError", err, err)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	if !strings.Contains(err.Error(), "opentrail fsck --repair") {
		t.Errorf("error %q does not say what to do", err)
	}
	return me
}

// TestMissingManifestRefuses is issue 8 §1.2: with its MANIFEST gone, the
// index opened empty and deleted every segment as "left by an interrupted
// flush". It must refuse, touching nothing, in both modes.
func TestMissingManifestRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(t *testing.T, dir string)
	}{
		{"missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, manifestName)); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, manifestName), func(b []byte) []byte { return b[:len(b)/2] })
		}},
		{"empty", func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, manifestName), func([]byte) []byte { return nil })
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := threeSegments(t)
			c.edit(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "0000000000000009.seg.tmp"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := dirListing(t, dir)
			for _, ro := range []bool{true, false} {
				ix, err := Open(dir, Options{ReadOnly: ro, ScrubPause: -1})
				if err == nil {
					ix.Close()
				}
				wantManifestError(t, err, "MANIFEST")
				if diff := cmp.Diff(before, dirListing(t, dir)); diff != "" {
					t.Fatalf("read-only %v: Open changed the directory (-before +after):\n%s", ro, diff)
				}
			}
		})
	}
	t.Run("no segments: a new index", func(t *testing.T) {
		dir := t.TempDir()
		ix := open(t, dir)
		if !exists(t, filepath.Join(dir, manifestName)) {
			t.Fatal("a new index has no MANIFEST")
		}
		ix.Close()
	})
}

// TestUnlistedSegments checks which unlisted segment files Open deletes
// (logging it), and which make it refuse, changing nothing.
func TestUnlistedSegments(t *testing.T) {
	for _, c := range []struct {
		name string
		// edit changes the directory of threeSegments; it returns the
		// names Open must delete, or, when refuse, the name the error
		// must mention.
		edit   func(t *testing.T, dir string, m *manifest) []string
		refuse bool
	}{
		{"a merge's output, its inputs still listed", func(t *testing.T, dir string, m *manifest) []string {
			// The merge of the first two, written but not committed.
			name := mergeCopy(t, dir, m.Segments[:2], 7)
			return []string{name}
		}, false},
		{"merge inputs after the commit", func(t *testing.T, dir string, m *manifest) []string {
			name := mergeCopy(t, dir, m.Segments[:2], 7)
			old := m.Segments[:2]
			m.Segments = append([]string{name}, m.Segments[2:]...)
			return old
		}, false},
		{"an interrupted flush, after the checkpoint", func(t *testing.T, dir string, m *manifest) []string {
			// Unlist the last segment and move the checkpoint back.
			last := m.Segments[2]
			m.Segments, m.Checkpoint = m.Segments[:2], 60
			return []string{last}
		}, false},
		{"a segment a sweep dropped", func(t *testing.T, dir string, m *manifest) []string {
			first := m.Segments[0]
			m.Segments = m.Segments[1:]
			m.Sweeps = sweeps{{Seq: 90, Before: t0.Unix() + 30}}
			return []string{first}
		}, false},
		{"temporary files", func(t *testing.T, dir string, m *manifest) []string {
			for _, n := range []string{"000000000000000a.seg.tmp", ".MANIFEST.tmp123", "x.rebuild.tmp"} {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("half"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			return []string{"000000000000000a.seg.tmp", ".MANIFEST.tmp123", "x.rebuild.tmp"}
		}, false},
		{"events no listed segment has", func(t *testing.T, dir string, m *manifest) []string {
			mid := m.Segments[1]
			m.Segments = []string{m.Segments[0], m.Segments[2]}
			return []string{mid}
		}, true},
		{"partly swept, partly unique", func(t *testing.T, dir string, m *manifest) []string {
			first := m.Segments[0]
			m.Segments = m.Segments[1:]
			m.Sweeps = sweeps{{Seq: 90, Before: t0.Unix() + 10}}
			return []string{first}
		}, true},
		{"unreadable", func(t *testing.T, dir string, m *manifest) []string {
			if err := os.WriteFile(filepath.Join(dir, "0000000000000042.seg"), []byte("not a segment at all, but not provably nothing"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"0000000000000042.seg"}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, items := threeSegments(t)
			m := readManifest(t, dir)
			names := c.edit(t, dir, &m)
			writeManifestFile(t, dir, m)
			before := dirListing(t, dir)
			// fsck's read-only Open reports, changing nothing.
			ro, err := Open(dir, Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("read-only Open: %v", err)
			}
			vr := ro.Verify()
			ro.Close()
			// What Open refuses is a problem; what it deletes is the
			// normal state after a crash, a leftover.
			reported, other := vr.Problems, vr.Leftovers
			if !c.refuse {
				reported, other = other, reported
			}
			for _, n := range names {
				if !slices.ContainsFunc(reported, func(p string) bool { return strings.Contains(p, n) }) {
					t.Errorf("read-only Verify does not report %s: problems %q, leftovers %q", n, vr.Problems, vr.Leftovers)
				}
			}
			if len(other) > 0 {
				t.Errorf("read-only Verify: problems %q, leftovers %q; want them all in one", vr.Problems, vr.Leftovers)
			}
			if diff := cmp.Diff(before, dirListing(t, dir)); diff != "" {
				t.Fatalf("read-only Open changed the directory:\n%s", diff)
			}
			var logs strings.Builder
			ix, err := Open(dir, Options{ScrubPause: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if c.refuse {
				if err == nil {
					ix.Close()
				}
				wantManifestError(t, err, names...)
				if diff := cmp.Diff(before, dirListing(t, dir)); diff != "" {
					t.Fatalf("a refusing Open changed the directory (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer ix.Close()
			for _, n := range names {
				if exists(t, filepath.Join(dir, n)) {
					t.Errorf("Open left %s", n)
				}
				if strings.HasSuffix(n, ".seg") && !strings.Contains(logs.String(), n) {
					t.Errorf("the deletion of %s is not logged:\n%s", n, logs.String())
				}
			}
			// Nothing else changed, and every event not swept is served.
			for _, n := range before {
				if !slices.Contains(names, n) && n != manifestName && !exists(t, filepath.Join(dir, n)) {
					t.Errorf("Open deleted %s", n)
				}
			}
			live := 0
			for _, it := range items {
				if !m.Sweeps.deleted(eventTime(it.Event), it.Seq) && it.Seq <= ix.Durable() {
					live++
				}
			}
			if n, err := ix.Count(); err != nil || n != live {
				t.Errorf("Count = %d, %v; want %d", n, err, live)
			}
		})
	}
}

// mergeCopy writes the merge of the named segments as segment num, as an
// interrupted merge leaves it, and returns its name.
func mergeCopy(t *testing.T, dir string, names []string, num uint64) string {
	t.Helper()
	ix := &Index{dir: dir, opts: DefaultOptions(), stop: make(chan struct{}), codecs: testCodecs(t)}
	var err error
	if ix.enc, err = zstdEncoder(); err != nil {
		t.Fatal(err)
	}
	if ix.rec, err = ix.codecs.plain(); err != nil {
		t.Fatal(err)
	}
	var run []*segment
	for _, n := range names {
		run = append(run, inspect(t, filepath.Join(dir, n)))
	}
	name := segName(num)
	if _, err := ix.writeMerged(run, filepath.Join(dir, name), nil, run[0].first, run[len(run)-1].last); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestListedSegmentMissingRefuses(t *testing.T) {
	dir, _ := threeSegments(t)
	m := readManifest(t, dir)
	if err := os.Remove(filepath.Join(dir, m.Segments[1])); err != nil {
		t.Fatal(err)
	}
	before := dirListing(t, dir)
	_, err := Open(dir, Options{ScrubPause: -1})
	wantManifestError(t, err, m.Segments[1], "missing")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err %v is not fs.ErrNotExist", err)
	}
	if diff := cmp.Diff(before, dirListing(t, dir)); diff != "" {
		t.Fatalf("Open changed the directory:\n%s", diff)
	}
}

// TestVersion1Manifest: version 1's watermark becomes a sweep at its
// checkpoint: what it deleted stays deleted, events applied after it are
// not affected, and the next MANIFEST written is version 2.
func TestVersion1Manifest(t *testing.T) {
	dir, items := threeSegments(t)
	cut := t0.Unix() + 45
	m := readManifest(t, dir)
	v1 := `{"version":1,"checkpoint":90,"sweptBefore":` + itoa(cut) + `,"nextFile":4,"segments":["` + strings.Join(m.Segments, `","`) + `"]}`
	if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	ix := open(t, dir)
	if n, err := ix.Count(); err != nil || n != 45 {
		t.Fatalf("Count = %d, %v; want 45 (seconds 45..89)", n, err)
	}
	// Old events applied now stay.
	late := richItems(t, 91, 20, 0)
	applySync(t, ix, late)
	if n, err := ix.Count(); err != nil || n != 65 {
		t.Fatalf("Count after 20 old events = %d, %v; want 65", n, err)
	}
	got := readManifest(t, dir)
	if got.Version != 2 || !slices.Equal(got.Sweeps, sweeps{{Seq: 90, Before: cut}}) || got.SweptBefore != 0 {
		t.Fatalf("MANIFEST after a flush: %+v", got)
	}
	has, _, err := ix.HasEventIDs([]EventKey{{testAcct, items[0].Event.Region, items[0].Event.EventID, 0}, {testAcct, late[0].Event.Region, late[0].Event.EventID, 0}})
	if err != nil || has[0] || !has[1] {
		t.Fatalf("HasEventIDs = %v, %v; want [false true]", has, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func zstdEncoder() (*zstd.Encoder, error) { return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)) }
