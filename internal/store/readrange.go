package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/opentrail/opentrail/internal/store/wal"
)

// ErrNotRetained means the log no longer holds the records asked for: every
// follower had released them and the WAL segments holding them were
// deleted, or a WAL repair recorded them as lost (a gap). The events are
// gone from the log; whoever needs them must get them elsewhere (event
// history: re-import the trail's log files).
var ErrNotRetained = errors.New("store: the log no longer holds those records")

// ReadRange reads back the acknowledged records from..to (both included) in
// log order, parsed, and calls fn for each; an error from fn stops it and
// is returned. It fails with an error wrapping ErrNotRetained when the log
// no longer holds from, and keeps the records from on while it reads. It
// is safe to call from any goroutine, while followers read. Event history
// uses it to rebuild a damaged index segment.
func (s *Store) ReadRange(from, to uint64, fn func(Entry) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.mu.Lock()
	acked := s.acked
	first := s.firstSeq.Load()
	if from == 0 || from > to || to > acked {
		s.mu.Unlock()
		return fmt.Errorf("store read range %d..%d: outside the acknowledged records 1..%d", from, to, acked)
	}
	if from < first {
		s.mu.Unlock()
		return fmt.Errorf("store read range %d..%d: %w (the log starts at %d)", from, to, ErrNotRetained, first)
	}
	// Hold the records while reading: truncate keeps what holdBefore says.
	s.readHolds = append(s.readHolds, from)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if i := slices.Index(s.readHolds, from); i >= 0 {
			s.readHolds = slices.Delete(s.readHolds, i, i+1)
		}
		s.mu.Unlock()
	}()
	rd, err := wal.NewReader(s.dir, from)
	if err != nil {
		return fmt.Errorf("store read range %d..%d: %w", from, to, err)
	}
	defer rd.Close()
	next := from
	for next <= to {
		rec, err := rd.NextBefore(to + 1)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, fs.ErrNotExist):
			// Past the end of what the log holds: a gap a WAL repair
			// recorded, or a segment that a truncation begun before the
			// hold deleted.
			return fmt.Errorf("store read range %d..%d: records %d..%d: %w", from, to, next, to, ErrNotRetained)
		case err != nil:
			return fmt.Errorf("store read range %d..%d: %w", from, to, err)
		case rec.Seq > next:
			// Truncated before from, or a gap a WAL repair recorded.
			return fmt.Errorf("store read range %d..%d: records %d..%d: %w", from, to, next, rec.Seq-1, ErrNotRetained)
		case rec.Seq < next:
			return fmt.Errorf("store read range %d..%d: read record %d, want %d", from, to, rec.Seq, next)
		}
		if err := fn(Entry{Seq: rec.Seq, Event: s.parseRecord(rec)}); err != nil {
			return err
		}
		next++
	}
	return nil
}

// ReadRange is Store.ReadRange: the follower reading back records it has
// released, which the log may no longer hold.
func (f *Follower) ReadRange(from, to uint64, fn func(Entry) error) error {
	return f.s.ReadRange(from, to, fn)
}
