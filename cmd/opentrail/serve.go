package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
)

type serveCmd struct{ stdout, stderr io.Writer }

func (*serveCmd) Name() string    { return "serve" }
func (*serveCmd) Summary() string { return "run the CloudTrail API server" }

func (c *serveCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", c.stdout)
	// Every flag that overrides the config file is nil until set, so an
	// explicit value (even an empty or zero one) is never mistaken for
	// "not given".
	cfgPath := fs.String("config", "", "JSON config `file`; flags override its settings")
	dataDir := optionalVar(fs, "data-dir", "data `directory` (default "+config.DefaultDataDir+")", parseString)
	listen := optionalVar(fs, "listen", "`address` (host:port) of the API (default "+config.DefaultListen+")", parseString)
	metricsListen := optionalVar(fs, "metrics-listen", "`address` (host:port) serving Prometheus metrics at "+daemon.MetricsPath+", without authentication (default: none, no metrics)", parseString)
	publicURL := optionalVar(fs, "public-url", "`URL` SNS subscribers reach this server at: the base of the SubscribeURL, UnsubscribeURL and SigningCertURL of SNS messages (default: http://LISTEN)", parseString)
	account := optionalVar(fs, "account-id", "12-digit `id` of the account created on first start (default: random)", parseString)
	retention := optionalVar(fs, "event-history-retention", "`days` LookupEvents keeps events, 0 for ever; the data directory remembers it (default: its setting, 90 for a new one)", parseDays)
	rate := optionalVar(fs, "lookup-rate-limit", "LookupEvents `rate` in requests/s per account and Region; 0 turns it off; AWS enforces 2 (default 0)", parseRate)
	auditRate := optionalVar(fs, "put-audit-events-rate-limit", "PutAuditEvents `rate` in events/s per channel (a burst of 100 events, or the rate if larger); 0 turns it off (default 0)", parseEventRate)
	deliveryInterval := optionalVar(fs, "delivery-interval", "`interval` at which trails' buffered events are written as log files (default 5m, as AWS)", parseInterval)
	digestInterval := optionalVar(fs, "digest-interval", "digest `window` of trails with log file validation, at least 1s (default 1h, as AWS)", parseInterval)
	lakeMaintain := optionalVar(fs, "lake-maintain-interval", "`interval` of CloudTrail Lake's compaction, retention and scrub (default 30s)", parseInterval)
	bucketsEndpoint := optionalVar(fs, "buckets-endpoint", "`URL` of an S3-compatible server holding trail buckets, with OPENTRAIL_BUCKETS_ACCESS_KEY_ID and OPENTRAIL_BUCKETS_SECRET_ACCESS_KEY (default: the embedded store under DATA-DIR/buckets, served on the API port)", parseString)
	genURL := optionalVar(fs, "query-generator-url", "`URL` of an OpenAI-compatible chat completions API that GenerateQuery asks, such as http://127.0.0.1:11434/v1; an API key, if it needs one, goes in OPENTRAIL_QUERY_GENERATOR_API_KEY (default: none, GenerateQuery says how to configure one)", parseString)
	genModel := optionalVar(fs, "query-generator-model", "`name` of the model the --query-generator-url server runs (required with it)", parseString)
	confirm := fs.Bool("confirm-retention-change", false, "let a shorter --event-history-retention delete the stored events it leaves out (without it the change is refused, saying how many)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: opentrail serve [flags]

Runs the CloudTrail API on one port, storing everything under the data directory.
On first start it creates an account and writes its key to DATA-DIR/credentials.
Flags override the settings of the --config file; a default applies when
neither sets a value.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	set := func(dst *string, f *optional[string]) {
		if f.v != nil {
			*dst = *f.v
		}
	}
	set(&cfg.DataDir, dataDir)
	set(&cfg.Listen, listen)
	set(&cfg.MetricsListen, metricsListen)
	set(&cfg.PublicURL, publicURL)
	set(&cfg.AccountID, account)
	set(&cfg.QueryGenerator.URL, genURL)
	set(&cfg.QueryGenerator.Model, genModel)
	cfg.QueryGenerator.APIKey = os.Getenv("OPENTRAIL_QUERY_GENERATOR_API_KEY")
	if retention.v != nil {
		cfg.EventHistoryRetentionDays = retention.v
	}
	cfg.ConfirmRetentionChange = *confirm
	if rate.v != nil {
		cfg.LookupEventsRateLimit = *rate.v
	}
	if auditRate.v != nil {
		cfg.PutAuditEventsRateLimit = *auditRate.v
	}
	if deliveryInterval.v != nil {
		cfg.Delivery.Interval = config.Duration(*deliveryInterval.v)
	}
	if digestInterval.v != nil {
		cfg.Delivery.DigestInterval = config.Duration(*digestInterval.v)
	}
	if lakeMaintain.v != nil {
		cfg.Lake.MaintainInterval = config.Duration(*lakeMaintain.v)
	}
	if bucketsEndpoint.v != nil {
		cfg.Buckets.Endpoint = *bucketsEndpoint.v
		if cfg.Buckets.AccessKeyID == "" {
			cfg.Buckets.AccessKeyID = os.Getenv("OPENTRAIL_BUCKETS_ACCESS_KEY_ID")
			cfg.Buckets.SecretAccessKey = os.Getenv("OPENTRAIL_BUCKETS_SECRET_ACCESS_KEY")
		}
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{cmd: "serve", msg: err.Error()}
	}
	log, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return &usageError{cmd: "serve", msg: err.Error()}
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		return err
	}
	d.PrintHints(c.stdout)
	return d.Run(ctx)
}
