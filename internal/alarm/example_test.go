package alarm_test

import (
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/alarm"
)

func Example() {
	cfg := &alarm.Config{
		AlarmName: "root-usage", ActionsEnabled: true,
		AlarmActions: []string{"arn:aws:sns:us-east-1:123456789012:alerts"},
		MetricName:   "root_usage_metric", Namespace: "CISBenchmark", Statistic: "Sum",
		Period: 300, EvaluationPeriods: 1, Threshold: 1,
		ComparisonOperator: alarm.GreaterThanOrEqualToThreshold,
	}
	if err := cfg.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	var sum alarm.Aggregate
	sum.Add(1, 1) // one matching log event
	v, _ := sum.Statistic(cfg.Statistic)
	period := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	r := alarm.Evaluate(cfg, alarm.StateInsufficientData,
		[]alarm.Datapoint{{Timestamp: period, Value: v, SampleCount: sum.SampleCount()}},
		period.Add(6*time.Minute))
	fmt.Println(r.State)
	fmt.Println(r.Reason)
	n, _ := alarm.NewNotification(alarm.Transition{Config: cfg, Region: "us-east-1",
		OldState: alarm.StateInsufficientData, NewState: r.State, Reason: r.Reason, At: period.Add(6 * time.Minute)})
	fmt.Println(n.Subject)
	// Output:
	// ALARM
	// Threshold Crossed: 1 out of the last 1 datapoints [1.0 (01/05/24 10:00:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition).
	// ALARM: "root-usage" in US East (N. Virginia)
}

func ExampleConfig_Validate() {
	cfg := &alarm.Config{AlarmName: "a", MetricName: "m", Namespace: "n", Statistic: "Sum",
		Period: 45, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: alarm.GreaterThanThreshold}
	fmt.Println(cfg.Validate())
	// Output:
	// InvalidParameterValue: The parameter Period must be 10, 20, 30 or a multiple of 60.
}
