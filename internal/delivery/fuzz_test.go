package delivery_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/delivery"
)

// FuzzOpenState feeds arbitrary bytes as state.json: Open either refuses
// them with an error or opens, and never panics.
func FuzzOpenState(f *testing.F) {
	f.Add([]byte(`{"version":1,"checkpoint":7,"marks":{"a|b|c":9},"spool":[],"chains":{},"status":{},"notes":[]}`))
	f.Add([]byte(`{"chains":{"x|us-east-1":{"trail":"x","start":"2026-01-01T00:00:00Z","prev":null,"pending":[]}}}`))
	f.Add([]byte(`{"spool":[{"id":"missing"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "state.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := delivery.Open(dir, delivery.DefaultOptions())
		if err != nil {
			return
		}
		e.Checkpoint()
		e.Pending()
		e.Status("x", "us-east-1")
	})
}
