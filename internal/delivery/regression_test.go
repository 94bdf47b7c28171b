package delivery_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store"
)

// A failure while staging a buffer early (at the size cap) must not drop
// the rest of the batch the follower already returned (it did once: those
// events were never routed and the checkpoint moved past them).
func TestRegressionEarlyStageFailureKeepsBatch(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.Interval = time.Hour; o.MaxFileBytes = 4 << 10 })
	h.addTrail("T", "us-east-1", nil)
	spool := h.dir + "/delivery/spool"
	// Make staging fail (ENOTDIR) while the batch is routed.
	if err := os.RemoveAll(spool); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spool, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, mkEvent(t, i, acct, "us-east-1"))
	}
	h.append(evs...)
	time.Sleep(500 * time.Millisecond) // the loop reads the batch; the early stage fails
	// The disk recovers.
	os.Remove(spool)
	if err := os.Mkdir(spool, 0o755); err != nil {
		t.Fatal(err)
	}
	h.waitDelivered()
	_, seen := logFiles(t, h.objs.snapshot())
	t.Logf("after the disk recovered: %d of 100 delivered", len(seen))
	// Later events move the checkpoint on; a restart then cannot replay them.
	h.append(mkEvent(t, 500, acct, "us-east-1"))
	h.waitDelivered()
	h.stop()
	h.start()
	h.waitDelivered()
	_, seen = logFiles(t, h.objs.snapshot())
	if len(seen) != 101 {
		t.Fatalf("%d of 101 events delivered (after the disk recovered and a restart)", len(seen))
	}
}

// failingTopic fails every publish to one topic.
type failingTopic struct {
	mu   sync.Mutex
	bad  string
	msgs []string
}

func (p *failingTopic) Publish(_ context.Context, topic, msg string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if topic == p.bad {
		return errors.New("NotFound: topic does not exist")
	}
	p.msgs = append(p.msgs, topic)
	return nil
}

// One topic that keeps failing must not block other trails'
// notifications (the notifier once stopped at the first failure).
func TestRegressionFailingTopicDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) {})
	h.stop()
	pub := &failingTopic{bad: "arn:aws:sns:us-east-1:" + acct + ":gone"}
	// restart with our publisher
	eng, err := delivery.Open(h.dir+"/delivery", h.opts)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := eng.Checkpoint()
	f, err := h.st.Follow("delivery", ck, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- eng.Run(ctx, delivery.Deps{Log: f, Trails: h.cat, Objects: h.objs, Signer: h.keys, Publisher: pub})
	}()
	defer func() { cancel(); <-done; f.Close() }()
	h.eng = eng
	h.addTrail("Bad", "us-east-1", func(tr *catalog.Trail) { tr.SnsTopicARN = pub.bad })
	h.append(mkEvent(t, 1, acct, "us-east-1"))
	time.Sleep(300 * time.Millisecond) // Bad's file and note come first
	good := h.addTrail("Good", "us-east-1", func(tr *catalog.Trail) { tr.SnsTopicARN = "arn:aws:sns:us-east-1:" + acct + ":ok" })
	h.append(mkEvent(t, 2, acct, "us-east-1"))
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		pub.mu.Lock()
		n := len(pub.msgs)
		pub.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	files, notes := eng.Pending()
	t.Fatalf("trail %s never notified in 3s (files %d, notes %d, status %+v)", good.Name, files, notes, eng.Status(good.ARN(), "us-east-1"))
}

// countingFail fails every PUT under one bucket and counts them.
type countingFail struct {
	*objects
	mu   sync.Mutex
	bad  string
	hits int
}

func (c *countingFail) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	if bucket == c.bad {
		c.mu.Lock()
		c.hits++
		c.mu.Unlock()
		return objstore.ErrAccessDenied
	}
	return c.objects.Put(ctx, bucket, key, body, opt)
}

// A failing digest PUT is retried with back-off, not on every loop turn
// (it once was, rewriting state.json each time, at the rate events woke
// the loop).
func TestRegressionDigestRetryBacksOff(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.DigestInterval = time.Second; o.Interval = time.Hour })
	h.stop()
	co := &countingFail{objects: h.objs, bad: "digest-bucket"}
	eng, err := delivery.Open(h.dir+"/delivery", h.opts)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := eng.Checkpoint()
	f, err := h.st.Follow("delivery", ck, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- eng.Run(ctx, delivery.Deps{Log: f, Trails: h.cat, Objects: co, Signer: h.keys, Publisher: h.pub})
	}()
	defer func() { cancel(); <-done; f.Close() }()
	h.addTrail("T", "us-east-1", func(tr *catalog.Trail) { tr.LogFileValidationEnabled = true; tr.S3BucketName = "digest-bucket" })
	time.Sleep(1200 * time.Millisecond) // first window due
	co.mu.Lock()
	co.hits = 0
	co.mu.Unlock()
	// 2 s of a modest event stream (other account: no trail records it)
	stop := time.Now().Add(2 * time.Second)
	i := 0
	for time.Now().Before(stop) {
		h.append(mkEvent(t, i, other, "us-east-1"))
		i++
		time.Sleep(2 * time.Millisecond)
	}
	co.mu.Lock()
	hits := co.hits
	co.mu.Unlock()
	t.Logf("%d events appended; %d digest PUT attempts to the failing bucket in 2 s (RetryMin %v)", i, hits, h.opts.RetryMin)
	if hits > 20 {
		t.Errorf("digest PUT retried %d times in 2 s: no back-off", hits)
	}
	_ = strings.Contains
}

// hanging never answers a PUT to one bucket until the context ends.
type hanging struct {
	*objects
	bad string
}

func (hg *hanging) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	if bucket == hg.bad {
		<-ctx.Done()
		return ctx.Err()
	}
	return hg.objects.Put(ctx, bucket, key, body, opt)
}

// A digest bucket that does not answer must not hold the loop: Flush
// (every trail change in the API) and event reading do not wait for it
// (they once did, 10 s per chain per turn).
func TestRegressionHangingDigestBucketDoesNotStallFlush(t *testing.T) {
	h := newHarness(t, func(o *delivery.Options) { o.DigestInterval = time.Second; o.Interval = time.Hour })
	h.stop()
	hg := &hanging{objects: h.objs, bad: "hang"}
	eng, err := delivery.Open(h.dir+"/delivery", h.opts)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := eng.Checkpoint()
	f, err := h.st.Follow("delivery", ck, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- eng.Run(ctx, delivery.Deps{Log: f, Trails: h.cat, Objects: hg, Signer: h.keys, Publisher: h.pub})
	}()
	defer func() { cancel(); <-done; f.Close() }()
	h.addTrail("A", "us-east-1", func(tr *catalog.Trail) { tr.LogFileValidationEnabled = true; tr.S3BucketName = "hang" })
	h.addTrail("B", "us-east-1", func(tr *catalog.Trail) { tr.LogFileValidationEnabled = true; tr.S3BucketName = "hang" })
	time.Sleep(2500 * time.Millisecond) // windows due; the loop is now in digests()
	start := time.Now()
	fctx, fcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer fcancel()
	if err := eng.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Flush took %v behind digest PUTs to an unresponsive bucket", d.Round(time.Millisecond))
	}
}
