package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"

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
	// Progress receives the importer's progress bar or lines; nil for none.
	Progress io.Writer
	Logger   *slog.Logger
}

// Import loads the CloudTrail log files and directories at paths into the
// open data directory dir (the caller holds its lock), creating accounts
// it does not know yet with keys in its credentials file, and skipping
// events already stored. It returns once every imported event is indexed,
// with the store closed again. A trail that is logging delivers what was
// imported when the server next starts: the WAL is kept for it until then.
// The Summary is valid also when an error is returned.
func Import(ctx context.Context, dir *datadir.Dir, paths []string, o ImportOptions) (sum importer.Summary, err error) {
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
	// The summary's hint is a command to run from anywhere, against a
	// server at the default address (an import cannot know another).
	creds := dir.Path(datadir.CredentialsFile)
	if abs, err := filepath.Abs(creds); err == nil {
		creds = abs
	}
	return importer.Run(ctx, paths, importer.Options{
		Appender:        off.Store,
		Accounts:        ids,
		Progress:        o.Progress,
		Retention:       settings.Retention(),
		CredentialsPath: creds,
		ServerURL:       "http://" + config.DefaultListen,
		Logger:          o.Logger,
	})
}
