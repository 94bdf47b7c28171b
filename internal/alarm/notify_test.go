package alarm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestNewNotification(t *testing.T) {
	cfg := validConfig()
	cfg.Dimensions = []Dimension{{"Env", "prod"}}
	tr := Transition{
		Config:        &cfg,
		AccountID:     "123456789012",
		Region:        "us-east-1",
		AlarmARN:      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:cis-4.1-unauthorized-api-calls",
		ConfigUpdated: time.Date(2022, 9, 7, 14, 30, 1, 5_000_000, time.UTC),
		OldState:      StateOK,
		NewState:      StateAlarm,
		Reason:        "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (07/09/22 14:28:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
		At:            time.Date(2022, 9, 7, 14, 33, 43, 328_000_000, time.FixedZone("x", 3600)),
	}
	n, err := NewNotification(tr)
	if err != nil {
		t.Fatal(err)
	}
	if want := `ALARM: "cis-4.1-unauthorized-api-calls" in US East (N. Virginia)`; n.Subject != want {
		t.Errorf("Subject %q, want %q", n.Subject, want)
	}
	want := `{"AlarmName":"cis-4.1-unauthorized-api-calls","AlarmDescription":null,"AWSAccountId":"123456789012",` +
		`"AlarmConfigurationUpdatedTimestamp":"2022-09-07T14:30:01.005+0000","NewStateValue":"ALARM",` +
		`"NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [2.0 (07/09/22 14:28:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",` +
		`"StateChangeTime":"2022-09-07T13:33:43.328+0000","Region":"US East (N. Virginia)",` +
		`"AlarmArn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:cis-4.1-unauthorized-api-calls","OldStateValue":"OK",` +
		`"OKActions":[],"AlarmActions":["arn:aws:sns:us-east-1:123456789012:cis-alerts"],"InsufficientDataActions":[],` +
		`"Trigger":{"MetricName":"unauthorized_api_calls_metric","Namespace":"CISBenchmark","StatisticType":"Statistic",` +
		`"Statistic":"SUM","Unit":null,"Dimensions":[{"value":"prod","name":"Env"}],"Period":300,"EvaluationPeriods":1,` +
		`"DatapointsToAlarm":1,"ComparisonOperator":"GreaterThanOrEqualToThreshold","Threshold":1.0,` +
		`"TreatMissingData":"missing","EvaluateLowSampleCountPercentile":""}}`
	if string(n.Message) != want {
		t.Errorf("Message\n got %s\nwant %s", n.Message, want)
	}
	if !json.Valid(n.Message) {
		t.Error("Message is not JSON")
	}
}

func TestNewNotificationVariants(t *testing.T) {
	cfg := validConfig()
	cfg.AlarmDescription = "Root <account> used"
	cfg.Statistic = ""
	cfg.ExtendedStatistic = "p99"
	cfg.Unit = "Count"
	cfg.EvaluationPeriods = 3
	cfg.DatapointsToAlarm = 2
	cfg.TreatMissingData = TreatNotBreaching
	n, err := NewNotification(Transition{Config: &cfg, Region: "eu-west-1", OldState: StateAlarm, NewState: StateOK})
	if err != nil {
		t.Fatal(err)
	}
	if want := `OK: "cis-4.1-unauthorized-api-calls" in EU (Ireland)`; n.Subject != want {
		t.Errorf("Subject %q", n.Subject)
	}
	var m map[string]any
	if err := json.Unmarshal(n.Message, &m); err != nil {
		t.Fatal(err)
	}
	trig := m["Trigger"].(map[string]any)
	got := map[string]any{
		"AlarmDescription": m["AlarmDescription"], "Region": m["Region"], "StatisticType": trig["StatisticType"],
		"ExtendedStatistic": trig["ExtendedStatistic"], "Statistic": trig["Statistic"], "Unit": trig["Unit"],
		"DatapointsToAlarm": trig["DatapointsToAlarm"], "TreatMissingData": trig["TreatMissingData"],
	}
	want := map[string]any{
		"AlarmDescription": "Root <account> used", "Region": "EU (Ireland)", "StatisticType": "ExtendedStatistic",
		"ExtendedStatistic": "p99", "Statistic": nil, "Unit": "Count", "DatapointsToAlarm": 2.0, "TreatMissingData": "notBreaching",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("message fields (-want +got):\n%s", diff)
	}
	if strings.Contains(string(n.Message), `\u003c`) {
		t.Error("the message escapes HTML characters")
	}
}

func TestNotificationSubjectLimit(t *testing.T) {
	cfg := validConfig()
	cfg.AlarmName = strings.Repeat("a", 255)
	n, err := NewNotification(Transition{Config: &cfg, Region: "ap-southeast-2", NewState: StateInsufficientData})
	if err != nil {
		t.Fatal(err)
	}
	if c := utf8.RuneCountInString(n.Subject); c >= 100 {
		t.Errorf("Subject has %d characters; SNS takes fewer than 100", c)
	}
	if !strings.HasPrefix(n.Subject, `INSUFFICIENT_DATA: "aaa`) {
		t.Errorf("Subject %q", n.Subject)
	}
	cfg.AlarmName = "a\tb"
	n, _ = NewNotification(Transition{Config: &cfg, Region: "xx-test-1", NewState: StateOK})
	if n.Subject != `OK: "a b" in xx-test-1` {
		t.Errorf("Subject %q: control characters kept or unknown Region renamed", n.Subject)
	}
}

func TestRegionName(t *testing.T) {
	for code, want := range map[string]string{
		"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)", "eu-central-1": "EU (Frankfurt)",
		"ap-northeast-1": "Asia Pacific (Tokyo)", "sa-east-1": "South America (Sao Paulo)", "moon-1": "moon-1",
	} {
		if got := RegionName(code); got != want {
			t.Errorf("RegionName(%q) = %q, want %q", code, got, want)
		}
	}
}
