package store_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// TestLoop: a failed Apply is retried with the same entries and the
// checkpoint never passes them; at stop the loop applies what the log
// still holds and saves its position.
func TestLoop(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	var mu sync.Mutex
	var applied []uint64
	var saved uint64
	failing := true
	ctx := t.Context()
	stop := runLoop(t, s, "loop",
		func(entries []store.Entry) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return errors.New("disk full")
			}
			for _, e := range entries {
				applied = append(applied, e.Seq)
			}
			return nil
		},
		func(seq uint64) error {
			mu.Lock()
			defer mu.Unlock()
			saved = seq
			return nil
		})
	evs := make([]event.Event, 5)
	for i := range evs {
		evs[i] = mkEvent(t, i, nil)
	}
	if _, err := s.Append(ctx, evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // Apply fails meanwhile
	mu.Lock()
	if saved != 0 {
		t.Errorf("checkpoint %d passed entries whose Apply failed", saved)
	}
	failing = false
	mu.Unlock()
	// Stopping right after more appends: the loop applies them too.
	more := []event.Event{mkEvent(t, 5, nil), mkEvent(t, 6, nil)}
	if _, err := s.Append(context.Background(), more, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if saved != 7 {
		t.Errorf("checkpoint after stop = %d, want 7", saved)
	}
	seen := map[uint64]bool{}
	for _, seq := range applied {
		seen[seq] = true
	}
	for seq := uint64(1); seq <= 7; seq++ {
		if !seen[seq] {
			t.Errorf("entry %d never applied (applied %v)", seq, applied)
		}
	}
}

// TestLoopSavePacing: a follower that catches up after every event (one
// API call at a time) saves its checkpoint at most once per SaveInterval,
// not once per event, and still saves the newest position once the
// interval has passed.
func TestLoopSavePacing(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	var mu sync.Mutex
	var applied, saved uint64
	saves := 0
	ctx := t.Context()
	stop := runLoop(t, s, "pacing",
		func(entries []store.Entry) error {
			mu.Lock()
			defer mu.Unlock()
			applied = entries[len(entries)-1].Seq
			return nil
		},
		func(seq uint64) error {
			mu.Lock()
			defer mu.Unlock()
			saved = seq
			saves++
			return nil
		})
	state := func() (uint64, uint64, int) {
		mu.Lock()
		defer mu.Unlock()
		return applied, saved, saves
	}
	const n = 30
	start := time.Now()
	for i := range n {
		if _, err := s.Append(ctx, []event.Event{mkEvent(t, i, nil)}, store.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		for a, _, _ := state(); a < uint64(i+1); a, _, _ = state() {
			time.Sleep(time.Millisecond) // until the loop has caught up
		}
	}
	elapsed := time.Since(start)
	_, _, count := state()
	// One save at the first entry, then at most one per interval.
	if most := 2 + int(elapsed/store.SaveInterval); count > most {
		t.Errorf("%d checkpoints saved for %d events in %v; want at most %d (one per %v)", count, n, elapsed, most, store.SaveInterval)
	}
	for _, sv, _ := state(); sv < n; _, sv, _ = state() {
		if time.Since(start) > elapsed+30*store.SaveInterval {
			t.Fatalf("checkpoint still at %d, want %d once the interval passed", sv, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// runLoop follows s under name from the start and runs a Loop with apply
// and save in the background; stop ends it and returns its error.
func runLoop(t *testing.T, s *store.Store, name string, apply func([]store.Entry) error, save func(uint64) error) (stop func() error) {
	t.Helper()
	f, err := s.Follow(name, 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Loop(ctx, store.Loop{Name: "test", Batch: 10, Log: slog.New(slog.DiscardHandler), Apply: apply, Save: save})
	}()
	return func() error {
		cancel()
		return <-done
	}
}
