package duck

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func TestExpCluster(t *testing.T) {
	src := os.Getenv("EXP_GLOB")
	if src == "" {
		t.Skip("EXP_GLOB")
	}
	c, _ := duckdb.NewConnector("", nil)
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.Exec("SET threads = 1")
	db.Exec("SET memory_limit = '4GB'")
	db.Exec("CREATE TABLE t AS SELECT * FROM read_parquet('" + src + "') LIMIT 200000")
	out := filepath.Join(t.TempDir(), "o.parquet")
	var n int64
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	for _, v := range []struct{ name, q, opts string }{
		{"as is lvl9", "SELECT * FROM t", "COMPRESSION zstd, COMPRESSION_LEVEL 9, ROW_GROUP_SIZE 20000"},
		{"as is lvl15", "SELECT * FROM t", "COMPRESSION zstd, COMPRESSION_LEVEL 15, ROW_GROUP_SIZE 20000"},
		{"brotli", "SELECT * FROM t", "COMPRESSION brotli, ROW_GROUP_SIZE 20000"},
	} {
		start := time.Now()
		if _, err := db.Exec("COPY (" + v.q + ") TO '" + out + "' (FORMAT parquet, " + v.opts + ")"); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(out)
		el := time.Since(start)
		start = time.Now()
		var k int64
		for range 5 {
			db.QueryRow("SELECT count(*) FROM (SELECT eventname, count(*) FROM read_parquet('" + out + "') GROUP BY 1)").Scan(&k)
		}
		g := time.Since(start) / 5
		start = time.Now()
		for range 5 {
			db.QueryRow("SELECT count(*) FROM read_parquet('" + out + "') WHERE eventjson LIKE '%zzzz%'").Scan(&k)
		}
		t.Logf("%-36s %6.1f B/ev  write %v  group-by %v  scan eventjson %v", v.name, float64(st.Size())/float64(n), el, g, time.Since(start)/5)
	}
	rows, _ := db.Query("SELECT path_in_schema, sum(total_compressed_size)/" + "(SELECT count(*) FROM t)" + " FROM parquet_metadata('" + out + "') GROUP BY 1 ORDER BY 2 DESC LIMIT 8")
	for rows.Next() {
		var p string
		var b float64
		rows.Scan(&p, &b)
		t.Logf("  %s %.1f", p, b)
	}
}
