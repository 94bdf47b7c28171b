//go:build cgo

package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Query runs the (translated) SELECT q and calls row with each result row,
// every cell as the text CloudTrail Lake prints (nil for NULL): numbers in
// decimal, booleans true/false, timestamps in TimeLayout, dates
// YYYY-MM-DD, and maps, lists and structs as JSON text. columns are
// DuckDB's names for the result columns. row's slice is reused: copy what
// you keep. An error from row stops the query and is returned.
func (d *DB) Query(ctx context.Context, q string, row func(cells []*string) error) (columns []string, err error) {
	return scanRows(ctx, d.db, q, row)
}

// querier is a *sql.DB or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func scanRows(ctx context.Context, db querier, q string, row func(cells []*string) error) (columns []string, err error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	columns, err = rows.Columns()
	if err != nil {
		return nil, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	cells := make([]*string, len(columns))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return columns, err
		}
		for i, v := range vals {
			cells[i] = Cell(v, types[i].DatabaseTypeName())
		}
		if err := row(cells); err != nil {
			return columns, err
		}
	}
	return columns, rows.Err()
}

// Cell formats one value of a result column of DuckDB type dbType
// (sql.ColumnType.DatabaseTypeName) as CloudTrail Lake, which runs Trino,
// prints it; nil for NULL. Numbers in decimal, doubles as Java prints them
// (3.0, 1.5E10, NaN), booleans true/false, timestamps in TimeLayout (with
// " UTC" for one with a time zone), dates YYYY-MM-DD, and maps, lists,
// structs and JSON as JSON text.
func Cell(v any, dbType string) *string {
	if v == nil {
		return nil
	}
	var s string
	switch t, isTime := v.(time.Time); {
	case dbType == "JSON":
		s = jsonText(v)
	case isTime && dbType == "DATE":
		s = t.UTC().Format(time.DateOnly)
	case isTime && (dbType == "TIMESTAMPTZ" || dbType == "TIMESTAMP WITH TIME ZONE"):
		s = formatTime(t) + " UTC"
	default:
		s = plainCell(v)
	}
	return &s
}

// plainCell formats a value whose column type does not change how it
// prints.
func plainCell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		return fmt.Sprint(x)
	case float32:
		return javaFloat(float64(x), 32)
	case float64:
		return javaFloat(x, 64)
	case *big.Int:
		return x.String()
	case duckdb.Decimal:
		return formatDecimal(x)
	case time.Time:
		return formatTime(x)
	case duckdb.Interval:
		return formatInterval(x)
	case duckdb.UUID:
		return x.String()
	}
	return jsonText(v)
}

// jsonText is a complex value's JSON text.
func jsonText(v any) string {
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// formatTime prints a TIMESTAMP as Lake does.
func formatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

// javaFloat prints a double (bits 64) or a real (32) as Trino does, with
// Java's Double.toString and Float.toString: the shortest decimal that
// reads back, with at least one digit after the point, in scientific
// notation (1.5E10) outside [0.001, 10^7).
func javaFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'E', -1, bits), "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

func formatDecimal(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	neg := d.Value.Sign() < 0
	digits := new(big.Int).Abs(d.Value).String()
	scale := int(d.Scale)
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		digits = "-" + digits
	}
	return digits
}

// formatInterval prints an interval as Trino prints a day-to-second one:
// "D HH:MM:SS.mmm" (months, when present, as "M months" first).
func formatInterval(iv duckdb.Interval) string {
	us := iv.Micros
	neg := us < 0
	if neg {
		us = -us
	}
	h := us / 3_600_000_000
	m := us / 60_000_000 % 60
	sec := us / 1_000_000 % 60
	ms := us / 1000 % 1000
	s := fmt.Sprintf("%d %02d:%02d:%02d.%03d", iv.Days, h, m, sec, ms)
	if neg {
		s = "-" + s
	}
	if iv.Months != 0 {
		s = fmt.Sprintf("%d months %s", iv.Months, s)
	}
	return s
}

// jsonValue converts a scanned nested value into something encoding/json
// writes as Lake shows complex values.
func jsonValue(v any) any {
	switch x := v.(type) {
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[fmt.Sprint(k)] = jsonValue(val)
		}
		return out
	case duckdb.OrderedMap:
		out := make(map[string]any, x.Len())
		keys, vals := x.Keys(), x.Values()
		for i := range keys {
			out[fmt.Sprint(keys[i])] = jsonValue(vals[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = jsonValue(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = jsonValue(val)
		}
		return out
	case time.Time:
		return formatTime(x)
	case duckdb.Decimal:
		return json.Number(formatDecimal(x))
	case duckdb.Interval:
		return formatInterval(x)
	case duckdb.UUID:
		return x.String()
	}
	return v
}

// QueryWith runs q like Query on one connection on which each name of
// views is first defined as a temporary view of its table expression (a
// store's snapshot); the views are dropped afterwards. matched is the
// number of rows the table scans produced after the filters applied to
// them (DuckDB's profile), -1 when the profile is not available.
func (d *DB) QueryWith(ctx context.Context, views map[string]string, q string, row func(cells []*string) error) (cols []string, matched int64, err error) {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return nil, -1, fmt.Errorf("duck: connect: %w", err)
	}
	defer c.Close()
	for name, expr := range views {
		if _, err := c.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+quoteIdent(name)+" AS SELECT * FROM "+expr); err != nil {
			return nil, -1, fmt.Errorf("duck: view %s: %w", name, err)
		}
		defer c.ExecContext(context.Background(), "DROP VIEW IF EXISTS "+quoteIdent(name)) //nolint:errcheck // the connection's temp objects go with it
	}
	q, err = nestedAsJSON(ctx, c, q)
	if err != nil {
		return nil, -1, err
	}
	cols, err = scanRows(ctx, c, q, row)
	if err != nil {
		return cols, -1, err
	}
	matched = -1
	if info, perr := duckdb.GetProfilingInfo(c); perr == nil {
		matched = scanned(info, false)
	}
	return cols, matched, nil
}

// Bind checks that q binds (names, types, functions) on a connection where
// views are defined, without running it.
func (d *DB) Bind(ctx context.Context, views map[string]string, q string) error {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duck: connect: %w", err)
	}
	defer c.Close()
	for name, expr := range views {
		if _, err := c.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW "+quoteIdent(name)+" AS SELECT * FROM "+expr); err != nil {
			return fmt.Errorf("duck: view %s: %w", name, err)
		}
		defer c.ExecContext(context.Background(), "DROP VIEW IF EXISTS "+quoteIdent(name)) //nolint:errcheck // the connection's temp objects go with it
	}
	rows, err := c.QueryContext(ctx, "DESCRIBE "+q)
	if err != nil {
		return err
	}
	return rows.Close()
}

// nestedAsJSON returns q with its struct, map and list columns turned into
// JSON text by DuckDB itself (to_json), which keeps the members in their
// order (a Go map would not); q as is when it has none.
func nestedAsJSON(ctx context.Context, c *sql.Conn, q string) (string, error) {
	rows, err := c.QueryContext(ctx, "DESCRIBE "+q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var names, types []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		names = append(names, fmt.Sprint(vals[0]))
		types = append(types, fmt.Sprint(vals[1]))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	nested := false
	items := make([]string, len(names))
	for i, typ := range types {
		items[i] = fmt.Sprintf("#%d AS %s", i+1, quoteIdent(names[i]))
		if strings.HasPrefix(typ, "STRUCT") || strings.HasPrefix(typ, "MAP") || strings.HasSuffix(typ, "]") || strings.HasPrefix(typ, "UNION") {
			items[i] = fmt.Sprintf("to_json(#%d)::VARCHAR AS %s", i+1, quoteIdent(names[i]))
			nested = true
		}
	}
	if !nested {
		return q, nil
	}
	return "SELECT " + strings.Join(items, ", ") + " FROM (" + q + ")", nil
}

// scanned sums the rows table scans produced, counting a scan's FILTER
// parent's output instead when there is one (under says the caller is that
// filter).
func scanned(n duckdb.ProfilingInfo, filtered bool) int64 {
	typ := n.Metrics["OPERATOR_TYPE"]
	if strings.Contains(typ, "SCAN") && len(n.Children) == 0 {
		if filtered {
			return 0
		}
		v, _ := strconv.ParseInt(n.Metrics["OPERATOR_CARDINALITY"], 10, 64)
		return v
	}
	var sum int64
	for _, ch := range n.Children {
		if typ == "FILTER" && len(n.Children) == 1 && strings.Contains(ch.Metrics["OPERATOR_TYPE"], "SCAN") {
			v, _ := strconv.ParseInt(n.Metrics["OPERATOR_CARDINALITY"], 10, 64)
			sum += v
			continue
		}
		sum += scanned(ch, false)
	}
	return sum
}
