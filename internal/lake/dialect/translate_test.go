package dialect_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/dialect"
)

var update = flag.Bool("update", false, "rewrite testdata/rewrites.golden")

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestBounds(t *testing.T) {
	e := newEngine(t, nil)
	const a, b = storeA, storeB
	cases := []struct {
		name, stmt string
		want       map[string]dialect.Bounds
	}{
		{"range", "SELECT * FROM " + a + " WHERE eventtime >= '2023-07-06 00:00:00' AND eventTime < '2023-07-08'",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 00:00:00"), To: day("2023-07-08 00:00:00")}}},
		{"BETWEEN and a literal on the left", "SELECT * FROM " + a + " WHERE eventtime BETWEEN '2023-07-06T10:00:00Z' AND '2023-07-07 10:00:00.5' AND '2023-07-06 12:00:00' <= EVENTTIME",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 12:00:00"), To: day("2023-07-07 10:00:00").Add(500 * time.Millisecond)}}},
		{"typed literals", "SELECT * FROM " + a + " WHERE eventtime > TIMESTAMP '2023-07-06 01:02:03' AND eventtime < from_iso8601_timestamp('2023-07-08T02:00:00+02:00')",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 01:02:03"), To: day("2023-07-08 00:00:00")}}},
		{"equality", "SELECT * FROM " + a + " WHERE eventtime = DATE '2023-07-06'",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 00:00:00"), To: day("2023-07-06 00:00:00")}}},
		{"eventid", "SELECT * FROM " + a + " WHERE eventID = 'e5'",
			map[string]dialect.Bounds{"eds_a": {EventIDs: []string{"e5"}}}},
		{"eventid IN and =", "SELECT * FROM " + a + " WHERE eventid IN ('b', 'a', 'b') AND eventid = 'a'",
			map[string]dialect.Bounds{"eds_a": {EventIDs: []string{"a"}}}},
		{"eventid contradiction", "SELECT * FROM " + a + " WHERE eventid = 'a' AND eventid = 'b'",
			map[string]dialect.Bounds{"eds_a": {EventIDs: []string{}}}},
		{"OR gives no bound", "SELECT * FROM " + a + " WHERE eventtime > '2023-07-06' OR eventid = 'x'",
			map[string]dialect.Bounds{"eds_a": {}}},
		{"NOT of a comparison is its opposite", "SELECT * FROM " + a + " WHERE NOT eventtime > '2023-07-06'",
			map[string]dialect.Bounds{"eds_a": {To: day("2023-07-06 00:00:00")}}},
		{"NOT of AND gives no bound", "SELECT * FROM " + a + " WHERE NOT (eventtime > '2023-07-06' AND eventid = 'x')",
			map[string]dialect.Bounds{"eds_a": {}}},
		{"a literal of unsure meaning gives no bound", "SELECT * FROM " + a + " WHERE eventtime > '2023-07-06 10:00:00+02' AND eventtime < 'now'",
			map[string]dialect.Bounds{"eds_a": {}}},
		{"a non-literal gives no bound", "SELECT * FROM " + a + " WHERE eventtime > current_timestamp - INTERVAL '1' DAY",
			map[string]dialect.Bounds{"eds_a": {}}},
		{"two references, one unbounded", "SELECT eventid FROM " + a + " WHERE eventtime > '2023-07-06' UNION SELECT eventid FROM " + a,
			map[string]dialect.Bounds{"eds_a": {}}},
		{"two references, both bounded", "SELECT eventid FROM " + a + " WHERE eventtime BETWEEN '2023-07-06' AND '2023-07-07' AND eventid IN ('x')" +
			" UNION ALL SELECT eventid FROM " + a + " WHERE eventtime BETWEEN '2023-07-01' AND '2023-07-02' AND eventid = 'y'",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-01 00:00:00"), To: day("2023-07-07 00:00:00"), EventIDs: []string{"x", "y"}}}},
		{"join: qualified names bound their table", "SELECT * FROM " + a + " x JOIN " + b + " y ON x.eventid = y.eventid WHERE x.eventtime > '2023-07-06' AND y.eventid = 'e1'",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 00:00:00")}, "eds_b": {EventIDs: []string{"e1"}}}},
		{"join: an unqualified name is ambiguous", "SELECT * FROM " + a + " x JOIN " + b + " y ON true WHERE eventtime > '2023-07-06'",
			map[string]dialect.Bounds{"eds_a": {}, "eds_b": {}}},
		{"qualified with the store ID", "SELECT * FROM " + a + " WHERE \"" + a + "\".eventtime > '2023-07-06'",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 00:00:00")}}},
		{"inside a subquery", "SELECT * FROM (SELECT * FROM " + a + " WHERE eventtime > '2023-07-06') s WHERE s.eventid = 'x'",
			map[string]dialect.Bounds{"eds_a": {From: day("2023-07-06 00:00:00")}}},
		{"beside a CTE, unqualified is not the store's", "WITH c AS (SELECT eventtime FROM " + b + ") SELECT * FROM " + a + ", c WHERE eventtime > '2023-07-06'",
			map[string]dialect.Bounds{"eds_a": {}, "eds_b": {}}},
		{"beside UNNEST", "SELECT * FROM " + a + " CROSS JOIN UNNEST(resources) AS t(r) WHERE eventtime < '2023-07-06'",
			map[string]dialect.Bounds{"eds_a": {To: day("2023-07-06 00:00:00")}}},
		{"an UNNEST column named eventtime", "SELECT * FROM " + a + " CROSS JOIN UNNEST(ARRAY[1]) AS t(eventtime) WHERE eventtime < 5",
			map[string]dialect.Bounds{"eds_a": {}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := dialect.Translate(t.Context(), e.p, c.stmt, dialect.Options{Resolve: resolve})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, tr.Bounds); diff != "" {
				t.Errorf("bounds (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColumnsAndTables(t *testing.T) {
	e := newEngine(t, map[string][]string{"eds_a": nil, "eds_b": nil})
	cases := []struct {
		name, stmt string
		cols       []string
		tables     []string
	}{
		{"Lake naming", "SELECT eventName, userIdentity.principalid, count(*), count(*) AS apiCount, element_at(resources, 1).arn, current_timestamp, 1 + 1, \"eventSource\" FROM " + storeA + " GROUP BY 1, 2, 5, 8",
			[]string{"eventName", "principalid", "_col2", "apiCount", "arn", "_col5", "_col6", "eventSource"}, []string{"eds_a"}},
		{"star", "SELECT *, eventname FROM " + storeA, nil, []string{"eds_a"}},
		{"qualified star", "SELECT a.* FROM " + storeA + " a", nil, []string{"eds_a"}},
		{"set operation: the first SELECT names", "SELECT eventid AS id FROM " + storeB + " UNION SELECT eventname FROM " + storeA + " UNION SELECT eventid FROM " + storeB,
			[]string{"id"}, []string{"eds_b", "eds_a"}},
		{"a CTE is not a table", "WITH x AS (SELECT eventname FROM " + storeA + ") SELECT eventname FROM x", []string{"eventname"}, []string{"eds_a"}},
		{"the same store under two names", "SELECT a.eventid FROM " + storeA + " a JOIN \"" + strings.ToLower(storeA) + "\" b ON a.eventid = b.eventid",
			[]string{"eventid"}, []string{"eds_a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, cols, _, err := e.run(t.Context(), c.stmt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.cols, tr.Columns); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			if c.cols != nil {
				if diff := cmp.Diff(c.cols, cols); diff != "" {
					t.Errorf("DuckDB's names differ (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(c.tables, tr.Tables); diff != "" {
				t.Errorf("tables (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMemberAliases: eventdata.errormssage, AWS's spelling, reads
// eventdata.errormessage; the column keeps the name as typed.
func TestMemberAliases(t *testing.T) {
	e := newEngine(t, nil)
	for _, c := range []struct{ stmt, sql string }{
		{"SELECT eventData.errorMssage FROM " + storeA + " WHERE eventdata.errormssage IS NOT NULL",
			"SELECT eventData.errormessage AS errorMssage FROM eds_a AS \"EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE\" WHERE (eventdata.errormessage IS NOT NULL)"},
		{"SELECT t.eventdata.errormssage AS m, errormssage FROM " + storeA + " t",
			"SELECT t.eventdata.errormessage AS m, errormssage AS errormssage FROM eds_a AS t"},
	} {
		tr, err := dialect.Translate(t.Context(), e.p, c.stmt, dialect.Options{Resolve: resolve})
		if err != nil {
			t.Fatalf("%s: %v", c.stmt, err)
		}
		if tr.SQL != c.sql {
			t.Errorf("%s:\n got %s\nwant %s", c.stmt, tr.SQL, c.sql)
		}
	}
}

// TestResolveError: Resolve's error comes back wrapped, for the API to map.
func TestResolveError(t *testing.T) {
	e := newEngine(t, nil)
	errPending := errors.New("store is pending deletion")
	_, err := dialect.Translate(t.Context(), e.p, "SELECT * FROM "+storeA, dialect.Options{Resolve: func(string) (string, error) { return "", errPending }})
	if !errors.Is(err, errPending) || !strings.Contains(err.Error(), storeA) {
		t.Errorf("error %v, want it to wrap %v and name the table", err, errPending)
	}
}

// failingParser is a parser that cannot be reached.
type failingParser struct{ err error }

func (p failingParser) Serialize(context.Context, string) ([]byte, error)   { return nil, p.err }
func (p failingParser) Deserialize(context.Context, []byte) (string, error) { return "", p.err }

func TestParserError(t *testing.T) {
	errDown := errors.New("connection closed")
	_, err := dialect.Translate(t.Context(), failingParser{errDown}, "SELECT 1 FROM "+storeA, dialect.Options{Resolve: resolve})
	var de *dialect.Error
	if !errors.Is(err, errDown) || errors.As(err, &de) {
		t.Errorf("error %v: want the parser's error wrapped, not a statement error", err)
	}
}

// TestRewritesGolden keeps the DuckDB SQL of every row of the dialect table
// in testdata/rewrites.golden: a change to a rewrite shows in review as a
// change of its row. Run with -update to rewrite the file.
func TestRewritesGolden(t *testing.T) {
	e := newEngine(t, nil)
	var b bytes.Buffer
	b.WriteString("# Trino expression (the dialect table) => the DuckDB SQL Translate writes for it.\n")
	for _, c := range dialectTable {
		tr, err := dialect.Translate(t.Context(), e.p, "SELECT "+c.expr+" AS v FROM "+one+c.from, dialect.Options{Resolve: resolve})
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		sql := strings.TrimPrefix(tr.SQL, "SELECT ")
		sql = sql[:strings.LastIndex(sql, " AS v FROM ")]
		fmt.Fprintf(&b, "%s\n    => %s\n", c.expr, sql)
	}
	const path = "testdata/rewrites.golden"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestRewritesGolden -update)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("%s is stale (-file +now; run with -update if the change is meant):\n%s", path, diff)
	}
}
