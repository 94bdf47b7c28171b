package delivery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
)

// SigningKeySet is the keyring set every digest is signed with. OpenTrail
// keeps one key set for all regions, so ListPublicKeys in any region finds
// the key of any digest: validate-logs asks the CLI's region, which need
// not be the region the digest covers.
const SigningKeySet = "global"

// stopEventWait is how long a final digest waits for the StopLogging
// call's event to reach delivery (normally milliseconds).
const stopEventWait = time.Minute

// digestPutTimeout bounds one digest PUT.
const digestPutTimeout = 10 * time.Second

// chainRun is the in-memory progress of a chain's next digest: at most one
// is being written at a time, and a failing bucket backs off.
type chainRun struct {
	inFlight bool
	retryAt  time.Time
	delay    time.Duration
}

// backOff doubles the run's delay (within lo..hi) from now.
func (r *chainRun) backOff(now time.Time, lo, hi time.Duration) {
	r.delay = min(max(2*r.delay, lo), hi)
	r.retryAt = now.Add(r.delay)
}

// digestJob is a signed digest on its way to its bucket.
type digestJob struct {
	chain  string // chain key
	bucket string
	key    string
	body   []byte
	opt    objstore.PutOptions
	listed int // how many of the chain's pending files it lists
	end    time.Time
	final  bool
	link   digest.Link
}

// digests plans every digest that is due: the loop builds and signs them,
// a separate goroutine writes them, so a slow bucket never holds the loop
// (which trail changes wait for).
func (e *Engine) digests() {
	e.mu.Lock()
	// A trail that logs with validation has a chain for its home region;
	// a chain that closed is reopened here as a starting chain (in
	// memory: the next commit writes it).
	for _, t := range e.prev {
		if t.Logging && t.LogFileValidationEnabled {
			e.openChain(e.st, &t, t.HomeRegion)
		}
	}
	keys := make([]string, 0, len(e.st.Chains))
	for k := range e.st.Chains {
		keys = append(keys, k)
	}
	e.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := e.planDigest(k); err != nil {
			e.log.Warn("delivery: digest not written; will retry", "chain", k, "err", err)
		}
	}
}

// planDigest builds, signs and hands over the chain's next digest when it
// is due and none is in flight.
func (e *Engine) planDigest(k string) error {
	e.mu.Lock()
	c := e.st.Chains[k]
	run := e.runs[k]
	if run == nil {
		run = &chainRun{}
		e.runs[k] = run
	}
	now := e.now().UTC().Truncate(time.Second)
	if c == nil || run.inFlight || now.Before(run.retryAt) {
		e.mu.Unlock()
		return nil
	}
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
			return nil
		}
		e.mu.Unlock()
		if err := e.stageTrail(c.Trail); err != nil {
			return nil // stage reported it; the digest waits
		}
		e.mu.Lock()
		for _, f := range e.st.Spool {
			if f.Trail == c.Trail && f.Region == c.Region && f.Digest {
				e.mu.Unlock()
				return nil
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
		return nil
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
	dk := layout.DigestKey{Prefix: c.Prefix, Account: c.Account, Region: c.Region, TrailName: c.TrailName, HomeRegion: c.HomeRegion, End: end}
	trail, kms := c.Trail, c.KMSKeyID
	e.mu.Unlock()

	key, err := dk.Build()
	if err != nil {
		return err
	}
	doc.DigestS3Object = key
	sk, err := e.deps.Signer.Current(SigningKeySet)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	doc.DigestPublicKeyFingerprint = sk.Fingerprint
	sealed, err := digest.Seal(&doc, sk.Private)
	if err != nil {
		return err
	}
	opt := putOptions(trail, kms)
	opt.Metadata = sealed.Metadata()
	job := &digestJob{chain: k, bucket: doc.DigestS3Bucket, key: key, body: sealed.Gzip, opt: opt,
		listed: len(doc.LogFiles), end: end, final: final, link: sealed.Link}
	e.mu.Lock()
	run.inFlight = true
	e.mu.Unlock()
	select {
	case e.digestJobs <- job:
	default:
		e.mu.Lock()
		run.inFlight = false
		e.mu.Unlock()
	}
	return nil
}

// digester writes the digests the loop planned, one at a time, and
// commits each chain's new state after its digest is in the bucket. A
// crash in between writes the same digest again: its key and bytes follow
// from the chain state, and PKCS#1 v1.5 signatures are deterministic.
func (e *Engine) digester(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-e.digestJobs:
			e.writeDigest(ctx, job)
		}
	}
}

func (e *Engine) writeDigest(ctx context.Context, job *digestJob) {
	pctx, cancel := context.WithTimeout(ctx, digestPutTimeout)
	perr := e.deps.Objects.Put(pctx, job.bucket, job.key, job.body, job.opt)
	cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	run := e.runs[job.chain]
	run.inFlight = false
	if perr != nil {
		if ctx.Err() != nil {
			return // shutting down: not the bucket's fault
		}
		run.backOff(e.now(), e.opts.RetryMin, e.opts.RetryMax)
		if code := errorCode(perr); e.st.status(job.chain).LatestDigestDeliveryError != code {
			// Shown at once, even when it cannot be saved.
			e.st.status(job.chain).LatestDigestDeliveryError = code
			if err := e.saveLocked(e.st); err != nil {
				e.log.Error("delivery: saving status failed", "err", err)
			}
		}
		e.log.Warn("delivery: digest upload failed; will retry", "bucket", job.bucket, "key", job.key, "retry_in", run.delay, "err", perr)
		return
	}
	found := false
	err := e.updateLocked(func(st *state) error {
		c := st.Chains[job.chain]
		if c == nil {
			return errUnchanged
		}
		found = true
		if c.Closing && (job.final || !job.end.Before(c.ClosingEnd)) {
			delete(st.Chains, job.chain)
		} else {
			c.Start = job.end
			c.Pending = c.Pending[job.listed:]
			c.Prev = &prevDigest{Bucket: job.link.Bucket, Key: job.link.Object, Hash: job.link.Hash, Signature: job.link.Signature}
		}
		s := st.status(job.chain)
		s.LatestDigestDeliveryTime, s.LatestDigestDeliveryError = e.now().UTC(), ""
		return nil
	})
	if err != nil {
		// The digest is in place; the next attempt, after a back-off,
		// writes it again.
		run.backOff(e.now(), e.opts.RetryMin, e.opts.RetryMax)
		e.log.Error("delivery: saving a digest chain failed; will retry", "chain", job.chain, "retry_in", run.delay, "err", err)
		return
	}
	run.delay, run.retryAt = 0, time.Time{}
	if !found {
		return
	}
	e.metrics.digests.Inc()
	e.signalLocked()
	kick(e.digestKick) // the loop plans the next one (catching up after downtime)
}
