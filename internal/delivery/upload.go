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
	"github.com/opentrail/opentrail/internal/layout"
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
	b := newBackoff()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := e.uploadPass(ctx, b)
		if ctx.Err() != nil {
			return
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(e.now()), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-e.upload:
		case <-timer.C:
		}
	}
}

// backoff is the per-bucket retry state of the uploader.
type backoff struct {
	delay   map[string]time.Duration
	retryAt map[string]time.Time
}

func newBackoff() *backoff {
	return &backoff{delay: map[string]time.Duration{}, retryAt: map[string]time.Time{}}
}

// uploadPass tries every staged file whose bucket is not backing off, and
// returns when the next retry is due (zero when none is).
func (e *Engine) uploadPass(ctx context.Context, b *backoff) (next time.Time) {
	e.mu.Lock()
	files := append([]*spoolFile(nil), e.st.Spool...)
	e.mu.Unlock()
	for _, f := range files {
		if ctx.Err() != nil {
			return next
		}
		if at, ok := b.retryAt[f.Bucket]; ok && e.now().Before(at) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		err := e.put(ctx, f)
		if err == nil {
			delete(b.delay, f.Bucket)
			delete(b.retryAt, f.Bucket)
			continue
		}
		if ctx.Err() != nil {
			return next
		}
		d := min(max(2*b.delay[f.Bucket], e.opts.RetryMin), e.opts.RetryMax)
		b.delay[f.Bucket] = d
		b.retryAt[f.Bucket] = e.now().Add(d)
		if next.IsZero() || b.retryAt[f.Bucket].Before(next) {
			next = b.retryAt[f.Bucket]
		}
		e.log.Warn("delivery: log file upload failed; will retry", "bucket", f.Bucket, "key", f.Key, "retry_in", d, "err", err)
	}
	return next
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
	s := e.st.status(sk)
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
	if f.Digest {
		c = e.st.Chains[sk]
		if c != nil {
			c.Pending = append(c.Pending, digest.LogFile{
				S3Bucket: f.Bucket, S3Object: f.Key, HashValue: f.Hash, HashAlgorithm: digest.HashAlgorithm,
				NewestEventTime: f.Newest, OldestEventTime: f.Oldest,
			})
		}
	}
	if f.Topic != "" {
		e.st.Notes = append(e.st.Notes, &note{Trail: f.Trail, Region: f.Region, Topic: f.Topic, Bucket: f.Bucket, Keys: []string{f.Key}, Queued: now})
	}
	if err := e.st.save(e.dir); err != nil {
		// The object is in place; the next attempt puts the same bytes
		// again and commits then.
		e.st.Spool = old
		if c != nil {
			c.Pending = c.Pending[:len(c.Pending)-1]
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

// notifier publishes queued notifications, retrying with back-off.
func (e *Engine) notifier(ctx context.Context) {
	backoff := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mu.Lock()
		notes := append([]*note(nil), e.st.Notes...)
		e.mu.Unlock()
		failed := false
		for _, n := range notes {
			if ctx.Err() != nil {
				return
			}
			if err := e.publish(ctx, n); err != nil {
				if ctx.Err() != nil {
					return
				}
				e.log.Warn("delivery: notification failed; will retry", "topic", n.Topic, "err", err)
				failed = true
				break
			}
		}
		wait := time.Hour
		if failed {
			backoff = min(max(2*backoff, e.opts.RetryMin), e.opts.RetryMax)
			wait = backoff
		} else {
			backoff = 0
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-e.notify:
		case <-timer.C:
		}
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

// digests writes every digest that is due.
func (e *Engine) digests(ctx context.Context) {
	e.mu.Lock()
	keys := make([]string, 0, len(e.st.Chains))
	for k := range e.st.Chains {
		keys = append(keys, k)
	}
	e.mu.Unlock()
	for _, k := range keys {
		for ctx.Err() == nil {
			done, err := e.digestOnce(ctx, k)
			if err != nil {
				e.log.Warn("delivery: digest failed; will retry", "chain", k, "err", err)
				break
			}
			if !done {
				break
			}
		}
	}
}

// digestOnce writes the chain's next digest if it is due, and reports
// whether it wrote one.
func (e *Engine) digestOnce(ctx context.Context, k string) (bool, error) {
	e.mu.Lock()
	c := e.st.Chains[k]
	if c == nil {
		e.mu.Unlock()
		return false, nil
	}
	t, ok := e.prev[c.Trail]
	now := e.now().UTC().Truncate(time.Second)
	end := c.Start.Add(e.opts.DigestInterval)
	final := false
	if c.Closing {
		// The final digest covers the trail's events up to the end,
		// including a StopLogging call's own event: it waits for that
		// event (a while), then for the trail's buffers to be staged and
		// its files in flight to land.
		if t, ok := e.prev[c.Trail]; ok && t.StopRequestID != "" && e.stopSeen[c.Trail] != t.StopRequestID &&
			e.now().Before(c.ClosingEnd.Add(stopEventWait)) {
			e.mu.Unlock()
			return false, nil
		}
		e.mu.Unlock()
		if err := e.stageTrail(c.Trail); err != nil {
			return false, err
		}
		e.mu.Lock()
		for _, f := range e.st.Spool {
			if f.Trail == c.Trail && f.Region == c.Region && f.Digest {
				e.mu.Unlock()
				return false, nil
			}
		}
		if c.ClosingEnd.Before(end) {
			end, final = c.ClosingEnd, true
			// Keys have second precision: a final digest must end
			// after the previous one, or it would overwrite it.
			if !end.After(c.Start) {
				end = c.Start.Add(time.Second)
			}
		}
	}
	if end.After(now) {
		e.mu.Unlock()
		return false, nil
	}
	doc := digest.Document{
		AWSAccountID: c.Account, DigestStartTime: c.Start, DigestEndTime: end,
		DigestS3Bucket: c.Bucket, DigestSignatureAlgorithm: digest.SignatureAlgorithm,
		LogFiles: []digest.LogFile{},
	}
	for _, f := range c.Pending {
		doc.AddLogFile(f)
	}
	if c.Prev != nil {
		doc.SetPrevious(digest.Link{Bucket: c.Prev.Bucket, Object: c.Prev.Key, Hash: c.Prev.Hash, Signature: c.Prev.Signature})
	}
	region, prefix, name, home, kms := c.Region, c.Prefix, c.TrailName, c.HomeRegion, c.KMSKeyID
	e.mu.Unlock()

	key, err := layoutDigestKey(prefix, c.Account, region, name, home, end)
	if err != nil {
		return false, err
	}
	doc.DigestS3Object = key
	sk, err := e.deps.Signer.Current(SigningKeySet)
	if err != nil {
		return false, fmt.Errorf("signing key: %w", err)
	}
	doc.DigestPublicKeyFingerprint = sk.Fingerprint
	sealed, err := digest.Seal(&doc, sk.Private)
	if err != nil {
		return false, err
	}
	opt := putOptions(c.Trail, kms)
	opt.Metadata = sealed.Metadata()
	// Digests are written by the loop, which trail changes wait for: an
	// unreachable bucket must not hold it for long (the next turn retries).
	pctx, cancel := context.WithTimeout(ctx, digestPutTimeout)
	perr := e.deps.Objects.Put(pctx, doc.DigestS3Bucket, key, sealed.Gzip, opt)
	cancel()

	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st.status(k)
	if perr != nil {
		s.LatestDigestDeliveryError = errorCode(perr)
		if err := e.st.save(e.dir); err != nil {
			e.log.Error("delivery: saving status failed", "err", err)
		}
		return false, perr
	}
	s.LatestDigestDeliveryTime, s.LatestDigestDeliveryError = e.now().UTC(), ""
	if c.Closing && (final || !end.Before(c.ClosingEnd)) {
		delete(e.st.Chains, k)
	} else {
		c.Start = end
		c.Pending = c.Pending[len(doc.LogFiles):]
		c.Prev = &prevDigest{Bucket: sealed.Link.Bucket, Key: sealed.Link.Object, Hash: sealed.Link.Hash, Signature: sealed.Link.Signature}
	}
	if err := e.st.save(e.dir); err != nil {
		return false, err
	}
	e.metrics.digests.Inc()
	e.signalLocked()
	// A trail that is logging again gets a new (starting) chain once the
	// old one is closed.
	if _, open := e.st.Chains[k]; !open && ok && t.Logging && t.LogFileValidationEnabled {
		n := &chain{Trail: c.Trail, Account: c.Account, Region: c.Region, Start: e.now().UTC().Truncate(time.Second)}
		n.place(&t)
		e.st.Chains[k] = n
	}
	return !final, nil
}

// stopEventWait is how long a final digest waits for the StopLogging
// call's event to reach delivery (normally milliseconds).
const stopEventWait = time.Minute

// digestPutTimeout bounds one digest PUT.
const digestPutTimeout = 10 * time.Second

// SigningKeySet is the keyring set every digest is signed with. OpenTrail
// keeps one key set for all regions, so ListPublicKeys in any region finds
// the key of any digest: validate-logs asks the CLI's region, which need
// not be the region the digest covers.
const SigningKeySet = "global"

// layoutDigestKey builds a digest key.
func layoutDigestKey(prefix, account, region, name, home string, end time.Time) (string, error) {
	return layout.DigestKey{Prefix: prefix, Account: account, Region: region, TrailName: name, HomeRegion: home, End: end}.Build()
}
