package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Options configure an [Engine]. Start from [DefaultOptions].
type Options struct {
	// Interval is how often each trail's buffered events are written as
	// log files (AWS: about 5 minutes).
	Interval time.Duration
	// DigestInterval is the length of a digest window (AWS: 1 hour).
	DigestInterval time.Duration
	// MaxFileBytes caps a log file's uncompressed size; a buffer that
	// reaches it is written at once. The default, 48 MiB, keeps every file
	// under AWS's 50 MB compressed limit.
	MaxFileBytes int
	// RetryMin and RetryMax bound the back-off between attempts to reach
	// a bucket or a notification target, to upload a file that failed on
	// its own, and to stage files while the disk fails (is full).
	RetryMin, RetryMax time.Duration
	// ShutdownUpload bounds the last upload pass when Run stops.
	ShutdownUpload time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	Registerer     prometheus.Registerer // nil registers no metrics
}

// DefaultOptions returns AWS's cadence: files every 5 minutes, hourly
// digests.
func DefaultOptions() Options {
	return Options{
		Interval:       5 * time.Minute,
		DigestInterval: time.Hour,
		MaxFileBytes:   48 << 20,
		RetryMin:       time.Second,
		RetryMax:       time.Minute,
		ShutdownUpload: 5 * time.Second,
		Now:            time.Now,
		Logger:         slog.Default(),
	}
}

// Log is the event log as delivery follows it (a *store.Follower).
type Log interface {
	Read(max int) ([]store.Entry, error)
	Progress() <-chan struct{}
	Release(seq uint64)
	// Head is the seq of the newest acknowledged event.
	Head() uint64
}

// Trails lists every trail (a *catalog.Catalog). Generation MUST change
// whenever a trail is created, changed or deleted.
type Trails interface {
	All() []catalog.Trail
	Generation() uint64
}

// Objects is where log and digest files go.
type Objects interface {
	Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error
}

// Signer hands out the current signing key of a region (a *keyring.Keyring).
type Signer interface {
	Current(region string) (keyring.Key, error)
}

// Publisher delivers a trail's notification message (the SNS Message
// member) to the target configured for topicARN. Publish MUST return an
// error, so the note is retried, unless the target accepted it.
type Publisher interface {
	Publish(ctx context.Context, topicARN, message string) error
}

// Deps are the engine's collaborators.
type Deps struct {
	Log       Log
	Trails    Trails
	Objects   Objects
	Signer    Signer
	Publisher Publisher // nil: notifications fail with NoNotificationTarget
}

// Engine delivers trails' log files, digests and notifications.
type Engine struct {
	dir  string
	opts Options
	log  *slog.Logger
	now  func() time.Time

	mu sync.Mutex // guards st, orphans and the spool directory
	// st is the committed state; it changes only through updateLocked,
	// except for what a failed attempt reports (status), chains digests()
	// opens and carried files of deleted trails syncTrails forgets, which
	// wait in memory for the next commit.
	st *state
	fs dirFS
	// orphans are spool files whose commit failed while the state on
	// disk may list them; they are removed after the next commit.
	orphans []string

	// Owned by the loop goroutine.
	deps     Deps
	buffers  map[string]*buffer
	matchers map[string]compiled
	readPos  uint64
	prev     map[string]catalog.Trail
	// trailsGen is the catalog generation prev and logging were read at;
	// logging is nil until the first read.
	trailsGen  uint64
	logging    []catalog.Trail
	lastCommit time.Time // of an idle checkpoint (commitHandled)
	// stopSeen maps a trail ARN to the request id of the StopLogging
	// call whose event delivery has routed; its final digest waits for it.
	stopSeen map[string]string
	// resync makes syncTrails run after the staging back-off although
	// the catalog did not change (committing its chain changes failed).
	resync  bool
	staging stageRetry

	runs       map[string]*chainRun // by chain key; guarded by mu
	digestJobs chan *digestJob
	digestKick chan struct{}

	flushes  chan chan error
	upload   chan struct{}
	notify   chan struct{}
	progress chan struct{} // closed and replaced when files land or digests are written
	metrics  *metrics
}

type compiled struct {
	gen uint64
	m   *selector.Matcher
}

// buffer collects one trail's events of one account and region.
type buffer struct {
	trail          catalog.Trail
	account        string
	region         string
	raws           [][]byte
	size           int
	first, last    uint64 // seqs of the oldest and newest buffered events
	newest, oldest time.Time
	firstRead      time.Time
	// insight marks a buffer of Insights records: a CloudTrail-Insight
	// file, in no digest and with no notification (insights.md §6).
	insight bool
}

// Open loads the engine's state from dir (created if missing). It starts
// nothing; call Run.
func Open(dir string, opts Options) (*Engine, error) {
	def := DefaultOptions()
	if opts.Interval <= 0 {
		opts.Interval = def.Interval
	}
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = def.DigestInterval
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = def.MaxFileBytes
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = def.RetryMin
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(def.RetryMax, opts.RetryMin)
	}
	if opts.ShutdownUpload <= 0 {
		opts.ShutdownUpload = def.ShutdownUpload
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := fileutil.MkdirAll(filepath.Join(dir, spoolDir), 0o755); err != nil {
		return nil, fmt.Errorf("open delivery: %w", err)
	}
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	m.spooled.Set(float64(len(st.Spool)))
	return &Engine{
		dir: dir, opts: opts, log: opts.Logger, now: opts.Now, st: st, fs: osFS{},
		buffers:  map[string]*buffer{},
		matchers: map[string]compiled{},
		stopSeen: map[string]string{},
		runs:     map[string]*chainRun{},
		// One job per chain at most is in flight; the channel holds
		// what the loop plans while the digester works.
		digestJobs: make(chan *digestJob, 256),
		digestKick: make(chan struct{}, 1),
		flushes:    make(chan chan error),
		upload:     make(chan struct{}, 1),
		notify:     make(chan struct{}, 1),
		progress:   make(chan struct{}),
		metrics:    m,
	}, nil
}

// Checkpoint is the last WAL seq the engine has durably handled; the
// follower starts after it. A new engine returns 0 and ok false: it starts
// at the log's head.
func (e *Engine) Checkpoint() (seq uint64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := os.Stat(filepath.Join(e.dir, stateFile))
	return e.st.Checkpoint, err == nil
}

// Init records the starting checkpoint of a new engine (the log's head),
// so a crash before the first file cannot skip the events in between.
func (e *Engine) Init(head uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.updateLocked(func(st *state) error {
		st.Checkpoint = head
		return nil
	})
}

// Run delivers until ctx is cancelled. On return every buffered event is
// staged and the state is saved, so nothing is replayed needlessly.
func (e *Engine) Run(ctx context.Context, deps Deps) error {
	e.deps = deps
	e.readPos = e.st.Checkpoint
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); e.uploader(ctx) }()
	go func() { defer wg.Done(); e.notifier(ctx) }()
	go func() { defer wg.Done(); e.digester(ctx) }()
	err := e.loop(ctx)
	wg.Wait()
	// One last pass, so a clean shutdown leaves the files it just staged
	// in their buckets when they are reachable; what fails stays staged.
	final, cancel := context.WithTimeout(context.Background(), e.opts.ShutdownUpload)
	defer cancel()
	e.newUploads().drain(final)
	return err
}

// Flush makes the engine process every event acknowledged so far and stage
// every buffered event, and returns once that is durable. The API calls it
// before a trail changes, so events recorded before the change are
// delivered under the settings they were recorded with.
func (e *Engine) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	select {
	case e.flushes <- ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status returns the delivery status of trail in region.
func (e *Engine) Status(trailARN, region string) Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.st.Status[chainKey(trailARN, region)]; s != nil {
		return *s
	}
	return Status{}
}

// Progress returns a channel closed when files or digests next land.
func (e *Engine) Progress() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.progress
}

// HasChain reports whether the trail has an open or closing digest chain
// for region.
func (e *Engine) HasChain(trailARN, region string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.Chains[chainKey(trailARN, region)] != nil
}

// Pending reports how many staged files and queued notifications are not
// delivered yet.
func (e *Engine) Pending() (files, notes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.st.Spool), len(e.st.Notes)
}

func (e *Engine) signalLocked() {
	close(e.progress)
	e.progress = make(chan struct{})
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// loop follows the log.
func (e *Engine) loop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	nextFlush := e.now().Add(e.opts.Interval)
	for {
		progress := e.deps.Log.Progress()
		n, _, err := e.consume()
		if err != nil {
			e.log.Error("delivery: reading the event log failed; retrying", "err", err)
		}
		if now := e.now(); !now.Before(nextFlush) {
			if err := e.stageAll(); err != nil {
				// stage reported it; the next attempt waits for its back-off.
				nextFlush = e.staging.retryAt
			} else {
				nextFlush = now.Add(e.opts.Interval)
			}
		}
		e.metrics.buffered.Set(float64(e.bufferedEvents()))
		if n > 0 {
			// Under sustained load the log is never caught up: serve a
			// waiting trail change now rather than after the load.
			select {
			case ch := <-e.flushes:
				ch <- e.serveFlush()
			default:
			}
			continue
		}
		e.digests()
		// Wake at the next flush, and at least every second for digests.
		timer.Reset(max(min(nextFlush.Sub(e.now()), time.Second), time.Millisecond))
		select {
		case <-ctx.Done():
			if err := e.consumeAll(); err != nil {
				return err
			}
			e.staging.retryAt = time.Time{} // one more try, whatever the back-off
			return e.stageAll()
		case ch := <-e.flushes:
			ch <- e.serveFlush()
		case <-e.digestKick:
		case <-progress:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// consume reads up to 64 batches of what the log has and routes them, so
// the loop gets back to its timers under sustained load. It returns how
// many records it read and whether it caught up with the log. Records the
// log returns together with an error are routed before the error is.
func (e *Engine) consume() (n int, caughtUp bool, err error) {
	for range 64 {
		recs, rerr := e.deps.Log.Read(2048)
		if len(recs) > 0 {
			trails := e.syncTrails()
			for i := range recs {
				e.route(&recs[i], trails)
				e.readPos = recs[i].Seq
			}
			n += len(recs)
		}
		if rerr != nil {
			return n, false, rerr
		}
		if len(recs) == 0 {
			e.syncTrails()
			return n, true, e.commitHandled()
		}
	}
	e.syncTrails()
	return n, false, nil
}

// serveFlush routes every event acknowledged before the Flush request
// arrived, not what keeps arriving after it, then stages every buffer.
func (e *Engine) serveFlush() error {
	target := e.deps.Log.Head()
	for e.readPos < target {
		_, done, err := e.consume()
		if err != nil {
			return err
		}
		if done {
			break // a gap a WAL repair recorded ends the log below target
		}
	}
	// A trail change waits for this: try now, whatever the back-off.
	e.staging.retryAt = time.Time{}
	return e.stageAll()
}

// consumeAll routes everything the log has now (shutdown).
func (e *Engine) consumeAll() error {
	for {
		_, done, err := e.consume()
		if err != nil || done {
			return err
		}
	}
}

// syncTrails returns the logging trails, compiles changed selectors and
// starts or closes digest chains for trails whose settings changed.
func (e *Engine) syncTrails() []catalog.Trail {
	g := e.deps.Trails.Generation()
	retry := e.resync && !e.now().Before(e.staging.retryAt)
	if g == e.trailsGen && e.logging != nil && !retry {
		return e.logging
	}
	e.trailsGen, e.resync = g, false
	all := e.deps.Trails.All()
	cur := make(map[string]catalog.Trail, len(all))
	var logging []catalog.Trail
	for _, t := range all {
		arn := t.ARN()
		cur[arn] = t
		if c, ok := e.matchers[arn]; !ok || c.gen != t.Generation {
			e.matchers[arn] = compiled{gen: t.Generation, m: selector.Compile(t.Selectors.Effective())}
		}
		if t.Logging || t.StopRequestID != "" {
			// A trail stopped by StopLogging still records that call.
			logging = append(logging, t)
		}
	}
	for arn := range e.matchers {
		if _, ok := cur[arn]; !ok {
			delete(e.matchers, arn)
		}
	}
	e.mu.Lock()
	for k := range e.st.Carry {
		if _, ok := cur[trailOfKey(k)]; !ok {
			delete(e.st.Carry, k) // the trail is gone: no chain will take them
		}
	}
	var closing, closingKeys []string
	changed := false
	err := e.updateLocked(func(st *state) error {
		closing, closingKeys = nil, nil
		for k, c := range st.Chains {
			t, ok := cur[c.Trail]
			if ok && (c.Bucket != t.S3BucketName || c.Prefix != t.S3KeyPrefix || c.KMSKeyID != t.KmsKeyID || c.TrailName == "") {
				c.place(&t)
				changed = true
			}
			if c.Closing {
				continue
			}
			if !ok || !t.Logging || !t.LogFileValidationEnabled || !t.Covers(c.Region) {
				c.Closing = true
				c.ClosingEnd = e.now().UTC().Truncate(time.Second)
				changed = true
				closing = append(closing, c.Trail)
				closingKeys = append(closingKeys, k)
			}
		}
		for _, t := range logging {
			if t.Logging && t.LogFileValidationEnabled {
				if e.openChain(st, &t, t.HomeRegion) {
					changed = true
				}
			}
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		// Nothing changed; a call after the back-off works it out again.
		closing, closingKeys, e.resync = nil, nil, true
	}
	e.mu.Unlock()
	if changed {
		e.stagingDone(err) // the same disk as staging: reported and backed off alike
	}
	for _, k := range closingKeys {
		e.log.Info("delivery: digest chain closing", "chain", k)
	}
	// What a closing chain's trail has buffered belongs in its final
	// digest: stage it now, so the digest waits for it to land. A failure
	// is reported by stage; planDigest stages it again.
	for _, arn := range closing {
		_ = e.stageTrail(arn)
	}
	e.prev = cur
	if logging == nil {
		logging = []catalog.Trail{}
	}
	e.logging = logging
	return logging
}

// openChain starts the trail's digest chain for region in st if none is
// open; it reports whether it started one.
func (e *Engine) openChain(st *state, t *catalog.Trail, region string) bool {
	k := chainKey(t.ARN(), region)
	if c := st.Chains[k]; c != nil && !c.Closing {
		return false
	}
	if c := st.Chains[k]; c != nil && c.Closing {
		// The old chain still owes its final digest; the new one starts
		// once it is written (digests() reopens it).
		return false
	}
	c := &chain{Trail: t.ARN(), Account: t.Account, Region: region, Start: e.now().UTC().Truncate(time.Second), Epoch: t.DigestEpoch()}
	c.place(t)
	// Files of this epoch delivered while the previous chain was still
	// closing start the new chain's list.
	var keep []carried
	for _, f := range st.Carry[k] {
		if f.Epoch.Equal(c.Epoch) {
			c.Pending = append(c.Pending, f.File)
		} else if f.Epoch.After(c.Epoch) {
			keep = append(keep, f)
		}
	}
	if len(keep) > 0 {
		st.Carry[k] = keep
	} else {
		delete(st.Carry, k)
	}
	st.Chains[k] = c
	return true
}

// globalSources are the services whose events AWS records as global
// service events (in us-east-1); IncludeGlobalServiceEvents=false drops
// them.
var globalSources = map[string]bool{
	"iam.amazonaws.com": true, "sts.amazonaws.com": true, "cloudfront.amazonaws.com": true,
	"route53.amazonaws.com": true, "waf.amazonaws.com": true, "organizations.amazonaws.com": true,
	"signin.amazonaws.com": true,
}

// route adds the entry's event to the buffer of every logging trail that
// records it. It cannot fail: a buffer that cannot be staged at the size
// cap keeps growing until the next interval's staging succeeds.
func (e *Engine) route(ent *store.Entry, trails []catalog.Trail) {
	ev := ent.Event
	var fields *selector.Fields
	for i := range trails {
		t := &trails[i]
		if t.Account != ev.Account || !t.Covers(ev.Region) {
			continue
		}
		k := bufKey(t.ARN(), ev.Account, ev.Region)
		if ev.Insight() {
			// Insights records go to the trails that have their type on,
			// in CloudTrail-Insight files of their own.
			if !t.Logging || !insightsOn(t, ev) {
				continue
			}
			k += insightBuf
		} else {
			c := e.matchers[t.ARN()]
			if c.m == nil {
				continue
			}
			if fields == nil {
				f := selector.FieldsOf(ev)
				fields = &f
			}
			if !t.IncludeGlobalServiceEvents && globalSources[ev.EventSource] {
				continue
			}
			if !t.Logging {
				if !isStopCall(ev, t.StopRequestID) {
					continue
				}
				e.stopSeen[t.ARN()] = t.StopRequestID
			}
			if !c.m.Match(fields) {
				continue
			}
		}
		e.mu.Lock()
		mark := e.st.Marks[k]
		e.mu.Unlock()
		if ent.Seq <= mark {
			continue // staged before a crash
		}
		b := e.buffers[k]
		if b != nil && len(b.raws) > 0 && b.size+len(ev.Raw)+1+len(`{"Records":[]}`) > e.opts.MaxFileBytes {
			// The event would take the file over the cap: write what
			// the buffer holds first. On failure (reported by stage)
			// it grows until staging succeeds again.
			if err := e.stage([]string{k}, 0); err == nil {
				b = nil
			}
		}
		if b == nil {
			b = &buffer{trail: *t, account: ev.Account, region: ev.Region, firstRead: e.now(), insight: ev.Insight()}
			e.buffers[k] = b
		}
		b.trail = *t
		if len(b.raws) == 0 {
			b.first = ent.Seq
		}
		b.raws = append(b.raws, ev.Raw)
		b.size += len(ev.Raw) + 1
		b.last = ent.Seq
		if b.newest.IsZero() || ev.EventTime.After(b.newest) {
			b.newest = ev.EventTime
		}
		if b.oldest.IsZero() || ev.EventTime.Before(b.oldest) {
			b.oldest = ev.EventTime
		}
	}
}

// insightBuf ends the buffer key of a trail's Insights records.
const insightBuf = "|Insight"

var pathInsightType = event.MustPath("insightDetails.insightType")

// insightsOn reports whether t has Insights of ev's type on (on any event
// category: the record does not say which it came from).
func insightsOn(t *catalog.Trail, ev *event.Event) bool {
	typ, _ := pathInsightType.Str(ev.Raw)
	for _, s := range t.InsightSelectors {
		if s.InsightType == typ {
			return true
		}
	}
	return false
}

// isStopCall reports whether ev is the StopLogging call with requestID.
func isStopCall(ev *event.Event, requestID string) bool {
	return requestID != "" && ev.EventName == "StopLogging" && ev.EventSource == "cloudtrail.amazonaws.com" && ev.RequestID == requestID
}

// stageTrail stages the buffers of one trail now.
func (e *Engine) stageTrail(arn string) error {
	var keys []string
	for k, b := range e.buffers {
		if trailOfKey(k) == arn && len(b.raws) > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	return e.stage(keys, 0)
}

// stageAll stages every buffer and moves the checkpoint to the read
// position.
func (e *Engine) stageAll() error {
	keys := make([]string, 0, len(e.buffers))
	for k := range e.buffers {
		keys = append(keys, k)
	}
	return e.stage(keys, e.readPos)
}

// bufferedEvents counts the events read but not staged yet.
func (e *Engine) bufferedEvents() int {
	n := 0
	for _, b := range e.buffers {
		n += len(b.raws)
	}
	return n
}

// stageRetry is the loop's back-off while staging fails (a full or
// failing disk). Owned by the loop goroutine.
type stageRetry struct {
	delay   time.Duration
	retryAt time.Time // no attempt before it; Flush and shutdown try anyway
	since   time.Time // when staging started failing; zero while it works
	fails   int       // failed attempts since then
	err     error     // the last failure
}

// errStagingBackoff means staging was not attempted: it is backing off
// after a failure. The events stay buffered.
var errStagingBackoff = errors.New("staging backs off after a failure")

// stage writes the buffers keys as spool files and commits them, with
// checkpoint (0 keeps the current one). While staging fails, attempts
// back off (RetryMin doubling up to RetryMax); the events stay buffered
// and the checkpoint stays, so the WAL keeps them. stage reports failures
// itself, so callers need not: a log line when staging starts and stops
// failing, metrics for every attempt.
func (e *Engine) stage(keys []string, checkpoint uint64) error {
	if e.now().Before(e.staging.retryAt) {
		return fmt.Errorf("stage: %w: %w", errStagingBackoff, e.staging.err)
	}
	wrote, err := e.stageNow(keys, checkpoint)
	if wrote || err != nil {
		e.stagingDone(err)
	}
	return err
}

// stageNow is one staging attempt. A failed attempt leaves nothing
// behind: the spool files it wrote are removed (or, when the state on
// disk may list them, removed after the next commit). wrote reports
// whether it wrote anything.
func (e *Engine) stageNow(keys []string, checkpoint uint64) (wrote bool, err error) {
	var files []*spoolFile
	for _, k := range keys {
		b := e.buffers[k]
		if b == nil || len(b.raws) == 0 {
			continue
		}
		f, err := e.writeSpool(b)
		if err != nil {
			e.removeSpool(files)
			return true, err
		}
		files = append(files, f)
	}
	if len(files) > 0 {
		if err := e.fs.SyncDir(filepath.Join(e.dir, spoolDir)); err != nil {
			e.removeSpool(files) // no state lists them yet
			return true, fmt.Errorf("stage: %w", err)
		}
	}
	marks := map[string]uint64{}
	for _, k := range keys {
		if b := e.buffers[k]; b != nil && b.last > 0 {
			marks[k] = b.last
		}
	}
	committed, err := e.commitStaged(files, marks, checkpoint)
	if err != nil {
		e.discardStaged(files)
		return true, err
	}
	for _, k := range keys {
		delete(e.buffers, k)
	}
	if len(files) > 0 {
		kick(e.upload)
	}
	return committed || len(files) > 0, nil
}

// stagingDone records the outcome of a staging attempt (or of a
// checkpoint commit, which writes to the same disk).
func (e *Engine) stagingDone(err error) {
	r := &e.staging
	now := e.now()
	if err == nil {
		if !r.since.IsZero() {
			e.log.Info("delivery: staging works again", "failed_attempts", r.fails, "failing_for", now.Sub(r.since).Round(time.Millisecond))
			e.metrics.stagingFailing.Set(0)
		}
		*r = stageRetry{}
		return
	}
	e.metrics.stageFailures.Inc()
	r.fails++
	r.delay = min(max(2*r.delay, e.opts.RetryMin), e.opts.RetryMax)
	r.retryAt, r.err = now.Add(r.delay), err
	if r.since.IsZero() {
		r.since = now
		e.metrics.stagingFailing.Set(1)
		e.log.Error("delivery: staging log files failed; events stay buffered (and in the event log) and staging is retried with back-off", "err", err, "retry_in", r.delay)
		return
	}
	e.log.Debug("delivery: staging failed again", "err", err, "failed_attempts", r.fails, "retry_in", r.delay)
}

// removeSpool removes spool files no state lists.
func (e *Engine) removeSpool(files []*spoolFile) {
	for _, f := range files {
		if err := os.Remove(e.spoolPath(f.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.log.Warn("delivery: removing an uncommitted spool file failed; the next start removes it", "file", f.ID, "err", err)
		}
	}
}

// discardStaged removes the spool files of a failed commit. The commit
// may have failed after state.json was replaced (the directory fsync
// failed): files the state on disk lists stay until the next commit, which
// does not list them.
func (e *Engine) discardStaged(files []*spoolFile) {
	if len(files) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var onDisk struct {
		Spool []struct {
			ID string `json:"id"`
		} `json:"spool"`
	}
	b, err := os.ReadFile(filepath.Join(e.dir, stateFile))
	if err == nil {
		err = json.Unmarshal(b, &onDisk)
	}
	listed := map[string]bool{}
	for _, f := range onDisk.Spool {
		listed[f.ID] = true
	}
	var gone []*spoolFile
	for _, f := range files {
		if err != nil || listed[f.ID] {
			e.orphans = append(e.orphans, f.ID)
		} else {
			gone = append(gone, f)
		}
	}
	e.removeSpool(gone)
}

// committedLocked runs after each commit: it removes orphans and updates
// the backlog gauge.
func (e *Engine) committedLocked() {
	if len(e.orphans) > 0 {
		listed := map[string]bool{}
		for _, f := range e.st.Spool {
			listed[f.ID] = true
		}
		var gone []*spoolFile
		for _, id := range e.orphans {
			if !listed[id] {
				gone = append(gone, &spoolFile{ID: id})
			}
		}
		e.orphans = nil
		e.removeSpool(gone)
	}
	e.metrics.spooled.Set(float64(len(e.st.Spool)))
}

// commitHandled moves the checkpoint up to just before the oldest
// buffered event (the read position when nothing is buffered), at most
// once a second, so the store can drop the WAL behind it. A failure is
// reported and backed off like a staging failure (the same disk), and the
// checkpoint stays where it was.
func (e *Engine) commitHandled() error {
	now := e.now()
	if now.Sub(e.lastCommit) < time.Second || now.Before(e.staging.retryAt) {
		return nil
	}
	ck := e.readPos
	for _, b := range e.buffers {
		if len(b.raws) > 0 {
			ck = min(ck, b.first-1)
		}
	}
	e.mu.Lock()
	moved := ck > e.st.Checkpoint
	e.mu.Unlock()
	if !moved {
		return nil
	}
	e.lastCommit = now
	_, err := e.commitStaged(nil, nil, ck)
	e.stagingDone(err)
	return nil
}

// commitStaged commits staged files, buffer marks and a checkpoint (0
// keeps the current one); committed reports whether state.json was
// written (it is not when nothing changes).
func (e *Engine) commitStaged(files []*spoolFile, marks map[string]uint64, checkpoint uint64) (committed bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.st.Checkpoint
	err = e.updateLocked(func(st *state) error {
		if len(files) == 0 && len(marks) == 0 && checkpoint <= st.Checkpoint {
			return errUnchanged
		}
		st.Spool = append(st.Spool, files...)
		maps.Copy(st.Marks, marks)
		if checkpoint > st.Checkpoint {
			st.Checkpoint = checkpoint
			for k, v := range st.Marks {
				if v <= checkpoint {
					delete(st.Marks, k)
				}
			}
		}
		for _, f := range files {
			if f.Digest {
				t, ok := e.prev[f.Trail]
				if ok && t.Logging && t.LogFileValidationEnabled {
					e.openChain(st, &t, f.Region)
				}
			}
		}
		committed = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if e.st.Checkpoint > old {
		e.deps.Log.Release(e.st.Checkpoint)
	}
	return committed, nil
}

func (e *Engine) spoolPath(id string) string { return filepath.Join(e.dir, spoolDir, id+spoolExt) }

// writeSpool serialises a buffer into a staged file. On error nothing is
// left behind.
func (e *Engine) writeSpool(b *buffer) (*spoolFile, error) {
	var raw bytes.Buffer
	raw.Grow(b.size + 16)
	raw.WriteString(`{"Records":[`)
	for i, r := range b.raws {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(r)
	}
	raw.WriteString(`]}`)
	enc, err := digest.EncodeLogFile(raw.Bytes())
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	now := e.now().UTC()
	key, err := layout.LogKey{
		Prefix: b.trail.S3KeyPrefix, Account: b.account, Region: b.region,
		Time: now, Unique: layout.NewUnique(), Insight: b.insight,
	}.Build()
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	f := &spoolFile{
		ID: layout.NewUnique(), Trail: b.trail.ARN(), Account: b.account, Region: b.region,
		Bucket: b.trail.S3BucketName, Key: key, Hash: enc.Hash,
		Newest: b.newest, Oldest: b.oldest, Events: len(b.raws),
		Topic: b.trail.SnsTopicARN, KMSKeyID: b.trail.KmsKeyID,
		Digest: b.trail.LogFileValidationEnabled, Staged: now, FirstRead: b.firstRead, Epoch: b.trail.DigestEpoch(),
	}
	if b.insight {
		f.Topic, f.Digest = "", false
	}
	path := e.spoolPath(f.ID)
	if err := e.fs.WriteNew(path, enc.Gzip); err != nil {
		if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			e.log.Warn("delivery: removing a partly written spool file failed; the next start removes it", "file", f.ID, "err", rerr)
		}
		return nil, fmt.Errorf("stage: %w", err)
	}
	return f, nil
}
