package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// a bucket or a notification target.
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

	mu sync.Mutex // guards st and the spool directory
	st *state

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
	if err := os.MkdirAll(filepath.Join(dir, spoolDir), 0o755); err != nil {
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
	return &Engine{
		dir: dir, opts: opts, log: opts.Logger, now: opts.Now, st: st,
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
	e.st.Checkpoint = head
	return e.st.save(e.dir)
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
	e.uploadPass(final, newBackoff(e.opts.RetryMin, e.opts.RetryMax))
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
				e.log.Error("delivery: staging log files failed; retrying", "err", err)
			} else {
				nextFlush = now.Add(e.opts.Interval)
			}
		}
		if n > 0 {
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
			return e.stageAll()
		case ch := <-e.flushes:
			err := e.consumeAll()
			if err == nil {
				err = e.stageAll()
			}
			ch <- err
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

// consumeAll routes everything the log has now (Flush, shutdown).
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
	if g == e.trailsGen && e.logging != nil {
		return e.logging
	}
	e.trailsGen = g
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
	e.mu.Unlock()
	e.mu.Lock()
	changed := false
	var closing []string
	for k, c := range e.st.Chains {
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
			e.log.Info("delivery: digest chain closing", "chain", k)
		}
	}
	for _, t := range logging {
		if t.Logging && t.LogFileValidationEnabled {
			if e.openChainLocked(&t, t.HomeRegion) {
				changed = true
			}
		}
	}
	if changed {
		if err := e.st.save(e.dir); err != nil {
			e.log.Error("delivery: saving digest chains failed", "err", err)
		}
	}
	e.mu.Unlock()
	// What a closing chain's trail has buffered belongs in its final
	// digest: stage it now, so the digest waits for it to land.
	for _, arn := range closing {
		if err := e.stageTrail(arn); err != nil {
			e.log.Error("delivery: staging a closing trail's events failed; will retry", "trail", arn, "err", err)
		}
	}
	e.prev = cur
	if logging == nil {
		logging = []catalog.Trail{}
	}
	e.logging = logging
	return logging
}

// openChainLocked starts the trail's digest chain for region if none is
// open; it reports whether it started one.
func (e *Engine) openChainLocked(t *catalog.Trail, region string) bool {
	k := chainKey(t.ARN(), region)
	if c := e.st.Chains[k]; c != nil && !c.Closing {
		return false
	}
	if c := e.st.Chains[k]; c != nil && c.Closing {
		// The old chain still owes its final digest; the new one starts
		// once it is written (digests() reopens it).
		return false
	}
	c := &chain{Trail: t.ARN(), Account: t.Account, Region: region, Start: e.now().UTC().Truncate(time.Second), Epoch: t.DigestEpoch()}
	c.place(t)
	// Files of this epoch delivered while the previous chain was still
	// closing start the new chain's list.
	var keep []carried
	for _, f := range e.st.Carry[k] {
		if f.Epoch.Equal(c.Epoch) {
			c.Pending = append(c.Pending, f.File)
		} else if f.Epoch.After(c.Epoch) {
			keep = append(keep, f)
		}
	}
	if len(keep) > 0 {
		e.st.Carry[k] = keep
	} else {
		delete(e.st.Carry, k)
	}
	e.st.Chains[k] = c
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
		k := bufKey(t.ARN(), ev.Account, ev.Region)
		e.mu.Lock()
		mark := e.st.Marks[k]
		e.mu.Unlock()
		if ent.Seq <= mark {
			continue // staged before a crash
		}
		b := e.buffers[k]
		if b != nil && len(b.raws) > 0 && b.size+len(ev.Raw)+1+len(`{"Records":[]}`) > e.opts.MaxFileBytes {
			// The event would take the file over the cap: write what
			// the buffer holds first.
			if err := e.stage([]string{k}, 0); err != nil {
				e.log.Error("delivery: staging a full log file failed; it grows until the next staging", "err", err)
			} else {
				b = nil
			}
		}
		if b == nil {
			b = &buffer{trail: *t, account: ev.Account, region: ev.Region, firstRead: e.now()}
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

// stage writes the buffers keys as spool files and commits them, with
// checkpoint (0 keeps the current one).
func (e *Engine) stage(keys []string, checkpoint uint64) error {
	var files []*spoolFile
	for _, k := range keys {
		b := e.buffers[k]
		if b == nil || len(b.raws) == 0 {
			continue
		}
		f, err := e.writeSpool(b)
		if err != nil {
			// Remove what this round wrote; the events stay buffered.
			for _, f := range files {
				os.Remove(filepath.Join(e.dir, spoolDir, f.ID+spoolExt))
			}
			return err
		}
		files = append(files, f)
	}
	if len(files) > 0 {
		if err := fileutil.SyncDir(filepath.Join(e.dir, spoolDir)); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
	}
	marks := map[string]uint64{}
	for _, k := range keys {
		if b := e.buffers[k]; b != nil && b.last > 0 {
			marks[k] = b.last
		}
	}
	if err := e.commitStaged(files, marks, checkpoint); err != nil {
		// The files stay: the state on disk may list them after all (a
		// rename that happened before a failed directory fsync), and Open
		// deletes the ones it does not list.
		return err
	}
	for _, k := range keys {
		delete(e.buffers, k)
	}
	if len(files) > 0 {
		kick(e.upload)
	}
	return nil
}

// commitHandled moves the checkpoint up to just before the oldest
// buffered event (the read position when nothing is buffered), at most
// once a second, so the store can drop the WAL behind it.
func (e *Engine) commitHandled() error {
	now := e.now()
	if now.Sub(e.lastCommit) < time.Second {
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
	return e.commitStaged(nil, nil, ck)
}

func (e *Engine) commitStaged(files []*spoolFile, marks map[string]uint64, checkpoint uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := *e.st
	oldMarks := make(map[string]uint64, len(e.st.Marks))
	for k, v := range e.st.Marks {
		oldMarks[k] = v
	}
	e.st.Spool = append(e.st.Spool[:len(e.st.Spool):len(e.st.Spool)], files...)
	for k, v := range marks {
		e.st.Marks[k] = v
	}
	if checkpoint > e.st.Checkpoint {
		e.st.Checkpoint = checkpoint
		for k, v := range e.st.Marks {
			if v <= checkpoint {
				delete(e.st.Marks, k)
			}
		}
	}
	if len(files) == 0 && len(marks) == 0 && checkpoint <= old.Checkpoint {
		return nil
	}
	for _, f := range files {
		if f.Digest {
			t, ok := e.prev[f.Trail]
			if ok && t.Logging && t.LogFileValidationEnabled {
				e.openChainLocked(&t, f.Region)
			}
		}
	}
	if err := e.st.save(e.dir); err != nil {
		e.st.Spool, e.st.Checkpoint, e.st.Marks = old.Spool, old.Checkpoint, oldMarks
		return err
	}
	if e.st.Checkpoint > old.Checkpoint {
		e.deps.Log.Release(e.st.Checkpoint)
	}
	return nil
}

// writeSpool serialises a buffer into a staged file.
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
		Time: now, Unique: layout.NewUnique(),
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
	path := filepath.Join(e.dir, spoolDir, f.ID+spoolExt)
	if err := writeSynced(path, enc.Gzip); err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	return f, nil
}

// writeSynced creates path with data and fsyncs it.
func writeSynced(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = fh.Write(data)
	if err == nil {
		err = fh.Sync()
	}
	return errors.Join(err, fh.Close())
}
