package cwapi

import "github.com/opentrail/opentrail/internal/awsjson"

// Wire structs: the CloudWatch model's members, spelled as the model
// spells them, for both the JSON 1.0 and the CBOR forms. Timestamps are
// awsjson.Time (epoch seconds; CBOR tag 1).

type wDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type wDimensionFilter struct {
	Name  string  `json:"Name"`
	Value *string `json:"Value,omitempty"`
}

type wMetric struct {
	Namespace  string       `json:"Namespace,omitempty"`
	MetricName string       `json:"MetricName,omitempty"`
	Dimensions []wDimension `json:"Dimensions"`
}

type wStatisticSet struct {
	SampleCount *float64 `json:"SampleCount"`
	Sum         *float64 `json:"Sum"`
	Minimum     *float64 `json:"Minimum"`
	Maximum     *float64 `json:"Maximum"`
}

type wMetricDatum struct {
	MetricName        string         `json:"MetricName"`
	Dimensions        []wDimension   `json:"Dimensions,omitempty"`
	Timestamp         *awsjson.Time  `json:"Timestamp,omitempty"`
	Value             *float64       `json:"Value,omitempty"`
	StatisticValues   *wStatisticSet `json:"StatisticValues,omitempty"`
	Values            []float64      `json:"Values,omitempty"`
	Counts            []float64      `json:"Counts,omitempty"`
	Unit              string         `json:"Unit,omitempty"`
	StorageResolution *int           `json:"StorageResolution,omitempty"`
}

type putMetricDataInput struct {
	Namespace  string         `json:"Namespace"`
	MetricData []wMetricDatum `json:"MetricData"`
}

type listMetricsInput struct {
	Namespace      string             `json:"Namespace,omitempty"`
	MetricName     string             `json:"MetricName,omitempty"`
	Dimensions     []wDimensionFilter `json:"Dimensions,omitempty"`
	NextToken      string             `json:"NextToken,omitempty"`
	RecentlyActive string             `json:"RecentlyActive,omitempty"`
}

type listMetricsOutput struct {
	Metrics   []wMetric `json:"Metrics"`
	NextToken string    `json:"NextToken,omitempty"`
}

type getMetricStatisticsInput struct {
	Namespace          string        `json:"Namespace"`
	MetricName         string        `json:"MetricName"`
	Dimensions         []wDimension  `json:"Dimensions,omitempty"`
	StartTime          *awsjson.Time `json:"StartTime,omitempty"`
	EndTime            *awsjson.Time `json:"EndTime,omitempty"`
	Period             *int          `json:"Period,omitempty"`
	Statistics         []string      `json:"Statistics,omitempty"`
	ExtendedStatistics []string      `json:"ExtendedStatistics,omitempty"`
	Unit               string        `json:"Unit,omitempty"`
}

type wDatapoint struct {
	Timestamp          *awsjson.Time      `json:"Timestamp,omitempty"`
	SampleCount        *float64           `json:"SampleCount,omitempty"`
	Average            *float64           `json:"Average,omitempty"`
	Sum                *float64           `json:"Sum,omitempty"`
	Minimum            *float64           `json:"Minimum,omitempty"`
	Maximum            *float64           `json:"Maximum,omitempty"`
	Unit               string             `json:"Unit,omitempty"`
	ExtendedStatistics map[string]float64 `json:"ExtendedStatistics,omitempty"`
}

type getMetricStatisticsOutput struct {
	Label      string       `json:"Label"`
	Datapoints []wDatapoint `json:"Datapoints"`
}

type wMetricStat struct {
	Metric *wMetric `json:"Metric,omitempty"`
	Period *int     `json:"Period,omitempty"`
	Stat   string   `json:"Stat"`
	Unit   string   `json:"Unit,omitempty"`
}

type wMetricDataQuery struct {
	ID         string       `json:"Id"`
	MetricStat *wMetricStat `json:"MetricStat,omitempty"`
	Expression string       `json:"Expression,omitempty"`
	Label      string       `json:"Label,omitempty"`
	ReturnData *bool        `json:"ReturnData,omitempty"`
	Period     *int         `json:"Period,omitempty"`
	AccountID  string       `json:"AccountId,omitempty"`
}

type getMetricDataInput struct {
	MetricDataQueries []wMetricDataQuery `json:"MetricDataQueries"`
	StartTime         *awsjson.Time      `json:"StartTime,omitempty"`
	EndTime           *awsjson.Time      `json:"EndTime,omitempty"`
	NextToken         string             `json:"NextToken,omitempty"`
	ScanBy            string             `json:"ScanBy,omitempty"`
	MaxDatapoints     *int               `json:"MaxDatapoints,omitempty"`
}

type wMetricDataResult struct {
	ID         string         `json:"Id"`
	Label      string         `json:"Label"`
	Timestamps []awsjson.Time `json:"Timestamps"`
	Values     []float64      `json:"Values"`
	StatusCode string         `json:"StatusCode"`
}

type getMetricDataOutput struct {
	MetricDataResults []wMetricDataResult `json:"MetricDataResults"`
	NextToken         string              `json:"NextToken,omitempty"`
}

type wTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type putMetricAlarmInput struct {
	AlarmName                        string       `json:"AlarmName"`
	AlarmDescription                 string       `json:"AlarmDescription,omitempty"`
	ActionsEnabled                   *bool        `json:"ActionsEnabled,omitempty"`
	OKActions                        []string     `json:"OKActions,omitempty"`
	AlarmActions                     []string     `json:"AlarmActions,omitempty"`
	InsufficientDataActions          []string     `json:"InsufficientDataActions,omitempty"`
	MetricName                       string       `json:"MetricName,omitempty"`
	Namespace                        string       `json:"Namespace,omitempty"`
	Statistic                        string       `json:"Statistic,omitempty"`
	ExtendedStatistic                string       `json:"ExtendedStatistic,omitempty"`
	Dimensions                       []wDimension `json:"Dimensions,omitempty"`
	Period                           *int         `json:"Period,omitempty"`
	Unit                             string       `json:"Unit,omitempty"`
	EvaluationPeriods                *int         `json:"EvaluationPeriods,omitempty"`
	DatapointsToAlarm                *int         `json:"DatapointsToAlarm,omitempty"`
	Threshold                        *float64     `json:"Threshold,omitempty"`
	ComparisonOperator               string       `json:"ComparisonOperator,omitempty"`
	TreatMissingData                 string       `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile string       `json:"EvaluateLowSampleCountPercentile,omitempty"`
	Metrics                          []any        `json:"Metrics,omitempty"`
	ThresholdMetricID                string       `json:"ThresholdMetricId,omitempty"`
	Tags                             []wTag       `json:"Tags,omitempty"`
}

type wMetricAlarm struct {
	AlarmName                          string        `json:"AlarmName"`
	AlarmArn                           string        `json:"AlarmArn"`
	AlarmDescription                   string        `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp *awsjson.Time `json:"AlarmConfigurationUpdatedTimestamp,omitempty"`
	ActionsEnabled                     bool          `json:"ActionsEnabled"`
	OKActions                          []string      `json:"OKActions"`
	AlarmActions                       []string      `json:"AlarmActions"`
	InsufficientDataActions            []string      `json:"InsufficientDataActions"`
	StateValue                         string        `json:"StateValue"`
	StateReason                        string        `json:"StateReason"`
	StateReasonData                    string        `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              *awsjson.Time `json:"StateUpdatedTimestamp,omitempty"`
	MetricName                         string        `json:"MetricName"`
	Namespace                          string        `json:"Namespace"`
	Statistic                          string        `json:"Statistic,omitempty"`
	ExtendedStatistic                  string        `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []wDimension  `json:"Dimensions"`
	Period                             int           `json:"Period"`
	Unit                               string        `json:"Unit,omitempty"`
	EvaluationPeriods                  int           `json:"EvaluationPeriods"`
	DatapointsToAlarm                  int           `json:"DatapointsToAlarm,omitempty"`
	Threshold                          float64       `json:"Threshold"`
	ComparisonOperator                 string        `json:"ComparisonOperator"`
	TreatMissingData                   string        `json:"TreatMissingData,omitempty"`
	EvaluateLowSampleCountPercentile   string        `json:"EvaluateLowSampleCountPercentile,omitempty"`
	StateTransitionedTimestamp         *awsjson.Time `json:"StateTransitionedTimestamp,omitempty"`
}

type describeAlarmsInput struct {
	AlarmNames      []string `json:"AlarmNames,omitempty"`
	AlarmNamePrefix string   `json:"AlarmNamePrefix,omitempty"`
	AlarmTypes      []string `json:"AlarmTypes,omitempty"`
	StateValue      string   `json:"StateValue,omitempty"`
	ActionPrefix    string   `json:"ActionPrefix,omitempty"`
	MaxRecords      *int     `json:"MaxRecords,omitempty"`
	NextToken       string   `json:"NextToken,omitempty"`
}

type describeAlarmsOutput struct {
	MetricAlarms    []wMetricAlarm `json:"MetricAlarms"`
	CompositeAlarms []struct{}     `json:"CompositeAlarms"`
	NextToken       string         `json:"NextToken,omitempty"`
}

type describeAlarmsForMetricInput struct {
	MetricName        string       `json:"MetricName"`
	Namespace         string       `json:"Namespace"`
	Statistic         string       `json:"Statistic,omitempty"`
	ExtendedStatistic string       `json:"ExtendedStatistic,omitempty"`
	Dimensions        []wDimension `json:"Dimensions,omitempty"`
	Period            *int         `json:"Period,omitempty"`
	Unit              string       `json:"Unit,omitempty"`
}

type describeAlarmsForMetricOutput struct {
	MetricAlarms []wMetricAlarm `json:"MetricAlarms"`
}

type alarmNamesInput struct {
	AlarmNames []string `json:"AlarmNames"`
}

type setAlarmStateInput struct {
	AlarmName       string `json:"AlarmName"`
	StateValue      string `json:"StateValue"`
	StateReason     string `json:"StateReason"`
	StateReasonData string `json:"StateReasonData,omitempty"`
}

type describeAlarmHistoryInput struct {
	AlarmName       string        `json:"AlarmName,omitempty"`
	AlarmTypes      []string      `json:"AlarmTypes,omitempty"`
	HistoryItemType string        `json:"HistoryItemType,omitempty"`
	StartDate       *awsjson.Time `json:"StartDate,omitempty"`
	EndDate         *awsjson.Time `json:"EndDate,omitempty"`
	MaxRecords      *int          `json:"MaxRecords,omitempty"`
	NextToken       string        `json:"NextToken,omitempty"`
	ScanBy          string        `json:"ScanBy,omitempty"`
}

type wHistoryItem struct {
	AlarmName       string        `json:"AlarmName"`
	AlarmType       string        `json:"AlarmType"`
	Timestamp       *awsjson.Time `json:"Timestamp"`
	HistoryItemType string        `json:"HistoryItemType"`
	HistorySummary  string        `json:"HistorySummary"`
	HistoryData     string        `json:"HistoryData,omitempty"`
}

type describeAlarmHistoryOutput struct {
	AlarmHistoryItems []wHistoryItem `json:"AlarmHistoryItems"`
	NextToken         string         `json:"NextToken,omitempty"`
}

type empty struct{}
