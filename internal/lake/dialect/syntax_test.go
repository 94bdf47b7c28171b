package dialect_test

import "testing"

// TestSyntax runs the statement forms docs/lake-sql.md lists, each with the
// number of rows it returns on the test events.
func TestSyntax(t *testing.T) {
	e := newEngine(t, map[string][]string{"eds_a": records(t, "testdata/store-a.json"), "eds_b": records(t, "testdata/store-b.json")})
	const a, b = storeA, storeB
	for _, c := range []struct {
		stmt string
		rows int
	}{
		{"SELECT eventname, lag(eventid IGNORE NULLS) OVER (ORDER BY eventtime) FROM " + a, 15},
		{"FROM " + a + " SELECT eventname", 15},
		{"SELECT eventname FROM " + a + " ORDER BY 1 LIMIT 2 OFFSET 1", 2},
		{"SELECT eventsource, eventname, count(*) FROM " + a + " GROUP BY ROLLUP (eventsource, eventname)", 16},
		{"SELECT eventsource, count(*) FROM " + a + " GROUP BY CUBE (eventsource)", 6},
		{"SELECT IF(readonly, 'r', NULL) FROM " + a, 15},
		{"SELECT * FROM (VALUES (1, 'a')) AS v(n, s), " + a + " WHERE n = 1", 15},
		{"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n, eventid FROM r, " + a, 45},
		{"SELECT * FROM " + a + " x FULL OUTER JOIN " + b + " y ON x.eventid = y.eventid", 16},
		{"SELECT * FROM " + a + " x RIGHT JOIN " + b + " y ON x.eventid = y.eventid", 2},
		{"SELECT x.eventid FROM " + a + " x NATURAL JOIN " + b + " y", 0},
		{"SELECT * FROM " + a + " JOIN " + b + " USING (eventid)", 1},
		{"SELECT r, n FROM " + a + " CROSS JOIN UNNEST(resources) WITH ORDINALITY AS t(r, n)", 6},
		{"SELECT eventname FROM " + a + " QUALIFY row_number() OVER (PARTITION BY eventname ORDER BY eventtime) = 1", 10},
		{"SELECT eventtime AT TIME ZONE 'America/New_York' FROM " + a, 15},
		{"SELECT eventname::VARCHAR, [1, 2] FROM " + a, 15},
		{"SELECT count(*) OVER (), sum(1) OVER (PARTITION BY eventname ORDER BY eventtime ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM " + a, 15},
		{"SELECT eventname FROM " + a + " WHERE EXISTS (SELECT 1 FROM " + b + " y WHERE y.eventid = eventid)", 15},
		{"SELECT eventname FROM " + a + " x WHERE x.eventid IN (SELECT eventid FROM " + b + ")", 1},
		{"SELECT (SELECT count(*) FROM " + b + ") AS n FROM " + a + " LIMIT 1", 1},
		{"SELECT DISTINCT eventsource FROM " + a + " ORDER BY eventsource NULLS FIRST", 5},
		{"SELECT eventsource FROM " + a + " GROUP BY eventsource HAVING count(*) > 2", 2},
		{"SELECT * FROM " + a + ", LATERAL (SELECT eventname AS n) l", 15},
	} {
		tr, _, rows, err := e.run(t.Context(), c.stmt)
		if err != nil {
			t.Errorf("%s: %v", c.stmt, err)
			continue
		}
		if len(rows) != c.rows {
			t.Errorf("%s: %d rows, want %d (SQL %s)", c.stmt, len(rows), c.rows, tr.SQL)
		}
	}
}
