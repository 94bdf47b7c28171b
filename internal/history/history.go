// Package history is event history: the follower of the event log that
// keeps the lookup index (package store/index) and answers LookupEvents.
//
// It reads parsed events from the log with its own durable checkpoint (the
// index MANIFEST's), applies them to the index's memtable, and releases the
// log up to what the index has flushed. It gates the log (store
// FollowOptions.Gate): appends wait while it is too far behind, so a lookup
// sees every event acknowledged before it within a bounded wait. It also
// answers the store's duplicate checks for imports, and deletes events older
// than the retention window: a sweep deletes the events applied so far that
// are older than the window, never events applied after it (an import of
// old logs with retention 0 keeps them, whatever an earlier sweep did).
//
// When the index finds a segment damaged, it quarantines it and serves the
// rest; Run then rebuilds the segment from the log (Log.ReadRange) if the
// log still holds its range, and otherwise logs that the events are missing
// from event history until the trail's log files are imported again
// (fsck reports it too).
package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/index"
)

// Log is the event log as history follows it (a *store.Follower).
type Log interface {
	Read(max int) ([]store.Entry, error)
	Progress() <-chan struct{}
	Applied(seq uint64)
	Release(seq uint64)
	Head() uint64
	Position() uint64
	// ReadRange reads back the records from..to, which history released
	// long ago, to rebuild a damaged index segment; it MUST fail with an
	// error wrapping store.ErrNotRetained when the log no longer holds
	// them, and MUST be safe to call while another goroutine calls Read.
	ReadRange(from, to uint64, fn func(store.Entry) error) error
}

// Options configure History.
type Options struct {
	// Retention is how long events stay in event history; 0 keeps them
	// forever. Older events are hidden from lookups at once and deleted
	// by the sweep (those applied before it ran: see Sweep).
	Retention time.Duration
	// FirstSweep is how long after Run starts the first retention sweep
	// runs; SweepInterval how often the next ones do. A zero FirstSweep
	// turns sweeping off (import, which must not delete while it adds).
	FirstSweep    time.Duration
	SweepInterval time.Duration
	// CacheSize is the index block cache in bytes; 0 means the index's
	// default.
	CacheSize int64
	Now       func() time.Time
	Logger    *slog.Logger
	// Registerer receives history's metrics (damaged index segments); nil
	// registers none.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults: 90-day retention, swept a minute
// after start and hourly after that.
func DefaultOptions() Options {
	return Options{
		Retention:     90 * 24 * time.Hour,
		FirstSweep:    time.Minute,
		SweepInterval: time.Hour,
		Now:           time.Now,
		Logger:        slog.Default(),
	}
}

// History is event history.
type History struct {
	opts Options
	log  *slog.Logger
	ix   *index.Index

	mu       sync.Mutex
	cond     chan struct{} // closed and replaced when applied moves
	applied  uint64
	head     func() uint64 // the log's head, once Run has started
	started  chan struct{} // closed when Run starts
	startOne sync.Once
	closed   bool
	parsed   int  // entries Run read before it first caught up
	caughtUp bool // Run has caught up with the log once
	// published, when set (tests), is called with each new applied seq.
	published func(seq uint64)
}

var _ store.Deduper = (*History)(nil)

// Open opens the index in dir, creating it if needed. Run follows the log.
func Open(dir string, opts Options) (*History, error) {
	def := DefaultOptions()
	if opts.Retention < 0 {
		return nil, fmt.Errorf("open history: negative retention %v", opts.Retention)
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
	ixo := index.DefaultOptions()
	ixo.Logger = opts.Logger
	if opts.CacheSize > 0 {
		ixo.CacheSize = opts.CacheSize
	}
	ix, err := index.Open(dir, ixo)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	h := &History{opts: opts, log: opts.Logger, ix: ix, cond: make(chan struct{}), started: make(chan struct{})}
	h.applied = ix.Checkpoint()
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "opentrail_history_segments_quarantined_total",
				Help: "Event-history index segments found damaged and moved to quarantine since start.",
			}, func() float64 { return float64(ix.QuarantineCount()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "opentrail_history_missing_events",
				Help: "Events of quarantined index segments not rebuilt from the log: missing from event history until re-imported.",
			}, func() float64 { return float64(h.missing()) }),
		)
	}
	return h, nil
}

// missing counts the events of quarantined segments not rebuilt.
func (h *History) missing() int {
	n := 0
	for _, q := range h.ix.Quarantined() {
		if q.RebuiltAs == "" {
			n += q.Events
		}
	}
	return n
}

// Checkpoint is the seq of the last event the index holds durably: the
// history follows the log from the next one.
func (h *History) Checkpoint() uint64 { return h.ix.Durable() }

// Run follows the log, applying events to the index, until ctx is
// cancelled; then it applies everything the log holds, flushes the index
// and releases the log up to it. It also runs the retention sweeps, and
// rebuilds quarantined index segments from the log.
func (h *History) Run(ctx context.Context, log Log) error {
	h.mu.Lock()
	h.head = log.Head
	h.mu.Unlock()
	h.startOne.Do(func() { close(h.started) })
	rctx, stopRebuilds := context.WithCancel(ctx)
	rebuilds := make(chan struct{})
	go func() {
		defer close(rebuilds)
		h.rebuilder(rctx, log)
	}()
	defer func() {
		stopRebuilds()
		<-rebuilds
	}()
	sweep := h.sweepTimer()
	defer sweep.Stop()
	for {
		progress := log.Progress()
		n, err := h.apply(log)
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		h.mu.Lock()
		first, parsed := !h.caughtUp, h.parsed
		h.caughtUp = true
		h.mu.Unlock()
		if first && parsed > 0 {
			h.log.Info("history: caught up with the log", "events", parsed, "at", h.Applied())
		}
		log.Release(h.ix.Durable())
		select {
		case <-ctx.Done():
			for {
				n, err := h.apply(log)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
			}
			ck, err := h.ix.Sync()
			if err != nil {
				return fmt.Errorf("history: %w", err)
			}
			log.Release(ck)
			return nil
		case <-progress:
		case <-sweep.C:
			if _, err := h.Sweep(); err != nil {
				h.log.Error("history: retention sweep failed", "err", err)
			}
			sweep.Reset(h.opts.SweepInterval)
		case <-time.After(time.Second):
			// The index flushes on its own (by size and age); what it
			// has flushed, the log may drop.
		}
	}
}

// sweepTimer returns the timer of the first sweep; it never fires when
// sweeping is off.
func (h *History) sweepTimer() *time.Timer {
	t := time.NewTimer(h.opts.FirstSweep)
	if h.opts.Retention == 0 || h.opts.FirstSweep <= 0 {
		t.Stop()
	}
	return t
}

// apply reads one batch from the log and applies it; it returns how many
// events it applied. It applies the batch a chunk at a time and publishes
// each chunk as applied, so a lookup waits for the events acknowledged
// before it, not for the rest of the batch they were read in (a batch of
// 8,192 events takes about 30 ms to index, more while ingest shares the
// cores).
func (h *History) apply(log Log) (int, error) {
	ents, err := log.Read(8192)
	items := make([]index.Item, len(ents))
	for i, e := range ents {
		items[i] = index.Item{Seq: e.Seq, Event: e.Event}
	}
	for len(items) > 0 {
		n := min(len(items), index.ApplyChunk)
		if aerr := h.ix.Apply(items[:n]); aerr != nil {
			return 0, fmt.Errorf("history: %w", aerr)
		}
		h.publish(items[n-1].Seq, n)
		items = items[n:]
	}
	if len(ents) > 0 {
		log.Release(h.ix.Durable())
	}
	// The log's position, not only the last entry: past a gap a WAL
	// repair recorded, the lost seqs are not events still to come. The
	// log hears of progress once a batch: each report wakes every
	// follower waiting on it.
	pos := log.Position()
	h.publish(pos, 0)
	log.Applied(pos)
	if err != nil {
		return len(ents), fmt.Errorf("history: reading the log: %w", err)
	}
	return len(ents), nil
}

// publish records that every event up to seq is in the index, n of them
// read since the last call, and wakes the lookups waiting for it.
func (h *History) publish(seq uint64, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.caughtUp {
		// Counted before applied moves, so that Replayed is right as
		// soon as WaitApplied returns.
		h.parsed += n
	}
	if seq <= h.applied {
		return
	}
	h.applied = seq
	close(h.cond)
	h.cond = make(chan struct{})
	if h.published != nil {
		h.published(seq)
	}
}

// rebuilder rebuilds quarantined segments from the log, at start and
// whenever the index quarantines one, until ctx is cancelled. It tries each
// once per Run.
func (h *History) rebuilder(ctx context.Context, log Log) {
	tried := map[string]bool{}
	for {
		for _, q := range h.ix.Quarantined() {
			if q.RebuiltAs != "" || tried[q.File] {
				continue
			}
			tried[q.File] = true
			h.rebuild(ctx, log, q)
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-h.ix.QuarantineNotify():
		}
	}
}

// rebuild rebuilds one quarantined segment from the log.
func (h *History) rebuild(ctx context.Context, log Log, q index.QuarantinedSegment) {
	attrs := []any{"file", q.File, "first", q.First, "last", q.Last, "events", q.Events}
	name, err := h.ix.RebuildQuarantined(q.File, func(add func(index.Item) error) error {
		return log.ReadRange(q.First, q.Last, func(e store.Entry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return add(index.Item{Seq: e.Seq, Event: e.Event})
		})
	})
	switch {
	case err == nil:
		h.log.Info("history: rebuilt a quarantined index segment from the event log", append(attrs, "as", name)...)
	case ctx.Err() != nil:
	case errors.Is(err, store.ErrNotRetained), errors.Is(err, index.ErrRangeUnknown):
		h.log.Error("history: the events of a quarantined index segment are missing from event history and the event log no longer holds them: import the trail's log files again (opentrail import) to get them back", append(attrs, "err", err)...)
	default:
		h.log.Error("history: rebuilding a quarantined index segment failed", append(attrs, "err", err)...)
	}
}

// Count returns how many events event history holds (of every kind, not
// deleted by retention), among those the index has applied (see Applied):
// to count every event the log has acknowledged, call WaitCaughtUp first.
// Events of a quarantined segment are not counted.
func (h *History) Count() (int, error) {
	n, err := h.ix.Count()
	if err != nil {
		return 0, fmt.Errorf("history count: %w", err)
	}
	return n, nil
}

// CountBefore is Count for the events whose time is before t (at second
// precision, as Sweep cuts): how many a sweep with that cutoff would
// delete, such as a retention change to now minus the new window.
func (h *History) CountBefore(t time.Time) (int, error) {
	n, err := h.ix.CountBefore(t.Unix())
	if err != nil {
		return 0, fmt.Errorf("history count: %w", err)
	}
	return n, nil
}

// Applied is the seq of the last event applied to the index.
func (h *History) Applied() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.applied
}

// Replayed reports how many events Run read before it first caught up with
// the log: at start-up, only the tail the index had not made durable.
func (h *History) Replayed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.parsed
}

// WaitApplied blocks until the index has applied every event up to seq.
func (h *History) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		h.mu.Lock()
		done, ch, closed := h.applied >= seq, h.cond, h.closed
		h.mu.Unlock()
		if done {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitCaughtUp blocks until the index has applied every event the log had
// acknowledged when it was called. It waits for Run to start first.
func (h *History) WaitCaughtUp(ctx context.Context) error {
	select {
	case <-h.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.Lock()
	head := h.head
	h.mu.Unlock()
	return h.WaitApplied(ctx, head())
}

// HasEventIDs reports which events the index holds, for the store's
// duplicate checks (store.Deduper).
func (h *History) HasEventIDs(keys []store.EventKey) ([]bool, uint64, error) {
	ks := make([]index.EventKey, len(keys))
	for i, k := range keys {
		ks[i] = index.EventKey{Account: k.Account, Region: k.Region, EventID: k.EventID, Time: k.Time}
	}
	return h.ix.HasEventIDs(ks)
}

// Lookup runs q against event history. Events acknowledged before the call
// are visible to it.
func (h *History) Lookup(ctx context.Context, q Query) (Page, error) {
	if err := h.WaitCaughtUp(ctx); err != nil {
		return Page{}, err
	}
	now := h.opts.Now()
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
		iq.End = now.Unix()
	}
	if h.opts.Retention > 0 {
		if cut := now.Add(-h.opts.Retention).Unix(); iq.Start < cut {
			iq.Start = cut
		}
	}
	hits, next, err := h.ix.Lookup(iq)
	if errors.Is(err, index.ErrBadCursor) {
		return Page{}, ErrBadCursor
	}
	if err != nil {
		return Page{}, fmt.Errorf("history lookup: %w", err)
	}
	page := Page{Events: make([]event.Event, 0, len(hits)), Next: next}
	for _, hit := range hits {
		ev, err := event.ParseStored(hit.Raw)
		if err != nil {
			return Page{}, fmt.Errorf("history lookup: stored event %d does not parse: %w", hit.Seq, err)
		}
		page.Events = append(page.Events, ev)
	}
	return page, nil
}

// Sweep deletes the events applied so far that are older than the
// retention window now, and returns how many it deleted. Events applied
// later are not affected by it, however old. With retention 0 it does
// nothing.
func (h *History) Sweep() (int, error) {
	if h.opts.Retention == 0 {
		return 0, nil
	}
	cutoff := h.opts.Now().Add(-h.opts.Retention).Unix()
	n, err := h.ix.Sweep(cutoff)
	if n > 0 {
		h.log.Info("history: retention removed expired events", "events", n, "retention", h.opts.Retention)
	}
	return n, err
}

// Compact fully compacts the index (benchmarks use it before measuring
// bytes on disk).
func (h *History) Compact() error { return h.ix.Compact() }

// Close flushes and closes the index. Run must have returned. It is safe to
// call twice.
func (h *History) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.cond)
	h.cond = make(chan struct{})
	h.mu.Unlock()
	return h.ix.Close()
}
