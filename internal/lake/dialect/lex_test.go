package dialect

import (
	"errors"
	"testing"
)

func TestPrepare(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"bare store ID", "SELECT * FROM EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE WHERE x = 1",
			`SELECT * FROM "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE" WHERE x = 1`},
		{"lower-case UUID starting with digits", "select 1 from 123e4567-e89b-42d3-a456-426614174000 t",
			`select 1 from "123e4567-e89b-42d3-a456-426614174000" t`},
		{"already quoted", `SELECT * FROM "abc-def"`, `SELECT * FROM "abc-def"`},
		{"plain identifier left alone", "SELECT * FROM cte1, abc", "SELECT * FROM cte1, abc"},
		{"comma list", "SELECT * FROM a-b x, c-d y WHERE 1", `SELECT * FROM "a-b" x, "c-d" y WHERE 1`},
		{"joins", "SELECT * FROM a-b AS a LEFT JOIN c-d AS b ON a.x = b.x JOIN e-f USING (x)",
			`SELECT * FROM "a-b" AS a LEFT JOIN "c-d" AS b ON a.x = b.x JOIN "e-f" USING (x)`},
		{"subquery and IN", "SELECT * FROM (SELECT x FROM a-b) s WHERE y IN (SELECT y FROM c-d)",
			`SELECT * FROM (SELECT x FROM "a-b") s WHERE y IN (SELECT y FROM "c-d")`},
		{"EXTRACT's FROM is not a table", "SELECT EXTRACT(YEAR FROM 2023-01-01) FROM a-b",
			`SELECT EXTRACT(YEAR FROM 2023-01-01) FROM "a-b"`},
		{"TRIM's FROM is not a table", "SELECT trim(BOTH 'x' FROM 1-2) FROM a-b", `SELECT trim(BOTH 'x' FROM 1-2) FROM "a-b"`},
		{"IS DISTINCT FROM is not a table", "SELECT * FROM a-b WHERE x IS NOT DISTINCT FROM 1-2",
			`SELECT * FROM "a-b" WHERE x IS NOT DISTINCT FROM 1-2`},
		{"comment after the ID", "SELECT * FROM a-b--comment\nWHERE 1", "SELECT * FROM \"a-b\"--comment\nWHERE 1"},
		{"block comment after the ID", "SELECT * FROM a-b/* c */", `SELECT * FROM "a-b"/* c */`},
		{"FROM inside a string", "SELECT 'FROM a-b' FROM c-d", `SELECT 'FROM a-b' FROM "c-d"`},
		{"FROM inside a comment", "SELECT 1 /* FROM a-b */ FROM c-d -- FROM e-f", `SELECT 1 /* FROM a-b */ FROM "c-d" -- FROM e-f`},
		{"nested comment", "SELECT 1 /* /* FROM a-b */ FROM c-d */ FROM e-f", `SELECT 1 /* /* FROM a-b */ FROM c-d */ FROM "e-f"`},
		{"dollar string", "SELECT $$FROM a-b$$ FROM c-d", `SELECT $$FROM a-b$$ FROM "c-d"`},
		{"escape string", `SELECT E'\' FROM a-b' FROM c-d`, `SELECT E'\' FROM a-b' FROM "c-d"`},
		{"lateral", "SELECT * FROM a-b, LATERAL (SELECT 1) s", `SELECT * FROM "a-b", LATERAL (SELECT 1) s`},
		{"unnest", "SELECT * FROM a-b CROSS JOIN UNNEST(resources) AS t(r)", `SELECT * FROM "a-b" CROSS JOIN UNNEST(resources) AS t(r)`},
		{"union", "SELECT 1 FROM a-b UNION SELECT 2 FROM c-d", `SELECT 1 FROM "a-b" UNION SELECT 2 FROM "c-d"`},
		{"array type", "SELECT CAST(x AS ARRAY(VARCHAR)) FROM t", "SELECT CAST(x AS VARCHAR[]) FROM t"},
		{"nested array type", "SELECT CAST(x AS array(map(varchar, array(bigint)))) FROM t", "SELECT CAST(x AS map(varchar, bigint[])[]) FROM t"},
		{"array constructor left alone", "SELECT ARRAY[1, 2], ARRAY(SELECT 1) FROM t", "SELECT ARRAY[1, 2], ARRAY(SELECT 1) FROM t"},
		{"path-like name", "SELECT * FROM /etc/passwd", `SELECT * FROM "/etc/passwd"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := prepare(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("prepare(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestPrepareRefusesStringTables(t *testing.T) {
	for _, in := range []string{
		"SELECT * FROM '/etc/passwd'",
		"FROM 'x.csv'",
		"SELECT * FROM a-b, 'x.parquet'",
		"SELECT * FROM a-b JOIN E'/etc/passwd' ON true",
		"SELECT * FROM $$/etc/passwd$$",
	} {
		_, err := prepare(in)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("prepare(%q): %v, want ErrUnsupported", in, err)
		}
	}
}

// FuzzPrepare: the lexer never panics, and preparing twice changes nothing
// more than preparing once.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE", "SELECT CAST(x AS ARRAY(ARRAY(VARCHAR))) FROM a-b",
		"SELECT 'it''s' FROM \"a\"\"b\"", "SELECT $t$x$t$ FROM a", "/* /* */ */ FROM a-b", "FROM", "ARRAY(",
		"SELECT E'\\'' FROM x-y", "SELECT * FROM a, b-c JOIN d-e ON (f) WHERE g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once, err := prepare(s)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("prepare(%q): untyped error %v", s, err)
			}
			return
		}
		twice, err := prepare(once)
		if err != nil {
			t.Fatalf("prepare(prepare(%q)) = error %v", s, err)
		}
		if twice != once {
			t.Fatalf("prepare is not idempotent on %q:\n once %q\ntwice %q", s, once, twice)
		}
	})
}

func TestJSONPath(t *testing.T) {
	for in, want := range map[string]string{
		"$.a.b":               "$.a.b",
		`$["a b"].c`:          `$."a b".c`,
		`$['x']`:              `$."x"`,
		"$.items[0].x":        "$.items[0].x",
		"$[*]":                "$[*]",
		`$["a"]["b"][2]`:      `$."a"."b"[2]`,
		"a.b":                 "a.b",
		`$["unterminated`:     `$["unterminated`,
		`$["has\"quote"]`:     `$["has\"quote"]`,
		"$.requestParameters": "$.requestParameters",
	} {
		if got := jsonPath(in); got != want {
			t.Errorf("jsonPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		joda bool
		in   string
		want string
		err  bool
	}{
		{in: "%Y-%m-%d %H:%i:%s", want: "%Y-%m-%d %H:%M:%S"},
		{in: "%c/%e %k %l %p %W %M %a %b %j %T %r %f %%", want: "%-m/%-d %-H %-I %p %A %B %a %b %j %H:%M:%S %I:%M:%S %p %f %%"},
		{in: "%D", err: true},
		{in: "100%", err: true},
		{joda: true, in: "yyyy-MM-dd HH:mm:ss.SSS", want: "%Y-%m-%d %H:%M:%S.%g"},
		{joda: true, in: "EEE, d MMM yy", want: "%a, %-d %b %y"},
		{joda: true, in: "EEEE MMMM D h:m:s a", want: "%A %B %-j %-I:%-M:%-S %p"},
		{joda: true, in: "yyyyMMdd'T'HH'%'''", want: "%Y%m%dT%H%%'"},
		{joda: true, in: "SS", err: true},
		{joda: true, in: "G", err: true},
	} {
		conv := mysqlPattern
		if c.joda {
			conv = jodaPattern
		}
		got, err := conv(c.in)
		if c.err {
			if err == nil {
				t.Errorf("%q: %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
