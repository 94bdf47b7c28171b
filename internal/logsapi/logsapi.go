// Package logsapi serves the CloudWatch Logs API subset of alerts.md §1.4
// over JSON 1.1 (target prefix Logs_20140328, signing name logs) on top of
// a cwlogs.Engine. Members are lower camel case; times are milliseconds.
package logsapi

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/cwlogs"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// Service names of CloudWatch Logs.
const (
	TargetPrefix = "Logs_20140328"
	SigningName  = "logs"
	EventSource  = "logs.amazonaws.com"
)

// New returns the CloudWatch Logs handler.
func New(e *cwlogs.Engine, o jsonsvc.Options) (*jsonsvc.Handler, error) {
	s := &service{e: e}
	o.TargetPrefix, o.SigningName, o.EventSource = TargetPrefix, SigningName, EventSource
	o.ContentType = "application/x-amz-json-1.1"
	o.Errors = resolve
	data := func(body []byte) json.RawMessage { return withoutMembers(body, "logEvents", "logEventMessages") }
	o.Ops = map[string]jsonsvc.Op{
		"CreateLogGroup":        {Invoke: jsonsvc.Typed(s.createGroup)},
		"DeleteLogGroup":        {Invoke: jsonsvc.Typed(s.deleteGroup)},
		"DescribeLogGroups":     {ReadOnly: true, Invoke: jsonsvc.Typed(s.describeGroups)},
		"PutRetentionPolicy":    {Invoke: jsonsvc.Typed(s.putRetention)},
		"DeleteRetentionPolicy": {Invoke: jsonsvc.Typed(s.deleteRetention)},
		"CreateLogStream":       {Invoke: jsonsvc.Typed(s.createStream)},
		"DescribeLogStreams":    {ReadOnly: true, Invoke: jsonsvc.Typed(s.describeStreams)},
		"PutLogEvents":          {Data: true, Params: data, Invoke: jsonsvc.Typed(s.putLogEvents)},
		"GetLogEvents":          {ReadOnly: true, Data: true, Invoke: jsonsvc.Typed(s.getLogEvents)},
		"FilterLogEvents":       {ReadOnly: true, Data: true, Invoke: jsonsvc.Typed(s.filterLogEvents)},
		"PutMetricFilter":       {Invoke: jsonsvc.Typed(s.putMetricFilter)},
		"DescribeMetricFilters": {ReadOnly: true, Invoke: jsonsvc.Typed(s.describeMetricFilters)},
		"DeleteMetricFilter":    {Invoke: jsonsvc.Typed(s.deleteMetricFilter)},
		"TestMetricFilter":      {ReadOnly: true, Params: data, Invoke: jsonsvc.Typed(s.testMetricFilter)},
	}
	return jsonsvc.New(o)
}

// withoutMembers records a request without its bulky members.
func withoutMembers(body []byte, names ...string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return audit.Null
	}
	for _, n := range names {
		delete(m, n)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return audit.Null
	}
	return audit.LowerCamelMembers(b)
}

func resolve(err error) (*jsonsvc.WireError, bool) {
	var e *cwlogs.Error
	if !errors.As(err, &e) {
		return nil, false
	}
	code := map[error]string{
		cwlogs.ErrNotFound: "ResourceNotFoundException",
		cwlogs.ErrExists:   "ResourceAlreadyExistsException",
		cwlogs.ErrInvalid:  "InvalidParameterException",
		cwlogs.ErrLimit:    "LimitExceededException",
	}[e.Kind]
	return &jsonsvc.WireError{Code: code, Message: e.Msg}, true
}

type service struct{ e *cwlogs.Engine }

func scope(c identity.Caller) cwlogs.Scope {
	return cwlogs.Scope{Account: c.AccountID, Region: c.Region}
}

type groupIn struct {
	LogGroupName    string `json:"logGroupName"`
	RetentionInDays int    `json:"retentionInDays"`
}

func (s *service) createGroup(_ context.Context, c identity.Caller, in *groupIn) (*struct{}, error) {
	return nil, s.e.CreateGroup(scope(c), in.LogGroupName)
}

func (s *service) deleteGroup(_ context.Context, c identity.Caller, in *groupIn) (*struct{}, error) {
	return nil, s.e.DeleteGroup(scope(c), in.LogGroupName)
}

func (s *service) putRetention(_ context.Context, c identity.Caller, in *groupIn) (*struct{}, error) {
	if in.RetentionInDays == 0 {
		return nil, jsonsvc.Errorf("InvalidParameterException", "1 validation error detected: Value '0' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %v", cwlogs.RetentionDays)
	}
	return nil, s.e.SetRetention(scope(c), in.LogGroupName, in.RetentionInDays)
}

func (s *service) deleteRetention(_ context.Context, c identity.Caller, in *groupIn) (*struct{}, error) {
	return nil, s.e.SetRetention(scope(c), in.LogGroupName, 0)
}

type describeGroupsIn struct {
	LogGroupNamePrefix string `json:"logGroupNamePrefix"`
	NextToken          string `json:"nextToken"`
	Limit              *int   `json:"limit"`
}

type groupOut struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   *int   `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	LogGroupArn       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
}

func (s *service) describeGroups(_ context.Context, c identity.Caller, in *describeGroupsIn) (*struct {
	LogGroups []groupOut `json:"logGroups"`
	NextToken *string    `json:"nextToken,omitempty"`
}, error) {
	pg, next, err := jsonsvc.Page(s.e.Groups(scope(c), in.LogGroupNamePrefix), in.NextToken, in.Limit, 50, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	out := &struct {
		LogGroups []groupOut `json:"logGroups"`
		NextToken *string    `json:"nextToken,omitempty"`
	}{LogGroups: []groupOut{}, NextToken: next}
	for _, g := range pg {
		o := groupOut{LogGroupName: g.Name, CreationTime: g.Created, MetricFilterCount: len(g.MetricFilters), Arn: g.ARN(),
			LogGroupArn: cwlogs.GroupARN(g.Region, g.Account, g.Name), StoredBytes: g.StoredBytes, LogGroupClass: "STANDARD"}
		if g.RetentionInDays > 0 {
			o.RetentionInDays = &g.RetentionInDays
		}
		out.LogGroups = append(out.LogGroups, o)
	}
	return out, nil
}

type streamIn struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

func (s *service) createStream(_ context.Context, c identity.Caller, in *streamIn) (*struct{}, error) {
	return nil, s.e.CreateStream(scope(c), in.LogGroupName, in.LogStreamName)
}

type describeStreamsIn struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	NextToken           string `json:"nextToken"`
	Limit               *int   `json:"limit"`
}

type streamOut struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

// groupName accepts logGroupName or logGroupIdentifier (a name or ARN),
// not both.
func groupName(name, ident string) (string, error) {
	switch {
	case name != "" && ident != "":
		return "", jsonsvc.Errorf("InvalidParameterException", "LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case ident != "":
		if _, _, n, ok := cwlogs.ParseGroupARN(ident); ok {
			return n, nil
		}
		return ident, nil
	case name == "":
		return "", jsonsvc.Errorf("InvalidParameterException", "Should provide either name or ARN of the log group.")
	}
	return name, nil
}

func (s *service) describeStreams(_ context.Context, c identity.Caller, in *describeStreamsIn) (*struct {
	LogStreams []streamOut `json:"logStreams"`
	NextToken  *string     `json:"nextToken,omitempty"`
}, error) {
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.OrderBy == "LastEventTime" && in.LogStreamNamePrefix != "" {
		return nil, jsonsvc.Errorf("InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	streams, err := s.e.Streams(scope(c), name, in.LogStreamNamePrefix)
	if err != nil {
		return nil, err
	}
	if in.OrderBy == "LastEventTime" {
		sortByLastEvent(streams)
	}
	if in.Descending {
		for i, j := 0, len(streams)-1; i < j; i, j = i+1, j-1 {
			streams[i], streams[j] = streams[j], streams[i]
		}
	}
	pg, next, err := jsonsvc.Page(streams, in.NextToken, in.Limit, 50, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	out := &struct {
		LogStreams []streamOut `json:"logStreams"`
		NextToken  *string     `json:"nextToken,omitempty"`
	}{LogStreams: []streamOut{}, NextToken: next}
	for _, st := range pg {
		o := streamOut{LogStreamName: st.Name, CreationTime: st.Created, StoredBytes: st.StoredBytes,
			Arn: cwlogs.GroupARN(c.Region, c.AccountID, name) + ":log-stream:" + st.Name}
		if st.HasEvents {
			o.FirstEventTimestamp, o.LastEventTimestamp, o.LastIngestionTime = &st.FirstEventTimestamp, &st.LastEventTimestamp, &st.LastIngestionTime
		}
		out.LogStreams = append(out.LogStreams, o)
	}
	return out, nil
}

func sortByLastEvent(xs []cwlogs.StreamInfo) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j].LastEventTimestamp < xs[j-1].LastEventTimestamp; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

type putEventsIn struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
	LogEvents     []struct {
		Timestamp *int64  `json:"timestamp"`
		Message   *string `json:"message"`
	} `json:"logEvents"`
	SequenceToken string `json:"sequenceToken"`
}

type rejectedOut struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

func idx(i int) *int {
	if i < 0 {
		return nil
	}
	return &i
}

func (s *service) putLogEvents(_ context.Context, c identity.Caller, in *putEventsIn) (*struct {
	RejectedLogEventsInfo *rejectedOut `json:"rejectedLogEventsInfo,omitempty"`
}, error) {
	evs := make([]cwlogs.InputEvent, len(in.LogEvents))
	for i, ev := range in.LogEvents {
		if ev.Timestamp == nil || ev.Message == nil {
			return nil, jsonsvc.Errorf("InvalidParameterException", "1 validation error detected: logEvents.%d.member.timestamp and message are required.", i+1)
		}
		if *ev.Message == "" {
			return nil, jsonsvc.Errorf("InvalidParameterException", "1 validation error detected: Value at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		evs[i] = cwlogs.InputEvent{Timestamp: *ev.Timestamp, Message: *ev.Message}
	}
	rej, err := s.e.PutLogEvents(scope(c), in.LogGroupName, in.LogStreamName, evs)
	if err != nil {
		return nil, err
	}
	out := &struct {
		RejectedLogEventsInfo *rejectedOut `json:"rejectedLogEventsInfo,omitempty"`
	}{}
	if rej.TooNewStart >= 0 || rej.TooOldEnd >= 0 || rej.ExpiredEnd >= 0 {
		out.RejectedLogEventsInfo = &rejectedOut{idx(rej.TooNewStart), idx(rej.TooOldEnd), idx(rej.ExpiredEnd)}
	}
	return out, nil
}

type getEventsIn struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime"`
	EndTime            *int64 `json:"endTime"`
	NextToken          string `json:"nextToken"`
	Limit              int    `json:"limit"`
	StartFromHead      bool   `json:"startFromHead"`
}

type outEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

func (s *service) getLogEvents(_ context.Context, c identity.Caller, in *getEventsIn) (*struct {
	Events            []outEvent `json:"events"`
	NextForwardToken  string     `json:"nextForwardToken"`
	NextBackwardToken string     `json:"nextBackwardToken"`
}, error) {
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.Limit < 0 || in.Limit > 10000 {
		return nil, jsonsvc.Errorf("InvalidParameterException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", in.Limit)
	}
	res, err := s.e.GetLogEvents(scope(c), cwlogs.GetQuery{Group: name, Stream: in.LogStreamName, Start: in.StartTime, End: in.EndTime,
		Token: in.NextToken, Limit: in.Limit, StartFromHead: in.StartFromHead})
	if err != nil {
		return nil, err
	}
	out := &struct {
		Events            []outEvent `json:"events"`
		NextForwardToken  string     `json:"nextForwardToken"`
		NextBackwardToken string     `json:"nextBackwardToken"`
	}{Events: make([]outEvent, len(res.Events)), NextForwardToken: res.ForwardToken, NextBackwardToken: res.BackToken}
	for i, ev := range res.Events {
		out.Events[i] = outEvent{ev.Timestamp, ev.Message, ev.Ingestion}
	}
	return out, nil
}

type filterIn struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

func (s *service) filterLogEvents(_ context.Context, c identity.Caller, in *filterIn) (*struct {
	Events             []filteredEvent `json:"events"`
	SearchedLogStreams []struct{}      `json:"searchedLogStreams"`
	NextToken          *string         `json:"nextToken,omitempty"`
}, error) {
	name, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.Limit < 0 || in.Limit > 10000 {
		return nil, jsonsvc.Errorf("InvalidParameterException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", in.Limit)
	}
	evs, token, err := s.e.FilterLogEvents(scope(c), cwlogs.FilterQuery{Group: name, Streams: in.LogStreamNames, StreamPrefix: in.LogStreamNamePrefix,
		Start: in.StartTime, End: in.EndTime, Pattern: in.FilterPattern, Token: in.NextToken, Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	out := &struct {
		Events             []filteredEvent `json:"events"`
		SearchedLogStreams []struct{}      `json:"searchedLogStreams"`
		NextToken          *string         `json:"nextToken,omitempty"`
	}{Events: make([]filteredEvent, len(evs)), SearchedLogStreams: []struct{}{}}
	for i, ev := range evs {
		out.Events[i] = filteredEvent{ev.Stream, ev.Timestamp, ev.Message, ev.Ingestion, ev.EventID}
	}
	if token != "" {
		out.NextToken = &token
	}
	return out, nil
}

type putFilterIn struct {
	LogGroupName          string                        `json:"logGroupName"`
	FilterName            string                        `json:"filterName"`
	FilterPattern         *string                       `json:"filterPattern"`
	MetricTransformations []cwlogs.MetricTransformation `json:"metricTransformations"`
}

func (s *service) putMetricFilter(_ context.Context, c identity.Caller, in *putFilterIn) (*struct{}, error) {
	if in.FilterPattern == nil {
		return nil, jsonsvc.Errorf("InvalidParameterException", "1 validation error detected: Value null at 'filterPattern' failed to satisfy constraint: Member must not be null")
	}
	return nil, s.e.PutMetricFilter(scope(c), in.LogGroupName, cwlogs.MetricFilter{FilterName: in.FilterName, FilterPattern: *in.FilterPattern,
		MetricTransformations: in.MetricTransformations})
}

type describeFiltersIn struct {
	LogGroupName     string `json:"logGroupName"`
	FilterNamePrefix string `json:"filterNamePrefix"`
	MetricName       string `json:"metricName"`
	MetricNamespace  string `json:"metricNamespace"`
	NextToken        string `json:"nextToken"`
	Limit            *int   `json:"limit"`
}

type filterOut struct {
	FilterName            string                        `json:"filterName"`
	FilterPattern         string                        `json:"filterPattern"`
	MetricTransformations []cwlogs.MetricTransformation `json:"metricTransformations"`
	CreationTime          int64                         `json:"creationTime"`
	LogGroupName          string                        `json:"logGroupName"`
}

func (s *service) describeMetricFilters(_ context.Context, c identity.Caller, in *describeFiltersIn) (*struct {
	MetricFilters []filterOut `json:"metricFilters"`
	NextToken     *string     `json:"nextToken,omitempty"`
}, error) {
	if (in.MetricName == "") != (in.MetricNamespace == "") {
		return nil, jsonsvc.Errorf("InvalidParameterException", "metricName and metricNamespace must be given together.")
	}
	fs, err := s.e.MetricFilters(scope(c), in.LogGroupName, in.FilterNamePrefix, in.MetricName, in.MetricNamespace)
	if err != nil {
		return nil, err
	}
	pg, next, err := jsonsvc.Page(fs, in.NextToken, in.Limit, 50, "InvalidParameterException")
	if err != nil {
		return nil, err
	}
	out := &struct {
		MetricFilters []filterOut `json:"metricFilters"`
		NextToken     *string     `json:"nextToken,omitempty"`
	}{MetricFilters: []filterOut{}, NextToken: next}
	for _, f := range pg {
		out.MetricFilters = append(out.MetricFilters, filterOut{f.FilterName, f.FilterPattern, f.MetricTransformations, f.CreationTime, f.LogGroupName})
	}
	return out, nil
}

type deleteFilterIn struct {
	LogGroupName string `json:"logGroupName"`
	FilterName   string `json:"filterName"`
}

func (s *service) deleteMetricFilter(_ context.Context, c identity.Caller, in *deleteFilterIn) (*struct{}, error) {
	return nil, s.e.DeleteMetricFilter(scope(c), in.LogGroupName, in.FilterName)
}

type testFilterIn struct {
	FilterPattern    string   `json:"filterPattern"`
	LogEventMessages []string `json:"logEventMessages"`
}

type matchOut struct {
	EventNumber     int               `json:"eventNumber"`
	EventMessage    string            `json:"eventMessage"`
	ExtractedValues map[string]string `json:"extractedValues"`
}

func (s *service) testMetricFilter(_ context.Context, _ identity.Caller, in *testFilterIn) (*struct {
	Matches []matchOut `json:"matches"`
}, error) {
	ms, err := cwlogs.TestMetricFilter(in.FilterPattern, in.LogEventMessages)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Matches []matchOut `json:"matches"`
	}{Matches: []matchOut{}}
	for _, m := range ms {
		out.Matches = append(out.Matches, matchOut{m.EventNumber, m.EventMessage, m.ExtractedValues})
	}
	return out, nil
}
