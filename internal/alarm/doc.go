// Package alarm is the pure half of CloudWatch metric alarms (alerts.md
// §5.1–5.3): validating a PutMetricAlarm configuration, computing
// statistics over a period's samples, evaluating an alarm's state from its
// datapoints, and formatting the SNS notification of a state change. It
// does no I/O and reads no clock: callers pass the time.
//
// [Config.Validate] returns an *[Error] carrying the API error code
// (ValidationError, InvalidParameterValue, InvalidParameterCombination,
// MissingParameter) and an AWS-style message; errors.Is matches
// [ErrInvalid].
//
// [Aggregate] accumulates a period's samples and gives SampleCount,
// Average, Sum, Minimum, Maximum and percentiles (pNN, nearest rank).
//
// [Evaluate] applies the M-out-of-N rule with the configured treatment of
// missing data, as the CloudWatch User Guide's "Configuring how CloudWatch
// alarms treat missing data" describes it:
//   - The evaluation range is the N + 2 latest complete periods (N =
//     EvaluationPeriods), as in the guide's tables, which retrieve 5
//     periods for N = 3.
//   - With at least N datapoints in the range, the N most recent are
//     evaluated and the treatment of missing data does not matter.
//   - With fewer, breaching and notBreaching fill the gap with as few
//     missing datapoints as needed to make N; missing evaluates the
//     datapoints there are (ALARM when at least min(M, their number)
//     breach) and goes to INSUFFICIENT_DATA only when the whole range is
//     missing; ignore does the same but keeps the current state where
//     missing would go to INSUFFICIENT_DATA, or to ALARM with fewer than M
//     breaching datapoints.
//   - The state is ALARM when at least M = DatapointsToAlarm of the
//     evaluated datapoints breach, OK otherwise.
//   - A percentile alarm with EvaluateLowSampleCountPercentile "ignore"
//     keeps its state while an evaluated datapoint has fewer samples than
//     the guide's threshold (10/(1-p) for p ≥ 0.5, 10/p below).
//
// The reason text follows AWS's StateReason ("Threshold Crossed: 1 out of
// the last 1 datapoints [2.0 (24/06/21 23:16:00)] was greater than or equal
// to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM
// transition).") and the reason data its StateReasonData JSON.
//
// [NewNotification] builds the SNS Subject and JSON Message CloudWatch
// publishes when an alarm changes state; [RegionName] gives the Region
// display names they use. [Config.ActionsFor] picks the topics of a new
// state, and [HistoryData] the DescribeAlarmHistory record of a change.
package alarm
