package duck_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
)

// activityRecord is a record of events from outside AWS (spec lake.md §7.5)
// wrapping the eventData of §7.2's example; extra are more members of the
// record (after a comma) and eventData extra members of eventData.
func activityRecord(extra, eventData string) string {
	return `{"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",` +
		`"eventTime":"2021-10-27T12:13:14Z","awsRegion":"us-east-1","recipientAccountId":"123456789012",` +
		`"metadata":{"ingestionTime":"2021-10-27T12:13:20Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-4cde-8f01-23456789abcd"},` +
		`"eventData":{"version":"1.0","UID":"req-42","userIdentity":{"type":"CustomUserIdentity","principalId":"alice","details":{"team":"ops","level":3}},` +
		`"eventTime":"2021-10-27T12:13:14.250Z","eventName":"Login","eventSource":"myapp.example.com","userAgent":"myapp/2.1",` +
		`"requestParameters":{"k":"v","nested":{"a":[1,2]}},"sourceIPAddress":"198.51.100.7","recipientAccountId":"123456789012"` + eventData + `}` + extra + `}`
}

// TestMappingActivityAuditLog checks the schema of stores of events from
// outside AWS (docs/format/lake.md): its columns and how a record maps to
// them, through WriteParquet and DuckDB.
func TestMappingActivityAuditLog(t *testing.T) {
	const null = "<NULL>"
	cases := []struct {
		name, extra, eventData, expr, want string
	}{
		{"eventcategory", "", "", "eventcategory", "ActivityAuditLog"},
		{"eventtype", "", "", "eventtype", "ActivityLog"},
		{"eventid", "", "", "eventid", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
		{"eventtime is a timestamp", "", "", "eventtime", "2021-10-27 12:13:14.000"},
		{"eventtime compares with a timestamp", "", "", "eventtime > TIMESTAMP '2021-10-27 12:00:00'", "true"},
		{"recipientaccountid", "", "", "recipientaccountid", "123456789012"},
		{"metadata", "", "", "metadata.channelarn", "arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-4cde-8f01-23456789abcd"},
		{"metadata.ingestiontime is a string", "", "", "metadata.ingestiontime || ''", "2021-10-27T12:13:20Z"},
		{"eventdata names", "", "", "eventdata.eventsource || ' ' || eventdata.eventname", "myapp.example.com Login"},
		{"eventdata.eventtime stays the caller's string", "", "", "eventdata.eventtime", "2021-10-27T12:13:14.250Z"},
		{"UID fills uid", "", "", "eventdata.uid", "req-42"},
		{"sourceIPAddress fills sourceipaddress", "", "", "eventdata.sourceipaddress", "198.51.100.7"},
		{"useridentity", "", "", "eventdata.useridentity.type || '/' || eventdata.useridentity.principalid", "CustomUserIdentity/alice"},
		{"useridentity.details is a map", "", "", "eventdata.useridentity.details['team'] || eventdata.useridentity.details['level']", "ops3"},
		{"requestparameters is a map", "", "", "element_at(eventdata.requestparameters, 'k')[1]", "v"},
		{"a nested object is JSON text", "", "", "eventdata.requestparameters['nested']", `{"a":[1,2]}`},
		{"absent members are NULL", "", "", "eventdata.errorcode", null},
		{"errormessage", "", `,"errorCode":"Denied","errorMessage":"no"`, "eventdata.errorcode || ': ' || eventdata.errormessage", "Denied: no"},
		{"responseelements and additionaleventdata", "", `,"responseElements":{"r":true},"additionalEventData":{"x":"y"}`,
			"eventdata.responseelements['r'] || eventdata.additionaleventdata['x']", "truey"},
		{"no addendum", "", "", "addendum IS NULL", "true"},
		{"addendum", `,"addendum":{"reason":"fix","updatedFields":"eventName","originalUID":"req-41","originalEventID":"e0"}`, "",
			"addendum.reason || addendum.updatedfields || addendum.originaluid || addendum.originaleventid", "fixeventNamereq-41e0"},
		{"unknown eventData members are only in eventjson", "", `,"custom":{"a":1}`, "json_extract_string(eventjson, '$.eventData.custom.a')", "1"},
	}
	dir := t.TempDir()
	db := openDB(t, dir)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := event.Parse([]byte(activityRecord(c.extra, c.eventData)))
			if err != nil {
				t.Fatal(err)
			}
			got := mapped(t, db, duck.ActivityAuditLog, filepath.Join(dir, strconv.Itoa(i)+".parquet"), &ev, c.expr)
			if diff := cmp.Diff([]string{c.want}, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.expr, diff)
			}
		})
	}

	// The files hold exactly the columns of docs/format/lake.md, in order.
	var cols []string
	_, err := db.Query(t.Context(), "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM "+
		duck.ReadParquet([]string{filepath.Join(dir, "0.parquet")})+")", func(c []*string) error {
		cols = append(cols, *c[0])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"eventversion VARCHAR", "eventcategory VARCHAR", "eventtype VARCHAR", "eventid VARCHAR", "eventtime TIMESTAMP",
		"awsregion VARCHAR", "recipientaccountid VARCHAR",
		"addendum STRUCT(reason VARCHAR, updatedfields VARCHAR, originaluid VARCHAR, originaleventid VARCHAR)",
		"metadata STRUCT(ingestiontime VARCHAR, channelarn VARCHAR)",
		"eventdata STRUCT(\"version\" VARCHAR, useridentity STRUCT(\"type\" VARCHAR, principalid VARCHAR, details MAP(VARCHAR, VARCHAR)), " +
			"useragent VARCHAR, eventsource VARCHAR, eventname VARCHAR, eventtime VARCHAR, uid VARCHAR, " +
			"requestparameters MAP(VARCHAR, VARCHAR), responseelements MAP(VARCHAR, VARCHAR), errorcode VARCHAR, errormessage VARCHAR, " +
			"sourceipaddress VARCHAR, recipientaccountid VARCHAR, additionaleventdata MAP(VARCHAR, VARCHAR))",
		"eventjson VARCHAR", "eventjsonchecksum VARCHAR",
	}
	if diff := cmp.Diff(want, cols); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	// A store's table expressions have the same columns, files or none.
	for _, table := range []string{duck.ActivityAuditLog.EmptyTable(), duck.ActivityAuditLog.StoreTable([]string{filepath.Join(dir, "0.parquet")})} {
		var got []string
		_, err := db.Query(t.Context(), "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM "+table+")", func(c []*string) error {
			got = append(got, *c[0])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%.40s...: columns (-want +got):\n%s", table, diff)
		}
	}
}

// TestCompactActivityAuditLog merges files of the ActivityAuditLog schema:
// the output has their rows and the schema's 12 columns only (not the
// `day` DuckDB derives from the inputs' directory).
func TestCompactActivityAuditLog(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	var inputs []string
	for i := range 3 {
		raw := strings.Replace(activityRecord("", ""), "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "id-"+strconv.Itoa(i), 1)
		ev, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "day=2021-10-27", "b-"+strconv.Itoa(i)+".parquet")
		inputs = append(inputs, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := db.WriteParquet(t.Context(), duck.ActivityAuditLog, p, []duck.Row{duck.ActivityAuditLog.RowOf(uint64(i+1), &ev)}); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "c.parquet")
	if err := db.Compact(t.Context(), duck.ActivityAuditLog, out, inputs, true); err != nil {
		t.Fatal(err)
	}
	var got []string
	_, err := db.Query(t.Context(), "SELECT eventid || ' ' || eventdata.useridentity.principalid || ' ' || (SELECT count(*) FROM (DESCRIBE SELECT * FROM "+
		duck.ReadParquet([]string{out})+")) FROM "+duck.ReadParquet([]string{out}), func(c []*string) error {
		got = append(got, *c[0])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"id-0 alice 12", "id-1 alice 12", "id-2 alice 12"}, got); diff != "" {
		t.Errorf("compacted rows (-want +got):\n%s", diff)
	}
}
