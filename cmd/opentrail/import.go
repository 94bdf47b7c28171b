package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
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
	var retention daysFlag
	fs.Var(&retention, "event-history-retention", "days LookupEvents keeps events; 0 keeps everything (use 0 for old logs); remembered by the data directory (default 90)")
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
	// Every path must exist before anything is created or locked.
	for _, p := range fs.Args() {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("import: %w; nothing was imported", err)
		}
	}
	dir, err := datadir.Open(*dataDir, log)
	if err != nil {
		var le *fileutil.LockedError
		if errors.As(err, &le) {
			return fmt.Errorf("%w; stop the server first (Ctrl-C or kill %d), run the import, then start it again", err, le.PID)
		}
		return err
	}
	defer func() { err = errors.Join(err, dir.Close()) }()
	sum, err := importInto(ctx, dir, retention.v, fs.Args(), c.stderr, log)
	sum.Print(c.stdout)
	return err
}

// importInto imports paths into the open data directory dir and closes the
// store, so that every event is indexed when it returns.
func importInto(ctx context.Context, dir *datadir.Dir, retention *int, paths []string, progress io.Writer, log *slog.Logger) (sum importer.Summary, err error) {
	change, err := datadir.ResolveSettings(dir.Root(), retention)
	if err != nil {
		return sum, err
	}
	settings := change.To
	ids, err := identity.Open(dir.Root())
	if err != nil {
		return sum, err
	}
	// A logging trail delivers what is imported when the server next
	// starts; OpenOffline keeps the WAL for it until then.
	off, err := daemon.OpenOffline(dir.Root(), daemon.OfflineOptions{Retention: settings.Retention(), Dedupe: true, Logger: log})
	if err != nil {
		return sum, err
	}
	if change.Changed() {
		if err := dir.SaveSettings(settings); err != nil {
			return sum, errors.Join(err, off.Close())
		}
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
		CredentialsPath: dir.Path(datadir.CredentialsFile),
		Logger:          log,
	})
}
