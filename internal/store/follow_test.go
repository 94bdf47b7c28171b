package store_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

func appendN(t testing.TB, s *store.Store, from, n int) {
	t.Helper()
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = mkEvent(t, from+i, nil)
	}
	if _, err := s.Append(t.Context(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, f *store.Follower) []store.Entry {
	t.Helper()
	var out []store.Entry
	for {
		recs, err := f.Read(100)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
	}
}

func walSegments(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// A follower reads every acknowledged event in order, across segment
// rotations that happen while it reads, and resumes from its checkpoint
// after a reopen; the log keeps what it has not released.
func TestFollowerReadsAcrossRotationsAndReopen(t *testing.T) {
	dir := t.TempDir()
	small := func(o *store.Options) { o.SegmentSize = 4 << 10; o.Followers = []string{"trails"} }
	s := openStore(t, dir, small)
	appendN(t, s, 0, 50)
	f, err := s.Follow("trails", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, f)
	if len(got) != 50 || got[0].Seq != 1 || got[49].Seq != 50 {
		t.Fatalf("read %d records (first %+v)", len(got), got[0].Seq)
	}
	if ev := got[7].Event; ev.Account != acct || ev.Region != region || ev.EventID != "id-000007" {
		t.Fatalf("entry 8 = %s/%s %s", ev.Account, ev.Region, ev.EventID)
	}
	// More events, rotating segments under the open reader.
	for i := range 10 {
		appendN(t, s, 50+i*20, 20)
		recs := readAll(t, f)
		if len(recs) != 20 || recs[0].Seq != uint64(51+i*20) {
			t.Fatalf("round %d: %d records from %d", i, len(recs), recs[0].Seq)
		}
	}
	f.Release(120)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, small)
	f, err = s.Follow("trails", 120, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got = readAll(t, f)
	if len(got) != 130 || got[0].Seq != 121 || got[len(got)-1].Seq != 250 {
		t.Fatalf("after reopen read %d records from %d", len(got), got[0].Seq)
	}
	if _, err := s.Follow("trails", 0, store.FollowOptions{}); err == nil {
		t.Fatal("a second follower with the same name was accepted")
	}
}

// The log keeps segments until every named follower has registered and
// released them, and drops them afterwards.
func TestFollowerHoldsTheLog(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(o *store.Options) { o.SegmentSize = 4 << 10; o.Followers = []string{"trails"} })
	appendN(t, s, 0, 200)
	time.Sleep(2500 * time.Millisecond) // one writer tick: would truncate if nothing held
	held := walSegments(t, dir)
	if held < 10 {
		t.Fatalf("only %d segments kept before the follower registered", held)
	}
	f, err := s.Follow("trails", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, f)); n != 200 {
		t.Fatalf("read %d of 200", n)
	}
	f.Release(200)
	deadline := time.Now().Add(10 * time.Second)
	for walSegments(t, dir) >= held/2 {
		if time.Now().After(deadline) {
			t.Fatalf("segments not dropped after release: %d", walSegments(t, dir))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFollowerCheckpointChecks(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	appendN(t, s, 0, 3)
	if _, err := s.Follow("x", 9, store.FollowOptions{}); err == nil {
		t.Fatal("a checkpoint ahead of the log was accepted")
	}
	if s.Head() != 3 {
		t.Fatalf("Head = %d", s.Head())
	}
	f, err := s.Follow("x", s.Head(), store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, f)); n != 0 {
		t.Fatalf("a follower starting at the head read %d", n)
	}
	appendN(t, s, 3, 2)
	select {
	case <-f.Progress():
	case <-time.After(5 * time.Second):
	}
	if n := len(readAll(t, f)); n != 2 {
		t.Fatalf("read %d new records, want 2", n)
	}
	f.Release(s.Head())
	f.Close()
	s.Close()
	// Every follower released everything: the log dropped it, and a
	// follower far behind is told so.
	s = openStore(t, dir, nil)
	if _, err := s.Follow("y", 0, store.FollowOptions{}); !errors.Is(err, store.ErrFollowerBehind) {
		t.Fatalf("err = %v", err)
	}
}

// A follower reading back from the WAL gets the next batch read ahead
// while it applies the last: whatever the limits of its calls, it gets
// every entry once and in order, and its Position never runs ahead of
// what Read returned. Closing it with a batch read ahead, and following
// again, loses nothing.
func TestFollowerReadAheadKeepsPosition(t *testing.T) {
	dir := t.TempDir()
	small := func(o *store.Options) { o.SegmentSize = 4 << 10; o.Followers = []string{"trails"} }
	s := openStore(t, dir, small)
	appendN(t, s, 0, 300)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, the store holds nothing in memory: every entry comes
	// back from the WAL.
	s = openStore(t, dir, small)
	f, err := s.Follow("trails", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(1)
	limits := []int{40, 40, 7, 100, 100, 13, 1, 64}
	for i := 0; next <= 250; i++ {
		limit := limits[i%len(limits)]
		recs, err := f.Read(limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || len(recs) > limit {
			t.Fatalf("Read(%d) returned %d entries at %d", limit, len(recs), next)
		}
		for _, e := range recs {
			if e.Seq != next {
				t.Fatalf("entry %d, want %d", e.Seq, next)
			}
			if want := fmt.Sprintf("id-%06d", next-1); e.Event.EventID != want {
				t.Fatalf("entry %d is %s, want %s", e.Seq, e.Event.EventID, want)
			}
			next++
		}
		if pos := f.Position(); pos != next-1 {
			t.Fatalf("after Read(%d) Position = %d, want %d", limit, pos, next-1)
		}
	}
	f.Release(next - 1)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = s.Follow("trails", next-1, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rest := readAll(t, f)
	if len(rest) != int(301-next) || rest[0].Seq != next || rest[len(rest)-1].Seq != 300 {
		t.Fatalf("following again read %d entries from %d, want %d from %d", len(rest), rest[0].Seq, 301-next, next)
	}
}
