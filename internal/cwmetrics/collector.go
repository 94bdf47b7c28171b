package cwmetrics

import (
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	labels      = []string{"account", "region", "namespace", "metric", "dimensions"}
	sumDesc     = prometheus.NewDesc("opentrail_cloudwatch_metric_sum", "Sum of the latest minute with data of a CloudWatch metric (PutMetricData or a metric filter), for metrics with data in the last few minutes.", labels, nil)
	countDesc   = prometheus.NewDesc("opentrail_cloudwatch_metric_sample_count", "SampleCount of the latest minute with data of a CloudWatch metric, for metrics with data in the last few minutes.", labels, nil)
	minuteDesc  = prometheus.NewDesc("opentrail_cloudwatch_metric_minute_timestamp_seconds", "Start of the minute the sum and sample count are from, Unix seconds.", labels, nil)
	droppedDesc = prometheus.NewDesc("opentrail_cloudwatch_metric_series_dropped", "Recently active CloudWatch metrics left out of the export because there are more than the export limit.", nil, nil)
)

// Collector exports the stored metrics to Prometheus (a
// prometheus.Collector). For every metric with data in the last
// RecentMinutes minutes it reports its latest minute's Sum and
// SampleCount, and that minute's start, as gauges labelled account,
// region, namespace, metric and dimensions. The dimensions label holds the
// whole dimension set as "Name=Value,Name=Value" sorted by name (one fixed
// label, so dimension names never become label names). At most
// MaxExported series are exported, those with the newest data first; the
// rest are counted in opentrail_cloudwatch_metric_series_dropped.
type Collector struct{ e *Engine }

// Collector returns the engine's Prometheus collector.
func (e *Engine) Collector() *Collector { return &Collector{e: e} }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sumDesc
	ch <- countDesc
	ch <- minuteDesc
	ch <- droppedDesc
}

type exported struct {
	labels     []string
	minute     int64
	sum, count float64
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	since := e.o.Now().Add(-time.Duration(e.o.RecentMinutes) * time.Minute).Unix()
	var out []exported
	e.mu.Lock()
	for _, s := range e.series {
		if s.last < since {
			continue
		}
		m := s.mins[s.last]
		if m == nil {
			continue
		}
		out = append(out, exported{labels: []string{s.account, s.region, s.ns, s.name, DimensionsLabel(s.dims)}, minute: s.last, sum: m.sum, count: m.count})
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].minute != out[j].minute {
			return out[i].minute > out[j].minute
		}
		return strings.Join(out[i].labels, "\x00") < strings.Join(out[j].labels, "\x00")
	})
	dropped := 0
	if len(out) > e.o.MaxExported {
		dropped = len(out) - e.o.MaxExported
		out = out[:e.o.MaxExported]
	}
	for _, x := range out {
		ch <- prometheus.MustNewConstMetric(sumDesc, prometheus.GaugeValue, x.sum, x.labels...)
		ch <- prometheus.MustNewConstMetric(countDesc, prometheus.GaugeValue, x.count, x.labels...)
		ch <- prometheus.MustNewConstMetric(minuteDesc, prometheus.GaugeValue, float64(x.minute), x.labels...)
	}
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.GaugeValue, float64(dropped))
}

// DimensionsLabel formats a dimension set (sorted by name) for the
// dimensions label: "Name=Value,Name=Value", "" for none.
func DimensionsLabel(dims []Dimension) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.Name + "=" + d.Value
	}
	return strings.Join(parts, ",")
}

var _ prometheus.Collector = (*Collector)(nil)
