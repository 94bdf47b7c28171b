// Package dashboards owns CloudTrail Lake dashboards: their definitions
// (widgets, refresh schedules, termination protection, tags), kept in one
// file (docs/format/dashboards.md); the managed Highlights dashboard, whose
// widget queries it writes; the substitution of widget query parameters
// ($StartTime$, $EndTime$, $Period$, $EventDataStoreId$) into `?`
// placeholders; refreshes, which start every widget's query on the Lake
// engine it declares ([Lake]) with the widget's alias and the refresh id;
// and the scheduler that runs enabled refresh schedules ([Engine.Run],
// driven by a [Clock]).
//
// Field-level validation of requests (name patterns, schedule values, view
// properties) belongs to the API; the engine enforces what needs the whole
// set or the Lake: unique names, the quota, the widgets' placeholders and
// parameters, and queries the Lake dialect accepts.
package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Types (the model's DashboardType).
const (
	Custom  = "CUSTOM"
	Managed = "MANAGED"
)

// Statuses (the model's DashboardStatus) a dashboard shows: CREATING,
// UPDATING and DELETING never last past the call that sets them here.
const (
	Created = "CREATED"
	Updated = "UPDATED"
)

// Refresh schedule units and statuses.
const (
	Hours    = "HOURS"
	Days     = "DAYS"
	Enabled  = "ENABLED"
	Disabled = "DISABLED"
)

// HighlightsName is the name that creates the managed Highlights
// dashboard.
const HighlightsName = "AWSCloudTrail-Highlights"

// MaxWidgets is the most widgets a custom dashboard has.
const MaxWidgets = 10

// Query parameters a widget may name (QueryParameters) and a refresh may
// give values for.
const (
	ParamStartTime = "$StartTime$"
	ParamEndTime   = "$EndTime$"
	ParamPeriod    = "$Period$"
	// ParamStore is the managed dashboard's store: its widgets read
	// FROM ?, filled with it.
	ParamStore = "$EventDataStoreId$"
)

// Errors; the API maps each to its exception.
var (
	// ErrNotFound: the account has no dashboard of this name in the
	// region (ResourceNotFoundException).
	ErrNotFound = errors.New("dashboards: dashboard not found")
	// ErrExists: the name is taken in the account and region
	// (ConflictException).
	ErrExists = errors.New("dashboards: dashboard already exists")
	// ErrProtected: termination protection is on; turn it off with
	// UpdateDashboard first (ConflictException).
	ErrProtected = errors.New("dashboards: termination protection is enabled")
	// ErrLimit: the region has the most dashboards allowed, or a refresh
	// would run more queries than the account may have at once
	// (ServiceQuotaExceededException).
	ErrLimit = errors.New("dashboards: quota exceeded")
	// ErrInvalidParameter: a refresh's QueryParameterValues or StartQuery's
	// QueryParameters cannot be used; the text says why
	// (ValidationException, InvalidParameterException in StartQuery).
	ErrInvalidParameter = errors.New("dashboards: invalid query parameter")
)

// Dashboard is one dashboard as dashboards.json holds it.
type Dashboard struct {
	Account               string        `json:"account"`
	Region                string        `json:"region"`
	Name                  string        `json:"name"`
	Type                  string        `json:"type"`
	Status                string        `json:"status"`
	Widgets               []Widget      `json:"widgets,omitempty"`
	Schedule              *Schedule     `json:"refreshSchedule,omitempty"`
	TerminationProtection bool          `json:"terminationProtectionEnabled"`
	Tags                  []catalog.Tag `json:"tags,omitempty"`
	Created               time.Time     `json:"created"`
	Updated               time.Time     `json:"updated"`
	LastRefreshID         string        `json:"lastRefreshId,omitempty"`
	LastRefreshFailure    string        `json:"lastRefreshFailureReason,omitempty"`
	// LastScheduled is the slot of the last scheduled refresh.
	LastScheduled time.Time `json:"lastScheduled,omitzero"`
}

// Widget is one widget.
type Widget struct {
	Alias      string            `json:"queryAlias"`
	Statement  string            `json:"queryStatement"`
	Parameters []string          `json:"queryParameters,omitempty"`
	View       map[string]string `json:"viewProperties,omitempty"`
}

// Schedule is a refresh schedule.
type Schedule struct {
	Unit      string `json:"unit"`
	Value     int    `json:"value"`
	Status    string `json:"status"`
	TimeOfDay string `json:"timeOfDay,omitempty"`
}

// ARN returns the dashboard's ARN.
func (d *Dashboard) ARN() string { return ARN(d.Region, d.Account, d.Name) }

// ARN builds a dashboard ARN.
func ARN(region, account, name string) string {
	return "arn:aws:cloudtrail:" + region + ":" + account + ":dashboard/" + name
}

// clone returns a deep copy of d.
func (d Dashboard) clone() Dashboard {
	d.Widgets = slices.Clone(d.Widgets)
	for i := range d.Widgets {
		d.Widgets[i].Parameters = slices.Clone(d.Widgets[i].Parameters)
		if d.Widgets[i].View != nil {
			v := make(map[string]string, len(d.Widgets[i].View))
			for k, x := range d.Widgets[i].View {
				v[k] = x
			}
			d.Widgets[i].View = v
		}
	}
	if d.Schedule != nil {
		s := *d.Schedule
		d.Schedule = &s
	}
	d.Tags = slices.Clone(d.Tags)
	for i, t := range d.Tags {
		if t.Value != nil {
			v := *t.Value
			d.Tags[i].Value = &v
		}
	}
	return d
}

// file is the JSON document.
type file struct {
	Version    int         `json:"version"`
	Dashboards []Dashboard `json:"dashboards"`
}

var (
	namePattern  = regexp.MustCompile(`^[a-zA-Z0-9_\-]{3,128}$`)
	aliasPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9._\-]{0,255}$`)
	timePattern  = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	acctPattern  = regexp.MustCompile(`^\d{12}$`)
)

// load reads path; a missing file holds nothing. The managed dashboards'
// widgets are replaced by this release's.
func load(path string) ([]Dashboard, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("open dashboards: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("open dashboards: %s is damaged (%v); restore it from a backup or remove it to start without dashboards", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("open dashboards: %s has version %d; this OpenTrail reads version 1", path, f.Version)
	}
	seen := map[string]bool{}
	aliases := map[string]bool{}
	for i := range f.Dashboards {
		d := &f.Dashboards[i]
		if d.Type == Managed {
			d.Widgets = highlightsWidgets()
		}
		if err := checkEntry(d); err != nil {
			return nil, fmt.Errorf("open dashboards: %s: dashboard %d (%s): %w", path, i, d.Name, err)
		}
		key := d.Account + "/" + d.Region + "/" + d.Name
		if seen[key] {
			return nil, fmt.Errorf("open dashboards: %s: dashboard %s appears twice", path, d.ARN())
		}
		seen[key] = true
		for _, w := range d.Widgets {
			k := d.Account + "/" + d.Region + "/" + w.Alias
			if aliases[k] {
				return nil, fmt.Errorf("open dashboards: %s: query alias %s appears twice in account %s, %s", path, w.Alias, d.Account, d.Region)
			}
			aliases[k] = true
		}
	}
	return f.Dashboards, nil
}

// Check reads the dashboards file at path as the server does (opentrail
// fsck).
func Check(path string) (int, error) {
	ds, err := load(path)
	return len(ds), err
}

// checkEntry applies the rules of dashboards.md to one entry.
func checkEntry(d *Dashboard) error {
	switch {
	case !acctPattern.MatchString(d.Account):
		return fmt.Errorf("account %q is not 12 digits", d.Account)
	case d.Region == "":
		return errors.New("no region")
	case !namePattern.MatchString(d.Name):
		return fmt.Errorf("name %q is not 3 to 128 of A-Z a-z 0-9 _ -", d.Name)
	case d.Type != Custom && d.Type != Managed:
		return fmt.Errorf("type %q is not CUSTOM or MANAGED", d.Type)
	case (d.Type == Managed) != (d.Name == HighlightsName):
		return fmt.Errorf("type %s does not go with name %s", d.Type, d.Name)
	case d.Status != Created && d.Status != Updated:
		return fmt.Errorf("status %q is not CREATED or UPDATED", d.Status)
	case len(d.Widgets) > MaxWidgets:
		return fmt.Errorf("%d widgets; at most %d", len(d.Widgets), MaxWidgets)
	case d.LastRefreshID != "" && !refreshIDPattern.MatchString(d.LastRefreshID):
		return fmt.Errorf("lastRefreshId %q is not 10 to 20 digits", d.LastRefreshID)
	}
	for i, w := range d.Widgets {
		if !aliasPattern.MatchString(w.Alias) {
			return fmt.Errorf("widget %d: query alias %q does not match %s", i, w.Alias, aliasPattern)
		}
		if err := checkWidget(w.Statement, w.Parameters, d.Type == Managed); err != nil {
			return fmt.Errorf("widget %d: %w", i, err)
		}
	}
	if s := d.Schedule; s != nil {
		if err := CheckSchedule(*s); err != nil {
			return err
		}
	}
	return nil
}

// CheckSchedule applies the model's rules to a refresh schedule: HOURS 1,
// 6, 12 or 24, or DAYS 1; ENABLED or DISABLED; TimeOfDay HH:MM or "".
func CheckSchedule(s Schedule) error {
	switch {
	case s.Unit == Hours && !slices.Contains([]int{1, 6, 12, 24}, s.Value):
		return fmt.Errorf("a refresh schedule in HOURS takes the Value 1, 6, 12 or 24, not %d", s.Value)
	case s.Unit == Days && s.Value != 1:
		return fmt.Errorf("a refresh schedule in DAYS takes the Value 1, not %d", s.Value)
	case s.Unit != Hours && s.Unit != Days:
		return fmt.Errorf("the refresh schedule's Unit %q is not HOURS or DAYS", s.Unit)
	case s.Status != Enabled && s.Status != Disabled:
		return fmt.Errorf("the refresh schedule's Status %q is not ENABLED or DISABLED", s.Status)
	case s.TimeOfDay != "" && !timePattern.MatchString(s.TimeOfDay):
		return fmt.Errorf("the refresh schedule's TimeOfDay %q is not a time HH:MM (UTC)", s.TimeOfDay)
	}
	return nil
}

// save writes the dashboards to path.
func save(path string, all []Dashboard) error {
	f := file{Version: 1, Dashboards: slices.Clone(all)}
	if f.Dashboards == nil {
		f.Dashboards = []Dashboard{}
	}
	slices.SortFunc(f.Dashboards, func(a, b Dashboard) int {
		return strings.Compare(a.Account+"/"+a.Region+"/"+a.Name, b.Account+"/"+b.Region+"/"+b.Name)
	})
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save dashboards: %w", err)
	}
	if err := fileutil.WriteFileAtomic(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save dashboards: %w", err)
	}
	return nil
}
