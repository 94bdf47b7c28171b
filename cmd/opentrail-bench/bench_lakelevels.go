package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake/duck"
)

// The lakelevels phase measures what writing a store's events as Parquet
// costs at each zstd level, and what it saves: the imported store's rows
// (phase lakeimport), loaded into memory once, written again by DuckDB's
// COPY with the options of a compaction's output (format 2 pages, row
// groups of 20,000) at levels 1, 3, 9 and 11, as stored and sorted by
// event source, name, user and time. One DuckDB thread; the CPU is the
// process's (getrusage) over each COPY. It bounds what any Lake ingestion
// that writes files of these bytes costs per event, whatever the batches
// and compactions around it (BENCHMARKS.md, CloudTrail Lake).

// lakeLevelOrders are the row orders lakelevels writes.
var lakeLevelOrders = []struct{ name, orderBy string }{
	{"stored", ""},
	{"sorted", " ORDER BY eventsource, eventname, useridentity.username, eventtime"},
}

func phaseLakeLevels(ctx context.Context, f benchFlags) (phaseResult, error) {
	storeDir, err := onlyStoreDir(filepath.Join(f.dir, lakeImportDir, datadir.LakeDir, benchAccount))
	if err != nil {
		return phaseResult{}, err
	}
	out, err := os.MkdirTemp(f.dir, "lakelevels-")
	if err != nil {
		return phaseResult{}, err
	}
	defer os.RemoveAll(out)
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{storeDir, out}, Threads: 1, MemoryLimit: "16GB"})
	if err != nil {
		return phaseResult{}, err
	}
	defer db.Close()
	if _, err := duckQuery(ctx, db, "CREATE TABLE t AS SELECT * FROM read_parquet('"+filepath.Join(storeDir, "day=*", "*.parquet")+"')"); err != nil {
		return phaseResult{}, err
	}
	rows, err := duckQuery(ctx, db, "SELECT count(*) FROM t")
	if err != nil {
		return phaseResult{}, err
	}
	n, err := strconv.ParseFloat(rows[0][0], 64)
	if err != nil || n == 0 {
		return phaseResult{}, fmt.Errorf("lakelevels: the imported store holds %v rows (%v)", rows, err)
	}
	res := phaseResult{Events: int(n), Extra: map[string]float64{}}
	for _, o := range lakeLevelOrders {
		for _, level := range []int{1, 3, 9, 11} {
			path := filepath.Join(out, fmt.Sprintf("%s-%d.parquet", o.name, level))
			cpu := cpuSeconds()
			q := fmt.Sprintf("COPY (SELECT * FROM t%s) TO '%s' (FORMAT parquet, WRITE_BLOOM_FILTER false, COMPRESSION zstd, ROW_GROUP_SIZE 20000, PARQUET_VERSION V2, COMPRESSION_LEVEL %d)", o.orderBy, path, level)
			if _, err := duckQuery(ctx, db, q); err != nil {
				return res, err
			}
			used := cpuSeconds() - cpu
			st, err := os.Stat(path)
			if err != nil {
				return res, err
			}
			os.Remove(path)
			key := fmt.Sprintf("%s.level%d.", o.name, level)
			res.Extra[key+"cpuMicrosPerEvent"] = used / n * 1e6
			res.Extra[key+"bytesPerEvent"] = float64(st.Size()) / n
			res.Seconds += used
		}
	}
	return res, nil
}
