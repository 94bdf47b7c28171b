package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/objstore"
)

// ContentType is the Content-Type of log and digest files.
const ContentType = "application/x-gzip"

// ACL is the canned ACL CloudTrail writes with (the standard bucket policy
// requires it).
const ACL = "bucket-owner-full-control"

// errorCode turns a store error into the S3 error code GetTrailStatus
// shows.
func errorCode(err error) string {
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return "NoSuchBucket"
	case errors.Is(err, objstore.ErrAccessDenied):
		return "AccessDenied"
	case errors.Is(err, objstore.ErrInvalidKey):
		return "InvalidKey"
	case errors.Is(err, objstore.ErrUnavailable):
		return "ServiceUnavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "RequestTimeout"
	}
	return "InternalError"
}

// putOptions are a file's object properties.
func putOptions(trailARN, kmsKeyID string) objstore.PutOptions {
	o := objstore.PutOptions{ContentType: ContentType, ACL: ACL}
	if kmsKeyID != "" {
		ctx, _ := json.Marshal(map[string]string{"aws:cloudtrail:arn": trailARN})
		o.SSEKMSKeyID = kmsKeyID
		o.SSEContext = base64.StdEncoding.EncodeToString(ctx)
	}
	return o
}

// maxUploads bounds the upload queues served at once.
const maxUploads = 4

// logPutTimeout bounds one log-file PUT, so a bucket that does not answer
// holds its queue's worker no longer than that.
const logPutTimeout = 5 * time.Minute

// errUnreadable means a staged file could not be read from the spool.
var errUnreadable = errors.New("staged file cannot be read")

// queueKey names a staged file's upload queue: its trail's files for one
// bucket.
func queueKey(f *spoolFile) string { return f.Trail + "|" + f.Bucket }

// fileFault reports whether err is the file's own failure rather than its
// queue's: its key cannot be stored, or its spool file cannot be read.
func fileFault(err error) bool {
	return errors.Is(err, objstore.ErrInvalidKey) || errors.Is(err, errUnreadable)
}

// uploads schedules staged files into their buckets: one worker per
// upload queue (a trail's files for one bucket) at a time, files in the
// order they were staged, at most maxUploads queues at once. A queue whose
// PUT fails backs off alone (RetryMin doubling up to RetryMax), so one
// trail's unreachable bucket, bad credentials or missing bucket hold up no
// other trail. A file that fails on its own (fileFault) backs off alone
// and the rest of its queue goes on; when its trail is gone it is dropped
// (dropFile). Failures are logged when they start, change or end, and
// counted on every attempt. An uploads is owned by one goroutine.
type uploads struct {
	e       *Engine
	b       *backoff // by queue key and by file id
	running map[string]bool
	results chan queueResult
	// failing holds the error code of each queue and file whose last
	// attempt failed.
	failing map[string]string
}

// queueResult is what a worker did with its queue.
type queueResult struct {
	queue   string
	err     error      // what stopped the queue, nil if nothing did
	file    *spoolFile // the file that failed with err
	faults  []fileFailure
	ok      []string // ids of the files delivered
	stopped bool     // the context ended
}

type fileFailure struct {
	f   *spoolFile
	err error
}

func (e *Engine) newUploads() *uploads {
	return &uploads{
		e: e, b: newBackoff(e.opts.RetryMin, e.opts.RetryMax),
		running: map[string]bool{}, results: make(chan queueResult, maxUploads), failing: map[string]string{},
	}
}

// uploader puts staged files into their buckets until ctx ends.
func (e *Engine) uploader(ctx context.Context) {
	u := e.newUploads()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		u.dispatch(ctx)
		timer.Reset(u.b.wait(e.now()))
		select {
		case <-ctx.Done():
			u.wait()
			return
		case <-e.upload:
		case <-timer.C:
		case r := <-u.results:
			u.done(r)
		}
	}
}

// drain uploads what it can until nothing is left that is not backing
// off, or ctx ends (the last pass when Run stops).
func (u *uploads) drain(ctx context.Context) {
	for {
		u.dispatch(ctx)
		if len(u.running) == 0 {
			return
		}
		u.done(<-u.results)
	}
}

// wait waits for the running workers.
func (u *uploads) wait() {
	for len(u.running) > 0 {
		u.done(<-u.results)
	}
}

// dispatch starts a worker for every queue with files that are due, up to
// maxUploads; b.next is then when the next retry is due.
func (u *uploads) dispatch(ctx context.Context) {
	u.b.next = time.Time{}
	if ctx.Err() != nil {
		return
	}
	e := u.e
	e.mu.Lock()
	files := slices.Clone(e.st.Spool)
	e.mu.Unlock()
	now := e.now()
	queues := map[string][]*spoolFile{}
	var order []string
	for _, f := range files {
		q := queueKey(f)
		if u.running[q] || u.b.waiting(q, now) || u.b.waiting(f.ID, now) {
			continue
		}
		if queues[q] == nil {
			order = append(order, q)
		}
		queues[q] = append(queues[q], f)
	}
	for _, q := range order {
		if len(u.running) >= maxUploads {
			return // a worker that finishes dispatches again
		}
		u.running[q] = true
		go u.work(ctx, q, queues[q])
	}
}

// work uploads one queue's files in order until one fails for the queue.
func (u *uploads) work(ctx context.Context, q string, files []*spoolFile) {
	r := queueResult{queue: q}
	for _, f := range files {
		if ctx.Err() != nil {
			break
		}
		err := u.e.put(ctx, f)
		if err == nil {
			r.ok = append(r.ok, f.ID)
			continue
		}
		if ctx.Err() != nil {
			break // shutting down: not the bucket's fault
		}
		if fileFault(err) {
			r.faults = append(r.faults, fileFailure{f, err})
			continue
		}
		r.err, r.file = err, f
		break
	}
	r.stopped = ctx.Err() != nil && r.err == nil
	u.results <- r
}

// done takes a worker's result: back-off, logs and metrics.
func (u *uploads) done(r queueResult) {
	e := u.e
	delete(u.running, r.queue)
	now := e.now()
	for _, id := range r.ok {
		u.b.ok(id)
		if _, ok := u.failing[id]; ok {
			delete(u.failing, id)
			e.log.Info("delivery: a log file that failed is delivered now", "file", id)
		}
	}
	switch {
	case r.err != nil:
		d := u.b.failed(r.queue, now)
		code := errorCode(r.err)
		e.metrics.uploadFailures.WithLabelValues(code).Inc()
		if u.failing[r.queue] != code {
			u.failing[r.queue] = code
			e.log.Warn("delivery: log file uploads failing; they are retried with back-off", "trail", r.file.Trail, "bucket", r.file.Bucket,
				"key", r.file.Key, "code", code, "retry_in", d, "err", r.err)
		}
	case !r.stopped:
		u.b.ok(r.queue)
		if _, ok := u.failing[r.queue]; ok {
			delete(u.failing, r.queue)
			trail, bucket, _ := strings.Cut(r.queue, "|")
			e.log.Info("delivery: log file uploads work again", "trail", trail, "bucket", bucket)
		}
	}
	for _, ff := range r.faults {
		u.fault(ff.f, ff.err, now)
	}
	e.metrics.failingUploads.Set(float64(len(u.failing)))
}

// fault handles a file that failed on its own: dropped when its trail is
// gone, else backed off alone.
func (u *uploads) fault(f *spoolFile, err error, now time.Time) {
	e := u.e
	code := errorCode(err)
	e.metrics.uploadFailures.WithLabelValues(code).Inc()
	if !e.trailExists(f.Trail) && e.dropFile(f, err) == nil {
		u.b.ok(f.ID)
		delete(u.failing, f.ID)
		return
	}
	d := u.b.failed(f.ID, now)
	if u.failing[f.ID] != code {
		u.failing[f.ID] = code
		e.log.Error("delivery: a log file cannot be delivered; it stays staged and is retried with back-off", "trail", f.Trail, "bucket", f.Bucket,
			"key", f.Key, "file", f.ID, "events", f.Events, "code", code, "retry_in", d, "err", err)
	}
}

func (e *Engine) trailExists(arn string) bool {
	for _, t := range e.deps.Trails.All() {
		if t.ARN() == arn {
			return true
		}
	}
	return false
}

// dropFile removes a staged file that can never be delivered: its trail is
// deleted and the file failed on its own (cause). It is reported in the
// log and in the dropped-files metrics, never silently.
func (e *Engine) dropFile(f *spoolFile, cause error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.updateLocked(func(st *state) error {
		i := slices.IndexFunc(st.Spool, func(g *spoolFile) bool { return g.ID == f.ID })
		if i < 0 {
			return errUnchanged
		}
		st.Spool = slices.Delete(st.Spool, i, i+1)
		return nil
	})
	if err != nil {
		e.log.Error("delivery: dropping an undeliverable log file failed; will retry", "file", f.ID, "err", err)
		return err
	}
	e.removeSpool([]*spoolFile{f})
	e.metrics.droppedFiles.Inc()
	e.metrics.droppedEvents.Add(float64(f.Events))
	e.log.Error("delivery: log file dropped: its trail is deleted and the file cannot be delivered, so its events will not reach the bucket",
		"trail", f.Trail, "bucket", f.Bucket, "key", f.Key, "events", f.Events, "oldest", f.Oldest, "newest", f.Newest, "err", cause)
	e.signalLocked()
	return nil
}

// backoff is per-target retry state (queues and files for the uploader,
// topics for the notifier), and the earliest retry due in the current pass.
type backoff struct {
	lo, hi  time.Duration
	delay   map[string]time.Duration
	retryAt map[string]time.Time
	next    time.Time
}

func newBackoff(lo, hi time.Duration) *backoff {
	return &backoff{lo: lo, hi: hi, delay: map[string]time.Duration{}, retryAt: map[string]time.Time{}}
}

// waiting reports whether target is backing off at now.
func (b *backoff) waiting(target string, now time.Time) bool {
	at, ok := b.retryAt[target]
	if !ok || !now.Before(at) {
		return false
	}
	b.due(at)
	return true
}

// failed doubles target's delay (within lo..hi) and returns it.
func (b *backoff) failed(target string, now time.Time) time.Duration {
	d := min(max(2*b.delay[target], b.lo), b.hi)
	b.delay[target], b.retryAt[target] = d, now.Add(d)
	b.due(b.retryAt[target])
	return d
}

// ok forgets target's failures.
func (b *backoff) ok(target string) {
	delete(b.delay, target)
	delete(b.retryAt, target)
}

func (b *backoff) due(at time.Time) {
	if b.next.IsZero() || at.Before(b.next) {
		b.next = at
	}
}

// wait is how long to sleep until the next retry (an hour when none is due).
func (b *backoff) wait(now time.Time) time.Duration {
	if b.next.IsZero() {
		return time.Hour
	}
	return max(b.next.Sub(now), time.Millisecond)
}

// put uploads one staged file and commits the outcome.
func (e *Engine) put(ctx context.Context, f *spoolFile) error {
	path := e.spoolPath(f.ID)
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnreadable, err)
	}
	sk := chainKey(f.Trail, f.Region)
	attempt := e.now().UTC()
	pctx, cancel := context.WithTimeout(ctx, logPutTimeout)
	perr := e.deps.Objects.Put(pctx, f.Bucket, f.Key, body, putOptions(f.Trail, f.KMSKeyID))
	cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	if perr != nil && ctx.Err() != nil {
		return perr // shutting down: not the bucket's fault
	}
	if perr != nil {
		// Shown at once, even when it cannot be saved: a full disk
		// must not hide the error.
		s := e.st.status(sk)
		s.LatestDeliveryAttemptTime, s.LatestDeliveryError = attempt, errorCode(perr)
		if err := e.saveLocked(e.st); err != nil {
			e.log.Error("delivery: saving status failed", "err", err)
		}
		return perr
	}
	now := e.now().UTC()
	err = e.updateLocked(func(st *state) error {
		s := st.status(sk)
		s.LatestDeliveryAttemptTime = attempt
		s.LatestDeliveryTime, s.LatestDeliveryAttemptSucceed, s.LatestDeliveryError = now, now, ""
		s.DeliveredFiles++
		s.DeliveredEvents += int64(f.Events)
		if i := slices.IndexFunc(st.Spool, func(g *spoolFile) bool { return g.ID == f.ID }); i >= 0 {
			st.Spool = slices.Delete(st.Spool, i, i+1)
		}
		if f.Digest {
			lf := digest.LogFile{
				S3Bucket: f.Bucket, S3Object: f.Key, HashValue: f.Hash, HashAlgorithm: digest.HashAlgorithm,
				NewestEventTime: f.Newest, OldestEventTime: f.Oldest,
			}
			c := st.Chains[sk]
			switch {
			case c != nil && (c.Epoch.IsZero() || f.Epoch.IsZero() || c.Epoch.Equal(f.Epoch)):
				c.Pending = append(c.Pending, lf)
			case c != nil && f.Epoch.After(c.Epoch) || c == nil && !f.Epoch.IsZero():
				// The file belongs to a chain that starts once the
				// current one has its final digest (logging or
				// validation restarted meanwhile).
				if st.Carry == nil {
					st.Carry = map[string][]carried{}
				}
				st.Carry[sk] = append(st.Carry[sk], carried{Epoch: f.Epoch, File: lf})
			}
		}
		if f.Topic != "" {
			st.Notes = append(st.Notes, &note{Trail: f.Trail, Region: f.Region, Topic: f.Topic, Bucket: f.Bucket, Keys: []string{f.Key}, Queued: now})
		}
		return nil
	})
	if err != nil {
		// The object is in place; the next attempt puts the same bytes
		// again and commits then.
		return err
	}
	e.removeSpool([]*spoolFile{f})
	e.metrics.latency.Observe(now.Sub(f.FirstRead).Seconds())
	e.metrics.files.Inc()
	e.metrics.events.Add(float64(f.Events))
	e.signalLocked()
	if f.Topic != "" {
		kick(e.notify)
	}
	return nil
}

// notifier publishes queued notifications in order per topic, backing off
// per topic while its target fails, so one failing target holds up no
// other. A note whose trail is gone or no longer has its topic is dropped.
func (e *Engine) notifier(ctx context.Context) {
	b := newBackoff(e.opts.RetryMin, e.opts.RetryMax) // keyed by topic
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mu.Lock()
		notes := append([]*note(nil), e.st.Notes...)
		e.mu.Unlock()
		topics := map[string]string{}
		for _, t := range e.deps.Trails.All() {
			topics[t.ARN()] = t.SnsTopicARN
		}
		b.next = time.Time{}
		for _, n := range notes {
			if ctx.Err() != nil {
				return
			}
			if topics[n.Trail] != n.Topic {
				e.dropNote(n)
				continue
			}
			if b.waiting(n.Topic, e.now()) {
				continue
			}
			err := e.publish(ctx, n)
			switch {
			case err == nil:
				b.ok(n.Topic)
			case ctx.Err() != nil:
				return
			default:
				d := b.failed(n.Topic, e.now())
				e.log.Warn("delivery: notification failed; will retry", "topic", n.Topic, "retry_in", d, "err", err)
			}
		}
		timer.Reset(b.wait(e.now()))
		select {
		case <-ctx.Done():
			return
		case <-e.notify:
		case <-timer.C:
		}
	}
}

// dropNote removes a note that can no longer be delivered.
func (e *Engine) dropNote(n *note) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.updateLocked(func(st *state) error { return removeNote(st, n) }); err != nil {
		e.log.Error("delivery: saving state failed; the note is dropped on the next attempt", "err", err)
		return
	}
	e.log.Info("delivery: notification dropped: its trail is gone or has another topic now", "trail", n.Trail, "topic", n.Topic)
}

// removeNote removes n from st.Notes (notes are shared between a state
// and its clones, so n is found by identity).
func removeNote(st *state, n *note) error {
	i := slices.Index(st.Notes, n)
	if i < 0 {
		return errUnchanged
	}
	st.Notes = slices.Delete(st.Notes, i, i+1)
	return nil
}

// Message is the notification message (the SNS Message member) for
// delivered log files (delivery-and-integrity.md §4).
func Message(bucket string, keys []string) string {
	b, _ := json.Marshal(struct {
		S3Bucket    string   `json:"s3Bucket"`
		S3ObjectKey []string `json:"s3ObjectKey"`
	}{bucket, keys})
	return string(b)
}

func (e *Engine) publish(ctx context.Context, n *note) error {
	attempt := e.now().UTC()
	var err error
	if e.deps.Publisher == nil {
		err = errors.New("no notification target is configured for SNS topics")
	} else {
		err = e.deps.Publisher.Publish(ctx, n.Topic, Message(n.Bucket, n.Keys))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	sk := chainKey(n.Trail, n.Region)
	if err != nil {
		// In memory until the next commit, as before.
		s := e.st.status(sk)
		s.LatestNotificationAttempt, s.LatestNotificationError = attempt, notifyErrorCode(err)
		return err
	}
	now := e.now().UTC()
	err = e.updateLocked(func(st *state) error {
		s := st.status(sk)
		s.LatestNotificationAttempt = attempt
		s.LatestNotificationTime, s.LatestNotificationSucceed, s.LatestNotificationError = now, now, ""
		_ = removeNote(st, n)
		return nil
	})
	if err != nil {
		return err // published; the next attempt publishes it again (at least once)
	}
	e.signalLocked()
	return nil
}

// notifyErrorCode is the LatestNotificationError for err: an SNS-style
// code when the publisher gave one ("NotFound: ..."), else a generic one.
func notifyErrorCode(err error) string {
	var c interface{ Code() string }
	if errors.As(err, &c) {
		return c.Code()
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, ':'); i > 0 && !strings.ContainsAny(msg[:i], " /") {
		return msg[:i]
	}
	return "NotificationFailed"
}
