package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/importer"
)

// ImportOptions configure [Import].
type ImportOptions struct {
	// RetentionDays, when not nil, is an explicit event history retention
	// (the --event-history-retention flag): it is checked, saved as the
	// data directory's setting, and applied to this import. nil keeps the
	// directory's setting.
	RetentionDays *int
	// ConfirmRetentionChange lets a shorter retention delete the stored
	// events it leaves out (--confirm-retention-change); without it such a
	// change is refused with a *RetentionChangeError.
	ConfirmRetentionChange bool
	// Progress receives the importer's progress bar or lines; nil for none.
	Progress io.Writer
	Logger   *slog.Logger
}

// ImportCheckError means the import's own check failed: event history does
// not hold as many more events as the import stored. Nothing is lost (the
// events are in the log); run `opentrail fsck`, which says what is wrong.
type ImportCheckError struct {
	Imported, Indexed int
}

func (e *ImportCheckError) Error() string {
	return fmt.Sprintf("import stored %d events, but event history holds %d more than before; run `opentrail fsck` and report it", e.Imported, e.Indexed)
}

// Import loads the CloudTrail log files and directories at paths into the
// open data directory dir (the caller holds its lock), creating accounts
// it does not know yet with keys in its credentials file, and skipping
// events already stored. It returns once every imported event is indexed,
// with the store closed again. A trail that is logging delivers what was
// imported when the server next starts: the WAL is kept for it until then.
// The Summary is valid also when an error is returned.
func Import(ctx context.Context, dir *datadir.Dir, paths []string, o ImportOptions) (sum importer.Summary, err error) {
	LimitGoMemory(o.Logger)
	change, err := datadir.ResolveSettings(dir.Root(), o.RetentionDays)
	if err != nil {
		return sum, err
	}
	settings := change.To
	ids, err := identity.Open(dir.Root())
	if err != nil {
		return sum, err
	}
	off, err := OpenOffline(dir.Root(), OfflineOptions{Retention: settings.Retention(), Dedupe: true, Logger: o.Logger})
	if err != nil {
		return sum, err
	}
	defer func() { err = errors.Join(err, off.Close()) }()
	// Duplicates are checked against event history: let it catch up with
	// what the log holds (a previous run's tail) first.
	if err := off.History.WaitCaughtUp(ctx); err != nil {
		return sum, err
	}
	if _, err := checkRetentionChange(change, off.History, off.Store, time.Now(), o.ConfirmRetentionChange); err != nil {
		return sum, err
	}
	if change.Changed() {
		if err := dir.SaveSettings(settings); err != nil {
			return sum, err
		}
	}
	before, err := off.History.Count()
	if err != nil {
		return sum, err
	}
	// The summary's hint is a command to run from anywhere, against a
	// server at the default address (an import cannot know another).
	creds := dir.Path(datadir.CredentialsFile)
	if abs, err := filepath.Abs(creds); err == nil {
		creds = abs
	}
	sum, err = importer.Run(ctx, paths, importer.Options{
		Appender:        off.Store,
		Accounts:        ids,
		Progress:        o.Progress,
		Retention:       settings.Retention(),
		CredentialsPath: creds,
		ServerURL:       "http://" + config.DefaultListen,
		Logger:          o.Logger,
	})
	if err != nil {
		return sum, err
	}
	// What the summary reports as imported must be in event history:
	// let history apply and flush everything, then count.
	if err := off.Finish(); err != nil {
		return sum, err
	}
	after, err := off.History.Count()
	if err != nil {
		return sum, err
	}
	if after-before != sum.Imported {
		return sum, &ImportCheckError{Imported: sum.Imported, Indexed: after - before}
	}
	return sum, nil
}
