package alarm

import (
	"errors"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		AlarmName: "cis-4.1-unauthorized-api-calls", ActionsEnabled: true,
		AlarmActions: []string{"arn:aws:sns:us-east-1:123456789012:cis-alerts"},
		MetricName:   "unauthorized_api_calls_metric", Namespace: "CISBenchmark", Statistic: "Sum",
		Period: 300, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: GreaterThanOrEqualToThreshold,
	}
}

func TestValidateAccepts(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"CIS alarm":      func(*Config) {},
		"period 10":      func(c *Config) { c.Period = 10 },
		"period 20":      func(c *Config) { c.Period = 20 },
		"period 30":      func(c *Config) { c.Period = 30 },
		"period 3600":    func(c *Config) { c.Period = 3600 },
		"7 days exactly": func(c *Config) { c.Period = 86400; c.EvaluationPeriods = 7 },
		"M of N":         func(c *Config) { c.EvaluationPeriods = 5; c.DatapointsToAlarm = 3 },
		"M equals N":     func(c *Config) { c.EvaluationPeriods = 5; c.DatapointsToAlarm = 5 },
		"p99":            func(c *Config) { c.Statistic = ""; c.ExtendedStatistic = "p99" },
		"p99.9 low samples": func(c *Config) {
			c.Statistic = ""
			c.ExtendedStatistic = "p99.9"
			c.EvaluateLowSampleCountPercentile = "ignore"
		},
		"p0 and p100":         func(c *Config) { c.Statistic = ""; c.ExtendedStatistic = "p100" },
		"each statistic":      func(c *Config) { c.Statistic = "SampleCount" },
		"treat breaching":     func(c *Config) { c.TreatMissingData = TreatBreaching },
		"treat notBreaching":  func(c *Config) { c.TreatMissingData = TreatNotBreaching },
		"treat ignore":        func(c *Config) { c.TreatMissingData = TreatIgnore },
		"treat missing":       func(c *Config) { c.TreatMissingData = TreatMissing },
		"unit":                func(c *Config) { c.Unit = "Count/Second" },
		"five actions":        func(c *Config) { c.OKActions = fiveTopics() },
		"dimensions":          func(c *Config) { c.Dimensions = []Dimension{{"InstanceId", "i-1"}, {"Env", "prod"}} },
		"no actions":          func(c *Config) { c.AlarmActions = nil },
		"china partition ARN": func(c *Config) { c.AlarmActions = []string{"arn:aws-cn:sns:cn-north-1:123456789012:t"} },
		"1024 description":    func(c *Config) { c.AlarmDescription = strings.Repeat("d", 1024) },
	} {
		t.Run(name, func(t *testing.T) {
			c := validConfig()
			edit(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func fiveTopics() []string {
	var out []string
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		out = append(out, "arn:aws:sns:us-east-1:123456789012:"+n)
	}
	return out
}

func TestValidateRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		code string
		msg  string
	}{
		{"no name", func(c *Config) { c.AlarmName = "" }, CodeValidationError, "Value '' at 'alarmName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"long name", func(c *Config) { c.AlarmName = strings.Repeat("a", 256) }, CodeValidationError, "Member must have length less than or equal to 255"},
		{"non-ASCII name", func(c *Config) { c.AlarmName = "alarme-é" }, CodeInvalidParameterValue, "printable ASCII"},
		{"long description", func(c *Config) { c.AlarmDescription = strings.Repeat("d", 1025) }, CodeValidationError, "'alarmDescription'"},
		{"six actions", func(c *Config) { c.AlarmActions = append(fiveTopics(), "arn:aws:sns:us-east-1:123456789012:f") }, CodeValidationError, "at 'alarmActions' failed to satisfy constraint: Member must have length less than or equal to 5"},
		{"six OK actions", func(c *Config) { c.OKActions = append(fiveTopics(), "arn:aws:sns:us-east-1:123456789012:f") }, CodeValidationError, "'oKActions'"},
		{"six insufficient data actions", func(c *Config) {
			c.InsufficientDataActions = append(fiveTopics(), "arn:aws:sns:us-east-1:123456789012:f")
		}, CodeValidationError, "'insufficientDataActions'"},
		{"EC2 action", func(c *Config) { c.AlarmActions = []string{"arn:aws:automate:us-east-1:ec2:stop"} }, CodeInvalidParameterValue, "SNS topics only"},
		{"bad topic ARN", func(c *Config) { c.AlarmActions = []string{"arn:aws:sns:us-east-1:1234:t"} }, CodeInvalidParameterValue, "SNS topics only"},
		{"metric math", func(c *Config) { c.MetricMath = true }, CodeInvalidParameterValue, "Metric math"},
		{"no metric", func(c *Config) { c.MetricName = "" }, CodeMissingParameter, "MetricName is required"},
		{"no namespace", func(c *Config) { c.Namespace = "" }, CodeMissingParameter, "Namespace is required"},
		{"colon namespace", func(c *Config) { c.Namespace = ":x" }, CodeValidationError, "regular expression pattern"},
		{"long metric", func(c *Config) { c.MetricName = strings.Repeat("m", 256) }, CodeValidationError, "'metricName'"},
		{"31 dimensions", func(c *Config) {
			for i := range 31 {
				c.Dimensions = append(c.Dimensions, Dimension{Name: strings.Repeat("d", i+1), Value: "v"})
			}
		}, CodeValidationError, "'dimensions'"},
		{"empty dimension value", func(c *Config) { c.Dimensions = []Dimension{{"a", ""}} }, CodeValidationError, "'dimensions.member.value'"},
		{"duplicate dimension", func(c *Config) { c.Dimensions = []Dimension{{"a", "1"}, {"a", "2"}} }, CodeInvalidParameterValue, "duplicate"},
		{"no statistic", func(c *Config) { c.Statistic = "" }, CodeMissingParameter, "Statistic or ExtendedStatistic"},
		{"both statistics", func(c *Config) { c.ExtendedStatistic = "p90" }, CodeInvalidParameterCombination, "Exactly one"},
		{"bad statistic", func(c *Config) { c.Statistic = "Median" }, CodeValidationError, "Member must satisfy enum value set: [SampleCount, Average, Sum, Minimum, Maximum]"},
		{"p101", func(c *Config) { c.Statistic = ""; c.ExtendedStatistic = "p101" }, CodeInvalidParameterValue, "p101"},
		{"trimmed mean", func(c *Config) { c.Statistic = ""; c.ExtendedStatistic = "tm99" }, CodeInvalidParameterValue, "tm99"},
		{"bad unit", func(c *Config) { c.Unit = "Parsecs" }, CodeValidationError, "'unit'"},
		{"period 0", func(c *Config) { c.Period = 0 }, CodeValidationError, "'period'"},
		{"period 45", func(c *Config) { c.Period = 45 }, CodeInvalidParameterValue, "10, 20, 30 or a multiple of 60"},
		{"period 90", func(c *Config) { c.Period = 90 }, CodeInvalidParameterValue, "multiple of 60"},
		{"no evaluation periods", func(c *Config) { c.EvaluationPeriods = 0 }, CodeValidationError, "'evaluationPeriods'"},
		{"over 7 days", func(c *Config) { c.Period = 86400; c.EvaluationPeriods = 8 }, CodeValidationError, "604800"},
		{"over 7 days in minutes", func(c *Config) { c.Period = 60; c.EvaluationPeriods = 10081 }, CodeValidationError, "604800"},
		{"M over N", func(c *Config) { c.EvaluationPeriods = 2; c.DatapointsToAlarm = 3 }, CodeValidationError, "DatapointsToAlarm (3) must be less than or equal to EvaluationPeriods (2)"},
		{"negative M", func(c *Config) { c.DatapointsToAlarm = -1 }, CodeValidationError, "'datapointsToAlarm'"},
		{"no operator", func(c *Config) { c.ComparisonOperator = "" }, CodeMissingParameter, "ComparisonOperator"},
		{"bad operator", func(c *Config) { c.ComparisonOperator = "Equals" }, CodeValidationError, "'comparisonOperator'"},
		{"anomaly band", func(c *Config) { c.ComparisonOperator = "LessThanLowerOrGreaterThanUpperThreshold" }, CodeInvalidParameterCombination, "anomaly detection"},
		{"bad treatment", func(c *Config) { c.TreatMissingData = "zero" }, CodeInvalidParameterValue, "TreatMissingData"},
		{"low sample without percentile", func(c *Config) { c.EvaluateLowSampleCountPercentile = "ignore" }, CodeInvalidParameterCombination, "percentile"},
		{"bad low sample", func(c *Config) {
			c.Statistic = ""
			c.ExtendedStatistic = "p50"
			c.EvaluateLowSampleCountPercentile = "skip"
		}, CodeInvalidParameterValue, "EvaluateLowSampleCountPercentile"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.edit(&cfg)
			err := cfg.Validate()
			var ae *Error
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want an *Error", err)
			}
			if ae.Code != c.code || !strings.Contains(ae.Message, c.msg) {
				t.Errorf("got %s %q, want %s containing %q", ae.Code, ae.Message, c.code, c.msg)
			}
		})
	}
}

func TestParsePercentile(t *testing.T) {
	for s, want := range map[string]float64{"p0": 0, "p50": 50, "p99.9": 99.9, "p100": 100, "p.5": 0.5} {
		if got, ok := ParsePercentile(s); !ok || got != want {
			t.Errorf("ParsePercentile(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "p", "p-1", "p100.1", "pInf", "pNaN", "p1e1", "P50", "50", "p0x10", "p+5", "p5_0"} {
		if _, ok := ParsePercentile(s); ok {
			t.Errorf("ParsePercentile(%q) accepted", s)
		}
	}
}
