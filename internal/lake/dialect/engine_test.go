package dialect_test

// The test engine: a real in-memory DuckDB with the Lake column schema of
// spec lake.md §6.1, the Parser over json_serialize_sql, and the Lake's
// rendering of values as strings (spec §4).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/lake/dialect"
	"github.com/opentrail/opentrail/internal/lake/duck"
)

// duckParser is dialect.Parser on a DuckDB connection, as the engine
// implements it.
type duckParser struct{ db *sql.DB }

func (p duckParser) Serialize(ctx context.Context, stmt string) ([]byte, error) {
	var s string
	err := p.db.QueryRowContext(ctx, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", stmt).Scan(&s)
	return []byte(s), err
}

func (p duckParser) Deserialize(ctx context.Context, tree []byte) (string, error) {
	var s string
	err := p.db.QueryRowContext(ctx, "SELECT json_deserialize_sql($1::JSON)", string(tree)).Scan(&s)
	return s, err
}

// The test stores: their IDs as users write them, and the tables that
// stand for them.
const (
	storeA = "EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"
	storeB = "0b3f4e5c-9d1a-4c2b-8e7f-6a5b4c3d2e1f"
	one    = "1a2b3c4d-0000-4000-8000-000000000001" // one row: the dialect table's FROM
)

var storeTables = map[string]string{
	strings.ToLower(storeA): "eds_a",
	storeB:                  "eds_b",
	one:                     "eds_one",
}

var errNotFound = fmt.Errorf("event data store not found")

func resolve(name string) (string, error) {
	if t, ok := storeTables[strings.ToLower(name)]; ok {
		return t, nil
	}
	return "", errNotFound
}

// lakeType is the DuckDB type of the Lake schema (§6.1), as a tree so that
// records can be turned into rows by the same description.
type lakeType struct {
	kind   string // VARCHAR, TIMESTAMP, BOOLEAN, MAP, STRUCT, LIST
	fields []lakeField
	elem   *lakeType
}

type lakeField struct {
	name string
	typ  lakeType
}

var (
	tVarchar   = lakeType{kind: "VARCHAR"}
	tTimestamp = lakeType{kind: "TIMESTAMP"}
	tBool      = lakeType{kind: "BOOLEAN"}
	tMap       = lakeType{kind: "MAP"}
)

func tStruct(fields ...lakeField) lakeType { return lakeType{kind: "STRUCT", fields: fields} }
func f(name string, t lakeType) lakeField  { return lakeField{name, t} }
func strs(names ...string) []lakeField {
	var out []lakeField
	for _, n := range names {
		out = append(out, f(n, tVarchar))
	}
	return out
}

var lakeSchema = []lakeField{
	f("eventversion", tVarchar),
	f("useridentity", tStruct(append(strs("type", "principalid", "arn", "accountid", "accesskeyid", "username"),
		f("sessioncontext", tStruct(
			f("attributes", tStruct(f("creationdate", tTimestamp), f("mfaauthenticated", tVarchar))),
			f("sessionissuer", tStruct(strs("type", "principalid", "arn", "accountid", "username")...)),
			f("webidfederationdata", tStruct(f("federatedprovider", tVarchar), f("attributes", tMap))),
			f("sourceidentity", tVarchar), f("ec2roledelivery", tVarchar), f("ec2issuedinvpc", tVarchar))),
		f("onbehalfof", tStruct(strs("userid", "identitystorearn")...)),
		f("inscopeof", tStruct(strs("sourcearn", "sourceaccount", "issuertype", "credentialsissuedto")...)),
		f("invokedby", tVarchar), f("identityprovider", tVarchar))...)),
	f("eventtime", tTimestamp),
	f("eventsource", tVarchar), f("eventname", tVarchar), f("awsregion", tVarchar), f("sourceipaddress", tVarchar),
	f("useragent", tVarchar), f("errorcode", tVarchar), f("errormessage", tVarchar),
	f("requestparameters", tMap), f("responseelements", tMap), f("additionaleventdata", tMap),
	f("requestid", tVarchar), f("eventid", tVarchar), f("readonly", tBool),
	f("resources", lakeType{kind: "LIST", elem: &lakeType{kind: "STRUCT", fields: strs("accountid", "type", "arn", "arnprefix")}}),
	f("eventtype", tVarchar), f("apiversion", tVarchar), f("managementevent", tBool),
	f("recipientaccountid", tVarchar), f("sharedeventid", tVarchar), f("annotation", tVarchar),
	f("vpcendpointid", tVarchar), f("vpcendpointaccountid", tVarchar),
	f("serviceeventdetails", tMap), f("addendum", tMap), f("edgedevicedetails", tMap), f("insightdetails", tMap),
	f("eventcategory", tVarchar),
	f("tlsdetails", tStruct(strs("tlsversion", "ciphersuite", "clientprovidedhostheader")...)),
	f("sessioncredentialfromconsole", tVarchar),
	f("eventjson", tVarchar), f("eventjsonchecksum", tVarchar),
}

func (t lakeType) ddl() string {
	switch t.kind {
	case "MAP":
		return "MAP(VARCHAR, VARCHAR)"
	case "STRUCT":
		var parts []string
		for _, fl := range t.fields {
			parts = append(parts, fl.name+" "+fl.typ.ddl())
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case "LIST":
		return t.elem.ddl() + "[]"
	}
	return t.kind
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// literal renders a value of a CloudTrail record as a DuckDB literal of
// type t, mapped as spec §6.1 says: map values are text, nested objects
// compact JSON; names match case-insensitively; missing is NULL.
func (t lakeType) literal(v any) string {
	if v == nil {
		return "NULL"
	}
	switch t.kind {
	case "VARCHAR":
		if s, ok := v.(string); ok {
			return quote(s)
		}
		b, _ := json.Marshal(v)
		return quote(string(b))
	case "TIMESTAMP":
		return "TIMESTAMP " + quote(fmt.Sprint(v))
	case "BOOLEAN":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b)
		}
		return "NULL"
	case "MAP":
		m, ok := v.(map[string]any)
		if !ok {
			return "NULL"
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			val := "NULL"
			switch x := m[k].(type) {
			case nil:
			case string:
				val = quote(x)
			default:
				b, _ := json.Marshal(x)
				val = quote(string(b))
			}
			parts = append(parts, quote(k)+": "+val)
		}
		return "MAP {" + strings.Join(parts, ", ") + "}"
	case "STRUCT":
		m, ok := v.(map[string]any)
		if !ok {
			return "NULL"
		}
		var parts []string
		for _, fl := range t.fields {
			parts = append(parts, quote(fl.name)+": "+fl.typ.literal(lookup(m, fl.name)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case "LIST":
		l, ok := v.([]any)
		if !ok {
			return "NULL"
		}
		var parts []string
		for _, e := range l {
			parts = append(parts, t.elem.literal(e))
		}
		return "[" + strings.Join(parts, ", ") + "]::" + t.ddl()
	}
	return "NULL"
}

func lookup(m map[string]any, name string) any {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// row renders a CloudTrail record as a VALUES tuple of the Lake schema.
func row(rec map[string]any, raw string) string {
	var parts []string
	for _, fl := range lakeSchema {
		switch fl.name {
		case "eventjson":
			parts = append(parts, quote(raw))
		case "eventjsonchecksum":
			parts = append(parts, "sha256("+quote(raw)+")")
		default:
			parts = append(parts, fl.typ.literal(lookup(rec, fl.name)))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// engine is an in-memory DuckDB set up as the Lake engine sets up a
// connection, with the test stores loaded.
type engine struct {
	db *sql.DB
	p  duckParser
}

func newEngine(t testing.TB, stores map[string][]string) *engine {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	for _, s := range append(dialect.Settings(), dialect.Macros()...) {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var cols []string
	for _, fl := range lakeSchema {
		cols = append(cols, fl.name+" "+fl.typ.ddl())
	}
	for table, records := range stores {
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" ("+strings.Join(cols, ", ")+")"); err != nil {
			t.Fatal(err)
		}
		for len(records) > 0 {
			batch := records[:min(len(records), 500)]
			records = records[len(batch):]
			var values []string
			for _, raw := range batch {
				var rec map[string]any
				if err := json.Unmarshal([]byte(raw), &rec); err != nil {
					t.Fatalf("record %s: %v", raw, err)
				}
				values = append(values, row(rec, raw))
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES "+strings.Join(values, ", ")); err != nil {
				t.Fatalf("insert into %s: %v", table, err)
			}
		}
	}
	return &engine{db: db, p: duckParser{db}}
}

// run translates and runs a Lake statement, and returns the result as the
// Lake would print it: column names and rows of strings ("NULL" for null).
func (e *engine) run(ctx context.Context, stmt string) (*dialect.Translation, []string, [][]string, error) {
	tr, err := dialect.Translate(ctx, e.p, stmt, dialect.Options{Resolve: resolve})
	if err != nil {
		return nil, nil, nil, err
	}
	rows, err := e.db.QueryContext(ctx, tr.SQL)
	if err != nil {
		return tr, nil, nil, fmt.Errorf("run %s: %w", tr.SQL, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return tr, nil, nil, err
	}
	names, _ := rows.Columns()
	if tr.Columns != nil {
		names = tr.Columns
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return tr, nil, nil, err
		}
		var r []string
		for i, v := range vals {
			r = append(r, render(v, types[i].DatabaseTypeName()))
		}
		out = append(out, r)
	}
	return tr, names, out, rows.Err()
}

// render prints a value as the Lake's GetQueryResults does (duck.Cell),
// NULL as "NULL".
func render(v any, dbType string) string {
	if c := duck.Cell(v, dbType); c != nil {
		return *c
	}
	return "NULL"
}

// records reads a JSON file of CloudTrail records ({"Records": [...]}) and
// returns each record's text.
func records(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Records []json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, r := range doc.Records {
		out = append(out, string(r))
	}
	return out
}
