package dashboards

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/queries"
)

// TestFill is the golden table of parameter substitution.
func TestFill(t *testing.T) {
	v := Values{Start: time.Date(2024, 11, 12, 16, 0, 0, 0, time.UTC), End: time.Date(2024, 11, 19, 16, 0, 0, 0, time.UTC), Period: "day", Store: "eds-1"}
	tests := []struct {
		name, stmt string
		params     []string
		want, err  string
	}{
		{name: "quoted times", stmt: "SELECT * FROM e WHERE eventTime > '?' AND eventTime < '?'", params: []string{ParamStartTime, ParamEndTime},
			want: "SELECT * FROM e WHERE eventTime > '2024-11-12 16:00:00' AND eventTime < '2024-11-19 16:00:00'"},
		{name: "bare period is a literal", stmt: "SELECT date_trunc(?, eventTime) FROM e", params: []string{ParamPeriod},
			want: "SELECT date_trunc('day', eventTime) FROM e"},
		{name: "bare store is raw", stmt: "SELECT 1 FROM ? WHERE eventTime >= '?'", params: []string{ParamStore, ParamStartTime},
			want: "SELECT 1 FROM eds-1 WHERE eventTime >= '2024-11-12 16:00:00'"},
		{name: "quoted store stays a literal", stmt: "SELECT '?'", params: []string{ParamStore}, want: "SELECT 'eds-1'"},
		{name: "? in a literal is text", stmt: "SELECT 'a?b', '??', ? FROM e", params: []string{ParamPeriod},
			want: "SELECT 'a?b', '??', 'day' FROM e"},
		{name: "escaped quote before a placeholder", stmt: "SELECT 'it''s', '?' FROM e", params: []string{ParamPeriod},
			want: "SELECT 'it''s', 'day' FROM e"},
		{name: "? in an identifier or comment is text", stmt: "SELECT \"a?\" -- why?\n FROM e /* ? */ WHERE x = ?", params: []string{ParamPeriod},
			want: "SELECT \"a?\" -- why?\n FROM e /* ? */ WHERE x = 'day'"},
		{name: "too few parameters", stmt: "SELECT ? , ?", params: []string{ParamPeriod}, err: "2 ? placeholders but 1"},
		{name: "too many parameters", stmt: "SELECT 1", params: []string{ParamPeriod}, err: "0 ? placeholders but 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fill(tt.stmt, v.args(tt.params))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, queries.ErrInvalidQuery) {
					t.Fatalf("Fill: %q, %v; want an invalid query error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Fill:\n got %q, %v\nwant %q", got, err, tt.want)
			}
		})
	}
	// A value with a quote cannot end the literal.
	got, err := Fill("SELECT '?', ?", []Arg{{Text: "x' OR '1'='1"}, {Text: "y'"}})
	if err != nil || got != "SELECT 'x'' OR ''1''=''1', 'y'''" {
		t.Fatalf("Fill with quotes: %q, %v", got, err)
	}
}

func TestResolveValues(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      map[string]string
		managed bool
		want    Values
		err     string
	}{
		{name: "defaults", want: Values{Start: now.Add(-DefaultWindow), End: now, Period: "day"}},
		{name: "RFC 3339 and a short window", in: map[string]string{ParamStartTime: "2026-12-06T00:00:00Z", ParamEndTime: "2026-12-06T06:00:00Z"},
			want: Values{Start: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC), Period: "hour"}},
		{name: "date, epoch and period", in: map[string]string{ParamStartTime: "2023-07-01", ParamEndTime: "1689206400", ParamPeriod: "WEEK"},
			want: Values{Start: time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 7, 13, 0, 0, 0, 0, time.UTC), Period: "week"}},
		{name: "store ARN", managed: true, in: map[string]string{ParamStore: "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/abc-123"},
			want: Values{Start: now.Add(-DefaultWindow), End: now, Period: "day", Store: "abc-123"}},
		{name: "store on a custom dashboard", in: map[string]string{ParamStore: "abc"}, err: "not a query parameter"},
		{name: "unknown key", in: map[string]string{"$Foo$": "x"}, err: "not a query parameter"},
		{name: "bad time", in: map[string]string{ParamStartTime: "yesterday"}, err: "not a time"},
		{name: "start after end", in: map[string]string{ParamStartTime: "2026-12-07"}, err: "is after"},
		{name: "bad period", in: map[string]string{ParamPeriod: "fortnight"}, err: "not one of"},
		{name: "bad store", managed: true, in: map[string]string{ParamStore: "a;b"}, err: "not an event data store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveValues(tt.in, tt.managed, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalidParameter) {
					t.Fatalf("got %+v, %v; want %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestScheduleNext(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		s        Schedule
		from, to string
	}{
		{Schedule{Unit: Hours, Value: 1}, "2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z"},
		{Schedule{Unit: Hours, Value: 1, TimeOfDay: "07:15"}, "2026-12-06T10:20:00Z", "2026-12-06T11:15:00Z"},
		{Schedule{Unit: Hours, Value: 6}, "2026-12-06T10:00:00Z", "2026-12-06T12:00:00Z"},
		{Schedule{Unit: Hours, Value: 6, TimeOfDay: "00:30"}, "2026-12-06T18:30:00Z", "2026-12-07T00:30:00Z"},
		{Schedule{Unit: Hours, Value: 12}, "2026-12-06T12:00:00Z", "2026-12-07T00:00:00Z"},
		{Schedule{Unit: Hours, Value: 24, TimeOfDay: "00:05"}, "2026-12-06T00:04:59Z", "2026-12-06T00:05:00Z"},
		{Schedule{Unit: Days, Value: 1, TimeOfDay: "13:45"}, "2026-12-06T13:44:00Z", "2026-12-06T13:45:00Z"},
		{Schedule{Unit: Days, Value: 1, TimeOfDay: "13:45"}, "2026-12-06T13:45:00Z", "2026-12-07T13:45:00Z"},
		{Schedule{Unit: Days, Value: 1}, "2026-12-31T23:00:00Z", "2027-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := tt.s.Next(at(tt.from)); !got.Equal(at(tt.to)) {
			t.Errorf("%+v.Next(%s) = %s, want %s", tt.s, tt.from, got.Format(time.RFC3339), tt.to)
		}
	}
}

// fakeClock is a Clock the test moves.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan struct{} // gets a value when someone waits
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waiting: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	c.waiting <- struct{}{}
	return ch
}

// Advance moves the clock and wakes the waiters whose time came.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// fakeLake records the queries started.
type fakeLake struct {
	mu        sync.Mutex
	started   []queries.StartOptions
	stmts     []string
	cancelled []string
	failAt    int // StartQuery fails at this call (1-based); 0 never
	failWith  error
	checkErr  error
}

func (f *fakeLake) CheckQuery(_ context.Context, _, _, stmt string) error {
	if f.checkErr != nil {
		return fmt.Errorf("%w: %s", f.checkErr, stmt)
	}
	return nil
}

func (f *fakeLake) StartQuery(_ context.Context, _, _, stmt string, opt queries.StartOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt > 0 && len(f.stmts)+1 == f.failAt {
		f.failAt = 0
		return "", f.failWith
	}
	f.started = append(f.started, opt)
	f.stmts = append(f.stmts, stmt)
	return fmt.Sprintf("q%d", len(f.stmts)), nil
}

func (f *fakeLake) CancelQuery(_, _, id string) (queries.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	return queries.Info{}, nil
}

func (f *fakeLake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stmts)
}

const acct, region = "123456789012", "us-east-1"

func openTest(t *testing.T, lk *fakeLake, clock Clock, stores []string) (*Engine, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dashboards.json")
	e, err := Open(path, Options{Lake: lk, Stores: func(string, string) []string { return stores }, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return e, path
}

var widget = Widget{Statement: "SELECT eventName FROM eds WHERE eventTime > '?' AND eventTime < '?'", Parameters: []string{ParamStartTime, ParamEndTime},
	View: map[string]string{"View": "Table"}}

// TestScheduledRefresh drives the scheduler with the clock: nothing runs
// before the slot, one refresh at it (whatever the ticks in between), one
// for several missed slots, none when disabled, and the Highlights
// dashboard reads the union of the account's stores.
func TestScheduledRefresh(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	lk := &fakeLake{}
	e, path := openTest(t, lk, clock, []string{"s-1", "s-2"})
	ctx := t.Context()
	if _, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: "ops", Widgets: []Widget{widget, widget},
		Schedule: &Schedule{Unit: Hours, Value: 1, Status: Enabled, TimeOfDay: "00:30"}}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- e.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	step := func(d time.Duration) {
		<-clock.waiting // Run is waiting for its next tick
		clock.Advance(d)
	}
	step(time.Minute) // 10:01: the first slot is 10:30
	step(28 * time.Minute)
	<-clock.waiting
	if n := lk.count(); n != 0 {
		t.Fatalf("%d queries started before the first slot", n)
	}
	clock.Advance(time.Minute) // 10:30
	<-clock.waiting
	if n := lk.count(); n != 2 {
		t.Fatalf("%d queries started at the slot, want 2 (one per widget)", n)
	}
	d, _ := e.Get(acct, region, "ops")
	if d.LastRefreshID == "" || !d.LastScheduled.Equal(start.Add(30*time.Minute)) || lk.started[0].RefreshID != d.LastRefreshID ||
		lk.started[0].Alias != d.Widgets[0].Alias || lk.started[1].Alias != d.Widgets[1].Alias {
		t.Fatalf("after the slot: %+v, started %+v", d, lk.started)
	}
	// The window ends now and starts 7 days before.
	if want := "eventTime > '2026-11-29 10:30:00' AND eventTime < '2026-12-06 10:30:00'"; !strings.Contains(lk.stmts[0], want) {
		t.Errorf("statement %q, want %q in it", lk.stmts[0], want)
	}
	clock.Advance(5 * time.Hour) // 15:30, four slots missed: one refresh
	<-clock.waiting
	if n := lk.count(); n != 4 {
		t.Fatalf("%d queries after missed slots, want 4", n)
	}
	d, _ = e.Get(acct, region, "ops")
	if !d.LastScheduled.Equal(start.Add(5*time.Hour + 30*time.Minute)) {
		t.Errorf("LastScheduled %s, want 15:30", d.LastScheduled)
	}
	// Survives a reopen.
	if again, err := Open(path, Options{Lake: lk, Stores: func(string, string) []string { return nil }}); err != nil {
		t.Fatal(err)
	} else if got, _ := again.Get(acct, region, "ops"); !got.LastScheduled.Equal(d.LastScheduled) || got.LastRefreshID != d.LastRefreshID {
		t.Errorf("reopened: %+v, want %+v", got, d)
	}
	// Disabled: nothing runs.
	off := Schedule{Unit: Hours, Value: 1, Status: Disabled}
	if _, err := e.Update(ctx, acct, region, "ops", Update{Schedule: &off}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Hour)
	<-clock.waiting
	if n := lk.count(); n != 4 {
		t.Fatalf("%d queries with the schedule disabled, want 4", n)
	}
	// Highlights: the union of the stores.
	if _, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: HighlightsName, Schedule: &Schedule{Unit: Hours, Value: 6, Status: Enabled}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * time.Hour)
	<-clock.waiting
	if n := lk.count(); n != 4+len(highlights) {
		t.Fatalf("%d queries, want the %d Highlights widgets too", n, len(highlights))
	}
	if want := "FROM (SELECT * FROM s-1 UNION ALL SELECT * FROM s-2) WHERE"; !strings.Contains(lk.stmts[4], want) {
		t.Errorf("Highlights statement %q, want %q", lk.stmts[4], want)
	}
}

// TestScheduledRefreshFailure records why a scheduled refresh did not
// start and cancels the queries it had started.
func TestScheduledRefreshFailure(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	lk := &fakeLake{failAt: 2, failWith: fmt.Errorf("%w: eds", queries.ErrStoreInactive)}
	e, _ := openTest(t, lk, clock, nil)
	ctx := t.Context()
	if _, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: "ops", Widgets: []Widget{widget, widget},
		Schedule: &Schedule{Unit: Days, Value: 1, Status: Enabled, TimeOfDay: "11:00"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: HighlightsName, Schedule: &Schedule{Unit: Hours, Value: 6, Status: Enabled}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	e.Tick(ctx)
	d, _ := e.Get(acct, region, "ops")
	if !strings.Contains(d.LastRefreshFailure, "pending") && !strings.Contains(d.LastRefreshFailure, "not active") || d.LastRefreshID != "" {
		t.Errorf("LastRefreshFailure %q, LastRefreshID %q", d.LastRefreshFailure, d.LastRefreshID)
	}
	if len(lk.cancelled) != 1 || lk.cancelled[0] != "q1" {
		t.Errorf("cancelled %v, want the first widget's query", lk.cancelled)
	}
	h, _ := e.Get(acct, region, HighlightsName)
	if !strings.Contains(h.LastRefreshFailure, "no active event data store") {
		t.Errorf("Highlights LastRefreshFailure %q", h.LastRefreshFailure)
	}
}

func TestEngineErrors(t *testing.T) {
	lk := &fakeLake{}
	e, path := openTest(t, lk, nil, nil)
	ctx := t.Context()
	mk := func(name string, ws ...Widget) error {
		_, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: name, Widgets: ws})
		return err
	}
	if err := mk("one", widget); err != nil {
		t.Fatal(err)
	}
	if err := mk("one"); !errors.Is(err, ErrExists) {
		t.Errorf("same name: %v", err)
	}
	many := make([]Widget, 11)
	for i := range many {
		many[i] = widget
	}
	if err := mk("many", many...); !errors.Is(err, ErrLimit) {
		t.Errorf("11 widgets: %v", err)
	}
	bad := widget
	bad.Parameters = []string{ParamStartTime}
	if err := mk("bad", bad); !errors.Is(err, queries.ErrInvalidQuery) || !strings.Contains(err.Error(), "2 ? placeholders but 1") {
		t.Errorf("placeholders: %v", err)
	}
	bad.Parameters = []string{ParamStore, ParamEndTime}
	if err := mk("bad", bad); !errors.Is(err, queries.ErrInvalidQuery) || !strings.Contains(err.Error(), "not one of") {
		t.Errorf("store parameter on a custom dashboard: %v", err)
	}
	lk.checkErr = queries.ErrInvalidQuery
	if err := mk("bad", widget); !errors.Is(err, queries.ErrInvalidQuery) || !strings.Contains(err.Error(), "'2000-01-01 00:00:00'") {
		t.Errorf("the Lake's check: %v (want it given sample values)", err)
	}
	lk.checkErr = nil
	on := true
	if _, err := e.Update(ctx, acct, region, "one", Update{TerminationProtection: &on}); err != nil {
		t.Fatal(err)
	}
	if err := e.Delete(acct, region, "one"); !errors.Is(err, ErrProtected) {
		t.Errorf("delete protected: %v", err)
	}
	if err := e.Delete(acct, region, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	if _, err := e.Refresh(ctx, acct, region, "one", map[string]string{ParamPeriod: "x"}); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("refresh with a bad value: %v", err)
	}
	if _, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: HighlightsName}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Refresh(ctx, acct, region, HighlightsName, nil); !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), ParamStore) {
		t.Errorf("Highlights refresh without a store: %v", err)
	}
	ws := []Widget{widget}
	if _, err := e.Update(ctx, acct, region, HighlightsName, Update{Widgets: &ws}); !errors.Is(err, queries.ErrInvalidQuery) {
		t.Errorf("changing Highlights widgets: %v", err)
	}
	// Too many queries: ErrLimit, and nothing left running.
	lk.failAt, lk.failWith = 1, queries.ErrTooManyQueries
	if _, err := e.Refresh(ctx, acct, region, "one", nil); !errors.Is(err, ErrLimit) {
		t.Errorf("refresh over the query quota: %v", err)
	}
	// The file reads back.
	if n, err := Check(path); err != nil || n != 2 {
		t.Errorf("Check: %d, %v", n, err)
	}
}

func TestResolveAlias(t *testing.T) {
	lk := &fakeLake{}
	clock := newFakeClock(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	e, _ := openTest(t, lk, clock, []string{"s-1"})
	ctx := t.Context()
	d, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: "one", Widgets: []Widget{widget}})
	if err != nil {
		t.Fatal(err)
	}
	alias := d.Widgets[0].Alias
	tests := []struct {
		name   string
		alias  string
		params []string
		want   string
		ok     bool
		err    string
	}{
		{name: "defaults", alias: alias, ok: true,
			want: "SELECT eventName FROM eds WHERE eventTime > '2026-11-29 10:00:00' AND eventTime < '2026-12-06 10:00:00'"},
		{name: "values", alias: alias, params: []string{"2023-07-10 00:00:00", ParamEndTime}, ok: true,
			want: "SELECT eventName FROM eds WHERE eventTime > '2023-07-10 00:00:00' AND eventTime < '2026-12-06 10:00:00'"},
		{name: "wrong count", alias: alias, params: []string{"x"}, ok: true, err: "takes 2 query parameters"},
		{name: "not an alias", alias: "nope", ok: false},
		{name: "highlights store", alias: highlightsPrefix + "TopErrors", params: []string{"eds-9", "2023-07-01", "2023-08-01"}, ok: true,
			want: "FROM eds-9 WHERE eventTime >= '2023-07-01' AND eventTime <= '2023-08-01'"},
		{name: "highlights default store", alias: highlightsPrefix + "TopErrors", ok: true, want: "FROM s-1 WHERE"},
		{name: "highlights bad store", alias: highlightsPrefix + "TopErrors", params: []string{"x; DROP", "a", "b"}, ok: true, err: "must be an event data store id"},
	}
	if _, err := e.Create(ctx, Dashboard{Account: acct, Region: region, Name: HighlightsName}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := e.ResolveAlias(ctx, acct, region, tt.alias, tt.params)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, %v; want %q in it", got, err, tt.want)
			}
		})
	}
	// Another account does not see the alias.
	if _, ok, _ := e.ResolveAlias(ctx, "999999999999", region, alias, nil); ok {
		t.Error("another account resolved the alias")
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":       "{",
		"version":        `{"version":2,"dashboards":[]}`,
		"bad name":       `{"version":1,"dashboards":[{"account":"123456789012","region":"us-east-1","name":"a b","type":"CUSTOM","status":"CREATED"}]}`,
		"bad schedule":   `{"version":1,"dashboards":[{"account":"123456789012","region":"us-east-1","name":"abc","type":"CUSTOM","status":"CREATED","refreshSchedule":{"unit":"DAYS","value":2,"status":"ENABLED"}}]}`,
		"managed name":   `{"version":1,"dashboards":[{"account":"123456789012","region":"us-east-1","name":"abc","type":"MANAGED","status":"CREATED"}]}`,
		"placeholders":   `{"version":1,"dashboards":[{"account":"123456789012","region":"us-east-1","name":"abc","type":"CUSTOM","status":"CREATED","widgets":[{"queryAlias":"a","queryStatement":"SELECT ?"}]}]}`,
		"twice":          `{"version":1,"dashboards":[{"account":"123456789012","region":"us-east-1","name":"abc","type":"CUSTOM","status":"CREATED"},{"account":"123456789012","region":"us-east-1","name":"abc","type":"CUSTOM","status":"CREATED"}]}`,
		"bad refresh id": `{"version":1,"dashboards":[{"account":"123456789012","region":"us-east-1","name":"abc","type":"CUSTOM","status":"CREATED","lastRefreshId":"12"}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Check(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: Check = %v, want an error naming the file", name, err)
		}
	}
	if n, err := Check(filepath.Join(dir, "missing.json")); err != nil || n != 0 {
		t.Errorf("missing file: %d, %v", n, err)
	}
}

// FuzzFill: whatever the statement, Fill with as many arguments as it
// finds placeholders fills them all, and values holding quotes leave no
// placeholder behind (they cannot open or close a literal).
func FuzzFill(f *testing.F) {
	for _, s := range []string{"SELECT '?'", "SELECT ? FROM ?", "SELECT 'a''?' -- ?\n, \"?\" /* ? */ ?", "'", "\"", "/*", "--", "?'?'?", "'?''?'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stmt string) {
		n := len(placeholders(stmt))
		args := make([]Arg, n)
		for i := range args {
			args[i] = Arg{Text: "v'x"}
		}
		out, err := Fill(stmt, args)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && out != stmt {
			t.Fatalf("no placeholders, but %q became %q", stmt, out)
		}
		if left := placeholders(out); len(left) != 0 {
			t.Fatalf("%q -> %q still has placeholders %v: a value opened or closed a literal", stmt, out, left)
		}
		if _, err := Fill(stmt, append(args, Arg{})); err == nil {
			t.Fatal("one argument too many was accepted")
		}
	})
}

// FuzzResolveValues: a refresh's values either fail with
// ErrInvalidParameter or give a window that starts before it ends, a
// period date_trunc knows, and a store that fills FROM ? as an identifier.
func FuzzResolveValues(f *testing.F) {
	for _, s := range [][3]string{{"2024-11-12T16:00:00Z", "2024-11-19", "hour"}, {"1700000000", "", "DAY"}, {"", "2023-07-10T12:00", ""},
		{"x", "y", "z"}, {"2024-02-30", "", ""}, {"", "", "week"}} {
		f.Add(s[0], s[1], s[2], "eds-1")
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, start, end, period, store string) {
		in := map[string]string{}
		for k, v := range map[string]string{ParamStartTime: start, ParamEndTime: end, ParamPeriod: period, ParamStore: store} {
			if v != "" {
				in[k] = v
			}
		}
		v, err := ResolveValues(in, true, now)
		if err != nil {
			if !errors.Is(err, ErrInvalidParameter) {
				t.Fatalf("%v: %v is not ErrInvalidParameter", in, err)
			}
			return
		}
		if v.Start.After(v.End) || !slices.Contains(periods, v.Period) || store != "" && !storeIDPattern.MatchString(v.Store) {
			t.Fatalf("%v gave %+v", in, v)
		}
	})
}
