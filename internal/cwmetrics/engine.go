package cwmetrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

const (
	metricsDir = "metrics"
	alarmsFile = "alarms.log"
)

// Error codes, as the CloudWatch query protocol names them (the API maps
// them to the JSON/CBOR shape names).
const (
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeMissingParameter            = "MissingParameter"
	CodeResourceNotFound            = "ResourceNotFound"
	CodeInvalidNextToken            = "InvalidNextToken"
	CodeInvalidFormat               = "InvalidFormat"
	CodeLimitExceeded               = "LimitExceeded"
)

// Error is a refused request: Code is the API error code. Retrying the
// same request cannot succeed.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalidParameterValue, Message: fmt.Sprintf(format, args...)}
}

// ErrClosed is returned after Close; the caller is shutting down.
var ErrClosed = errors.New("cloudwatch: closed")

// Notifier publishes an alarm's state-change notification to an SNS topic
// (an adapter over the SNS engine). Publish MUST return nil only once the
// message is accepted (durable); an error makes the engine retry later,
// so Publish may see the same notification again (at least once).
type Notifier interface {
	Publish(ctx context.Context, account, topicARN, subject, message string) error
}

// Options configure an [Engine].
type Options struct {
	// Retention is how long 1-minute data is kept (15 days).
	Retention time.Duration
	// EvaluationDelay is how long after a period's end its alarms are
	// first evaluated (1 s: metric filters' values are in by then), and
	// RecheckDelay when the same periods are evaluated again, for data
	// that came late (alerts.md §5.2: 60 s). A state change found at the
	// recheck is notified then.
	EvaluationDelay, RecheckDelay time.Duration
	// TickInterval is how often Run looks for alarms due and
	// notifications to send (500 ms).
	TickInterval time.Duration
	// MaxRawValues bounds the distinct raw values a minute keeps for
	// percentiles (10,000); beyond it percentiles are unavailable.
	MaxRawValues int
	// MaxAlarms bounds an account's alarms in a Region (5,000).
	MaxAlarms int
	// MaxOutbox bounds the notifications waiting to be published
	// (10,000): beyond it the oldest are given up, logged. It matters
	// while no Notifier is set, when nothing drains the outbox.
	MaxOutbox int
	// RecentMinutes is how many minutes back the Prometheus collector
	// looks for data (5); MaxExported bounds the series it exports
	// (10,000).
	RecentMinutes int
	MaxExported   int
	// Notifier publishes alarm notifications; nil keeps them queued.
	Notifier Notifier
	Now      func() time.Time
	Logger   *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		Retention:       15 * 24 * time.Hour,
		EvaluationDelay: time.Second,
		RecheckDelay:    60 * time.Second,
		TickInterval:    500 * time.Millisecond,
		MaxRawValues:    10000,
		MaxAlarms:       5000,
		MaxOutbox:       10000,
		RecentMinutes:   5,
		MaxExported:     10000,
		Now:             time.Now,
	}
}

// Engine is the metric store and the alarms of every account and Region.
// It is safe for concurrent use.
type Engine struct {
	o   Options
	dir string

	mu     sync.Mutex
	closed bool
	series map[string]*series
	days   map[string]*logFile

	// alarms, under mu.
	alarms    map[string]*alarmEntry // by alarmKey
	alog      *logFile
	frames    int // frames in alarms.log
	outbox    []*outboxItem
	nextID    uint64
	sendMu    sync.Mutex // one delivery pass at a time
	wake      chan struct{}
	lastSwept time.Time
}

// Open opens (creating) the directory dir: it replays every metric day
// file and the alarm log, cutting torn tails and refusing damage with a
// *CorruptionError. It starts no goroutine: Run evaluates alarms.
func Open(dir string, o Options) (*Engine, error) {
	d := DefaultOptions()
	if o.Retention <= 0 {
		o.Retention = d.Retention
	}
	if o.EvaluationDelay < 0 || o.RecheckDelay < 0 {
		return nil, errors.New("cloudwatch: EvaluationDelay and RecheckDelay must not be negative")
	}
	if o.TickInterval <= 0 {
		o.TickInterval = d.TickInterval
	}
	if o.MaxRawValues <= 0 {
		o.MaxRawValues = d.MaxRawValues
	}
	if o.MaxAlarms <= 0 {
		o.MaxAlarms = d.MaxAlarms
	}
	if o.MaxOutbox <= 0 {
		o.MaxOutbox = d.MaxOutbox
	}
	if o.RecentMinutes <= 0 {
		o.RecentMinutes = d.RecentMinutes
	}
	if o.MaxExported <= 0 {
		o.MaxExported = d.MaxExported
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := missingAlarmLog(dir); err != nil {
		return nil, err
	}
	// The alarm log before metrics/, which marks a set-up directory.
	if err := createAlarmLog(dir); err != nil {
		return nil, fmt.Errorf("open cloudwatch: %w", err)
	}
	if err := fileutil.MkdirAll(filepath.Join(dir, metricsDir), 0o755); err != nil {
		return nil, fmt.Errorf("open cloudwatch: %w", err)
	}
	e := &Engine{o: o, dir: dir, series: map[string]*series{}, days: map[string]*logFile{},
		alarms: map[string]*alarmEntry{}, wake: make(chan struct{}, 1)}
	if err := e.loadMetrics(); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	if err := e.loadAlarms(); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// ErrAlarmLogMissing is returned by Open and Check for a directory that
// was set up (it has its metrics directory) but has lost its alarm log:
// the alarms, their states and pending notifications would be gone
// unnoticed. Restore alarms.log from a backup, or create it empty to start
// without alarms.
var ErrAlarmLogMissing = errors.New("cloudwatch: the alarm log is missing")

func missingAlarmLog(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, metricsDir)); err != nil {
		return nil // a new directory
	}
	path := filepath.Join(dir, alarmsFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s (restore it from a backup, or create it empty to start without alarms)", ErrAlarmLogMissing, path)
	}
	return nil
}

// createAlarmLog creates an empty alarm log, durably, unless there is one.
func createAlarmLog(dir string) error {
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, alarmsFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	return syncDir(dir)
}

func (e *Engine) loadMetrics() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.sweep(e.o.Now()); err != nil {
		return err
	}
	e.lastSwept = e.o.Now()
	names, err := dayFiles(e.dir)
	if err != nil {
		return err
	}
	for _, name := range names {
		path := filepath.Join(e.dir, metricsDir, name)
		f, cut, err := openLog(path, func(_ int64, p []byte) error {
			r, err := decodeRecord(p)
			if err != nil {
				return err
			}
			e.apply(r)
			return nil
		})
		if err != nil {
			return fmt.Errorf("open cloudwatch: %w", err)
		}
		if cut > 0 {
			e.o.Logger.Warn("cloudwatch: cut the torn tail of a metric file (never acknowledged)", "file", path, "bytes", cut)
		}
		e.days[name] = f
	}
	return nil
}

func dayFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, metricsDir))
	if err != nil {
		return nil, fmt.Errorf("open cloudwatch: %w", err)
	}
	var names []string
	for _, ent := range entries {
		if n := ent.Name(); strings.HasSuffix(n, ".log") && !ent.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// decodeRecord parses a metric frame's payload strictly.
func decodeRecord(p []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(p, &r); err != nil {
		return nil, fmt.Errorf("metric record: %w", err)
	}
	if r.Account == "" || r.Namespace == "" || r.Name == "" || r.Minute%60 != 0 || !(r.Count > 0) || r.Min > r.Max {
		return nil, errors.New("metric record: missing or inconsistent fields")
	}
	for _, d := range r.Dims {
		if d[0] == "" {
			return nil, errors.New("metric record: empty dimension name")
		}
	}
	return &r, nil
}

// Close closes the files. It is safe to call twice.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, f := range e.days {
		errs = append(errs, f.Close())
	}
	e.days = nil
	if e.alog != nil {
		errs = append(errs, e.alog.Close())
	}
	return errors.Join(errs...)
}

// Run evaluates alarms and sends notifications every TickInterval until
// ctx is cancelled; it returns nil then.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.o.TickInterval)
	defer t.Stop()
	for {
		e.Tick(ctx, e.o.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-e.wake:
		}
	}
}

// Tick does what is due at now: it evaluates every alarm whose period
// ended at least EvaluationDelay ago, sends pending notifications whose
// time has come, and drops data past retention once an hour. Run calls it;
// tests call it with a fake clock.
func (e *Engine) Tick(ctx context.Context, now time.Time) {
	e.mu.Lock()
	if !e.closed && now.Sub(e.lastSwept) >= time.Hour {
		if err := e.sweep(now); err != nil {
			e.o.Logger.Warn("cloudwatch: retention sweep failed", "err", err)
		}
		e.lastSwept = now
	}
	e.mu.Unlock()
	e.evaluateDue(now)
	e.deliver(ctx, now)
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func syncDir(dir string) error { return fileutil.SyncDir(dir) }
