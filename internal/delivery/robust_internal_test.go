package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
)

// fakeClock is a clock the test moves: back-off waits on it, so a test
// decides when a retry is due instead of measuring time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logRecorder keeps every log record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count counts the records at level or above whose message contains msg.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level >= level && strings.Contains(r.Message, msg) {
			n++
		}
	}
	return n
}

func (l *logRecorder) dump(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		t.Logf("%s %s%s", r.Level, r.Message, b.String())
	}
}

func (f *fakeTrails) remove(arn string) {
	f.mu.Lock()
	f.gen++
	delete(f.ts, arn)
	f.mu.Unlock()
}

// bed is an engine over a fake log, fake trails and a fake clock, with
// its logs and metrics recorded.
type bed struct {
	t      *testing.T
	dir    string
	opts   Options
	e      *Engine
	log    *fakeLog
	trails *fakeTrails
	clock  *fakeClock
	logs   *logRecorder
	reg    *prometheus.Registry
	objs   Objects
	cancel context.CancelFunc
	done   chan error
}

func newBed(t *testing.T, objs Objects, mut func(*Options)) *bed {
	b := &bed{t: t, dir: t.TempDir(), log: newFakeLog(), trails: &fakeTrails{}, clock: newFakeClock(),
		logs: &logRecorder{}, reg: prometheus.NewRegistry(), objs: objs}
	b.opts = DefaultOptions()
	b.opts.Interval = time.Hour
	b.opts.RetryMin, b.opts.RetryMax = time.Minute, 4*time.Minute
	b.opts.ShutdownUpload = 100 * time.Millisecond
	b.opts.Now, b.opts.Logger, b.opts.Registerer = b.clock.Now, slog.New(b.logs), b.reg
	if mut != nil {
		mut(&b.opts)
	}
	var err error
	if b.e, err = Open(b.dir, b.opts); err != nil {
		t.Fatal(err)
	}
	if err := b.e.Init(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			b.logs.dump(t)
		}
	})
	return b
}

func (b *bed) run() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan error, 1)
	go func() { b.done <- b.e.Run(ctx, Deps{Log: b.log, Trails: b.trails, Objects: b.objs}) }()
}

func (b *bed) stop() {
	if b.cancel != nil {
		b.cancel()
		<-b.done
		b.cancel = nil
	}
}

func (b *bed) trail(name, bucket, prefix string) catalog.Trail {
	tr := catalog.Trail{Name: name, Account: racct, HomeRegion: "us-east-1", S3BucketName: bucket, S3KeyPrefix: prefix,
		IncludeGlobalServiceEvents: true, Logging: true}
	b.trails.set(tr)
	return tr
}

// events appends n events numbered from first.
func (b *bed) events(first, n int) {
	var raws [][]byte
	for i := first; i < first+n; i++ {
		raws = append(raws, rawEvent(i, "us-east-1"))
	}
	b.log.add(raws...)
}

func (b *bed) flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return b.e.Flush(ctx)
}

// waitFor polls until ok holds, failing the test after a generous
// deadline (a hang, not a timing measurement).
func (b *bed) waitFor(what string, ok func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric is the value of a metric in the engine's registry (summed over
// its labels); 0 when it is not there.
func (b *bed) metric(name string) float64 {
	b.t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return v
}

func (b *bed) pendingFiles() int { n, _ := b.e.Pending(); return n }

func (b *bed) spoolNames() []string {
	ents, err := os.ReadDir(filepath.Join(b.dir, spoolDir))
	if err != nil {
		b.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// recorder passes PUTs to a real store and records what went in.
type recorder struct {
	store    Objects
	mu       sync.Mutex
	attempts map[string]int    // by key
	objs     map[string][]byte // bucket/key, PUTs that succeeded
}

func newRecorder(store Objects) *recorder {
	return &recorder{store: store, attempts: map[string]int{}, objs: map[string][]byte{}}
}

func (r *recorder) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	err := r.store.Put(ctx, bucket, key, body, opt)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[key]++
	if err == nil {
		r.objs[bucket+"/"+key] = body
	}
	return err
}

// attemptsUnder sums the PUT attempts of keys starting with prefix.
func (r *recorder) attemptsUnder(prefix string) (keys, attempts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.attempts {
		if strings.HasPrefix(k, prefix) {
			keys++
			attempts += n
		}
	}
	return keys, attempts
}

// eventsUnder counts the events delivered in files whose bucket/key
// starts with prefix, by eventID.
func (r *recorder) eventsUnder(t *testing.T, prefix string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return countEvents(t, r.objs, func(k string) bool { return strings.HasPrefix(k, prefix) })
}

// A trail whose files the bucket store can never write (here a ".."
// prefix in the embedded store, accepted before the API refused it) must
// not hold up another trail writing to the same bucket: its files back off
// alone, the error shows in its own GetTrailStatus, and once the trail is
// deleted they are dropped, reported in the log and the metrics.
func TestUndeliverableFileBlocksNoOtherTrail(t *testing.T) {
	fs, err := fsbucket.Open(t.TempDir(), fsbucket.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if err := fs.CreateBucket(t.Context(), "shared", objstore.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	objs := newRecorder(fs)
	b := newBed(t, objs, nil)
	bad := b.trail("Bad", "shared", "..")
	good := b.trail("Good", "shared", "good")
	b.run()

	// Two rounds: the first round's file of Bad is the oldest staged file
	// when the second round goes.
	for round := range 2 {
		b.events(round*10, 10)
		if err := b.flush(); err != nil {
			t.Fatal(err)
		}
		want := (round + 1) * 10
		b.waitFor(fmt.Sprintf("Good's %d events in the bucket", want), func() bool {
			return len(objs.eventsUnder(t, "shared/good/")) == want
		})
	}
	b.waitFor("Bad's two files to be tried", func() bool { keys, _ := objs.attemptsUnder("../"); return keys == 2 })
	if _, n := objs.attemptsUnder("../"); n != 2 {
		t.Errorf("Bad's 2 files were tried %d times before their back-off ended", n)
	}
	if s := b.e.Status(bad.ARN(), "us-east-1"); s.LatestDeliveryError != "InvalidKey" {
		t.Errorf("Bad's LatestDeliveryError = %q, want InvalidKey", s.LatestDeliveryError)
	}
	if s := b.e.Status(good.ARN(), "us-east-1"); s.LatestDeliveryError != "" || s.DeliveredEvents != 20 {
		t.Errorf("Good's status = %+v, want no error and 20 events delivered", s)
	}
	if n := b.pendingFiles(); n != 2 {
		t.Errorf("%d files staged, want Bad's 2", n)
	}
	if n := b.logs.count(slog.LevelError, "cannot be delivered"); n != 2 {
		t.Errorf("%d error lines about undeliverable files, want one per file", n)
	}

	// The back-off ends: retried, still failing, still staged, not logged again.
	b.clock.Add(b.opts.RetryMin)
	kick(b.e.upload)
	b.waitFor("Bad's files to be retried", func() bool { _, n := objs.attemptsUnder("../"); return n == 4 })
	if n := b.logs.count(slog.LevelError, "cannot be delivered"); n != 2 {
		t.Errorf("%d error lines about undeliverable files after a retry, want still 2", n)
	}

	// Deleted, Bad's files are dropped at their next attempt, and said so.
	b.trails.remove(bad.ARN())
	b.clock.Add(2 * b.opts.RetryMin)
	kick(b.e.upload)
	b.waitFor("Bad's files to be dropped", func() bool { return b.pendingFiles() == 0 })
	if got := b.metric("opentrail_delivery_dropped_files_total"); got != 2 {
		t.Errorf("dropped files metric = %v, want 2", got)
	}
	if got := b.metric("opentrail_delivery_dropped_events_total"); got != 20 {
		t.Errorf("dropped events metric = %v, want 20", got)
	}
	if n := b.logs.count(slog.LevelError, "log file dropped"); n != 2 {
		t.Errorf("%d log lines about dropped files, want 2", n)
	}
	if names := b.spoolNames(); len(names) != 0 {
		t.Errorf("spool still holds %v", names)
	}
	b.stop()
	e, err := Open(b.dir, b.opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := e.Pending(); n != 0 {
		t.Errorf("after a restart %d files are staged", n)
	}
}

// hangingStore never answers a PUT to one bucket until the context ends.
type hangingStore struct {
	*recorder
	bucket string
}

func (h *hangingStore) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	if bucket == h.bucket {
		<-ctx.Done()
		return ctx.Err()
	}
	return h.recorder.Put(ctx, bucket, key, body, opt)
}

// A bucket that does not answer holds up no other trail's uploads (one
// uploader once waited on it for everyone).
func TestHangingBucketBlocksNoOtherTrail(t *testing.T) {
	mem := newRecorder(&memObjects{})
	objs := &hangingStore{recorder: mem, bucket: "hang"}
	b := newBed(t, objs, nil)
	b.trail("A", "hang", "")
	b.trail("B", "ok", "")
	b.run()
	for round := range 3 {
		b.events(round*5, 5)
		if err := b.flush(); err != nil {
			t.Fatal(err)
		}
		want := (round + 1) * 5
		b.waitFor(fmt.Sprintf("B's %d events in its bucket", want), func() bool { return len(mem.eventsUnder(t, "ok/")) == want })
	}
}

// fullDisk makes the engine's writes fail as on a full disk: spool files
// are left partly written, state writes fail; or, with renamed, the state
// is replaced but its directory fsync fails.
type fullDisk struct {
	mu                    sync.Mutex
	spoolFull, stateFull  bool
	renamed               bool
	newCalls, atomicCalls int
}

func (d *fullDisk) set(spoolFull, stateFull, renamed bool) {
	d.mu.Lock()
	d.spoolFull, d.stateFull, d.renamed = spoolFull, stateFull, renamed
	d.mu.Unlock()
}

func (d *fullDisk) calls() (spool, state int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.newCalls, d.atomicCalls
}

func (d *fullDisk) WriteNew(path string, data []byte) error {
	d.mu.Lock()
	d.newCalls++
	full := d.spoolFull
	d.mu.Unlock()
	if full {
		// What the disk took before it was full.
		if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
			return err
		}
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	return osFS{}.WriteNew(path, data)
}

func (d *fullDisk) WriteAtomic(path string, data []byte) error {
	d.mu.Lock()
	d.atomicCalls++
	full, renamed := d.stateFull, d.renamed
	d.mu.Unlock()
	switch {
	case renamed:
		if err := (osFS{}).WriteAtomic(path, data); err != nil {
			return err
		}
		return &os.PathError{Op: "sync", Path: filepath.Dir(path), Err: syscall.EIO}
	case full:
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	return osFS{}.WriteAtomic(path, data)
}

func (d *fullDisk) SyncDir(dir string) error { return osFS{}.SyncDir(dir) }

// A full disk: staging backs off (RetryMin doubling) instead of retrying
// on every event and loop turn, a failed attempt leaves nothing behind,
// the condition is logged once when it starts and once when it ends and
// shows in the metrics, and delivery recovers by itself, every event
// delivered exactly once.
func TestFullDiskStagingBacksOffAndRecovers(t *testing.T) {
	mem := newRecorder(&memObjects{})
	disk := &fullDisk{}
	b := newBed(t, mem, func(o *Options) {
		o.Interval = time.Minute
		o.MaxFileBytes = 2 << 10 // route stages early every few events
	})
	b.e.fs = disk
	b.trail("T", "b", "")
	disk.set(true, true, false)
	b.run()
	const n = 60
	b.events(0, n)
	buffered := func(want int) func() bool {
		return func() bool { return b.metric("opentrail_delivery_buffered_events") == float64(want) }
	}
	b.waitFor("every event to be read and buffered", buffered(n))
	// The first early staging failed; the rest waited for the back-off.
	if spool, state := disk.calls(); spool != 1 || state != 0 {
		t.Errorf("%d spool and %d state writes while the back-off runs, want 1 and 0", spool, state)
	}
	failures := func() float64 { return b.metric("opentrail_delivery_stage_failures_total") }
	if got := failures(); got != 1 {
		t.Errorf("stage failures = %v, want 1", got)
	}
	if got := b.metric("opentrail_delivery_staging_failing"); got != 1 {
		t.Errorf("staging failing gauge = %v, want 1", got)
	}
	if names := b.spoolNames(); len(names) != 0 {
		t.Errorf("a failed staging left %v in the spool", names)
	}

	// The back-off ends: one more attempt, which fails too (partly
	// written files are removed).
	b.clock.Add(time.Minute)
	b.waitFor("the second attempt", func() bool { return failures() == 2 })
	if names := b.spoolNames(); len(names) != 0 {
		t.Errorf("a failed staging left %v in the spool", names)
	}
	// Space for the log files, none for the state: the files written are
	// removed, as no state lists them.
	disk.set(false, true, false)
	b.clock.Add(2 * time.Minute)
	b.waitFor("the third attempt", func() bool { return failures() == 3 })
	if names := b.spoolNames(); len(names) != 0 {
		t.Errorf("a failed commit left %v in the spool", names)
	}
	// The state is replaced but its directory fsync fails: the state on
	// disk lists the files, so they stay until the next commit.
	disk.set(false, false, true)
	b.clock.Add(4 * time.Minute)
	b.waitFor("the fourth attempt", func() bool { return failures() == 4 })
	if len(b.spoolNames()) == 0 {
		t.Error("files the state on disk lists were removed")
	}
	if n := b.logs.count(slog.LevelError, "staging log files failed"); n != 1 {
		t.Errorf("%d error lines for 4 failed attempts, want 1", n)
	}

	// Space again: the next attempt (after the capped back-off) stages,
	// and everything is delivered once.
	disk.set(false, false, false)
	b.clock.Add(4 * time.Minute)
	b.waitFor("every event delivered", func() bool { return len(mem.eventsUnder(t, "b/")) == n })
	b.waitFor("the spool to empty", func() bool { return len(b.spoolNames()) == 0 && b.pendingFiles() == 0 })
	for id, c := range mem.eventsUnder(t, "b/") {
		if c != 1 {
			t.Errorf("event %s delivered %d times", id, c)
		}
	}
	if got := failures(); got != 4 {
		t.Errorf("stage failures = %v, want 4", got)
	}
	if got := b.metric("opentrail_delivery_staging_failing"); got != 0 {
		t.Errorf("staging failing gauge = %v after recovery, want 0", got)
	}
	if n := b.logs.count(slog.LevelInfo, "staging works again"); n != 1 {
		t.Errorf("%d recovery lines, want 1", n)
	}
	if got := b.metric("opentrail_delivery_buffered_events"); got != 0 {
		t.Errorf("buffered events gauge = %v, want 0", got)
	}
}

// Check reports files in the delivery directory that are not delivery's
// (and Open leaves them alone); a temporary file of an interrupted state
// write is not reported here, as datadir lists and removes those.
func TestCheckReportsStrays(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.DiscardHandler)
	e, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(7); err != nil {
		t.Fatal(err)
	}
	// What fileutil.WriteFileAtomic leaves when killed before its rename.
	tmp, err := os.CreateTemp(dir, "."+stateFile+".tmp*")
	if err != nil {
		t.Fatal(err)
	}
	tmp.WriteString(`{"version":1,"check`)
	tmp.Close()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "old-spool"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "notes.txt") + " is not a delivery file (not written by OpenTrail; left alone)",
		filepath.Join(dir, "old-spool") + " is not a delivery file (not written by OpenTrail; left alone)",
	}
	r := Check(dir)
	slices.Sort(r.Problems)
	if diff := cmp.Diff(want, r.Problems); diff != "" || r.Checkpoint != 7 {
		t.Errorf("Check: checkpoint %d, problems (-want +got):\n%s", r.Checkpoint, diff)
	}
	if _, err := Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("Open removed a file that is not delivery's: %v", err)
	}
}

// A real failing filesystem (the spool is not a directory): every event
// over the size cap tried to stage, and each failure was logged (55 error
// lines for 60 events); now the first failure is logged and the rest wait
// for the back-off, except the attempt a Flush makes.
func TestStagingFailureLoggedOnce(t *testing.T) {
	b := newBed(t, newRecorder(&memObjects{}), func(o *Options) { o.Interval = time.Minute; o.MaxFileBytes = 2 << 10 })
	b.trail("T", "b", "")
	spool := filepath.Join(b.dir, spoolDir)
	if err := os.Remove(spool); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spool, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	b.run()
	b.events(0, 60)
	if err := b.flush(); err == nil {
		t.Fatal("Flush succeeded with no spool directory")
	}
	if n := b.logs.count(slog.LevelWarn, "staging"); n != 1 {
		t.Errorf("%d warning or error lines about staging, want 1", n)
	}
	if got := b.metric("opentrail_delivery_stage_failures_total"); got != 2 {
		t.Errorf("stage failures = %v, want 2 (the first at the size cap, then Flush's)", got)
	}
}

// clone shares nothing that changes: scribbling over every field of a
// clone (except the spool entries and notes, which are never changed in
// place, only added and removed) leaves the original as it was.
func TestStateCloneSharesNothing(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lf := digest.LogFile{S3Bucket: "b", S3Object: "k", HashValue: "h", HashAlgorithm: "SHA-256", NewestEventTime: ts, OldestEventTime: ts}
	st := &state{
		Version: 1, Checkpoint: 9,
		Carry:  map[string][]carried{"t|r": {{Epoch: ts, File: lf}}},
		Marks:  map[string]uint64{"t|a|r": 3},
		Spool:  []*spoolFile{{ID: "a", Trail: "t", Key: "k", Staged: ts}},
		Chains: map[string]*chain{"t|r": {Trail: "t", Start: ts, Prev: &prevDigest{Key: "p"}, Pending: []digest.LogFile{lf}, Epoch: ts, Bucket: "b"}},
		Status: map[string]*Status{"t|r": {LatestDeliveryError: "x", DeliveredFiles: 1, LatestDeliveryTime: ts}},
		Notes:  []*note{{Trail: "t", Keys: []string{"k"}}},
	}
	before, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	c := st.clone()
	if got, _ := json.Marshal(c); !bytes.Equal(got, before) {
		t.Fatalf("clone differs:\n%s\n%s", got, before)
	}
	shared := map[reflect.Type]bool{reflect.TypeFor[*spoolFile](): true, reflect.TypeFor[*note](): true}
	scribble(reflect.ValueOf(c).Elem(), shared)
	if after, _ := json.Marshal(st); !bytes.Equal(after, before) {
		t.Errorf("changing the clone changed the original:\nbefore %s\nafter  %s", before, after)
	}
	if got, _ := json.Marshal(c); bytes.Equal(got, before) {
		t.Error("scribble changed nothing; the test tests nothing")
	}
}

// scribble changes every value reachable from v, in place; pointers of
// the shared types are replaced by nil instead of followed.
func scribble(v reflect.Value, shared map[reflect.Type]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if shared[v.Type()] {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		scribble(v.Elem(), shared)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
			return
		}
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				scribble(v.Field(i), shared)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			scribble(v.Index(i), shared)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			scribble(e, shared)
			v.SetMapIndex(k, e)
		}
		v.SetMapIndex(reflect.ValueOf("added"), reflect.Zero(v.Type().Elem()))
	case reflect.String:
		v.SetString(v.String() + "~")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	}
}

// updateLocked changes the state only when state.json was written: a
// failed write (or a failing fn) leaves the engine's state as it was, with
// no field to undo by hand.
func TestUpdateIsAllOrNothing(t *testing.T) {
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	e, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(5); err != nil {
		t.Fatal(err)
	}
	change := func(st *state) error {
		st.Checkpoint = 6
		st.Marks["k"] = 6
		st.Spool = append(st.Spool, &spoolFile{ID: "x"})
		st.status("t|r").DeliveredFiles++
		st.Chains["t|r"] = &chain{Trail: "t"}
		return nil
	}
	snapshot := func() string {
		e.mu.Lock()
		defer e.mu.Unlock()
		b, _ := json.Marshal(e.st)
		return string(b)
	}
	before := snapshot()
	disk := &fullDisk{}
	disk.set(false, true, false)
	e.fs = disk
	tests := []struct {
		name string
		fn   func(*state) error
	}{
		{"write fails", change},
		{"fn fails", func(st *state) error { _ = change(st); return errors.New("no") }},
		{"unchanged", func(st *state) error { _ = change(st); return errUnchanged }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.mu.Lock()
			err := e.updateLocked(tc.fn)
			e.mu.Unlock()
			if (err == nil) != (tc.name == "unchanged") {
				t.Errorf("updateLocked = %v", err)
			}
			if got := snapshot(); got != before {
				t.Errorf("state changed:\nbefore %s\nafter  %s", before, got)
			}
		})
	}
	disk.set(false, false, false)
	e.mu.Lock()
	err = e.updateLocked(change)
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(); got != string(onDisk) || got == before {
		t.Errorf("after a commit, state = %s\nstate.json = %s", got, onDisk)
	}
}

// A delivery directory whose state.json is gone while its spool holds
// staged files is refused by Open and reported by Check, and the staged
// files stay: starting over would lose their events to the trail (found by
// cmd/opentrail's corruption matrix).
func TestLostStateWithStagedFilesIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, spoolDir), 0o755); err != nil {
		t.Fatal(err)
	}
	staged := filepath.Join(dir, spoolDir, "Abc123"+spoolExt)
	if err := os.WriteFile(staged, []byte("gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.DiscardHandler)
	if _, err := Open(dir, opts); err == nil || !strings.Contains(err.Error(), "holds 1 staged log files") {
		t.Fatalf("Open = %v, want the refusal", err)
	}
	if _, err := os.Stat(staged); err != nil {
		t.Fatalf("the refused Open removed the staged file: %v", err)
	}
	if r := Check(dir); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "state.json is missing") {
		t.Fatalf("Check problems = %q", r.Problems)
	}
	// Without staged files a missing state is a fresh start.
	os.Remove(staged)
	if _, err := Open(dir, opts); err != nil {
		t.Fatalf("Open of an empty delivery directory: %v", err)
	}
}
