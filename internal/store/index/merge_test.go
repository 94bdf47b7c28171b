package index

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// listSegments writes each of lists (newest first) as the posting list of
// one key in a segment of its own and returns iterators over them, read
// through windows like a merge's.
func listSegments(tb testing.TB, lists [][]pos) []*listIter {
	tb.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	// The partition's list of every event (attr 0), as a directory wants it.
	key := appendKey(nil, "123456789012/us-east-1", KindManagement, 0, "")
	dir := tb.TempDir()
	cache := newBlockCache(1 << 20)
	cs := testCodecs(tb)
	its := make([]*listIter, len(lists))
	for i, l := range lists {
		path := filepath.Join(dir, segName(uint64(i+1)))
		w, err := newSegWriter(path, enc, plainCodec(tb), 1, 0)
		if err != nil {
			tb.Fatal(err)
		}
		w.addRecord(1, []byte(`{}`))
		if len(l) > 0 {
			if err := w.addPosting(key, l); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.finish(1 << 40); err != nil {
			tb.Fatal(err)
		}
		sg, err := openSegment(path, uint64(i+1), cache, cs)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(sg.release)
		its[i] = &listIter{sg: sg}
		if len(l) == 0 {
			continue // an empty iterator: no chunks
		}
		e, ok, err := sg.find(key)
		if err != nil || !ok {
			tb.Fatalf("find: %v %v", ok, err)
		}
		if err := its[i].reset(&window{sg: sg, size: 128 << 10}, e); err != nil {
			tb.Fatal(err)
		}
	}
	return its
}

// resetLists points each iterator back at the start of its list.
func resetLists(tb testing.TB, its []*listIter) {
	tb.Helper()
	for _, it := range its {
		if it.r == nil {
			continue
		}
		if err := it.reset(it.r, it.e); err != nil {
			tb.Fatal(err)
		}
	}
}

// mergeLists's input as a merge of segments sees it: n events, sequence
// numbers 1..n with times rising with a jitter of a few seconds, dealt to
// k lists in runs of adjacent sequence numbers (as segments hold them) or
// at random (interleaved); each list holds about one in every keep of its
// events.
func mergeInput(rng *rand.Rand, n, k, keep int, interleaved bool) [][]pos {
	lists := make([][]pos, k)
	for s := 1; s <= n; s++ {
		if rng.Intn(keep) != 0 {
			continue
		}
		i := (s - 1) * k / n
		if interleaved {
			i = rng.Intn(k)
		}
		lists[i] = append(lists[i], pos{t: int64(1e9 + s/10 + rng.Intn(4)), s: uint64(s)})
	}
	for _, l := range lists {
		slices.SortFunc(l, cmpDesc)
	}
	return lists
}

// TestMergeListsModel checks mergeLists against a model, the inputs'
// wanted entries sorted newest first, for 1 to 100 inputs, adjacent and
// interleaved, some empty, with and without a sweep deleting some.
func TestMergeListsModel(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var m listMerger
	for _, k := range []int{1, 2, 3, 5, 24, 25, 100} {
		for _, interleaved := range []bool{false, true} {
			for _, swept := range []bool{false, true} {
				name := fmt.Sprintf("k=%d/interleaved=%v/swept=%v", k, interleaved, swept)
				lists := mergeInput(rng, 20_000, k, 1+rng.Intn(3), interleaved)
				if k > 2 {
					lists[1] = nil // an input without the key
				}
				var sw sweeps
				if swept {
					// Events up to 12,000 before time 1e9+1000 deleted.
					sw = normalizeSweeps([]sweep{{Seq: 12_000, Before: 1e9 + 1000}})
				}
				f := newFilter(sw, noCut, 1, 20_000)
				var want []pos
				for _, l := range lists {
					for _, x := range l {
						if f.visible(x) {
							want = append(want, x)
						}
					}
				}
				slices.SortFunc(want, cmpDesc)
				its := listSegments(t, lists)
				var got []pos
				if err := m.mergeLists(its, &f, func(x pos) { got = append(got, x) }); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(want, got, cmp.AllowUnexported(pos{}), cmpEmpty); diff != "" {
					t.Fatalf("%s (-want +got):\n%s", name, diff)
				}
			}
		}
	}
}

var cmpEmpty = cmp.FilterValues(func(a, b []pos) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// mergeListsLinear is mergeLists before the heap (main 7ee7aae), for
// BenchmarkMergeLists to compare with: it scans every input's head for each
// entry it emits.
func mergeListsLinear(lists []*listIter, heads []pos, f *filter, emit func(pos)) error {
	more := make([]bool, len(lists))
	advance := func(i int) {
		for {
			x, ok := lists[i].next()
			if !ok || f.visible(x) {
				heads[i], more[i] = x, ok
				return
			}
		}
	}
	for i := range lists {
		advance(i)
	}
	for {
		best := -1
		for i := range lists {
			if more[i] && (best < 0 || heads[best].less(heads[i])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		emit(heads[best])
		advance(best)
	}
	for _, l := range lists {
		if l.err != nil {
			return l.err
		}
	}
	return nil
}

// BenchmarkMergeLists merges the lists of one key from k segments, 240,000
// entries in all, with the heap (mergeLists) and with the linear scan it
// replaced, in the same run; it reports ns per entry, decoding the lists
// included. Adjacent inputs are what a merge of segments meets.
func BenchmarkMergeLists(b *testing.B) {
	for _, k := range []int{4, 24, 100} {
		for _, interleaved := range []bool{false, true} {
			lists := mergeInput(rand.New(rand.NewSource(1)), 240_000, k, 1, interleaved)
			its := listSegments(b, lists)
			f := newFilter(nil, noCut, 1, 240_000)
			n := 0
			emit := func(pos) { n++ }
			shape := "adjacent"
			if interleaved {
				shape = "interleaved"
			}
			b.Run(fmt.Sprintf("k=%d/%s/heap", k, shape), func(b *testing.B) {
				var m listMerger
				n = 0
				for b.Loop() {
					resetLists(b, its)
					if err := m.mergeLists(its, &f, emit); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/entry")
			})
			b.Run(fmt.Sprintf("k=%d/%s/linear", k, shape), func(b *testing.B) {
				heads := make([]pos, k)
				n = 0
				for b.Loop() {
					resetLists(b, its)
					if err := mergeListsLinear(its, heads, &f, emit); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/entry")
			})
		}
	}
}

// simulateIngest runs pickRun as the merge loop does during an ingest
// that never pauses (merges only past maxSegs segments, each done at
// once) over flushes of 100,000 events, and returns how many times an
// event was rewritten on average and the largest merge's events.
func simulateIngest(flushes, maxSegs int) (rewrites float64, largest int) {
	const flush = 100_000
	var segs []*segment
	written := 0
	for i := range flushes {
		seq := uint64(i * flush)
		segs = append(segs, &segment{first: seq + 1, last: seq + flush, events: flush})
		for len(segs) > maxSegs {
			run := pickRun(segs, nil)
			if run == nil {
				break
			}
			out := &segment{first: run[0].first, last: run[len(run)-1].last}
			for _, sg := range run {
				out.events += sg.events
			}
			written += out.events
			largest = max(largest, out.events)
			segs = append(segs[:len(segs)-len(run)], out)
		}
	}
	return float64(written) / float64(flushes*flush), largest
}

// TestMergePolicyIngest checks decision 102: during a sustained ingest
// with the default MaxSegments, a merge forced by the count makes a
// segment that is not merged again, so an event is rewritten at most
// once, and no merge takes more than MaxSegments+1 flushed segments. The
// figures for other counts are logged (go test -v).
func TestMergePolicyIngest(t *testing.T) {
	for _, k := range []int{24, 48, 64, 128} {
		for _, n := range []int{100, 300, 1000} {
			r, l := simulateIngest(n, k)
			t.Logf("MaxSegments %d, %d flushes: %.2f rewrites an event, largest merge %d events", k, n, r, l)
		}
	}
	k := DefaultOptions().MaxSegments
	r, l := simulateIngest(1000, k)
	if r > 1 || l > (k+1)*100_000 {
		t.Errorf("MaxSegments %d, 100M events: %.2f rewrites an event, largest merge %d events; want at most 1 and %d", k, r, l, (k+1)*100_000)
	}
}
