package store

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/opentrail/opentrail/internal/store/wal"
)

// Record is an acknowledged event as a follower reads it: its sequence
// number in the log, its partition and its compact JSON.
type Record struct {
	Seq     uint64
	Account string
	Region  string
	Raw     []byte
}

// ErrFollowerBehind means a follower's checkpoint is older than the oldest
// record the log still holds: the events in between are gone. It happens
// only when a follower was not listed in Options.Followers while the store
// ran; the follower must start again from Head.
var ErrFollowerBehind = errors.New("store: follower checkpoint is older than the log")

// Follower reads acknowledged events in log order from its own checkpoint,
// and holds the log back until it has released them. Trail delivery is one.
// A Follower is used by one goroutine at a time.
type Follower struct {
	s    *Store
	name string
	rd   *wal.Reader
	next uint64        // seq of the next record Read returns
	held atomic.Uint64 // records up to this seq may be deleted
	// closed is set by Close (under the store's mu); the follower's hold
	// stays, so the log keeps what it has not released until it follows
	// again.
	closed bool
}

// Head returns the seq of the newest acknowledged event (0 when none).
func (s *Store) Head() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// Follow registers the follower name, which has durably processed every
// event up to and including seq after, and returns it positioned at the next
// one. A follower with no checkpoint yet passes Head(). The log keeps every
// record after the follower's released checkpoint until it calls Release or
// Close.
func (s *Store) Follow(name string, after uint64) (*Follower, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, dup := s.followers[name]; dup && !f.closed {
		return nil, fmt.Errorf("store: follower %q is already registered", name)
	}
	if after > s.acked {
		return nil, fmt.Errorf("store: follower %q checkpoint %d is ahead of the log's head %d; the data directory does not match the follower's state", name, after, s.acked)
	}
	if first := s.firstSeq.Load(); after+1 < first && after < s.acked {
		return nil, fmt.Errorf("%w: follower %q is at %d, the log starts at %d", ErrFollowerBehind, name, after, first)
	}
	rd, err := wal.NewReader(s.walPath, after+1)
	if err != nil {
		return nil, fmt.Errorf("follow: %w", err)
	}
	f := &Follower{s: s, name: name, rd: rd, next: after + 1}
	f.held.Store(after)
	s.followers[name] = f
	return f, nil
}

// Progress returns a channel that is closed when more events are
// acknowledged (or the store closes); call it again after each wake-up.
func (f *Follower) Progress() <-chan struct{} {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.s.progress
}

// Read returns up to max acknowledged records after the last one returned,
// without waiting; an empty result means the follower has caught up.
func (f *Follower) Read(max int) ([]Record, error) {
	end := f.s.Head() + 1
	var out []Record
	for len(out) < max {
		rec, err := f.rd.NextBefore(end)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("follower %s: %w", f.name, err)
		}
		// The reader skips only a gap a repair recorded (wal.Gap).
		if rec.Seq < f.next {
			return out, fmt.Errorf("follower %s: read seq %d, want %d", f.name, rec.Seq, f.next)
		}
		f.next = rec.Seq + 1
		out = append(out, Record{Seq: rec.Seq, Account: rec.Account, Region: rec.Region, Raw: rec.Raw})
	}
	return out, nil
}

// Release tells the store that the follower has durably processed every
// record up to and including seq, so the log may drop them.
func (f *Follower) Release(seq uint64) {
	if seq > f.held.Load() {
		f.held.Store(seq)
	}
}

// Close ends the follower's reading. Its hold stays at what it released:
// the log keeps the rest for the next Follow under the same name.
func (f *Follower) Close() error {
	f.s.mu.Lock()
	f.closed = true
	f.s.mu.Unlock()
	return f.rd.Close()
}

// holdBefore returns the lowest seq some follower still needs, or
// (0, false) while a follower named in Options.Followers has not
// registered yet (the log keeps everything until it does).
func (s *Store) holdBefore() (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range s.opts.Followers {
		if _, ok := s.followers[name]; !ok {
			return 0, false
		}
	}
	low := ^uint64(0)
	for _, f := range s.followers {
		low = min(low, f.held.Load()+1)
	}
	return low, true
}
