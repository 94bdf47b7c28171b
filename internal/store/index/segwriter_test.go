package index

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// TestPostingSpill checks that a posting list written out as it grows
// (larger than postingSpill) makes the same file as one encoded whole, and
// that the lists read back entry by entry.
func TestPostingSpill(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	lists := map[string][]pos{}
	var keys []string
	// The first is the partition's list of every event (attr 0): no list
	// has more entries.
	for i, n := range []int{40_000, 1, 127, 128, 129, 5000, 3} {
		v := fmt.Sprint("v", i)
		if i == 0 {
			v = ""
		}
		k := appendKey(nil, "123456789012/us-east-1", KindManagement, byte(i), v)
		l := make([]pos, n)
		p := pos{1 << 31, 1 << 40}
		for j := range l {
			l[j] = p
			p.t -= int64(rng.Intn(3))
			p.s -= uint64(1 + rng.Intn(1000))
		}
		keys = append(keys, string(k))
		lists[string(k)] = l
	}
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, spill int) (string, []byte) {
		t.Helper()
		defer func(old int) { postingSpill = old }(postingSpill)
		postingSpill = spill
		path := filepath.Join(t.TempDir(), name)
		w, err := newSegWriter(path, enc, plainCodec(t), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.addRecord(1, []byte(`{}`))
		for _, k := range keys {
			if err := w.addPosting([]byte(k), lists[k]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.finish(1 << 40); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return path, b
	}
	path, whole := write("whole.seg", 1<<30)
	for _, spill := range []int{1, 100, 4096} {
		if _, got := write("spilled.seg", spill); !bytes.Equal(got, whole) {
			t.Fatalf("spill at %d bytes: the file differs from the list encoded whole", spill)
		}
	}
	sg, err := openSegment(path, 1, newBlockCache(1<<20), testCodecs(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sg.release()
	for _, k := range keys {
		e, ok, err := sg.find([]byte(k))
		if err != nil || !ok {
			t.Fatalf("find %q: %v %v", k, ok, err)
		}
		it, err := sg.iter(&window{sg: sg, size: 512}, e)
		if err != nil {
			t.Fatal(err)
		}
		var got []pos
		for x, ok := it.next(); ok; x, ok = it.next() {
			got = append(got, x)
		}
		if it.err != nil {
			t.Fatal(it.err)
		}
		if diff := cmp.Diff(lists[k], got, cmp.AllowUnexported(pos{})); diff != "" {
			t.Fatalf("list %q read back (-want +got):\n%s", k, diff)
		}
	}
	if err := sg.verify(nil); err != nil {
		t.Fatal(err)
	}
}
