package lake

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// A damaged file a query is reading when the scrub finds it is unlisted at
// once, and moved to quarantine only when the query lets go of it: the
// query reads it where it was (before, it could fail on a file that was
// gone), and later queries do not see it.
func TestScrubWaitsForQueriesBeforeQuarantine(t *testing.T) {
	dir := t.TempDir()
	store, quarantine := filepath.Join(dir, "store"), filepath.Join(dir, "quarantine")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := openStoreFiles(store, quarantine, "0b3f0000-0000-4000-8000-000000000099", "123456789012", log)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join("day=2026-01-01", "b-1-2.parquet")
	path := filepath.Join(store, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	body := []byte("PAR1 rows PAR1")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+bloomSuffix, []byte("filter"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := fileutil.SHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.commit([]File{{Name: name, Day: "2026-01-01", Rows: 2, Bytes: int64(len(body)), MinSeq: 1, MaxSeq: 2, SHA256: sum}}, nil, 2); err != nil {
		t.Fatal(err)
	}
	files, release := s.snapshot(nil) // a query reading the store
	if len(files) != 1 {
		t.Fatalf("the query reads %v", files)
	}
	body[6] ^= 0xff // damage, same size
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	lost, err := s.scrub(quarantine, nil)
	if err != nil || lost != 2 {
		t.Fatalf("scrub = %d, %v; want the file's 2 events lost", lost, err)
	}
	if later, rel := s.snapshot(nil); len(later) != 0 {
		t.Fatalf("a query after the scrub reads %v", later)
	} else {
		rel()
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file a running query reads is gone: %v", err)
	}
	release()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the damaged file is still in the store after the query: %v", err)
	}
	dst := s.quarantined(quarantine, name)
	for _, p := range []string{dst, dst + bloomSuffix} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("not in quarantine: %v", err)
		}
	}
}
