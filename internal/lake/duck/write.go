//go:build cgo

package duck

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Row groups of the files the lake writes hold 20,000 rows: DuckDB skips a
// row group whose statistics (eventtime min and max) rule it out, and a
// query for one row (by eventid) decompresses only its group: 20,000 rows
// read one event in 53–79 ms where 100,000 took 123–311 ms (BENCHMARKS.md),
// for files 1% larger. Larger groups also need more of the writer's
// memory.

// Files carry no Parquet Bloom filters (0.5% of a file): DuckDB writes
// them only for dictionary-encoded columns (event names, user names), whose
// common values are in every row group of 20,000 events and whose chunks
// are small enough to scan when a value is rare; the eventid column, not
// dictionary-encoded, has its own filter beside the file
// (NAME.parquet.bloom).
const parquetOptions = "FORMAT parquet, WRITE_BLOOM_FILTER false, COMPRESSION zstd, ROW_GROUP_SIZE 20000"

// copyOptions are the options of the COPY ... TO that writes a batch: zstd
// at its default level, fast enough for ingestion, and Parquet format 1
// pages, whose writer needs about 15% less memory than format 2's (170
// against 200 MB for 20,000 rows): two batches are written at a time,
// beside a compaction. Batches are short-lived: compaction rewrites them.
const copyOptions = "(" + parquetOptions + ")"

// Compaction outputs are Parquet format 2 (revision 2 of
// docs/format/lake.md): its DELTA_LENGTH_BYTE_ARRAY encoding keeps a
// string column's lengths apart from its bytes, where in PLAIN they break
// zstd's matches (4% of a file). A compaction writes one row group at a
// time.
// Compaction outputs that last (Final) are written at zstd level 11: about
// 7% smaller than at the default level and 1% smaller than at level 9,
// for a compaction that takes 1.4 times the CPU it takes at level 9,
// spent in the background. Level 15 saves 1% more for four times the CPU
// of a write at level 9, level 19 7% more for twenty times (decision 58).
// Outputs that will be merged again are written at the default level,
// like batches.
const (
	compactOptions      = "(" + parquetOptions + ", PARQUET_VERSION V2)"
	finalCompactOptions = "(" + parquetOptions + ", PARQUET_VERSION V2, COMPRESSION_LEVEL 11)"
)

// WriteParquet writes rows, in the order given, to the Parquet file path
// (zstd; the schema s, which made the rows). path must be inside one of the instance's
// AllowedDirs. The caller makes the file durable (fsync) and gives it its
// final name.
//
// The rows' lines (RowOf) go to a temporary file beside path,
// ".NAME.tsv.tmp", which DuckDB reads with its CSV reader and maps to the
// columns with json_transform, in C++, without a Go value per cell; the
// file is removed before WriteParquet returns (a crash can leave it: it is
// a leftover of an interrupted write).
func (d *DB) WriteParquet(ctx context.Context, s *Schema, path string, rows []Row) error {
	tsv := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tsv.tmp")
	defer os.Remove(tsv)
	if err := writeLines(tsv, rows); err != nil {
		return fmt.Errorf("duck: write %s: %w", path, err)
	}
	q := "COPY (" + s.selectLines(tsv) + ") TO " + quoteString(path) + " " + copyOptions
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("duck: write %s: %w", path, err)
	}
	return nil
}

// writeLines writes the rows' lines to the file path.
func writeLines(path string, rows []Row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range rows {
		if _, err := w.Write(rows[i].line); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// maxLine bounds a line DuckDB's CSV reader accepts: twice the largest
// record (1 MB, the Large MaxEventSize) and then some.
const maxLine = 4 << 20

// selectLines returns the query that reads the lines of the file path as
// rows of the schema.
func (s *Schema) selectLines(path string) string {
	return "SELECT " + s.lineColumns + " FROM (SELECT t, seq, cat, sum, ev, json_transform(proj, " + quoteString(s.projectedType) +
		") AS j FROM read_csv(" + quoteString(path) + ", columns = {'t': 'BIGINT', 'seq': 'UBIGINT', 'cat': 'VARCHAR', 'sum': 'VARCHAR', 'ev': 'VARCHAR', 'proj': 'VARCHAR'}, " +
		fmt.Sprintf("delim = '\\t', quote = '', escape = '', header = false, auto_detect = false, new_line = '\\n', max_line_size = %d))", maxLine)
}

// Compact writes the rows of the Parquet files inputs (of the schema s),
// file after file in the order given, to the Parquet file out: a streaming copy whose memory
// does not grow with the files (a sort would hold them). Every path must be
// inside the instance's AllowedDirs; on an instance with one thread the
// row order is kept. A final output (one that will not be merged again) is
// compressed harder.
func (d *DB) Compact(ctx context.Context, s *Schema, out string, inputs []string, final bool) error {
	if len(inputs) == 0 {
		return fmt.Errorf("duck: compact: no input files")
	}
	opts := compactOptions
	if final {
		opts = finalCompactOptions
	}
	q := "COPY (SELECT " + s.selectList + " FROM " + ReadParquet(inputs) + ") TO " + quoteString(out) + " " + opts
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
