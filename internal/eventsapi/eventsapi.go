// Package eventsapi serves the EventBridge API subset of alerts.md §1.4
// (rules, targets, TestEventPattern, PutEvents, connections and API
// destinations) over JSON 1.1 with target prefix AWSEvents and signing
// name events, on top of an eventbus.Engine.
package eventsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/eventbus"
	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// Service names of EventBridge.
const (
	TargetPrefix = "AWSEvents"
	SigningName  = "events"
	EventSource  = "events.amazonaws.com"
)

// New returns the EventBridge handler.
func New(e *eventbus.Engine, o jsonsvc.Options) (*jsonsvc.Handler, error) {
	s := &service{e: e}
	o.TargetPrefix, o.SigningName, o.EventSource = TargetPrefix, SigningName, EventSource
	o.ContentType = "application/x-amz-json-1.1"
	o.Errors = resolve
	o.Ops = map[string]jsonsvc.Op{
		"PutRule":                {Invoke: jsonsvc.Typed(s.putRule)},
		"DescribeRule":           {ReadOnly: true, Invoke: jsonsvc.Typed(s.describeRule)},
		"ListRules":              {ReadOnly: true, Invoke: jsonsvc.Typed(s.listRules)},
		"DeleteRule":             {Invoke: jsonsvc.Typed(s.deleteRule)},
		"EnableRule":             {Invoke: jsonsvc.Typed(s.enableRule)},
		"DisableRule":            {Invoke: jsonsvc.Typed(s.disableRule)},
		"PutTargets":             {Invoke: jsonsvc.Typed(s.putTargets)},
		"RemoveTargets":          {Invoke: jsonsvc.Typed(s.removeTargets)},
		"ListTargetsByRule":      {ReadOnly: true, Invoke: jsonsvc.Typed(s.listTargets)},
		"ListRuleNamesByTarget":  {ReadOnly: true, Invoke: jsonsvc.Typed(s.ruleNamesByTarget)},
		"TestEventPattern":       {ReadOnly: true, Invoke: jsonsvc.Typed(s.testEventPattern)},
		"PutEvents":              {Invoke: jsonsvc.Typed(s.putEvents)},
		"CreateConnection":       {Invoke: jsonsvc.Typed(s.createConnection)},
		"DescribeConnection":     {ReadOnly: true, Invoke: jsonsvc.Typed(s.describeConnection)},
		"UpdateConnection":       {Invoke: jsonsvc.Typed(s.updateConnection)},
		"DeleteConnection":       {Invoke: jsonsvc.Typed(s.deleteConnection)},
		"DeauthorizeConnection":  {Invoke: jsonsvc.Typed(s.deauthorizeConnection)},
		"ListConnections":        {ReadOnly: true, Invoke: jsonsvc.Typed(s.listConnections)},
		"CreateApiDestination":   {Invoke: jsonsvc.Typed(s.createDestination)},
		"DescribeApiDestination": {ReadOnly: true, Invoke: jsonsvc.Typed(s.describeDestination)},
		"UpdateApiDestination":   {Invoke: jsonsvc.Typed(s.updateDestination)},
		"DeleteApiDestination":   {Invoke: jsonsvc.Typed(s.deleteDestination)},
		"ListApiDestinations":    {ReadOnly: true, Invoke: jsonsvc.Typed(s.listDestinations)},
	}
	return jsonsvc.New(o)
}

// resolve maps the engine's errors to EventBridge's exceptions.
func resolve(err error) (*jsonsvc.WireError, bool) {
	var e *eventbus.Error
	if !errors.As(err, &e) {
		var pe *eventpattern.Error
		if errors.As(err, &pe) {
			return &jsonsvc.WireError{Code: "InvalidEventPatternException", Message: "Event pattern is not valid. Reason: " + pe.Error()}, true
		}
		return nil, false
	}
	code := map[error]string{
		eventbus.ErrNotFound:   "ResourceNotFoundException",
		eventbus.ErrExists:     "ResourceAlreadyExistsException",
		eventbus.ErrLimit:      "LimitExceededException",
		eventbus.ErrInvalid:    "ValidationException",
		eventbus.ErrBadPattern: "InvalidEventPatternException",
	}[e.Kind]
	msg := e.Msg
	if e.Kind == eventbus.ErrBadPattern {
		msg = "Event pattern is not valid. Reason: " + msg
	}
	return &jsonsvc.WireError{Code: code, Message: msg}, true
}

type service struct{ e *eventbus.Engine }

func scope(c identity.Caller) eventbus.Scope {
	return eventbus.Scope{Account: c.AccountID, Region: c.Region}
}

type putRuleIn struct {
	Name, ScheduleExpression, EventPattern, State, Description, RoleArn, EventBusName string
	Tags                                                                              []struct{ Key, Value string }
}

type ruleOut struct {
	Name         string  `json:"Name"`
	Arn          string  `json:"Arn"`
	EventPattern *string `json:"EventPattern,omitempty"`
	State        string  `json:"State"`
	Description  *string `json:"Description,omitempty"`
	RoleArn      *string `json:"RoleArn,omitempty"`
	EventBusName string  `json:"EventBusName"`
	CreatedBy    string  `json:"CreatedBy,omitempty"`
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toRuleOut(r eventbus.Rule, describe bool) ruleOut {
	o := ruleOut{Name: r.Name, Arn: r.ARN(), EventPattern: opt(r.EventPattern), State: r.State, Description: opt(r.Description),
		RoleArn: opt(r.RoleARN), EventBusName: eventbus.DefaultBus}
	if describe {
		o.CreatedBy = r.CreatedBy
	}
	return o
}

func (s *service) putRule(_ context.Context, c identity.Caller, in *putRuleIn) (*struct{ RuleArn string }, error) {
	arn, err := s.e.PutRule(scope(c), eventbus.PutRuleInput{Name: in.Name, Bus: in.EventBusName, EventPattern: in.EventPattern,
		State: in.State, Description: in.Description, RoleARN: in.RoleArn, ScheduleExpression: in.ScheduleExpression})
	if err != nil {
		return nil, err
	}
	return &struct{ RuleArn string }{arn}, nil
}

type ruleRef struct {
	Name, EventBusName string
	Force              bool
}

func (s *service) describeRule(_ context.Context, c identity.Caller, in *ruleRef) (*ruleOut, error) {
	r, err := s.e.Rule(scope(c), in.EventBusName, in.Name)
	if err != nil {
		return nil, err
	}
	o := toRuleOut(r, true)
	return &o, nil
}

type listRulesIn struct {
	NamePrefix, EventBusName, NextToken string
	Limit                               *int
}

type listRulesOut struct {
	Rules     []ruleOut `json:"Rules"`
	NextToken *string   `json:"NextToken,omitempty"`
}

func (s *service) listRules(_ context.Context, c identity.Caller, in *listRulesIn) (*listRulesOut, error) {
	rules, err := s.e.Rules(scope(c), in.EventBusName, in.NamePrefix)
	if err != nil {
		return nil, err
	}
	pg, next, err := jsonsvc.Page(rules, in.NextToken, in.Limit, 100, "ValidationException")
	if err != nil {
		return nil, err
	}
	out := &listRulesOut{Rules: []ruleOut{}, NextToken: next}
	for _, r := range pg {
		out.Rules = append(out.Rules, toRuleOut(r, false))
	}
	return out, nil
}

func (s *service) deleteRule(_ context.Context, c identity.Caller, in *ruleRef) (*struct{}, error) {
	return nil, s.e.DeleteRule(scope(c), in.EventBusName, in.Name, in.Force)
}

func (s *service) enableRule(_ context.Context, c identity.Caller, in *ruleRef) (*struct{}, error) {
	return nil, s.e.SetRuleState(scope(c), in.EventBusName, in.Name, true)
}

func (s *service) disableRule(_ context.Context, c identity.Caller, in *ruleRef) (*struct{}, error) {
	return nil, s.e.SetRuleState(scope(c), in.EventBusName, in.Name, false)
}

type putTargetsIn struct {
	Rule, EventBusName string
	Targets            []eventbus.Target
}

type failedEntry struct {
	TargetId, ErrorCode, ErrorMessage string
}

type targetsResult struct {
	FailedEntryCount int           `json:"FailedEntryCount"`
	FailedEntries    []failedEntry `json:"FailedEntries"`
}

func toResult(fs []eventbus.TargetFailure) *targetsResult {
	out := &targetsResult{FailedEntryCount: len(fs), FailedEntries: []failedEntry{}}
	for _, f := range fs {
		out.FailedEntries = append(out.FailedEntries, failedEntry{f.TargetID, f.Code, f.Message})
	}
	return out
}

func (s *service) putTargets(_ context.Context, c identity.Caller, in *putTargetsIn) (*targetsResult, error) {
	fs, err := s.e.PutTargets(scope(c), in.EventBusName, in.Rule, in.Targets)
	if err != nil {
		return nil, err
	}
	return toResult(fs), nil
}

type removeTargetsIn struct {
	Rule, EventBusName string
	Ids                []string
	Force              bool
}

func (s *service) removeTargets(_ context.Context, c identity.Caller, in *removeTargetsIn) (*targetsResult, error) {
	fs, err := s.e.RemoveTargets(scope(c), in.EventBusName, in.Rule, in.Ids)
	if err != nil {
		return nil, err
	}
	return toResult(fs), nil
}

type listTargetsIn struct {
	Rule, EventBusName, NextToken string
	Limit                         *int
}

type listTargetsOut struct {
	Targets   []eventbus.Target `json:"Targets"`
	NextToken *string           `json:"NextToken,omitempty"`
}

func (s *service) listTargets(_ context.Context, c identity.Caller, in *listTargetsIn) (*listTargetsOut, error) {
	r, err := s.e.Rule(scope(c), in.EventBusName, in.Rule)
	if err != nil {
		return nil, err
	}
	pg, next, err := jsonsvc.Page(r.Targets, in.NextToken, in.Limit, 100, "ValidationException")
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []eventbus.Target{}
	}
	return &listTargetsOut{Targets: pg, NextToken: next}, nil
}

type byTargetIn struct {
	TargetArn, EventBusName, NextToken string
	Limit                              *int
}

type byTargetOut struct {
	RuleNames []string `json:"RuleNames"`
	NextToken *string  `json:"NextToken,omitempty"`
}

func (s *service) ruleNamesByTarget(_ context.Context, c identity.Caller, in *byTargetIn) (*byTargetOut, error) {
	names, err := s.e.RuleNamesByTarget(scope(c), in.EventBusName, in.TargetArn)
	if err != nil {
		return nil, err
	}
	pg, next, err := jsonsvc.Page(names, in.NextToken, in.Limit, 100, "ValidationException")
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []string{}
	}
	return &byTargetOut{RuleNames: pg, NextToken: next}, nil
}

type testIn struct{ EventPattern, Event string }

// testEventPattern matches one event against one pattern; the event must
// have the envelope fields the model requires.
func (s *service) testEventPattern(_ context.Context, _ identity.Caller, in *testIn) (*struct{ Result bool }, error) {
	p, err := eventpattern.Parse([]byte(in.EventPattern))
	if err != nil {
		return nil, err
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal([]byte(in.Event), &env); err != nil {
		return nil, jsonsvc.Errorf("ValidationException", "Parameter Event is not valid. Reason: the event is not a JSON object.")
	}
	for _, f := range []string{"id", "account", "source", "time", "region", "detail-type"} {
		if _, ok := env[f]; !ok {
			return nil, jsonsvc.Errorf("ValidationException", "Parameter Event is not valid. Reason: Provided Event is missing required field %s.", f)
		}
	}
	ok, err := p.Match([]byte(in.Event))
	if err != nil {
		return nil, jsonsvc.Errorf("ValidationException", "Parameter Event is not valid. Reason: %v", err)
	}
	return &struct{ Result bool }{ok}, nil
}

type putEventsIn struct {
	Entries []struct {
		Time                                     *awsjson.Time
		Source, DetailType, Detail, EventBusName string
		Resources                                []string
	}
	EndpointId string
}

type putEventsOut struct {
	FailedEntryCount int              `json:"FailedEntryCount"`
	Entries          []putEventResult `json:"Entries"`
}

type putEventResult struct {
	EventId      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func (s *service) putEvents(_ context.Context, c identity.Caller, in *putEventsIn) (*putEventsOut, error) {
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, jsonsvc.Errorf("ValidationException", "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	entries := make([]eventbus.PutEntry, len(in.Entries))
	bad := make([]error, len(in.Entries))
	for i, en := range in.Entries {
		entries[i] = eventbus.PutEntry{Source: en.Source, DetailType: en.DetailType, Detail: en.Detail, Resources: en.Resources}
		if en.Time != nil {
			entries[i].Time = en.Time.Time
		}
		bad[i] = eventbus.CheckBus(scope(c), en.EventBusName)
	}
	res, err := s.e.PutEvents(scope(c), entries)
	if err != nil {
		return nil, err
	}
	out := &putEventsOut{Entries: make([]putEventResult, len(res))}
	for i, r := range res {
		if bad[i] != nil {
			r = eventbus.PutResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: bad[i].Error()}
		}
		out.Entries[i] = putEventResult{r.EventID, r.ErrorCode, r.ErrorMessage}
		if r.ErrorCode != "" {
			out.FailedEntryCount++
		}
	}
	return out, nil
}

// Connections.

type connIn struct {
	Name, Description, AuthorizationType string
	AuthParameters                       eventbus.AuthParams
}

type connStateOut struct {
	ConnectionArn      string        `json:"ConnectionArn"`
	ConnectionState    string        `json:"ConnectionState"`
	CreationTime       awsjson.Time  `json:"CreationTime"`
	LastModifiedTime   awsjson.Time  `json:"LastModifiedTime"`
	LastAuthorizedTime *awsjson.Time `json:"LastAuthorizedTime,omitempty"`
}

func stateOf(c eventbus.Connection) *connStateOut {
	o := &connStateOut{ConnectionArn: c.ARN(), ConnectionState: c.State, CreationTime: awsjson.Time{Time: c.Created},
		LastModifiedTime: awsjson.Time{Time: c.Modified}}
	if !c.Authorized.IsZero() {
		o.LastAuthorizedTime = awsjson.NewTime(c.Authorized)
	}
	return o
}

func (s *service) createConnection(_ context.Context, c identity.Caller, in *connIn) (*connStateOut, error) {
	conn, err := s.e.CreateConnection(scope(c), eventbus.Connection{Name: in.Name, Description: in.Description,
		AuthorizationType: in.AuthorizationType, Auth: in.AuthParameters})
	if err != nil {
		return nil, err
	}
	return stateOf(conn), nil
}

func (s *service) updateConnection(_ context.Context, c identity.Caller, in *connIn) (*connStateOut, error) {
	conn, err := s.e.UpdateConnection(scope(c), in.Name, eventbus.Connection{Description: in.Description,
		AuthorizationType: in.AuthorizationType, Auth: in.AuthParameters})
	if err != nil {
		return nil, err
	}
	return stateOf(conn), nil
}

type nameIn struct{ Name string }

func (s *service) deleteConnection(_ context.Context, c identity.Caller, in *nameIn) (*connStateOut, error) {
	conn, err := s.e.DeleteConnection(scope(c), in.Name)
	if err != nil {
		return nil, err
	}
	return stateOf(conn), nil
}

func (s *service) deauthorizeConnection(_ context.Context, c identity.Caller, in *nameIn) (*connStateOut, error) {
	conn, err := s.e.DeauthorizeConnection(scope(c), in.Name)
	if err != nil {
		return nil, err
	}
	return stateOf(conn), nil
}

type connOut struct {
	connStateOut
	Name              string               `json:"Name"`
	Description       *string              `json:"Description,omitempty"`
	AuthorizationType string               `json:"AuthorizationType"`
	StateReason       *string              `json:"StateReason,omitempty"`
	AuthParameters    *eventbus.AuthParams `json:"AuthParameters,omitempty"`
}

// redact drops every secret from a connection's parameters.
func redact(a eventbus.AuthParams) *eventbus.AuthParams {
	var out eventbus.AuthParams
	if a.APIKey != nil {
		out.APIKey = &eventbus.APIKeyAuth{APIKeyName: a.APIKey.APIKeyName}
	}
	if a.Basic != nil {
		out.Basic = &eventbus.BasicAuth{Username: a.Basic.Username}
	}
	if o := a.OAuth; o != nil {
		out.OAuth = &eventbus.OAuth{AuthorizationEndpoint: o.AuthorizationEndpoint, HTTPMethod: o.HTTPMethod, OAuthHTTPParameters: redactParams(o.OAuthHTTPParameters)}
		if o.ClientParameters != nil {
			out.OAuth.ClientParameters = &eventbus.OAuthClient{ClientID: o.ClientParameters.ClientID}
		}
	}
	out.Invocation = redactParams(a.Invocation)
	return &out
}

func redactParams(p *eventbus.ConnHTTPParams) *eventbus.ConnHTTPParams {
	if p == nil {
		return nil
	}
	hide := func(ps []eventbus.ConnParam) []eventbus.ConnParam {
		var out []eventbus.ConnParam
		for _, x := range ps {
			if x.IsValueSecret {
				x.Value = ""
			}
			out = append(out, x)
		}
		return out
	}
	return &eventbus.ConnHTTPParams{HeaderParameters: hide(p.HeaderParameters), QueryStringParameters: hide(p.QueryStringParameters), BodyParameters: hide(p.BodyParameters)}
}

func toConnOut(c eventbus.Connection, full bool) connOut {
	o := connOut{connStateOut: *stateOf(c), Name: c.Name, AuthorizationType: c.AuthorizationType, StateReason: opt(c.StateReason)}
	if full {
		o.Description = opt(c.Description)
		o.AuthParameters = redact(c.Auth)
	}
	return o
}

func (s *service) describeConnection(_ context.Context, c identity.Caller, in *nameIn) (*connOut, error) {
	conn, err := s.e.Connection(scope(c), in.Name)
	if err != nil {
		return nil, err
	}
	o := toConnOut(conn, true)
	return &o, nil
}

type listConnIn struct {
	NamePrefix, ConnectionState, NextToken string
	Limit                                  *int
}

type listConnOut struct {
	Connections []connOut `json:"Connections"`
	NextToken   *string   `json:"NextToken,omitempty"`
}

func (s *service) listConnections(_ context.Context, c identity.Caller, in *listConnIn) (*listConnOut, error) {
	pg, next, err := jsonsvc.Page(s.e.Connections(scope(c), in.NamePrefix, in.ConnectionState), in.NextToken, in.Limit, 100, "ValidationException")
	if err != nil {
		return nil, err
	}
	out := &listConnOut{Connections: []connOut{}, NextToken: next}
	for _, x := range pg {
		out.Connections = append(out.Connections, toConnOut(x, false))
	}
	return out, nil
}

// API destinations.

type destIn struct {
	Name, Description, ConnectionArn, InvocationEndpoint, HttpMethod string
	InvocationRateLimitPerSecond                                     int
}

type destStateOut struct {
	ApiDestinationArn   string       `json:"ApiDestinationArn"`
	ApiDestinationState string       `json:"ApiDestinationState"`
	CreationTime        awsjson.Time `json:"CreationTime"`
	LastModifiedTime    awsjson.Time `json:"LastModifiedTime"`
}

type destOut struct {
	destStateOut
	Name                         string  `json:"Name"`
	Description                  *string `json:"Description,omitempty"`
	ConnectionArn                string  `json:"ConnectionArn"`
	InvocationEndpoint           string  `json:"InvocationEndpoint"`
	HttpMethod                   string  `json:"HttpMethod"`
	InvocationRateLimitPerSecond int     `json:"InvocationRateLimitPerSecond"`
}

func toDestOut(d eventbus.APIDestination) destOut {
	return destOut{destStateOut: destStateOut{d.ARN(), d.State, awsjson.Time{Time: d.Created}, awsjson.Time{Time: d.Modified}},
		Name: d.Name, Description: opt(d.Description), ConnectionArn: d.ConnectionARN, InvocationEndpoint: d.Endpoint,
		HttpMethod: d.Method, InvocationRateLimitPerSecond: d.RateLimit}
}

func fromDestIn(in *destIn) eventbus.APIDestination {
	return eventbus.APIDestination{Name: in.Name, Description: in.Description, ConnectionARN: in.ConnectionArn,
		Endpoint: in.InvocationEndpoint, Method: in.HttpMethod, RateLimit: in.InvocationRateLimitPerSecond}
}

func (s *service) createDestination(_ context.Context, c identity.Caller, in *destIn) (*destStateOut, error) {
	d, err := s.e.CreateAPIDestination(scope(c), fromDestIn(in))
	if err != nil {
		return nil, err
	}
	o := toDestOut(d).destStateOut
	return &o, nil
}

func (s *service) updateDestination(_ context.Context, c identity.Caller, in *destIn) (*destStateOut, error) {
	d, err := s.e.UpdateAPIDestination(scope(c), in.Name, fromDestIn(in))
	if err != nil {
		return nil, err
	}
	o := toDestOut(d).destStateOut
	return &o, nil
}

func (s *service) describeDestination(_ context.Context, c identity.Caller, in *nameIn) (*destOut, error) {
	d, err := s.e.APIDestination(scope(c), in.Name)
	if err != nil {
		return nil, err
	}
	o := toDestOut(d)
	return &o, nil
}

func (s *service) deleteDestination(_ context.Context, c identity.Caller, in *nameIn) (*struct{}, error) {
	return nil, s.e.DeleteAPIDestination(scope(c), in.Name)
}

type listDestIn struct {
	NamePrefix, ConnectionArn, NextToken string
	Limit                                *int
}

type listDestOut struct {
	ApiDestinations []destOut `json:"ApiDestinations"`
	NextToken       *string   `json:"NextToken,omitempty"`
}

func (s *service) listDestinations(_ context.Context, c identity.Caller, in *listDestIn) (*listDestOut, error) {
	pg, next, err := jsonsvc.Page(s.e.APIDestinations(scope(c), in.NamePrefix, in.ConnectionArn), in.NextToken, in.Limit, 100, "ValidationException")
	if err != nil {
		return nil, err
	}
	out := &listDestOut{ApiDestinations: []destOut{}, NextToken: next}
	for _, d := range pg {
		out.ApiDestinations = append(out.ApiDestinations, toDestOut(d))
	}
	return out, nil
}

var _ http.Handler = (*jsonsvc.Handler)(nil)
