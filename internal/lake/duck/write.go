//go:build cgo

package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync/atomic"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Row groups of the files the lake writes hold 20,000 rows: DuckDB skips a
// row group whose statistics (eventtime min and max) rule it out, and a
// query for one row (by eventid) decompresses only its group: 20,000 rows
// read one event in 53–79 ms where 100,000 took 123–311 ms (BENCHMARKS.md),
// for files 1% larger. Larger groups also need more of the writer's
// memory.

// copyOptions are the options of the COPY ... TO that writes a batch: zstd
// at its default level, fast enough for ingestion.
const copyOptions = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 20000)"

// compactOptions write compaction outputs, which live long: zstd level 9
// makes them about 7% smaller than the default level for twice the CPU,
// spent in the background (level 15 saves 4% more for six times the CPU).
const compactOptions = "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 9, ROW_GROUP_SIZE 20000)"

var stagingSeq atomic.Uint64

// WriteParquet writes rows, in the order given, to the Parquet file path
// (zstd; the Lake schema). path must be inside one of the instance's
// AllowedDirs. The caller makes the file durable (fsync) and gives it its
// final name.
func (d *DB) WriteParquet(ctx context.Context, path string, rows []Row) error {
	table := fmt.Sprintf("staging_%d", stagingSeq.Add(1))
	return d.conn(ctx, func(_ *sql.Conn, raw driver.Conn) error {
		ex, ok := raw.(driver.ExecerContext)
		if !ok {
			return fmt.Errorf("duck: driver connection %T cannot execute", raw)
		}
		exec := func(q string) error {
			_, err := ex.ExecContext(ctx, q, nil)
			return err
		}
		if err := exec("CREATE TEMP TABLE " + table + " " + tableDDL()); err != nil {
			return fmt.Errorf("duck: staging table: %w", err)
		}
		defer exec("DROP TABLE IF EXISTS " + table) //nolint:errcheck // best effort; the connection's temp tables go with it
		app, err := duckdb.NewAppender(raw, "temp", "main", table)
		if err != nil {
			return fmt.Errorf("duck: appender: %w", err)
		}
		for i := range rows {
			if err := app.AppendRow(rows[i].values...); err != nil {
				app.Close()
				return fmt.Errorf("duck: append event %d: %w", rows[i].Seq, err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("duck: append: %w", err)
		}
		if err := exec("COPY " + table + " TO " + quoteString(path) + " " + copyOptions); err != nil {
			return fmt.Errorf("duck: write %s: %w", path, err)
		}
		return nil
	})
}

// Compact writes the rows of the Parquet files inputs, file after file in
// the order given, to the Parquet file out: a streaming copy whose memory
// does not grow with the files (a sort would hold them). Every path must be
// inside the instance's AllowedDirs; on an instance with one thread the
// row order is kept.
func (d *DB) Compact(ctx context.Context, out string, inputs []string) error {
	if len(inputs) == 0 {
		return fmt.Errorf("duck: compact: no input files")
	}
	q := "COPY (SELECT * FROM " + ReadParquet(inputs) + ") TO " + quoteString(out) + " " + compactOptions
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("duck: compact into %s: %w", out, err)
	}
	return nil
}

// EventIDs calls fn with the eventid of every row of the Parquet file path.
func (d *DB) EventIDs(ctx context.Context, path string, fn func(id string)) error {
	rows, err := d.db.QueryContext(ctx, "SELECT eventid FROM read_parquet("+quoteString(path)+") WHERE eventid IS NOT NULL")
	if err != nil {
		return fmt.Errorf("duck: read event ids of %s: %w", path, err)
	}
	defer rows.Close()
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return err
		}
		fn(id)
	}
	return rows.Err()
}
