package delivery

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

const racct = "123456789012"

// fakeLog is an in-memory Log; failOnce makes the next Read return half
// of what it read together with an error (as store.Follower.Read does).
type fakeLog struct {
	mu sync.Mutex
	// endless makes Read acknowledge a new event for every one it
	// returns: a log under sustained load, never caught up.
	endless  bool
	recs     []store.Entry
	next     int
	failOnce bool
	released uint64
	prog     chan struct{}
}

// entryOf is the log entry of a raw record at seq.
func entryOf(seq uint64, raw []byte) store.Entry {
	ev, err := event.Parse(raw)
	if err != nil {
		panic(err)
	}
	return store.Entry{Seq: seq, Event: &ev}
}

func newFakeLog() *fakeLog { return &fakeLog{prog: make(chan struct{})} }

func (l *fakeLog) add(raws ...[]byte) {
	l.mu.Lock()
	for _, r := range raws {
		l.recs = append(l.recs, entryOf(uint64(len(l.recs)+1), r))
	}
	close(l.prog)
	l.prog = make(chan struct{})
	l.mu.Unlock()
}

func (l *fakeLog) Read(max int) ([]store.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []store.Entry
	for l.endless && len(l.recs) < l.next+max {
		l.recs = append(l.recs, entryOf(uint64(len(l.recs)+1), rawEvent(len(l.recs), "us-east-1")))
	}
	for len(out) < max && l.next < len(l.recs) {
		out = append(out, l.recs[l.next])
		l.next++
		if l.failOnce && len(out) == 5 {
			l.failOnce = false
			return out, errors.New("wal reader: open 00000000000000000042.wal: too many open files")
		}
	}
	return out, nil
}

func (l *fakeLog) Progress() <-chan struct{} { l.mu.Lock(); defer l.mu.Unlock(); return l.prog }
func (l *fakeLog) Release(seq uint64)        { l.mu.Lock(); l.released = seq; l.mu.Unlock() }
func (l *fakeLog) Head() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.recs))
}

type fakeTrails struct {
	mu  sync.Mutex
	ts  map[string]catalog.Trail
	gen uint64
}

func (f *fakeTrails) All() []catalog.Trail {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []catalog.Trail
	for _, t := range f.ts {
		out = append(out, t.Clone())
	}
	return out
}
func (f *fakeTrails) Generation() uint64 { f.mu.Lock(); defer f.mu.Unlock(); return f.gen }
func (f *fakeTrails) set(t catalog.Trail) {
	f.mu.Lock()
	f.gen++
	t.Generation = f.gen
	if f.ts == nil {
		f.ts = map[string]catalog.Trail{}
	}
	f.ts[t.ARN()] = t
	f.mu.Unlock()
}

type memObjects struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (o *memObjects) Put(_ context.Context, bucket, key string, body []byte, _ objstore.PutOptions) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.objs == nil {
		o.objs = map[string][]byte{}
	}
	o.objs[bucket+"/"+key] = append([]byte(nil), body...)
	return nil
}

func (o *memObjects) events(t *testing.T) map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return countEvents(t, o.objs, func(k string) bool { return !strings.Contains(k, "CloudTrail-Digest") })
}

// countEvents counts, by eventID, the events in the log files of objs
// (by bucket/key) whose name keep accepts.
func countEvents(t *testing.T, objs map[string][]byte, keep func(string) bool) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for k, b := range objs {
		if !keep(k) {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(zr)
		var doc struct{ Records []struct{ EventID string } }
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, r := range doc.Records {
			seen[r.EventID]++
		}
	}
	return seen
}

func rawEvent(i int, region string) []byte {
	m := map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"type": "Root", "accountId": racct, "arn": "arn:aws:iam::" + racct + ":root"},
		"eventTime":    event.FormatTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)),
		"eventSource":  "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": region,
		"eventID": fmt.Sprintf("ev-%07d", i), "readOnly": true, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": racct, "eventCategory": "Management",
	}
	b, _ := json.Marshal(m)
	return b
}

type rig struct {
	e      *Engine
	log    *fakeLog
	trails *fakeTrails
	objs   *memObjects
	cancel context.CancelFunc
	done   chan error
}

func newRig(t *testing.T, mut func(*Options)) *rig {
	opts := DefaultOptions()
	opts.Interval = time.Hour
	opts.Logger = slog.New(slog.DiscardHandler)
	if mut != nil {
		mut(&opts)
	}
	e, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(0); err != nil {
		t.Fatal(err)
	}
	ko := keyring.DefaultOptions()
	ko.Bits = 1024
	keys, err := keyring.Open(t.TempDir(), ko)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{e: e, log: newFakeLog(), trails: &fakeTrails{}, objs: &memObjects{}, done: make(chan error, 1)}
	r.trails.set(catalog.Trail{Name: "T", Account: racct, HomeRegion: "us-east-1", S3BucketName: "b", IncludeGlobalServiceEvents: true, Logging: true})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		r.done <- e.Run(ctx, Deps{Log: r.log, Trails: r.trails, Objects: r.objs, Signer: keys})
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *rig) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) waitUploaded(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if files, _ := r.e.Pending(); files == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("files still staged")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Records Log.Read returns together with an error (a store.Follower
// does: "return out, err") are routed, not dropped: the follower has
// moved past them.
func TestRegressionReadErrorKeepsRecords(t *testing.T) {
	r := newRig(t, nil)
	r.log.mu.Lock()
	r.log.failOnce = true
	r.log.mu.Unlock()
	var raws [][]byte
	for i := range 20 {
		raws = append(raws, rawEvent(i, "us-east-1"))
	}
	r.log.add(raws...)
	time.Sleep(300 * time.Millisecond)
	r.flush(t)
	r.waitUploaded(t)
	if seen := r.objs.events(t); len(seen) != 20 {
		t.Fatalf("%d of 20 events delivered after a transient read error", len(seen))
	}
}

// Flush is a barrier even when more than 64*2048 records are waiting: it
// routes everything before it answers, so events recorded before a trail
// change (here StopLogging) are routed under the old settings.
func TestRegressionFlushReadsEverything(t *testing.T) {
	testenv.SkipShort(t, "routes 140k events")
	r := newRig(t, nil)
	time.Sleep(100 * time.Millisecond) // the loop is idle in its select
	const n = 64*2048 + 5000
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = rawEvent(i, "us-east-1")
	}
	// Append without waking the loop (as if acknowledged while it was busy
	// writing digests), then flush right away.
	r.log.mu.Lock()
	for i, raw := range raws {
		r.log.recs = append(r.log.recs, entryOf(uint64(i+1), raw))
	}
	r.log.mu.Unlock()
	r.flush(t)
	// StopLogging after the flush, as api.setLogging does.
	tr := r.trails.All()[0]
	tr.Logging = false
	r.trails.set(tr)
	r.flush(t)
	r.waitUploaded(t)
	if seen := r.objs.events(t); len(seen) != n {
		t.Fatalf("%d of %d events recorded before StopLogging were delivered", len(seen), n)
	}
}

// A multi-region trail made single-region closes its non-home digest
// chains with a final digest (instead of empty digests forever).
func TestRegressionMultiToSingleRegionClosesChains(t *testing.T) {
	r := newRig(t, func(o *Options) { o.DigestInterval = time.Hour })
	tr := r.trails.All()[0]
	tr.IsMultiRegionTrail, tr.LogFileValidationEnabled = true, true
	r.trails.set(tr)
	r.log.mu.Lock()
	r.log.recs = append(r.log.recs, entryOf(1, rawEvent(1, "eu-west-1")))
	r.log.mu.Unlock()
	r.flush(t)
	r.waitUploaded(t)
	if !r.e.HasChain(tr.ARN(), "eu-west-1") {
		t.Fatal("no eu-west-1 chain")
	}
	tr.IsMultiRegionTrail = false
	r.trails.set(tr)
	r.flush(t)
	time.Sleep(1500 * time.Millisecond)
	r.e.mu.Lock()
	c := r.e.st.Chains[chainKey(tr.ARN(), "eu-west-1")]
	r.e.mu.Unlock()
	if c != nil && !c.Closing {
		t.Fatalf("single-region trail still has an open eu-west-1 digest chain: %+v", *c)
	}
}

func digestsIn(t *testing.T, o *memObjects) map[string]map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]map[string]any{}
	for k, b := range o.objs {
		if !strings.Contains(k, "CloudTrail-Digest") {
			continue
		}
		zr, _ := gzip.NewReader(bytes.NewReader(b))
		raw, _ := io.ReadAll(zr)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out[k] = m
	}
	return out
}

// Events read between the API's Flush and its catalog Update (here:
// validation turned off) are staged when the chain closes, and the final
// digest waits for them, so their file is listed in it.
func TestRegressionFinalDigestCoversBufferedFile(t *testing.T) {
	r := newRig(t, func(o *Options) { o.DigestInterval = time.Hour })
	tr := r.trails.All()[0]
	tr.LogFileValidationEnabled = true
	r.trails.set(tr)
	r.flush(t) // chain opened
	// Events acknowledged after the API's Flush returned...
	r.log.add(rawEvent(1, "us-east-1"), rawEvent(2, "us-east-1"))
	time.Sleep(200 * time.Millisecond)
	// ...then the catalog update (validation off).
	tr.LogFileValidationEnabled = false
	r.trails.set(tr)
	deadline := time.Now().Add(5 * time.Second)
	for r.e.HasChain(tr.ARN(), "us-east-1") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	r.flush(t)
	r.waitUploaded(t)
	listed := map[string]bool{}
	for _, d := range digestsIn(t, r.objs) {
		for _, f := range d["logFiles"].([]any) {
			listed[f.(map[string]any)["s3Object"].(string)] = true
		}
	}
	r.objs.mu.Lock()
	defer r.objs.mu.Unlock()
	for k := range r.objs.objs {
		if strings.Contains(k, "CloudTrail-Digest") {
			continue
		}
		if _, key, _ := strings.Cut(k, "/"); !listed[key] {
			t.Errorf("log file %s (events read while validation was on) is in no digest", k)
		}
	}
}

// Catch-up after downtime with a fake clock: windows tile, one starting
// digest, the file listed once.
func TestRegressionDigestCatchUpAfterDowntime(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dir := t.TempDir()
	opts := DefaultOptions()
	opts.Interval, opts.DigestInterval, opts.Now = time.Hour, time.Hour, clock
	opts.Logger = slog.New(slog.DiscardHandler)
	ko := keyring.DefaultOptions()
	ko.Bits = 1024
	keys, err := keyring.Open(t.TempDir(), ko)
	if err != nil {
		t.Fatal(err)
	}
	log, trails, objs := newFakeLog(), &fakeTrails{}, &memObjects{}
	trails.set(catalog.Trail{Name: "T", Account: racct, HomeRegion: "us-east-1", S3BucketName: "b", IncludeGlobalServiceEvents: true, Logging: true, LogFileValidationEnabled: true})
	run := func() (context.CancelFunc, chan error, *Engine) {
		e, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.Checkpoint(); !ok {
			e.Init(0)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx, Deps{Log: log, Trails: trails, Objects: objs, Signer: keys}) }()
		return cancel, done, e
	}
	cancel, done, e := run()
	log.add(rawEvent(1, "us-east-1"))
	time.Sleep(100 * time.Millisecond)
	ctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
	e.Flush(ctx)
	c2()
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	now = now.Add(3*time.Hour + 30*time.Minute)
	mu.Unlock()
	cancel, done, e = run()
	defer func() { cancel(); <-done }()
	time.Sleep(1500 * time.Millisecond)
	ds := digestsIn(t, objs)
	var ends []string
	starts, files := 0, 0
	byEnd := map[string]map[string]any{}
	for _, d := range ds {
		ends = append(ends, d["digestEndTime"].(string))
		byEnd[d["digestEndTime"].(string)] = d
		if d["previousDigestS3Object"] == nil {
			starts++
		}
		files += len(d["logFiles"].([]any))
	}
	for _, d := range ds {
		if p, ok := d["previousDigestS3Object"].(string); ok {
			if _, found := ds["b/"+p]; !found {
				t.Errorf("dangling previous %s", p)
			}
		}
		if _, ok := byEnd[d["digestStartTime"].(string)]; !ok && d["previousDigestS3Object"] != nil {
			t.Errorf("gap before %v", d["digestStartTime"])
		}
	}
	t.Logf("digest ends %v, %d starting, %d files listed", ends, starts, files)
	if len(ds) != 3 || starts != 1 || files != 1 {
		t.Errorf("want 3 digests, 1 starting, 1 file")
	}
}

func BenchmarkConsume(b *testing.B) {
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.DiscardHandler)
	e, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	e.Init(0)
	log, trails := newFakeLog(), &fakeTrails{}
	for i := range 5 {
		trails.set(catalog.Trail{Name: fmt.Sprintf("T%d", i), Account: racct, HomeRegion: "us-east-1", S3BucketName: "b", IncludeGlobalServiceEvents: true, Logging: true, IsMultiRegionTrail: true})
	}
	e.deps = Deps{Log: log, Trails: trails, Objects: &memObjects{}}
	raws := make([][]byte, b.N)
	for i := range raws {
		raws[i] = rawEvent(i, "us-east-1")
	}
	log.mu.Lock()
	for i, raw := range raws {
		log.recs = append(log.recs, entryOf(uint64(i+1), raw))
	}
	log.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for e.readPos < uint64(b.N) {
		if _, _, err := e.consume(); err != nil {
			b.Fatal(err)
		}
	}
}

// A trail change (Flush) is served while events keep arriving: it routes
// what was acknowledged before it, not until the log is quiet. It once
// waited for a moment with nothing to read, which under sustained load
// (500 clients) took seconds, and here forever.
func TestRegressionFlushUnderSustainedLoad(t *testing.T) {
	r := newRig(t, nil)
	r.log.mu.Lock()
	r.log.endless = true
	r.log.mu.Unlock()
	t.Cleanup(func() { // the load ends before the engine stops
		r.log.mu.Lock()
		r.log.endless = false
		r.log.mu.Unlock()
	})
	for range 3 {
		before := r.log.Head()
		r.flush(t) // fails after 60 s
		r.log.mu.Lock()
		pos := uint64(r.log.next)
		r.log.mu.Unlock()
		if pos < before {
			t.Fatalf("Flush returned having read to %d, before the %d acknowledged when it was asked", pos, before)
		}
	}
}
