package store

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store/wal"
)

// Entry is an acknowledged event as a follower reads it: its sequence
// number in the log and the event, parsed (record and Summary). Entries are
// shared by every follower: a follower MUST NOT change the event.
type Entry struct {
	Seq   uint64
	Event *event.Event
}

// ErrFollowerBehind means a follower's checkpoint is older than the oldest
// record the log still holds: the events in between are gone. It happens
// only when a follower was not listed in Options.Followers while the store
// ran; the follower must start again from Head.
var ErrFollowerBehind = errors.New("store: follower checkpoint is older than the log")

// FollowOptions configure one follower.
type FollowOptions struct {
	// Gate makes Append wait (back-pressure) while this follower has more
	// than Options.MaxLag events, or MaxLagBytes of them, left to apply
	// (see Follower.Applied). The event-history index gates, so that
	// LookupEvents sees a caller's own calls within a bounded wait; a
	// follower that writes to slower, remote places does not.
	Gate bool
}

// Follower reads acknowledged events in log order from its own checkpoint,
// and holds the log back until it has released them. The event-history
// index and trail delivery are followers. A Follower is used by one
// goroutine at a time, except Applied, Release and Head, which any
// goroutine may call.
type Follower struct {
	s    *Store
	name string
	opt  FollowOptions
	rd   *wal.Reader // reading the WAL, when behind the tail; else nil
	// next is the seq of the next entry Read returns (guarded by the
	// store's mu, which the tail's trimming reads it under).
	next    uint64
	applied atomic.Uint64 // entries up to this seq are applied (Gate)
	held    atomic.Uint64 // records up to this seq may be deleted
	parsed  atomic.Uint64 // entries read back from the WAL and parsed
	// ahead is the next batch being read back from the WAL while the
	// caller applies the last one (nil when none): reading and parsing
	// then take one core, applying another. Until Read hands the batch
	// out, next and Position stay where they were. rest is what a
	// smaller Read left of a batch read ahead.
	ahead chan walBatch
	rest  walBatch
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
func (s *Store) Follow(name string, after uint64, opt FollowOptions) (*Follower, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, dup := s.followers[name]; dup && !f.closed {
		return nil, fmt.Errorf("store: follower %q is already registered", name)
	}
	if after > s.acked {
		return nil, fmt.Errorf("store: follower %q checkpoint %d is ahead of the log's head %d: the WAL lost records the follower had processed (damaged or cut), or its state comes from another data directory; `opentrail fsck --repair` records the lost range", name, after, s.acked)
	}
	if first := s.firstSeq.Load(); after+1 < first && after < s.acked {
		return nil, fmt.Errorf("%w: follower %q is at %d, the log starts at %d", ErrFollowerBehind, name, after, first)
	}
	f := &Follower{s: s, name: name, opt: opt, next: after + 1}
	f.applied.Store(after)
	f.held.Store(after)
	s.followers[name] = f
	return f, nil
}

// Position is the seq of the last entry Read returned, or the end of a gap
// a WAL repair recorded after it: the follower has seen everything up to
// it. A follower that tracks how far it got uses Position, not only its
// entries' seqs, so a recorded gap at the end of the log does not look
// like events still to come.
func (f *Follower) Position() uint64 {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.next - 1
}

// Name is the name the follower registered under.
func (f *Follower) Name() string { return f.name }

// Head returns the seq of the newest acknowledged event.
func (f *Follower) Head() uint64 { return f.s.Head() }

// Progress returns a channel that is closed when more events are
// acknowledged (or the store closes); call it again after each wake-up.
func (f *Follower) Progress() <-chan struct{} { return f.s.Progress() }

// Read returns up to limit acknowledged entries after the last one returned,
// without waiting; an empty result means the follower has caught up.
// Recent entries come from memory, parsed once when they were appended;
// older ones are read back from the WAL and parsed, the next batch while
// the caller applies this one.
func (f *Follower) Read(limit int) ([]Entry, error) {
	if f.ahead != nil {
		f.rest = <-f.ahead
		f.ahead = nil
	}
	if len(f.rest.out) > 0 || f.rest.err != nil {
		return f.takeRest(limit)
	}
	s := f.s
	s.mu.Lock()
	if f.next >= s.tail.start && f.next <= s.acked {
		out := s.tail.from(f.next, limit)
		f.next += uint64(len(out))
		s.mu.Unlock()
		if f.rd != nil {
			f.rd.Close()
			f.rd = nil
		}
		return out, nil
	}
	end := s.acked + 1
	next := f.next
	s.mu.Unlock()
	if next >= end {
		return nil, nil
	}
	f.rest = f.readWAL(limit, next, end)
	return f.takeRest(limit)
}

// walBatch is a batch read back from the WAL: its entries, the follower's
// next seq after them, and the error that ended it, if any.
type walBatch struct {
	out  []Entry
	next uint64
	err  error
}

// takeRest returns up to limit entries of f.rest and moves the follower
// past them. Once a whole batch read back from the WAL is handed out
// without error, the next one is read ahead.
func (f *Follower) takeRest(limit int) ([]Entry, error) {
	b := f.rest
	if len(b.out) > limit {
		f.rest.out = b.out[limit:]
		f.setNext(b.out[limit-1].Seq + 1)
		f.countParsed(limit)
		return b.out[:limit], nil
	}
	f.rest = walBatch{}
	f.setNext(b.next)
	f.countParsed(len(b.out))
	if b.err == nil && len(b.out) == limit {
		f.readAhead(limit, b.next)
	}
	return b.out, b.err
}

func (f *Follower) countParsed(n int) {
	f.parsed.Add(uint64(n))
	f.s.metrics.parsed.WithLabelValues(f.name).Add(float64(n))
}

// readAhead starts reading the batch after next from the WAL, unless the
// follower has caught up with the log (the tail serves it then).
func (f *Follower) readAhead(limit int, next uint64) {
	s := f.s
	s.mu.Lock()
	end := s.acked + 1
	inTail := next >= s.tail.start
	s.mu.Unlock()
	if next >= end || inTail {
		return
	}
	ch := make(chan walBatch, 1)
	f.ahead = ch
	go func() { ch <- f.readWAL(limit, next, end) }()
}

// readWAL reads up to limit entries from next on, before end, from the
// WAL. It uses f.rd, and nothing else of the follower that Read changes.
func (f *Follower) readWAL(limit int, next, end uint64) walBatch {
	if f.rd == nil {
		rd, err := wal.NewReader(f.s.dir, next)
		if err != nil {
			return walBatch{next: next, err: fmt.Errorf("follower %s: %w", f.name, err)}
		}
		f.rd = rd
	}
	var out []Entry
	for len(out) < limit {
		rec, err := f.rd.NextBefore(end)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return walBatch{out: out, next: next, err: fmt.Errorf("follower %s: %w", f.name, err)}
		}
		// The reader skips only a gap a repair recorded (wal.Gap).
		if rec.Seq < next {
			return walBatch{out: out, next: next, err: fmt.Errorf("follower %s: read seq %d, want %d", f.name, rec.Seq, next)}
		}
		out = append(out, Entry{Seq: rec.Seq, Event: f.s.parseRecord(rec)})
		next = rec.Seq + 1
	}
	// Past a gap a repair recorded at the end of what was read: those
	// sequence numbers are lost, not pending. The follower's next is
	// updated once per batch: until then the tail's trimming sees an
	// older position, which only keeps more.
	return walBatch{out: out, next: max(next, f.rd.Passed()+1)}
}

func (f *Follower) setNext(next uint64) {
	f.s.mu.Lock()
	f.next = next
	f.s.mu.Unlock()
}

// parseRecord parses a record read back from the WAL. Only validated
// events are written, so a record that does not parse means a bug or a
// format change: the follower still gets it, with the partition the WAL
// recorded and category "Unknown", and the log says so.
func (s *Store) parseRecord(rec wal.Record) *event.Event {
	// The record was validated before it was written, its frame's CRC
	// checked on reading, and rec.Raw is the reader's own copy: only the
	// summary is derived again, without validating or copying the JSON.
	ev, err := event.ParseStored(rec.Raw)
	if err != nil {
		s.log.Error("store: a WAL record does not parse as an event", "seq", rec.Seq, "err", err)
		s.metrics.unreadable.Inc()
		ev = event.Event{Raw: rec.Raw, Summary: event.Summary{Account: rec.Account, Region: rec.Region, Category: "Unknown", EventID: fmt.Sprintf("seq-%d", rec.Seq)}}
	}
	return &ev
}

// Parsed reports how many entries the follower read back from the WAL
// (and parsed) rather than from memory: at start-up, what it had not made
// durable before; later, only what it fell behind the tail by.
func (f *Follower) Parsed() uint64 { return f.parsed.Load() }

// Applied tells the store that the follower has applied every entry up to
// and including seq (in memory, not necessarily durably): the lag that
// FollowOptions.Gate bounds.
func (f *Follower) Applied(seq uint64) {
	if seq <= f.applied.Load() {
		return
	}
	f.applied.Store(seq)
	if f.opt.Gate {
		f.s.mu.Lock()
		f.s.signalAppliedLocked()
		f.s.mu.Unlock()
	}
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
	if f.ahead != nil {
		<-f.ahead
		f.ahead = nil
	}
	f.rest = walBatch{}
	if f.rd != nil {
		err := f.rd.Close()
		f.rd = nil
		return err
	}
	return nil
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
	low := s.acked + 1
	for _, f := range s.followers {
		low = min(low, f.held.Load()+1)
	}
	for _, h := range s.readHolds {
		low = min(low, h)
	}
	return low, true
}

// gateLagLocked returns how many acknowledged events, and how many bytes
// of them, the furthest-behind gating follower has left to apply.
func (s *Store) gateLagLocked() (uint64, int64) {
	low := s.acked
	for _, f := range s.followers {
		if f.opt.Gate && !f.closed {
			low = min(low, f.applied.Load())
		}
	}
	return s.acked - low, s.tail.bytesAfter(low)
}

// trimTailLocked drops tail entries no follower needs: those every open
// follower has read, and, beyond Options.TailBytes, those every gating
// follower has read (slower followers then read the WAL).
func (s *Store) trimTailLocked() {
	all, gate := s.acked+1, s.acked+1
	for _, f := range s.followers {
		if f.closed {
			continue
		}
		all = min(all, f.next)
		if f.opt.Gate {
			gate = min(gate, f.next)
		}
	}
	s.tail.dropBefore(all)
	for s.tail.bytes > s.opts.TailBytes && s.tail.start < gate {
		s.tail.dropBefore(min(gate, s.tail.start+max(1, uint64(len(s.tail.ents)/8))))
	}
}

// tail is the run of most recently acknowledged entries, kept parsed for
// followers: seqs start, start+1, ... in order.
type tail struct {
	start uint64
	ents  []Entry
	cum   []int64 // cum[i]: bytes of ents[0..i], plus base
	base  int64   // bytes of the entries dropped so far
	bytes int64   // bytes of ents
}

func (t *tail) push(e Entry) {
	n := int64(len(e.Event.Raw))
	t.bytes += n
	last := t.base
	if len(t.cum) > 0 {
		last = t.cum[len(t.cum)-1]
	}
	t.ents = append(t.ents, e)
	t.cum = append(t.cum, last+n)
}

// from returns up to max entries from seq on (start <= seq <= last).
func (t *tail) from(seq uint64, max int) []Entry {
	i := int(seq - t.start)
	j := min(len(t.ents), i+max)
	return append([]Entry(nil), t.ents[i:j]...)
}

// bytesAfter returns the bytes of the entries after seq still in the tail.
func (t *tail) bytesAfter(seq uint64) int64 {
	if len(t.ents) == 0 || seq < t.start {
		return t.bytes
	}
	i := int(seq - t.start) // index of seq; entries after it start at i+1
	if i >= len(t.ents)-1 {
		return 0
	}
	return t.cum[len(t.cum)-1] - t.cum[i]
}

// dropBefore removes the entries with seq < seq.
func (t *tail) dropBefore(seq uint64) {
	if seq <= t.start {
		return
	}
	n := min(int(seq-t.start), len(t.ents))
	if n == 0 {
		t.start = seq
		return
	}
	t.base = t.cum[n-1]
	t.bytes = t.cum[len(t.cum)-1] - t.base
	clear(t.ents[:n]) // let the events go
	t.ents, t.cum = t.ents[n:], t.cum[n:]
	t.start += uint64(n)
	if len(t.ents) == 0 {
		t.start = seq
	}
	// Give the backing arrays back once mostly empty.
	if cap(t.ents) > 1024 && len(t.ents) < cap(t.ents)/4 {
		t.ents = append([]Entry(nil), t.ents...)
		t.cum = append([]int64(nil), t.cum...)
	}
}
