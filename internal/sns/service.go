package sns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Options configure a [Service]. Start from [DefaultOptions].
type Options struct {
	// PublicURL returns the URL subscribers reach OpenTrail at, the base
	// of SubscribeURL, UnsubscribeURL and SigningCertURL (with or without
	// a trailing slash). Required.
	PublicURL func() string
	// Now is the clock of timestamps, token expiry and retry schedules.
	// Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (returning its error): the delays
	// between delivery attempts. Default: a timer. Tests pass one that
	// returns at once, or records the delays.
	Sleep func(ctx context.Context, d time.Duration) error
	// Client posts deliveries. Default: a client that follows no
	// redirects. Each attempt is bounded by Timeout.
	Client *http.Client
	// Timeout bounds one delivery attempt (SNS: about 15 s).
	Timeout time.Duration
	// MaxQueued bounds the deliveries waiting on disk; Publish and
	// Subscribe fail with ErrThrottled beyond it. Default 100,000.
	MaxQueued int
	// MaxInFlightPerSubscription bounds the concurrent attempts to one
	// subscription, so a slow endpoint holds only its own. Default 4.
	MaxInFlightPerSubscription int
	// Logger receives delivery failures and drops. nil discards.
	Logger *slog.Logger
	// Registerer receives the engine's metrics (opentrail_sns_*); nil
	// registers none.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults; PublicURL must still be set.
func DefaultOptions() Options {
	return Options{
		Now: time.Now, Sleep: sleep, Timeout: 15 * time.Second, MaxQueued: 100_000,
		MaxInFlightPerSubscription: 4, Logger: slog.Default(),
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Service is the SNS engine: topics, subscriptions and the durable
// delivery queue of one data directory. It is safe for concurrent use.
type Service struct {
	dir    string
	opts   Options
	log    *slog.Logger
	signer *signer
	client *http.Client
	m      *metrics

	mu sync.Mutex // guards st; held across its writes
	st *state

	q queue

	dlMu sync.Mutex // serializes appends to the dead-letter log
}

// Open loads (or creates) dir: the state, the signing key pair and the
// queued deliveries. It starts no goroutine; [Service.Run] delivers.
func Open(dir string, opts Options) (*Service, error) {
	def := DefaultOptions()
	if opts.PublicURL == nil {
		return nil, errors.New("sns: Options.PublicURL is required")
	}
	if opts.Now == nil {
		opts.Now = def.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = def.Sleep
	}
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = def.MaxQueued
	}
	if opts.MaxInFlightPerSubscription <= 0 {
		opts.MaxInFlightPerSubscription = def.MaxInFlightPerSubscription
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := fileutil.MkdirAll(filepath.Join(dir, queueDir), 0o700); err != nil {
		return nil, fmt.Errorf("open sns: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{dir: dir, opts: opts, log: log, client: opts.Client, m: m}
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.st, err = loadState(dir); err != nil {
		return nil, err
	}
	if s.signer, err = openSigner(dir, opts.Now()); err != nil {
		return nil, err
	}
	if err := s.q.load(dir, log); err != nil {
		return nil, err
	}
	m.queued.Set(float64(len(s.q.pending)))
	return s, nil
}

// update applies fn to a copy of the state, writes the copy and only then
// makes it current: a failed write changes nothing.
func (s *Service) update(fn func(st *state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updateLocked(fn)
}

func (s *Service) updateLocked(fn func(st *state) error) error {
	next := s.st.clone()
	if err := fn(next); err != nil {
		return err
	}
	next.dropExpired(s.opts.Now())
	if err := saveState(s.dir, next); err != nil {
		return err
	}
	s.st = next
	return nil
}

// view runs fn on the current state, which it MUST NOT change.
func (s *Service) view(fn func(st *state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.st)
}

// Certificate returns the signing certificate (PEM) and the URL path it
// is served at (CertPathPrefix + hash + ".pem").
func (s *Service) Certificate() (pem []byte, path string) {
	return s.signer.certPEM, "/" + s.signer.certName
}

// baseURL is the public URL with one trailing slash.
func (s *Service) baseURL() string {
	u := s.opts.PublicURL()
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u + "/"
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newToken returns a confirmation token: 32 random bytes as 64 hex
// characters.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
