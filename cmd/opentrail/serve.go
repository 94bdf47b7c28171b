package main

import (
	"context"
	"flag"
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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "JSON config file (flags override it)")
	dataDir := fs.String("data-dir", "", "data directory (default "+config.DefaultDataDir+")")
	listen := fs.String("listen", "", "address to listen on (default "+config.DefaultListen+")")
	account := fs.String("account-id", "", "12-digit id of the account created on first start (default random)")
	var retention daysFlag
	fs.Var(&retention, "event-history-retention", "days LookupEvents keeps events; 0 keeps everything; remembered by the data directory (default 90)")
	rate := fs.Float64("lookup-rate-limit", -1, "LookupEvents requests/s per account and region; 0 is off, AWS enforces 2 (default 0)")
	deliveryInterval := fs.Duration("delivery-interval", 0, "how often trails' buffered events are written as log files (default 5m, as AWS)")
	digestInterval := fs.Duration("digest-interval", 0, "the digest window of trails with log file validation (default 1h, as AWS)")
	bucketsEndpoint := fs.String("buckets-endpoint", "", "S3-compatible endpoint holding trail buckets (default: the embedded store under DATA-DIR/buckets, served on the API port)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: opentrail serve [flags]\n\nRuns the CloudTrail API on one port, storing everything under the data directory.\nOn first start it creates an account and writes its key to DATA-DIR/credentials.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{cmd: "serve", msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *account != "" {
		cfg.AccountID = *account
	}
	if retention.v != nil {
		cfg.EventHistoryRetentionDays = retention.v
	}
	if *rate >= 0 {
		cfg.LookupEventsRateLimit = *rate
	}
	if *deliveryInterval != 0 {
		cfg.Delivery.Interval = config.Duration(*deliveryInterval)
	}
	if *digestInterval != 0 {
		cfg.Delivery.DigestInterval = config.Duration(*digestInterval)
	}
	if *bucketsEndpoint != "" {
		cfg.Buckets.Endpoint = *bucketsEndpoint
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
