package insights

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// StateFile is the detector's state in its directory
// (docs/format/insights.md).
const StateFile = "state.json"

// Log is the event log as the detector follows it (a *store.Follower).
type Log interface {
	Read(limit int) ([]store.Entry, error)
	Release(seq uint64)
	Position() uint64
	Head() uint64
	Progress() <-chan struct{}
}

// Deps are what Run works with.
type Deps struct {
	Log Log
	// Append adds Insights records to the event log; it returns once
	// they are durable.
	Append func(ctx context.Context, evs []event.Event) error
	// Enabled says where records are written (decision §59).
	Enabled EnabledFunc
}

// Engine is the Insights detector as a follower of the event log, with
// its state in its own directory.
type Engine struct {
	dir  string
	opts Options
	log  *slog.Logger
	met  *metrics

	mu  sync.Mutex // guards what follows
	det *detector
	jr  *journal // metrics.jsonl
	dj  *journal // data.jsonl
	// dataCommitted is the length of data.jsonl the state on disk
	// accounts for: what DataRecords reads.
	dataCommitted int64
	checkpoint    uint64
	hasState      bool
	outbox        []outboxRec
	dirty         bool
	saved         time.Time
}

// Open opens the detector's state in dir, creating dir. A state file that
// does not decode is moved to dir/quarantine and the detector starts
// afresh (Checkpoint then reports none).
func Open(dir string, opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	e := &Engine{dir: dir, opts: opts, log: opts.Logger, met: newMetrics(opts.Registerer)}
	e.det = newDetector(&e.opts)
	committed := int64(-1) // without a state, the journals are kept whole
	defer func() {
		if e.det != nil {
			e.det.closed = e.recordMinute
		}
	}()
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return e, e.openJournals(committed, committed)
	}
	if err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	det, sf, err := decodeFile(b, &e.opts)
	if err != nil {
		q := filepath.Join(dir, "quarantine")
		to := filepath.Join(q, fmt.Sprintf("state-%s.json", opts.Now().UTC().Format("20060102T150405Z")))
		if merr := fileutil.MkdirAll(q, 0o755); merr != nil {
			return nil, errors.Join(err, merr)
		}
		if merr := os.Rename(filepath.Join(dir, StateFile), to); merr != nil {
			return nil, errors.Join(err, merr)
		}
		e.log.Error("insights: the detector's state is damaged; it was set aside and baselines start again from the newest event",
			"err", err, "moved_to", to)
		return e, e.openJournals(committed, committed)
	}
	e.det, e.checkpoint, e.outbox, e.hasState = det, sf.Checkpoint, sf.Outbox, true
	data := committed // a state from before data.jsonl: kept whole
	if sf.Data != nil {
		data = *sf.Data
	}
	return e, e.openJournals(sf.Metrics, data)
}

// openJournals opens metrics.jsonl and data.jsonl, each cut to its
// committed bytes (-1: whole).
func (e *Engine) openJournals(metrics, data int64) error {
	open := func(name string, committed int64, what string) (*journal, error) {
		if committed < 0 {
			committed = 1 << 62
		}
		j, cut, err := openJournal(filepath.Join(e.dir, name), committed)
		if err != nil {
			return nil, err
		}
		if cut > 0 {
			e.log.Info("insights: cut "+what+" written after the last commit; the replay writes them again", "file", name, "bytes", cut)
		}
		return j, nil
	}
	var err error
	if e.jr, err = open(MetricsFile, metrics, "per-minute counts"); err != nil {
		return err
	}
	if e.dj, err = open(DataFile, data, "records of Insights on data events"); err != nil {
		return errors.Join(err, e.jr.close())
	}
	e.dataCommitted = e.dj.size
	return nil
}

func (e *Engine) recordMinute(p *partition, s *series, m int64, n float64) { e.jr.add(p, s, m, n) }

// Close closes the metrics and data files. It is safe to call twice.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.jr.close(), e.dj.close())
}

// Checkpoint returns the seq the detector has durably counted, and false
// when it has no state yet.
func (e *Engine) Checkpoint() (uint64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.checkpoint, e.hasState
}

// Init starts the detector at head (a new data directory, or the log
// moved on without it) and writes its state; baselines kept so far stay.
func (e *Engine) Init(head uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.checkpoint = head
	return e.saveLocked()
}

func (e *Engine) saveLocked() error {
	if err := e.jr.flush(); err != nil {
		return err
	}
	if err := e.dj.flush(); err != nil {
		return err
	}
	data := e.dj.size
	b, err := e.det.encodeState(e.checkpoint, e.outbox, e.jr.size, &data)
	if err != nil {
		return fmt.Errorf("insights: encode state: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(e.dir, StateFile), b, 0o644); err != nil {
		return fmt.Errorf("insights: %w", err)
	}
	e.hasState, e.dirty, e.saved, e.dataCommitted = true, false, e.opts.Now(), data
	e.met.stateBytes.Set(float64(len(b)))
	return nil
}

// Run follows the log until ctx ends: it counts events, judges closed
// minutes, commits its state with the records it decided, and appends
// them (decision §64). It returns an error only when the state cannot be
// written.
func (e *Engine) Run(ctx context.Context, deps Deps) error {
	// Records left in the outbox by an earlier run may be in the log
	// already: they are appended again only once the log up to the head
	// found now has been read without meeting them.
	resolveUntil := deps.Log.Head()
	appended := map[string]bool{} // appended by this run, not read back yet
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var retryAt time.Time
	for {
		progress := deps.Log.Progress()
		n, caughtUp, err := e.consume(deps.Log, appended)
		if err != nil {
			e.log.Error("insights: reading the event log failed; retrying", "err", err)
		}
		if err := e.step(caughtUp, deps, false); err != nil {
			return err
		}
		if deps.Log.Position() >= resolveUntil && !e.opts.Now().Before(retryAt) {
			if err := e.appendOutbox(ctx, deps, appended); err != nil {
				e.log.Warn("insights: appending Insights records failed; retrying", "err", err)
				retryAt = e.opts.Now().Add(5 * time.Second)
			}
		}
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			// What the log holds is counted and committed; records still
			// in the outbox are appended at the next start if they were
			// not now.
			_, caughtUp, err := e.consume(deps.Log, appended)
			if err != nil {
				e.log.Error("insights: reading the event log failed at shutdown", "err", err)
			}
			if err := e.step(caughtUp, deps, true); err != nil {
				return err
			}
			if deps.Log.Position() >= resolveUntil {
				final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := e.appendOutbox(final, deps, appended); err != nil {
					e.log.Info("insights: records left for the next start", "err", err)
				}
			}
			return nil
		case <-progress:
		case <-tick.C:
		}
	}
}

// consume reads up to 16 batches: events are counted, Insights records
// read back leave the outbox.
func (e *Engine) consume(l Log, appended map[string]bool) (n int, caughtUp bool, err error) {
	for range 16 {
		entries, rerr := l.Read(4096)
		if len(entries) > 0 {
			e.mu.Lock()
			for _, en := range entries {
				ev := en.Event
				if ev.Insight() {
					e.resolveLocked(ev, appended)
					continue
				}
				e.det.add(ev)
			}
			e.dirty = true
			e.mu.Unlock()
			n += len(entries)
		}
		if rerr != nil {
			return n, false, rerr
		}
		if len(entries) == 0 {
			return n, true, nil
		}
	}
	return n, false, nil
}

func (e *Engine) resolveLocked(ev *event.Event, appended map[string]bool) {
	for i, r := range e.outbox {
		if r.EventID == ev.EventID && r.Account == ev.Account && r.Region == ev.Region {
			e.outbox = append(e.outbox[:i:i], e.outbox[i+1:]...)
			delete(appended, r.EventID)
			e.dirty = true
			return
		}
	}
}

// saveDue says whether changed state should be written now, the log
// being at pos: SaveInterval after the last save, or a second after it
// once SaveEvents events were read since.
func (e *Engine) saveDue(pos uint64) bool {
	since := e.opts.Now().Sub(e.saved)
	return since >= e.opts.SaveInterval || (since >= time.Second && pos >= e.checkpoint+e.opts.SaveEvents)
}

// step judges closed minutes and commits the state when records were
// decided, when SaveInterval passed with changes, or when final.
func (e *Engine) step(live bool, deps Deps, final bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	before := e.det.late + e.det.dropped
	recs := e.det.advance(e.opts.Now(), live, deps.Enabled)
	if e.det.late+e.det.dropped != before {
		e.dirty = true
	}
	for _, r := range recs {
		e.outbox = append(e.outbox, outboxRec{Account: r.Account, Region: r.Region, EventID: r.EventID, Record: r.Raw})
		e.met.records.Inc()
		if r.Category == event.CategoryData {
			// Committed with the outbox entry (decision §81).
			line, err := dataLine(r)
			if err != nil {
				return err
			}
			e.dj.addLine(line)
		}
	}
	e.met.observe(e.det, len(e.outbox))
	pos := deps.Log.Position()
	if len(recs) == 0 && !final && !(e.dirty && e.saveDue(pos)) {
		return nil
	}
	if pos == e.checkpoint && !e.dirty && len(recs) == 0 {
		return nil
	}
	e.checkpoint = pos
	if err := e.saveLocked(); err != nil {
		return err
	}
	deps.Log.Release(pos)
	changed, err := e.jr.compact(e.opts.Now())
	if err != nil {
		e.log.Warn("insights: dropping old per-minute counts failed; retrying tomorrow", "err", err)
	}
	dchanged, err := e.dj.compact(e.opts.Now())
	if err != nil {
		e.log.Warn("insights: dropping old records of Insights on data events failed; retrying tomorrow", "err", err)
	}
	if changed || dchanged {
		// Commit the shorter file at once: until then fsck counts the
		// dropped bytes as lost.
		return e.saveLocked()
	}
	return nil
}

// appendOutbox appends the outbox records this run has not appended yet.
func (e *Engine) appendOutbox(ctx context.Context, deps Deps, appended map[string]bool) error {
	e.mu.Lock()
	var evs []event.Event
	var ids []string
	for _, r := range e.outbox {
		if appended[r.EventID] {
			continue
		}
		ev, err := Record{Account: r.Account, Region: r.Region, EventID: r.EventID, Raw: r.Record}.Event()
		if err != nil {
			e.mu.Unlock()
			return err
		}
		evs = append(evs, ev)
		ids = append(ids, r.EventID)
	}
	e.mu.Unlock()
	if len(evs) == 0 {
		return nil
	}
	if err := deps.Append(ctx, evs); err != nil {
		return err
	}
	for _, id := range ids {
		appended[id] = true
	}
	e.log.Info("insights: Insights records written", "records", len(evs))
	return nil
}

// Open anomalies, for tests and status.
func (e *Engine) OpenAnomalies() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, p := range e.det.parts {
		n += p.nOpen
	}
	return n
}

type metrics struct {
	records, late, dropped prometheus.Counter
	open, series, outbox   prometheus.Gauge
	stateBytes             prometheus.Gauge
	lastLate, lastDropped  uint64
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		records:    prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_insights_records_total", Help: "Insights records decided (Start and End)."}),
		late:       prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_insights_late_events_total", Help: "Events for a minute the detector had already judged; not counted."}),
		dropped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_insights_dropped_total", Help: "Anomalies not raised because MaxOpen were open in their account and region."}),
		open:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_insights_open_anomalies", Help: "Anomalies open."}),
		series:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_insights_series", Help: "Series (account, region, API, type, error code) the detector keeps."}),
		outbox:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_insights_outbox", Help: "Insights records decided and not yet read back from the log."}),
		stateBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_insights_state_bytes", Help: "Size of the last state file written."}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.late, m.dropped, m.open, m.series, m.outbox, m.stateBytes)
	}
	return m
}

func (m *metrics) observe(d *detector, outbox int) {
	m.late.Add(float64(d.late - m.lastLate))
	m.dropped.Add(float64(d.dropped - m.lastDropped))
	m.lastLate, m.lastDropped = d.late, d.dropped
	open, series := 0, 0
	for _, p := range d.parts {
		open += p.nOpen
		series += len(p.series)
	}
	m.open.Set(float64(open))
	m.series.Set(float64(series))
	m.outbox.Set(float64(outbox))
}
