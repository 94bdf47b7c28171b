package importer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The walk reads a path reached twice once, without keeping a list of the
// files it found: a directory named inside another one named is not
// walked again (unless under a hidden directory, which walks skip), and
// a file named and found in a walk is read once.
func TestWalkReadsEachPathOnce(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.json", "sub/b.json", ".hidden/c.json", ".hidden/deep/d.json", "other/e.json"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"Records":[]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	for _, c := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"nested first", []string{in("sub"), dir, in("a.json"), dir, in(".hidden/deep")}, []string{"a.json", "other/e.json", "sub/b.json", ".hidden/deep/d.json"}},
		{"the same directory twice", []string{in("other"), in("other/../other"), in("other")}, []string{"other/e.json"}},
		{"a file twice", []string{in("a.json"), in("./a.json")}, []string{"a.json"}},
		{"a file, then its directory", []string{in("sub/b.json"), in("sub")}, []string{"sub/b.json"}},
		{"hidden directory named", []string{in(".hidden"), dir}, []string{".hidden/c.json", ".hidden/deep/d.json", "a.json", "other/e.json", "sub/b.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := newWalker(c.paths)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // a second walk (after reset) finds the same
				var got []string
				var orders []int
				err := w.walk(func(j job) bool {
					rel, err := filepath.Rel(dir, j.path)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, filepath.ToSlash(rel))
					orders = append(orders, j.order)
					return true
				}, func(f SkippedFile, failed bool) { t.Errorf("noted %v (failed %v)", f, failed) })
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("files (-want +got):\n%s", diff)
				}
				if !slices.Equal(orders, []int{0, 1, 2, 3, 4}[:len(got)]) {
					t.Errorf("orders %v", orders)
				}
				w.reset()
			}
		})
	}
	if _, err := newWalker([]string{dir, in("missing")}); err == nil {
		t.Error("a path that does not exist was accepted")
	}
}
