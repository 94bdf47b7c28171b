package sns

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics (Options.Registerer).
type metrics struct {
	published prometheus.Counter
	queued    prometheus.Gauge
	attempts  *prometheus.CounterVec // by result: delivered, failed
	dropped   *prometheus.CounterVec // by reason: exhausted, unsubscribed
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_sns_published_total",
			Help: "Messages published to SNS topics (API and in-process)."}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_sns_queued_deliveries",
			Help: "HTTP deliveries (notifications and confirmations) waiting on disk for their endpoint."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opentrail_sns_delivery_attempts_total",
			Help: "HTTP delivery attempts, by result: delivered (2xx-4xx) or failed (other status, no answer, 15 s timeout)."}, []string{"result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opentrail_sns_dropped_deliveries_total",
			Help: "Deliveries given up, by reason: exhausted (the delivery policy's retries are spent) or unsubscribed (the subscription went away)."}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.published, m.queued, m.attempts, m.dropped} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sns metrics: %w", err)
	}
	return m, nil
}
