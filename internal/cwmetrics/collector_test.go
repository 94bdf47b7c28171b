package cwmetrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	c := &clock{t: t0.Add(2 * time.Minute)}
	e := open(t, t.TempDir(), c, nil)
	put := func(ts time.Time, host string, v float64) {
		t.Helper()
		if err := e.PutMetricData(acct, region, "App", []Datum{{MetricName: "Req", Dimensions: []Dimension{{Name: "Stage", Value: "prod"}, {Name: "Host", Value: host}}, Timestamp: ts, Value: f(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	put(t0, "a", 1)
	put(t0.Add(time.Minute), "a", 2)
	put(t0.Add(time.Minute), "a", 3)
	put(t0.Add(-time.Hour), "old", 9) // not recent: not exported
	want := `
# HELP opentrail_cloudwatch_metric_sample_count SampleCount of the latest minute with data of a CloudWatch metric, for metrics with data in the last few minutes.
# TYPE opentrail_cloudwatch_metric_sample_count gauge
opentrail_cloudwatch_metric_sample_count{account="123456789012",dimensions="Host=a,Stage=prod",metric="Req",namespace="App",region="us-east-1"} 2
# HELP opentrail_cloudwatch_metric_sum Sum of the latest minute with data of a CloudWatch metric (PutMetricData or a metric filter), for metrics with data in the last few minutes.
# TYPE opentrail_cloudwatch_metric_sum gauge
opentrail_cloudwatch_metric_sum{account="123456789012",dimensions="Host=a,Stage=prod",metric="Req",namespace="App",region="us-east-1"} 5
`
	if err := testutil.CollectAndCompare(e.Collector(), strings.NewReader(want), "opentrail_cloudwatch_metric_sum", "opentrail_cloudwatch_metric_sample_count"); err != nil {
		t.Error(err)
	}
	o := e.o
	e.o.MaxExported = 1
	put(t0.Add(time.Minute), "b", 1)
	if n := testutil.CollectAndCount(e.Collector(), "opentrail_cloudwatch_metric_sum"); n != 1 {
		t.Errorf("exported %d series with MaxExported 1", n)
	}
	dropped := `
# HELP opentrail_cloudwatch_metric_series_dropped Recently active CloudWatch metrics left out of the export because there are more than the export limit.
# TYPE opentrail_cloudwatch_metric_series_dropped gauge
opentrail_cloudwatch_metric_series_dropped 1
`
	if err := testutil.CollectAndCompare(e.Collector(), strings.NewReader(dropped), "opentrail_cloudwatch_metric_series_dropped"); err != nil {
		t.Error(err)
	}
	e.o = o
}
