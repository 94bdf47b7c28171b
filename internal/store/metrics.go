package store

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	appended     prometheus.Counter
	backpressure prometheus.Counter
	fsync        prometheus.Histogram
	parsed       *prometheus.CounterVec
	unreadable   prometheus.Counter
	writeErrors  prometheus.Counter
	writable     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opentrail_store_appended_events_total",
			Help: "Events made durable in the write-ahead log.",
		}),
		backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opentrail_store_backpressure_total",
			Help: "Appends refused because followers were too far behind.",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "opentrail_store_group_commit_seconds",
			Help:    "Time to write and fsync one group commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		parsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opentrail_store_follower_wal_reads_total",
			Help: "Events a follower read back from the WAL and parsed, rather than from memory.",
		}, []string{"follower"}),
		unreadable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opentrail_store_unreadable_records_total",
			Help: "WAL records that did not parse as events when read back (a bug or a format change).",
		}),
	}
	m.writeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "opentrail_store_write_errors_total",
		Help: "Group commits whose WAL write or fsync failed (a full disk, an I/O error); their appends were refused.",
	})
	m.writable = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "opentrail_store_writable",
		Help: "1 while the WAL accepts writes, 0 while it refuses them (appends then fail with ServiceUnavailable).",
	})
	m.writable.Set(1)
	if reg != nil {
		reg.MustRegister(m.appended, m.backpressure, m.fsync, m.parsed, m.unreadable, m.writeErrors, m.writable)
	}
	return m
}
