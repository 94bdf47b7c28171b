package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

type importCmd struct{ stdout, stderr io.Writer }

func (*importCmd) Name() string    { return "import" }
func (*importCmd) Summary() string { return "load CloudTrail log files (.json, .json.gz, directories)" }

func (c *importCmd) Run(ctx context.Context, args []string) (err error) {
	fs := newFlagSet("import", c.stdout)
	dataDir := fs.String("data-dir", config.DefaultDataDir, "data `directory`")
	retention := optionalVar(fs, "event-history-retention", "`days` LookupEvents keeps events, 0 for ever (use 0 for old logs); the data directory remembers it (default: its setting, 90 for a new one)", parseDays)
	confirm := fs.Bool("confirm-retention-change", false, "let a shorter --event-history-retention delete the stored events it leaves out (without it the change is refused, saying how many)")
	logLevel := fs.String("log-level", "warn", "log `level`: debug, info, warn or error")
	eds := fs.String("event-data-store", "", "import into this CloudTrail Lake event data store (`name or id`; a new name creates the store) instead of event history")
	account := fs.String("account", "", "with --event-data-store: the `account id` that owns the store (default: the data directory's first account)")
	region := fs.String("region", "us-east-1", "with --event-data-store: the home `region` of a store it creates")
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
	// Every path must exist before the data directory is created or locked.
	var missing []error
	for _, p := range fs.Args() {
		if _, err := os.Stat(p); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", pe.Path, pe.Err) // not "stat PATH: ..."
			}
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("import: %w\nNothing was imported; the data directory %s was not touched.", errors.Join(missing...), *dataDir)
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
	if *eds != "" {
		return c.importLake(ctx, dir, fs.Args(), daemon.LakeImportOptions{Store: *eds, Account: *account, Region: *region, Progress: c.stderr, Logger: log})
	}
	sum, err := daemon.Import(ctx, dir, fs.Args(), daemon.ImportOptions{RetentionDays: retention.v, ConfirmRetentionChange: *confirm, Progress: c.stderr, Logger: log})
	sum.Print(c.stdout)
	return err
}

// importLake imports into a Lake event data store and says how to query it.
func (c *importCmd) importLake(ctx context.Context, dir *datadir.Dir, paths []string, o daemon.LakeImportOptions) error {
	res, err := daemon.ImportLake(ctx, dir, paths, o)
	if res.Store.ID == "" {
		return err
	}
	verb := "into"
	if res.Created {
		verb = "into the new"
	}
	st := res.Import.Stats
	fmt.Fprintf(c.stdout, "Imported %d events from %d files %s event data store %s (%s), account %s.\n",
		st.EventsCompleted, st.FilesCompleted, verb, res.Store.Name, res.Store.ID, res.Store.Account)
	if st.EventsSkipped > 0 {
		fmt.Fprintf(c.stdout, "Skipped %d records: not valid CloudTrail events, or older than the store's %d-day retention.\n", st.EventsSkipped, res.Store.RetentionPeriod)
	}
	for _, f := range res.Import.Failures {
		fmt.Fprintf(c.stdout, "Failed: %s: %s\n", f.Location, f.ErrorMessage)
	}
	if err == nil {
		fmt.Fprintf(c.stdout, "Query it (with 'opentrail serve' running):\n  aws cloudtrail start-query --query-statement \"SELECT eventname, count(*) FROM %s GROUP BY eventname\"\n", res.Store.ID)
		if len(res.Import.Failures) > 0 {
			err = fmt.Errorf("import: %d files could not be imported", len(res.Import.Failures))
		}
	}
	return err
}
