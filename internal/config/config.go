// Package config is OpenTrail's configuration: the server config file's
// schema, its defaults, and validation whose errors name the field path.
// The settings a data directory keeps between runs (settings.json) belong
// to package datadir.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
)

// Defaults.
const (
	DefaultDataDir = "./opentrail-data"
	DefaultListen  = "127.0.0.1:4750"
)

// Config is the server configuration. The file is JSON; command-line flags
// override it.
type Config struct {
	// DataDir holds the event store, accounts and credentials.
	DataDir string `json:"dataDir,omitempty"`
	// Listen is the host:port the API listens on.
	Listen string `json:"listen,omitempty"`
	// MetricsListen, when set, is the host:port of a second server that
	// answers Prometheus scrapes, without authentication; empty (the
	// default) serves no metrics. It is apart from Listen so that the
	// API port serves nothing to a caller without a key.
	MetricsListen string `json:"metricsListen,omitempty"`
	// ConfirmRetentionChange lets a shorter EventHistoryRetentionDays
	// delete the stored events it leaves out; without it such a change is
	// refused, saying how many events it would delete. Not read from the
	// config file: only the --confirm-retention-change flag sets it.
	ConfirmRetentionChange bool `json:"-"`
	// AccountID is the id of the account created on first start (random
	// when empty).
	AccountID string `json:"accountId,omitempty"`
	// EventHistoryRetentionDays is how long LookupEvents keeps events; 0
	// keeps everything. Nil means "what the data directory says" (default
	// 90 days).
	EventHistoryRetentionDays *int `json:"eventHistoryRetentionDays,omitempty"`
	// LookupEventsRateLimit is the per-account, per-region LookupEvents
	// rate in requests per second (AWS enforces 2); 0 turns it off.
	LookupEventsRateLimit float64 `json:"lookupEventsRateLimit,omitempty"`
	// PutAuditEventsRateLimit is each channel's PutAuditEvents rate in
	// events per second (a burst of one full request, 100 events, or the
	// rate if larger); beyond it callers get ThrottlingException. 0 (the
	// default) turns it off.
	PutAuditEventsRateLimit float64 `json:"putAuditEventsRateLimit,omitempty"`
	// Regions, when set, are the only signing regions served.
	Regions []string `json:"regions,omitempty"`
	// MaxRequestBytes caps request bodies.
	MaxRequestBytes int64 `json:"maxRequestBytes,omitempty"`
	// ShutdownTimeout bounds a graceful shutdown, e.g. "30s".
	ShutdownTimeout Duration `json:"shutdownTimeout,omitempty"`
	// Delivery tunes trail delivery.
	Delivery Delivery `json:"delivery,omitzero"`
	// Buckets says where trail buckets live: the embedded store under the
	// data directory (the default) or an S3-compatible endpoint.
	Buckets Buckets `json:"buckets,omitzero"`
	// PublicURL is the URL SNS subscribers reach this server at: the base
	// of the SubscribeURL, UnsubscribeURL and SigningCertURL of every SNS
	// message. Empty means the listener's own http://host:port.
	PublicURL string `json:"publicUrl,omitempty"`
	// Notifications maps trails' SNS topics to webhooks, a shortcut for
	// topics not created through the SNS API (README).
	Notifications Notifications `json:"notifications,omitzero"`
	// Lake tunes CloudTrail Lake.
	Lake Lake `json:"lake,omitzero"`
	// QueryGenerator is the chat model GenerateQuery asks; without a URL
	// GenerateQuery answers that none is configured.
	QueryGenerator QueryGenerator `json:"queryGenerator,omitzero"`
	// Insights tunes the Insights detector.
	Insights Insights `json:"insights,omitzero"`
	// EventBridge tunes the default event bus.
	EventBridge EventBridge `json:"eventBridge,omitzero"`
	// CloudWatch tunes CloudWatch alarms.
	CloudWatch CloudWatch `json:"cloudWatch,omitzero"`
}

// CloudWatch tunes CloudWatch alarms (package cwmetrics); zero values take
// the defaults.
type CloudWatch struct {
	// EvaluationDelay is how long after a period ends its alarms are
	// first evaluated (default 1s); RecheckDelay when the same periods
	// are evaluated again, so late datapoints count (default 60s,
	// alerts.md §5.2).
	EvaluationDelay Duration `json:"evaluationDelay,omitempty"`
	RecheckDelay    Duration `json:"recheckDelay,omitempty"`
}

// EventBridge tunes the default event bus (package eventbus).
type EventBridge struct {
	// WithoutTrail sends every recorded event to its account's default
	// bus, also where no logging trail covers it. AWS's guide requires a
	// logging trail (alerts.md §3.1), and so does OpenTrail by default.
	WithoutTrail bool `json:"withoutTrail,omitempty"`
}

// Insights tunes the Insights detector (package insights,
// docs/design/decisions.md §59–§64); zero values take the defaults.
type Insights struct {
	// BaselineWindow is how far back baselines reach (default 7 days).
	BaselineWindow Duration `json:"baselineWindow,omitempty"`
	// WarmUp is the history an account and region needs before a Start
	// (default 24h); "0s" raises Insights from the first minutes.
	WarmUp *Duration `json:"warmUp,omitempty"`
	// Grace is how long after a minute ends it is judged by the wall
	// clock (default 30s); Reorder how far out of order imported events
	// may come (default 1h).
	Grace   Duration `json:"grace,omitempty"`
	Reorder Duration `json:"reorder,omitempty"`
	// K, Ratio and Floor make the threshold max(mean + K·σ, Ratio·mean,
	// Floor) (defaults 5, 2 and 5).
	K     float64 `json:"k,omitempty"`
	Ratio float64 `json:"ratio,omitempty"`
	Floor float64 `json:"floor,omitempty"`
	// StartMinutes and EndMinutes are the consecutive unusual (normal)
	// minutes that raise a Start (End) (defaults 2 and 5).
	StartMinutes int `json:"startMinutes,omitempty"`
	EndMinutes   int `json:"endMinutes,omitempty"`
	// MaxOpen caps the open anomalies per account and region (default 50).
	MaxOpen int `json:"maxOpen,omitempty"`
	// Early raises a Start before the minute that completes it closes,
	// once its count is above the threshold (default true; decision §82).
	Early *bool `json:"early,omitempty"`
	// DropWindow, DropRatio, DropK and DropMin tune the rule for calls
	// that stop (defaults 3h, 4, 3 and 20; "0s" turns it off; decision
	// §83).
	DropWindow *Duration `json:"dropWindow,omitempty"`
	DropRatio  float64   `json:"dropRatio,omitempty"`
	DropK      float64   `json:"dropK,omitempty"`
	DropMin    float64   `json:"dropMin,omitempty"`
}

// Lake tunes CloudTrail Lake (package lake); zero values take the defaults.
type Lake struct {
	// FlushInterval is the longest an event waits before its stores write
	// it (default 1s): about how long until a query sees it.
	FlushInterval Duration `json:"flushInterval,omitempty"`
	// MaintainInterval is how often compaction, retention, the scrub and
	// purging run (default 30s).
	MaintainInterval Duration `json:"maintainInterval,omitempty"`
	// CompactFiles compacts a day of a store once it has this many files
	// (default 8).
	CompactFiles int `json:"compactFiles,omitempty"`
	// QueryTimeout ends a longer query as TIMED_OUT (default 1h).
	QueryTimeout Duration `json:"queryTimeout,omitempty"`
	// Threads and MemoryLimit bound each DuckDB instance (defaults 2 and
	// "1GB").
	Threads     int    `json:"threads,omitempty"`
	MemoryLimit string `json:"memoryLimit,omitempty"`
	// Federation says where EnableFederation publishes event data stores
	// (docs/format/federation.md).
	Federation Federation `json:"federation,omitzero"`
}

// Federation places the published copies of federated event data stores:
// s3://Bucket/Prefix/ACCOUNT/STORE-ID/ in the object store trail buckets
// live in (the embedded one unless buckets.endpoint is set).
type Federation struct {
	// Bucket defaults to opentrail-federation; the server creates it.
	Bucket string `json:"bucket,omitempty"`
	// Prefix defaults to cloudtrail-lake.
	Prefix string `json:"prefix,omitempty"`
	// Grace is how long a file a newer snapshot no longer lists stays
	// for readers of the older one (default 10m).
	Grace Duration `json:"grace,omitempty"`
}

// QueryGenerator configures GenerateQuery's model server: any
// OpenAI-compatible chat completions API (package lake/querygen).
type QueryGenerator struct {
	// URL is the API's base URL, such as http://127.0.0.1:11434/v1 (to
	// which /chat/completions is added), or its chat completions URL.
	URL string `json:"url,omitempty"`
	// Model is the model's name as the server knows it (required with
	// URL).
	Model string `json:"model,omitempty"`
	// Timeout bounds one generation (default 45s, at most 50s, so the
	// answer fits in the API server's 60-second write timeout).
	Timeout Duration `json:"timeout,omitempty"`
	// APIKey, sent as a bearer token, comes only from the environment
	// (OPENTRAIL_QUERY_GENERATOR_API_KEY), never from the file.
	APIKey string `json:"-"`
}

// Delivery tunes trail delivery.
type Delivery struct {
	// Interval is how often buffered events are written as log files
	// (default 5m, as AWS).
	Interval Duration `json:"interval,omitempty"`
	// DigestInterval is the digest window (default 1h, as AWS).
	DigestInterval Duration `json:"digestInterval,omitempty"`
	// MaxFileBytes caps a log file's uncompressed size (default 48 MiB).
	MaxFileBytes int `json:"maxFileBytes,omitempty"`
}

// Buckets configures the object store trail buckets live in. With no
// Endpoint, buckets are directories under DATA-DIR/buckets, served by
// OpenTrail's S3 front end on the API port.
type Buckets struct {
	Endpoint        string `json:"endpoint,omitempty"` // e.g. http://127.0.0.1:7070
	Region          string `json:"region,omitempty"`   // default us-east-1
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
}

// Notifications maps SNS topic ARNs to HTTP webhooks that receive the SNS
// notification envelope; Webhook receives the topics not listed.
type Notifications struct {
	Webhook string            `json:"webhook,omitempty"`
	Topics  map[string]string `json:"topics,omitempty"`
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		DataDir:         DefaultDataDir,
		Listen:          DefaultListen,
		MaxRequestBytes: 2 << 20,
		ShutdownTimeout: Duration(30 * time.Second),
	}
}

// FieldError is a validation error naming the offending field.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Load reads a config file over the defaults. Unknown fields are errors, so
// a typo does not pass silently.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("load config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			msg := fmt.Sprintf("got a JSON %s, want %s", te.Value, te.Type)
			if te.Type == reflect.TypeFor[Duration]() {
				msg = te.Value + ` is not a duration such as "30s"`
			}
			err = &FieldError{Path: te.Field, Msg: msg}
		}
		return c, fmt.Errorf("load config %s: %w", path, err)
	}
	// A second value, or a stray bracket, after the object is a mistake
	// too; Decode alone would ignore it.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("load config %s: unexpected data after the configuration object", path)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field and returns all problems found.
func (c Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		bad("dataDir", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port (%v)", c.Listen, err)
	}
	if m := c.MetricsListen; m != "" {
		if _, port, err := net.SplitHostPort(m); err != nil {
			bad("metricsListen", "%q is not host:port (%v)", m, err)
		} else if m == c.Listen && port != "0" {
			bad("metricsListen", "%q is the API's address too; give metrics a port of their own", m)
		}
	}
	if c.AccountID != "" && !event.ValidAccountID(c.AccountID) {
		bad("accountId", "%q is not a 12-digit account id", c.AccountID)
	}
	if d := c.EventHistoryRetentionDays; d != nil {
		if err := datadir.CheckRetention(*d); err != nil {
			bad("eventHistoryRetentionDays", "%d is outside 0..%d (0 keeps everything)", *d, datadir.MaxRetentionDays)
		}
	}
	if c.PutAuditEventsRateLimit < 0 {
		bad("putAuditEventsRateLimit", "must not be negative")
	}
	if c.LookupEventsRateLimit < 0 {
		bad("lookupEventsRateLimit", "must not be negative")
	}
	for i, r := range c.Regions {
		if !event.ValidRegion(r) {
			bad(fmt.Sprintf("regions[%d]", i), "%q is not a region name", r)
		}
	}
	if c.MaxRequestBytes < 64<<10 {
		bad("maxRequestBytes", "%d is below the 64 KiB minimum", c.MaxRequestBytes)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdownTimeout", "must be positive")
	}
	if c.Delivery.Interval < 0 {
		bad("delivery.interval", "must not be negative")
	}
	if d := c.Delivery.DigestInterval; d < 0 || d > 0 && time.Duration(d) < time.Second {
		bad("delivery.digestInterval", "must be at least 1s")
	}
	if c.Lake.FlushInterval < 0 || c.Lake.MaintainInterval < 0 || c.Lake.QueryTimeout < 0 {
		bad("lake", "intervals and timeouts must not be negative")
	}
	if c.Lake.CompactFiles == 1 || c.Lake.CompactFiles < 0 {
		bad("lake.compactFiles", "%d: compaction merges at least 2 files", c.Lake.CompactFiles)
	}
	if in := c.Insights; in.BaselineWindow < 0 || in.Grace < 0 || in.Reorder < 0 || in.WarmUp != nil && *in.WarmUp < 0 {
		bad("insights", "durations must not be negative")
	} else if in.BaselineWindow > 0 && time.Duration(in.BaselineWindow) < time.Hour {
		bad("insights.baselineWindow", "must be at least 1h")
	}
	if w := c.Insights.DropWindow; w != nil && (*w < 0 || time.Duration(*w)%time.Hour != 0) {
		bad("insights.dropWindow", "must be whole hours, at least 0")
	}
	if in := c.Insights; in.DropRatio < 0 || in.DropK < 0 || in.DropMin < 0 {
		bad("insights", "dropRatio, dropK and dropMin must not be negative")
	}
	if in := c.Insights; in.K < 0 || in.Floor < 0 || in.Ratio != 0 && in.Ratio < 1 {
		bad("insights", "k and floor must not be negative, ratio must be at least 1")
	}
	if in := c.Insights; in.StartMinutes < 0 || in.EndMinutes < 0 || in.MaxOpen < 0 {
		bad("insights", "startMinutes, endMinutes and maxOpen must not be negative")
	}
	if f := c.Lake.Federation; f.Grace < 0 {
		bad("lake.federation.grace", "must not be negative")
	}
	if p := c.Lake.Federation.Prefix; strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		bad("lake.federation.prefix", "%q must not start or end with / or hold //", p)
	}
	if c.Lake.Threads < 0 {
		bad("lake.threads", "must not be negative")
	}
	if c.Delivery.MaxFileBytes < 0 || c.Delivery.MaxFileBytes > 48<<20 {
		bad("delivery.maxFileBytes", "%d is outside 0..%d (files must stay under AWS's 50 MB limit)", c.Delivery.MaxFileBytes, 48<<20)
	}
	if e := c.Buckets.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("buckets.endpoint", "%q is not an http:// or https:// URL", e)
		}
		if c.Buckets.AccessKeyID == "" || c.Buckets.SecretAccessKey == "" {
			bad("buckets", "accessKeyId and secretAccessKey are required with an endpoint")
		}
	}
	if r := c.Buckets.Region; r != "" && !event.ValidRegion(r) {
		bad("buckets.region", "%q is not a region name", r)
	}
	checkURL := func(path, v string) {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(path, "%q is not an http:// or https:// URL", v)
		}
	}
	if c.PublicURL != "" {
		checkURL("publicUrl", c.PublicURL)
	}
	if c.Notifications.Webhook != "" {
		checkURL("notifications.webhook", c.Notifications.Webhook)
	}
	if g := c.QueryGenerator; g.URL != "" {
		checkURL("queryGenerator.url", g.URL)
		if strings.TrimSpace(g.Model) == "" {
			bad("queryGenerator.model", "is required with queryGenerator.url: give the model's name as the server knows it")
		}
	} else if g.Model != "" {
		bad("queryGenerator.url", "is required with queryGenerator.model: give the base URL of the chat completions API")
	}
	if t := time.Duration(c.QueryGenerator.Timeout); t < 0 || t > 50*time.Second {
		bad("queryGenerator.timeout", "%v is outside 0s..50s (an answer must fit in the API's 60-second write timeout; 0 means 45s)", t)
	}
	for topic, u := range c.Notifications.Topics {
		if !strings.HasPrefix(topic, "arn:") {
			bad("notifications.topics", "key %q is not an SNS topic ARN", topic)
		}
		checkURL("notifications.topics["+topic+"]", u)
	}
	return errors.Join(errs...)
}

// Duration is a time.Duration written as a string like "30s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a string such as "30s"; null leaves d unchanged. It
// fails with a [*json.UnmarshalTypeError], which the decoder completes with
// the field's name.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}
