package duck_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
)

// TestMapping checks every rule of docs/format/lake.md's "Mapping a record
// to a row" through WriteParquet and DuckDB: each case is one record and
// the text of one column expression read back from the file.
func TestMapping(t *testing.T) {
	const base = `"eventVersion":"1.08","eventTime":"2026-12-05T10:11:12Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"e1","recipientAccountId":"111122223333"`
	null := "<NULL>"
	cases := []struct {
		name   string
		record string // members after base's
		expr   string
		want   string
	}{
		{"string", `,"userAgent":"aws-cli/2"`, "useragent", "aws-cli/2"},
		{"absent is null", ``, "errorcode", null},
		{"json null is null", `,"errorCode":null`, "errorcode", null},
		{"number in a string column", `,"errorCode":42.50`, "errorcode", "42.50"},
		{"object in a string column", `,"errorCode":{"a":[1,2]}`, "errorcode", `{"a":[1,2]}`},
		{"boolean in a string column", `,"errorCode":true`, "errorcode", "true"},
		{"names match in any case", `,"USERAGENT":"x"`, "useragent", "x"},
		{"first of two names wins", `,"userAgent":"first","UserAgent":"second"`, "useragent", "first"},
		{"struct member", `,"userIdentity":{"type":"IAMUser","userName":"alice"}`, "useridentity.username", "alice"},
		{"struct member in any case", `,"userIdentity":{"UserName":"bob"}`, "useridentity.username", "bob"},
		{"nested struct", `,"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}}`, "useridentity.sessioncontext.sessionissuer.arn", "arn:aws:iam::1:role/r"},
		{"struct that is not an object", `,"userIdentity":"root"`, "useridentity IS NULL", "true"},
		{"timestamp member", `,"userIdentity":{"sessionContext":{"attributes":{"creationDate":"2026-12-05T09:00:00Z"}}}`, "useridentity.sessioncontext.attributes.creationdate", "2026-12-05 09:00:00.000"},
		{"timestamp with an offset", `,"userIdentity":{"sessionContext":{"attributes":{"creationDate":"2026-12-05T09:00:00+02:00"}}}`, "useridentity.sessioncontext.attributes.creationdate", "2026-12-05 07:00:00.000"},
		{"timestamp that does not parse", `,"userIdentity":{"sessionContext":{"attributes":{"creationDate":"yesterday"}}}`, "useridentity.sessioncontext.attributes.creationdate", null},
		{"map string value", `,"requestParameters":{"bucketName":"b"}`, "requestparameters['bucketName']", "b"},
		{"map number value keeps its text", `,"requestParameters":{"from":1.68890570862E9}`, "requestparameters['from']", "1.68890570862E9"},
		{"map object value", `,"requestParameters":{"filter":{"a":["x",null]}}`, "requestparameters['filter']", `{"a":["x",null]}`},
		{"map null value", `,"requestParameters":{"k":null}`, "requestparameters['k'] IS NULL AND cardinality(requestparameters) = 1", "true"},
		{"map keys keep their case", `,"requestParameters":{"Key":"1","key":"2"}`, "requestparameters['Key'] || requestparameters['key']", "12"},
		{"map first of a duplicate key wins", `,"requestParameters":{"k":"1","k":"2"}`, "requestparameters['k'] || cardinality(requestparameters)", "11"},
		{"map that is not an object", `,"requestParameters":"x"`, "requestparameters IS NULL", "true"},
		{"escaped text", `,"requestParameters":{"q\"k":"a\\b\tc\u00e9\u0001"}`, `requestparameters['q"k']`, "a\\b\tcé\x01"},
		{"lone surrogate", `,"userAgent":"x\ud800y"`, "useragent", "x\uFFFDy"},
		{"boolean", `,"readOnly":true`, "readonly", "true"},
		{"boolean as a string", `,"readOnly":"false"`, "readonly", "false"},
		{"boolean that is neither", `,"readOnly":"maybe"`, "readonly", null},
		{"list of structs", `,"resources":[{"ARN":"arn:1","type":"T"},{"accountId":"2"}]`, "resources[1].arn || resources[2].accountid", "arn:12"},
		{"list element that is not an object", `,"resources":["x",{"ARN":"a"}]`, "resources[1] IS NULL AND resources[2].arn = 'a'", "true"},
		{"empty list", `,"resources":[]`, "len(resources)", "0"},
		{"list that is not an array", `,"resources":{"ARN":"a"}`, "resources IS NULL", "true"},
		{"eventtime", ``, "eventtime", "2026-12-05 10:11:12.000"},
		{"eventcategory is the event's", ``, "eventcategory", "Management"},
		{"unknown members are left out", `,"someNewField":{"a":1}`, "eventname", "GetObject"},
	}
	dir := t.TempDir()
	db := openDB(t, dir)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte("{" + base + c.record + "}")
			ev, err := event.Parse(raw)
			if err != nil {
				// Records event.Parse refuses still reach the Lake when
				// a WAL record no longer parses (store.parseRecord).
				ev = event.Event{Raw: raw, Summary: event.Summary{Category: "Management"}}
			}
			got := mapped(t, db, duck.CloudTrail, filepath.Join(dir, strconv.Itoa(i)+".parquet"), &ev, c.expr)
			if diff := cmp.Diff([]string{c.want}, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.expr, diff)
			}
		})
	}
}

// mapped writes ev as the only row of the Parquet file path, in schema s,
// and returns the text of expr read back from it with DuckDB ("<NULL>"
// for NULL), checking that eventjson is the record and eventjsonchecksum
// its SHA-256.
func mapped(t *testing.T, db *duck.DB, s *duck.Schema, path string, ev *event.Event, expr string) []string {
	t.Helper()
	if err := db.WriteParquet(t.Context(), s, path, []duck.Row{s.RowOf(1, ev)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	_, err := db.Query(t.Context(), "SELECT "+expr+", eventjson, eventjsonchecksum = sha256(eventjson) FROM "+duck.ReadParquet([]string{path}), func(cells []*string) error {
		v := "<NULL>"
		if cells[0] != nil {
			v = *cells[0]
		}
		got = append(got, v)
		if *cells[1] != string(ev.Raw) {
			t.Errorf("eventjson %s, want the record %s", *cells[1], ev.Raw)
		}
		if *cells[2] != "true" {
			t.Errorf("eventjsonchecksum is not the SHA-256 of eventjson")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestMappingEdges covers records whose eventjson is not byte for byte the
// stored record (invalid UTF-8) and records near the largest event size.
func TestMappingEdges(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	big := strings.Repeat("x", 1<<20)
	for i, c := range []struct {
		name, raw, expr, want, json string
	}{
		{"invalid UTF-8 becomes U+FFFD", "{\"eventID\":\"e\",\"userAgent\":\"a\xffb\"}", "useragent", "a\uFFFDb", "{\"eventID\":\"e\",\"userAgent\":\"a\uFFFDb\"}"},
		{"a 1 MB record", `{"eventID":"e","requestParameters":{"blob":"` + big + `"}}`, "length(requestparameters['blob'])", strconv.Itoa(len(big)), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := event.Event{Raw: []byte(c.raw)}
			path := filepath.Join(dir, "edge"+strconv.Itoa(i)+".parquet")
			if err := db.WriteParquet(t.Context(), duck.CloudTrail, path, []duck.Row{duck.CloudTrail.RowOf(1, &ev)}); err != nil {
				t.Fatal(err)
			}
			want := c.json
			if want == "" {
				want = c.raw
			}
			n := 0
			_, err := db.Query(t.Context(), "SELECT "+c.expr+", eventjson, eventjsonchecksum = sha256(eventjson) FROM "+duck.ReadParquet([]string{path}), func(cells []*string) error {
				n++
				if *cells[0] != c.want || *cells[1] != want || *cells[2] != "true" {
					t.Errorf("got %.80q, eventjson %.80q, checksum ok %s; want %.80q, %.80q", *cells[0], *cells[1], *cells[2], c.want, want)
				}
				return nil
			})
			if err != nil || n != 1 {
				t.Fatalf("%d rows, %v", n, err)
			}
		})
	}
}
