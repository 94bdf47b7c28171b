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

	// The backlog and what holds it up.
	spooled        prometheus.Gauge
	buffered       prometheus.Gauge
	stagingFailing prometheus.Gauge
	stageFailures  prometheus.Counter
	failingUploads prometheus.Gauge
	uploadFailures *prometheus.CounterVec
	droppedFiles   prometheus.Counter
	droppedEvents  prometheus.Counter
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
		spooled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_delivery_spool_files",
			Help: "Log files staged in the local spool and not yet in their buckets."}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_delivery_buffered_events",
			Help: "Events read from the event log and not yet staged as log files."}),
		stagingFailing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_delivery_staging_failing",
			Help: "1 while staging log files fails (a full or failing disk under the data directory), else 0."}),
		stageFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_delivery_stage_failures_total",
			Help: "Failed attempts to stage log files or commit the delivery checkpoint."}),
		failingUploads: prometheus.NewGauge(prometheus.GaugeOpts{Name: "opentrail_delivery_failing_uploads",
			Help: "Upload queues (a trail's files for one bucket) and single log files whose last upload attempt failed."}),
		uploadFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "opentrail_delivery_upload_failures_total",
			Help: "Failed log-file upload attempts, by the error code GetTrailStatus shows."}, []string{"code"}),
		droppedFiles: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_delivery_dropped_files_total",
			Help: "Staged log files dropped because their trail was deleted and they could not be delivered."}),
		droppedEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_delivery_dropped_events_total",
			Help: "Events in dropped log files."}),
	}
	if reg == nil {
		return m, nil
	}
	err := errors.Join(
		register(reg, &m.latency), register(reg, &m.files), register(reg, &m.events), register(reg, &m.digests),
		register(reg, &m.spooled), register(reg, &m.buffered), register(reg, &m.stagingFailing), register(reg, &m.stageFailures),
		register(reg, &m.failingUploads), register(reg, &m.uploadFailures), register(reg, &m.droppedFiles), register(reg, &m.droppedEvents),
	)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers *c, or makes *c the collector already registered
// under its name (an engine opened again in the same process).
func register[T prometheus.Collector](reg prometheus.Registerer, c *T) error {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			*c = existing
			return nil
		}
	}
	return err
}
