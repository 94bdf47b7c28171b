package index

import (
	"fmt"
	"log/slog"
	"math/rand"
	"syscall"
	"testing"
	"time"
)

// benchIndex is an index of benchEvents events in several segments (one
// merged, the rest flushed) and a memtable, with a retention sweep that
// deleted the oldest fifth. Lookups that reach back past the cutoff, and
// the sweep's bookkeeping, are what the benchmarks exercise beside plain
// lookups.
const benchEvents = 60_000

func benchIndex(b *testing.B, sweep bool) (*Index, []Item) {
	b.Helper()
	ix, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), MergeIdle: 1 << 40, MaxSegments: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	items := richItems(b, 1, benchEvents, 0)
	apply := func(part []Item, sync bool) {
		if err := ix.Apply(part); err != nil {
			b.Fatal(err)
		}
		if sync {
			if _, err := ix.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Half merged into one segment, then four flushed segments, then the
	// memtable.
	half := benchEvents / 2
	apply(items[:half/2], true)
	apply(items[half/2:half], true)
	if err := ix.Compact(); err != nil {
		b.Fatal(err)
	}
	step := (benchEvents - half) / 5
	for i := range 4 {
		apply(items[half+i*step:half+(i+1)*step], true)
	}
	apply(items[half+4*step:], false)
	if sweep {
		if _, err := ix.Sweep(t0.Unix() + benchEvents/5); err != nil {
			b.Fatal(err)
		}
	}
	return ix, items
}

func BenchmarkLookup(b *testing.B) {
	for _, sweep := range []bool{false, true} {
		ix, items := benchIndex(b, sweep)
		end := t0.Unix() + benchEvents
		for _, c := range []struct {
			name  string
			query func(rng *rand.Rand) Query
		}{
			{"newest", func(*rand.Rand) Query {
				q := allQuery("us-east-1", KindManagement)
				q.Limit = 50
				return q
			}},
			{"range", func(rng *rand.Rand) Query {
				q := allQuery("us-east-1", KindManagement)
				q.Start = t0.Unix() + rng.Int63n(benchEvents)
				q.End, q.Limit = q.Start+600, 50
				return q
			}},
			{"attr", func(rng *rand.Rand) Query {
				q := allQuery("us-east-1", KindManagement)
				q.Attr, q.Value, q.Limit = AttrEventName, "PutObject", 50
				q.End = t0.Unix() + rng.Int63n(benchEvents)
				return q
			}},
			// A rare value: the lookup reads through every list to the
			// start of the range, past the sweep's cutoff.
			{"sparse", func(*rand.Rand) Query {
				q := allQuery("eu-west-1", KindInsight)
				q.Attr, q.Value, q.Start, q.End, q.Limit = AttrUsername, "user0", 0, end, 50
				return q
			}},
			{"eventid", func(rng *rand.Rand) Query {
				e := items[rng.Intn(len(items))].Event
				return Query{Account: testAcct, Region: e.Region, Kind: KindOf(&e.Summary), Attr: AttrEventID, Value: e.EventID, End: end, Limit: 50}
			}},
		} {
			b.Run(fmt.Sprintf("sweep=%v/%s", sweep, c.name), func(b *testing.B) {
				rng := rand.New(rand.NewSource(1))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := ix.Lookup(c.query(rng)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("sweep=%v/pages", sweep), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q := allQuery("us-east-1", KindManagement)
				q.Limit = 50
				for range 20 {
					_, next, err := ix.Lookup(q)
					if err != nil {
						b.Fatal(err)
					}
					if next == nil {
						break
					}
					q.Cursor = next
				}
			}
		})
	}
}

func BenchmarkHasEventIDs(b *testing.B) {
	ix, items := benchIndex(b, true)
	rng := rand.New(rand.NewSource(1))
	keys := make([]EventKey, 1000)
	for i := range keys {
		if i%10 == 0 {
			e := items[rng.Intn(len(items))].Event
			keys[i] = EventKey{testAcct, e.Region, e.EventID, 0}
		} else {
			keys[i] = EventKey{testAcct, "us-east-1", fmt.Sprint("absent-", i), 0}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ix.HasEventIDs(keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlushMerge applies, flushes and merges 20,000 events after a
// sweep whose cutoff falls among them.
func BenchmarkFlushMerge(b *testing.B) {
	const n = 20_000
	items := richItems(b, 1, n, 0)
	b.ReportAllocs()
	for b.Loop() {
		ix, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), MergeIdle: 1 << 40, MaxSegments: 1 << 20})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 4 {
			if err := ix.Apply(items[i*n/4 : (i+1)*n/4]); err != nil {
				b.Fatal(err)
			}
			if i == 1 {
				if _, err := ix.Sweep(t0.Unix() + n/4); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := ix.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		if err := ix.Compact(); err != nil {
			b.Fatal(err)
		}
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens (and closes) an index of 24 segments, and of 128
// (what an ingest may leave with MaxSegments 128): start-up checks each
// segment's footer and meta section only.
func BenchmarkOpen(b *testing.B) {
	for _, segs := range []int{24, 128} {
		b.Run(fmt.Sprintf("segments=%d", segs), func(b *testing.B) {
			dir := b.TempDir()
			quiet := Options{Logger: slog.New(slog.DiscardHandler), MergeIdle: 1 << 40, MaxSegments: 1 << 20}
			ix, err := Open(dir, quiet)
			if err != nil {
				b.Fatal(err)
			}
			items := richItems(b, 1, segs*2000, 0)
			for i := range segs {
				if err := ix.Apply(items[i*2000 : (i+1)*2000]); err != nil {
					b.Fatal(err)
				}
				if _, err := ix.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			if err := ix.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				ix, err := Open(dir, quiet)
				if err != nil {
					b.Fatal(err)
				}
				if err := ix.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemtableLookup: the newest 50 events of an account from a
// memtable of 100,000 events while ingest goes on (64 more applied before
// each lookup), with the events applied in time order (the baseline, a
// binary search) and out of it (the byTime view, caught up by merges).
func BenchmarkMemtableLookup(b *testing.B) {
	const n, between = 100_000, 64
	for _, order := range []string{"in-order", "out-of-order"} {
		b.Run(order, func(b *testing.B) {
			ix, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), MemtableBytes: 1 << 30, MergeIdle: 1 << 40, MaxSegments: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer ix.Close()
			rng := rand.New(rand.NewSource(1))
			sec := func(i int) int64 {
				if order == "in-order" {
					return int64(i)
				}
				return rng.Int63n(n)
			}
			items := make([]Item, n+b.N*between)
			for i := range items {
				items[i] = Item{uint64(i + 1), richEvent(b, i+1, sec(i+1))}
			}
			apply := func(part []Item) {
				if err := ix.Apply(part); err != nil {
					b.Fatal(err)
				}
			}
			apply(items[:n])
			items = items[n:]
			q := Query{Account: "123456789012", Region: "us-east-1", Kind: KindManagement, End: t0.Unix() + 2*n, Limit: 51}
			// Only the lookups are timed (StopTimer costs more than a
			// lookup: it reads the memory statistics).
			var spent time.Duration
			b.ResetTimer()
			for range b.N {
				apply(items[:between])
				items = items[between:]
				t := time.Now()
				if _, _, err := ix.Lookup(q); err != nil {
					b.Fatal(err)
				}
				spent += time.Since(t)
			}
			b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "lookup-ns/op")
		})
	}
}

// BenchmarkApply applies events in chunks as event history does, through
// four memtable flushes, and reports the CPU time (user and system, every
// goroutine's) per event beside the wall time: the compressor and the
// flusher work beside Apply.
func BenchmarkApply(b *testing.B) {
	const n = 100_000
	items := richItems(b, 1, n, 0)
	var cpu time.Duration
	for b.Loop() {
		ix, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), MemtableEvents: n / 4, MergeIdle: 1 << 40, MaxSegments: 1 << 20, ScrubPause: -1})
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime()
		for i := 0; i < n; i += ApplyChunk {
			if err := ix.Apply(items[i:min(i+ApplyChunk, n)]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := ix.Sync(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/event")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLookupSegments asks the same lookups of the same 100,000
// events held in 24 and in 100 flushed segments (and no memtable): what a
// lookup pays for the segments an ingest leaves unmerged (MaxSegments).
func BenchmarkLookupSegments(b *testing.B) {
	const n = 100_000
	items := richItems(b, 1, n, 0)
	end := t0.Unix() + n
	for _, segs := range []int{24, 100} {
		ix, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), MergeIdle: 1 << 40, MaxSegments: 1 << 20, ScrubPause: -1})
		if err != nil {
			b.Fatal(err)
		}
		for i := range segs {
			if err := ix.Apply(items[i*n/segs : (i+1)*n/segs]); err != nil {
				b.Fatal(err)
			}
			if _, err := ix.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range []struct {
			name  string
			query func(rng *rand.Rand) Query
		}{
			{"newest", func(*rand.Rand) Query {
				q := allQuery("us-east-1", KindManagement)
				q.Limit = 50
				return q
			}},
			{"attr", func(rng *rand.Rand) Query {
				q := allQuery("us-east-1", KindManagement)
				q.Attr, q.Value, q.Limit = AttrEventName, "PutObject", 50
				q.End = t0.Unix() + rng.Int63n(n)
				return q
			}},
			{"sparse", func(*rand.Rand) Query {
				q := allQuery("eu-west-1", KindInsight)
				q.Attr, q.Value, q.Start, q.End, q.Limit = AttrUsername, "user0", 0, end, 50
				return q
			}},
			{"eventid", func(rng *rand.Rand) Query {
				e := items[rng.Intn(len(items))].Event
				return Query{Account: testAcct, Region: e.Region, Kind: KindOf(&e.Summary), Attr: AttrEventID, Value: e.EventID, End: end, Limit: 50}
			}},
		} {
			b.Run(fmt.Sprintf("segments=%d/%s", segs, c.name), func(b *testing.B) {
				rng := rand.New(rand.NewSource(1))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := ix.Lookup(c.query(rng)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		if err := ix.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
