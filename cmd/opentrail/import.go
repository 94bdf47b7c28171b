package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

type importCmd struct{ stdout, stderr io.Writer }

func (*importCmd) Name() string    { return "import" }
func (*importCmd) Summary() string { return "load CloudTrail log files (.json, .json.gz, directories)" }

func (c *importCmd) Run(ctx context.Context, args []string) (err error) {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dataDir := fs.String("data-dir", config.DefaultDataDir, "data directory")
	retention := fs.Int("event-history-retention", -1, "days LookupEvents keeps events; 0 keeps everything (use 0 for old logs); remembered by the data directory (default 90)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: opentrail import [flags] PATH...

Loads CloudTrail log files into the data directory: {"Records":[...]} files as
AWS delivers them (.json or .json.gz), JSON arrays, JSON Lines, and whole
directory trees such as an AWSLogs/ download. Importing is idempotent: an
event already stored is skipped. Accounts not known yet are created, with
keys in DATA-DIR/credentials as profiles named after the account id.
Stop 'opentrail serve' on the same data directory first.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &usageError{cmd: "import", msg: "no PATH given: name the log files or directories to import"}
	}
	log, err := newLogger(c.stderr, *logLevel)
	if err != nil {
		return &usageError{cmd: "import", msg: err.Error()}
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	lock, err := fileutil.LockDir(*dataDir)
	if err != nil {
		var le *fileutil.LockedError
		if errors.As(err, &le) {
			return fmt.Errorf("%w; stop the server first (Ctrl-C or kill %d), run the import, then start it again", err, le.PID)
		}
		return err
	}
	defer func() { err = errors.Join(err, lock.Unlock()) }()
	var override *int
	if *retention >= 0 {
		override = retention
	}
	sum, err := importInto(ctx, *dataDir, override, fs.Args(), c.stderr, log)
	sum.Print(c.stdout)
	return err
}

// importInto imports paths into the (locked) data directory dir and closes
// the store, so that every event is indexed when it returns. The caller
// holds the directory lock.
func importInto(ctx context.Context, dir string, retention *int, paths []string, progress io.Writer, log *slog.Logger) (sum importer.Summary, err error) {
	settings, err := config.ResolveSettings(dir, retention)
	if err != nil {
		return sum, err
	}
	ids, err := identity.Open(dir)
	if err != nil {
		return sum, err
	}
	// A logging trail delivers what is imported when the server next
	// starts; OpenOffline keeps the WAL for it until then.
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{Retention: settings.Retention(), Dedupe: true, Logger: log})
	if err != nil {
		return sum, err
	}
	defer func() { err = errors.Join(err, off.Close()) }()
	// Duplicates are checked against event history: let it catch up with
	// what the log holds (a previous run's tail) first.
	if err := off.History.WaitCaughtUp(ctx); err != nil {
		return sum, err
	}
	return importer.Run(ctx, paths, importer.Options{
		Appender:        off.Store,
		Accounts:        ids,
		Progress:        progress,
		Retention:       settings.Retention(),
		CredentialsPath: filepath.Join(dir, identity.CredentialsFile),
		Logger:          log,
	})
}
