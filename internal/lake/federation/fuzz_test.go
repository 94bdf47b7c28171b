package federation_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/lake/federation"
)

// FuzzCheckpoint: any bytes in federation.json either parse or are
// ErrCheckpoint, never a crash; one that parses also opens a publisher
// that can run a round.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"version":1,"stores":{}}`))
	f.Add([]byte(`{"version":1,"stores":{"` + storeID + `":{"account":"123456789012","bucket":"opentrail-federation","prefix":"` + prefix + `","generation":3,"listed":["day=2026-12-05/b-1-10.parquet"],"unlisted":{"day=2026-12-05/b-11-20.parquet":"2026-12-06T10:00:02Z"}}}}`))
	f.Add([]byte(`{"version":1,"stores":{"x":null}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"stores":{"x":{"unlisted":{"a":"not a time"}}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := newRig(t)
		if err := os.WriteFile(filepath.Join(r.lakeDir, federation.CheckpointName), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := federation.CheckCheckpoint(r.lakeDir)
		o := federation.DefaultOptions()
		o.Catalog, o.Source, o.Objects, o.Logger = r.cat, r.src, r.objs, nil
		p, openErr := federation.Open(r.lakeDir, o)
		if (err == nil) != (openErr == nil) {
			t.Fatalf("CheckCheckpoint %v but Open %v", err, openErr)
		}
		if openErr != nil {
			return
		}
		r.src.set(b1)
		_ = p.Sync(t.Context()) // may fail on what the checkpoint names; must not crash
	})
}
