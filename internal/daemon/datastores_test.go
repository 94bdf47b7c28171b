package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
)

// TestEventDataStoresServed: the event data store operations are live in
// the daemon, over the catalogue in DATA-DIR/trails/eventdatastores.json,
// with ingest ranges taken from the event log's head; stores survive a
// restart.
func TestEventDataStoresServed(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := startDaemon(t, dir, nil)
	ct := rootClient(t, d, testAccount, "us-east-1")
	if _, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatal(err)
	}
	head := d.Store().Head()
	out, err := ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("audit"), TerminationProtectionEnabled: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.EventDataStoreArn)
	if out.Status != cttypes.EventDataStoreStatusCreated || !strings.HasPrefix(arn, "arn:aws:cloudtrail:us-east-1:"+testAccount+":eventdatastore/") {
		t.Fatalf("created %+v", out)
	}
	if _, err := ct.StopEventDataStoreIngestion(ctx, &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: out.EventDataStoreArn}); err != nil {
		t.Fatal(err)
	}
	stopHead := d.Store().Head()
	_ = d.Close()

	c, err := catalog.Open(filepath.Join(dir, datadir.TrailsDir), catalog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	stores := c.AllDataStores()
	// The store ingested from the event after the log's head at the
	// Create call (the call's own event) to the head at the Stop call.
	if len(stores) != 1 || len(stores[0].Ingest) != 1 || stores[0].Ingest[0].From != head+1 || stores[0].Ingest[0].To != stopHead-1 {
		t.Fatalf("after create (head %d) and stop (head %d after it): %+v", head, stopHead, stores)
	}

	d2 := startDaemon(t, dir, nil)
	ct2 := rootClient(t, d2, testAccount, "us-east-1")
	got, err := ct2.GetEventDataStore(ctx, &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != cttypes.EventDataStoreStatusStoppedIngestion || aws.ToString(got.Name) != "audit" {
		t.Errorf("after restart: %+v", got)
	}
	list, err := ct2.ListEventDataStores(ctx, &cloudtrail.ListEventDataStoresInput{})
	if err != nil || len(list.EventDataStores) != 1 {
		t.Errorf("ListEventDataStores after restart: %v %+v", err, list)
	}
}

// TestDamagedEventDataStoreCatalogue: serve refuses a damaged
// eventdatastores.json, naming it, and fsck reports it.
func TestDamagedEventDataStoreCatalogue(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, nil)
	// A call first: Run is serving by then (Close before it starts is not
	// what this test is about).
	if _, err := rootClient(t, d, testAccount, "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	path := filepath.Join(dir, datadir.TrailsDir, catalog.DataStoresFileName)
	if err := os.WriteFile(path, []byte(`{"version":1,"eventDataStores":[{"id":`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dir, "127.0.0.1:0", testAccount
	d2, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		d2.Close()
		t.Fatal("serve started on a damaged event data store catalogue")
	}
	if !strings.Contains(err.Error(), path+" is damaged") {
		t.Errorf("error %q does not name the file", err)
	}
	r := daemon.Check(dir)
	if !strings.Contains(strings.Join(r.Problems, "\n"), path+" is damaged") {
		t.Errorf("fsck problems %q do not name the file", r.Problems)
	}
}
