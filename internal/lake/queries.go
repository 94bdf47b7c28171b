package lake

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/lake/dialect"
	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Translation is a Lake statement translated for DuckDB (package
// dialect's Translation, as the engine uses it).
type Translation struct {
	SQL     string
	Columns []string // the Lake names of the result columns; nil: DuckDB's
	Tables  []string // the identifiers Resolve returned, each once
	// Bounds, by identifier of Tables, limit the files a query reads: only
	// ever looser than the statement.
	Bounds map[string]Bounds
}

// Bounds is what a statement's WHERE clauses say about the rows of one
// store that can matter: an eventtime range (inclusive; zero: unbounded)
// and, when not nil, the only eventid values.
type Bounds struct {
	From, To time.Time
	EventIDs []string
}

// keeps returns the file filter of b: files whose eventtime range meets
// [From, To] and whose eventid filter may hold one of EventIDs.
func (b Bounds) keeps(s *storeFiles) func(File) bool {
	return func(f File) bool {
		if !b.From.IsZero() && f.MaxTime.Before(b.From) || !b.To.IsZero() && f.MinTime.After(b.To) {
			return false
		}
		if b.EventIDs == nil {
			return true
		}
		bl := s.bloomOf(f.Name)
		if bl == nil {
			return true
		}
		for _, id := range b.EventIDs {
			if bl.mayContain(id) {
				return true
			}
		}
		return false
	}
}

// Parser is DuckDB's SQL parser (a *duck.DB), which the translator uses.
type Parser interface {
	Serialize(ctx context.Context, sql string) ([]byte, error)
	Deserialize(ctx context.Context, tree []byte) (string, error)
}

// Translator translates a Lake statement; resolve maps each table name as
// written to the identifier the translated SQL must use, or fails. Errors
// other than resolve's are invalid statements.
type Translator func(ctx context.Context, p Parser, statement string, resolve func(name string) (string, error)) (Translation, error)

// Dialect is the Translator of the CloudTrail Lake SQL dialect (package
// dialect).
func Dialect(ctx context.Context, p Parser, statement string, resolve func(name string) (string, error)) (Translation, error) {
	tr, err := dialect.Translate(ctx, p, statement, dialect.Options{Resolve: resolve})
	if err != nil {
		return Translation{}, err
	}
	out := Translation{SQL: tr.SQL, Columns: tr.Columns, Tables: tr.Tables, Bounds: map[string]Bounds{}}
	for k, b := range tr.Bounds {
		out.Bounds[k] = Bounds{From: b.From, To: b.To, EventIDs: b.EventIDs}
	}
	return out, nil
}

// DialectSetup is what every query instance runs before its configuration
// is locked: the dialect's settings and macros.
func DialectSetup() []string { return append(dialect.Settings(), dialect.Macros()...) }

// QueryOptions configure queries.
type QueryOptions struct {
	// Translate translates statements; nil means Dialect.
	Translate Translator
	// Macros are run by every query instance before it is locked; nil
	// means DialectSetup().
	Macros []string
	// MaxConcurrent is the most queries an account may have queued or
	// running (AWS: 10).
	MaxConcurrent int
	// Workers is how many queries run at once on the whole server.
	Workers int
	// Timeout ends a query that runs longer (TIMED_OUT).
	Timeout time.Duration
	// Keep is how long a query and its results are kept (AWS: 7 days).
	Keep time.Duration
}

// DefaultQueryOptions returns AWS's limits: 10 concurrent queries per
// account, a 60-minute timeout, results kept 7 days; 2 queries run at once.
func DefaultQueryOptions() QueryOptions {
	return QueryOptions{MaxConcurrent: 10, Workers: 2, Timeout: time.Hour, Keep: 7 * 24 * time.Hour}
}

// query is one query's live state.
type query struct {
	info   queries.Info
	cancel context.CancelFunc
	done   chan struct{}
}

// runner runs and keeps queries.
type runner struct {
	e    *Engine
	dir  string
	opts QueryOptions
	sem  chan struct{}
	// perAccount bounds how many of the Workers one account's queries
	// take, so one account's slow queries never hold them all.
	perAccount map[string]chan struct{}

	// ctx ends deliveries of results when the engine closes.
	ctx  context.Context
	stop context.CancelFunc

	mu  sync.Mutex
	all map[string]*query // by id
	dbs map[string]*duck.DB
	wg  sync.WaitGroup
}

func newRunner(e *Engine) (*runner, error) {
	o := e.opts.Queries
	def := DefaultQueryOptions()
	if o.Translate == nil {
		o.Translate = Dialect
	}
	if o.Macros == nil {
		o.Macros = DialectSetup()
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = def.MaxConcurrent
	}
	if o.Workers <= 0 {
		o.Workers = def.Workers
	}
	if o.Timeout <= 0 {
		o.Timeout = def.Timeout
	}
	if o.Keep <= 0 {
		o.Keep = def.Keep
	}
	e.opts.Results.fill()
	q := &runner{e: e, dir: filepath.Join(e.dir, "queries"), opts: o, sem: make(chan struct{}, o.Workers), perAccount: map[string]chan struct{}{},
		all: map[string]*query{}, dbs: map[string]*duck.DB{}}
	if err := q.load(); err != nil {
		return nil, err
	}
	q.ctx, q.stop = context.WithCancel(context.Background())
	// Deliver the results whose delivery a stop interrupted; an engine
	// without an object store (an offline import) leaves them PENDING for
	// the server.
	for _, qu := range q.all {
		if e.opts.Results.Objects != nil && qu.info.Status == queries.Finished && qu.info.DeliveryStatus == queries.DeliveryPending {
			q.wg.Add(1)
			go func() {
				defer q.wg.Done()
				q.deliver(qu)
			}()
		}
	}
	return q, nil
}

// load reads the kept queries; those that were running when the server
// stopped are failed.
func (qs *runner) load() error {
	accts, err := os.ReadDir(qs.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	for _, a := range accts {
		if !a.IsDir() {
			continue
		}
		dir := filepath.Join(qs.dir, a.Name())
		if _, err := fileutil.RemoveTemps(dir); err != nil {
			return err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("lake: %w", err)
		}
		for _, ent := range ents {
			if strings.HasSuffix(ent.Name(), ".rows.gz.tmp") {
				_ = os.Remove(filepath.Join(dir, ent.Name())) // the results of a query a stop interrupted
				continue
			}
			if !strings.HasSuffix(ent.Name(), ".json") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				return fmt.Errorf("lake: %w", err)
			}
			var info queries.Info
			if err := json.Unmarshal(b, &info); err != nil {
				qs.e.log.Error("lake: a query's file is damaged; the query is forgotten", "file", filepath.Join(dir, ent.Name()), "err", err)
				continue
			}
			q := &query{info: info, done: make(chan struct{})}
			close(q.done)
			if info.Active() {
				q.info.Status, q.info.ErrorMessage, q.info.Ended = queries.Failed, "The query was running when OpenTrail stopped; run it again.", qs.e.opts.Now()
				if err := qs.save(q); err != nil {
					return err
				}
			}
			qs.all[info.ID] = q
		}
	}
	return nil
}

// close cancels running queries and deliveries, waits for them and closes
// the instances.
func (qs *runner) close() error {
	qs.stop()
	qs.mu.Lock()
	for _, q := range qs.all {
		if q.cancel != nil {
			q.cancel()
		}
	}
	qs.mu.Unlock()
	qs.wg.Wait()
	qs.mu.Lock()
	defer qs.mu.Unlock()
	var errs []error
	for _, db := range qs.dbs {
		errs = append(errs, db.Close())
	}
	qs.dbs = map[string]*duck.DB{}
	return errors.Join(errs...)
}

// instance returns the account's DuckDB instance, which may read only the
// account's directory.
func (qs *runner) instance(ctx context.Context, account string) (*duck.DB, error) {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if db := qs.dbs[account]; db != nil {
		return db, nil
	}
	dir := filepath.Join(qs.e.dir, account)
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lake: %w", err)
	}
	// No TempDir: DuckDB lets an instance's statements read and write its
	// temporary directory whatever allowed_directories says, so an instance
	// that runs users' SQL does not spill; a query that needs more than
	// MemoryLimit fails (decision 104).
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{dir}, Threads: qs.e.opts.Threads,
		MemoryLimit: qs.e.opts.MemoryLimit, Init: qs.opts.Macros})
	if err != nil {
		return nil, err
	}
	qs.dbs[account] = db
	return db, nil
}

// CheckQuery validates statement for the caller's account as StartQuery
// does, without running it: a dashboard's widget queries are checked when
// the dashboard is created or updated, and GenerateQuery's statements
// before they are returned.
func (e *Engine) CheckQuery(ctx context.Context, account, region, statement string) error {
	_, _, _, err := e.prepare(ctx, account, region, statement)
	return err
}

// prepare translates statement for the account's instance and binds it
// against its stores' schema, returning the instance, the translation and
// the ids of the stores it reads.
func (e *Engine) prepare(ctx context.Context, account, region, statement string) (*duck.DB, Translation, []string, error) {
	qs := e.q
	db, err := qs.instance(ctx, account)
	if err != nil {
		return nil, Translation{}, nil, err
	}
	specs := map[string]StoreSpec{}
	for _, s := range e.opts.Stores.DataStores() {
		// A store is found only in its home region (docs/design/decisions.md §32).
		if s.Account == account && s.HomeRegion == region {
			specs[s.ID] = s
		}
	}
	var stores []string
	resolve := func(name string) (string, error) {
		id := strings.ToLower(name)
		if i := strings.LastIndex(id, ":eventdatastore/"); i >= 0 && strings.HasPrefix(id, "arn:") {
			id = id[i+len(":eventdatastore/"):]
		}
		s, ok := specs[id]
		switch {
		case !ok:
			return "", fmt.Errorf("%w: %s", queries.ErrStoreNotFound, name)
		case s.Deleted:
			return "", fmt.Errorf("%w: event data store %s is pending deletion", queries.ErrStoreInactive, name)
		}
		if !slices.Contains(stores, id) {
			stores = append(stores, id)
		}
		return viewName(id), nil
	}
	tr, err := qs.opts.Translate(ctx, db, statement, resolve)
	var de *dialect.Error
	switch {
	case err == nil:
	case errors.Is(err, queries.ErrStoreNotFound) || errors.Is(err, queries.ErrStoreInactive):
		return nil, Translation{}, nil, err
	case errors.As(err, &de):
		return nil, Translation{}, nil, fmt.Errorf("%w: %w", queries.ErrInvalidQuery, err)
	default:
		return nil, Translation{}, nil, fmt.Errorf("lake: translate the statement: %w", err)
	}
	if len(stores) == 0 {
		return nil, Translation{}, nil, fmt.Errorf("%w: the query reads no event data store; name one in FROM", queries.ErrInvalidQuery)
	}
	// Bind the statement against the stores' schema (no data) so unknown
	// columns, wrong types and the like fail now, not after queueing.
	empty := map[string]string{}
	for _, id := range stores {
		sp := specs[id]
		empty[viewName(id)] = sp.schema().EmptyTable()
	}
	if err := db.Bind(ctx, empty, tr.SQL); err != nil {
		return nil, Translation{}, nil, fmt.Errorf("%w: %s", queries.ErrInvalidQuery, queryError(err))
	}
	return db, tr, stores, nil
}

// StartQuery validates statement for the caller's account and queues it.
func (e *Engine) StartQuery(ctx context.Context, account, region, statement string, opt queries.StartOptions) (string, error) {
	qs := e.q
	db, tr, stores, err := e.prepare(ctx, account, region, statement)
	if err != nil {
		return "", err
	}
	qs.mu.Lock()
	active := 0
	for _, q := range qs.all {
		if q.info.Account == account && q.info.Active() {
			active++
		}
	}
	if active >= qs.opts.MaxConcurrent {
		qs.mu.Unlock()
		return "", fmt.Errorf("%w: the account has %d queries queued or running, the most allowed; wait for one to finish or cancel one", queries.ErrTooManyQueries, active)
	}
	q := &query{info: queries.Info{ID: newUUID(), Account: account, Region: region, Statement: statement, Stores: stores,
		Status: queries.Queued, Created: e.opts.Now().UTC(), Columns: tr.Columns, DeliveryS3URI: opt.DeliveryS3URI,
		Alias: opt.Alias, RefreshID: opt.RefreshID, Prompt: opt.Prompt},
		done: make(chan struct{})}
	if opt.DeliveryS3URI != "" {
		q.info.DeliveryStatus = queries.DeliveryPending
	}
	qctx, cancel := context.WithTimeout(context.Background(), qs.opts.Timeout)
	q.cancel = cancel
	qs.all[q.info.ID] = q
	qs.wg.Add(1)
	qs.mu.Unlock()
	if err := qs.save(q); err != nil {
		cancel()
		qs.mu.Lock()
		delete(qs.all, q.info.ID)
		qs.mu.Unlock()
		qs.wg.Done()
		return "", err
	}
	go func() {
		defer qs.wg.Done()
		defer close(q.done)
		qs.run(qctx, db, q, tr)
		cancel()
		qs.deliver(q)
	}()
	return q.info.ID, nil
}

// accountSlots returns the account's share of the workers: all but one
// of them (at least one), so another account always finds one free.
func (qs *runner) accountSlots(account string) chan struct{} {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	ch := qs.perAccount[account]
	if ch == nil {
		ch = make(chan struct{}, max(1, qs.opts.Workers-1))
		qs.perAccount[account] = ch
	}
	return ch
}

// viewName is the identifier a store has in translated SQL: a temporary
// view over the files of the query's snapshot.
func viewName(id string) string { return "eds_" + strings.ReplaceAll(id, "-", "_") }

// run runs one query to its end.
func (qs *runner) run(ctx context.Context, db *duck.DB, q *query, tr Translation) {
	mine := qs.accountSlots(q.info.Account)
	select {
	case mine <- struct{}{}:
		defer func() { <-mine }()
	case <-ctx.Done():
		qs.finish(q, ctx.Err(), nil, nil, time.Time{})
		return
	}
	select {
	case qs.sem <- struct{}{}:
		defer func() { <-qs.sem }()
	case <-ctx.Done():
		qs.finish(q, ctx.Err(), nil, nil, time.Time{})
		return
	}
	qs.mu.Lock()
	if q.info.Status != queries.Queued {
		qs.mu.Unlock()
		return
	}
	q.info.Status = queries.Running
	qs.mu.Unlock()
	_ = qs.save(q)
	start := time.Now()
	var (
		cols    []string
		matched int64
		out     *resultWriter
	)
	for attempt := 0; ; attempt++ {
		views, scanned, bytes, release, err := qs.e.snapshot(q.info.Account, q.info.Stores, tr.Bounds)
		if err != nil {
			qs.finish(q, err, nil, nil, start)
			return
		}
		qs.mu.Lock()
		q.info.EventsScanned, q.info.BytesScanned = scanned, bytes
		qs.mu.Unlock()
		if out, err = newResultWriter(qs.path(q, ".rows.gz")); err != nil {
			release()
			qs.finish(q, err, nil, nil, start)
			return
		}
		cols, matched, err = db.QueryWith(ctx, views, tr.SQL, out.add)
		release()
		if err != nil && ctx.Err() != nil {
			// DuckDB, interrupted when the context ended, may report
			// only its own "Interrupted!": the context says why.
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		// A file that cannot be read may be damaged: check the stores'
		// files, set damaged ones aside (and report their loss), and run
		// the query once more on what is left.
		if err != nil && ctx.Err() == nil && attempt == 0 && qs.e.scrubStores(q.info.Stores) > 0 {
			out.abort()
			continue
		}
		// Rows produced before a timeout or a cancel stay readable
		// (lake.md §3.1).
		if cerr := out.close(); cerr != nil && err == nil {
			err = fmt.Errorf("lake: keep the results: %w", cerr)
		}
		if err != nil {
			qs.finish(q, err, cols, out, start)
			return
		}
		break
	}
	if tr.Columns != nil && len(tr.Columns) == len(cols) {
		cols = tr.Columns
	}
	qs.mu.Lock()
	q.info.EventsMatched = max(matched, 0)
	qs.mu.Unlock()
	qs.finish(q, nil, cols, out, start)
}

// finish records a query's end.
func (qs *runner) finish(q *query, err error, cols []string, out *resultWriter, start time.Time) {
	qs.mu.Lock()
	if q.info.Status == queries.Cancelled {
		// CancelQuery already reported it; keep what was produced.
	} else {
		switch {
		case err == nil:
			q.info.Status = queries.Finished
		case errors.Is(err, context.DeadlineExceeded):
			q.info.Status, q.info.ErrorMessage = queries.TimedOut, fmt.Sprintf("The query ran longer than %v.", qs.opts.Timeout)
		case errors.Is(err, context.Canceled):
			q.info.Status = queries.Cancelled
		default:
			q.info.Status, q.info.ErrorMessage = queries.Failed, queryError(err)
		}
	}
	if q.info.DeliveryStatus == queries.DeliveryPending && q.info.Status != queries.Finished {
		// Only finished queries are delivered (lake.md §3.1: timed-out
		// ones are not; failed and cancelled ones have no results).
		q.info.DeliveryStatus = queries.DeliveryCancelled
	}
	q.info.Ended = qs.e.opts.Now().UTC()
	if !start.IsZero() {
		q.info.ExecutionMilli = time.Since(start).Milliseconds()
	}
	q.info.Columns = cols
	if out != nil {
		q.info.Results = out.rows
	}
	qs.mu.Unlock()
	if err := qs.save(q); err != nil {
		qs.e.log.Error("lake: could not save a query's state", "query", q.info.ID, "err", err)
	}
}

// queryError is the ErrorMessage of a query DuckDB failed.
func queryError(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "eds_", "")
	return msg
}

func (qs *runner) path(q *query, ext string) string {
	return filepath.Join(qs.dir, q.info.Account, q.info.ID+ext)
}

// save writes the query's state file.
func (qs *runner) save(q *query) error {
	qs.mu.Lock()
	b, err := json.Marshal(q.info)
	qs.mu.Unlock()
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	path := qs.path(q, ".json")
	if err := fileutil.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	return fileutil.WriteFileAtomic(path, b, 0o644)
}

// rows reads up to limit of the query's result rows from offset (limit <
// 0: all).
func (qs *runner) rows(q *query, offset int64, limit int) ([][]*string, error) {
	return readResults(qs.path(q, ".rows.gz"), offset, limit)
}

// lookup returns the account's query started in region ("": any),
// forgetting expired ones. A query, like the stores it reads, belongs to
// its region: from another one it is not found.
func (qs *runner) lookup(account, region, id string) (*query, error) {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	qs.expireLocked()
	q := qs.all[id]
	if q == nil || q.info.Account != account || region != "" && q.info.Region != region {
		return nil, fmt.Errorf("%w: %s", queries.ErrQueryNotFound, id)
	}
	return q, nil
}

// expireLocked forgets queries older than Keep.
func (qs *runner) expireLocked() {
	cut := qs.e.opts.Now().Add(-qs.opts.Keep)
	for id, q := range qs.all {
		if q.info.Created.Before(cut) && !q.info.Active() {
			delete(qs.all, id)
			os.Remove(qs.path(q, ".json"))
			os.Remove(qs.path(q, ".rows.gz"))
			os.Remove(qs.path(q, ".rows.idx"))
		}
	}
}

// checkStores fails when one of the query's stores is gone or pending
// deletion.
func (e *Engine) checkStores(q *queries.Info) error {
	specs := map[string]StoreSpec{}
	for _, s := range e.opts.Stores.DataStores() {
		specs[s.ID] = s
	}
	for _, id := range q.Stores {
		s, ok := specs[id]
		if !ok || s.Deleted {
			return fmt.Errorf("%w: event data store %s of query %s is deleted or pending deletion", queries.ErrStoreInactive, id, q.ID)
		}
	}
	return nil
}

// DescribeQuery returns the state of the account's query started in
// region.
func (e *Engine) DescribeQuery(account, region, id string) (queries.Info, error) {
	q, err := e.q.lookup(account, region, id)
	if err != nil {
		return queries.Info{}, err
	}
	e.q.mu.Lock()
	info := q.info
	e.q.mu.Unlock()
	if err := e.checkStores(&info); err != nil {
		return queries.Info{}, err
	}
	return info, nil
}

// QueryByAlias returns the account's newest query started in region for
// a query alias (a dashboard widget's, or another kind StartQuery
// resolves), of the dashboard refresh refreshID when it is not "".
func (e *Engine) QueryByAlias(account, region, alias, refreshID string) (queries.Info, error) {
	qs := e.q
	qs.mu.Lock()
	qs.expireLocked()
	var found *queries.Info
	for _, q := range qs.all {
		i := q.info
		if i.Account != account || i.Region != region || i.Alias != alias || refreshID != "" && i.RefreshID != refreshID {
			continue
		}
		if found == nil || i.Created.After(found.Created) || i.Created.Equal(found.Created) && i.ID > found.ID {
			found = &i
		}
	}
	qs.mu.Unlock()
	if found == nil {
		if refreshID != "" {
			return queries.Info{}, fmt.Errorf("%w: no query of alias %s ran in refresh %s", queries.ErrQueryNotFound, alias, refreshID)
		}
		return queries.Info{}, fmt.Errorf("%w: no query of alias %s ran in the last 7 days", queries.ErrQueryNotFound, alias)
	}
	return e.DescribeQuery(account, region, found.ID)
}

// QueryResults returns the state of the account's query started in region
// and up to limit result rows from offset. Rows are empty while the query
// is queued or running.
func (e *Engine) QueryResults(account, region, id string, offset, limit int) (queries.Info, [][]*string, error) {
	qs := e.q
	q, err := qs.lookup(account, region, id)
	if err != nil {
		return queries.Info{}, nil, err
	}
	qs.mu.Lock()
	info := q.info
	qs.mu.Unlock()
	if err := e.checkStores(&info); err != nil {
		return queries.Info{}, nil, err
	}
	if info.Active() {
		return info, nil, nil
	}
	rows, err := qs.rows(q, int64(offset), limit)
	if err != nil {
		return queries.Info{}, nil, fmt.Errorf("lake: read the results of query %s: %w", id, err)
	}
	return info, rows, nil
}

// ListQueries returns the account's queries that read store, created in
// [from, to] (zero: unbounded) with the given status ("" any), newest
// first.
func (e *Engine) ListQueries(account, store string, from, to time.Time, status string) []queries.Info {
	qs := e.q
	qs.mu.Lock()
	defer qs.mu.Unlock()
	qs.expireLocked()
	var out []queries.Info
	for _, q := range qs.all {
		i := q.info
		if i.Account != account || !slices.Contains(i.Stores, store) || status != "" && i.Status != status ||
			!from.IsZero() && i.Created.Before(from) || !to.IsZero() && i.Created.After(to) {
			continue
		}
		out = append(out, i)
	}
	newestFirst(out, func(q queries.Info) (time.Time, string) { return q.Created, q.ID })
	return out
}

// newestFirst sorts s by creation time, newest first, then by id.
func newestFirst[T any](s []T, key func(T) (time.Time, string)) {
	slices.SortFunc(s, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(ia, ib)
	})
}

// CancelQuery cancels the account's query started in region, when it is
// queued or running.
func (e *Engine) CancelQuery(account, region, id string) (queries.Info, error) {
	qs := e.q
	q, err := qs.lookup(account, region, id)
	if err != nil {
		return queries.Info{}, err
	}
	qs.mu.Lock()
	if !q.info.Active() {
		st := q.info.Status
		qs.mu.Unlock()
		return queries.Info{}, fmt.Errorf("%w: query %s is %s", queries.ErrQueryInactive, id, st)
	}
	q.info.Status = queries.Cancelled
	if q.cancel != nil {
		q.cancel()
	}
	info := q.info
	qs.mu.Unlock()
	return info, nil
}

// WaitQuery waits until the query has ended, and its results are
// delivered when it has a DeliveryS3Uri, or ctx is done (for tests and the
// command line).
func (e *Engine) WaitQuery(ctx context.Context, account, id string) error {
	q, err := e.q.lookup(account, "", id)
	if err != nil {
		return err
	}
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// snapshot takes the file lists of the account's stores for one query,
// returning the table expression of each store's view, the events and
// bytes it will scan, and the function that lets the files go.
func (e *Engine) snapshot(account string, ids []string, bounds map[string]Bounds) (views map[string]string, events, bytes int64, release func(), err error) {
	views = map[string]string{}
	var releases []func()
	release = func() {
		for _, r := range releases {
			r()
		}
	}
	specs := map[string]StoreSpec{}
	for _, s := range e.opts.Stores.DataStores() {
		specs[s.ID] = s
	}
	for _, id := range ids {
		spec, ok := specs[id]
		if !ok || spec.Account != account || spec.Deleted {
			release()
			return nil, 0, 0, nil, fmt.Errorf("%w: %s", queries.ErrStoreInactive, id)
		}
		s, err := e.open(spec)
		if err != nil {
			release()
			return nil, 0, 0, nil, err
		}
		var keep func(File) bool
		if b, ok := bounds[viewName(id)]; ok {
			keep = b.keeps(s)
		}
		files, rel := s.snapshot(keep)
		releases = append(releases, rel)
		if len(files) == 0 {
			views[viewName(id)] = s.schema.EmptyTable()
			continue
		}
		paths := make([]string, len(files))
		for i, f := range files {
			paths[i] = filepath.Join(s.dir, f.Name)
			events += f.Rows
			bytes += f.Bytes
		}
		views[viewName(id)] = s.schema.StoreTable(paths)
	}
	return views, events, bytes, release, nil
}

// newUUID returns a random lowercase UUID v4.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ResolveStore returns the id of the account's event data store in
// region named by idOrARN (its ARN, or its id), which must be active.
func (e *Engine) ResolveStore(account, region, idOrARN string) (string, error) {
	id := idOrARN
	if strings.HasPrefix(id, "arn:") {
		p := strings.SplitN(id, ":", 6)
		if len(p) != 6 || p[2] != "cloudtrail" || !strings.HasPrefix(p[5], "eventdatastore/") || p[4] != account {
			return "", fmt.Errorf("%w: %s", queries.ErrStoreNotFound, idOrARN)
		}
		id = strings.TrimPrefix(p[5], "eventdatastore/")
	}
	for _, s := range e.opts.Stores.DataStores() {
		if s.ID == id && s.Account == account && s.HomeRegion == region {
			if s.Deleted {
				return "", fmt.Errorf("%w: event data store %s is pending deletion", queries.ErrStoreInactive, idOrARN)
			}
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: %s", queries.ErrStoreNotFound, idOrARN)
}

// StoreSchema returns the columns of the account's event data store id in
// region (the schema of its kind), one per line with its type, as a
// prompt for a query generator shows them.
func (e *Engine) StoreSchema(account, region, id string) (string, error) {
	id, err := e.ResolveStore(account, region, id)
	if err != nil {
		return "", err
	}
	for _, s := range e.opts.Stores.DataStores() {
		if s.ID == id && s.Account == account {
			return s.schema().Text(), nil
		}
	}
	return "", fmt.Errorf("%w: %s", queries.ErrStoreNotFound, id)
}

// scrubStores checks the files of the stores (ids) now and returns how
// many events damaged ones held (now in quarantine).
func (e *Engine) scrubStores(ids []string) int64 {
	var lost int64
	for _, spec := range e.opts.Stores.DataStores() {
		if !slices.Contains(ids, spec.ID) {
			continue
		}
		s, err := e.open(spec)
		if err != nil {
			continue
		}
		n, err := s.scrub(filepath.Join(e.dir, "quarantine"), e.rebuilder(context.Background(), s, spec))
		if err != nil {
			e.log.Error("lake: checking a store's files failed", "store", spec.ID, "err", err)
		}
		lost += n
	}
	return lost
}
