package lake

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

type noStores struct{}

func (noStores) DataStores() []StoreSpec { return nil }
func (noStores) Purge(string) error      { return nil }

// TestSpillDirectory checks where the engine's DuckDB instances spill: the
// writer to DATA-DIR/lake/tmp/writer, emptied at start; and that an
// account's query instance, which runs users' SQL, reaches no file there
// (nor in `.tmp` of the working directory, DuckDB's default), while it
// reads its account's directory.
func TestSpillDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	const account = "123456789012"
	// What a crash leaves.
	left := filepath.Join(dir, "lake", spillDir, "writer", "duckdb_temp_storage_S256K-0.tmp")
	if err := os.MkdirAll(filepath.Dir(left), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(left, []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Open(t.Context(), filepath.Join(dir, "lake"), Options{Stores: noStores{}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("a spill file of the last run after Open: %v, want it removed", err)
	}
	var got string
	if _, err := e.writer.Query(t.Context(), "SELECT current_setting('temp_directory')", func(c []*string) error {
		got = *c[0]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(e.dir, spillDir, "writer"); got != want {
		t.Fatalf("the writer spills to %q, want %q", got, want)
	}

	db, err := e.q.instance(t.Context(), account)
	if err != nil {
		t.Fatal(err)
	}
	// Spill files as DuckDB names them, in every directory an instance of
	// the engine could spill to, and a file the query instance may read.
	var spills []string
	for _, d := range []string{filepath.Join(e.dir, spillDir, "writer"), filepath.Join(e.dir, spillDir, "query-"+account), filepath.Join(e.dir, spillDir, account), filepath.Join(dir, ".tmp")} {
		spills = append(spills, filepath.Join(d, "duckdb_temp_storage_S256K-0.tmp"), filepath.Join(d, "*"))
	}
	spills = append(spills, filepath.Join(e.dir, spillDir, "*", "*"), filepath.Join(e.dir, account, "..", spillDir, "writer", "*"))
	mine := filepath.Join(e.dir, account, "readable.csv")
	for _, p := range append(spills, mine) {
		if filepath.Base(p) == "*" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("a\n1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		"SELECT * FROM read_csv('%s')",
		"SELECT * FROM read_text('%s')",
		"SELECT * FROM read_blob('%s')",
		"SELECT count(*) FROM glob('%s')",
		"COPY (SELECT 1) TO '%s.copy'",
	} {
		if _, err := db.Query(t.Context(), fmt.Sprintf(stmt, mine), func([]*string) error { return nil }); err != nil {
			t.Fatalf("%s in the account's directory: %v, want it to run", stmt, err)
		}
		for _, p := range spills {
			q := fmt.Sprintf(stmt, p)
			if _, err := db.Query(t.Context(), q, func([]*string) error { return nil }); err == nil {
				t.Errorf("%s: ran; want refused", q)
			}
		}
	}
}
