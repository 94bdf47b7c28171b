package federation

import (
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/lake/duck"
)

// Schema is the schema the table definitions create their table in.
const Schema = "cloudtrail"

// TableName is the table a store is published as: eds_ and its id with
// "-" as "_" (Hive metastores accept only letters, digits and "_").
func TableName(id string) string {
	return "eds_" + strings.ReplaceAll(strings.ToLower(id), "-", "_")
}

// Table is what the table definitions of one published store say.
type Table struct {
	Name     string // TableName of the store
	ARN      string // the store's ARN, for the comment
	Location string // s3:// URL of the data/ prefix, ending in "/"
	Endpoint string // S3 endpoint the bucket is served at; "" when unknown
	Columns  []duck.Column
}

// partitionColumn is the Hive partition key, from the day=YYYY-MM-DD
// directories.
const partitionColumn = "day"

func (t Table) header(engine string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s table definition of OpenTrail event data store %s,\n", engine, t.ARN)
	fmt.Fprintf(&b, "-- published at %s (docs/format/federation.md).\n", t.Location)
	if t.Endpoint != "" {
		fmt.Fprintf(&b, "-- The bucket is served by the S3-compatible endpoint %s (path-style URLs).\n", t.Endpoint)
	}
	return b.String()
}

// DuckDB returns duckdb.sql: a view over exactly the snapshot's files
// (urls, s3:// URLs), with the day partition from their paths.
func (t Table) DuckDB(urls []string) string {
	var b strings.Builder
	b.WriteString(t.header("DuckDB"))
	b.WriteString("-- Needs DuckDB's httpfs extension and an S3 secret for the endpoint, e.g.\n")
	b.WriteString("--   INSTALL httpfs; LOAD httpfs;\n")
	b.WriteString("--   CREATE SECRET (TYPE s3, KEY_ID '...', SECRET '...', REGION 'us-east-1', ENDPOINT 'HOST:PORT', URL_STYLE 'path', USE_SSL false);\n")
	b.WriteString("-- It names the files of one published snapshot, so it never reads half of one.\n")
	fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\n", Schema)
	fmt.Fprintf(&b, "CREATE OR REPLACE VIEW %s.%s AS\nSELECT\n", Schema, t.Name)
	if len(urls) == 0 {
		for _, c := range t.Columns {
			fmt.Fprintf(&b, "  CAST(NULL AS %s) AS %s,\n", c.DuckDB, duckIdent(c.Name))
		}
		fmt.Fprintf(&b, "  CAST(NULL AS VARCHAR) AS %s\nWHERE false;\n", partitionColumn)
		return b.String()
	}
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "  %s,\n", duckIdent(c.Name))
	}
	fmt.Fprintf(&b, "  %s\nFROM read_parquet([\n", partitionColumn)
	for i, u := range urls {
		sep := ","
		if i == len(urls)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    %s%s\n", sqlString(u), sep)
	}
	fmt.Fprintf(&b, "  ], hive_partitioning = true, hive_types = {'%s': VARCHAR}, union_by_name = true);\n", partitionColumn)
	return b.String()
}

// Trino returns trino.sql: an external table of the Hive connector over
// the data/ prefix, partitioned by day.
func (t Table) Trino() string {
	var b strings.Builder
	b.WriteString(t.header("Trino (Hive connector, catalog hive)"))
	b.WriteString("-- The table reads every file under its location: see docs/format/federation.md\n")
	b.WriteString("-- for what a reader that lists the prefix sees while a compaction is published.\n")
	b.WriteString("-- Run the CALL again when new days appear.\n")
	fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS hive.%s;\n", Schema)
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS hive.%s.%s (\n", Schema, t.Name)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "  %s %s,\n", duckIdent(c.Name), trinoType(c.Type))
	}
	fmt.Fprintf(&b, "  %s varchar\n)\nWITH (\n", duckIdent(partitionColumn))
	fmt.Fprintf(&b, "  external_location = %s,\n  format = 'PARQUET',\n  partitioned_by = ARRAY['%s']\n);\n", sqlString(t.Location), partitionColumn)
	fmt.Fprintf(&b, "CALL hive.system.sync_partition_metadata('%s', '%s', 'FULL');\n", Schema, t.Name)
	return b.String()
}

// Spark returns spark.sql: a Spark SQL table over the data/ prefix
// (through the s3a file system), partitioned by day.
func (t Table) Spark() string {
	var b strings.Builder
	b.WriteString(t.header("Spark SQL"))
	b.WriteString("-- The table reads every file under its location: see docs/format/federation.md\n")
	b.WriteString("-- for what a reader that lists the prefix sees while a compaction is published.\n")
	b.WriteString("-- Run MSCK REPAIR TABLE again when new days appear.\n")
	fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS %s;\n", Schema)
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s.%s (\n", Schema, t.Name)
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "  %s %s,\n", sparkIdent(c.Name), sparkType(c.Type))
	}
	fmt.Fprintf(&b, "  %s STRING\n)\nUSING parquet\nPARTITIONED BY (%s)\n", sparkIdent(partitionColumn), sparkIdent(partitionColumn))
	fmt.Fprintf(&b, "LOCATION %s;\n", sqlString("s3a://"+strings.TrimPrefix(t.Location, "s3://")))
	fmt.Fprintf(&b, "MSCK REPAIR TABLE %s.%s;\n", Schema, t.Name)
	return b.String()
}

// typeSyntax is how an engine writes the Lake schema's types.
type typeSyntax struct {
	str, ts, boolean, mapT string
	row, array             [2]string // opening and closing of a struct and a list type
	member                 string    // between a struct member's name and type
	ident                  func(string) string
}

var (
	trinoTypes = typeSyntax{str: "varchar", ts: "timestamp(3)", boolean: "boolean", mapT: "map(varchar, varchar)",
		row: [2]string{"row(", ")"}, array: [2]string{"array(", ")"}, member: " ", ident: duckIdent}
	sparkTypes = typeSyntax{str: "STRING", ts: "TIMESTAMP", boolean: "BOOLEAN", mapT: "MAP<STRING, STRING>",
		row: [2]string{"STRUCT<", ">"}, array: [2]string{"ARRAY<", ">"}, member: ": ", ident: sparkIdent}
)

func trinoType(t duck.Type) string { return trinoTypes.of(t) }
func sparkType(t duck.Type) string { return sparkTypes.of(t) }

func (x typeSyntax) of(t duck.Type) string {
	switch t.Kind {
	case duck.TypeTimestamp:
		return x.ts
	case duck.TypeBoolean:
		return x.boolean
	case duck.TypeMap:
		return x.mapT
	case duck.TypeStruct:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = x.ident(f.Name) + x.member + x.of(f.Type)
		}
		return x.row[0] + strings.Join(parts, ", ") + x.row[1]
	case duck.TypeList:
		return x.array[0] + x.of(*t.Elem) + x.array[1]
	}
	return x.str
}

// duckIdent quotes an identifier for DuckDB and Trino.
func duckIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sparkIdent quotes an identifier for Spark SQL.
func sparkIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// sqlString quotes a string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
