package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/store"
)

// A follower that reads while the writer appends, rotates and truncates
// (the follower releasing as it goes) sees every seq exactly once, in order.
func TestFollowerUnderConcurrentRotationAndTruncate(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(o *store.Options) { o.SegmentSize = 2 << 10; o.Followers = []string{"d"} })
	f, err := s.Follow("d", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := time.Now().Add(4 * time.Second)
	wg.Add(1)
	n := 0
	go func() {
		defer wg.Done()
		for time.Now().Before(stop) {
			appendN(t, s, n, 3)
			n += 3
		}
	}()
	var next uint64 = 1
	for time.Now().Before(stop.Add(500 * time.Millisecond)) {
		recs, err := f.Read(7)
		if err != nil {
			t.Fatalf("read at %d: %v", next, err)
		}
		for _, r := range recs {
			if r.Seq != next {
				t.Fatalf("seq %d, want %d", r.Seq, next)
			}
			next++
		}
		if len(recs) > 0 {
			f.Release(next - 1)
		} else {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	for {
		recs, err := f.Read(100)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		next += uint64(len(recs))
	}
	if next-1 != s.Head() {
		t.Fatalf("read up to %d, head %d", next-1, s.Head())
	}
	t.Logf("read %d records; %d segments left", next-1, walSegments(t, dir))
}
