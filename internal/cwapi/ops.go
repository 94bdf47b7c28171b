package cwapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/alarm"
	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/cwmetrics"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// Engine is what the API needs of the CloudWatch engine (a
// *cwmetrics.Engine).
type Engine interface {
	PutMetricData(account, region, ns string, data []cwmetrics.Datum) error
	ListMetrics(account, region string, in cwmetrics.ListMetricsInput) ([]cwmetrics.Metric, string, error)
	GetMetricStatistics(account, region string, in cwmetrics.StatisticsInput) ([]cwmetrics.StatDatapoint, error)
	GetMetricData(account, region string, in cwmetrics.DataInput) ([]cwmetrics.DataResult, string, error)
	PutMetricAlarm(account, region string, cfg alarm.Config, tags []cwmetrics.Tag) error
	DescribeAlarms(account, region string, in cwmetrics.DescribeInput) ([]cwmetrics.Alarm, string, error)
	DescribeAlarmsForMetric(account, region string, in cwmetrics.ForMetricInput) ([]cwmetrics.Alarm, error)
	DeleteAlarms(account, region string, names []string) error
	SetAlarmState(account, region, name string, state alarm.State, reason, reasonData string) error
	SetActionsEnabled(account, region string, names []string, enabled bool) error
	DescribeAlarmHistory(account, region string, in cwmetrics.HistoryInput) ([]cwmetrics.HistoryItem, string, error)
}

var _ Engine = (*cwmetrics.Engine)(nil)

// service runs the operations on the engine.
type service struct{ e Engine }

// op is one operation: its jsonsvc.Op and a fresh input value, which the
// CBOR and query forms decode into before handing Invoke JSON.
type op struct {
	op    jsonsvc.Op
	input func() any
}

func typed[I, O any](f func(ctx context.Context, c identity.Caller, in *I) (*O, error), readOnly, data bool) op {
	return op{op: jsonsvc.Op{ReadOnly: readOnly, Data: data, Invoke: jsonsvc.Typed(f)}, input: func() any { return new(I) }}
}

// withoutMetricData is PutMetricData's requestParameters: the members
// but the bulky MetricData.
func withoutMetricData(body []byte) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return audit.Null
	}
	delete(m, "MetricData")
	b, err := json.Marshal(m)
	if err != nil {
		return audit.Null
	}
	return audit.LowerCamelMembers(b)
}

func (s *service) table() map[string]op {
	put := typed(s.putMetricData, false, true)
	put.op.Params = withoutMetricData
	return map[string]op{
		"PutMetricData":           put,
		"ListMetrics":             typed(s.listMetrics, true, true),
		"GetMetricStatistics":     typed(s.getMetricStatistics, true, true),
		"GetMetricData":           typed(s.getMetricData, true, true),
		"PutMetricAlarm":          typed(s.putMetricAlarm, false, false),
		"DescribeAlarms":          typed(s.describeAlarms, true, false),
		"DescribeAlarmsForMetric": typed(s.describeAlarmsForMetric, true, false),
		"DeleteAlarms":            typed(s.deleteAlarms, false, false),
		"SetAlarmState":           typed(s.setAlarmState, false, false),
		"EnableAlarmActions":      typed(s.enableAlarmActions, false, false),
		"DisableAlarmActions":     typed(s.disableAlarmActions, false, false),
		"DescribeAlarmHistory":    typed(s.describeAlarmHistory, true, false),
	}
}

func dims(ws []wDimension) []cwmetrics.Dimension {
	out := make([]cwmetrics.Dimension, len(ws))
	for i, d := range ws {
		out[i] = cwmetrics.Dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

func wdims(ds []cwmetrics.Dimension) []wDimension {
	out := make([]wDimension, len(ds))
	for i, d := range ds {
		out[i] = wDimension{Name: d.Name, Value: d.Value}
	}
	return out
}

func missing(member string) error {
	return &jsonsvc.WireError{Code: "MissingParameter", Message: fmt.Sprintf("The parameter %s is required.", member)}
}

func tm(t *awsjson.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func (s *service) putMetricData(_ context.Context, c identity.Caller, in *putMetricDataInput) (*empty, error) {
	data := make([]cwmetrics.Datum, len(in.MetricData))
	for i, d := range in.MetricData {
		data[i] = cwmetrics.Datum{MetricName: d.MetricName, Dimensions: dims(d.Dimensions), Timestamp: tm(d.Timestamp),
			Value: d.Value, Values: d.Values, Counts: d.Counts, Unit: d.Unit}
		if s := d.StatisticValues; s != nil {
			if s.SampleCount == nil || s.Sum == nil || s.Minimum == nil || s.Maximum == nil {
				return nil, missing(fmt.Sprintf("MetricData.member.%d.StatisticValues (SampleCount, Sum, Minimum and Maximum)", i+1))
			}
			data[i].StatisticValues = &alarm.StatisticSet{SampleCount: *s.SampleCount, Sum: *s.Sum, Minimum: *s.Minimum, Maximum: *s.Maximum}
		}
		if r := d.StorageResolution; r != nil && *r != 1 && *r != 60 {
			return nil, &jsonsvc.WireError{Code: "InvalidParameterValue", Message: fmt.Sprintf("The value %d for parameter MetricData.member.%d.StorageResolution is invalid (1 or 60).", *r, i+1)}
		}
	}
	return nil, s.e.PutMetricData(c.AccountID, c.Region, in.Namespace, data)
}

func (s *service) listMetrics(_ context.Context, c identity.Caller, in *listMetricsInput) (*listMetricsOutput, error) {
	q := cwmetrics.ListMetricsInput{Namespace: in.Namespace, MetricName: in.MetricName, RecentlyActive: in.RecentlyActive, NextToken: in.NextToken}
	for _, f := range in.Dimensions {
		df := cwmetrics.DimensionFilter{Name: f.Name}
		if f.Value != nil {
			df.Value = *f.Value
		}
		q.Dimensions = append(q.Dimensions, df)
	}
	ms, next, err := s.e.ListMetrics(c.AccountID, c.Region, q)
	if err != nil {
		return nil, err
	}
	out := &listMetricsOutput{Metrics: make([]wMetric, len(ms)), NextToken: next}
	for i, m := range ms {
		out.Metrics[i] = wMetric{Namespace: m.Namespace, MetricName: m.MetricName, Dimensions: wdims(m.Dimensions)}
	}
	return out, nil
}

func (s *service) getMetricStatistics(_ context.Context, c identity.Caller, in *getMetricStatisticsInput) (*getMetricStatisticsOutput, error) {
	if in.Period == nil {
		return nil, missing("Period")
	}
	dps, err := s.e.GetMetricStatistics(c.AccountID, c.Region, cwmetrics.StatisticsInput{Namespace: in.Namespace, MetricName: in.MetricName,
		Dimensions: dims(in.Dimensions), StartTime: tm(in.StartTime), EndTime: tm(in.EndTime), Period: *in.Period,
		Statistics: in.Statistics, ExtendedStatistics: in.ExtendedStatistics, Unit: in.Unit})
	if err != nil {
		return nil, err
	}
	out := &getMetricStatisticsOutput{Label: in.MetricName, Datapoints: make([]wDatapoint, len(dps))}
	for i, dp := range dps {
		w := wDatapoint{Timestamp: awsjson.NewTime(dp.Timestamp), Unit: dp.Unit, ExtendedStatistics: dp.Extended}
		for name, v := range dp.Values {
			switch name {
			case "SampleCount":
				w.SampleCount = &v
			case "Average":
				w.Average = &v
			case "Sum":
				w.Sum = &v
			case "Minimum":
				w.Minimum = &v
			case "Maximum":
				w.Maximum = &v
			}
		}
		out.Datapoints[i] = w
	}
	return out, nil
}

func (s *service) getMetricData(_ context.Context, c identity.Caller, in *getMetricDataInput) (*getMetricDataOutput, error) {
	q := cwmetrics.DataInput{StartTime: tm(in.StartTime), EndTime: tm(in.EndTime), ScanBy: in.ScanBy, MaxDatapoints: intOr(in.MaxDatapoints, 0), NextToken: in.NextToken}
	if in.MaxDatapoints != nil && *in.MaxDatapoints <= 0 {
		return nil, &jsonsvc.WireError{Code: "InvalidParameterValue", Message: "The parameter MaxDatapoints must be positive."}
	}
	for _, wq := range in.MetricDataQueries {
		dq := cwmetrics.DataQuery{ID: wq.ID, Label: wq.Label, ReturnData: wq.ReturnData, Expression: wq.Expression}
		if ms := wq.MetricStat; ms != nil {
			if ms.Metric == nil {
				return nil, missing("MetricDataQueries.member.MetricStat.Metric")
			}
			dq.MetricStat = &cwmetrics.MetricStat{Metric: cwmetrics.Metric{Namespace: ms.Metric.Namespace, MetricName: ms.Metric.MetricName, Dimensions: dims(ms.Metric.Dimensions)},
				Period: intOr(ms.Period, 0), Stat: ms.Stat, Unit: ms.Unit}
		}
		q.Queries = append(q.Queries, dq)
	}
	res, next, err := s.e.GetMetricData(c.AccountID, c.Region, q)
	if err != nil {
		return nil, err
	}
	out := &getMetricDataOutput{MetricDataResults: make([]wMetricDataResult, len(res)), NextToken: next}
	for i, r := range res {
		w := wMetricDataResult{ID: r.ID, Label: r.Label, Timestamps: make([]awsjson.Time, len(r.Timestamps)), Values: r.Values, StatusCode: r.StatusCode}
		for j, t := range r.Timestamps {
			w.Timestamps[j] = awsjson.Time{Time: t}
		}
		out.MetricDataResults[i] = w
	}
	return out, nil
}

func (s *service) putMetricAlarm(_ context.Context, c identity.Caller, in *putMetricAlarmInput) (*empty, error) {
	cfg := alarm.Config{AlarmName: in.AlarmName, AlarmDescription: in.AlarmDescription, ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions: in.OKActions, AlarmActions: in.AlarmActions, InsufficientDataActions: in.InsufficientDataActions,
		MetricName: in.MetricName, Namespace: in.Namespace, Dimensions: dims(in.Dimensions), Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Unit: in.Unit, Period: intOr(in.Period, 0), EvaluationPeriods: intOr(in.EvaluationPeriods, 0), DatapointsToAlarm: intOr(in.DatapointsToAlarm, 0),
		ComparisonOperator: in.ComparisonOperator, TreatMissingData: in.TreatMissingData, EvaluateLowSampleCountPercentile: in.EvaluateLowSampleCountPercentile,
		MetricMath: len(in.Metrics) > 0 || in.ThresholdMetricID != ""}
	if in.Threshold != nil {
		cfg.Threshold = *in.Threshold
	} else if !cfg.MetricMath {
		return nil, missing("Threshold")
	}
	tags := make([]cwmetrics.Tag, len(in.Tags))
	for i, t := range in.Tags {
		tags[i] = cwmetrics.Tag{Key: t.Key, Value: t.Value}
	}
	return nil, s.e.PutMetricAlarm(c.AccountID, c.Region, cfg, tags)
}

func wireAlarm(a cwmetrics.Alarm) wMetricAlarm {
	cfg := a.Config
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return wMetricAlarm{AlarmName: cfg.AlarmName, AlarmArn: a.ARN, AlarmDescription: cfg.AlarmDescription,
		AlarmConfigurationUpdatedTimestamp: awsjson.NewTime(a.ConfigUpdated), ActionsEnabled: cfg.ActionsEnabled,
		OKActions: nonNil(cfg.OKActions), AlarmActions: nonNil(cfg.AlarmActions), InsufficientDataActions: nonNil(cfg.InsufficientDataActions),
		StateValue: string(a.State), StateReason: a.StateReason, StateReasonData: a.StateReasonData, StateUpdatedTimestamp: awsjson.NewTime(a.StateUpdated),
		MetricName: cfg.MetricName, Namespace: cfg.Namespace, Statistic: cfg.Statistic, ExtendedStatistic: cfg.ExtendedStatistic,
		Dimensions: wdims(cfg.Dimensions), Period: cfg.Period, Unit: cfg.Unit, EvaluationPeriods: cfg.EvaluationPeriods, DatapointsToAlarm: cfg.DatapointsToAlarm,
		Threshold: cfg.Threshold, ComparisonOperator: cfg.ComparisonOperator, TreatMissingData: cfg.TreatMissingData,
		EvaluateLowSampleCountPercentile: cfg.EvaluateLowSampleCountPercentile, StateTransitionedTimestamp: awsjson.NewTime(a.StateTransitioned)}
}

func checkAlarmTypes(types []string) (metric bool, err error) {
	for _, t := range types {
		if t != "MetricAlarm" && t != "CompositeAlarm" {
			return false, &jsonsvc.WireError{Code: "InvalidParameterValue", Message: fmt.Sprintf("The value %s for parameter AlarmTypes is invalid (MetricAlarm, CompositeAlarm).", t)}
		}
	}
	return len(types) == 0 || slices.Contains(types, "MetricAlarm"), nil
}

func (s *service) describeAlarms(_ context.Context, c identity.Caller, in *describeAlarmsInput) (*describeAlarmsOutput, error) {
	out := &describeAlarmsOutput{MetricAlarms: []wMetricAlarm{}, CompositeAlarms: []struct{}{}}
	metric, err := checkAlarmTypes(in.AlarmTypes)
	if err != nil || !metric {
		return out, err
	}
	if in.MaxRecords != nil && *in.MaxRecords == 0 {
		return nil, &jsonsvc.WireError{Code: "InvalidParameterValue", Message: "The parameter MaxRecords must be between 1 and 100."}
	}
	as, next, err := s.e.DescribeAlarms(c.AccountID, c.Region, cwmetrics.DescribeInput{Names: in.AlarmNames, NamePrefix: in.AlarmNamePrefix,
		State: in.StateValue, ActionPrefix: in.ActionPrefix, MaxRecords: intOr(in.MaxRecords, 0), NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		out.MetricAlarms = append(out.MetricAlarms, wireAlarm(a))
	}
	out.NextToken = next
	return out, nil
}

func (s *service) describeAlarmsForMetric(_ context.Context, c identity.Caller, in *describeAlarmsForMetricInput) (*describeAlarmsForMetricOutput, error) {
	as, err := s.e.DescribeAlarmsForMetric(c.AccountID, c.Region, cwmetrics.ForMetricInput{Namespace: in.Namespace, MetricName: in.MetricName,
		Dimensions: dims(in.Dimensions), Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic, Period: intOr(in.Period, 0), Unit: in.Unit})
	if err != nil {
		return nil, err
	}
	out := &describeAlarmsForMetricOutput{MetricAlarms: []wMetricAlarm{}}
	for _, a := range as {
		out.MetricAlarms = append(out.MetricAlarms, wireAlarm(a))
	}
	return out, nil
}

func (s *service) deleteAlarms(_ context.Context, c identity.Caller, in *alarmNamesInput) (*empty, error) {
	return nil, s.e.DeleteAlarms(c.AccountID, c.Region, in.AlarmNames)
}

func (s *service) setAlarmState(_ context.Context, c identity.Caller, in *setAlarmStateInput) (*empty, error) {
	if in.StateValue == "" {
		return nil, missing("StateValue")
	}
	return nil, s.e.SetAlarmState(c.AccountID, c.Region, in.AlarmName, alarm.State(in.StateValue), in.StateReason, in.StateReasonData)
}

func (s *service) enableAlarmActions(_ context.Context, c identity.Caller, in *alarmNamesInput) (*empty, error) {
	return nil, s.e.SetActionsEnabled(c.AccountID, c.Region, in.AlarmNames, true)
}

func (s *service) disableAlarmActions(_ context.Context, c identity.Caller, in *alarmNamesInput) (*empty, error) {
	return nil, s.e.SetActionsEnabled(c.AccountID, c.Region, in.AlarmNames, false)
}

func (s *service) describeAlarmHistory(_ context.Context, c identity.Caller, in *describeAlarmHistoryInput) (*describeAlarmHistoryOutput, error) {
	out := &describeAlarmHistoryOutput{AlarmHistoryItems: []wHistoryItem{}}
	metric, err := checkAlarmTypes(in.AlarmTypes)
	if err != nil || !metric {
		return out, err
	}
	items, next, err := s.e.DescribeAlarmHistory(c.AccountID, c.Region, cwmetrics.HistoryInput{AlarmName: in.AlarmName, Type: in.HistoryItemType,
		StartDate: tm(in.StartDate), EndDate: tm(in.EndDate), ScanBy: in.ScanBy, MaxRecords: intOr(in.MaxRecords, 0), NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		out.AlarmHistoryItems = append(out.AlarmHistoryItems, wHistoryItem{AlarmName: it.AlarmName, AlarmType: "MetricAlarm",
			Timestamp: awsjson.NewTime(it.Timestamp), HistoryItemType: it.Type, HistorySummary: it.Summary, HistoryData: it.Data})
	}
	out.NextToken = next
	return out, nil
}
