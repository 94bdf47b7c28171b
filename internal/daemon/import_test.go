package daemon_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/testenv"
)

// TestImport imports the repository's CloudTrail data twice: the first
// run stores every event, with the retention override saved and the
// accounts' keys written; the second stores nothing new; every event is
// indexed when Import returns.
func TestImport(t *testing.T) {
	td := testenv.CloudTrailData(t)
	root := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	importOnce := func(retention *int) (imported, duplicates int) {
		t.Helper()
		dir, err := datadir.Open(root, log)
		if err != nil {
			t.Fatal(err)
		}
		defer dir.Close()
		sum, err := daemon.Import(t.Context(), dir, []string{td}, daemon.ImportOptions{RetentionDays: retention, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		if len(sum.Failed) != 0 {
			t.Fatalf("failed files: %v", sum.Failed)
		}
		return sum.Imported, sum.Duplicates
	}
	zero := 0
	imported, dups := importOnce(&zero)
	if imported == 0 {
		t.Fatalf("first import: nothing imported")
	}
	settings, ok, err := datadir.ReadSettings(root)
	if err != nil || !ok || settings.EventHistoryRetentionDays != 0 {
		t.Errorf("settings after --event-history-retention 0: %+v (exists %v, %v)", settings, ok, err)
	}
	if _, err := os.Stat(filepath.Join(root, datadir.CredentialsFile)); err != nil {
		t.Errorf("no credentials file: %v", err)
	}
	again, dups2 := importOnce(nil)
	if again != 0 || dups2 != imported+dups {
		t.Errorf("second import: %d imported, %d duplicates; want 0 and %d", again, dups2, imported+dups)
	}

	// Reopened, event history has nothing to replay: Import returned with
	// every event indexed durably.
	off, err := daemon.OpenOffline(root, daemon.OfflineOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if err := off.History.WaitCaughtUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := off.History.Replayed(); n != 0 {
		t.Errorf("event history replayed %d events after Import, want 0", n)
	}
	if cp := off.History.Checkpoint(); cp < uint64(imported) {
		t.Errorf("index checkpoint %d, want at least the %d imported events", cp, imported)
	}
}

// TestOpenOfflineFailure: when the event log cannot be opened, OpenOffline
// (which import uses) returns the error with event history closed again,
// instead of panicking while it cleans up.
func TestOpenOfflineFailure(t *testing.T) {
	root := t.TempDir()
	events := filepath.Join(root, datadir.EventsDir)
	if err := os.MkdirAll(events, 0o755); err != nil {
		t.Fatal(err)
	}
	// A file where the WAL's directory belongs.
	if err := os.WriteFile(filepath.Join(events, "wal"), []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	off, err := daemon.OpenOffline(root, daemon.OfflineOptions{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		off.Close()
		t.Fatal("OpenOffline with a file for the WAL directory: no error")
	}
	if off != nil {
		t.Errorf("OpenOffline failed (%v) but returned an *Offline", err)
	}
}
