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
	f, err := s.Follow("loop", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var applied []uint64
	var saved uint64
	failing := true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.Loop(ctx, store.Loop{Name: "test", Batch: 10, Log: slog.New(slog.DiscardHandler),
			Apply: func(entries []store.Entry) error {
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
			Save: func(seq uint64) error {
				mu.Lock()
				defer mu.Unlock()
				saved = seq
				return nil
			},
		})
	}()
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
	cancel()
	if err := <-done; err != nil {
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
