package federation_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

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
		Columns:  duck.Columns(),
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
