package federation_test

import (
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // plain DuckDB runs the definitions
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/lake/federation"
)

var update = flag.Bool("update", false, "rewrite the golden table definitions in testdata/")

// TestTableDefinitions checks the generated DuckDB, Trino and Spark
// definitions against golden files (no Trino or Spark here: review the
// golden files when the schema changes, and rewrite them with -update).
func TestTableDefinitions(t *testing.T) {
	tab := federation.Table{
		Name:     federation.TableName(storeID),
		ARN:      arn,
		Location: "s3://" + bucket + "/" + prefix + "data/",
		Endpoint: "http://127.0.0.1:7000",
		Columns:  duck.CloudTrail.Columns(),
	}
	urls := []string{
		"s3://" + bucket + "/" + prefix + "data/" + c1,
		"s3://" + bucket + "/" + prefix + "data/" + b3,
	}
	for _, tc := range []struct{ name, got string }{
		{"duckdb.sql", tab.DuckDB(urls)},
		{"duckdb-empty.sql", tab.DuckDB(nil)},
		{"trino.sql", tab.Trino()},
		{"spark.sql", tab.Spark()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(path, []byte(tc.got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), tc.got); diff != "" {
				t.Errorf("%s differs from the golden file (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

func TestTableName(t *testing.T) {
	if got, want := federation.TableName("0B3F-a1"), "eds_0b3f_a1"; got != want {
		t.Errorf("TableName = %q, want %q", got, want)
	}
}

// TestDuckDBEmptySnapshotRuns: the DuckDB definition of a store with no
// file yet runs in plain DuckDB and is a view of no rows with the
// schema's columns and day.
func TestDuckDBEmptySnapshotRuns(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ddl := federation.Table{Name: federation.TableName(storeID), ARN: arn, Location: "s3://b/p/data/", Columns: duck.CloudTrail.Columns()}.DuckDB(nil)
	for _, stmt := range strings.Split(ddl, ";\n") {
		code := false
		for _, l := range strings.Split(stmt, "\n") {
			code = code || (strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "--"))
		}
		if !code {
			continue
		}
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	rows, err := db.QueryContext(t.Context(), "SELECT * FROM cloudtrail."+federation.TableName(storeID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if want := len(duck.CloudTrail.Columns()) + 1; len(cols) != want || cols[len(cols)-1] != "day" {
		t.Fatalf("columns %v, want the %d of the schema and day", cols, want-1)
	}
	if rows.Next() {
		t.Fatal("the view of an empty snapshot has a row")
	}
}
