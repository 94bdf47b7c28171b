// Package duck is the one place OpenTrail talks to DuckDB (embedded, through
// github.com/duckdb/duckdb-go/v2): it opens locked-down in-memory DuckDB
// instances, parses and deparses SQL with DuckDB's own parser for the Lake
// dialect, writes and compacts the Lake's Parquet files, and runs
// translated queries, returning each cell as the text CloudTrail Lake
// prints.
//
// Every instance is in memory and is locked before it is handed out: file
// access only inside the directories it was opened for, no extension
// installs or loads, no external access, and a locked configuration, so no
// statement can change any of that later (spec lake.md §11).
package duck
