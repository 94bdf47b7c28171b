// Package lake is OpenTrail's CloudTrail Lake: event data stores kept as
// open Parquet files (docs/format/lake.md) and queried with the Lake SQL
// dialect through embedded DuckDB.
//
// The [Engine] is one follower of the event log. It gives every event to
// each event data store that ingests it (its account, a region it covers,
// its advanced event selectors, a log position inside one of its ingestion
// ranges) after that store's own durable checkpoint, so an event lands in
// each store exactly once across crashes. Stores are written in small
// batches (at most Options.FlushInterval apart, so an event is queryable
// within about that long), compacted in the background (today's files by
// size tier, an earlier day's into files of up to Options.CompactMaxRows
// events), and cut by retention a day at a time.
//
// Queries ([Engine.StartQuery]) run asynchronously on a DuckDB instance
// per account that can read only that account's directory; the statement is
// translated and validated by package dialect before it runs, and reads
// only the snapshot of files its stores had when it started. A query
// started with a DeliveryS3Uri that finishes has its results written to the
// bucket by package resultfile (Options.Results), its DeliveryStatus going
// from PENDING to SUCCESS or the failure's status.
package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Range is a run of event-log sequence numbers a store ingests: From to To
// inclusive; To 0 means still open.
type Range struct{ From, To uint64 }

// StoreSpec is an event data store as the engine needs it: the catalogue's
// view, converted by whoever wires the engine.
type StoreSpec struct {
	ID         string
	Account    string
	HomeRegion string
	// MultiRegion stores ingest events of every region.
	MultiRegion bool
	// Ingest are the log ranges the store ingests.
	Ingest []Range
	// Selectors are its advanced event selectors.
	Selectors []selector.AdvancedEventSelector
	// Retention is how long events are kept (by eventTime).
	Retention time.Duration
	// Deleted is true while the store is PENDING_DELETION (since
	// DeletedAt): it ingests nothing and cannot be queried.
	Deleted   bool
	DeletedAt time.Time
	// Generation changes whenever the store's settings change.
	Generation uint64
	// InsightsFrom are, for a store of category Insight, the source
	// stores whose Insights records it takes (decision §80); it takes no
	// other event.
	InsightsFrom []InsightSource
	// ContextKeys are, for a store of CloudTrail events that enriches
	// them (PutEventConfiguration), the RequestContext keys its management
	// and data events carry in eventContext (event.Enrich, decision 161).
	ContextKeys []string
	// Channels are, for a store of category ActivityAuditLog, the
	// channels whose records it takes (lake.md §7): those of its account
	// whose metadata.channelARN is a channel's ARN and whose log position
	// is inside that channel's Ingest ranges. It takes no other event.
	// A change of Channels needs no new Generation: the engine compares
	// them by value.
	Channels []ChannelSource
}

// ChannelSource is a channel that delivers its events from outside AWS to
// a store: its ARN, and the log ranges in which the store was among its
// destinations (same meaning as StoreSpec.Ingest).
type ChannelSource struct {
	ARN    string
	Ingest []Range
}

// ranges are the log ranges the store takes events from: its own, and
// those of its channels.
func (sp *StoreSpec) ranges() []Range {
	out := sp.Ingest
	for _, ch := range sp.Channels {
		out = append(slices.Clip(out), ch.Ingest...)
	}
	return out
}

// activityAuditLog reports whether the store holds events from outside
// AWS (its selectors select eventCategory ActivityAuditLog).
func (sp *StoreSpec) activityAuditLog() bool {
	return selector.StoreCategory(sp.Selectors) == selector.CategoryActivityAuditLog
}

// schema is the schema of the store's files.
func (sp *StoreSpec) schema() *duck.Schema {
	return duck.SchemaFor(selector.StoreCategory(sp.Selectors))
}

// InsightSource is a store of CloudTrail events that sends its Insights
// records to an Insights store: its regions and its Insights types.
type InsightSource struct {
	HomeRegion  string
	MultiRegion bool
	Types       []string
}

// Stores is the catalogue of event data stores as the engine reads it.
type Stores interface {
	// DataStores returns every store of every account, whatever its
	// status.
	DataStores() []StoreSpec
	// Purge removes a store in PENDING_DELETION from the catalogue for
	// good; the engine calls it once the store's files are gone.
	Purge(id string) error
}

// Log is the event log as the engine follows it (a *store.Follower).
type Log interface {
	Read(limit int) ([]store.Entry, error)
	Position() uint64
	Progress() <-chan struct{}
	Release(seq uint64)
}

// Options configure an Engine. Start from [DefaultOptions].
type Options struct {
	Stores Stores // required

	// FlushInterval is the longest an ingested event waits before it is
	// written (and becomes queryable).
	FlushInterval time.Duration
	// FlushRows writes a store's batch early once it holds this many
	// events, and FlushBytes once its rows take this many bytes of memory
	// (about twice the records').
	FlushRows  int
	FlushBytes int
	// CompactFiles merges today's files of a store once it has this many
	// of one size tier (sizes within a factor of CompactFiles); an
	// earlier day's are merged once there are two.
	CompactFiles int
	// CompactMaxRows caps a compaction output; files this large are left
	// alone, which bounds how often an event is rewritten on a busy day.
	CompactMaxRows int
	// ImportChunk is how many events an import writes (and commits) at a
	// time.
	ImportChunk int
	// MaintainInterval is how often compaction, retention and purging run.
	MaintainInterval time.Duration
	// PurgeAfter is how long a deleted store stays in PENDING_DELETION.
	PurgeAfter time.Duration
	// Threads and MemoryLimit bound each DuckDB instance.
	Threads     int
	MemoryLimit string

	// DataInsight reports whether the Insights record of account with
	// this eventID was raised on data events: event data stores take
	// Insights on management events only, and a record does not say its
	// category (decision §80). Nil takes every Insights record.
	DataInsight func(account, eventID string) bool

	// PrincipalTags returns the principal tags of the IAM user an access
	// key belongs to, for stores that enrich events with
	// aws:PrincipalTag/KEY; nil: none.
	PrincipalTags func(accessKeyID string) map[string]string

	// WAL reads back ranges of the event log, from which the background
	// scrub rebuilds a damaged file of a store while the log still holds
	// its events; nil rebuilds nothing.
	WAL LogReader

	// Query settings: see queries.go.
	Queries QueryOptions
	// Results deliver the results of queries started with a
	// DeliveryS3Uri.
	Results ResultOptions

	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultOptions returns the defaults: batches at most a second apart (or
// of 20,000 events or 32 MiB), imports committed every 10,000 events, compaction at 8
// files of a size tier, maintenance every 30
// seconds, 7 days in PENDING_DELETION as at AWS.
func DefaultOptions() Options {
	return Options{
		FlushInterval:    time.Second,
		FlushRows:        20_000,
		FlushBytes:       32 << 20,
		ImportChunk:      10_000,
		CompactFiles:     8,
		CompactMaxRows:   2_000_000,
		MaintainInterval: 30 * time.Second,
		PurgeAfter:       7 * 24 * time.Hour,
		Threads:          2,
		MemoryLimit:      "1GB",
		Queries:          DefaultQueryOptions(),
		Results:          DefaultResultOptions(),
		Now:              time.Now,
		Logger:           slog.Default(),
	}
}

// writerMemory is the writer's DuckDB memory limit: two batches, an import
// chunk or a compaction's row group at a time. A compaction output in
// Parquet format 2 at zstd level 11 needs about 30 MB more than one in
// format 1 at level 9; at 384 MB, two batches beside it ran out 13 times
// at 10M events (each write retried), and at 320 and 256 MB batch writes
// ran out at 1M (5 and 13 times; BENCHMARKS.md).
const writerMemory = "448MB"

// writerAllocator has the writer's allocator (DuckDB's jemalloc) give
// freed memory back to the system: a background thread purges it, each
// write or compaction that allocated more than 16 MB flushes its caches
// when it ends (DuckDB's default: 128 MB), and so does a release of more
// than 16 MB at once (DuckDB's default: 512 MB). The writer's pages are
// mostly freed between batches, and without the first two they stayed
// resident: the server ingesting 1M events peaked 75–144 MiB higher
// (decision 96). Without the third, while a compaction of 2M events ran
// (minutes, beside the batch writes) the process held 300–550 MiB beyond
// what Go's runtime and DuckDB's buffer manager counted, and the server
// ingesting 10M events peaked at 1,163–1,216 MiB (decision 98).
var writerAllocator = []string{
	"SET allocator_background_threads = true",
	"SET allocator_flush_threshold = '16MB'",
	"SET allocator_bulk_deallocation_flush_threshold = '16MB'",
}

// spillDir (DATA-DIR/lake/tmp) holds the writer's temp_directory,
// "writer": DuckDB spills there what a batch, an import part or a
// compaction holds beyond writerMemory. Nothing else reads it; a query
// instance cannot (it may read only its account's directory, and has no
// temporary directory of its own: decision 104). What a crash leaves
// there is removed at start.
const spillDir = "tmp"

// removeSpill removes what a crash left in the spill directory of the
// lake in dir (DuckDB's working data, never read again) and makes the
// directory if it is missing. It is scratch space: nothing there needs
// to survive a crash, so nothing is synced.
func removeSpill(dir string, log *slog.Logger) error {
	p := filepath.Join(dir, spillDir)
	var n int
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	ents, err := os.ReadDir(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lake: %w", err)
	}
	for _, ent := range ents {
		if err := os.RemoveAll(filepath.Join(p, ent.Name())); err != nil {
			return fmt.Errorf("lake: remove DuckDB's spill files: %w", err)
		}
	}
	if n > 0 {
		log.Info("lake: removed DuckDB's spill files of the last run", "dir", p, "files", n)
	}
	// DuckDB creates its temporary directory, not the directories above it.
	if err := os.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	return nil
}

// stateName is the engine's checkpoint file.
const stateName = "state.json"

type state struct {
	Version  int    `json:"version"`
	Position uint64 `json:"position"`
}

// Engine is the Lake: ingestion, maintenance and queries.
type Engine struct {
	dir    string
	opts   Options
	log    *slog.Logger
	writer *duck.DB // writes and compacts files; may touch the whole lake

	maintMu sync.Mutex // held by a maintenance round (Maintain)

	mu     sync.Mutex
	stores map[string]*storeFiles // open stores, by id
	saved  uint64                 // state.json's position

	q *runner

	imports  map[string]*imp // by id; guarded by mu
	importWG sync.WaitGroup
}

// Open opens the lake in dir (DATA-DIR/lake), creating it if needed, and
// checks every store's files against its MANIFEST. With
// Options.Results.Objects set, it starts a goroutine for each finished
// query whose results a stop interrupted on their way to S3, which delivers
// them again; Close stops and waits for them.
func Open(ctx context.Context, dir string, opts Options) (*Engine, error) {
	if opts.Stores == nil {
		return nil, errors.New("lake: Options.Stores is required")
	}
	def := DefaultOptions()
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = def.FlushInterval
	}
	if opts.FlushBytes <= 0 {
		opts.FlushBytes = def.FlushBytes
	}
	if opts.FlushRows <= 0 {
		opts.FlushRows = def.FlushRows
	}
	if opts.ImportChunk <= 0 {
		opts.ImportChunk = def.ImportChunk
	}
	if opts.CompactMaxRows <= 0 {
		opts.CompactMaxRows = def.CompactMaxRows
	}
	if opts.CompactFiles < 2 {
		opts.CompactFiles = def.CompactFiles
	}
	if opts.MaintainInterval <= 0 {
		opts.MaintainInterval = def.MaintainInterval
	}
	if opts.PurgeAfter <= 0 {
		opts.PurgeAfter = def.PurgeAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	if _, err := fileutil.RemoveTemps(dir); err != nil {
		return nil, err
	}
	if err := removeSpill(dir, opts.Logger); err != nil {
		return nil, err
	}
	e := &Engine{dir: dir, opts: opts, log: opts.Logger, stores: map[string]*storeFiles{}}
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("lake: %w", err)
	default:
		var st state
		if err := json.Unmarshal(b, &st); err != nil || st.Version != 1 {
			return nil, fmt.Errorf("%w: %s does not parse (%v); restore it from a backup", ErrDamaged, filepath.Join(dir, stateName), err)
		}
		e.saved = st.Position
	}
	specs := opts.Stores.DataStores()
	if u := UnknownStores(dir, specs); len(u) > 0 {
		return nil, fmt.Errorf("%w: %s holds an event data store the catalogue (trails/eventdatastores.json) does not know; restore the catalogue from a backup, or run `opentrail fsck --repair` to move the directory to quarantine (dropping the store)", ErrDamaged, u[0])
	}
	for _, spec := range specs {
		if _, err := e.open(spec); err != nil {
			return nil, err
		}
	}
	if err := e.loadImports(); err != nil {
		return nil, err
	}
	// The writer keeps row order (one thread) and its memory small: it
	// writes batches and streams compactions.
	e.writer, err = duck.Open(ctx, duck.Options{AllowedDirs: []string{dir}, Threads: 1, MemoryLimit: writerMemory,
		TempDir: filepath.Join(dir, spillDir, "writer"), Init: writerAllocator})
	if err != nil {
		return nil, err
	}
	if e.q, err = newRunner(e); err != nil {
		e.writer.Close()
		return nil, err
	}
	return e, nil
}

// Close stops running imports (they resume at the next start) and closes
// the engine's DuckDB instances. Run must have returned.
func (e *Engine) Close() error {
	e.mu.Lock()
	for _, im := range e.imports {
		if im.cancel != nil {
			im.cancel()
		}
	}
	e.mu.Unlock()
	e.importWG.Wait()
	return errors.Join(e.q.close(), e.writer.Close())
}

// Checkpoint is the log position the engine follows from: every event up
// to it is in every store that ingests it.
func (e *Engine) Checkpoint() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.saved
}

// Init gives an engine without state.json its checkpoint and returns it:
// head for a lake that has never run (it does not replay the log from its
// start). When state.json is lost but stores ingest, the checkpoint is
// where the furthest-behind ingesting store got to (its MANIFEST's
// checkpoint, or the start of its ingestion when it has written nothing):
// every store then takes up exactly where it was.
func (e *Engine) Init(head uint64) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := os.Stat(filepath.Join(e.dir, stateName)); err == nil {
		return e.saved, nil
	}
	pos, from := head, ""
	for _, spec := range e.opts.Stores.DataStores() {
		ranges := spec.ranges()
		if spec.Deleted || len(ranges) == 0 {
			continue
		}
		ck := e.storeCheckpointLocked(spec)
		first, done := ranges[0].From, true
		for _, r := range ranges {
			first = min(first, r.From)
			if r.To == 0 || r.To > ck {
				done = false
			}
		}
		if done {
			continue // ingested all it will
		}
		if ck == 0 {
			ck = first - 1
		}
		if ck < pos {
			pos, from = ck, spec.ID
		}
	}
	if from != "" {
		e.log.Warn("lake: state.json is missing; following the log from the checkpoint of the furthest-behind event data store", "store", from, "from", pos)
	}
	return pos, e.saveStateLocked(pos)
}

// Reset moves the checkpoint to head: the log moved on while no store
// ingested.
func (e *Engine) Reset(head uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.saveStateLocked(head)
}

// storeCheckpointLocked returns the checkpoint of an open store (0 when it
// has none).
func (e *Engine) storeCheckpointLocked(spec StoreSpec) uint64 {
	if s := e.stores[spec.ID]; s != nil {
		return s.checkpoint()
	}
	return 0
}

func (e *Engine) saveStateLocked(pos uint64) error {
	b, _ := json.Marshal(state{Version: 1, Position: pos})
	if err := fileutil.WriteFileAtomic(filepath.Join(e.dir, stateName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lake: save state: %w", err)
	}
	e.saved = pos
	return nil
}

// storeDir is a store's directory.
func (e *Engine) storeDir(account, id string) string {
	return filepath.Join(e.dir, account, id)
}

// open returns the store's files, opening them on first use.
func (e *Engine) open(spec StoreSpec) (*storeFiles, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.stores[spec.ID]; s != nil {
		return s, nil
	}
	s, err := openStoreFiles(e.storeDir(spec.Account, spec.ID), filepath.Join(e.dir, quarantineDir), spec.ID, spec.Account, e.log)
	if err != nil {
		return nil, err
	}
	s.schema = spec.schema()
	e.stores[spec.ID] = s
	return s, nil
}

// admits reports whether the store ingests the event at seq.
func (c *compiled) admits(seq uint64, ev *event.Event) bool {
	sp := &c.spec
	if sp.Deleted || ev.Account != sp.Account {
		return false
	}
	if c.activity || ev.ActivityAuditLog() {
		// Events from outside AWS come only through the channels that
		// name the store, whatever its regions (a channel's destinations
		// are single-Region stores of its region: lake.md §7.1).
		return c.activity && ev.ActivityAuditLog() && c.takesActivity(seq, ev)
	}
	if !sp.MultiRegion && ev.Region != sp.HomeRegion {
		return false
	}
	if !inRanges(seq, sp.Ingest) {
		return false
	}
	if ev.Insight() {
		return c.takesInsight(ev)
	}
	return len(sp.InsightsFrom) == 0 && c.match.MatchEvent(ev)
}

// inRanges reports whether seq is inside one of the ranges.
func inRanges(seq uint64, ranges []Range) bool {
	for _, r := range ranges {
		if seq >= r.From && (r.To == 0 || seq <= r.To) {
			return true
		}
	}
	return false
}

var pathChannelARN = event.MustPath("metadata.channelARN")

// takesActivity reports whether one of the store's channels delivered the
// ActivityAuditLog record at seq: the record's metadata.channelARN is the
// channel's, and seq is inside the channel's ranges for the store.
func (c *compiled) takesActivity(seq uint64, ev *event.Event) bool {
	if len(c.spec.Channels) == 0 {
		return false
	}
	arn, ok := pathChannelARN.Str(ev.Raw)
	if !ok {
		return false
	}
	for _, ch := range c.spec.Channels {
		if ch.ARN == arn && inRanges(seq, ch.Ingest) {
			return true
		}
	}
	return false
}

// takes reports whether the store c ingests the event at seq: c admits
// it, and an Insights record was not raised on data events.
func (e *Engine) takes(c *compiled, seq uint64, ev *event.Event) bool {
	if !c.admits(seq, ev) {
		return false
	}
	return !ev.Insight() || e.opts.DataInsight == nil || !e.opts.DataInsight(ev.Account, ev.EventID)
}

var pathInsightType = event.MustPath("insightDetails.insightType")

// takesInsight reports whether one of the store's Insights sources covers
// the Insights record's region and type.
func (c *compiled) takesInsight(ev *event.Event) bool {
	if len(c.spec.InsightsFrom) == 0 {
		return false
	}
	v, _ := pathInsightType.Value(ev.Raw)
	var typ string
	if json.Unmarshal(v, &typ) != nil {
		return false
	}
	for _, src := range c.spec.InsightsFrom {
		if (src.MultiRegion || src.HomeRegion == ev.Region) && slices.Contains(src.Types, typ) {
			return true
		}
	}
	return false
}

// compiled is a store's spec with its compiled selectors.
type compiled struct {
	spec  StoreSpec
	match *selector.Matcher
	// activity: the store holds events from outside AWS.
	activity bool
}

// rowOf converts the event at seq to a row of the store s; with keys, the
// store's context keys, a management or data event is enriched first
// (decision 161). Imported events are not: they are copies of what was
// delivered elsewhere.
func (e *Engine) rowOf(s *storeFiles, keys []string, seq uint64, ev *event.Event) duck.Row {
	if len(keys) > 0 && (ev.Category == event.CategoryMgmt || ev.Category == event.CategoryData) {
		en := *ev
		en.Raw = event.Enrich(ev.Raw, keys, e.opts.PrincipalTags)
		return s.schema.RowOf(seq, &en)
	}
	return s.schema.RowOf(seq, ev)
}

func compile(spec StoreSpec) *compiled {
	set := selector.Default()
	if len(spec.Selectors) > 0 {
		set = selector.Advanced(spec.Selectors)
	}
	return &compiled{spec: spec, match: selector.Compile(set), activity: spec.activityAuditLog()}
}

// Available reports whether this build can run the Lake: nil, or why not
// (a build without cgo has no DuckDB).
func Available() error { return duck.Available() }
