package daemon_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

const invictusAccount = "123837392027"

func importInvictus(t *testing.T, dir string, o daemon.ImportOptions) (importer.Summary, error) {
	t.Helper()
	dd, err := datadir.Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close()
	o.Logger = slog.New(slog.DiscardHandler)
	return daemon.Import(context.Background(), dd, []string{filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")}, o)
}

func intPtr(v int) *int { return &v }

// countLookups pages through LookupEvents of the invictus account.
func countLookups(t *testing.T, d *daemon.Daemon) int {
	t.Helper()
	ct := rootClient(t, d, invictusAccount, "us-east-1")
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50)})
	n := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Events)
	}
	return n
}

// Issue 8, 1.1: a server with the default 90-day history sweeps; an import
// of 2023 logs with --event-history-retention 0 afterwards keeps every
// event (the sweep applies to the events it saw, not to later ones), the
// import confirms they are in event history, LookupEvents finds them, and
// a second import finds them all stored.
func TestImportAfterASweepKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, nil)
	// An event older than the window (as a server that ran for long has),
	// so the sweep deletes something and is recorded.
	old, err := event.Parse([]byte(`{"eventVersion":"1.08","eventTime":"2023-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"old-1","recipientAccountId":"` + testAccount + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store().Append(context.Background(), []event.Event{old}, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.History().WaitCaughtUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := d.History().Sweep(); err != nil || n != 1 { // what the server runs a minute after start
		t.Fatalf("sweep = %d, %v; want the one old event deleted", n, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := importInvictus(t, dir, daemon.ImportOptions{RetentionDays: intPtr(0)})
	if err != nil || sum.Imported != 2900 {
		t.Fatalf("import: %d imported, %v; want 2900", sum.Imported, err)
	}
	sum, err = importInvictus(t, dir, daemon.ImportOptions{})
	if err != nil || sum.Imported != 0 || sum.Duplicates != 2900 {
		t.Fatalf("second import: %+v, %v; want 2900 duplicates", sum, err)
	}
	d = startDaemon(t, dir, nil)
	if n := countLookups(t, d); n < 2900 {
		t.Fatalf("LookupEvents found %d of the 2,900 imported events", n)
	}
}

// Issue 8, 1.8: a retention change that would delete stored events is
// refused, saying how many, unless confirmed; the refusal changes no
// setting. With the confirmation the server starts and the sweep deletes
// them.
func TestShorterRetentionNeedsConfirmation(t *testing.T) {
	dir := t.TempDir()
	if sum, err := importInvictus(t, dir, daemon.ImportOptions{RetentionDays: intPtr(0)}); err != nil || sum.Imported != 2900 {
		t.Fatalf("import: %+v, %v", sum, err)
	}
	settings := func() string {
		b, err := os.ReadFile(filepath.Join(dir, datadir.SettingsFile))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := settings()
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dir, "127.0.0.1:0", testAccount
	cfg.EventHistoryRetentionDays = intPtr(90)
	_, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var rc *daemon.RetentionChangeError
	if !errors.As(err, &rc) || rc.Events < 2900 || rc.From != 0 || rc.To != 90 || !strings.Contains(err.Error(), "--confirm-retention-change") {
		t.Fatalf("serve --event-history-retention 90 = %v, want a RetentionChangeError counting the 2,900 events", err)
	}
	if settings() != before {
		t.Fatal("the refused change was saved")
	}
	// The same through import.
	if _, err := importInvictus(t, dir, daemon.ImportOptions{RetentionDays: intPtr(30)}); !errors.Is(err, daemon.ErrRetentionChange) {
		t.Fatalf("import --event-history-retention 30 = %v, want the refusal", err)
	}
	if settings() != before {
		t.Fatal("the refused change was saved by import")
	}
	// A longer window deletes nothing: no confirmation needed.
	if _, err := importInvictus(t, dir, daemon.ImportOptions{RetentionDays: intPtr(0)}); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dir, func(c *config.Config) {
		c.EventHistoryRetentionDays = intPtr(90)
		c.ConfirmRetentionChange = true
	})
	n, err := d.History().Sweep()
	if err != nil || n < 2900 {
		t.Fatalf("the confirmed change's sweep deleted %d, %v; want the 2,900 old events", n, err)
	}
}
