package eventbus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/eventpattern"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Topics is the SNS the engine publishes to (an *sns.Service, adapted by
// the daemon).
type Topics interface {
	// TopicExists reports whether account owns the topic.
	TopicExists(account, topicARN string) bool
	// Publish publishes message to the topic as account; it returns once
	// the topic's deliveries are durable.
	Publish(ctx context.Context, account, topicARN, message string) error
}

// Options configure an [Engine]. Start from [DefaultOptions].
type Options struct {
	// Admit decides whether an event of the log reaches its account's
	// default bus (alerts.md §3.1: a logging trail must cover it). nil
	// admits every event.
	Admit func(ev *event.Event) bool
	// Topics publishes to SNS topics; nil refuses SNS targets.
	Topics Topics
	// Client sends API destination requests; its timeout is the
	// invocation timeout (5 s at AWS).
	Client *http.Client
	// RetryBase and RetryMax bound the exponential back-off between
	// attempts of one delivery.
	RetryBase, RetryMax time.Duration
	// MaxRulesPerBus is the rule quota of one account's bus in a Region
	// (AWS: 300, adjustable); 0 means MaxRulesPerBus. MaxWildcardRules
	// is how many of them may use wildcard (AWS: 30); 0 means
	// MaxWildcardRules.
	MaxRulesPerBus, MaxWildcardRules int

	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults: every event admitted, a 5 s
// invocation timeout, back-off from 1 s to 5 minutes.
func DefaultOptions() Options {
	return Options{
		Client:    &http.Client{Timeout: 5 * time.Second},
		RetryBase: time.Second,
		RetryMax:  5 * time.Minute,
		Now:       time.Now,
		Logger:    slog.Default(),
	}
}

// StateFile is the checkpoint's file name (docs/format/eventbus.md).
const StateFile = "state.json"

// Engine is the default event bus of every account: its catalogue, its
// follower of the event log and its deliveries.
type Engine struct {
	opts Options
	dir  string
	log  *slog.Logger
	cat  *catalog
	out  *outbox
	met  *metrics

	mu         sync.Mutex
	sets       map[Scope]*eventpattern.Set
	rules      map[string]*Rule // by ARN, for matching
	ck         *fileutil.Checkpoint
	queues     map[string]*queue // by rule ARN + "/" + target id
	deliveries sync.WaitGroup
	ctx        context.Context // ends deliveries; set by Run
	cancel     context.CancelFunc

	tokens *tokenCache
	limits *rateLimits
}

// Open opens (or creates) the engine's directory.
func Open(dir string, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Client == nil {
		opts.Client = DefaultOptions().Client
	}
	if opts.MaxRulesPerBus <= 0 {
		opts.MaxRulesPerBus = MaxRulesPerBus
	}
	if opts.MaxWildcardRules <= 0 {
		opts.MaxWildcardRules = MaxWildcardRules
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.RetryMax < opts.RetryBase {
		opts.RetryMax = opts.RetryBase
	}
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	e := &Engine{opts: opts, dir: dir, log: opts.Logger, queues: map[string]*queue{},
		tokens: newTokenCache(), limits: newRateLimits()}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if err := checkFiles(dir); err != nil {
		return nil, err
	}
	var err error
	if e.cat, err = openCatalog(dir); err != nil {
		return nil, err
	}
	if e.ck, err = fileutil.OpenCheckpoint(filepath.Join(dir, StateFile)); err != nil {
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	e.met = newMetrics(opts.Registerer)
	if e.out, err = openOutbox(dir, e.log); err != nil {
		return nil, err
	}
	e.rebuild()
	return e, nil
}

// Checkpoint returns the seq up to which every event has been matched and
// its deliveries recorded, and whether the engine has a state yet.
func (e *Engine) Checkpoint() (uint64, bool) { return e.ck.Get() }

func (e *Engine) saveState(seq uint64) error {
	if err := e.ck.Save(seq); err != nil {
		return fmt.Errorf("eventbus: %w", err)
	}
	return nil
}

// Init starts the engine at head (a new data directory): it writes the
// catalogue and the checkpoint, so that from now on the three files are
// there together (checkFiles).
func (e *Engine) Init(head uint64) error {
	e.cat.mu.Lock()
	err := e.cat.saveLocked()
	e.cat.mu.Unlock()
	if err != nil {
		return err
	}
	return e.saveState(head)
}

// checkFiles refuses a directory that holds some but not all of the
// engine's three files: a deleted file would otherwise lose rules, the
// checkpoint (events matched twice or never) or pending deliveries
// without a word.
func checkFiles(dir string) error {
	exists := func(f string) bool { _, err := os.Stat(filepath.Join(dir, f)); return err == nil }
	var missing []string
	if exists(StateFile) {
		for _, f := range []string{CatalogFile, OutboxFile} {
			if !exists(f) {
				missing = append(missing, f)
			}
		}
	} else if st, err := os.Stat(filepath.Join(dir, OutboxFile)); exists(CatalogFile) || err == nil && st.Size() > 0 {
		missing = append(missing, StateFile)
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("eventbus: %s has lost %s, which serve writes with the rest of its state; restore it from a backup, or move %s aside to start EventBridge over (its rules, connections and pending deliveries are lost)",
		dir, strings.Join(missing, " and "), dir)
}

// Close stops deliveries and closes the outbox.
func (e *Engine) Close() error {
	e.cancel()
	e.deliveries.Wait()
	return e.out.close()
}

// rulesChanged rebuilds the matchers after a catalogue change.
func (e *Engine) rulesChanged() { e.rebuild() }

// rebuild compiles every enabled rule into one set per account and Region.
func (e *Engine) rebuild() {
	e.cat.mu.RLock()
	sets := map[Scope]*eventpattern.Set{}
	rules := map[string]*Rule{}
	for _, r := range e.cat.f.Rules {
		if r.State == StateDisabled || len(r.Targets) == 0 {
			continue
		}
		p, err := eventpattern.Parse([]byte(r.EventPattern))
		if err != nil {
			e.log.Error("eventbus: a stored rule's pattern no longer parses; the rule is skipped", "rule", r.ARN(), "err", err)
			continue
		}
		s := Scope{r.Account, r.Region}
		if sets[s] == nil {
			sets[s] = eventpattern.NewSet()
		}
		rc := *r
		sets[s].Add(r.ARN(), p)
		rules[r.ARN()] = &rc
	}
	e.cat.mu.RUnlock()
	e.mu.Lock()
	e.sets, e.rules = sets, rules
	e.mu.Unlock()
	e.met.rules.Set(float64(len(rules)))
}

// DetailType returns the detail-type of a CloudTrail event on the bus, or
// "" for an event that does not go there (alerts.md §3.1). Events from
// outside AWS (ActivityAuditLog) never do: "AWS API Call via CloudTrail"
// and its kin are for AWS's own calls, and AWS documents no detail-type
// for what channels receive.
func DetailType(s *event.Summary) string {
	switch s.Category {
	case event.CategoryActivityAuditLog:
		return ""
	case event.CategoryInsight:
		return "AWS Insight via CloudTrail"
	case event.CategoryNetwork:
		return "AWS Network Activity Event via CloudTrail"
	}
	switch s.EventType {
	case "AwsApiCall":
		return "AWS API Call via CloudTrail"
	case "AwsConsoleSignIn":
		return "AWS Console Sign In via CloudTrail"
	case "AwsConsoleAction":
		return "AWS Console Action via CloudTrail"
	case "AwsServiceEvent":
		return "AWS Service Event via CloudTrail"
	}
	return ""
}

// MaxEventBytes is the largest event the bus carries (256 KB).
const MaxEventBytes = 256 * 1024

// Envelope wraps a CloudTrail event as EventBridge delivers it
// (alerts.md §3.2). ok is false for events that do not go to the bus.
func Envelope(ev *event.Event) (env []byte, ok bool) {
	dt := DetailType(&ev.Summary)
	if dt == "" || len(ev.Raw) > MaxEventBytes {
		return nil, false
	}
	src := ev.EventSource
	if i := strings.IndexByte(src, '.'); i > 0 {
		src = src[:i]
	}
	h := sha256.Sum256([]byte("eventbridge/" + ev.EventID))
	b := make([]byte, 0, len(ev.Raw)+256)
	b = append(b, `{"version":"0","id":`...)
	b = strconv.AppendQuote(b, uuidOf(h[:16]))
	b = append(b, `,"detail-type":`...)
	b = strconv.AppendQuote(b, dt)
	b = append(b, `,"source":`...)
	b, _ = appendJSONString(b, "aws."+src)
	b = append(b, `,"account":`...)
	b, _ = appendJSONString(b, ev.Account)
	b = append(b, `,"time":"`...)
	b = ev.EventTime.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	b = append(b, `","region":`...)
	b, _ = appendJSONString(b, ev.Region)
	b = append(b, `,"resources":[],"detail":`...)
	b = append(b, ev.Raw...)
	b = append(b, '}')
	return b, true
}

func appendJSONString(b []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(b, q...), err
}

// uuidOf formats 16 bytes as a version-4-shaped UUID.
func uuidOf(b []byte) string {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// readOnlyMgmt reports whether a rule in state ENABLED skips ev: a
// read-only management event from CloudTrail (alerts.md §3.1).
func readOnlyMgmt(ev *event.Event) bool {
	return ev.Category == event.CategoryMgmt && ev.ReadOnly != nil && *ev.ReadOnly
}

// match returns the deliveries one envelope causes in scope s; idPrefix
// makes their ids.
func (e *Engine) match(s Scope, env []byte, skipEnabled bool, idPrefix string, now time.Time) []*delivery {
	e.mu.Lock()
	set, rules := e.sets[s], e.rules
	e.mu.Unlock()
	if set == nil {
		return nil
	}
	ids, err := set.Match(env)
	if err != nil {
		e.log.Warn("eventbus: matching an event failed", "err", err)
		return nil
	}
	var out []*delivery
	for _, arn := range ids {
		r := rules[arn]
		if r == nil || skipEnabled && r.State == StateEnabled {
			continue
		}
		for i := range r.Targets {
			t := &r.Targets[i]
			input, err := e.input(r, t, env, now)
			if err != nil {
				e.met.failed.Inc()
				e.log.Warn("eventbus: building a target's input failed; the event is not sent to it", "rule", arn, "target", t.ID, "err", err)
				continue
			}
			out = append(out, &delivery{ID: idPrefix + "/" + arn + "/" + t.ID, Rule: arn, Target: t.ID, ARN: t.ARN,
				Input: string(input), Time: now})
		}
	}
	e.met.matched.Add(float64(len(out)))
	return out
}

// Run follows the log until ctx ends, matching each admitted event and
// recording its deliveries, and runs the deliveries. A failed write
// is retried (store.Follower.Loop); at shutdown it finishes what the log
// holds.
func (e *Engine) Run(ctx context.Context, f *store.Follower) error {
	e.resume()
	defer e.cancel()
	return f.Loop(ctx, store.Loop{Name: "eventbus", Batch: readBatch, Now: e.opts.Now, Log: e.log,
		Apply: func(entries []store.Entry) error { return e.add(e.matchEntries(nil, entries)) },
		Save:  e.saveState,
	})
}

// matchEntries appends the deliveries a batch of the log causes.
func (e *Engine) matchEntries(batch []*delivery, entries []store.Entry) []*delivery {
	for _, en := range entries {
		ev := en.Event
		if e.opts.Admit != nil && !e.opts.Admit(ev) {
			continue
		}
		env, ok := Envelope(ev)
		if !ok {
			continue
		}
		batch = append(batch, e.match(Scope{ev.Account, ev.Region}, env, readOnlyMgmt(ev), strconv.FormatUint(en.Seq, 10), e.opts.Now())...)
	}
	return batch
}

// readBatch is how many events of the log one round matches; their
// deliveries are written with one fsync.
const readBatch = 8192

// add makes deliveries durable, then queues them.
func (e *Engine) add(ds []*delivery) error {
	if len(ds) == 0 {
		return nil
	}
	ds, err := e.out.add(ds)
	if err != nil {
		return err
	}
	for _, d := range ds {
		e.enqueue(d)
	}
	return nil
}

// resume queues the deliveries the outbox holds from an earlier run.
func (e *Engine) resume() {
	for _, d := range e.out.pendingList() {
		e.enqueue(d)
	}
}

// PutEntry is one PutEvents entry.
type PutEntry struct {
	Source, DetailType, Detail string
	Resources                  []string
	Time                       time.Time
}

// PutResult is one PutEvents entry's outcome: an event id, or an error
// code and message.
type PutResult struct {
	EventID, ErrorCode, ErrorMessage string
}

// PutEvents puts custom events on s's default bus: each is matched against
// the bus's rules and its deliveries are durable before PutEvents returns.
func (e *Engine) PutEvents(s Scope, entries []PutEntry) ([]PutResult, error) {
	out := make([]PutResult, len(entries))
	var batch []*delivery
	now := e.opts.Now()
	for i, en := range entries {
		env, code, msg := e.customEnvelope(s, en, now)
		if code != "" {
			out[i] = PutResult{ErrorCode: code, ErrorMessage: msg}
			continue
		}
		id := string(env.ID)
		out[i] = PutResult{EventID: id}
		b, _ := json.Marshal(env)
		batch = append(batch, e.match(s, b, false, "put/"+id, now)...)
	}
	if err := e.add(batch); err != nil {
		return nil, err
	}
	return out, nil
}

type customEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

func (e *Engine) customEnvelope(s Scope, en PutEntry, now time.Time) (customEvent, string, string) {
	switch {
	case en.Source == "":
		return customEvent{}, "MalformedDetail", "Source is not valid. Reason: Source is a required argument."
	case en.DetailType == "":
		return customEvent{}, "MalformedDetail", "DetailType is not valid. Reason: DetailType is a required argument."
	case en.Detail == "":
		return customEvent{}, "MalformedDetail", "Detail is malformed."
	case strings.HasPrefix(en.Source, "aws."):
		return customEvent{}, "NotAuthorizedForSourceException", "Not authorized for the source."
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(en.Detail), &obj); err != nil {
		return customEvent{}, "MalformedDetail", "Detail is malformed."
	}
	t := en.Time
	if t.IsZero() {
		t = now
	}
	ev := customEvent{Version: "0", ID: newID(), DetailType: en.DetailType, Source: en.Source, Account: s.Account,
		Time: t.UTC().Format("2006-01-02T15:04:05Z"), Region: s.Region, Resources: en.Resources, Detail: json.RawMessage(en.Detail)}
	if ev.Resources == nil {
		ev.Resources = []string{}
	}
	if b, _ := json.Marshal(ev); len(b) > MaxEventBytes {
		return customEvent{}, "ValidationException", "Total size of the entries in the request is over the limit."
	}
	return ev, "", ""
}

// CheckReport is what [Check] finds.
type CheckReport struct {
	Checkpoint  uint64
	HasState    bool
	Rules       int
	Pending     int
	DeadLetters int
	Problems    []string
}

// Check reads the engine's directory without changing it, with the code
// Open reads it with.
func Check(dir string) CheckReport {
	var r CheckReport
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return r
	}
	if err := checkFiles(dir); err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	if c, err := openCatalog(dir); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Rules = len(c.f.Rules)
	}
	if ck, err := fileutil.OpenCheckpoint(filepath.Join(dir, StateFile)); err != nil {
		r.Problems = append(r.Problems, "eventbus: "+err.Error())
	} else {
		r.Checkpoint, r.HasState = ck.Get()
	}
	if o, _, _, err := readOutbox(dir, slog.New(slog.DiscardHandler)); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Pending = len(o.pending)
	}
	if dl, err := DeadLetters(dir); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.DeadLetters = len(dl)
	}
	return r
}
