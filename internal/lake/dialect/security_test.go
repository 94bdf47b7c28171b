package dialect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/lake/dialect"
)

// TestSecurityEscapes: every way out of "one SELECT over the caller's
// stores" is refused before anything runs, with a message that says why.
func TestSecurityEscapes(t *testing.T) {
	e := newEngine(t, nil)
	const s = storeA
	cases := []struct {
		name, stmt string
		kind       error  // the sentinel, or errNotFound for a table Resolve refuses
		msg        string // part of the message
	}{
		{"two statements", "SELECT 1 FROM " + s + "; SELECT 2 FROM " + s, dialect.ErrMultipleStatements, "2 statements"},
		{"comment hides a second statement", "SELECT 1 FROM " + s + " /* ; */ ; SELECT 2 FROM " + s, dialect.ErrMultipleStatements, "exactly one"},
		{"second statement after a line comment", "SELECT 1 FROM " + s + " -- x\n; DROP TABLE eds_a", dialect.ErrNotSelect, "Only SELECT"},
		{"COPY", "COPY eds_a TO '/tmp/x.csv'", dialect.ErrNotSelect, "Only SELECT"},
		{"COPY of a query", "COPY (SELECT * FROM " + s + ") TO '/tmp/x.csv'", dialect.ErrNotSelect, "Only SELECT"},
		{"ATTACH", "ATTACH '/tmp/other.db' AS other", dialect.ErrNotSelect, "Only SELECT"},
		{"DETACH", "DETACH other", dialect.ErrNotSelect, "Only SELECT"},
		{"INSTALL", "INSTALL httpfs", dialect.ErrNotSelect, "Only SELECT"},
		{"LOAD", "LOAD httpfs", dialect.ErrNotSelect, "Only SELECT"},
		{"SET", "SET enable_external_access = true", dialect.ErrNotSelect, "Only SELECT"},
		{"RESET", "RESET lock_configuration", dialect.ErrNotSelect, "Only SELECT"},
		{"PRAGMA", "PRAGMA database_list", dialect.ErrNotSelect, "Only SELECT"},
		{"CREATE TABLE", "CREATE TABLE x AS SELECT * FROM " + s, dialect.ErrNotSelect, "Only SELECT"},
		{"CREATE MACRO", "CREATE MACRO element_at(a, b) AS 1", dialect.ErrNotSelect, "Only SELECT"},
		{"INSERT", "INSERT INTO eds_a SELECT * FROM eds_a", dialect.ErrNotSelect, "Only SELECT"},
		{"UPDATE", "UPDATE eds_a SET eventname = 'x'", dialect.ErrNotSelect, "Only SELECT"},
		{"DELETE", "DELETE FROM eds_a", dialect.ErrNotSelect, "Only SELECT"},
		{"DROP", "DROP TABLE eds_a", dialect.ErrNotSelect, "Only SELECT"},
		{"EXPORT DATABASE", "EXPORT DATABASE '/tmp/dump'", dialect.ErrNotSelect, "Only SELECT"},
		{"CALL", "CALL pragma_version()", dialect.ErrNotSelect, "Only SELECT"},
		{"EXPLAIN", "EXPLAIN SELECT * FROM " + s, dialect.ErrNotSelect, "Only SELECT"},
		{"read_csv", "SELECT * FROM read_csv('/etc/passwd')", dialect.ErrUnsupported, "Table function read_csv"},
		{"read_parquet", "SELECT * FROM read_parquet('/var/lib/opentrail/lake/*.parquet')", dialect.ErrUnsupported, "Table function read_parquet"},
		{"read_json_auto", "SELECT * FROM read_json_auto('/etc/hosts')", dialect.ErrUnsupported, "read_json_auto"},
		{"path as a table", "SELECT * FROM '/etc/passwd'", dialect.ErrUnsupported, "is a string, not a table name"},
		{"csv file as a table", "SELECT * FROM 'file.csv'", dialect.ErrUnsupported, "is a string, not a table name"},
		{"FROM-first replacement scan", "FROM 'file.csv'", dialect.ErrUnsupported, "is a string, not a table name"},
		{"joined path", "SELECT * FROM " + s + " JOIN '/etc/passwd' ON true", dialect.ErrUnsupported, "is a string"},
		{"quoted path as a table", `SELECT * FROM "/etc/passwd"`, errNotFound, ""},
		{"path-like bare name", "SELECT * FROM /etc/passwd", errNotFound, ""},
		{"glob", "SELECT * FROM glob('/*')", dialect.ErrUnsupported, "Table function glob"},
		{"glob as a scalar", "SELECT glob('/*') FROM " + s, dialect.ErrUnsupported, "Function glob"},
		{"duckdb_settings", "SELECT * FROM duckdb_settings()", dialect.ErrUnsupported, "duckdb_settings"},
		{"duckdb_tables", "SELECT * FROM duckdb_tables()", dialect.ErrUnsupported, "duckdb_tables"},
		{"pragma table function", "SELECT * FROM pragma_table_info('eds_a')", dialect.ErrUnsupported, "pragma_table_info"},
		{"current_setting", "SELECT current_setting('threads') FROM " + s, dialect.ErrUnsupported, "Function current_setting"},
		{"getenv", "SELECT getenv('HOME') FROM " + s, dialect.ErrUnsupported, "Function getenv"},
		{"information_schema", "SELECT * FROM information_schema.tables", dialect.ErrUnsupported, "information_schema.tables"},
		{"pg_catalog", "SELECT * FROM pg_catalog.pg_class", dialect.ErrUnsupported, "pg_catalog.pg_class"},
		{"schema-qualified store", "SELECT * FROM main.eds_a", dialect.ErrUnsupported, "main.eds_a"},
		{"catalog-qualified", "SELECT * FROM memory.main.eds_a", dialect.ErrUnsupported, "memory.main.eds_a"},
		{"engine table by its own name", "SELECT * FROM eds_a", errNotFound, ""},
		{"duckdb_ table", "SELECT * FROM duckdb_settings", errNotFound, ""},
		{"table function in a subquery", "SELECT * FROM (SELECT * FROM read_csv('/etc/passwd'))", dialect.ErrUnsupported, "read_csv"},
		{"table function in WHERE", "SELECT * FROM " + s + " WHERE eventname IN (SELECT column0 FROM read_csv('/etc/passwd'))", dialect.ErrUnsupported, "read_csv"},
		{"table function in a CTE", "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x, " + s, dialect.ErrUnsupported, "read_text"},
		{"table function in a lateral join", "SELECT * FROM " + s + " CROSS JOIN LATERAL (SELECT * FROM read_blob('/etc/passwd'))", dialect.ErrUnsupported, "read_blob"},
		{"table function in a union", "SELECT eventname FROM " + s + " UNION SELECT * FROM read_csv('/etc/passwd')", dialect.ErrUnsupported, "read_csv"},
		{"query()", "SELECT * FROM query('SELECT * FROM eds_b')", dialect.ErrUnsupported, "Table function query"},
		{"query_table()", "SELECT * FROM query_table('eds_b')", dialect.ErrUnsupported, "query_table"},
		{"json_deserialize_sql", "SELECT json_deserialize_sql(json_serialize_sql('SELECT 1')) FROM " + s, dialect.ErrUnsupported, "json_deserialize_sql"},
		{"json_serialize_sql", "SELECT json_serialize_sql('SELECT 1') FROM " + s, dialect.ErrUnsupported, "json_serialize_sql"},
		{"a macro by its internal name", "SELECT trino_element_at(requestparameters, 'k') FROM " + s, dialect.ErrUnsupported, "trino_element_at"},
		{"schema-qualified function", "SELECT main.getenv('HOME') FROM " + s, dialect.ErrUnsupported, "getenv"},
		{"system function", "SELECT system.main.version() FROM " + s, dialect.ErrUnsupported, "system.main.version"},
		{"unknown function", "SELECT frobnicate(eventname) FROM " + s, dialect.ErrUnsupported, "Function frobnicate is not supported"},
		{"parameters", "SELECT * FROM " + s + " WHERE eventname = ?", dialect.ErrUnsupported, "parameters"},
		{"self-referencing CTE reads a table", "WITH eds_b AS (SELECT * FROM eds_b) SELECT * FROM eds_b", errNotFound, ""},
		{"CTE out of its scope", "SELECT * FROM (WITH c AS (SELECT 1 AS x) SELECT * FROM c) s, c", errNotFound, ""},
		{"no store at all", "SELECT 1", dialect.ErrNoTable, "event data store"},
		{"only a CTE", "WITH c AS (SELECT 1 AS x) SELECT * FROM c", dialect.ErrNoTable, "event data store"},
		{"ATTACH in a comment is not a statement, but the second is", "SELECT 1 FROM " + s + "; /* x */ ATTACH 'x'", dialect.ErrNotSelect, "Only SELECT"},
		{"too long", "SELECT eventname FROM " + s + strings.Repeat(" ", dialect.MaxStatementLength), dialect.ErrTooLong, "maximum is 10000"},
		{"empty", "  -- nothing\n", dialect.ErrSyntax, "empty"},
		{"syntax error", "SELEKT * FROM " + s, dialect.ErrSyntax, "Syntax error"},
		{"lambda outside a function", "SELECT x -> x FROM " + s, dialect.ErrUnsupported, "lambda"},
		{"DuckDB's JSON arrow", "SELECT eventjson ->> '$.a' FROM " + s, dialect.ErrUnsupported, "->>"},
		{"COLUMNS(*)", "SELECT COLUMNS('event.*') FROM " + s, dialect.ErrUnsupported, "*"},
		{"star with EXCLUDE", "SELECT * EXCLUDE (eventjson) FROM " + s, dialect.ErrUnsupported, "exclude list"},
		{"PIVOT", "SELECT * FROM " + s + " PIVOT (count(*) FOR eventname IN ('a'))", dialect.ErrUnsupported, "pivot"},
		{"TABLESAMPLE", "SELECT * FROM " + s + " TABLESAMPLE BERNOULLI (10)", dialect.ErrUnsupported, "sample"},
		{"ASOF join", "SELECT * FROM " + s + " a ASOF JOIN " + storeB + " b ON a.eventtime >= b.eventtime", dialect.ErrUnsupported, "ASOF"},
		{"positional join", "SELECT * FROM " + s + " POSITIONAL JOIN " + storeB, dialect.ErrUnsupported, "POSITIONAL"},
		{"DISTINCT ON", "SELECT DISTINCT ON (eventname) * FROM " + s, dialect.ErrUnsupported, "DISTINCT ON"},
		{"DESCRIBE", "DESCRIBE \"" + s + "\"", dialect.ErrUnsupported, "DESCRIBE, SHOW and SUMMARIZE"},
		{"SUMMARIZE", "SUMMARIZE \"" + s + "\"", dialect.ErrUnsupported, "DESCRIBE, SHOW and SUMMARIZE"},
		{"SHOW TABLES", "SHOW TABLES", dialect.ErrUnsupported, "DESCRIBE, SHOW and SUMMARIZE"},
		{"SHOW ALL TABLES", "SHOW ALL TABLES", dialect.ErrUnsupported, "DESCRIBE, SHOW and SUMMARIZE"},
		{"DESCRIBE in FROM", "SELECT * FROM (DESCRIBE \"" + s + "\")", dialect.ErrUnsupported, "DESCRIBE, SHOW and SUMMARIZE"},
		{"time travel", "SELECT * FROM " + s + " AT (VERSION => 1)", dialect.ErrUnsupported, "at clause"},
		{"COLLATE", "SELECT eventname COLLATE nocase FROM " + s, dialect.ErrUnsupported, "COLLATE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := dialect.Translate(t.Context(), e.p, c.stmt, dialect.Options{Resolve: resolve})
			if err == nil {
				t.Fatalf("%s: accepted as %s", c.stmt, tr.SQL)
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("%s: error %v, want %v", c.stmt, err, c.kind)
			}
			if c.kind != errNotFound {
				var de *dialect.Error
				if !errors.As(err, &de) {
					t.Fatalf("%s: error %T %v is not a *dialect.Error", c.stmt, err, err)
				}
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: message %q does not say %q", c.stmt, err, c.msg)
			}
		})
	}
}
