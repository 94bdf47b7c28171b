package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func oneEvent(t *testing.T, id string) []event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(`{"eventTime":"2026-01-01T00:00:00Z","eventID":"` + id + `","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventSource":"s3.amazonaws.com","eventName":"GetObject"}`))
	if err != nil {
		t.Fatal(err)
	}
	return []event.Event{ev}
}

// fill appends n events one by one without back-pressure in the way (the
// gate is registered afterwards).
func fill(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Append(context.Background(), oneEvent(t, "f"+string(rune('a'+i))), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// A gating follower MaxLag events behind makes Append wait, then refuse
// without writing; once it applies enough, Append proceeds. A non-gating
// follower never holds Append back.
func TestBackpressureRefusesThenWaits(t *testing.T) {
	o := DefaultOptions()
	o.MaxLag, o.BackpressureWait = 10, 50*time.Millisecond
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	slow, err := s.Follow("slow", 0, FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	gate, err := s.Follow("gate", 0, FollowOptions{Gate: true})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 10)

	// Lagging by MaxLag: Append waits BackpressureWait, then refuses and
	// stores nothing.
	start := time.Now()
	_, err = s.Append(context.Background(), oneEvent(t, "a"), AppendOptions{})
	if !errors.Is(err, ErrBackpressure) {
		t.Fatalf("Append while lagging = %v, want ErrBackpressure", err)
	}
	if waited := time.Since(start); waited < o.BackpressureWait {
		t.Fatalf("refused after %v, before BackpressureWait %v", waited, o.BackpressureWait)
	}
	if s.wal.NextSeq() != 11 {
		t.Fatalf("a refused append reached the WAL (next seq %d)", s.wal.NextSeq())
	}

	// One below MaxLag: accepted at once.
	gate.Applied(1)
	if _, err := s.Append(context.Background(), oneEvent(t, "b"), AppendOptions{}); err != nil {
		t.Fatalf("Append below MaxLag = %v", err)
	}

	// Lagging again; the follower applies while Append waits: it proceeds.
	s.opts.BackpressureWait = 10 * time.Second
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), oneEvent(t, "c"), AppendOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Append returned %v before the follower caught up", err)
	case <-time.After(50 * time.Millisecond):
	}
	gate.Applied(s.Head())
	if err := <-done; err != nil {
		t.Fatalf("Append after the follower caught up = %v", err)
	}

	// A closed gate no longer counts.
	gate.Close()
	fill(t, s, 20)
}

// The lag is bounded in bytes too.
func TestBackpressureByBytes(t *testing.T) {
	o := DefaultOptions()
	o.MaxLagBytes, o.BackpressureWait = 1000, 20*time.Millisecond
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gate, err := s.Follow("gate", 0, FollowOptions{Gate: true})
	if err != nil {
		t.Fatal(err)
	}
	var refused bool
	for i := range 20 {
		if _, err := s.Append(context.Background(), oneEvent(t, "x"+string(rune('a'+i))), AppendOptions{}); errors.Is(err, ErrBackpressure) {
			refused = true
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !refused {
		t.Fatal("20 unapplied events of 1000+ bytes in all never hit back-pressure")
	}
	if _, err := gate.Read(100); err != nil {
		t.Fatal(err)
	}
	gate.Applied(s.Head())
	if _, err := s.Append(context.Background(), oneEvent(t, "y"), AppendOptions{}); err != nil {
		t.Fatalf("after the follower applied everything: %v", err)
	}
}

// The tail keeps what followers have not read, drops what all have, and
// never grows past TailBytes beyond what gating followers need.
func TestTailBounds(t *testing.T) {
	o := DefaultOptions()
	o.TailBytes = 2000
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.Follow("f", 0, FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s, 5)
	s.mu.Lock()
	kept := len(s.tail.ents)
	s.mu.Unlock()
	if kept != 5 {
		t.Fatalf("tail holds %d entries, want the 5 unread", kept)
	}
	if ents, _ := f.Read(100); len(ents) != 5 {
		t.Fatalf("read %d", len(ents))
	}
	fill(t, s, 1) // trims what f has read
	s.mu.Lock()
	kept, start := len(s.tail.ents), s.tail.start
	s.mu.Unlock()
	if kept != 1 || start != 6 {
		t.Fatalf("tail = %d entries from %d, want 1 from 6", kept, start)
	}
	fill(t, s, 30) // f does not read: the tail stays under TailBytes
	s.mu.Lock()
	bytes := s.tail.bytes
	s.mu.Unlock()
	if bytes > o.TailBytes {
		t.Fatalf("tail holds %d bytes, bound %d", bytes, o.TailBytes)
	}
	if n := len(readAllInternal(t, f)); n != 31 {
		t.Fatalf("the follower read %d of 31 (from the WAL and the tail)", n)
	}
}

func readAllInternal(t *testing.T, f *Follower) []Entry {
	t.Helper()
	var out []Entry
	for {
		ents, err := f.Read(7)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) == 0 {
			return out
		}
		out = append(out, ents...)
	}
}
