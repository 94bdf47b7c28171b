package dialect_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/opentrail/opentrail/internal/lake/dialect"
)

// FuzzTranslate runs Translate with DuckDB's real parser on arbitrary
// statements: it never panics, every refusal is a *dialect.Error (or
// Resolve's error for an unknown table), and whatever it accepts is one
// SELECT statement that DuckDB parses, reading only resolved stores.
func FuzzTranslate(f *testing.F) {
	for _, c := range dialectTable {
		f.Add("SELECT " + c.expr + " FROM " + one + c.from)
	}
	for _, q := range lakeQueries {
		f.Add(q.sql)
	}
	for _, s := range []string{
		"SELECT 1; SELECT 2", "COPY t TO 'x'", "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM '/x'",
		"WITH a AS (SELECT * FROM a) SELECT * FROM a", "SELECT * FROM " + storeA + " WHERE eventtime > '2023-01-01'",
		"SELECT x -> x FROM " + storeA, "SELECT reduce(ARRAY[1], 0, (s, x) -> s + x, s -> s) FROM " + storeA,
	} {
		f.Add(s)
	}
	e := newEngine(f, map[string][]string{})
	f.Fuzz(func(t *testing.T, stmt string) {
		tr, err := dialect.Translate(t.Context(), e.p, stmt, dialect.Options{Resolve: resolve})
		if err != nil {
			var de *dialect.Error
			if !errors.As(err, &de) && !errors.Is(err, errNotFound) {
				t.Fatalf("Translate(%q): untyped error %T %v", stmt, err, err)
			}
			if de != nil && de.Kind == nil {
				t.Fatalf("Translate(%q): *Error without a kind: %v", stmt, err)
			}
			return
		}
		if len(tr.Tables) == 0 {
			t.Fatalf("Translate(%q) reads no table: %s", stmt, tr.SQL)
		}
		for _, table := range tr.Tables {
			if !slices.Contains([]string{"eds_a", "eds_b", "eds_one"}, table) {
				t.Fatalf("Translate(%q) reads %q", stmt, table)
			}
		}
		raw, err := e.p.Serialize(t.Context(), tr.SQL)
		if err != nil {
			t.Fatalf("Translate(%q) = %q, which does not parse: %v", stmt, tr.SQL, err)
		}
		var doc struct {
			Error      bool
			Statements []json.RawMessage
		}
		if err := json.Unmarshal(raw, &doc); err != nil || doc.Error || len(doc.Statements) != 1 {
			t.Fatalf("Translate(%q) = %q, not one SELECT: %s", stmt, tr.SQL, raw)
		}
	})
}
