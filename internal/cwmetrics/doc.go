// Package cwmetrics is OpenTrail's CloudWatch engine (alerts.md §5): a
// durable store of metrics at 1-minute resolution per account, Region,
// namespace, metric name and dimension set, the queries of the CloudWatch
// API over it, and metric alarms with their evaluation loop and SNS
// notifications.
//
// # Metrics
//
// [Engine.PutMetricData] validates a request as AWS does (timestamps at
// most two weeks old and two hours ahead; Value, Values/Counts or
// StatisticValues) and returns once the data is fsynced;
// [Engine.PutStatistics] takes the pre-aggregated minutes of CloudWatch
// Logs metric filters. Each minute keeps SampleCount, Sum, Minimum and
// Maximum, and its raw values while it has at most Options.MaxRawValues
// distinct ones and no statistic set: percentiles (pNN) are exact nearest
// rank over those values, and unavailable for minutes that only have a
// statistic set or too many values. Data is kept Options.Retention (15
// days). [Engine.ListMetrics], [Engine.GetMetricStatistics] and
// [Engine.GetMetricData] (MetricStat queries only) read it. The byte
// format is docs/format/cloudwatch.md.
//
// # Alarms
//
// [Engine.PutMetricAlarm] validates with package alarm and keeps the
// state of an existing alarm. [Engine.Tick] (called every
// Options.TickInterval by [Engine.Run], or by tests with a fake clock)
// evaluates each alarm at each period end plus Options.EvaluationDelay,
// and the same periods again at Options.RecheckDelay (for late data),
// with alarm.Evaluate. A state change, from evaluation or
// [Engine.SetAlarmState], is written to the alarm log, fsynced, together
// with its notifications (a durable outbox), before any is published
// through the [Notifier]: actions run once per change, never again while
// the state holds, and after a crash the unsent ones are published again
// (at least once). [Engine.DescribeAlarmHistory] lists the state changes,
// configuration changes and actions.
//
// # Errors
//
// Refused requests are *[Error] (or *alarm.Error from alarm validation),
// carrying the API error code. Damaged files are *[CorruptionError]: Open
// refuses them and [Check] reports them; a torn tail is cut at Open.
//
// # Prometheus
//
// [Engine.Collector] exports the latest minute of recently active metrics
// as gauges; see [Collector].
package cwmetrics
