// Package cwlogs is OpenTrail's CloudWatch Logs, scoped to what CloudTrail
// monitoring needs (alerts.md §4): log groups and streams, their events
// (docs/format/logs.md), retention, GetLogEvents and FilterLogEvents with
// the filter pattern language (package logfilter), and metric filters
// whose values go to a metric store ([MetricSink]).
//
// The [Engine] is also a follower of the event log: trails that name a
// log group (CloudWatchLogsLogGroupArn) have every event they record
// appended to it, one compact JSON record per log event in the stream
// <account>_CloudTrail_<region>, within about a second of the event being
// durable (AWS: about five minutes). Delivery is at least once: a crash
// between an append and the checkpoint appends those events again.
//
// Metric filters apply to events as they are ingested (PutLogEvents and
// trail delivery), never to events already stored, as at AWS. Each batch
// sends, per metric, dimensions and minute of the events' timestamps, one
// statistic set (count, sum, minimum, maximum) of the values the events
// contribute.
package cwlogs
