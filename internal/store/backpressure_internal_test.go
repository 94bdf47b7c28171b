package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// fakeLag makes the store believe the index is lag events behind.
func fakeLag(s *Store, lag uint64) (restore func()) {
	s.mu.Lock()
	real := s.acked
	s.acked = s.indexed + lag
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.acked = real
		close(s.progress) // wake waiters, as the indexer does
		s.progress = make(chan struct{})
		s.mu.Unlock()
	}
}

func oneEvent(t *testing.T, id string) []event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(`{"eventTime":"2026-01-01T00:00:00Z","eventID":"` + id + `","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventSource":"s3.amazonaws.com","eventName":"GetObject"}`))
	if err != nil {
		t.Fatal(err)
	}
	return []event.Event{ev}
}

func TestBackpressureRefusesThenWaits(t *testing.T) {
	o := DefaultOptions()
	o.MaxLag, o.BackpressureWait = 10, 50*time.Millisecond
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Lagging by MaxLag: Append waits BackpressureWait, then refuses and
	// stores nothing.
	restore := fakeLag(s, 10)
	start := time.Now()
	_, err = s.Append(context.Background(), oneEvent(t, "a"), AppendOptions{})
	if !errors.Is(err, ErrBackpressure) {
		t.Fatalf("Append while lagging = %v, want ErrBackpressure", err)
	}
	if waited := time.Since(start); waited < o.BackpressureWait {
		t.Fatalf("refused after %v, before BackpressureWait %v", waited, o.BackpressureWait)
	}
	if s.wal.NextSeq() != 1 {
		t.Fatalf("a refused append reached the WAL (next seq %d)", s.wal.NextSeq())
	}

	// One below MaxLag: accepted at once. (The append sets the true acked
	// sequence itself, so there is nothing to restore afterwards.)
	restore()
	fakeLag(s, 9)
	if _, err := s.Append(context.Background(), oneEvent(t, "b"), AppendOptions{}); err != nil {
		t.Fatalf("Append below MaxLag = %v", err)
	}
	if err := s.WaitIndexed(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Lagging, then the index catches up while Append waits: it proceeds.
	restore = fakeLag(s, 10)
	s.opts.BackpressureWait = 10 * time.Second
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), oneEvent(t, "c"), AppendOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Append returned %v before the index caught up", err)
	case <-time.After(50 * time.Millisecond):
	}
	restore()
	if err := <-done; err != nil {
		t.Fatalf("Append after the index caught up = %v", err)
	}
}
