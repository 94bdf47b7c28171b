package sns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

const deliveryVersion = 1

// delivery is one queued HTTP POST (queue/<seq>.json).
type delivery struct {
	Version         int               `json:"version"`
	Seq             uint64            `json:"seq"`
	Kind            string            `json:"kind"`
	Account         string            `json:"account"`
	TopicARN        string            `json:"topicArn"`
	SubscriptionARN string            `json:"subscriptionArn"`
	MessageID       string            `json:"messageId"`
	Endpoint        string            `json:"endpoint"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	Policy          RetryPolicy       `json:"policy"`
	Throttle        int               `json:"throttle,omitempty"`
	Retries         int               `json:"retries"`
	NotBefore       time.Time         `json:"notBefore"`
	Created         time.Time         `json:"created"`
}

func fileName(seq uint64) string { return fmt.Sprintf("%020d.json", seq) }

// queue is the durable delivery queue: every pending delivery is a file in
// dir and an entry of pending; Run gives each its own goroutine.
type queue struct {
	dir string

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*delivery
	ctx     context.Context // set while Run runs; nil otherwise
	wg      sync.WaitGroup
	slots   map[string]chan struct{} // per subscription
	nextAt  map[string]time.Time     // per subscription, for throttle policies
}

// load reads every queue file; one that does not decode is quarantined.
func (q *queue) load(dir string, log *slog.Logger) error {
	q.dir = filepath.Join(dir, queueDir)
	q.pending = map[uint64]*delivery{}
	q.slots = map[string]chan struct{}{}
	q.nextAt = map[string]time.Time{}
	if _, err := fileutil.RemoveTemps(q.dir); err != nil {
		return fmt.Errorf("open sns queue: %w", err)
	}
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("open sns queue: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(q.dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("open sns queue: %w", err)
		}
		var d delivery
		seq, perr := strconv.ParseUint(strings.TrimSuffix(name, ".json"), 10, 64)
		if err := json.Unmarshal(b, &d); err != nil || perr != nil || d.Version != deliveryVersion || d.Seq != seq {
			qdir := filepath.Join(dir, quarantineDir)
			if err := fileutil.MkdirAll(qdir, 0o700); err != nil {
				return fmt.Errorf("open sns queue: quarantine %s: %w", path, err)
			}
			if err := os.Rename(path, filepath.Join(qdir, name)); err != nil {
				return fmt.Errorf("open sns queue: quarantine %s: %w", path, err)
			}
			log.Warn("sns: a queued delivery does not decode; moved aside, not delivered", "file", path, "moved_to", qdir)
			continue
		}
		q.pending[seq] = &d
		q.next = max(q.next, seq)
	}
	return nil
}

// room refuses n more deliveries when the queue would exceed limit.
func (q *queue) room(n, limit int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n > 0 && len(q.pending)+n > limit {
		return &Error{Kind: ErrThrottled, Msg: fmt.Sprintf("Rate exceeded: %d deliveries are waiting for their endpoints", len(q.pending))}
	}
	return nil
}

// enqueue writes ds to disk, then schedules them. It returns once every
// file is written; after an error the ones written are still delivered.
func (q *queue) enqueue(s *Service, ds []*delivery) error {
	now := s.opts.Now()
	for _, d := range ds {
		q.mu.Lock()
		q.next++
		d.Seq = q.next
		q.mu.Unlock()
		d.Version, d.Created, d.NotBefore = deliveryVersion, now.UTC(), now.UTC()
		if err := q.write(d); err != nil {
			return err
		}
		q.mu.Lock()
		q.pending[d.Seq] = d
		s.m.queued.Set(float64(len(q.pending)))
		if q.ctx != nil {
			q.start(s, d)
		}
		q.mu.Unlock()
	}
	return nil
}

func (q *queue) write(d *delivery) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(q.dir, fileName(d.Seq)), b, 0o600); err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	return nil
}

// done removes a finished delivery's file.
func (q *queue) done(d *delivery, m *metrics) error {
	if err := os.Remove(filepath.Join(q.dir, fileName(d.Seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove delivered message: %w", err)
	}
	if err := fileutil.SyncDir(q.dir); err != nil {
		return fmt.Errorf("remove delivered message: %w", err)
	}
	q.mu.Lock()
	delete(q.pending, d.Seq)
	m.queued.Set(float64(len(q.pending)))
	q.mu.Unlock()
	return nil
}

// start runs d's goroutine; q.mu is held.
func (q *queue) start(s *Service, d *delivery) {
	q.wg.Add(1)
	ctx := q.ctx
	go func() {
		defer q.wg.Done()
		s.deliver(ctx, d)
	}()
}

// Pending returns the number of deliveries waiting on disk.
func (s *Service) Pending() int {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	return len(s.q.pending)
}

// Run delivers the queue until ctx ends: every pending delivery, and each
// one queued while it runs, in its own goroutine, so a slow or failing
// endpoint delays only its own messages. It returns once every delivery
// goroutine has stopped; what is undelivered stays on disk for the next
// Run.
func (s *Service) Run(ctx context.Context) error {
	q := &s.q
	q.mu.Lock()
	if q.ctx != nil {
		q.mu.Unlock()
		return errors.New("sns: Run called twice")
	}
	q.ctx = ctx
	seqs := make([]uint64, 0, len(q.pending))
	for seq := range q.pending {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		q.start(s, q.pending[seq])
	}
	q.mu.Unlock()
	<-ctx.Done()
	q.mu.Lock()
	q.ctx = nil
	q.mu.Unlock()
	q.wg.Wait()
	return nil
}

// wanted reports whether d should still be sent: a notification only to
// a confirmed subscription, a subscription confirmation only to a pending
// one; an unsubscribe confirmation always.
func (s *Service) wanted(d *delivery) bool {
	ok := true
	s.view(func(st *state) {
		sub := st.subscription(d.SubscriptionARN)
		switch d.Kind {
		case TypeNotification:
			ok = sub != nil && sub.Confirmed
		case TypeSubscriptionConfirmation:
			ok = sub != nil && !sub.Confirmed
		}
	})
	return ok
}

// acquire takes one of the subscription's in-flight slots and waits for
// its throttle policy's turn.
func (s *Service) acquire(ctx context.Context, d *delivery) (release func(), err error) {
	q := &s.q
	q.mu.Lock()
	slot := q.slots[d.SubscriptionARN]
	if slot == nil {
		slot = make(chan struct{}, s.opts.MaxInFlightPerSubscription)
		q.slots[d.SubscriptionARN] = slot
	}
	q.mu.Unlock()
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release = func() { <-slot }
	if d.Throttle > 0 {
		q.mu.Lock()
		now := s.opts.Now()
		at := q.nextAt[d.SubscriptionARN]
		if at.Before(now) {
			at = now
		}
		q.nextAt[d.SubscriptionARN] = at.Add(time.Second / time.Duration(d.Throttle))
		q.mu.Unlock()
		if err := s.opts.Sleep(ctx, at.Sub(now)); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// deliver makes d's attempts until it is delivered, dropped, or ctx ends.
func (s *Service) deliver(ctx context.Context, d *delivery) {
	log := s.log.With("message_id", d.MessageID, "subscription", d.SubscriptionARN, "type", d.Kind)
	for {
		if err := s.opts.Sleep(ctx, d.NotBefore.Sub(s.opts.Now())); err != nil {
			return
		}
		if !s.wanted(d) {
			log.Info("sns: delivery dropped: the subscription is gone or no longer in the state this message is for")
			s.m.dropped.WithLabelValues("unsubscribed").Inc()
			s.finish(log, d)
			return
		}
		release, err := s.acquire(ctx, d)
		if err != nil {
			return
		}
		status, err := s.attempt(ctx, d)
		release()
		if ctx.Err() != nil {
			return // shutting down: the file stays for the next Run
		}
		if err == nil && status >= 200 && status < 500 {
			s.m.attempts.WithLabelValues("delivered").Inc()
			s.finish(log, d)
			return
		}
		s.m.attempts.WithLabelValues("failed").Inc()
		delays := d.Policy.Delays()
		if d.Retries >= len(delays) {
			if derr := s.deadLetter(d, status); derr != nil {
				// Keep the file: the next start tries again.
				log.Error("sns: the delivery policy is exhausted, but writing the dead-letter log failed; the message stays queued", "err", derr)
				return
			}
			log.Warn("sns: delivery failed and the delivery policy is exhausted; the message is in the dead-letter log",
				"endpoint", d.Endpoint, "retries", d.Retries, "status", status, "err", err)
			s.m.dropped.WithLabelValues("exhausted").Inc()
			s.finish(log, d)
			return
		}
		d.NotBefore = s.opts.Now().Add(delays[d.Retries]).UTC()
		d.Retries++
		log.Info("sns: delivery failed; will retry", "endpoint", d.Endpoint, "status", status, "err", err,
			"retry", d.Retries, "not_before", d.NotBefore)
		if err := s.q.write(d); err != nil {
			log.Error("sns: could not record the retry state; the next start retries from the previous one", "err", err)
		}
	}
}

func (s *Service) finish(log *slog.Logger, d *delivery) {
	if err := s.q.done(d, s.m); err != nil {
		log.Error("sns: delivered, but the queue file could not be removed; the next start sends it again", "err", err)
	}
}

// attempt posts d once, bounded by Options.Timeout.
func (s *Service) attempt(ctx context.Context, d *delivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Endpoint, strings.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	for k, v := range d.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// DeadLetterFile is the dead-letter log's name in the engine's directory.
const DeadLetterFile = "deadletter.log"

// deadLetter appends d to the dead-letter log and syncs it.
func (s *Service) deadLetter(d *delivery, status int) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	m["failed"] = s.opts.Now().UTC().Format(time.RFC3339Nano)
	m["lastStatus"] = status
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	return fileutil.AppendSync(filepath.Join(s.dir, DeadLetterFile), append(line, '\n'), 0o600)
}
