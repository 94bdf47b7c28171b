package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// uploader puts staged files into their buckets, oldest first, backing off
// per bucket while one fails.
func (e *Engine) uploader(ctx context.Context) {
	b := newBackoff(e.opts.RetryMin, e.opts.RetryMax)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.uploadPass(ctx, b)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(b.wait(e.now()))
		select {
		case <-ctx.Done():
			return
		case <-e.upload:
		case <-timer.C:
		}
	}
}

// backoff is per-target retry state (buckets for the uploader, topics for
// the notifier), and the earliest retry due in the current pass.
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

// uploadPass tries every staged file whose bucket is not backing off;
// b.next is then when the next retry is due (zero when none is).
func (e *Engine) uploadPass(ctx context.Context, b *backoff) {
	b.next = time.Time{}
	e.mu.Lock()
	files := append([]*spoolFile(nil), e.st.Spool...)
	e.mu.Unlock()
	for _, f := range files {
		if ctx.Err() != nil || b.waiting(f.Bucket, e.now()) {
			continue
		}
		err := e.put(ctx, f)
		switch {
		case err == nil:
			b.ok(f.Bucket)
		case ctx.Err() == nil:
			d := b.failed(f.Bucket, e.now())
			e.log.Warn("delivery: log file upload failed; will retry", "bucket", f.Bucket, "key", f.Key, "retry_in", d, "err", err)
		}
	}
}

// put uploads one staged file and commits the outcome.
func (e *Engine) put(ctx context.Context, f *spoolFile) error {
	path := filepath.Join(e.dir, spoolDir, f.ID+spoolExt)
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read staged file: %w", err)
	}
	sk := chainKey(f.Trail, f.Region)
	attempt := e.now().UTC()
	perr := e.deps.Objects.Put(ctx, f.Bucket, f.Key, body, putOptions(f.Trail, f.KMSKeyID))
	e.mu.Lock()
	defer e.mu.Unlock()
	if perr != nil && ctx.Err() != nil {
		return perr // shutting down: not the bucket's fault
	}
	s := e.st.status(sk)
	oldStatus := *s
	s.LatestDeliveryAttemptTime = attempt
	if perr != nil {
		s.LatestDeliveryError = errorCode(perr)
		if err := e.st.save(e.dir); err != nil {
			e.log.Error("delivery: saving status failed", "err", err)
		}
		return perr
	}
	now := e.now().UTC()
	s.LatestDeliveryTime, s.LatestDeliveryAttemptSucceed, s.LatestDeliveryError = now, now, ""
	s.DeliveredFiles++
	s.DeliveredEvents += int64(f.Events)
	old := e.st.Spool
	for i, g := range e.st.Spool {
		if g.ID == f.ID {
			e.st.Spool = append(e.st.Spool[:i:i], e.st.Spool[i+1:]...)
			break
		}
	}
	var c *chain
	carriedIt := false
	if f.Digest {
		lf := digest.LogFile{
			S3Bucket: f.Bucket, S3Object: f.Key, HashValue: f.Hash, HashAlgorithm: digest.HashAlgorithm,
			NewestEventTime: f.Newest, OldestEventTime: f.Oldest,
		}
		c = e.st.Chains[sk]
		switch {
		case c != nil && (c.Epoch.IsZero() || f.Epoch.IsZero() || c.Epoch.Equal(f.Epoch)):
			c.Pending = append(c.Pending, lf)
		case c != nil && f.Epoch.After(c.Epoch) || c == nil && !f.Epoch.IsZero():
			// The file belongs to a chain that starts once the current
			// one has its final digest (logging or validation restarted
			// meanwhile).
			c = nil
			if e.st.Carry == nil {
				e.st.Carry = map[string][]carried{}
			}
			e.st.Carry[sk] = append(e.st.Carry[sk], carried{Epoch: f.Epoch, File: lf})
			carriedIt = true
		default:
			c = nil
		}
	}
	if f.Topic != "" {
		e.st.Notes = append(e.st.Notes, &note{Trail: f.Trail, Region: f.Region, Topic: f.Topic, Bucket: f.Bucket, Keys: []string{f.Key}, Queued: now})
	}
	if err := e.st.save(e.dir); err != nil {
		// The object is in place; the next attempt puts the same bytes
		// again and commits then.
		e.st.Spool = old
		*s = oldStatus
		if c != nil {
			c.Pending = c.Pending[:len(c.Pending)-1]
		}
		if carriedIt {
			e.st.Carry[sk] = e.st.Carry[sk][:len(e.st.Carry[sk])-1]
		}
		if f.Topic != "" {
			e.st.Notes = e.st.Notes[:len(e.st.Notes)-1]
		}
		return err
	}
	os.Remove(path)
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
	for i, m := range e.st.Notes {
		if m == n {
			e.st.Notes = append(e.st.Notes[:i:i], e.st.Notes[i+1:]...)
			break
		}
	}
	e.log.Info("delivery: notification dropped: its trail is gone or has another topic now", "trail", n.Trail, "topic", n.Topic)
	if err := e.st.save(e.dir); err != nil {
		e.log.Error("delivery: saving state failed", "err", err)
	}
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
	s := e.st.status(chainKey(n.Trail, n.Region))
	s.LatestNotificationAttempt = attempt
	if err != nil {
		s.LatestNotificationError = notifyErrorCode(err)
		return err
	}
	now := e.now().UTC()
	s.LatestNotificationTime, s.LatestNotificationSucceed, s.LatestNotificationError = now, now, ""
	for i, m := range e.st.Notes {
		if m == n {
			e.st.Notes = append(e.st.Notes[:i:i], e.st.Notes[i+1:]...)
			break
		}
	}
	if err := e.st.save(e.dir); err != nil {
		return err
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
