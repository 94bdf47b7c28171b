package cwmetrics

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/alarm"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Tag is a resource tag.
type Tag struct{ Key, Value string }

// Alarm is a metric alarm as DescribeAlarms returns it.
type Alarm struct {
	Account, Region, ARN string
	Config               alarm.Config
	State                alarm.State
	StateReason          string
	StateReasonData      string // JSON, "" when none
	StateUpdated         time.Time
	StateTransitioned    time.Time
	ConfigUpdated        time.Time
}

// History item types.
const (
	HistoryStateUpdate         = "StateUpdate"
	HistoryConfigurationUpdate = "ConfigurationUpdate"
	HistoryAction              = "Action"
)

// HistoryItem is one DescribeAlarmHistory item.
type HistoryItem struct {
	AlarmName string
	Timestamp time.Time
	Type      string
	Summary   string
	Data      string
}

// maxHistory is how many history items an alarm keeps.
const maxHistory = 100

// Outbox retry policy (docs/format/cloudwatch.md).
const (
	maxAttempts  = 10
	firstBackoff = 10 * time.Second
	maxBackoff   = 10 * time.Minute
)

type alarmJSON struct {
	Account           string          `json:"account"`
	Region            string          `json:"region"`
	Config            alarm.Config    `json:"config"`
	State             alarm.State     `json:"state"`
	Reason            string          `json:"reason"`
	ReasonData        json.RawMessage `json:"reasonData,omitempty"`
	StateUpdated      time.Time       `json:"stateUpdated"`
	StateTransitioned time.Time       `json:"stateTransitioned"`
	ConfigUpdated     time.Time       `json:"configUpdated"`
	Tags              []Tag           `json:"tags,omitempty"`
}

type historyJSON struct {
	T       time.Time `json:"t"`
	Type    string    `json:"type"`
	Summary string    `json:"summary"`
	Data    string    `json:"data,omitempty"`
}

type outboxItem struct {
	ID      uint64 `json:"id"`
	Account string `json:"account"`
	Region  string `json:"region"`
	Alarm   string `json:"alarm"`
	Topic   string `json:"topic"`
	Subject string `json:"subject"`
	Message string `json:"message"`

	attempts int
	nextTry  time.Time
}

// alarmRec is one frame of alarms.log.
type alarmRec struct {
	Op      string        `json:"op"` // put, delete, sent
	Alarm   *alarmJSON    `json:"alarm,omitempty"`
	Account string        `json:"account,omitempty"`
	Region  string        `json:"region,omitempty"`
	Name    string        `json:"name,omitempty"`
	History []historyJSON `json:"history,omitempty"`
	Outbox  []*outboxItem `json:"outbox,omitempty"`
	IDs     []uint64      `json:"ids,omitempty"`
}

type alarmEntry struct {
	a        alarmJSON
	history  []historyJSON
	nextEval time.Time // zero: at the next tick
	// recheck, when set, is when the periods ending at recheckAt are
	// evaluated again, for late data.
	recheck, recheckAt time.Time
}

func alarmKey(account, region, name string) string { return account + "\x00" + region + "\x00" + name }

func alarmARN(account, region, name string) string {
	return "arn:aws:cloudwatch:" + region + ":" + account + ":alarm:" + name
}

func (a *alarmEntry) public() Alarm {
	return Alarm{Account: a.a.Account, Region: a.a.Region, ARN: alarmARN(a.a.Account, a.a.Region, a.a.Config.AlarmName),
		Config: a.a.Config, State: a.a.State, StateReason: a.a.Reason, StateReasonData: string(a.a.ReasonData),
		StateUpdated: a.a.StateUpdated, StateTransitioned: a.a.StateTransitioned, ConfigUpdated: a.a.ConfigUpdated}
}

// addHistory appends items, keeping the newest maxHistory.
func (a *alarmEntry) addHistory(items []historyJSON) {
	a.history = append(a.history, items...)
	if n := len(a.history); n > maxHistory {
		a.history = slices.Clone(a.history[n-maxHistory:])
	}
}

// applyAlarm applies a frame to memory. The caller holds e.mu (or is
// replaying).
func (e *Engine) applyAlarm(r *alarmRec) error {
	switch r.Op {
	case "put":
		if r.Alarm == nil || r.Alarm.Config.AlarmName == "" || r.Alarm.Account == "" || !r.Alarm.State.Valid() {
			return errors.New("alarm record: put without a valid alarm")
		}
		k := alarmKey(r.Alarm.Account, r.Alarm.Region, r.Alarm.Config.AlarmName)
		ent := e.alarms[k]
		if ent == nil {
			ent = &alarmEntry{}
			e.alarms[k] = ent
		}
		ent.a = *r.Alarm
		ent.addHistory(r.History)
	case "delete":
		delete(e.alarms, alarmKey(r.Account, r.Region, r.Name))
	case "sent":
		e.outbox = slices.DeleteFunc(e.outbox, func(o *outboxItem) bool { return slices.Contains(r.IDs, o.ID) })
		if ent := e.alarms[alarmKey(r.Account, r.Region, r.Name)]; ent != nil {
			ent.addHistory(r.History)
		}
	default:
		return fmt.Errorf("alarm record: unknown op %q", r.Op)
	}
	for _, o := range r.Outbox {
		if o == nil || o.ID == 0 || o.Topic == "" {
			return errors.New("alarm record: invalid outbox item")
		}
		e.outbox = append(e.outbox, o)
		e.nextID = max(e.nextID, o.ID)
	}
	return nil
}

func (e *Engine) loadAlarms() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	path := filepath.Join(e.dir, alarmsFile)
	if removed, err := fileutil.RemoveTemps(e.dir); err != nil {
		return fmt.Errorf("open cloudwatch: %w", err)
	} else if len(removed) > 0 {
		e.o.Logger.Warn("cloudwatch: removed the leftover of an interrupted alarm log compaction", "files", removed)
	}
	l, cut, err := openLog(path, func(_ int64, p []byte) error {
		var r alarmRec
		if err := json.Unmarshal(p, &r); err != nil {
			return fmt.Errorf("alarm record: %w", err)
		}
		e.frames++
		return e.applyAlarm(&r)
	})
	if err != nil {
		return fmt.Errorf("open cloudwatch: %w", err)
	}
	if cut > 0 {
		e.o.Logger.Warn("cloudwatch: cut the torn tail of the alarm log (never acknowledged)", "file", path, "bytes", cut)
	}
	e.alog = l
	if n := len(e.outbox); n > 0 {
		e.o.Logger.Info("cloudwatch: alarm notifications pending from before the restart will be sent (at least once)", "count", n)
	}
	return e.maybeCompact()
}

// logAlarm writes r to the alarm log (fsynced) and then applies it. The
// caller holds e.mu.
func (e *Engine) logAlarm(r *alarmRec) error {
	if e.closed {
		return ErrClosed
	}
	p, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := e.alog.write(appendFrame(nil, p)); err != nil {
		return err
	}
	e.frames++
	if err := e.applyAlarm(r); err != nil {
		return err
	}
	return e.maybeCompact()
}

// maybeCompact rewrites the alarm log when it is mostly superseded
// frames. The caller holds e.mu.
func (e *Engine) maybeCompact() error {
	live := len(e.alarms) + len(e.outbox)
	if e.frames <= 1000 || e.frames <= 4*live {
		return nil
	}
	path := filepath.Join(e.dir, alarmsFile)
	var buf []byte
	frames := 0
	keys := make([]string, 0, len(e.alarms))
	for k := range e.alarms {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ent := e.alarms[k]
		a := ent.a
		p, err := json.Marshal(&alarmRec{Op: "put", Alarm: &a, History: ent.history})
		if err != nil {
			return err
		}
		buf = appendFrame(buf, p)
		frames++
	}
	if len(e.outbox) > 0 {
		// Outbox items may belong to deleted alarms: a put needs an
		// alarm, so they ride in a sent frame that marks nothing.
		p, err := json.Marshal(&alarmRec{Op: "sent", Outbox: e.outbox})
		if err != nil {
			return err
		}
		buf = appendFrame(buf, p)
		frames++
	}
	if err := fileutil.WriteFileAtomic(path, buf, 0o644); err != nil {
		return fmt.Errorf("compact the alarm log: %w", err)
	}
	old := e.alog
	l, _, err := openLog(path, func(int64, []byte) error { return nil })
	if err != nil {
		return fmt.Errorf("compact the alarm log: %w", err)
	}
	e.alog, e.frames = l, frames
	return old.Close()
}

// PutMetricAlarm creates or replaces an alarm. An update keeps the state;
// a new alarm starts INSUFFICIENT_DATA. Both are evaluated at the next
// tick. Validation errors are *alarm.Error or *Error.
func (e *Engine) PutMetricAlarm(account, region string, cfg alarm.Config, tags []Tag) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Period%60 != 0 {
		return invalid("The parameter Period must be a multiple of 60: OpenTrail stores 1-minute data, so high-resolution alarms (10, 20 or 30 seconds) are not served.")
	}
	if len(tags) > 50 {
		return invalid("The collection Tags must not have a size greater than 50.")
	}
	now := e.o.Now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	k := alarmKey(account, region, cfg.AlarmName)
	ent := e.alarms[k]
	var a alarmJSON
	summary := fmt.Sprintf("Alarm %q updated", cfg.AlarmName)
	kind := "Update"
	if ent == nil {
		n := 0
		for _, x := range e.alarms {
			if x.a.Account == account && x.a.Region == region {
				n++
			}
		}
		if n >= e.o.MaxAlarms {
			return &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("The maximum number of alarms (%d) in this Region has been reached.", e.o.MaxAlarms)}
		}
		a = alarmJSON{Account: account, Region: region, State: alarm.StateInsufficientData, Reason: "Unchecked: Initial alarm creation",
			StateUpdated: now, StateTransitioned: now, Tags: tags}
		summary = fmt.Sprintf("Alarm %q created", cfg.AlarmName)
		kind = "Create"
	} else {
		a = ent.a
	}
	a.Config, a.ConfigUpdated = cfg, now
	data, _ := json.Marshal(map[string]any{"version": "1.0", "type": kind,
		strings.ToLower(kind) + "dAlarm": map[string]any{"alarmName": cfg.AlarmName, "namespace": cfg.Namespace, "metricName": cfg.MetricName,
			"period": cfg.Period, "evaluationPeriods": cfg.EvaluationPeriods, "threshold": cfg.Threshold, "comparisonOperator": cfg.ComparisonOperator}})
	err := e.logAlarm(&alarmRec{Op: "put", Alarm: &a, History: []historyJSON{{T: now, Type: HistoryConfigurationUpdate, Summary: summary, Data: string(data)}}})
	if err != nil {
		return fmt.Errorf("put metric alarm: %w", err)
	}
	e.alarms[k].nextEval = time.Time{}
	e.poke()
	return nil
}

// DescribeInput is DescribeAlarms' request.
type DescribeInput struct {
	Names        []string
	NamePrefix   string
	State        string
	ActionPrefix string
	MaxRecords   int // 1-100, 0 means 50
	NextToken    string
}

func pageToken(after string) string { return base64.RawURLEncoding.EncodeToString([]byte(after)) }

func parseToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", &Error{Code: CodeInvalidNextToken, Message: "The NextToken is invalid."}
	}
	return string(b), nil
}

func checkMax(n, def int) (int, error) {
	if n == 0 {
		return def, nil
	}
	if n < 1 || n > 100 {
		return 0, invalid("The parameter MaxRecords must be between 1 and 100.")
	}
	return n, nil
}

// DescribeAlarms lists the account's alarms in the Region by name.
func (e *Engine) DescribeAlarms(account, region string, in DescribeInput) ([]Alarm, string, error) {
	if len(in.Names) > 0 && in.NamePrefix != "" {
		return nil, "", &Error{Code: CodeInvalidParameterCombination, Message: "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive."}
	}
	if len(in.Names) > 100 {
		return nil, "", invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	if in.State != "" && !alarm.State(in.State).Valid() {
		return nil, "", invalid("The value %s for parameter StateValue is invalid (OK, ALARM, INSUFFICIENT_DATA).", in.State)
	}
	limit, err := checkMax(in.MaxRecords, 50)
	if err != nil {
		return nil, "", err
	}
	after, err := parseToken(in.NextToken)
	if err != nil {
		return nil, "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alarm
	for _, ent := range e.alarms {
		a := &ent.a
		c := &a.Config
		switch {
		case a.Account != account || a.Region != region || c.AlarmName <= after:
		case len(in.Names) > 0 && !slices.Contains(in.Names, c.AlarmName):
		case !strings.HasPrefix(c.AlarmName, in.NamePrefix):
		case in.State != "" && string(a.State) != in.State:
		case in.ActionPrefix != "" && !slices.ContainsFunc(slices.Concat(c.AlarmActions, c.OKActions, c.InsufficientDataActions),
			func(s string) bool { return strings.HasPrefix(s, in.ActionPrefix) }):
		default:
			out = append(out, ent.public())
		}
	}
	slices.SortFunc(out, func(x, y Alarm) int { return cmp.Compare(x.Config.AlarmName, y.Config.AlarmName) })
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = pageToken(out[limit-1].Config.AlarmName)
	}
	return out, next, nil
}

// ForMetricInput is DescribeAlarmsForMetric's request.
type ForMetricInput struct {
	Namespace, MetricName string
	Dimensions            []Dimension
	Statistic             string
	ExtendedStatistic     string
	Period                int
	Unit                  string
}

// DescribeAlarmsForMetric lists the alarms on one metric (the exact
// dimension set), narrowed by the optional members.
func (e *Engine) DescribeAlarmsForMetric(account, region string, in ForMetricInput) ([]Alarm, error) {
	if in.Namespace == "" || in.MetricName == "" {
		return nil, &Error{Code: CodeMissingParameter, Message: "The parameters Namespace and MetricName are required."}
	}
	want := seriesKey("", "", in.Namespace, in.MetricName, sortDims(in.Dimensions))
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Alarm{}
	for _, ent := range e.alarms {
		c := &ent.a.Config
		switch {
		case ent.a.Account != account || ent.a.Region != region:
		case seriesKey("", "", c.Namespace, c.MetricName, sortDims(c.Dimensions)) != want:
		case in.Statistic != "" && c.Statistic != in.Statistic, in.ExtendedStatistic != "" && c.ExtendedStatistic != in.ExtendedStatistic:
		case in.Period != 0 && c.Period != in.Period, in.Unit != "" && c.Unit != in.Unit:
		default:
			out = append(out, ent.public())
		}
	}
	slices.SortFunc(out, func(x, y Alarm) int { return cmp.Compare(x.Config.AlarmName, y.Config.AlarmName) })
	return out, nil
}

// DeleteAlarms deletes alarms; a name that does not exist fails the call
// with ResourceNotFound before anything is deleted.
func (e *Engine) DeleteAlarms(account, region string, names []string) error {
	if len(names) == 0 {
		return &Error{Code: CodeMissingParameter, Message: "The parameter AlarmNames is required."}
	}
	if len(names) > 100 {
		return invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range names {
		if e.alarms[alarmKey(account, region, n)] == nil {
			return &Error{Code: CodeResourceNotFound, Message: fmt.Sprintf("Alarm %s does not exist.", n)}
		}
	}
	for _, n := range names {
		if e.alarms[alarmKey(account, region, n)] == nil {
			continue // named twice
		}
		if err := e.logAlarm(&alarmRec{Op: "delete", Account: account, Region: region, Name: n}); err != nil {
			return fmt.Errorf("delete alarms: %w", err)
		}
	}
	return nil
}

// SetActionsEnabled enables or disables the actions of alarms; names
// that do not exist are ignored, as at AWS.
func (e *Engine) SetActionsEnabled(account, region string, names []string, enabled bool) error {
	if len(names) == 0 {
		return &Error{Code: CodeMissingParameter, Message: "The parameter AlarmNames is required."}
	}
	if len(names) > 100 {
		return invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.o.Now().UTC()
	for _, n := range names {
		ent := e.alarms[alarmKey(account, region, n)]
		if ent == nil || ent.a.Config.ActionsEnabled == enabled {
			continue
		}
		a := ent.a
		a.Config.ActionsEnabled = enabled
		a.ConfigUpdated = now
		what := "disabled"
		if enabled {
			what = "enabled"
		}
		h := historyJSON{T: now, Type: HistoryConfigurationUpdate, Summary: fmt.Sprintf("Alarm actions %s for %q", what, n)}
		if err := e.logAlarm(&alarmRec{Op: "put", Alarm: &a, History: []historyJSON{h}}); err != nil {
			return fmt.Errorf("set alarm actions: %w", err)
		}
	}
	return nil
}

// SetAlarmState forces an alarm's state. A change runs the new state's
// actions; the next evaluation may change the state back.
func (e *Engine) SetAlarmState(account, region, name string, state alarm.State, reason, reasonData string) error {
	switch {
	case name == "":
		return &Error{Code: CodeMissingParameter, Message: "The parameter AlarmName is required."}
	case !state.Valid():
		return invalid("The value %s for parameter StateValue is invalid (OK, ALARM, INSUFFICIENT_DATA).", state)
	case reason == "":
		return &Error{Code: CodeMissingParameter, Message: "The parameter StateReason is required."}
	case len(reason) > 1023:
		return invalid("The parameter StateReason must be at most 1023 characters.")
	case len(reasonData) > 4000:
		return invalid("The parameter StateReasonData must be at most 4000 characters.")
	case reasonData != "" && !json.Valid([]byte(reasonData)):
		return &Error{Code: CodeInvalidFormat, Message: "StateReasonData is not valid JSON."}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ent := e.alarms[alarmKey(account, region, name)]
	if ent == nil {
		return &Error{Code: CodeResourceNotFound, Message: fmt.Sprintf("Alarm %s does not exist.", name)}
	}
	res := alarm.Result{State: state, Reason: reason}
	if reasonData != "" {
		res.ReasonData = json.RawMessage(reasonData)
	}
	if err := e.transition(ent, res, e.o.Now().UTC()); err != nil {
		return fmt.Errorf("set alarm state: %w", err)
	}
	e.poke()
	return nil
}

// transition records a new state (and, on a change, its history item and
// notifications) durably, then applies it. The caller holds e.mu.
func (e *Engine) transition(ent *alarmEntry, res alarm.Result, now time.Time) error {
	a := ent.a
	old, oldReason := a.State, a.Reason
	a.Reason, a.ReasonData, a.StateUpdated = res.Reason, res.ReasonData, now
	rec := &alarmRec{Op: "put", Alarm: &a}
	if res.State != old {
		a.State, a.StateTransitioned = res.State, now
		rec.History = []historyJSON{{T: now, Type: HistoryStateUpdate,
			Summary: fmt.Sprintf("Alarm updated from %s to %s", old, res.State), Data: string(alarm.HistoryData(old, oldReason, res))}}
		for _, topic := range a.Config.ActionsFor(res.State) {
			cfg := a.Config
			n, err := alarm.NewNotification(alarm.Transition{Config: &cfg, AccountID: a.Account, Region: a.Region,
				AlarmARN: alarmARN(a.Account, a.Region, cfg.AlarmName), ConfigUpdated: a.ConfigUpdated,
				OldState: old, NewState: res.State, Reason: res.Reason, At: now})
			if err != nil {
				return err
			}
			e.nextID++
			rec.Outbox = append(rec.Outbox, &outboxItem{ID: e.nextID, Account: a.Account, Region: a.Region, Alarm: cfg.AlarmName,
				Topic: topic, Subject: n.Subject, Message: string(n.Message)})
		}
	}
	if err := e.logAlarm(rec); err != nil {
		return err
	}
	return e.trimOutbox()
}

// trimOutbox gives up the oldest pending notifications beyond MaxOutbox.
// The caller holds e.mu.
func (e *Engine) trimOutbox() error {
	over := len(e.outbox) - e.o.MaxOutbox
	if over <= 0 {
		return nil
	}
	ids := make([]uint64, over)
	for i, o := range e.outbox[:over] {
		ids[i] = o.ID
	}
	e.o.Logger.Warn("cloudwatch: too many alarm notifications waiting to be published; giving up the oldest",
		"dropped", over, "limit", e.o.MaxOutbox, "notifier", e.o.Notifier != nil)
	return e.logAlarm(&alarmRec{Op: "sent", IDs: ids})
}

// evaluateDue evaluates the alarms due at now.
func (e *Engine) evaluateDue(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	first := now.Add(-e.o.EvaluationDelay)
	for _, ent := range e.alarms {
		// A recheck due goes first: it looks at older periods than the
		// evaluation that may be due in the same tick.
		if !ent.recheck.IsZero() && !now.Before(ent.recheck) {
			at := ent.recheckAt
			ent.recheck = time.Time{}
			e.evaluateAt(ent, at, now)
		}
		if now.Before(ent.nextEval) {
			continue
		}
		p := int64(ent.a.Config.Period)
		ent.nextEval = time.Unix((floorDiv(first.Unix(), p)+1)*p, 0).Add(e.o.EvaluationDelay)
		if e.o.RecheckDelay > e.o.EvaluationDelay {
			ent.recheck, ent.recheckAt = now.Add(e.o.RecheckDelay-e.o.EvaluationDelay), first
		}
		e.evaluateAt(ent, first, now)
	}
}

// evaluateAt evaluates an alarm on the periods that end by at and records
// a state change; the caller holds e.mu.
func (e *Engine) evaluateAt(ent *alarmEntry, at, now time.Time) {
	cfg := &ent.a.Config
	res := alarm.Evaluate(cfg, ent.a.State, e.datapoints(ent, at), at)
	if res.State == ent.a.State {
		// Same state: the reason's numbers may differ, but a write per
		// alarm and period is not worth it.
		return
	}
	if err := e.transition(ent, res, now.UTC()); err != nil {
		e.o.Logger.Error("cloudwatch: recording an alarm state change failed; retrying at the next tick",
			"alarm", cfg.AlarmName, "account", ent.a.Account, "err", err)
		ent.nextEval = time.Time{}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// datapoints returns the alarm's statistic over its evaluation range,
// periods aligned to the epoch. The caller holds e.mu.
func (e *Engine) datapoints(ent *alarmEntry, at time.Time) []alarm.Datapoint {
	c := &ent.a.Config
	s := e.series[seriesKey(ent.a.Account, ent.a.Region, c.Namespace, c.MetricName, sortDims(c.Dimensions))]
	if s == nil {
		return nil
	}
	stat := c.Statistic
	if stat == "" {
		stat = c.ExtendedStatistic
	}
	p := int64(c.Period)
	end := floorDiv(at.Unix(), p) * p
	var out []alarm.Datapoint
	for i := alarm.EvaluationRange(c.EvaluationPeriods); i > 0; i-- {
		from := end - int64(i)*p
		agg, _ := s.aggregate(from, from+p, unitOf(c.Unit), c.Unit != "")
		if v, ok := agg.Statistic(stat); ok {
			out = append(out, alarm.Datapoint{Timestamp: time.Unix(from, 0).UTC(), Value: v, SampleCount: agg.SampleCount()})
		}
	}
	return out
}

// deliver publishes the pending notifications due at now.
func (e *Engine) deliver(ctx context.Context, now time.Time) {
	if e.o.Notifier == nil {
		return
	}
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	e.mu.Lock()
	var due []*outboxItem
	for _, o := range e.outbox {
		if !now.Before(o.nextTry) {
			due = append(due, o)
		}
	}
	e.mu.Unlock()
	for _, o := range due {
		if ctx.Err() != nil {
			return
		}
		err := e.o.Notifier.Publish(ctx, o.Account, o.Topic, o.Subject, o.Message)
		h := historyJSON{T: now.UTC(), Type: HistoryAction}
		if err == nil {
			h.Summary = "Successfully executed action " + o.Topic
		} else {
			o.attempts++
			e.o.Logger.Warn("cloudwatch: publishing an alarm notification failed", "alarm", o.Alarm, "topic", o.Topic,
				"attempt", o.attempts, "err", err)
			if o.attempts < maxAttempts {
				o.nextTry = now.Add(min(firstBackoff<<(o.attempts-1), maxBackoff))
				continue
			}
			h.Summary = "Failed to execute action " + o.Topic + " after " + strconv.Itoa(o.attempts) + " attempts: " + err.Error()
		}
		e.mu.Lock()
		werr := e.logAlarm(&alarmRec{Op: "sent", IDs: []uint64{o.ID}, Account: o.Account, Region: o.Region, Name: o.Alarm, History: []historyJSON{h}})
		e.mu.Unlock()
		if werr != nil && !errors.Is(werr, ErrClosed) {
			e.o.Logger.Error("cloudwatch: recording a sent notification failed; it may be sent again", "alarm", o.Alarm, "err", werr)
		}
	}
}

// HistoryInput is DescribeAlarmHistory's request.
type HistoryInput struct {
	AlarmName          string
	Type               string
	StartDate, EndDate time.Time
	// ScanBy is TimestampDescending (default) or TimestampAscending.
	ScanBy     string
	MaxRecords int // 1-100, 0 means 100
	NextToken  string
}

// DescribeAlarmHistory lists history items of the account's alarms.
func (e *Engine) DescribeAlarmHistory(account, region string, in HistoryInput) ([]HistoryItem, string, error) {
	switch in.Type {
	case "", HistoryStateUpdate, HistoryConfigurationUpdate, HistoryAction:
	default:
		return nil, "", invalid("The value %s for parameter HistoryItemType is invalid.", in.Type)
	}
	switch in.ScanBy {
	case "", "TimestampDescending", "TimestampAscending":
	default:
		return nil, "", invalid("The value %s for parameter ScanBy is invalid.", in.ScanBy)
	}
	limit, err := checkMax(in.MaxRecords, 100)
	if err != nil {
		return nil, "", err
	}
	offset := 0
	if in.NextToken != "" {
		s, err := parseToken(in.NextToken)
		if err != nil {
			return nil, "", err
		}
		if offset, err = strconv.Atoi(s); err != nil || offset <= 0 {
			return nil, "", &Error{Code: CodeInvalidNextToken, Message: "The NextToken is invalid."}
		}
	}
	e.mu.Lock()
	var out []HistoryItem
	for _, ent := range e.alarms {
		if ent.a.Account != account || ent.a.Region != region || in.AlarmName != "" && ent.a.Config.AlarmName != in.AlarmName {
			continue
		}
		for _, h := range ent.history {
			if in.Type != "" && h.Type != in.Type || !in.StartDate.IsZero() && h.T.Before(in.StartDate) || !in.EndDate.IsZero() && h.T.After(in.EndDate) {
				continue
			}
			out = append(out, HistoryItem{AlarmName: ent.a.Config.AlarmName, Timestamp: h.T, Type: h.Type, Summary: h.Summary, Data: h.Data})
		}
	}
	e.mu.Unlock()
	slices.SortStableFunc(out, func(x, y HistoryItem) int {
		return cmp.Or(x.Timestamp.Compare(y.Timestamp), cmp.Compare(x.AlarmName, y.AlarmName))
	})
	if in.ScanBy != "TimestampAscending" {
		slices.Reverse(out)
	}
	if offset > len(out) {
		return nil, "", &Error{Code: CodeInvalidNextToken, Message: "The NextToken is invalid or has expired."}
	}
	out = out[offset:]
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = pageToken(strconv.Itoa(offset + limit))
	}
	return out, next, nil
}
