// Package insights is CloudTrail Insights: a follower of the event log
// that counts write calls and errors per API and minute, learns each API's
// baseline, and raises a pair of Insights records (Start, End, sharing a
// sharedEventID) when the rate leaves it (spec insights.md).
//
// The detector counts per account, region, event category, Insights type,
// eventSource and eventName (and errorCode for the error rate), judges each
// minute once it is closed (or, on live traffic, as soon as its count
// completes a Start), and compares it with the mean and standard
// deviation of the 7 days before; the rule and every parameter are in
// docs/design/decisions.md §59–§66 and §82–§83 and [Options]. A rate
// far below the baseline over a few hours (a job that stops) is an
// anomaly too (§83).
//
// [Engine] runs the detector as a follower ([Engine.Run]) with its own
// durable state in one directory (docs/format/insights.md): the
// checkpoint, the baselines, the open anomalies and an outbox of records
// decided but not yet in the log. Records are appended to the event log
// only after the state that decided them is committed, and leave the
// outbox when the detector reads them back, so a restart or a crash never
// repeats a Start and never loses an End. Event history and trail delivery
// take the records from the log like any other event. The records raised
// on data events are also indexed, committed with the outbox, for
// ListInsightsData ([Engine.DataRecords], decision §81): a record does not
// say which category it was raised on.
//
// [Check] reads a stopped data directory's state for fsck.
package insights
