package dashboards

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/lake/queries"
)

// Lake is the Lake query engine as dashboards use it (a *lake.Engine).
// CheckQuery and StartQuery return the queries package's errors.
type Lake interface {
	CheckQuery(ctx context.Context, account, region, statement string) error
	StartQuery(ctx context.Context, account, region, statement string, opt queries.StartOptions) (string, error)
	CancelQuery(account, region, id string) (queries.Info, error)
}

// Stores returns the ids of the account's active event data stores of
// CloudTrail events in region: what a scheduled refresh of the Highlights
// dashboard reads.
type Stores func(account, region string) []string

// Clock is the time the scheduler follows; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// After sends once, d after now.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options configure an Engine.
type Options struct {
	Lake   Lake   // required
	Stores Stores // required
	// Clock is the scheduler's and the API's clock; nil means the real one.
	Clock Clock
	// MaxPerRegion is the most dashboards an account has in a region.
	MaxPerRegion int
	// Tick is how often the scheduler looks for due refreshes.
	Tick   time.Duration
	Logger *slog.Logger
}

// FileName is the dashboards file in the Lake's directory.
const FileName = "dashboards.json"

// DefaultOptions returns 100 dashboards per region, a one-minute tick and
// the real clock.
func DefaultOptions() Options {
	return Options{MaxPerRegion: 100, Tick: time.Minute, Clock: realClock{}}
}

// Engine keeps the dashboards and refreshes them. It is safe for
// concurrent use; only Run starts a goroutine (it is one).
type Engine struct {
	path string
	opts Options
	log  *slog.Logger

	mu          sync.Mutex
	all         []Dashboard
	lastRefresh int64 // the last refresh id issued
}

// Open loads the dashboards file at path (see Check).
func Open(path string, opts Options) (*Engine, error) {
	d := DefaultOptions()
	if opts.Lake == nil || opts.Stores == nil {
		return nil, errors.New("dashboards: Options.Lake and Options.Stores are required")
	}
	if opts.Clock == nil {
		opts.Clock = d.Clock
	}
	if opts.MaxPerRegion <= 0 {
		opts.MaxPerRegion = d.MaxPerRegion
	}
	if opts.Tick <= 0 {
		opts.Tick = d.Tick
	}
	e := &Engine{path: path, opts: opts, log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	all, err := load(path)
	if err != nil {
		return nil, err
	}
	e.all = all
	return e, nil
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.opts.Clock.Now() }

// indexLocked returns the position of the dashboard, or -1.
func (e *Engine) indexLocked(account, region, name string) int {
	return slices.IndexFunc(e.all, func(d Dashboard) bool { return d.Account == account && d.Region == region && d.Name == name })
}

func notFound(account, region, name string) error {
	return fmt.Errorf("%w: %s", ErrNotFound, ARN(region, account, name))
}

// Get returns a dashboard.
func (e *Engine) Get(account, region, name string) (Dashboard, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.indexLocked(account, region, name)
	if i < 0 {
		return Dashboard{}, notFound(account, region, name)
	}
	return e.all[i].clone(), nil
}

// List returns the account's dashboards in region, by name.
func (e *Engine) List(account, region string) []Dashboard {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Dashboard
	for _, d := range e.all {
		if d.Account == account && d.Region == region {
			out = append(out, d.clone())
		}
	}
	slices.SortFunc(out, func(a, b Dashboard) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Create adds a dashboard: d's Account, Region, Name, Widgets (without
// aliases), Schedule, TerminationProtection and Tags. A dashboard named
// HighlightsName is the managed one, with OpenTrail's widgets. Widget
// queries must pass the Lake's checks.
func (e *Engine) Create(ctx context.Context, d Dashboard) (Dashboard, error) {
	now := e.Now().UTC()
	d.Type, d.Status, d.Created, d.Updated = Custom, Created, now, now
	d.LastRefreshID, d.LastRefreshFailure, d.LastScheduled = "", "", time.Time{}
	if d.Name == HighlightsName {
		d.Type = Managed
		d.Widgets = highlightsWidgets()
	} else {
		if len(d.Widgets) > MaxWidgets {
			return Dashboard{}, fmt.Errorf("%w: a custom dashboard has at most %d widgets; the request has %d", ErrLimit, MaxWidgets, len(d.Widgets))
		}
		if err := e.checkWidgets(ctx, d.Account, d.Region, d.Widgets); err != nil {
			return Dashboard{}, err
		}
		d.Widgets = aliased(d.Name, d.Widgets)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.indexLocked(d.Account, d.Region, d.Name) >= 0 {
		return Dashboard{}, fmt.Errorf("%w: %s", ErrExists, d.ARN())
	}
	n := 0
	for _, o := range e.all {
		if o.Account == d.Account && o.Region == d.Region {
			n++
		}
	}
	if n >= e.opts.MaxPerRegion {
		return Dashboard{}, fmt.Errorf("%w: the account already has %d dashboards in %s, the most allowed", ErrLimit, n, d.Region)
	}
	d = d.clone()
	next := append(slices.Clone(e.all), d)
	if err := save(e.path, next); err != nil {
		return Dashboard{}, err
	}
	e.all = next
	return d.clone(), nil
}

// checkWidgets checks widgets' parameters and queries (with sample values
// in the placeholders) against the Lake.
func (e *Engine) checkWidgets(ctx context.Context, account, region string, ws []Widget) error {
	sample := Values{Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC), Period: "day"}
	for i, w := range ws {
		if err := checkWidget(w.Statement, w.Parameters, false); err != nil {
			return inWidget(i+1, err)
		}
		stmt, err := Fill(w.Statement, sample.args(w.Parameters))
		if err != nil {
			return inWidget(i+1, err)
		}
		if err := e.opts.Lake.CheckQuery(ctx, account, region, stmt); err != nil {
			return inWidget(i+1, err)
		}
	}
	return nil
}

// inWidget names widget n in err. The API words what follows an invalid
// query's sentinel, so the widget goes after it.
func inWidget(n int, err error) error {
	if !errors.Is(err, queries.ErrInvalidQuery) {
		return fmt.Errorf("widget %d: %w", n, err)
	}
	msg := err.Error()
	if k := strings.Index(msg, queries.ErrInvalidQuery.Error()+": "); k >= 0 {
		msg = msg[k+len(queries.ErrInvalidQuery.Error())+2:]
	}
	return fmt.Errorf("%w: widget %d: %s", queries.ErrInvalidQuery, n, msg)
}

// aliased gives each widget of a custom dashboard its QueryAlias:
// cd-NAME-N-HASH, N its position and HASH the start of the SHA-256 of its
// statement and parameters, so an alias always names one query text
// (decision 132).
func aliased(name string, ws []Widget) []Widget {
	out := make([]Widget, len(ws))
	for i, w := range ws {
		h := sha256.New()
		h.Write([]byte(w.Statement))
		for _, p := range w.Parameters {
			h.Write([]byte{0})
			h.Write([]byte(p))
		}
		w.Alias = "cd-" + name + "-" + strconv.Itoa(i+1) + "-" + hex.EncodeToString(h.Sum(nil)[:4])
		out[i] = w
	}
	return out
}

// Update is what UpdateDashboard changes; nil members stay as they are.
type Update struct {
	Widgets               *[]Widget
	Schedule              *Schedule
	TerminationProtection *bool
}

// Update changes a dashboard. The managed dashboard's widgets are
// OpenTrail's: a Widgets update of it is refused.
func (e *Engine) Update(ctx context.Context, account, region, name string, u Update) (Dashboard, error) {
	cur, err := e.Get(account, region, name)
	if err != nil {
		return Dashboard{}, err
	}
	if u.Widgets != nil {
		if cur.Type == Managed {
			return Dashboard{}, fmt.Errorf("%w: the widgets of the Highlights dashboard are managed by OpenTrail and cannot be changed", queries.ErrInvalidQuery)
		}
		if len(*u.Widgets) > MaxWidgets {
			return Dashboard{}, fmt.Errorf("%w: a custom dashboard has at most %d widgets; the request has %d", ErrLimit, MaxWidgets, len(*u.Widgets))
		}
		if err := e.checkWidgets(ctx, account, region, *u.Widgets); err != nil {
			return Dashboard{}, err
		}
	}
	return e.change(account, region, name, func(d *Dashboard) error {
		if u.Widgets != nil {
			d.Widgets = aliased(d.Name, *u.Widgets)
		}
		if u.Schedule != nil {
			s := *u.Schedule
			d.Schedule = &s
		}
		if u.TerminationProtection != nil {
			d.TerminationProtection = *u.TerminationProtection
		}
		d.Status, d.Updated = Updated, e.Now().UTC()
		return nil
	})
}

// UpdateTags applies fn to the dashboard's tags.
func (e *Engine) UpdateTags(account, region, name string, fn func(arn string, tags *[]catalog.Tag) error) (Dashboard, error) {
	return e.change(account, region, name, func(d *Dashboard) error { return fn(d.ARN(), &d.Tags) })
}

// change applies fn to a copy of the dashboard and saves the result; an
// error from fn changes nothing.
func (e *Engine) change(account, region, name string, fn func(*Dashboard) error) (Dashboard, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.indexLocked(account, region, name)
	if i < 0 {
		return Dashboard{}, notFound(account, region, name)
	}
	d := e.all[i].clone()
	if err := fn(&d); err != nil {
		return Dashboard{}, err
	}
	next := slices.Clone(e.all)
	next[i] = d
	if err := save(e.path, next); err != nil {
		return Dashboard{}, err
	}
	e.all = next
	return d.clone(), nil
}

// Delete removes a dashboard unless termination protection is on.
func (e *Engine) Delete(account, region, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.indexLocked(account, region, name)
	if i < 0 {
		return notFound(account, region, name)
	}
	if e.all[i].TerminationProtection {
		return fmt.Errorf("%w: dashboard %s has termination protection; turn it off with UpdateDashboard (TerminationProtectionEnabled false) first", ErrProtected, e.all[i].ARN())
	}
	next := slices.Delete(slices.Clone(e.all), i, i+1)
	if err := save(e.path, next); err != nil {
		return err
	}
	e.all = next
	return nil
}

var refreshIDPattern = regexp.MustCompile(`^\d{10,20}$`)

// newRefreshID returns a refresh id: the time in nanoseconds (19 digits),
// strictly increasing.
func (e *Engine) newRefreshID(now time.Time) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := max(now.UnixNano(), e.lastRefresh+1)
	e.lastRefresh = n
	return strconv.FormatInt(n, 10)
}

// Refresh starts the dashboard's widget queries with the parameter values
// given (StartDashboardRefresh's QueryParameterValues) and returns the
// refresh id. The managed dashboard needs $EventDataStoreId$ (the model).
func (e *Engine) Refresh(ctx context.Context, account, region, name string, values map[string]string) (string, error) {
	d, err := e.Get(account, region, name)
	if err != nil {
		return "", err
	}
	v, err := ResolveValues(values, d.Type == Managed, e.Now())
	if err != nil {
		return "", err
	}
	if d.Type == Managed && v.Store == "" {
		return "", fmt.Errorf("%w: the Highlights dashboard is refreshed over one event data store: give %s in QueryParameterValues", ErrInvalidParameter, ParamStore)
	}
	id, err := e.refresh(ctx, d, v)
	if err != nil {
		return "", err
	}
	_, err = e.change(account, region, name, func(d *Dashboard) error {
		d.LastRefreshID = id
		return nil
	})
	return id, err
}

// refresh starts every widget's query of d with v; when one cannot start,
// the ones started are cancelled.
func (e *Engine) refresh(ctx context.Context, d Dashboard, v Values) (string, error) {
	id := e.newRefreshID(e.Now())
	var started []string
	undo := func() {
		for _, q := range started {
			_, _ = e.opts.Lake.CancelQuery(d.Account, d.Region, q)
		}
	}
	for i, w := range d.Widgets {
		stmt, err := Fill(w.Statement, v.args(w.Parameters))
		if err == nil {
			var q string
			q, err = e.opts.Lake.StartQuery(ctx, d.Account, d.Region, stmt, queries.StartOptions{Alias: w.Alias, RefreshID: id})
			if err == nil {
				started = append(started, q)
			}
		}
		if errors.Is(err, queries.ErrTooManyQueries) {
			undo()
			return "", fmt.Errorf("%w: the refresh runs %d queries and the account may have only 10 queued or running at once (%w)", ErrLimit, len(d.Widgets), err)
		}
		if err != nil {
			undo()
			return "", fmt.Errorf("widget %d (%s): %w", i+1, w.Alias, err)
		}
	}
	return id, nil
}

// ResolveAlias returns the statement a StartQuery with QueryAlias runs:
// the widget's query with params in its placeholders. params nil means the
// widget's own parameters, with the defaults of a refresh now; otherwise
// each element fills the placeholder at its position: one of the
// parameter names takes its default, anything else is the value. ok is
// false when alias is no widget's.
func (e *Engine) ResolveAlias(_ context.Context, account, region, alias string, params []string) (string, bool, error) {
	e.mu.Lock()
	var (
		w     Widget
		d     Dashboard
		found bool
	)
	for _, x := range e.all {
		if x.Account != account || x.Region != region {
			continue
		}
		if i := slices.IndexFunc(x.Widgets, func(w Widget) bool { return w.Alias == alias }); i >= 0 {
			w, d, found = x.Widgets[i], x, true
			break
		}
	}
	e.mu.Unlock()
	if !found {
		return "", false, nil
	}
	v, err := ResolveValues(nil, d.Type == Managed, e.Now())
	if err != nil {
		return "", true, err
	}
	if d.Type == Managed {
		v.Store = unionOf(e.opts.Stores(account, region))
	}
	if params == nil {
		params = w.Parameters
	}
	if len(params) != len(w.Parameters) {
		return "", true, fmt.Errorf("%w: the query of alias %s takes %d query parameters (%s), not %d", ErrInvalidParameter, alias, len(w.Parameters), strings.Join(w.Parameters, ", "), len(params))
	}
	args := make([]Arg, len(params))
	for i, p := range params {
		switch {
		case slices.Contains(managedParams, p):
			args[i] = v.arg(p)
			if p == ParamStore && v.Store == "" {
				return "", true, fmt.Errorf("%w: the account has no event data store of CloudTrail events in %s to fill %s; give a store id", ErrInvalidParameter, region, ParamStore)
			}
		case w.Parameters[i] == ParamStore:
			if !storeIDPattern.MatchString(p) {
				return "", true, fmt.Errorf("%w: query parameter %d (%s) must be an event data store id, not %q", ErrInvalidParameter, i+1, ParamStore, p)
			}
			args[i] = Arg{Text: p, Raw: true}
		default:
			args[i] = Arg{Text: p}
		}
	}
	stmt, err := Fill(w.Statement, args)
	return stmt, true, err
}

// Tick runs the refreshes whose scheduled slot has come: once per
// dashboard however many slots passed (a server that was down runs one
// refresh when it is back). A refresh that cannot start is recorded as the
// dashboard's LastRefreshFailureReason.
func (e *Engine) Tick(ctx context.Context) { e.TickAt(ctx, e.Now()) }

// TickAt is Tick with the time given: the scheduler's clock reading.
func (e *Engine) TickAt(ctx context.Context, now time.Time) {
	now = now.UTC()
	e.mu.Lock()
	var due []Dashboard
	for _, d := range e.all {
		s := d.Schedule
		if s == nil || s.Status != Enabled {
			continue
		}
		if !s.Next(d.lastScheduledOr()).After(now) {
			due = append(due, d.clone())
		}
	}
	e.mu.Unlock()
	for _, d := range due {
		slot := d.Schedule.Next(d.lastScheduledOr())
		for n := d.Schedule.Next(slot); !n.After(now); n = d.Schedule.Next(n) {
			slot = n
		}
		id, err := e.scheduled(ctx, d, now)
		reason := ""
		if err != nil {
			reason = errorText(err)
			e.log.WarnContext(ctx, "dashboards: a scheduled refresh could not start", "dashboard", d.ARN(), "err", err)
		}
		if _, err := e.change(d.Account, d.Region, d.Name, func(x *Dashboard) error {
			x.LastScheduled, x.LastRefreshFailure = slot, reason
			if id != "" {
				x.LastRefreshID = id
			}
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			e.log.ErrorContext(ctx, "dashboards: could not record a scheduled refresh", "dashboard", d.ARN(), "err", err)
		}
	}
}

// lastScheduledOr is the time the schedule counts from: the last
// scheduled slot, or the last change.
func (d *Dashboard) lastScheduledOr() time.Time {
	if d.LastScheduled.IsZero() {
		return d.Updated
	}
	return d.LastScheduled
}

// scheduled runs one scheduled refresh with the default values; the
// managed dashboard reads every store of CloudTrail events of the account
// in the region.
func (e *Engine) scheduled(ctx context.Context, d Dashboard, now time.Time) (string, error) {
	v, err := ResolveValues(nil, d.Type == Managed, now)
	if err != nil {
		return "", err
	}
	if d.Type == Managed {
		ids := e.opts.Stores(d.Account, d.Region)
		if len(ids) == 0 {
			return "", fmt.Errorf("the account has no active event data store of CloudTrail events in %s for the Highlights dashboard to read", d.Region)
		}
		v.Store = unionOf(ids)
	}
	return e.refresh(ctx, d, v)
}

// errorText fits an error into LastRefreshFailureReason (4 to 1000
// characters).
func errorText(err error) string {
	s := err.Error()
	if r := []rune(s); len(r) > 1000 {
		s = string(r[:997]) + "..."
	}
	return s
}

// Run runs the scheduler until ctx ends: a Tick now and every
// Options.Tick.
func (e *Engine) Run(ctx context.Context) error {
	for {
		e.Tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-e.opts.Clock.After(e.opts.Tick):
		}
	}
}
