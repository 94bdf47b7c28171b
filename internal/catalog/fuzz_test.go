package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

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
