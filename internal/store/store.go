package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store/fileutil"
	"github.com/opentrail/opentrail/internal/store/wal"
)

// Options configure a Store.
type Options struct {
	// SegmentSize is the WAL segment size.
	SegmentSize int64
	// MaxLag is how many acknowledged events a gating follower (see
	// FollowOptions.Gate) may have left to apply before Append applies
	// back-pressure.
	MaxLag uint64
	// MaxLagBytes bounds the same lag by the events' size, so memory
	// stays bounded however large the events are. The default, 32 MiB
	// (about 25,000 events of 1.3 KB, an eighth of a second at 200,000
	// events/s), costs no measurable ingest rate: with 128 MiB a
	// benchmark's ingest at 100 events a call peaked at 720–770 MiB of
	// RSS, with 32 MiB at 530–560 (BENCHMARKS.md, issue 13).
	MaxLagBytes int64
	// BackpressureWait is how long Append waits for gating followers to
	// catch up before it gives up with ErrBackpressure.
	BackpressureWait time.Duration
	// MaxBatchBytes caps the bytes one group commit writes.
	MaxBatchBytes int
	// TailBytes bounds the recently acknowledged events the store keeps
	// parsed in memory for followers beyond what gating followers still
	// need; a follower further behind reads the WAL.
	TailBytes int64
	// Followers names the followers (see Follow) that will register after
	// Open; until every one of them has, the log keeps all its records, so
	// none misses events the store acknowledged before it started.
	Followers []string
	// Dedupe answers which events are already stored, for appends with
	// AppendOptions.SkipDuplicates; without it such appends fail.
	Dedupe Deduper
	// Seen is the highest seq the followers' durable checkpoints name:
	// Open refuses to cut a torn WAL tail that would end the log at or
	// below it (wal.Options.Seen).
	Seen   uint64
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults: 32 MiB segments, a lag of at most
// 200,000 events or 128 MiB, and a 64 MiB tail.
func DefaultOptions() Options {
	return Options{
		SegmentSize:      32 << 20,
		MaxLag:           200_000,
		MaxLagBytes:      32 << 20,
		BackpressureWait: 10 * time.Second,
		MaxBatchBytes:    8 << 20,
		TailBytes:        64 << 20,
		Logger:           slog.Default(),
	}
}

// Deduper answers whether events are already stored (the event-history
// index). HasEventIDs MUST report, for each key, whether the partition
// holds an event with that id and, when the key's Time is not 0, that
// time, among the acknowledged events up to and including seq through,
// which it returns with the answer; the store covers the events after it
// itself.
type Deduper interface {
	HasEventIDs(keys []EventKey) (has []bool, through uint64, err error)
}

// EventKey names one event: its partition, eventID and eventTime. A
// duplicate is the same record delivered again, so it has the same time
// (decisions §92); the time lets event history probe only the segments
// whose time range holds it.
type EventKey struct {
	Account, Region, EventID string
	Time                     int64 // eventTime in Unix seconds; 0: any time
}

// keyOf is ev's EventKey.
func keyOf(ev *event.Event) EventKey {
	return EventKey{ev.Account, ev.Region, ev.EventID, max(ev.EventTime.Unix(), 0)}
}

// Store is the durable event log: it makes appended events durable and
// hands them, parsed, to its followers.
type Store struct {
	opts Options
	log  *slog.Logger
	wal  *wal.WAL
	dir  string

	reqs chan *appendReq

	// mu guards what follows. progress is closed and replaced whenever
	// acked moves or the store closes (what followers wait for); applied
	// whenever a gating follower's applied position moves or the store
	// closes (what appends held back by one wait for). Apart, a follower's
	// report does not wake every other follower.
	mu        sync.Mutex
	acked     uint64
	progress  chan struct{}
	applied   chan struct{}
	tail      tail
	followers map[string]*Follower
	closing   bool
	// pending holds the events appended since Open (for SkipDuplicates),
	// until the Deduper covers them; pendingFrom is the head at Open.
	pending     map[EventKey]uint64 // the newest seq of each key
	pendingQ    []pendingEnt        // pending in seq order
	pendingFrom uint64
	// readHolds are the first seqs of the ReadRange calls running: the
	// log keeps them.
	readHolds []uint64

	// unwritable is set (by the writer goroutine only) while the WAL
	// needs a rollback that failed; each append first tries it again.
	// failing is set from a failed commit to the next successful one.
	unwritable, failing bool

	firstSeq   atomic.Uint64 // the WAL's first record, for Follow
	stop       chan struct{}
	writerDone chan struct{}
	closed     atomic.Bool
	metrics    *metrics
}

type pendingEnt struct {
	seq uint64
	key EventKey
}

type appendReq struct {
	evs  []event.Event
	opt  AppendOptions
	done chan appendResp
}

type appendResp struct {
	res AppendResult
	err error
}

// Open opens the store in dir, creating it if needed. It starts the WAL
// writer; followers register with Follow.
func Open(dir string, opts Options) (*Store, error) {
	def := DefaultOptions()
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = def.SegmentSize
	}
	if opts.MaxLag == 0 {
		opts.MaxLag = def.MaxLag
	}
	if opts.MaxLagBytes <= 0 {
		opts.MaxLagBytes = def.MaxLagBytes
	}
	if opts.BackpressureWait <= 0 {
		opts.BackpressureWait = def.BackpressureWait
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = def.MaxBatchBytes
	}
	if opts.TailBytes <= 0 {
		opts.TailBytes = def.TailBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	wo := wal.DefaultOptions()
	wo.SegmentSize, wo.Logger, wo.Seen = opts.SegmentSize, opts.Logger, opts.Seen
	w, err := wal.Open(filepath.Join(dir, "wal"), wo)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{
		opts: opts, log: opts.Logger, wal: w, dir: filepath.Join(dir, "wal"),
		reqs:       make(chan *appendReq, 1024),
		progress:   make(chan struct{}),
		applied:    make(chan struct{}),
		followers:  map[string]*Follower{},
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		metrics:    newMetrics(opts.Registerer),
	}
	s.acked = w.NextSeq() - 1
	s.tail.start = s.acked + 1
	s.pendingFrom = s.acked
	if opts.Dedupe != nil {
		s.pending = map[EventKey]uint64{}
	}
	s.firstSeq.Store(w.FirstSeq())
	go s.writer()
	return s, nil
}

// Append makes evs durable and returns once they are fsynced. Under
// back-pressure it waits up to Options.BackpressureWait, then returns
// ErrBackpressure. The store keeps evs and hands them to followers: the
// caller MUST NOT change them afterwards.
func (s *Store) Append(ctx context.Context, evs []event.Event, opt AppendOptions) (AppendResult, error) {
	if s.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	if len(evs) == 0 {
		return AppendResult{}, nil
	}
	if opt.SkipDuplicates && s.opts.Dedupe == nil {
		return AppendResult{}, errors.New("store append: SkipDuplicates needs Options.Dedupe")
	}
	var deadline <-chan time.Time
	for {
		if err := s.waitRoom(ctx); err != nil {
			return AppendResult{}, err
		}
		req := &appendReq{evs: evs, opt: opt, done: make(chan appendResp, 1)}
		select {
		case s.reqs <- req:
		case <-s.stop:
			return AppendResult{}, ErrClosed
		case <-ctx.Done():
			return AppendResult{}, ctx.Err()
		}
		// Once queued, the request is written whatever the caller's
		// context does: wait for the outcome so that "acknowledged"
		// stays truthful.
		r := <-req.done
		if !errors.Is(r.err, errDedupeBehind) {
			return r.res, r.err
		}
		// The Deduper has not caught up with the events the log held
		// at Open; nothing was written. Wait for followers to move.
		if deadline == nil {
			t := time.NewTimer(s.opts.BackpressureWait)
			defer t.Stop()
			deadline = t.C
		}
		s.mu.Lock()
		applied := s.applied
		s.mu.Unlock()
		select {
		case <-applied:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			s.metrics.backpressure.Inc()
			return AppendResult{}, ErrBackpressure
		case <-ctx.Done():
			return AppendResult{}, ctx.Err()
		}
	}
}

// errDedupeBehind: the Deduper does not cover the log up to the point
// where the store's own pending set starts.
var errDedupeBehind = errors.New("store: deduplication is catching up")

// waitRoom waits while a gating follower is too far behind.
func (s *Store) waitRoom(ctx context.Context) error {
	var timer <-chan time.Time
	for {
		s.mu.Lock()
		lag, lagBytes := s.gateLagLocked()
		ch := s.applied
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return ErrClosed
		}
		if lag < s.opts.MaxLag && lagBytes < s.opts.MaxLagBytes {
			return nil
		}
		if timer == nil {
			t := time.NewTimer(s.opts.BackpressureWait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
			s.metrics.backpressure.Inc()
			return ErrBackpressure
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// truncateEvery is how often the writer deletes released WAL segments.
const truncateEvery = 500 * time.Millisecond

// writer is the single goroutine that writes and fsyncs the WAL.
func (s *Store) writer() {
	defer close(s.writerDone)
	// Segments every follower has released are deleted on this tick: what
	// the log holds beyond the followers' checkpoints, a start after a
	// crash checks again (at 2 s, 200,000 events more under a fast ingest).
	tick := time.NewTicker(truncateEvery)
	defer tick.Stop()
	var group []*appendReq
	lastGroup := 0
	for {
		group = group[:0]
		select {
		case r := <-s.reqs:
			group = append(group, r)
		case <-tick.C:
			s.truncate()
			continue
		case <-s.stop:
			// Drain whatever was queued before the stop, then exit.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
		size := reqBytes(group[0])
		// Under load (the last group was large), wait a moment for more
		// appends so one fsync covers more of them; a lone caller never
		// waits.
		var linger <-chan time.Time
		if lastGroup >= 32 {
			linger = time.After(200 * time.Microsecond)
		}
	more:
		for size < s.opts.MaxBatchBytes {
			select {
			case r := <-s.reqs:
				group = append(group, r)
				size += reqBytes(r)
			default:
				if linger == nil || len(group) >= 2*lastGroup {
					break more
				}
				select {
				case r := <-s.reqs:
					group = append(group, r)
					size += reqBytes(r)
				case <-linger:
					linger = nil
				}
			}
		}
		lastGroup = len(group)
		s.commit(group)
	}
}

func reqBytes(r *appendReq) int {
	n := 0
	for i := range r.evs {
		n += len(r.evs[i].Raw)
	}
	return n
}

// commit writes one group with a single fsync and answers every request.
func (s *Store) commit(group []*appendReq) {
	n := 0
	for _, r := range group {
		n += len(r.evs)
	}
	entries := make([]wal.Entry, 0, n)
	items := make([]*event.Event, 0, n)
	results := make([]AppendResult, len(group))
	errs := make([]error, len(group))
	// batch holds the keys of the group's events, for SkipDuplicates
	// requests to find duplicates among the events written before them in
	// the same group; a group with none needs no keys.
	var batch map[EventKey]struct{}
	if slices.ContainsFunc(group, func(r *appendReq) bool { return r.opt.SkipDuplicates }) {
		batch = map[EventKey]struct{}{}
	}
	stored, derr := s.storedIDs(group)
	for gi, r := range group {
		if r.opt.SkipDuplicates && derr != nil {
			errs[gi] = derr
			continue
		}
		for i := range r.evs {
			ev := &r.evs[i]
			if batch != nil {
				k := keyOf(ev)
				if _, dup := batch[k]; r.opt.SkipDuplicates && (dup || stored[gi][i]) {
					results[gi].Duplicates = append(results[gi].Duplicates, i)
					continue
				}
				batch[k] = struct{}{}
			}
			entries = append(entries, wal.Entry{Account: ev.Account, Region: ev.Region, Raw: ev.Raw})
			items = append(items, ev)
			results[gi].Appended++
		}
	}
	var err error
	var first uint64
	if len(entries) > 0 {
		start := time.Now()
		if err = s.recover(); err == nil {
			first, err = s.wal.Write(entries)
			if err == nil {
				err = s.wal.Sync()
			}
		}
		s.metrics.fsync.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		s.failed(group, items, err)
		return
	}
	if s.failing && len(entries) > 0 {
		s.failing = false
		s.metrics.writable.Set(1)
		s.log.Info("store: the WAL accepts writes again")
	}
	s.mu.Lock()
	if len(items) > 0 {
		for i, ev := range items {
			s.pushLocked(first+uint64(i), ev)
		}
		s.acked = first + uint64(len(items)) - 1
		s.trimTailLocked()
	}
	s.signalLocked()
	acked := s.acked
	s.mu.Unlock()
	s.metrics.appended.Add(float64(len(items)))
	for gi, r := range group {
		if errs[gi] != nil {
			r.done <- appendResp{err: errs[gi]}
			continue
		}
		res := results[gi]
		if res.Appended > 0 {
			res.LastSeq = acked
		}
		r.done <- appendResp{res: res}
	}
}

// recover makes the WAL writable again after a failed write (see
// wal.Rollback), or says it still is not.
func (s *Store) recover() error {
	if !s.unwritable {
		return nil
	}
	if err := s.wal.Rollback(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.unwritable = false
	return nil
}

// failed answers a group whose write or fsync failed (a full disk, an I/O
// error): nothing of it is acknowledged. The WAL is rolled back to what
// was synced; records a segment rotation synced meanwhile stay in the log,
// as events stored without an acknowledgement, so followers get them. The
// store keeps accepting appends and retries the WAL on each, so it
// recovers by itself once the disk does.
func (s *Store) failed(group []*appendReq, items []*event.Event, err error) {
	s.metrics.writeErrors.Inc()
	if !s.failing {
		s.log.Error("store: writing the WAL failed; appends fail with ServiceUnavailable until it works again", "err", err)
	}
	s.failing = true
	s.metrics.writable.Set(0)
	if !errors.Is(err, ErrUnavailable) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.unwritable = s.wal.Rollback() != nil
	s.mu.Lock()
	if next := s.wal.NextSeq(); next > s.acked+1 && !s.unwritable {
		first := s.acked + 1
		for i, ev := range items[:next-first] {
			s.pushLocked(first+uint64(i), ev)
		}
		s.acked = next - 1
		s.trimTailLocked()
	}
	s.signalLocked()
	s.mu.Unlock()
	for _, r := range group {
		r.done <- appendResp{err: fmt.Errorf("store append: %w", err)}
	}
}

// pushLocked adds an acknowledged event to the tail (and pending); the
// caller holds mu.
func (s *Store) pushLocked(seq uint64, ev *event.Event) {
	s.tail.push(Entry{Seq: seq, Event: ev})
	if s.pending != nil {
		k := keyOf(ev)
		s.pending[k] = seq
		s.pendingQ = append(s.pendingQ, pendingEnt{seq, k})
	}
}

// signalLocked wakes everything waiting for more acknowledged events;
// the caller holds mu.
func (s *Store) signalLocked() {
	close(s.progress)
	s.progress = make(chan struct{})
}

// signalAppliedLocked wakes the appends waiting for a gating follower to
// apply more; the caller holds mu.
func (s *Store) signalAppliedLocked() {
	close(s.applied)
	s.applied = make(chan struct{})
}

// Progress returns a channel that is closed when more events are
// acknowledged or the store closes; call it again after each wake-up.
func (s *Store) Progress() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}

// storedIDs reports which events of the SkipDuplicates requests in group
// are already stored: among the events the Deduper covers, or appended
// since Open after them (pending). The Deduper is asked first and pending
// read after it: an event leaves pending only once the Deduper covers it,
// so the two together never miss one.
func (s *Store) storedIDs(group []*appendReq) ([][]bool, error) {
	out := make([][]bool, len(group))
	var keys []EventKey
	for gi, r := range group {
		if !r.opt.SkipDuplicates {
			continue
		}
		out[gi] = make([]bool, len(r.evs))
		for i := range r.evs {
			ev := &r.evs[i]
			keys = append(keys, keyOf(ev))
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	has, through, err := s.opts.Dedupe.HasEventIDs(keys)
	if err != nil {
		return nil, fmt.Errorf("store append: checking for duplicates: %w", err)
	}
	if through < s.pendingFrom {
		return nil, errDedupeBehind
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.pendingQ) && s.pendingQ[n].seq <= through {
		if e := s.pendingQ[n]; s.pending[e.key] == e.seq {
			delete(s.pending, e.key)
		}
		n++
	}
	s.pendingQ = s.pendingQ[n:]
	j := 0
	for gi, r := range group {
		if !r.opt.SkipDuplicates {
			continue
		}
		for i := range r.evs {
			_, p := s.pending[keys[j]]
			out[gi][i] = has[j] || p
			j++
		}
	}
	return out, nil
}

// truncate deletes WAL segments every follower has released. Only the
// writer goroutine calls it, since it owns the WAL.
func (s *Store) truncate() {
	before, ok := s.holdBefore()
	if !ok {
		return
	}
	n, err := s.wal.Truncate(before)
	s.firstSeq.Store(s.wal.FirstSeq())
	if err != nil {
		s.log.Error("store: WAL truncate failed", "err", err)
	} else if n > 0 {
		s.log.Debug("store: WAL segments removed", "segments", n)
	}
}

// Close stops accepting appends, seals the WAL and deletes the segments
// every follower has released. Followers should have stopped first, so
// their releases count; Close does not wait for them. It is safe to call
// twice.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.writerDone // the writer has answered every queued append
	s.mu.Lock()
	s.closing = true
	s.signalLocked()
	s.signalAppliedLocked()
	s.mu.Unlock()
	var errs []error
	if before, ok := s.holdBefore(); ok && before > s.acked {
		// Every follower has released everything: seal the active
		// segment so no WAL data outlives the shutdown.
		if err := s.wal.Seal(); err != nil {
			errs = append(errs, err)
		}
	}
	s.truncate()
	errs = append(errs, s.wal.Close())
	return errors.Join(errs...)
}
