package catalog_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
)

// FuzzOpen feeds arbitrary bytes as trails.json: Open either fails with an
// error or yields a catalog whose trails survive a save and reopen.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"version":1,"trails":[{"name":"t1x","account":"123456789012","homeRegion":"us-east-1","s3BucketName":"b","selectors":{"EventSelectors":[{"ReadWriteType":"All"}]}}]}`))
	f.Add([]byte(`{"version":1,"trails":[]}`))
	f.Add([]byte(`{"trails":[{"selectors":{"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]}]}]}}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, catalog.FileName), b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := catalog.Open(dir, catalog.DefaultOptions())
		if err != nil {
			return
		}
		all := c.All()
		for _, tr := range all {
			_ = tr.ARN()
			_ = tr.Selectors.Effective()
			if _, ok := c.Get(tr.ARN()); !ok {
				t.Fatalf("listed trail %s not found by ARN", tr.ARN())
			}
		}
	})
}

// FuzzOpenDataStores feeds arbitrary bytes as eventdatastores.json: Open
// either fails with an error naming the file or yields stores that keep
// the format's rules (unique ids, ingest ranges in order, open only while
// ENABLED) and read back the same after a change and a reopen.
func FuzzOpenDataStores(f *testing.F) {
	f.Add([]byte(`{"version":1,"eventDataStores":[{"id":"0f0f0f0f-0000-4000-8000-000000000001","name":"a","account":"123456789012","homeRegion":"us-east-1","status":"ENABLED","ingest":[{"from":1,"to":4},{"from":9,"to":0}],"advancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]}]}`))
	f.Add([]byte(`{"version":1,"eventDataStores":[{"id":"x","name":"b","account":"123456789012","homeRegion":"eu-west-1","status":"PENDING_DELETION","restoreStatus":"ENABLED","deletedAt":"2026-11-20T10:00:00Z","ingest":[{"from":3,"to":3}],"tags":[{"Key":"k"}]}]}`))
	f.Add([]byte(`{"eventDataStores":[{"id":"x","status":"STOPPED_INGESTION"},{"id":"x"}]}`))
	f.Add([]byte(`{"version":1,"eventDataStores":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, catalog.DataStoresFileName)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := catalog.Open(dir, catalog.DefaultOptions())
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		all := c.AllDataStores()
		for _, d := range all {
			_ = d.ARN()
			_ = d.Category()
			open := false
			var prev uint64
			for i, r := range d.Ingest {
				if r.From <= prev || r.To != 0 && r.To < r.From || r.To == 0 && i != len(d.Ingest)-1 {
					t.Fatalf("store %s: ingest %v accepted", d.ID, d.Ingest)
				}
				prev, open = r.To, r.To == 0
			}
			if open != (d.Status == catalog.StatusEnabled) {
				t.Fatalf("store %s is %s with ingest %v", d.ID, d.Status, d.Ingest)
			}
		}
		if len(all) == 0 {
			return
		}
		// Change one store and read the file back.
		if _, err := c.UpdateDataStore(all[0].ID, func() uint64 { return prevHead(all[0]) }, func(d *catalog.DataStore) error {
			d.RetentionPeriod++
			return nil
		}); err != nil && !errors.Is(err, catalog.ErrDataStoreNotFound) {
			t.Fatal(err)
		}
		c2, err := catalog.Open(dir, catalog.DefaultOptions())
		if err != nil {
			t.Fatalf("reopen after a change: %v", err)
		}
		if diff := cmp.Diff(c.AllDataStores(), c2.AllDataStores()); diff != "" {
			t.Fatalf("reopened (-before +after):\n%s", diff)
		}
	})
}

// prevHead is a log head no older than any range of d.
func prevHead(d catalog.DataStore) uint64 {
	var h uint64
	for _, r := range d.Ingest {
		h = max(h, r.From, r.To)
	}
	return h
}
