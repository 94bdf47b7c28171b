package api

import (
	"context"
	"regexp"
	"strings"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake/dashboards"
)

// CloudTrail Lake dashboards (lake.md §9): CreateDashboard, GetDashboard,
// ListDashboards, UpdateDashboard, DeleteDashboard, StartDashboardRefresh,
// and tags on dashboards. The operations declare no
// InvalidParameterException: a member that breaks the model's
// constraints is a ValidationException (protocol.md §2.5, rule 4); a widget
// query the Lake refuses is InvalidQueryStatementException.

// Dashboards is CloudTrail Lake's dashboards as the API uses them (a
// *dashboards.Engine). Errors wrap the dashboards and queries packages'
// sentinels.
type Dashboards interface {
	Create(ctx context.Context, d dashboards.Dashboard) (dashboards.Dashboard, error)
	Get(account, region, name string) (dashboards.Dashboard, error)
	List(account, region string) []dashboards.Dashboard
	Update(ctx context.Context, account, region, name string, u dashboards.Update) (dashboards.Dashboard, error)
	UpdateTags(account, region, name string, fn func(arn string, tags *[]catalog.Tag) error) (dashboards.Dashboard, error)
	Delete(account, region, name string) error
	Refresh(ctx context.Context, account, region, name string, values map[string]string) (string, error)
}

var (
	dashboardNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_\-]{3,128}$`)
	viewKeyPattern       = regexp.MustCompile(`^[a-zA-Z0-9._\-]{3,128}$`)
	viewValuePattern     = regexp.MustCompile(`^[a-zA-Z0-9._\- ]{1,128}$`)
	paramKeyPattern      = regexp.MustCompile(`^[a-zA-Z0-9._/\-:$]{3,128}$`)
	paramValuePattern    = regexp.MustCompile(`^[a-zA-Z0-9._/\-:]{1,128}$`)
)

type frequencyWire struct {
	Unit  *string `json:"Unit,omitempty"`
	Value *int32  `json:"Value,omitempty"`
}

type refreshScheduleWire struct {
	Frequency *frequencyWire `json:"Frequency,omitempty"`
	Status    *string        `json:"Status,omitempty"`
	TimeOfDay *string        `json:"TimeOfDay,omitempty"`
}

type requestWidget struct {
	QueryStatement  *string           `json:"QueryStatement"`
	QueryParameters []string          `json:"QueryParameters"`
	ViewProperties  map[string]string `json:"ViewProperties"`
}

type widgetOut struct {
	QueryAlias      string            `json:"QueryAlias"`
	QueryStatement  string            `json:"QueryStatement"`
	QueryParameters []string          `json:"QueryParameters,omitempty"`
	ViewProperties  map[string]string `json:"ViewProperties"`
}

// checkSchedule converts a RefreshSchedule; managed requires the
// Highlights dashboard's (HOURS, 6; ENABLED when enabled is set).
func checkSchedule(in *refreshScheduleWire, managed, enabled bool) (*dashboards.Schedule, error) {
	if in == nil {
		if managed && enabled {
			return nil, invalid(codeValidation, "The Highlights dashboard needs a RefreshSchedule: Frequency {Unit HOURS, Value 6}, Status ENABLED.")
		}
		return nil, nil
	}
	s := dashboards.Schedule{Unit: dashboards.Hours, Value: 6, Status: dashboards.Enabled}
	if in.Frequency != nil {
		if in.Frequency.Unit == nil || in.Frequency.Value == nil {
			return nil, invalid(codeValidation, "RefreshSchedule.Frequency needs both Unit (HOURS or DAYS) and Value.")
		}
		s.Unit, s.Value = *in.Frequency.Unit, int(*in.Frequency.Value)
	} else if !managed {
		return nil, invalid(codeValidation, "RefreshSchedule.Frequency is required: give Unit (HOURS or DAYS) and Value.")
	}
	if in.Status != nil {
		s.Status = *in.Status
	}
	if in.TimeOfDay != nil {
		s.TimeOfDay = *in.TimeOfDay
	}
	if err := dashboards.CheckSchedule(s); err != nil {
		msg := err.Error()
		return nil, invalid(codeValidation, "%s.", strings.ToUpper(msg[:1])+msg[1:])
	}
	if managed && (s.Unit != dashboards.Hours || s.Value != 6) {
		return nil, invalid(codeValidation, "The Highlights dashboard is refreshed every 6 hours: its RefreshSchedule's Frequency must be Unit HOURS, Value 6.")
	}
	if managed && enabled && s.Status != dashboards.Enabled {
		return nil, invalid(codeValidation, "The Highlights dashboard needs its RefreshSchedule's Status ENABLED.")
	}
	return &s, nil
}

// checkWidgets converts RequestWidgets; the query itself is the engine's
// to check.
func checkWidgets(in []requestWidget) ([]dashboards.Widget, error) {
	out := make([]dashboards.Widget, len(in))
	for i, w := range in {
		if w.QueryStatement == nil || *w.QueryStatement == "" {
			return nil, invalid(codeValidation, "Widgets[%d].QueryStatement is required: give the widget's SQL.", i)
		}
		if n := len([]rune(*w.QueryStatement)); n > 10000 {
			return nil, invalid(codeInvalidQuery, "Widgets[%d].QueryStatement is %d characters; at most 10000 are allowed.", i, n)
		}
		if w.QueryParameters != nil && (len(w.QueryParameters) < 1 || len(w.QueryParameters) > 10) {
			return nil, invalid(codeValidation, "Widgets[%d].QueryParameters has %d elements; give 1 to 10, or leave it out.", i, len(w.QueryParameters))
		}
		for j, p := range w.QueryParameters {
			if len(p) < 1 || len(p) > 1024 {
				return nil, invalid(codeValidation, "Widgets[%d].QueryParameters[%d] must be 1 to 1024 characters.", i, j)
			}
		}
		if w.ViewProperties == nil {
			return nil, invalid(codeValidation, "Widgets[%d].ViewProperties is required, e.g. {\"View\": \"Table\", \"Title\": \"Top errors\"}.", i)
		}
		for k, v := range w.ViewProperties {
			if !viewKeyPattern.MatchString(k) {
				return nil, invalid(codeValidation, "Widgets[%d].ViewProperties key %q must be 3 to 128 of A-Z a-z 0-9 . _ -.", i, clip(k))
			}
			if !viewValuePattern.MatchString(v) {
				return nil, invalid(codeValidation, "Widgets[%d].ViewProperties[%q] = %q must be 1 to 128 of A-Z a-z 0-9 . _ - and spaces.", i, k, clip(v))
			}
		}
		out[i] = dashboards.Widget{Statement: *w.QueryStatement, Parameters: w.QueryParameters, View: w.ViewProperties}
	}
	return out, nil
}

func widgetsOut(ws []dashboards.Widget) []widgetOut {
	out := make([]widgetOut, len(ws))
	for i, w := range ws {
		view := w.View
		if view == nil {
			view = map[string]string{}
		}
		out[i] = widgetOut{QueryAlias: w.Alias, QueryStatement: w.Statement, QueryParameters: w.Parameters, ViewProperties: view}
	}
	return out
}

func scheduleOut(s *dashboards.Schedule) *refreshScheduleWire {
	if s == nil {
		return nil
	}
	v := int32(s.Value)
	out := &refreshScheduleWire{Frequency: &frequencyWire{Unit: &s.Unit, Value: &v}, Status: &s.Status}
	if s.TimeOfDay != "" {
		out.TimeOfDay = &s.TimeOfDay
	}
	return out
}

// dashboardName resolves a DashboardId (a name or an ARN) to the name of
// one of the caller's dashboards in the caller's region.
func dashboardName(caller identity.Caller, id *string) (string, error) {
	if id == nil || *id == "" {
		return "", invalid(codeValidation, "DashboardId is required: give the dashboard's name or ARN.")
	}
	name := *id
	if strings.HasPrefix(name, "arn:") {
		p := strings.SplitN(name, ":", 6)
		n, ok := "", false
		if len(p) == 6 {
			n, ok = strings.CutPrefix(p[5], "dashboard/")
		}
		if !ok || p[2] != "cloudtrail" {
			return "", invalid(codeValidation, "DashboardId %q is not a dashboard ARN (arn:aws:cloudtrail:REGION:ACCOUNT:dashboard/NAME) or name.", clip(*id))
		}
		if p[3] != caller.Region || p[4] != caller.AccountID {
			return "", invalid(codeResourceNotFound, "Dashboard %s was not found: it is not in this account and region (%s, %s).", clip(*id), caller.AccountID, caller.Region)
		}
		name = n
	}
	if !dashboardNamePattern.MatchString(name) {
		return "", invalid(codeValidation, "DashboardId %q is not a dashboard name (3 to 128 of A-Z a-z 0-9 _ -) or ARN.", clip(*id))
	}
	return name, nil
}

type createDashboardInput struct {
	Name                         *string              `json:"Name"`
	RefreshSchedule              *refreshScheduleWire `json:"RefreshSchedule"`
	TagsList                     []tagIn              `json:"TagsList"`
	TerminationProtectionEnabled *bool                `json:"TerminationProtectionEnabled"`
	Widgets                      []requestWidget      `json:"Widgets"`
}

type createDashboardOutput struct {
	DashboardArn                 string               `json:"DashboardArn"`
	Name                         string               `json:"Name"`
	Type                         string               `json:"Type"`
	Widgets                      []widgetOut          `json:"Widgets"`
	TagsList                     []catalog.Tag        `json:"TagsList,omitempty"`
	RefreshSchedule              *refreshScheduleWire `json:"RefreshSchedule,omitempty"`
	TerminationProtectionEnabled bool                 `json:"TerminationProtectionEnabled"`
}

func (h *Handler) createDashboard(ctx context.Context, caller identity.Caller, in *createDashboardInput) (*createDashboardOutput, error) {
	if in.Name == nil || !dashboardNamePattern.MatchString(*in.Name) {
		return nil, invalid(codeValidation, "Name must be 3 to 128 of A-Z a-z 0-9 _ - (AWSCloudTrail-Highlights creates the Highlights dashboard).")
	}
	managed := *in.Name == dashboards.HighlightsName
	if managed && len(in.Widgets) > 0 {
		return nil, invalid(codeValidation, "The Highlights dashboard's widgets are OpenTrail's: leave Widgets out.")
	}
	sched, err := checkSchedule(in.RefreshSchedule, managed, true)
	if err != nil {
		return nil, err
	}
	ws, err := checkWidgets(in.Widgets)
	if err != nil {
		return nil, err
	}
	tags, err := checkTags(in.TagsList, true)
	if err != nil {
		return nil, err
	}
	if len(tags) > maxTagsPerResource {
		return nil, invalid(codeInvalidTag, "TagsList has %d tags; a dashboard has at most %d.", len(tags), maxTagsPerResource)
	}
	d := dashboards.Dashboard{Account: caller.AccountID, Region: caller.Region, Name: *in.Name, Widgets: ws, Schedule: sched,
		TerminationProtection: in.TerminationProtectionEnabled != nil && *in.TerminationProtectionEnabled}
	if len(tags) > 0 {
		d.Tags = tags
	}
	d, err = h.opts.Dashboards.Create(ctx, d)
	if err != nil {
		return nil, err
	}
	return &createDashboardOutput{DashboardArn: d.ARN(), Name: d.Name, Type: d.Type, Widgets: widgetsOut(d.Widgets), TagsList: d.Tags,
		RefreshSchedule: scheduleOut(d.Schedule), TerminationProtectionEnabled: d.TerminationProtection}, nil
}

type dashboardIDInput struct {
	DashboardId *string `json:"DashboardId"`
}

type getDashboardOutput struct {
	DashboardArn                 string               `json:"DashboardArn"`
	Type                         string               `json:"Type"`
	Status                       string               `json:"Status"`
	Widgets                      []widgetOut          `json:"Widgets"`
	RefreshSchedule              *refreshScheduleWire `json:"RefreshSchedule,omitempty"`
	CreatedTimestamp             awsjson.Time         `json:"CreatedTimestamp"`
	UpdatedTimestamp             awsjson.Time         `json:"UpdatedTimestamp"`
	LastRefreshId                string               `json:"LastRefreshId,omitempty"`
	LastRefreshFailureReason     string               `json:"LastRefreshFailureReason,omitempty"`
	TerminationProtectionEnabled bool                 `json:"TerminationProtectionEnabled"`
}

func (h *Handler) getDashboard(_ context.Context, caller identity.Caller, in *dashboardIDInput) (*getDashboardOutput, error) {
	name, err := dashboardName(caller, in.DashboardId)
	if err != nil {
		return nil, err
	}
	d, err := h.opts.Dashboards.Get(caller.AccountID, caller.Region, name)
	if err != nil {
		return nil, err
	}
	return &getDashboardOutput{DashboardArn: d.ARN(), Type: d.Type, Status: d.Status, Widgets: widgetsOut(d.Widgets),
		RefreshSchedule: scheduleOut(d.Schedule), CreatedTimestamp: awsjson.Time{Time: d.Created}, UpdatedTimestamp: awsjson.Time{Time: d.Updated},
		LastRefreshId: d.LastRefreshID, LastRefreshFailureReason: errorMessage(d.LastRefreshFailure), TerminationProtectionEnabled: d.TerminationProtection}, nil
}

type listDashboardsInput struct {
	NamePrefix *string `json:"NamePrefix"`
	Type       *string `json:"Type"`
	NextToken  *string `json:"NextToken"`
	MaxResults *int32  `json:"MaxResults"`
}

type dashboardDetail struct {
	DashboardArn string `json:"DashboardArn"`
	Type         string `json:"Type"`
}

type listDashboardsOutput struct {
	Dashboards []dashboardDetail `json:"Dashboards"`
	NextToken  string            `json:"NextToken,omitempty"`
}

func (h *Handler) listDashboards(_ context.Context, caller identity.Caller, in *listDashboardsInput) (*listDashboardsOutput, error) {
	if in.NamePrefix != nil && !dashboardNamePattern.MatchString(*in.NamePrefix) {
		return nil, invalid(codeValidation, "NamePrefix must be 3 to 128 of A-Z a-z 0-9 _ -.")
	}
	if in.Type != nil && *in.Type != dashboards.Custom && *in.Type != dashboards.Managed {
		return nil, invalid(codeValidation, "Type %q is not CUSTOM or MANAGED.", clip(*in.Type))
	}
	limit := maxQueryResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, invalid(codeValidation, "MaxResults must be between 1 and 1000; the request has %d.", *in.MaxResults)
		}
		limit = int(*in.MaxResults)
	}
	var all []dashboards.Dashboard
	for _, d := range h.opts.Dashboards.List(caller.AccountID, caller.Region) {
		if in.NamePrefix != nil && !strings.HasPrefix(d.Name, *in.NamePrefix) || in.Type != nil && d.Type != *in.Type {
			continue
		}
		all = append(all, d)
	}
	scope := tokenScope{op: "ListDashboards", account: caller.AccountID, region: caller.Region}
	var ph paramHash
	ph.add(in.NamePrefix != nil, deref(in.NamePrefix))
	ph.add(in.Type != nil, deref(in.Type))
	scope.params = ph.sum()
	keys := make([]string, len(all))
	for i, d := range all {
		keys[i] = d.Name
	}
	start, end, next, err := h.pageOf(scope, in.NextToken, keys, limit)
	if err != nil {
		return nil, err
	}
	out := &listDashboardsOutput{Dashboards: []dashboardDetail{}, NextToken: next}
	for _, d := range all[start:end] {
		out.Dashboards = append(out.Dashboards, dashboardDetail{DashboardArn: d.ARN(), Type: d.Type})
	}
	return out, nil
}

type updateDashboardInput struct {
	DashboardId                  *string              `json:"DashboardId"`
	Widgets                      []requestWidget      `json:"Widgets"`
	RefreshSchedule              *refreshScheduleWire `json:"RefreshSchedule"`
	TerminationProtectionEnabled *bool                `json:"TerminationProtectionEnabled"`
}

type updateDashboardOutput struct {
	DashboardArn                 string               `json:"DashboardArn"`
	Name                         string               `json:"Name"`
	Type                         string               `json:"Type"`
	Widgets                      []widgetOut          `json:"Widgets"`
	RefreshSchedule              *refreshScheduleWire `json:"RefreshSchedule,omitempty"`
	TerminationProtectionEnabled bool                 `json:"TerminationProtectionEnabled"`
	CreatedTimestamp             awsjson.Time         `json:"CreatedTimestamp"`
	UpdatedTimestamp             awsjson.Time         `json:"UpdatedTimestamp"`
}

func (h *Handler) updateDashboard(ctx context.Context, caller identity.Caller, in *updateDashboardInput) (*updateDashboardOutput, error) {
	name, err := dashboardName(caller, in.DashboardId)
	if err != nil {
		return nil, err
	}
	managed := name == dashboards.HighlightsName
	var u dashboards.Update
	if in.Widgets != nil {
		if managed {
			return nil, invalid(codeValidation, "The Highlights dashboard's widgets are OpenTrail's: leave Widgets out.")
		}
		ws, err := checkWidgets(in.Widgets)
		if err != nil {
			return nil, err
		}
		u.Widgets = &ws
	}
	if u.Schedule, err = checkSchedule(in.RefreshSchedule, managed, false); err != nil {
		return nil, err
	}
	u.TerminationProtection = in.TerminationProtectionEnabled
	d, err := h.opts.Dashboards.Update(ctx, caller.AccountID, caller.Region, name, u)
	if err != nil {
		return nil, err
	}
	return &updateDashboardOutput{DashboardArn: d.ARN(), Name: d.Name, Type: d.Type, Widgets: widgetsOut(d.Widgets), RefreshSchedule: scheduleOut(d.Schedule),
		TerminationProtectionEnabled: d.TerminationProtection, CreatedTimestamp: awsjson.Time{Time: d.Created}, UpdatedTimestamp: awsjson.Time{Time: d.Updated}}, nil
}

func (h *Handler) deleteDashboard(_ context.Context, caller identity.Caller, in *dashboardIDInput) (*empty, error) {
	name, err := dashboardName(caller, in.DashboardId)
	if err != nil {
		return nil, err
	}
	if err := h.opts.Dashboards.Delete(caller.AccountID, caller.Region, name); err != nil {
		return nil, err
	}
	return &empty{}, nil
}

type startDashboardRefreshInput struct {
	DashboardId          *string           `json:"DashboardId"`
	QueryParameterValues map[string]string `json:"QueryParameterValues"`
}

type startDashboardRefreshOutput struct {
	RefreshId string `json:"RefreshId"`
}

func (h *Handler) startDashboardRefresh(ctx context.Context, caller identity.Caller, in *startDashboardRefreshInput) (*startDashboardRefreshOutput, error) {
	name, err := dashboardName(caller, in.DashboardId)
	if err != nil {
		return nil, err
	}
	for k, v := range in.QueryParameterValues {
		if !paramKeyPattern.MatchString(k) {
			return nil, invalid(codeValidation, "QueryParameterValues key %q is not a query parameter name such as $StartTime$.", clip(k))
		}
		if !paramValuePattern.MatchString(v) {
			return nil, invalid(codeValidation, "QueryParameterValues[%q] = %q must be 1 to 128 of A-Z a-z 0-9 . _ / - : (e.g. 2024-11-12T16:00:00Z).", k, clip(v))
		}
	}
	id, err := h.opts.Dashboards.Refresh(ctx, caller.AccountID, caller.Region, name, in.QueryParameterValues)
	if err != nil {
		return nil, err
	}
	return &startDashboardRefreshOutput{RefreshId: id}, nil
}

// tagDashboard resolves the ARN of one of the caller's dashboards for the
// tag operations.
func (h *Handler) tagDashboard(caller identity.Caller, id *string) (tagged, error) {
	if h.opts.Dashboards == nil {
		return tagged{}, invalid(codeResourceNotFound, "Dashboard %s was not found.", clip(*id))
	}
	name, err := dashboardName(caller, id)
	if err != nil {
		return tagged{}, err
	}
	d, err := h.opts.Dashboards.Get(caller.AccountID, caller.Region, name)
	if err != nil {
		return tagged{}, err
	}
	return tagged{arn: d.ARN(), tags: d.Tags, dashboard: name}, nil
}
