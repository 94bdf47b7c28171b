// Package daemon builds every OpenTrail component from a configuration and
// owns their lifecycle: it takes the data directory's lock, opens the
// accounts and the event store, serves the API, and shuts down in reverse
// order (HTTP, followers, store) under a deadline. [OpenOffline] opens the
// event store and history for processes that add events without serving
// them, and [Import] loads log files through it. It is the only package
// that knows the concrete types; its importers are the commands:
// cmd/opentrail and the benchmark harness cmd/opentrail-bench.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opentrail/opentrail/internal/api"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/cwlogs"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/eventbus"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/dashboards"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/store"
)

// MetricsPath is where the metrics server (config.Config.MetricsListen)
// answers Prometheus scrapes: Prometheus's default path. The API port does
// not serve metrics: it serves nothing to a caller without a key.
const MetricsPath = "/metrics"

// Daemon is a running OpenTrail server.
type Daemon struct {
	cfg      config.Config
	log      *slog.Logger
	dir      *datadir.Dir
	ids      *identity.Store
	store    *store.Store
	history  *history.History
	trails   *catalog.Catalog
	keys     *keyring.Keyring
	objects  objstore.Store
	delivery *delivery.Engine
	lake     *lake.Engine
	fed      *fedRun // the publisher of federated stores; nil without the Lake
	// dash is the Lake's dashboards (nil without the Lake); dashStop
	// stops its scheduler.
	dash     *dashboards.Engine
	dashStop func()
	insights *insights.Engine
	sns      *sns.Service
	snsStop  func()
	// trailTopics are the SNS topics trails notify (with the config
	// file's webhooks as a shortcut).
	trailTopics trailTopics
	eventbus    *eventbus.Engine
	logs        *cwlogs.Engine
	cw          *cloudWatch
	// gate knows which logging trails record an event: the default
	// bus and CloudWatch Logs delivery follow it.
	gate *trailGate
	// metricSink receives metric filter values (nil until CloudWatch
	// metrics are served).
	metricSink cwlogs.MetricSink
	// topics publishes to SNS topics for the engines that notify (nil
	// until SNS is served).
	topics  eventbus.Topics
	follow  *followers
	closeMu sync.Mutex
	closed  bool // Close has run: Run starts nothing
	srv     *http.Server
	ln      net.Listener
	// The metrics server, when cfg.MetricsListen is set; else nil.
	metricsSrv *http.Server
	metricsLn  net.Listener
	account    string
	created    bool
	settings   datadir.Settings
	served     bool
}

// New opens the data directory and binds the listener; Run serves.
func New(cfg config.Config, log *slog.Logger) (d *Daemon, err error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d = &Daemon{cfg: cfg, log: log}
	opened := d
	defer func() {
		if err != nil {
			opened.Close()
		}
	}()
	if d.dir, err = datadir.Open(cfg.DataDir, log); err != nil {
		return nil, err
	}
	change, err := datadir.ResolveSettings(cfg.DataDir, cfg.EventHistoryRetentionDays)
	if err != nil {
		return nil, err
	}
	d.settings = change.To
	if d.ids, err = identity.Open(cfg.DataDir); err != nil {
		return nil, err
	}
	key, replaced, err := d.dir.TokenKey()
	if err != nil {
		return nil, err
	}
	if replaced {
		log.Warn("the pagination token key was damaged and has been replaced; NextTokens handed out before no longer work", "file", d.dir.Path(datadir.TokenKeyFile))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ho := history.DefaultOptions()
	ho.Retention = d.settings.Retention()
	ho.Logger = log
	ho.Registerer = reg
	if d.history, err = history.Open(d.dir.Path(datadir.IndexDir), ho); err != nil {
		return nil, err
	}
	so := store.DefaultOptions()
	so.Logger = log
	so.Registerer = reg
	so.Followers = followerNames(log)
	so.Seen = max(d.history.Checkpoint(), followerCheckpoints[datadir.DeliveryFollower](cfg.DataDir), lakeCheckpoint(cfg.DataDir),
		insightsCheckpoint(cfg.DataDir), eventBusCheckpoint(cfg.DataDir), logsCheckpoint(cfg.DataDir))
	if d.store, err = store.Open(d.dir.Path(datadir.EventsDir), so); err != nil {
		return nil, err
	}
	if n, err := checkRetentionChange(change, d.history, d.store, time.Now(), cfg.ConfirmRetentionChange); err != nil {
		return nil, err
	} else if n > 0 {
		log.Warn("event history retention shortened: the first sweep, a minute after start, deletes the events older than the new window",
			"from_days", change.From.EventHistoryRetentionDays, "to_days", change.To.EventHistoryRetentionDays, "events", n)
	}
	if change.Changed() {
		if err := d.dir.SaveSettings(change.To); err != nil {
			return nil, err
		}
	}
	if d.ids.Empty() && cfg.AccountID == "" && d.store.Head() > 0 {
		return nil, errNoAccounts(cfg.DataDir)
	}
	if d.account, d.created, err = d.ids.CreateDefault(cfg.AccountID); err != nil {
		return nil, err
	}
	d.follow = &followers{log: log, store: d.store, list: []follower{historyEntry(d.history)}}
	if err := d.openTrails(reg); err != nil {
		return nil, err
	}
	if lake.Available() == nil {
		if err := d.openLake(context.Background()); err != nil {
			return nil, err
		}
		if err := d.openFederation(); err != nil {
			return nil, err
		}
		if err := d.openDashboards(); err != nil {
			return nil, err
		}
	}
	if err := d.openInsights(reg); err != nil {
		return nil, err
	}
	d.gate = newTrailGate(d.trails)
	if err := d.openEventBus(reg); err != nil {
		return nil, err
	}
	// CloudWatch first: metric filters write to it.
	if err := d.openCloudWatch(reg); err != nil {
		return nil, err
	}
	if err := d.openLogs(reg); err != nil {
		return nil, err
	}
	if err := d.follow.register(); err != nil {
		return nil, err
	}
	ao := api.DefaultOptions()
	auth := identity.NewAuthenticator(d.ids, sigv4.DefaultOptions())
	ao.Auth = auth
	ao.Events = events{Store: d.store, history: d.history}
	ao.TokenKey = key
	ao.Retention = d.settings.Retention()
	ao.LookupRateLimit = cfg.LookupEventsRateLimit
	ao.MaxBodyBytes = cfg.MaxRequestBytes
	ao.Regions = cfg.Regions
	ao.Logger = log
	ao.Registerer = reg
	ao.Trails = d.trails
	// The catalogue keeps event data stores too; a store that starts
	// ingesting does so after the log's newest acknowledged event.
	ao.DataStores = d.trails
	ao.Channels = d.trails
	ao.LogHead = d.store.Head
	ao.Buckets = d.objects
	ao.Topics = d.trailTopics
	ao.Delivery = deliveryStatus{d.delivery}
	ao.Keys = publicKeys{d.keys}
	ao.InsightsMetrics = insightsMetrics{d.insights}
	ao.InsightsData = insightsData{d.insights}
	ao.LogGroups = logGroups{d.logs}
	if d.lake != nil {
		ao.Lake = d.lake
		ao.Imports = lakeImports{d}
		if ao.Generator, err = queryGenerator(cfg.QueryGenerator, log); err != nil {
			return nil, err
		}
		if ao.GeneratedQueries, err = generatedQueries(cfg.DataDir); err != nil {
			return nil, err
		}
		ao.Dashboards = d.dash
		ao.QueryAliases = []api.QueryAliasResolver{d.dash.ResolveAlias}
	}
	if d.fed != nil {
		ao.Federation = d.fed
	}
	h, err := api.New(ao)
	if err != nil {
		return nil, err
	}
	// No http.ServeMux in front of the API: it cleans paths, and S3 keys
	// may hold "//" or "..".
	front, err := d.alertServices(h, auth, cfg)
	if err != nil {
		return nil, err
	}
	d.srv = newHTTPServer(d.router(front, auth), log)
	if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another server using the port? pick another with --listen)", cfg.Listen, err)
	}
	if cfg.MetricsListen != "" {
		d.metricsSrv = newHTTPServer(metricsHandler(reg), log)
		if d.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, fmt.Errorf("listen on %s for metrics: %w (is another server using the port? pick another with --metrics-listen)", cfg.MetricsListen, err)
		}
	}
	return d, nil
}

// newHTTPServer returns a server with OpenTrail's limits and timeouts.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// metricsHandler serves reg at MetricsPath and 404 elsewhere.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "404 page not found: OpenTrail's metrics are at "+MetricsPath, http.StatusNotFound)
	})
	return mux
}

// errNoAccounts is a data directory that holds events but no accounts
// (accounts.json missing or emptied): creating a fresh account would hide
// that the keys are gone.
func errNoAccounts(dir string) error {
	return fmt.Errorf("%s holds events but %s has no accounts (missing or emptied): the access keys are lost; restore it from a backup, or start with --account-id ID to create a new key for an account", dir, filepath.Join(dir, datadir.AccountsFile))
}

// Addr is the address the server listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// URL is the endpoint URL clients use.
func (d *Daemon) URL() string { return "http://" + d.Addr() }

// MetricsURL is the URL Prometheus scrapes, or "" when metrics are off
// (no MetricsListen).
func (d *Daemon) MetricsURL() string {
	if d.metricsLn == nil {
		return ""
	}
	return "http://" + d.metricsLn.Addr().String() + MetricsPath
}

// Account is the default account's id.
func (d *Daemon) Account() string { return d.account }

// Identities gives tests and tools access to the account store.
func (d *Daemon) Identities() *identity.Store { return d.ids }

// Store gives tests and tools access to the event store.
func (d *Daemon) Store() *store.Store { return d.store }

// History gives tests and tools access to event history.
func (d *Daemon) History() *history.History { return d.history }

// PrintHints tells a new user how to reach the server: the account it
// created, the credentials file's profile holding its key, and an aws CLI
// command that works as printed.
func (d *Daemon) PrintHints(w io.Writer) {
	creds := d.dir.Path(datadir.CredentialsFile)
	if abs, err := filepath.Abs(creds); err == nil {
		creds = abs
	}
	// The account's key is in profile default only when it is the
	// directory's first account; --account-id may add another.
	profile, ok := d.ids.Profile(d.account)
	profileFlag := ""
	if ok && profile != "default" {
		profileFlag = " --profile " + profile
	}
	if d.created {
		fmt.Fprintf(w, "Created account %s; its access key is in %s (profile %s).\n", d.account, creds, profile)
	}
	ret := "kept forever"
	if n := d.settings.EventHistoryRetentionDays; n > 0 {
		ret = fmt.Sprintf("%d days", n)
	}
	fmt.Fprintf(w, "OpenTrail is listening on %s (data: %s, event history %s).\n", d.URL(), d.cfg.DataDir, ret)
	if u := d.MetricsURL(); u != "" {
		fmt.Fprintf(w, "Prometheus metrics are at %s (no authentication).\n", u)
	}
	fmt.Fprintf(w, "Try:\n  AWS_SHARED_CREDENTIALS_FILE=%s aws --endpoint-url %s%s cloudtrail lookup-events\n", creds, d.URL(), profileFlag)
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func (d *Daemon) Run(ctx context.Context) error {
	// The start holds closeMu, so a Close meanwhile (a caller's, from
	// another goroutine) waits until everything it stops has started; a
	// daemon already closed has nothing to serve.
	d.closeMu.Lock()
	if d.closed {
		d.closeMu.Unlock()
		return nil
	}
	d.served = true
	LimitGoMemory(d.log)
	d.cw.start()
	d.startSNS()
	d.fed.start()
	err := d.follow.start()
	if err == nil {
		d.startDashboards()
	}
	d.closeMu.Unlock()
	if err != nil {
		return errors.Join(fmt.Errorf("start the followers of the event log: %w", err), d.Close())
	}
	// Each server reports once, when it stops: by itself on an error,
	// else at Shutdown below.
	errc := make(chan error, 2)
	serve := func(what string, srv *http.Server, ln net.Listener) {
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", what, err)
				return
			}
			errc <- nil
		}()
	}
	serve("the API", d.srv, d.ln)
	if d.metricsSrv != nil {
		serve("metrics", d.metricsSrv, d.metricsLn)
	}
	var serveErr error
	select {
	case serveErr = <-errc:
		d.log.Error("shutting down: a server stopped", "err", serveErr)
	case <-d.follow.Failed():
		d.log.Error("shutting down: a follower of the event log failed; the next start resumes it from its checkpoint")
	case <-ctx.Done():
		d.log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(d.cfg.ShutdownTimeout))
	defer cancel()
	var errs []error
	if err := d.srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if d.metricsSrv != nil {
		if err := d.metricsSrv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("metrics http shutdown: %w", err))
		}
	}
	return errors.Join(serveErr, errors.Join(errs...), d.Close())
}

// Close releases everything New opened. It is safe to call twice, also
// concurrently (a caller's Close and Run's own at shutdown).
func (d *Daemon) Close() error {
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	d.closed = true
	var errs []error
	if d.ln != nil && !d.served {
		errs = append(errs, d.ln.Close())
		d.ln = nil
	}
	if d.metricsLn != nil && !d.served {
		errs = append(errs, d.metricsLn.Close())
		d.metricsLn = nil
	}
	d.stopSNS()
	d.fed.stop() // before the Lake it reads
	// The dashboards' scheduler before the Lake it starts queries on.
	d.stopDashboards()
	// Followers first: they finish what the log holds and make it
	// durable, so the store can drop the WAL segments they release.
	if d.follow != nil {
		errs = append(errs, d.follow.stop())
	}
	// CloudWatch after them: CloudWatch Logs' metric filters write to it.
	if d.cw != nil {
		errs = append(errs, d.cw.close())
		d.cw = nil
	}
	if d.lake != nil {
		errs = append(errs, d.lake.Close())
		d.lake = nil
	}
	if d.insights != nil {
		errs = append(errs, d.insights.Close())
	}
	if d.eventbus != nil {
		errs = append(errs, d.eventbus.Close())
		d.eventbus = nil
	}
	if d.logs != nil {
		errs = append(errs, d.logs.Close())
		d.logs = nil
	}
	if c, ok := d.objects.(io.Closer); ok {
		errs = append(errs, c.Close())
		d.objects = nil
	}
	if d.trails != nil {
		// Writes the channels' ingestion statuses.
		errs = append(errs, d.trails.Close())
	}
	if d.history != nil {
		errs = append(errs, d.history.Close())
		d.history = nil
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
		d.store = nil
	}
	if d.dir != nil {
		errs = append(errs, d.dir.Close())
		d.dir = nil
	}
	return errors.Join(errs...)
}
