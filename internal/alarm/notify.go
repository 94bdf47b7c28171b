package alarm

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// regionNames are the display names CloudWatch writes in alarm
// notifications ("ALARM: \"x\" in US East (N. Virginia)").
var regionNames = map[string]string{
	"us-east-1":      "US East (N. Virginia)",
	"us-east-2":      "US East (Ohio)",
	"us-west-1":      "US West (N. California)",
	"us-west-2":      "US West (Oregon)",
	"af-south-1":     "Africa (Cape Town)",
	"ap-east-1":      "Asia Pacific (Hong Kong)",
	"ap-south-1":     "Asia Pacific (Mumbai)",
	"ap-south-2":     "Asia Pacific (Hyderabad)",
	"ap-northeast-1": "Asia Pacific (Tokyo)",
	"ap-northeast-2": "Asia Pacific (Seoul)",
	"ap-northeast-3": "Asia Pacific (Osaka)",
	"ap-southeast-1": "Asia Pacific (Singapore)",
	"ap-southeast-2": "Asia Pacific (Sydney)",
	"ap-southeast-3": "Asia Pacific (Jakarta)",
	"ap-southeast-4": "Asia Pacific (Melbourne)",
	"ca-central-1":   "Canada (Central)",
	"ca-west-1":      "Canada West (Calgary)",
	"eu-central-1":   "EU (Frankfurt)",
	"eu-central-2":   "EU (Zurich)",
	"eu-west-1":      "EU (Ireland)",
	"eu-west-2":      "EU (London)",
	"eu-west-3":      "EU (Paris)",
	"eu-north-1":     "EU (Stockholm)",
	"eu-south-1":     "EU (Milan)",
	"eu-south-2":     "EU (Spain)",
	"il-central-1":   "Israel (Tel Aviv)",
	"me-south-1":     "Middle East (Bahrain)",
	"me-central-1":   "Middle East (UAE)",
	"sa-east-1":      "South America (Sao Paulo)",
	"us-gov-east-1":  "AWS GovCloud (US-East)",
	"us-gov-west-1":  "AWS GovCloud (US-West)",
	"cn-north-1":     "China (Beijing)",
	"cn-northwest-1": "China (Ningxia)",
}

// RegionName returns the display name of a Region, or the code itself for
// a Region it does not know.
func RegionName(region string) string {
	if n, ok := regionNames[region]; ok {
		return n
	}
	return region
}

// Transition is a state change to notify.
type Transition struct {
	Config *Config
	// AccountID and Region are the alarm's; AlarmARN is
	// arn:aws:cloudwatch:<region>:<account>:alarm:<name>.
	AccountID string
	Region    string
	AlarmARN  string
	// ConfigUpdated is when the configuration was last written.
	ConfigUpdated time.Time
	OldState      State
	NewState      State
	Reason        string
	At            time.Time
}

// Notification is what CloudWatch publishes to the alarm's SNS topics.
type Notification struct {
	Subject string
	Message []byte // JSON
}

// maxSubject is SNS's limit: a Subject is shorter than 100 characters.
const maxSubject = 99

// message is the notification's JSON, in CloudWatch's key order.
type message struct {
	AlarmName                          string   `json:"AlarmName"`
	AlarmDescription                   *string  `json:"AlarmDescription"`
	AWSAccountID                       string   `json:"AWSAccountId"`
	AlarmConfigurationUpdatedTimestamp string   `json:"AlarmConfigurationUpdatedTimestamp"`
	NewStateValue                      State    `json:"NewStateValue"`
	NewStateReason                     string   `json:"NewStateReason"`
	StateChangeTime                    string   `json:"StateChangeTime"`
	Region                             string   `json:"Region"`
	AlarmARN                           string   `json:"AlarmArn"`
	OldStateValue                      State    `json:"OldStateValue"`
	OKActions                          []string `json:"OKActions"`
	AlarmActions                       []string `json:"AlarmActions"`
	InsufficientDataActions            []string `json:"InsufficientDataActions"`
	Trigger                            trigger  `json:"Trigger"`
}

type trigger struct {
	MetricName                       string         `json:"MetricName"`
	Namespace                        string         `json:"Namespace"`
	StatisticType                    string         `json:"StatisticType"`
	Statistic                        string         `json:"Statistic,omitempty"`
	ExtendedStatistic                string         `json:"ExtendedStatistic,omitempty"`
	Unit                             *string        `json:"Unit"`
	Dimensions                       []dimensionOut `json:"Dimensions"`
	Period                           int            `json:"Period"`
	EvaluationPeriods                int            `json:"EvaluationPeriods"`
	DatapointsToAlarm                int            `json:"DatapointsToAlarm"`
	ComparisonOperator               string         `json:"ComparisonOperator"`
	Threshold                        jsonDouble     `json:"Threshold"`
	TreatMissingData                 string         `json:"TreatMissingData"`
	EvaluateLowSampleCountPercentile string         `json:"EvaluateLowSampleCountPercentile"`
}

type dimensionOut struct {
	Value string `json:"value"`
	Name  string `json:"name"`
}

// NewNotification builds the Subject and Message of a state change
// notification (alerts.md §5.3).
func NewNotification(t Transition) (Notification, error) {
	c := t.Config
	region := RegionName(t.Region)
	subject := string(t.NewState) + `: "` + c.AlarmName + `" in ` + region
	subject = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, subject)
	for utf8.RuneCountInString(subject) > maxSubject {
		_, size := utf8.DecodeLastRuneInString(subject)
		subject = subject[:len(subject)-size]
	}
	m := message{
		AlarmName:                          c.AlarmName,
		AWSAccountID:                       t.AccountID,
		AlarmConfigurationUpdatedTimestamp: FormatTime(t.ConfigUpdated),
		NewStateValue:                      t.NewState,
		NewStateReason:                     t.Reason,
		StateChangeTime:                    FormatTime(t.At),
		Region:                             region,
		AlarmARN:                           t.AlarmARN,
		OldStateValue:                      t.OldState,
		OKActions:                          nonNil(c.OKActions),
		AlarmActions:                       nonNil(c.AlarmActions),
		InsufficientDataActions:            nonNil(c.InsufficientDataActions),
		Trigger: trigger{
			MetricName:                       c.MetricName,
			Namespace:                        c.Namespace,
			StatisticType:                    "Statistic",
			Statistic:                        strings.ToUpper(c.Statistic),
			Dimensions:                       []dimensionOut{},
			Period:                           c.Period,
			EvaluationPeriods:                c.EvaluationPeriods,
			DatapointsToAlarm:                c.M(),
			ComparisonOperator:               c.ComparisonOperator,
			Threshold:                        jsonDouble(c.Threshold),
			TreatMissingData:                 c.Treatment(),
			EvaluateLowSampleCountPercentile: c.EvaluateLowSampleCountPercentile,
		},
	}
	if c.AlarmDescription != "" {
		m.AlarmDescription = &c.AlarmDescription
	}
	if c.ExtendedStatistic != "" {
		m.Trigger.StatisticType = "ExtendedStatistic"
		m.Trigger.ExtendedStatistic = c.ExtendedStatistic
	}
	if c.Unit != "" {
		m.Trigger.Unit = &c.Unit
	}
	for _, d := range c.Dimensions {
		m.Trigger.Dimensions = append(m.Trigger.Dimensions, dimensionOut{Value: d.Value, Name: d.Name})
	}
	b, err := marshal(m)
	if err != nil {
		return Notification{}, err
	}
	return Notification{Subject: subject, Message: b}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// marshal is json.Marshal without HTML escaping: reasons hold "->", which
// CloudWatch writes as is.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
