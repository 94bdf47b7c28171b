package sns_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/sns/snstest"
)

const (
	acct   = "111122223333"
	other  = "444455556666"
	region = "us-east-1"
)

// harness is a Service over a temporary directory whose certificate is
// served at its public URL, with recorded, instant retry waits.
type harness struct {
	t     *testing.T
	dir   string
	svc   *sns.Service
	pub   *httptest.Server
	mu    sync.Mutex
	cur   *sns.Service
	slept []time.Duration
	clock time.Time // the fake clock: Sleep advances it
	reg   *prometheus.Registry
	stop  context.CancelFunc
	done  chan error
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), clock: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	h.pub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		svc := h.cur
		h.mu.Unlock()
		pem, path := svc.Certificate()
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Write(pem)
	}))
	t.Cleanup(h.pub.Close)
	h.open()
	return h
}

func (h *harness) options() sns.Options {
	o := sns.DefaultOptions()
	o.PublicURL = func() string { return h.pub.URL }
	o.Logger = nil
	h.reg = prometheus.NewRegistry()
	o.Registerer = h.reg
	o.Now = func() time.Time {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.clock
	}
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			h.mu.Lock()
			h.slept = append(h.slept, d)
			h.clock = h.clock.Add(d)
			h.mu.Unlock()
		}
		return ctx.Err()
	}
	return o
}

func (h *harness) open() {
	h.t.Helper()
	svc, err := sns.Open(h.dir, h.options())
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.svc, h.cur = svc, svc
	h.mu.Unlock()
}

// run starts delivery until the test ends (or stop is called).
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.svc.Run(ctx) }()
	h.t.Cleanup(h.halt)
}

func (h *harness) halt() {
	if h.stop != nil {
		h.stop()
		if err := <-h.done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.stop = nil
	}
}

func (h *harness) sleeps() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.slept...)
}

func (h *harness) topic(name string, attrs map[string]string) string {
	h.t.Helper()
	arn, err := h.svc.CreateTopic(h.t.Context(), acct, region, name, attrs, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return arn
}

// subscribe subscribes sub to topic and confirms it with the token of the
// confirmation it receives; it returns the subscription ARN.
func (h *harness) subscribe(topic string, sub *snstest.Subscriber, attrs map[string]string) string {
	h.t.Helper()
	if _, err := h.svc.Subscribe(h.t.Context(), acct, topic, "http", sub.URL(), attrs, false); err != nil {
		h.t.Fatal(err)
	}
	m := next(h.t, sub)
	if m.Doc["Type"] != sns.TypeSubscriptionConfirmation {
		h.t.Fatalf("first message is %v, want a SubscriptionConfirmation", m.Doc["Type"])
	}
	if tok := m.Doc["Token"].(string); len(tok) < 64 || strings.Trim(tok, "0123456789abcdef") != "" {
		h.t.Fatalf("token %q is not 64+ hex characters", tok)
	}
	arn, err := h.svc.ConfirmSubscription(h.t.Context(), "", topic, m.Doc["Token"].(string), false)
	if err != nil {
		h.t.Fatal(err)
	}
	return arn
}

func next(t *testing.T, sub *snstest.Subscriber) snstest.Message {
	t.Helper()
	select {
	case m := <-sub.C():
		return m
	case <-t.Context().Done():
		t.Fatal("test ended waiting for a message")
	}
	return snstest.Message{}
}

// metric returns the value of the metric name with the label value
// (empty for a metric without labels).
func (h *harness) metric(name, label string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}
