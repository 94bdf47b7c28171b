package api

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "opentrail",
			Subsystem: "api",
			Name:      "requests_total",
			Help:      "CloudTrail API requests by operation and result code (\"OK\" or the error code sent).",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "opentrail",
			Subsystem: "api",
			Name:      "request_duration_seconds",
			Help:      "CloudTrail API request latency by operation, recording included.",
			Buckets:   prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("api: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(c *call) {
	code := c.code
	if code == "" {
		code = "OK"
	}
	m.requests.WithLabelValues(c.opName, code).Inc()
	m.duration.WithLabelValues(c.opName).Observe(time.Since(c.start).Seconds())
}
