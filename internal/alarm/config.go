package alarm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// State is an alarm state.
type State string

// The alarm states.
const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool {
	return s == StateOK || s == StateAlarm || s == StateInsufficientData
}

// The static comparison operators.
const (
	GreaterThanOrEqualToThreshold = "GreaterThanOrEqualToThreshold"
	GreaterThanThreshold          = "GreaterThanThreshold"
	LessThanThreshold             = "LessThanThreshold"
	LessThanOrEqualToThreshold    = "LessThanOrEqualToThreshold"
)

var comparisonOperators = []string{GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold, LessThanOrEqualToThreshold,
	"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}

// The TreatMissingData values.
const (
	TreatMissing      = "missing"
	TreatBreaching    = "breaching"
	TreatNotBreaching = "notBreaching"
	TreatIgnore       = "ignore"
)

// maxPeriodsTimesLen bounds Period × EvaluationPeriods: 7 days.
const maxPeriodsTimesLen = 604_800

// Statistics lists the simple statistics, in the API's order.
var Statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// Units lists the StandardUnit values.
var Units = []string{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
	"Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
	"Gigabits/Second", "Terabits/Second", "Count/Second", "None"}

// MaxActions is the most ARNs each of AlarmActions, OKActions and
// InsufficientDataActions may hold.
const MaxActions = 5

// Dimension is a metric dimension.
type Dimension struct {
	Name  string
	Value string
}

// Config is an alarm's configuration: the PutMetricAlarm request members
// OpenTrail serves. The API layer fills defaults the wire leaves implicit:
// ActionsEnabled is true when the request omits it.
type Config struct {
	AlarmName               string
	AlarmDescription        string // "" when unset
	ActionsEnabled          bool
	OKActions               []string
	AlarmActions            []string
	InsufficientDataActions []string

	MetricName        string
	Namespace         string
	Dimensions        []Dimension
	Statistic         string // one of Statistics, or ""
	ExtendedStatistic string // "pNN", or ""
	Unit              string // "" when unset

	Period             int // seconds
	EvaluationPeriods  int
	DatapointsToAlarm  int // 0 when unset: EvaluationPeriods
	Threshold          float64
	ComparisonOperator string
	// TreatMissingData is "" when unset, which means missing.
	TreatMissingData string
	// EvaluateLowSampleCountPercentile is "", "evaluate" or "ignore".
	EvaluateLowSampleCountPercentile string

	// MetricMath is true when the request carried Metrics or
	// ThresholdMetricId, which OpenTrail refuses.
	MetricMath bool
}

// M returns DatapointsToAlarm, defaulting to EvaluationPeriods.
func (c *Config) M() int {
	if c.DatapointsToAlarm > 0 {
		return c.DatapointsToAlarm
	}
	return c.EvaluationPeriods
}

// Treatment returns TreatMissingData, defaulting to missing.
func (c *Config) Treatment() string {
	if c.TreatMissingData == "" {
		return TreatMissing
	}
	return c.TreatMissingData
}

// The error codes Validate returns, as the CloudWatch query protocol names
// them (the API adds the Exception suffix for JSON's __type).
const (
	CodeValidationError             = "ValidationError"
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeMissingParameter            = "MissingParameter"
)

// ErrInvalid is matched (errors.Is) by every *[Error]: the request is
// wrong and retrying it cannot succeed.
var ErrInvalid = errors.New("invalid alarm configuration")

// Error is a refused alarm configuration.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is reports whether target is [ErrInvalid].
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// constraint is the message AWS's request validation uses.
func constraint(value, member, rule string) *Error {
	return errorf(CodeValidationError, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, rule)
}

func checkLength(value, member string, minLen, maxLen int) *Error {
	switch {
	case len(value) < minLen:
		return constraint(value, member, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	case len(value) > maxLen:
		return constraint(value, member, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
	return nil
}

// Validate checks the configuration as PutMetricAlarm does and returns the
// first problem as an *[Error].
func (c *Config) Validate() error {
	if err := checkLength(c.AlarmName, "alarmName", 1, 255); err != nil {
		return err
	}
	for _, r := range c.AlarmName {
		if r > 0x7f || r < 0x20 {
			return errorf(CodeInvalidParameterValue, "The alarm name must contain only printable ASCII characters.")
		}
	}
	if err := checkLength(c.AlarmDescription, "alarmDescription", 0, 1024); err != nil {
		return err
	}
	for _, a := range []struct {
		member string
		arns   []string
	}{{"oKActions", c.OKActions}, {"alarmActions", c.AlarmActions}, {"insufficientDataActions", c.InsufficientDataActions}} {
		if len(a.arns) > MaxActions {
			return constraint("["+strings.Join(a.arns, ", ")+"]", a.member, fmt.Sprintf("Member must have length less than or equal to %d", MaxActions))
		}
		for _, arn := range a.arns {
			if err := checkLength(arn, a.member+".member", 1, 1024); err != nil {
				return err
			}
			if !isSNSTopicARN(arn) {
				return errorf(CodeInvalidParameterValue, "Invalid action %s: OpenTrail alarms notify SNS topics only (arn:aws:sns:<region>:<account>:<topic>).", arn)
			}
		}
	}
	if c.MetricMath {
		return errorf(CodeInvalidParameterValue, "Metric math alarms (Metrics, ThresholdMetricId) are not supported; give MetricName, Namespace and a statistic.")
	}
	if c.MetricName == "" {
		return errorf(CodeMissingParameter, "The parameter MetricName is required.")
	}
	if err := checkLength(c.MetricName, "metricName", 1, 255); err != nil {
		return err
	}
	if c.Namespace == "" {
		return errorf(CodeMissingParameter, "The parameter Namespace is required.")
	}
	if err := checkLength(c.Namespace, "namespace", 1, 255); err != nil {
		return err
	}
	if strings.HasPrefix(c.Namespace, ":") {
		return constraint(c.Namespace, "namespace", "Member must satisfy regular expression pattern: [^:].*")
	}
	if len(c.Dimensions) > 30 {
		return constraint(fmt.Sprint(len(c.Dimensions)), "dimensions", "Member must have length less than or equal to 30")
	}
	seen := map[string]bool{}
	for _, d := range c.Dimensions {
		if err := checkLength(d.Name, "dimensions.member.name", 1, 255); err != nil {
			return err
		}
		if err := checkLength(d.Value, "dimensions.member.value", 1, 1024); err != nil {
			return err
		}
		if seen[d.Name] {
			return errorf(CodeInvalidParameterValue, "The collection Dimensions must not contain duplicate dimension names (%s).", d.Name)
		}
		seen[d.Name] = true
	}
	switch {
	case c.Statistic == "" && c.ExtendedStatistic == "":
		return errorf(CodeMissingParameter, "Either Statistic or ExtendedStatistic must be specified.")
	case c.Statistic != "" && c.ExtendedStatistic != "":
		return errorf(CodeInvalidParameterCombination, "Exactly one of the parameters Statistic and ExtendedStatistic must be specified, not both.")
	case c.Statistic != "" && !slices.Contains(Statistics, c.Statistic):
		return constraint(c.Statistic, "statistic", "Member must satisfy enum value set: ["+strings.Join(Statistics, ", ")+"]")
	case c.ExtendedStatistic != "":
		if _, ok := ParsePercentile(c.ExtendedStatistic); !ok {
			return errorf(CodeInvalidParameterValue, "The value %s for parameter ExtendedStatistic is not supported: OpenTrail supports percentiles p0 to p100.", c.ExtendedStatistic)
		}
	}
	if c.Unit != "" && !slices.Contains(Units, c.Unit) {
		return constraint(c.Unit, "unit", "Member must satisfy enum value set: ["+strings.Join(Units, ", ")+"]")
	}
	if c.Period < 1 {
		return constraint(strconv.Itoa(c.Period), "period", "Member must have value greater than or equal to 1")
	}
	if c.Period != 10 && c.Period != 20 && c.Period != 30 && c.Period%60 != 0 {
		return errorf(CodeInvalidParameterValue, "The parameter Period must be 10, 20, 30 or a multiple of 60.")
	}
	if c.EvaluationPeriods < 1 {
		return constraint(strconv.Itoa(c.EvaluationPeriods), "evaluationPeriods", "Member must have value greater than or equal to 1")
	}
	if c.Period*c.EvaluationPeriods > maxPeriodsTimesLen || c.Period > maxPeriodsTimesLen || c.EvaluationPeriods > maxPeriodsTimesLen {
		return errorf(CodeValidationError, "The product of EvaluationPeriods and Period must not exceed %d seconds (7 days).", maxPeriodsTimesLen)
	}
	if c.DatapointsToAlarm < 0 {
		return constraint(strconv.Itoa(c.DatapointsToAlarm), "datapointsToAlarm", "Member must have value greater than or equal to 1")
	}
	if c.DatapointsToAlarm > c.EvaluationPeriods {
		return errorf(CodeValidationError, "DatapointsToAlarm (%d) must be less than or equal to EvaluationPeriods (%d).", c.DatapointsToAlarm, c.EvaluationPeriods)
	}
	if c.ComparisonOperator == "" {
		return errorf(CodeMissingParameter, "The parameter ComparisonOperator is required.")
	}
	if !slices.Contains(comparisonOperators, c.ComparisonOperator) {
		return constraint(c.ComparisonOperator, "comparisonOperator", "Member must satisfy enum value set: ["+strings.Join(comparisonOperators, ", ")+"]")
	}
	if !slices.Contains(comparisonOperators[:4], c.ComparisonOperator) {
		return errorf(CodeInvalidParameterCombination, "Comparison operator %s needs an anomaly detection band (ThresholdMetricId), which OpenTrail does not support.", c.ComparisonOperator)
	}
	switch c.TreatMissingData {
	case "", TreatMissing, TreatBreaching, TreatNotBreaching, TreatIgnore:
	default:
		return errorf(CodeInvalidParameterValue, "The value %s for parameter TreatMissingData is not valid: use breaching, notBreaching, ignore or missing.", c.TreatMissingData)
	}
	switch c.EvaluateLowSampleCountPercentile {
	case "":
	case "evaluate", "ignore":
		if c.ExtendedStatistic == "" {
			return errorf(CodeInvalidParameterCombination, "EvaluateLowSampleCountPercentile applies only to alarms on a percentile (ExtendedStatistic).")
		}
	default:
		return errorf(CodeInvalidParameterValue, "The value %s for parameter EvaluateLowSampleCountPercentile is not valid: use evaluate or ignore.", c.EvaluateLowSampleCountPercentile)
	}
	return nil
}

// isSNSTopicARN accepts arn:<partition>:sns:<region>:<account>:<name>.
func isSNSTopicARN(arn string) bool {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[3] == "" || parts[5] == "" {
		return false
	}
	if !strings.HasPrefix(parts[1], "aws") || len(parts[4]) != 12 {
		return false
	}
	for _, c := range parts[4] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParsePercentile parses "pNN" (p0 to p100, decimals allowed: p99.9) and
// returns NN.
func ParsePercentile(s string) (float64, bool) {
	rest, ok := strings.CutPrefix(s, "p")
	if !ok || rest == "" || strings.ContainsAny(rest, "eE+-_xXnN") {
		return 0, false
	}
	p, err := strconv.ParseFloat(rest, 64)
	if err != nil || p < 0 || p > 100 {
		return 0, false
	}
	return p, true
}
