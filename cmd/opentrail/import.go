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
	sum, err := daemon.Import(ctx, dir, fs.Args(), daemon.ImportOptions{RetentionDays: retention.v, ConfirmRetentionChange: *confirm, Progress: c.stderr, Logger: log})
	sum.Print(c.stdout)
	return err
}
