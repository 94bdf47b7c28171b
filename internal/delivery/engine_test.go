package delivery_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	acct  = "123456789012"
	other = "210987654321"
)

// objects is an in-memory bucket store that can be told to fail.
type objects struct {
	mu    sync.Mutex
	objs  map[string][]byte // bucket/key
	meta  map[string]map[string]string
	puts  map[string]int
	fail  error
	calls int
}

func newObjects() *objects {
	return &objects{objs: map[string][]byte{}, meta: map[string]map[string]string{}, puts: map[string]int{}}
}

func (o *objects) Put(_ context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.fail != nil {
		return o.fail
	}
	if opt.ACL != "bucket-owner-full-control" || opt.ContentType != "application/x-gzip" {
		return fmt.Errorf("bad put options %+v", opt)
	}
	o.objs[bucket+"/"+key] = append([]byte(nil), body...)
	o.meta[bucket+"/"+key] = opt.Metadata
	o.puts[bucket+"/"+key]++
	return nil
}

func (o *objects) setFail(err error) {
	o.mu.Lock()
	o.fail = err
	o.mu.Unlock()
}

func (o *objects) snapshot() map[string][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range o.objs {
		out[k] = v
	}
	return out
}

type publisher struct {
	mu   sync.Mutex
	msgs []string
}

func (p *publisher) Publish(_ context.Context, topic, msg string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, topic+" "+msg)
	return nil
}

var base = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func mkEvent(t testing.TB, i int, account, region string) event.Event {
	t.Helper()
	m := map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"type": "Root", "accountId": account, "arn": "arn:aws:iam::" + account + ":root"},
		"eventTime":    event.FormatTime(base.Add(time.Duration(i) * time.Second)),
		"eventSource":  "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": region,
		"eventID": fmt.Sprintf("ev-%s-%s-%06d", account, region, i), "readOnly": i%2 == 0, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
	}
	b, _ := json.Marshal(m)
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

type harness struct {
	t      *testing.T
	dir    string
	st     *store.Store
	cat    *catalog.Catalog
	keys   *keyring.Keyring
	objs   *objects
	pub    *publisher
	eng    *delivery.Engine
	cancel context.CancelFunc
	done   chan error
	opts   delivery.Options
}

func newHarness(t *testing.T, mut func(*delivery.Options)) *harness {
	h := &harness{t: t, dir: t.TempDir(), objs: newObjects(), pub: &publisher{}}
	so := store.DefaultOptions()
	so.Followers = []string{"delivery"}
	var err error
	if h.st, err = store.Open(h.dir+"/events", so); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	if h.cat, err = catalog.Open(h.dir+"/trails", catalog.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	ko := keyring.DefaultOptions()
	ko.Bits = 1024
	if h.keys, err = keyring.Open(h.dir+"/keys", ko); err != nil {
		t.Fatal(err)
	}
	h.opts = delivery.DefaultOptions()
	h.opts.Interval = 100 * time.Millisecond
	h.opts.RetryMin, h.opts.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	h.opts.Logger = slog.New(slog.DiscardHandler)
	if mut != nil {
		mut(&h.opts)
	}
	h.start()
	return h
}

// start opens the engine over the harness directory and runs it.
func (h *harness) start() {
	t := h.t
	eng, err := delivery.Open(h.dir+"/delivery", h.opts)
	if err != nil {
		t.Fatal(err)
	}
	ck, ok := eng.Checkpoint()
	if !ok {
		ck = h.st.Head()
		if err := eng.Init(ck); err != nil {
			t.Fatal(err)
		}
	}
	f, err := h.st.Follow("delivery", ck, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.eng, h.cancel, h.done = eng, cancel, make(chan error, 1)
	go func() {
		err := eng.Run(ctx, delivery.Deps{Log: f, Trails: h.cat, Objects: h.objs, Signer: h.keys, Publisher: h.pub})
		f.Close()
		h.done <- err
	}()
	t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("engine stopped with %v", err)
	}
	h.cancel = nil
}

func (h *harness) addTrail(name, region string, mut func(*catalog.Trail)) catalog.Trail {
	tr := catalog.Trail{Name: name, Account: acct, HomeRegion: region, S3BucketName: "bucket-" + strings.ToLower(name),
		IncludeGlobalServiceEvents: true, Logging: true}
	if mut != nil {
		mut(&tr)
	}
	out, err := h.cat.Create(tr)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) append(evs ...event.Event) {
	if _, err := h.st.Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// waitDelivered waits until nothing is buffered, staged or queued for
// longer than a few intervals.
func (h *harness) waitDelivered() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.eng.Flush(ctx); err != nil {
		h.t.Fatal(err)
	}
	for {
		files, notes := h.eng.Pending()
		if files == 0 && notes == 0 {
			return
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("still pending: %d files, %d notes", files, notes)
		case <-h.eng.Progress():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logFiles returns the delivered log files by bucket/key, and for every
// event id how many times it was delivered under each bucket.
func logFiles(t *testing.T, objs map[string][]byte) (files map[string][]string, seen map[string]int) {
	files, seen = map[string][]string{}, map[string]int{}
	for path, body := range objs {
		bucket, key, _ := strings.Cut(path, "/")
		if strings.Contains(key, "CloudTrail-Digest") {
			continue
		}
		if _, err := layout.ParseLogKey(key); err != nil {
			t.Fatalf("log file key: %v", err)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(gunzip(t, body), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, r := range doc.Records {
			ev, err := event.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			files[path] = append(files[path], ev.EventID)
			seen[bucket+" "+ev.EventID]++
		}
	}
	return files, seen
}

func TestDeliveryRoutesEventsToTrails(t *testing.T) {
	h := newHarness(t, nil)
	h.addTrail("Home", "us-east-1", nil)
	h.addTrail("Multi", "us-east-1", func(tr *catalog.Trail) { tr.IsMultiRegionTrail = true; tr.S3KeyPrefix = "p/q" })
	h.addTrail("Stopped", "us-east-1", func(tr *catalog.Trail) { tr.Logging = false })
	h.addTrail("West", "us-west-2", func(tr *catalog.Trail) {
		tr.Selectors.EventSelectors = nil // default
	})
	var evs []event.Event
	for i := range 30 {
		evs = append(evs, mkEvent(t, i, acct, []string{"us-east-1", "us-west-2", "eu-west-1"}[i%3]))
		evs = append(evs, mkEvent(t, i, other, "us-east-1"))
	}
	h.append(evs...)
	h.waitDelivered()
	files, seen := logFiles(t, h.objs.snapshot())
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	count := func(bucket, region string) int {
		n := 0
		for k := range seen {
			if strings.HasPrefix(k, bucket+" ") && strings.Contains(k, "-"+region+"-") && strings.Contains(k, acct) {
				n++
			}
		}
		return n
	}
	if got := count("bucket-home", "us-east-1"); got != 10 || len(seen) != 10+30+10 {
		t.Errorf("home trail got %d us-east-1 events; %d deliveries in all: %v", got, len(seen), seen)
	}
	if count("bucket-multi", "eu-west-1") != 10 || count("bucket-west", "us-west-2") != 10 {
		t.Errorf("multi-region or west trail missed events: %v", seen)
	}
	for path := range files {
		if strings.HasPrefix(path, "bucket-multi/") && !strings.HasPrefix(path, "bucket-multi/p/q/AWSLogs/"+acct+"/CloudTrail/") {
			t.Errorf("multi-region file outside the prefix: %s", path)
		}
		if strings.Contains(path, other) || strings.HasPrefix(path, "bucket-stopped/") {
			t.Errorf("delivered what no trail records: %s", path)
		}
	}
	if st := h.eng.Status("arn:aws:cloudtrail:us-east-1:"+acct+":trail/Home", "us-east-1"); st.LatestDeliveryTime.IsZero() || st.LatestDeliveryError != "" {
		t.Errorf("status = %+v", st)
	}
}

// Restarting the engine (a graceful stop stages what is buffered) never
// loses or repeats an event.
func TestDeliveryExactlyOnceAcrossRestarts(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.Interval = time.Hour })
	h.addTrail("T", "us-east-1", nil)
	total := 0
	for round := range 5 {
		var evs []event.Event
		for i := range 40 {
			evs = append(evs, mkEvent(t, round*100+i, acct, "us-east-1"))
		}
		h.append(evs...)
		total += len(evs)
		h.stop()
		h.start()
	}
	h.waitDelivered()
	_, seen := logFiles(t, h.objs.snapshot())
	if len(seen) != total {
		t.Fatalf("%d of %d events delivered", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
}

// An unreachable bucket delays delivery, shows in the status, and loses
// nothing.
func TestDeliveryRetriesFailingBucket(t *testing.T) {
	h := newHarness(t, nil)
	tr := h.addTrail("T", "us-east-1", nil)
	h.objs.setFail(fmt.Errorf("put: %w", objstore.ErrNoSuchBucket))
	h.append(mkEvent(t, 1, acct, "us-east-1"), mkEvent(t, 2, acct, "us-east-1"))
	deadline := time.Now().Add(10 * time.Second)
	for h.eng.Status(tr.ARN(), "us-east-1").LatestDeliveryError == "" {
		if time.Now().After(deadline) {
			t.Fatal("no delivery error reported")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := h.eng.Status(tr.ARN(), "us-east-1"); st.LatestDeliveryError != "NoSuchBucket" || !st.LatestDeliveryTime.IsZero() {
		t.Fatalf("status = %+v", st)
	}
	h.objs.setFail(nil)
	h.waitDelivered()
	if st := h.eng.Status(tr.ARN(), "us-east-1"); st.LatestDeliveryError != "" || st.LatestDeliveryTime.IsZero() {
		t.Fatalf("status after recovery = %+v", st)
	}
	if _, seen := logFiles(t, h.objs.snapshot()); len(seen) != 2 {
		t.Fatalf("delivered %v", seen)
	}
}

// A buffer that reaches the size cap is written at once, in several files.
func TestDeliverySplitsAtSizeCap(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.Interval = time.Hour; o.MaxFileBytes = 4 << 10 })
	h.addTrail("T", "us-east-1", nil)
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, mkEvent(t, i, acct, "us-east-1"))
	}
	h.append(evs...)
	h.waitDelivered()
	files, seen := logFiles(t, h.objs.snapshot())
	if len(seen) != 100 || len(files) < 10 {
		t.Fatalf("%d events in %d files", len(seen), len(files))
	}
	for path, body := range h.objs.snapshot() {
		if n := len(gunzip(t, body)); n > 4<<10 {
			t.Errorf("%s is %d bytes uncompressed, over the cap", path, n)
		}
	}
}

func TestDeliveryNotifies(t *testing.T) {
	h := newHarness(t, nil)
	h.addTrail("T", "us-east-1", func(tr *catalog.Trail) { tr.SnsTopicARN = "arn:aws:sns:us-east-1:" + acct + ":files" })
	h.append(mkEvent(t, 1, acct, "us-east-1"))
	h.waitDelivered()
	h.pub.mu.Lock()
	defer h.pub.mu.Unlock()
	if len(h.pub.msgs) != 1 {
		t.Fatalf("notifications: %v", h.pub.msgs)
	}
	topic, msg, _ := strings.Cut(h.pub.msgs[0], " ")
	var m struct {
		S3Bucket    string   `json:"s3Bucket"`
		S3ObjectKey []string `json:"s3ObjectKey"`
	}
	if err := json.Unmarshal([]byte(msg), &m); err != nil || topic != "arn:aws:sns:us-east-1:"+acct+":files" ||
		m.S3Bucket != "bucket-t" || len(m.S3ObjectKey) != 1 || !strings.HasPrefix(m.S3ObjectKey[0], "AWSLogs/") {
		t.Fatalf("notification %s %s (%v)", topic, msg, err)
	}
}

// Digests tile time, chain to each other, verify with the keyring's key,
// and list every delivered log file exactly once; stopping logging writes
// a final digest.
func TestDeliveryDigestChain(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.DigestInterval = time.Second })
	tr := h.addTrail("T", "us-east-1", func(tr *catalog.Trail) { tr.LogFileValidationEnabled = true })
	for i := range 6 {
		h.append(mkEvent(t, i, acct, "us-east-1"))
		time.Sleep(400 * time.Millisecond)
	}
	h.waitDelivered()
	time.Sleep(1500 * time.Millisecond) // one more window, empty
	if _, err := h.cat.Update(tr.ARN(), func(c *catalog.Trail) error { c.Logging = false; return nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.eng.Status(tr.ARN(), "us-east-1").LatestDigestDeliveryTime.IsZero() || h.eng.HasChain(tr.ARN(), "us-east-1") {
		if time.Now().After(deadline) {
			t.Fatal("the final digest was not written")
		}
		time.Sleep(50 * time.Millisecond)
	}
	objs := h.objs.snapshot()
	files, _ := logFiles(t, objs)
	var digests []string
	for path := range objs {
		if strings.Contains(path, "CloudTrail-Digest") {
			digests = append(digests, path)
		}
	}
	if len(digests) < 3 {
		t.Fatalf("only %d digests", len(digests))
	}
	keys := h.keys.Public(delivery.SigningKeySet, base.Add(-time.Hour), time.Now().Add(time.Hour))
	pub := map[string][]byte{}
	for _, k := range keys {
		pub[k.Fingerprint] = k.Value
	}
	type parsed struct {
		doc  *digest.Document
		hash string
	}
	byKey := map[string]parsed{}
	for _, p := range digests {
		raw := gunzip(t, objs[p])
		doc, err := digest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		bucket, key, _ := strings.Cut(p, "/")
		if doc.DigestS3Bucket != bucket || doc.DigestS3Object != key {
			t.Fatalf("digest %s says it is at %s/%s", p, doc.DigestS3Bucket, doc.DigestS3Object)
		}
		sig := h.objs.meta[p]["signature"]
		if err := digest.Verify(pub[doc.DigestPublicKeyFingerprint], doc.SigningString(digest.Hash(raw)), sig); err != nil {
			t.Fatalf("digest %s: %v", p, err)
		}
		byKey[key] = parsed{doc, digest.Hash(raw)}
	}
	// Walk back from the newest: every link matches, windows tile, and
	// the log files listed are exactly those delivered.
	listed := map[string]int{}
	starts := 0
	for key, p := range byKey {
		for _, f := range p.doc.LogFiles {
			listed[f.S3Bucket+"/"+f.S3Object]++
			body := gunzip(t, objs[f.S3Bucket+"/"+f.S3Object])
			if digest.Hash(body) != f.HashValue {
				t.Errorf("log file %s hash differs from its digest entry", f.S3Object)
			}
		}
		prev, ok := p.doc.Previous()
		if !ok {
			starts++
			continue
		}
		pp, found := byKey[prev.Object]
		if !found {
			t.Fatalf("%s points to a missing digest %s", key, prev.Object)
		}
		if pp.hash != prev.Hash || h.objs.meta[prev.Bucket+"/"+prev.Object]["signature"] != prev.Signature {
			t.Errorf("%s: previous digest link does not match", key)
		}
		if !pp.doc.DigestEndTime.Equal(p.doc.DigestStartTime) {
			t.Errorf("%s starts at %v, the previous ended at %v", key, p.doc.DigestStartTime, pp.doc.DigestEndTime)
		}
	}
	if starts != 1 {
		t.Errorf("%d starting digests, want 1", starts)
	}
	for f := range files {
		if listed[f] != 1 {
			t.Errorf("log file %s listed in %d digests", f, listed[f])
		}
	}
}

// Deleting a trail writes a final digest, into the bucket the trail had,
// covering the files delivered since the last one.
func TestDeliveryFinalDigestAfterDelete(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.DigestInterval = time.Hour })
	tr := h.addTrail("Gone", "us-east-1", func(tr *catalog.Trail) { tr.LogFileValidationEnabled = true })
	h.append(mkEvent(t, 1, acct, "us-east-1"))
	h.waitDelivered()
	if err := h.cat.Delete(tr.ARN()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.eng.HasChain(tr.ARN(), "us-east-1") {
		if time.Now().After(deadline) {
			t.Fatal("no final digest after DeleteTrail")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var digests []*digest.Document
	for path, body := range h.objs.snapshot() {
		if strings.Contains(path, "CloudTrail-Digest") {
			if !strings.HasPrefix(path, "bucket-gone/AWSLogs/"+acct+"/CloudTrail-Digest/us-east-1/") {
				t.Fatalf("digest at %s", path)
			}
			d, err := digest.Parse(gunzip(t, body))
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, d)
		}
	}
	if len(digests) != 1 || len(digests[0].LogFiles) != 1 {
		t.Fatalf("digests after delete: %+v", digests)
	}
}

func mkRecord(t testing.TB, id, category, source string, readOnly bool, resources ...map[string]any) event.Event {
	t.Helper()
	m := map[string]any{
		"eventVersion": "1.11", "userIdentity": map[string]any{"type": "Root", "accountId": acct, "arn": "arn:aws:iam::" + acct + ":root"},
		"eventTime": event.FormatTime(base), "eventSource": source, "eventName": "Op", "awsRegion": "us-east-1",
		"eventID": id, "readOnly": readOnly, "eventType": "AwsApiCall", "managementEvent": category == "Management",
		"recipientAccountId": acct, "eventCategory": category,
	}
	if len(resources) > 0 {
		m["resources"] = resources
	}
	b, _ := json.Marshal(m)
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Trails deliver what their selectors admit: read/write choice, excluded
// management sources, S3 data-event resources, and advanced selectors.
func TestDeliveryAppliesSelectors(t *testing.T) {
	h := newHarness(t, nil)
	no := false
	h.addTrail("Writes", "us-east-1", func(tr *catalog.Trail) {
		tr.Selectors = selector.Basic([]selector.EventSelector{{ReadWriteType: "WriteOnly", ExcludeManagementEventSources: []string{"kms.amazonaws.com"}}})
	})
	h.addTrail("Objects", "us-east-1", func(tr *catalog.Trail) {
		tr.Selectors = selector.Basic([]selector.EventSelector{{IncludeManagementEvents: &no,
			DataResources: []selector.DataResource{{Type: "AWS::S3::Object", Values: []string{"arn:aws:s3:::logs-bucket/"}}}}})
	})
	h.addTrail("Advanced", "us-east-1", func(tr *catalog.Trail) {
		tr.Selectors = selector.Advanced([]selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{
			{Field: "eventCategory", Equals: []string{"Data"}},
			{Field: "resources.type", Equals: []string{"AWS::S3::Object"}},
			{Field: "resources.ARN", NotStartsWith: []string{"arn:aws:s3:::logs-bucket/"}},
		}}})
	})
	obj := func(arn string) map[string]any { return map[string]any{"ARN": arn, "type": "AWS::S3::Object"} }
	h.append(
		mkRecord(t, "mgmt-read", "Management", "ec2.amazonaws.com", true),
		mkRecord(t, "mgmt-write", "Management", "ec2.amazonaws.com", false),
		mkRecord(t, "kms-write", "Management", "kms.amazonaws.com", false),
		mkRecord(t, "data-logs", "Data", "s3.amazonaws.com", true, obj("arn:aws:s3:::logs-bucket/a.txt")),
		mkRecord(t, "data-other", "Data", "s3.amazonaws.com", false, obj("arn:aws:s3:::other/b.txt")),
	)
	h.waitDelivered()
	_, seen := logFiles(t, h.objs.snapshot())
	want := map[string]int{
		"bucket-writes mgmt-write":   1,
		"bucket-objects data-logs":   1,
		"bucket-advanced data-other": 1,
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
}

// With nothing buffered the checkpoint follows the log (at most a second
// behind), so the store can drop WAL segments; a buffered event holds it.
func TestDeliveryCheckpointFollowsTheLog(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.Interval = time.Hour })
	h.append(mkEvent(t, 1, other, "us-east-1"), mkEvent(t, 2, other, "us-east-1"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		ck, _ := h.eng.Checkpoint()
		if ck == h.st.Head() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint %d, head %d", ck, h.st.Head())
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.addTrail("T", "us-east-1", nil)
	h.append(mkEvent(t, 3, acct, "us-east-1")) // buffered for an hour
	held := h.st.Head() - 1
	h.append(mkEvent(t, 4, other, "us-east-1"))
	time.Sleep(1500 * time.Millisecond)
	h.append(mkEvent(t, 5, other, "us-east-1"))
	time.Sleep(300 * time.Millisecond)
	if ck, _ := h.eng.Checkpoint(); ck != held {
		t.Fatalf("checkpoint %d with an event buffered at %d", ck, held+1)
	}
}

// Logging restarted while the previous chain still waits for its final
// digest (its bucket is down): the files of each logging period go into
// their own period's chain, the old ones into the final digest and the new
// ones into the new chain's starting digest.
func TestDeliveryRestartWhileFinalDigestWaits(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.DigestInterval = 2 * time.Second })
	t0 := time.Now().UTC().Add(-time.Minute)
	tr := h.addTrail("T", "us-east-1", func(tr *catalog.Trail) {
		tr.LogFileValidationEnabled, tr.StartLoggingTime = true, t0
	})
	h.objs.setFail(fmt.Errorf("put: %w", objstore.ErrUnavailable))
	h.append(mkEvent(t, 1, acct, "us-east-1"))
	if err := h.eng.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := func(c *catalog.Trail) error { c.Logging = false; return nil }
	if _, err := h.cat.Update(tr.ARN(), stop); err != nil {
		t.Fatal(err)
	}
	if err := h.eng.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	restart := func(c *catalog.Trail) error { c.Logging, c.StartLoggingTime = true, time.Now().UTC(); return nil }
	if _, err := h.cat.Update(tr.ARN(), restart); err != nil {
		t.Fatal(err)
	}
	h.append(mkEvent(t, 2, acct, "us-east-1"))
	if err := h.eng.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	h.objs.setFail(nil)
	h.waitDelivered()
	// The digests come at the digest interval once the bucket's retries
	// back off no more; a loaded machine under -race took longer than 15 s.
	deadline := time.Now().Add(60 * time.Second)
	type dg struct {
		doc  *digest.Document
		ids  []string
		path string
	}
	for {
		objs := h.objs.snapshot()
		files, _ := logFiles(t, objs)
		var digests []dg
		for path, body := range objs {
			if !strings.Contains(path, "CloudTrail-Digest") {
				continue
			}
			d, err := digest.Parse(gunzip(t, body))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range d.LogFiles {
				ids = append(ids, files[f.S3Bucket+"/"+f.S3Object]...)
			}
			digests = append(digests, dg{d, ids, path})
		}
		// The final digest of the first chain lists event 1's file. Event
		// 2's file is in the new chain, which starts with a digest without
		// a previous one: event 2's own digest when its file was delivered
		// within the new chain's first digest interval, else a later one
		// (the chain's first digests list no files; a loaded machine was
		// that slow).
		var final, second *dg
		byPath := map[string]*dg{}
		for i := range digests {
			byPath[digests[i].path] = &digests[i]
			switch {
			case slices.Contains(digests[i].ids, "ev-"+acct+"-us-east-1-000001"):
				final = &digests[i]
			case slices.Contains(digests[i].ids, "ev-"+acct+"-us-east-1-000002"):
				second = &digests[i]
			}
		}
		if final != nil && second != nil {
			if len(final.ids) != 1 || len(second.ids) != 1 {
				t.Fatalf("final digest lists %v, the new chain's digest %v", final.ids, second.ids)
			}
			for d := second; ; {
				l, ok := d.doc.Previous()
				if !ok {
					break
				}
				prev := byPath[l.Bucket+"/"+l.Object]
				if prev == nil {
					t.Fatalf("digest %s: previous digest %s/%s not delivered", d.path, l.Bucket, l.Object)
				}
				if prev == final {
					t.Fatalf("digest %s, the new chain's, links to the first chain's final digest", d.path)
				}
				if len(prev.ids) != 0 {
					t.Fatalf("digest %s before event 2's in the new chain lists %v", prev.path, prev.ids)
				}
				d = prev
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("digests: %d (final %v, event 2's %v)", len(digests), final != nil, second != nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
