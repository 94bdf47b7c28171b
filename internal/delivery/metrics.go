package delivery

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	latency prometheus.Histogram
	files   prometheus.Counter
	events  prometheus.Counter
	digests prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "opentrail_delivery_latency_seconds",
			Help:    "Time from delivery reading a log file's first event to the file being in its bucket.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 18),
		}),
		files:   prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_delivery_files_total", Help: "Log files delivered to buckets."}),
		events:  prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_delivery_events_total", Help: "Events delivered in log files."}),
		digests: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_delivery_digests_total", Help: "Digest files delivered."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.latency, m.files, m.events, m.digests} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
