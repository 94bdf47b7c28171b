package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake/querygen"
	"github.com/opentrail/opentrail/internal/store"
)

// Authenticator verifies a request's SigV4 signature over its body.
//
// Authenticate MUST return an error wrapping one of the sigv4 sentinels
// (ErrMissingAuth, ErrIncomplete, ErrUnknownKey, ErrSignatureMismatch,
// ErrExpired), optionally inside a *sigv4.Error whose Message is shown to
// the client, when the request is not authentic. On success the Caller's
// Region and Service MUST be the credential scope's. Authenticate MUST NOT
// read r.Body: the handler has already read it into body.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (identity.Caller, error)
}

// EventStore is the event log and event history as the API uses them: to
// record its own calls (a *store.Store) and to serve LookupEvents (a
// *history.History).
//
// Append MUST return only once the events are durable, and
// store.ErrBackpressure when it cannot accept more for now. Lookup MUST see
// every event appended before it, fill each event's Summary and return
// history.ErrBadCursor for a cursor it did not issue.
type EventStore interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
	Lookup(ctx context.Context, q history.Query) (history.Page, error)
}

// Options configure a [Handler]. Start from [DefaultOptions].
type Options struct {
	Auth   Authenticator // required
	Events EventStore    // required

	// Trails, when set, enables the trail operations; Buckets checks
	// their buckets, Delivery flushes and reports on them, and Keys
	// serves ListPublicKeys. Each may be nil (no check, no flush, no
	// keys).
	Trails  TrailStore
	Buckets BucketChecker
	// Topics, when set, checks that a trail's SnsTopicName exists.
	Topics   TopicChecker
	Delivery Delivery
	Keys     PublicKeys

	// Lake, when set, enables the Lake query operations; Imports the
	// import operations.
	Lake    Lake
	Imports Importer
	// Dashboards, with Lake, enables the dashboard operations and tags on
	// dashboards.
	Dashboards Dashboards
	// QueryAliases resolve StartQuery's QueryAlias and QueryParameters to
	// the statement to run, tried in order (dashboard widgets, generated
	// queries).
	QueryAliases []QueryAliasResolver
	// Generator, with Lake, generates GenerateQuery's queries; without
	// it GenerateQuery answers GenerateResponseException saying how to
	// configure one.
	Generator QueryGenerator
	// GeneratedQueries keeps what GenerateQuery generated, by QueryAlias
	// (a *querygen.Aliases opened on its file); nil keeps them in memory.
	GeneratedQueries GeneratedQueries

	// DataStores, when set, enables the CloudTrail Lake event data store
	// operations and tags on event data stores; LogHead, then required,
	// returns the event log's head (the seq of the newest acknowledged
	// event, a *store.Store's Head), from which a store starting ingestion
	// ingests.
	DataStores DataStoreCatalog
	LogHead    func() uint64
	// Federation, with DataStores, enables EnableFederation and
	// DisableFederation: the publisher of federated stores.
	Federation Federation

	// Channels, with DataStores, enables the channel operations, tags on
	// channels and the resource policies of channels.
	Channels ChannelCatalog

	// InsightsMetrics, when set, enables ListInsightsMetricData.
	InsightsMetrics InsightsMetrics
	// InsightsData, with Trails, enables ListInsightsData.
	InsightsData InsightsRecords

	// LogGroups, when set, lets trails deliver to CloudWatch Logs
	// (CloudWatchLogsLogGroupArn); without it those members are refused.
	LogGroups LogGroups

	// TokenKey is the HMAC-SHA256 key that signs pagination tokens; at
	// least 32 bytes. The caller persists it, so tokens survive restarts
	// and are accepted by every replica.
	TokenKey []byte

	// Retention is the event history window: LookupEvents' default
	// StartTime is now-Retention, and older StartTimes are clamped to it.
	// 0 means unlimited (the default StartTime is then the zero time).
	Retention time.Duration

	// LookupRateLimit is the LookupEvents rate per account and region, in
	// requests per second, with a burst of the same size (at least 1).
	// Beyond it callers get ThrottlingException. 0 turns the limit off.
	// AWS enforces 2. ListInsightsData has the same limit, in buckets of
	// its own.
	LookupRateLimit float64

	// MaxBodyBytes limits request bodies; larger ones are refused with
	// 413. 0 means awsjson.DefaultMaxBody (2 MiB).
	MaxBodyBytes int64

	// Regions, if not empty, are the only signing regions served; requests
	// signed for any other region are refused with AccessDeniedException.
	Regions []string

	Now        func() time.Time      // clock for event times and lookups; nil means time.Now
	Logger     *slog.Logger          // nil discards logs
	Registerer prometheus.Registerer // nil registers no metrics
}

// DefaultOptions returns the defaults: a 90-day event history, as AWS
// keeps, a 2 MiB body limit, no lookup rate limit, every region, the real
// clock and slog's default logger. Auth, Events and TokenKey have no
// default.
func DefaultOptions() Options {
	return Options{
		Retention:    90 * 24 * time.Hour,
		MaxBodyBytes: awsjson.DefaultMaxBody,
		Now:          time.Now,
		Logger:       slog.Default(),
	}
}

// MinTokenKeyBytes is the shortest accepted [Options.TokenKey].
const MinTokenKeyBytes = 32

// Handler serves the cloudtrail API. It is safe for concurrent use and
// starts no goroutines.
type Handler struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	ops     map[string]*operation
	tokens  tokenSigner
	lookups *limiter // nil when LookupRateLimit is 0
	// insightsData limits ListInsightsData; nil when LookupRateLimit is 0.
	insightsData *limiter
	metrics      *metrics
	// generated keeps GenerateQuery's queries by QueryAlias.
	generated GeneratedQueries
}

var _ http.Handler = (*Handler)(nil)

// New validates opts and builds a Handler.
func New(opts Options) (*Handler, error) {
	switch {
	case opts.Auth == nil:
		return nil, errors.New("api: Options.Auth is required")
	case opts.Events == nil:
		return nil, errors.New("api: Options.Events is required")
	case len(opts.TokenKey) < MinTokenKeyBytes:
		return nil, fmt.Errorf("api: Options.TokenKey is %d bytes, want at least %d", len(opts.TokenKey), MinTokenKeyBytes)
	case opts.Retention < 0:
		return nil, fmt.Errorf("api: Options.Retention is negative (%v)", opts.Retention)
	case opts.LookupRateLimit < 0:
		return nil, fmt.Errorf("api: Options.LookupRateLimit is negative (%v)", opts.LookupRateLimit)
	case opts.MaxBodyBytes < 0:
		return nil, fmt.Errorf("api: Options.MaxBodyBytes is negative (%d)", opts.MaxBodyBytes)
	case opts.Channels != nil && opts.DataStores == nil:
		return nil, errors.New("api: Options.DataStores is required with Options.Channels")
	case opts.DataStores != nil && opts.LogHead == nil:
		return nil, errors.New("api: Options.LogHead is required with Options.DataStores")
	}
	for i, r := range opts.Regions {
		if !event.ValidRegion(r) {
			return nil, fmt.Errorf("api: Options.Regions[%d]: %q is not a region name", i, r)
		}
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = awsjson.DefaultMaxBody
	}
	opts.TokenKey = slices.Clone(opts.TokenKey)
	opts.Regions = slices.Clone(opts.Regions)
	h := &Handler{
		opts:   opts,
		log:    opts.Logger,
		now:    opts.Now,
		tokens: tokenSigner{key: opts.TokenKey},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.generated = opts.GeneratedQueries
	if h.generated == nil {
		h.generated = querygen.NewAliases(querygen.DefaultKeep, querygen.DefaultMaxPerAccount, h.now)
	}
	if opts.LookupRateLimit > 0 {
		h.lookups = newLimiter(opts.LookupRateLimit)
		h.insightsData = newLimiter(opts.LookupRateLimit)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	impl := h.implemented()
	h.ops = make(map[string]*operation, len(modelOperations))
	for _, spec := range modelOperations {
		inv := impl[spec.Name]
		if inv == nil {
			inv = unsupported(spec.Name)
		}
		h.ops[spec.Name] = &operation{opSpec: spec, invoke: inv}
	}
	return h, nil
}

// implemented lists the operations OpenTrail implements. Every other
// operation of modelOperations answers UnsupportedOperationException.
func (h *Handler) implemented() map[string]invoker {
	ops := map[string]invoker{
		"LookupEvents":        adapt(h.lookupEvents),
		"ListPublicKeys":      adapt(h.listPublicKeys),
		"SearchSampleQueries": adapt(h.searchSampleQueries),
	}
	if h.opts.Trails != nil {
		for name, inv := range map[string]invoker{
			"CreateTrail":         adapt(h.createTrail),
			"UpdateTrail":         adapt(h.updateTrail),
			"DeleteTrail":         adapt(h.deleteTrail),
			"GetTrail":            adapt(h.getTrail),
			"DescribeTrails":      adapt(h.describeTrails),
			"ListTrails":          adapt(h.listTrails),
			"GetTrailStatus":      adapt(h.getTrailStatus),
			"StartLogging":        adapt(h.startLogging),
			"StopLogging":         adapt(h.stopLogging),
			"PutEventSelectors":   adapt(h.putEventSelectors),
			"GetEventSelectors":   adapt(h.getEventSelectors),
			"PutInsightSelectors": adapt(h.putInsightSelectors),
			"GetInsightSelectors": adapt(h.getInsightSelectors),
		} {
			ops[name] = inv
		}
	}
	if h.opts.DataStores != nil {
		for name, inv := range map[string]invoker{
			"CreateEventDataStore":         adapt(h.createDataStore),
			"GetEventDataStore":            adapt(h.getDataStore),
			"UpdateEventDataStore":         adapt(h.updateDataStore),
			"DeleteEventDataStore":         adapt(h.deleteDataStore),
			"RestoreEventDataStore":        adapt(h.restoreDataStore),
			"ListEventDataStores":          adapt(h.listDataStores),
			"StartEventDataStoreIngestion": adapt(h.startIngestion),
			"StopEventDataStoreIngestion":  adapt(h.stopIngestion),
		} {
			ops[name] = inv
		}
	}
	if h.opts.DataStores != nil && h.opts.Channels != nil {
		for name, inv := range map[string]invoker{
			"CreateChannel":        adapt(h.createChannel),
			"GetChannel":           adapt(h.getChannel),
			"UpdateChannel":        adapt(h.updateChannel),
			"DeleteChannel":        adapt(h.deleteChannel),
			"ListChannels":         adapt(h.listChannels),
			"PutResourcePolicy":    adapt(h.putResourcePolicy),
			"GetResourcePolicy":    adapt(h.getResourcePolicy),
			"DeleteResourcePolicy": adapt(h.deleteResourcePolicy),
		} {
			ops[name] = inv
		}
	}
	if h.opts.DataStores != nil && h.opts.Federation != nil {
		ops["EnableFederation"] = adapt(h.enableFederation)
		ops["DisableFederation"] = adapt(h.disableFederation)
	}
	if h.opts.DataStores != nil && h.opts.Trails != nil {
		for name, inv := range map[string]invoker{
			"PutEventConfiguration": adapt(h.putEventConfiguration),
			"GetEventConfiguration": adapt(h.getEventConfiguration),
		} {
			ops[name] = inv
		}
	}
	if h.opts.Trails != nil || h.opts.DataStores != nil || h.opts.Dashboards != nil {
		ops["AddTags"] = adapt(h.addTags)
		ops["RemoveTags"] = adapt(h.removeTags)
		ops["ListTags"] = adapt(h.listTags)
	}
	if h.opts.InsightsMetrics != nil {
		ops["ListInsightsMetricData"] = adapt(h.listInsightsMetricData)
	}
	if h.opts.Trails != nil && h.opts.InsightsData != nil {
		ops["ListInsightsData"] = adapt(h.listInsightsData)
	}
	if h.opts.Lake != nil {
		for name, inv := range map[string]invoker{
			"StartQuery":      adapt(h.startQuery),
			"DescribeQuery":   adapt(h.describeQuery),
			"GetQueryResults": adapt(h.getQueryResults),
			"ListQueries":     adapt(h.listQueries),
			"CancelQuery":     adapt(h.cancelQuery),
			"GenerateQuery":   adapt(h.generateQuery),
		} {
			ops[name] = inv
		}
	}
	if h.opts.Lake != nil && h.opts.Dashboards != nil {
		for name, inv := range map[string]invoker{
			"CreateDashboard":       adapt(h.createDashboard),
			"GetDashboard":          adapt(h.getDashboard),
			"ListDashboards":        adapt(h.listDashboards),
			"UpdateDashboard":       adapt(h.updateDashboard),
			"DeleteDashboard":       adapt(h.deleteDashboard),
			"StartDashboardRefresh": adapt(h.startDashboardRefresh),
		} {
			ops[name] = inv
		}
	}
	if h.opts.Lake != nil && h.opts.Imports != nil {
		for name, inv := range map[string]invoker{
			"StartImport":        adapt(h.startImport),
			"GetImport":          adapt(h.getImport),
			"ListImports":        adapt(h.listImports),
			"StopImport":         adapt(h.stopImport),
			"ListImportFailures": adapt(h.listImportFailures),
		} {
			ops[name] = inv
		}
	}
	return ops
}

// Log attribute keys.
const (
	logKeyRequestID = "request_id"
	logKeyOperation = "operation"
	logKeyErr       = "err"
)

// RequestIDHeader carries the request id on every response.
const RequestIDHeader = "x-amzn-RequestId"

// ServeHTTP serves one cloudtrail API request; see the package
// documentation for the steps.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{start: time.Now(), requestID: audit.NewUUID(), opName: "Unknown"}
	w.Header().Set(RequestIDHeader, c.requestID)
	defer func() { h.metrics.observe(c) }()

	op, err := h.route(r)
	if err != nil {
		h.writeError(w, r, c, err)
		return
	}
	c.opName = op.Name
	body, err := awsjson.ReadBody(r.Body, h.opts.MaxBodyBytes)
	if err != nil {
		h.writeError(w, r, c, err)
		return
	}
	caller, err := h.authenticate(r, body)
	if err != nil {
		h.writeError(w, r, c, err)
		return
	}
	h.serveOp(w, r, c, op, caller, body)
}

// route resolves the request's operation.
func (h *Handler) route(r *http.Request) (*operation, error) {
	if r.Method != http.MethodPost {
		return nil, errMethod(r.Method)
	}
	name, err := awsjson.ParseTarget(r.Header.Get("X-Amz-Target"))
	if err != nil {
		return nil, err
	}
	op := h.ops[name]
	if op == nil {
		return nil, errUnknownOperation(name)
	}
	return op, nil
}

// authenticate verifies the signature and checks the credential scope.
func (h *Handler) authenticate(r *http.Request, body []byte) (identity.Caller, error) {
	caller, err := h.opts.Auth.Authenticate(r, body)
	if err != nil {
		return identity.Caller{}, err
	}
	if caller.Service != signingService {
		return identity.Caller{}, errWrongService(caller.Service)
	}
	if !event.ValidRegion(caller.Region) ||
		len(h.opts.Regions) > 0 && !slices.Contains(h.opts.Regions, caller.Region) {
		return identity.Caller{}, errRegionNotServed(caller.Region, h.opts.Regions)
	}
	return caller, nil
}

// signingService is the SigV4 service name of the cloudtrail API.
const signingService = "cloudtrail"
