package eventbus

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rules                                             prometheus.Gauge
	pending                                           prometheus.Gauge
	matched, delivered, failed, dropped, deadLettered prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rules:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_eventbridge_rules", Help: "Enabled EventBridge rules with targets."}),
		pending:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_eventbridge_pending_deliveries", Help: "Deliveries to EventBridge targets not yet done."}),
		matched:      prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_eventbridge_matched_total", Help: "Deliveries created by events matching rules."}),
		delivered:    prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_eventbridge_delivered_total", Help: "Deliveries a target accepted."}),
		failed:       prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_eventbridge_failed_attempts_total", Help: "Delivery attempts that failed."}),
		dropped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_eventbridge_dropped_total", Help: "Deliveries dropped because their rule or target was removed."}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_eventbridge_dead_letters_total", Help: "Deliveries given up on and written to the dead-letter log."}),
	}
	if reg != nil {
		reg.MustRegister(m.rules, m.pending, m.matched, m.delivered, m.failed, m.dropped, m.deadLettered)
	}
	return m
}
