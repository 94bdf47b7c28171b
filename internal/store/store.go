package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store/index"
	"github.com/opentrail/opentrail/internal/store/wal"
)

// Options configure a Store.
type Options struct {
	// Retention is how long events stay in event history; 0 keeps them
	// forever.
	Retention time.Duration
	// SegmentSize is the WAL segment size.
	SegmentSize int64
	// MaxLag is how many acknowledged events may wait for the index before
	// Append applies back-pressure.
	MaxLag uint64
	// MaxLagBytes bounds the same queue by the events' size, so memory
	// stays bounded however large the events are.
	MaxLagBytes int64
	// BackpressureWait is how long Append waits for the index to catch up
	// before it gives up with ErrBackpressure.
	BackpressureWait time.Duration
	// MaxBatchBytes caps the bytes one group commit writes.
	MaxBatchBytes int
	// SweepInterval is how often expired events are deleted.
	SweepInterval time.Duration
	// IndexCacheSize is the index block cache in bytes; 0 means the
	// index's default.
	IndexCacheSize int64
	// Followers names the followers (see Follow) that will register after
	// Open; until every one of them has, the log keeps all its records, so
	// none misses events the store acknowledged before it started.
	Followers  []string
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults: 90-day retention, 32 MiB segments.
func DefaultOptions() Options {
	return Options{
		Retention:        90 * 24 * time.Hour,
		SegmentSize:      32 << 20,
		MaxLag:           200_000,
		MaxLagBytes:      128 << 20,
		BackpressureWait: 10 * time.Second,
		MaxBatchBytes:    8 << 20,
		SweepInterval:    time.Hour,
		Now:              time.Now,
		Logger:           slog.Default(),
	}
}

// Store is the durable event store.
type Store struct {
	opts Options
	log  *slog.Logger
	wal  *wal.WAL
	ix   *index.Index

	reqs chan *appendReq

	// acked is the last seq made durable; indexed the last seq applied to
	// the index. progress is closed and replaced whenever either moves.
	mu       sync.Mutex
	acked    uint64
	indexed  uint64
	progress chan struct{}
	queue    []index.Item
	lagBytes int64               // bytes of the events in queue
	pending  map[string]struct{} // eventIDs in the WAL but not yet indexed
	closing  bool

	durable atomic.Uint64 // index checkpoint known to be synced

	followers map[string]*Follower // guarded by mu
	firstSeq  atomic.Uint64        // the WAL's first record, for Follow

	walPath    string
	replayed   int // WAL records applied to the index by Open
	stop       chan struct{}
	writerDone chan struct{}
	wg         sync.WaitGroup
	closed     atomic.Bool
	metrics    *metrics
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

// Open opens the store in dir, creating it if needed, and replays the part of
// the WAL that the index has not applied.
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
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = def.SweepInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("open store: negative retention %v", opts.Retention)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	wo := wal.DefaultOptions()
	wo.SegmentSize, wo.Logger = opts.SegmentSize, opts.Logger
	w, err := wal.Open(filepath.Join(dir, "wal"), wo)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	ixo := index.DefaultOptions()
	ixo.Logger = opts.Logger
	if opts.IndexCacheSize > 0 {
		ixo.CacheSize = opts.IndexCacheSize
	}
	ix, err := index.Open(filepath.Join(dir, "index"), ixo)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open store: %w", err), w.Close())
	}
	s := &Store{
		opts: opts, log: opts.Logger, wal: w, ix: ix,
		reqs:       make(chan *appendReq, 1024),
		progress:   make(chan struct{}),
		pending:    map[string]struct{}{},
		followers:  map[string]*Follower{},
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		walPath:    filepath.Join(dir, "wal"),
		metrics:    newMetrics(opts.Registerer),
	}
	if err := s.replay(); err != nil {
		return nil, errors.Join(fmt.Errorf("open store: %w", err), ix.Close(), w.Close())
	}
	s.acked = w.NextSeq() - 1
	s.firstSeq.Store(w.FirstSeq())
	s.indexed = s.acked
	s.durable.Store(ix.Durable()) // below acked only after a recorded gap
	s.wg.Add(2)
	go s.writer()
	go s.indexer()
	go s.sweeper()
	return s, nil
}

// replay applies WAL records after the index checkpoint.
func (s *Store) replay() error {
	from := s.ix.Checkpoint() + 1
	next := s.wal.NextSeq()
	if from >= next {
		return nil
	}
	if first := s.wal.FirstSeq(); from < first {
		return fmt.Errorf("replay: index checkpoint %d is older than the WAL's first record %d; run opentrail fsck", from-1, first)
	}
	start := time.Now()
	rd, err := wal.NewReader(s.walPath, from)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer rd.Close()
	var batch []index.Item
	n := 0
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		if rec.Seq >= next {
			break
		}
		ev, perr := event.Parse(rec.Raw)
		if perr != nil {
			// Only validated events are written, so this means a bug or
			// a format change; keep the record out of the index but say so.
			s.log.Error("replay: unreadable event in WAL, not indexed", "seq", rec.Seq, "err", perr)
			ev = event.Event{Raw: rec.Raw, Summary: event.Summary{Account: rec.Account, Region: rec.Region, Category: "Unknown", EventID: fmt.Sprintf("seq-%d", rec.Seq)}}
		}
		batch = append(batch, index.Item{Seq: rec.Seq, Event: &ev})
		if len(batch) >= 4096 {
			if err := s.ix.Apply(batch); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			n += len(batch)
			batch = batch[:0]
		}
	}
	if err := s.ix.Apply(batch); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	n += len(batch)
	s.replayed = n
	// The index stops short of next-1 only where a repair recorded the
	// last records as lost (a gap the reader passed).
	if ck := s.ix.Checkpoint(); ck != next-1 && (rd.Passed() != next-1 || ck > next-1) {
		return fmt.Errorf("replay: WAL ends at %d but index reached %d", next-1, ck)
	}
	if _, err := s.ix.Sync(); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	s.log.Info("store: replayed WAL into index", "events", n, "from", from, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// Append makes evs durable and returns once they are fsynced. Under
// back-pressure it waits up to Options.BackpressureWait, then returns
// ErrBackpressure.
func (s *Store) Append(ctx context.Context, evs []event.Event, opt AppendOptions) (AppendResult, error) {
	if s.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	if len(evs) == 0 {
		return AppendResult{}, nil
	}
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
	// Once queued, the request is written whatever the caller's context
	// does: wait for the outcome so that "acknowledged" stays truthful.
	r := <-req.done
	return r.res, r.err
}

func (s *Store) waitRoom(ctx context.Context) error {
	var timer <-chan time.Time
	for {
		s.mu.Lock()
		lag, lagBytes := s.acked-s.indexed, s.lagBytes
		ch := s.progress
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

func dedupeKey(account, region, id string) string { return account + "/" + region + "/" + id }

// writer is the single goroutine that writes and fsyncs the WAL.
func (s *Store) writer() {
	defer close(s.writerDone)
	tick := time.NewTicker(2 * time.Second)
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
	var entries []wal.Entry
	var items []*event.Event
	results := make([]AppendResult, len(group))
	batchIDs := map[string]struct{}{}
	stored := s.storedIDs(group)
	for gi, r := range group {
		for i := range r.evs {
			ev := &r.evs[i]
			k := dedupeKey(ev.Account, ev.Region, ev.EventID)
			if r.opt.SkipDuplicates {
				if _, dup := batchIDs[k]; dup || stored[gi][i] {
					results[gi].Duplicates = append(results[gi].Duplicates, i)
					continue
				}
			}
			// Every stored event goes into pending, not only deduplicated
			// ones: a later deduplicating append must see it too.
			batchIDs[k] = struct{}{}
			entries = append(entries, wal.Entry{Account: ev.Account, Region: ev.Region, Raw: ev.Raw})
			items = append(items, ev)
			results[gi].Appended++
		}
	}
	var err error
	var first uint64
	if len(entries) > 0 {
		start := time.Now()
		first, err = s.wal.Write(entries)
		if err == nil {
			err = s.wal.Sync()
		}
		s.metrics.fsync.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		// The WAL may now hold records past what we acknowledge. They are
		// not acknowledged; reopening decides their fate. Refuse further
		// writes rather than risk a gap.
		s.log.Error("store: WAL write failed; no further appends accepted", "err", err)
		for _, r := range group {
			r.done <- appendResp{err: fmt.Errorf("store append: %w", err)}
		}
		s.mu.Lock()
		s.closing = true
		close(s.progress)
		s.progress = make(chan struct{})
		s.mu.Unlock()
		return
	}
	qitems := make([]index.Item, len(items))
	for i, ev := range items {
		qitems[i] = index.Item{Seq: first + uint64(i), Event: ev}
	}
	s.mu.Lock()
	for k := range batchIDs {
		s.pending[k] = struct{}{}
	}
	if len(qitems) > 0 {
		s.queue = append(s.queue, qitems...)
		for _, e := range entries {
			s.lagBytes += int64(len(e.Raw))
		}
		s.acked = qitems[len(qitems)-1].Seq
	}
	close(s.progress)
	s.progress = make(chan struct{})
	acked := s.acked
	s.mu.Unlock()
	s.metrics.appended.Add(float64(len(items)))
	seq := uint64(0)
	for gi, r := range group {
		res := results[gi]
		if res.Appended > 0 {
			seq = acked
		}
		res.LastSeq = seq
		r.done <- appendResp{res: res}
	}
}

// storedIDs reports which events of the SkipDuplicates requests in group
// are already stored: in the WAL waiting for the index (pending), or in the
// index. Pending is checked first: an event leaves pending only after the
// index has it, so pending-then-index never misses one, whereas the other
// order could miss an event the indexer moves in between.
func (s *Store) storedIDs(group []*appendReq) [][]bool {
	out := make([][]bool, len(group))
	var keys []index.EventKey
	s.mu.Lock()
	for gi, r := range group {
		if !r.opt.SkipDuplicates {
			continue
		}
		out[gi] = make([]bool, len(r.evs))
		for i := range r.evs {
			ev := &r.evs[i]
			_, out[gi][i] = s.pending[dedupeKey(ev.Account, ev.Region, ev.EventID)]
			keys = append(keys, index.EventKey{Account: ev.Account, Region: ev.Region, EventID: ev.EventID})
		}
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		return out
	}
	has, err := s.ix.HasEventIDs(keys)
	if err != nil {
		s.log.Error("store: dedupe lookup failed; storing the events", "err", err)
		return out
	}
	j := 0
	for gi, r := range group {
		if !r.opt.SkipDuplicates {
			continue
		}
		for i := range r.evs {
			out[gi][i] = out[gi][i] || has[j]
			j++
		}
	}
	return out
}

// truncate deletes WAL segments the index has durably applied and every
// follower has released. Only the writer goroutine calls it, since it owns
// the WAL.
func (s *Store) truncate() {
	before := s.durable.Load() + 1
	hold, ok := s.holdBefore()
	if !ok {
		return
	}
	before = min(before, hold)
	n, err := s.wal.Truncate(before)
	s.firstSeq.Store(s.wal.FirstSeq())
	if err != nil {
		s.log.Error("store: WAL truncate failed", "err", err)
	} else if n > 0 {
		s.log.Debug("store: WAL segments removed", "segments", n)
	}
}

// indexer applies acknowledged events to the index.
func (s *Store) indexer() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 {
			ch := s.progress
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-ch:
			case <-time.After(time.Second):
				// The index flushes on its own (by size and age);
				// what it has flushed, the WAL may drop.
				s.durable.Store(s.ix.Durable())
			}
			s.mu.Lock()
		}
		items := s.queue
		s.queue = nil
		s.mu.Unlock()
		for len(items) > 0 {
			n := min(len(items), 8192)
			if err := s.ix.Apply(items[:n]); err != nil {
				// The index can be rebuilt from the WAL on the next
				// open; stop applying so the checkpoint stays truthful.
				s.log.Error("store: index apply failed; lookups will lag until restart", "err", err)
				return
			}
			s.mu.Lock()
			for _, it := range items[:n] {
				delete(s.pending, dedupeKey(it.Event.Account, it.Event.Region, it.Event.EventID))
				s.lagBytes -= int64(len(it.Event.Raw))
			}
			s.indexed = items[n-1].Seq
			close(s.progress)
			s.progress = make(chan struct{})
			s.mu.Unlock()
			items = items[n:]
		}
		s.durable.Store(s.ix.Durable())
	}
}

// sweeper deletes events older than the retention window.
func (s *Store) sweeper() {
	defer s.wg.Done()
	if s.opts.Retention == 0 {
		<-s.stop
		return
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if _, err := s.Sweep(); err != nil {
			s.log.Error("store: retention sweep failed", "err", err)
		}
		t.Reset(s.opts.SweepInterval)
	}
}

// Sweep deletes events older than the retention window now and returns how
// many it deleted. With retention 0 it does nothing.
func (s *Store) Sweep() (int, error) {
	if s.opts.Retention == 0 {
		return 0, nil
	}
	cutoff := s.opts.Now().Add(-s.opts.Retention).Unix()
	n, err := s.ix.Sweep(cutoff)
	if n > 0 {
		s.log.Info("store: retention removed expired events", "events", n, "retention", s.opts.Retention)
	}
	return n, err
}

// WaitIndexed blocks until every event acknowledged before the call is
// visible to Lookup.
func (s *Store) WaitIndexed(ctx context.Context) error {
	s.mu.Lock()
	target := s.acked
	s.mu.Unlock()
	for {
		s.mu.Lock()
		done := s.indexed >= target
		ch := s.progress
		closing := s.closing
		s.mu.Unlock()
		if done {
			return nil
		}
		if closing {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Lookup runs q against event history. Events acknowledged before the call
// are visible to it.
func (s *Store) Lookup(ctx context.Context, q Query) (Page, error) {
	if s.closed.Load() {
		return Page{}, ErrClosed
	}
	if err := s.WaitIndexed(ctx); err != nil {
		return Page{}, err
	}
	iq := index.Query{
		Account: q.Account, Region: q.Region,
		Kind: index.KindManagement, Attr: byte(q.Key), Value: q.Value,
		Start: q.Start.Unix(), End: q.End.Unix(), Limit: q.Limit, Cursor: q.Cursor,
	}
	if q.Insight {
		iq.Kind = index.KindInsight
	}
	if q.Start.IsZero() {
		iq.Start = 0
	}
	if q.End.IsZero() {
		iq.End = s.opts.Now().Unix()
	}
	if s.opts.Retention > 0 {
		if cut := s.opts.Now().Add(-s.opts.Retention).Unix(); iq.Start < cut {
			iq.Start = cut
		}
	}
	hits, next, err := s.ix.Lookup(iq)
	if errors.Is(err, index.ErrBadCursor) {
		return Page{}, ErrBadCursor
	}
	if err != nil {
		return Page{}, fmt.Errorf("store lookup: %w", err)
	}
	page := Page{Events: make([]event.Event, 0, len(hits)), Next: next}
	for _, h := range hits {
		ev, err := event.Parse(h.Raw)
		if err != nil {
			s.log.Error("store lookup: stored event does not parse", "seq", h.Seq, "err", err)
			continue
		}
		page.Events = append(page.Events, ev)
	}
	return page, nil
}

// Replayed reports how many WAL records Open had to apply to the index:
// only the tail the index had not made durable, never the whole history.
func (s *Store) Replayed() int { return s.replayed }

// Compact fully compacts the index (benchmarks use it before measuring
// bytes on disk).
func (s *Store) Compact() error { return s.ix.Compact() }

// Close stops accepting appends, waits until the index has applied every
// acknowledged event, and closes the WAL and the index. It is safe to call
// twice.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.writerDone // the writer has answered every queued append
	s.mu.Lock()
	s.closing = true
	close(s.progress)
	s.progress = make(chan struct{})
	s.mu.Unlock()
	s.wg.Wait() // the indexer has applied everything acknowledged
	var errs []error
	if ck, err := s.ix.Sync(); err != nil {
		errs = append(errs, err)
	} else {
		s.durable.Store(ck)
		// Everything is applied and synced: seal the active segment so no
		// WAL data outlives the shutdown. Followers added later (trail
		// delivery, lake) will hold segments back with their checkpoints.
		if err := s.wal.Seal(); err != nil {
			errs = append(errs, err)
		}
		s.truncate()
	}
	errs = append(errs, s.wal.Close(), s.ix.Close())
	return errors.Join(errs...)
}
