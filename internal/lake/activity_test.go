package lake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/testenv"
)

// Channels of the tests' events from outside AWS.
const (
	chanA = "arn:aws:cloudtrail:us-east-1:123456789012:channel/0c000000-0000-4000-8000-00000000000a"
	chanB = "arn:aws:cloudtrail:us-east-1:123456789012:channel/0c000000-0000-4000-8000-00000000000b"
	chanC = "arn:aws:cloudtrail:us-east-1:123456789012:channel/0c000000-0000-4000-8000-00000000000c"
)

// mkActivity returns the record a channel stores for an event from
// outside AWS (spec lake.md §7.5), its eventData shaped like §7.2's
// example: event i of account, through the channel with ARN channel.
func mkActivity(t testing.TB, i int, account, channel string) event.Event {
	t.Helper()
	at := event.FormatTime(base.Add(time.Duration(i) * time.Second))
	m := map[string]any{
		"eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
		"eventID": fmt.Sprintf("aal-%s-%06d", account, i), "eventTime": at,
		"awsRegion": region, "recipientAccountId": account,
		"metadata": map[string]any{"ingestionTime": at, "channelARN": channel},
		"eventData": map[string]any{"version": "1.0", "UID": fmt.Sprintf("req-%d", i),
			"userIdentity": map[string]any{"type": "CustomUserIdentity", "principalId": fmt.Sprintf("alice%d", i%2),
				"details": map[string]any{"team": "ops"}},
			"eventTime": at, "eventName": fmt.Sprintf("Login%d", i%3), "eventSource": "myapp.example.com", "userAgent": "myapp/2.1",
			"requestParameters": map[string]any{"k": fmt.Sprintf("v%d", i), "nested": map[string]any{"a": []int{1, 2}}},
			"sourceIPAddress":   "198.51.100.7", "recipientAccountId": account},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// activitySpec is a store of events from outside AWS of account that
// takes the channels' events from log position 1 on.
func activitySpec(id, account string, channels ...string) lake.StoreSpec {
	sp := lake.StoreSpec{ID: id, Account: account, HomeRegion: region, Generation: 1,
		Selectors: []selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{
			{Field: selector.FieldEventCategory, Equals: []string{selector.CategoryActivityAuditLog}}}}}}
	for _, ch := range channels {
		sp.Channels = append(sp.Channels, lake.ChannelSource{ARN: ch, Ingest: []lake.Range{{From: 1}}})
	}
	return sp
}

// ids returns the eventids a store of account holds, sorted.
func (r *rig) ids(account, id string) []string {
	r.t.Helper()
	_, rows := r.query(account, "SELECT eventid FROM "+id+" ORDER BY eventid")
	out := []string{}
	for _, row := range rows {
		out = append(out, *row[0])
	}
	return out
}

// aalIDs names the events mkActivity makes.
func aalIDs(account string, is ...int) []string {
	out := []string{}
	for _, i := range is {
		out = append(out, fmt.Sprintf("aal-%s-%06d", account, i))
	}
	slices.Sort(out)
	return out
}

// A store of category ActivityAuditLog takes exactly the records of its
// account that one of its channels delivered while it was the channel's
// destination; stores of CloudTrail events never take them, and it takes
// nothing else.
func TestActivityAuditLogAdmission(t *testing.T) {
	const (
		both     = "0b3f0000-0000-4000-8000-0000000000a1" // channels A and B (B until closed)
		onlyB    = "0b3f0000-0000-4000-8000-0000000000a2"
		otherAcc = "0b3f0000-0000-4000-8000-0000000000a3" // the other account's, naming channel A
		deleted  = "0b3f0000-0000-4000-8000-0000000000a4"
		noChan   = "0b3f0000-0000-4000-8000-0000000000a5"
		mgmt     = "0b3f0000-0000-4000-8000-0000000000a6" // no selectors: management events
		allCT    = "0b3f0000-0000-4000-8000-0000000000a7" // management, data and network activity events
	)
	del := activitySpec(deleted, acct, chanA)
	del.Deleted, del.DeletedAt = true, base
	all := spec(allCT, 1)
	for _, c := range []string{selector.CategoryManagement, selector.CategoryData, selector.CategoryNetwork} {
		all.Selectors = append(all.Selectors, selector.AdvancedEventSelector{FieldSelectors: []selector.FieldSelector{
			{Field: selector.FieldEventCategory, Equals: []string{c}}}})
	}
	stores := &fakeStores{specs: []lake.StoreSpec{
		activitySpec(both, acct, chanA, chanB), activitySpec(onlyB, acct, chanB), activitySpec(otherAcc, other, chanA),
		del, activitySpec(noChan, acct), spec(mgmt, 1), all,
	}}
	dir := t.TempDir()
	r := newRig(t, dir, stores)
	r.append(mkActivity(t, 1, acct, chanA), mkActivity(t, 2, acct, chanA), mkActivity(t, 3, acct, chanB),
		mkEvent(t, 4, acct),            // a management event
		mkActivity(t, 5, acct, chanC),  // a channel no store names
		mkActivity(t, 6, other, chanA), // the other account's
		mkActivity(t, 7, acct, ""))     // no channel
	// Channel B no longer delivers to the first store: its range ends at
	// the head.
	stores.mu.Lock()
	stores.specs[0].Channels = []lake.ChannelSource{stores.specs[0].Channels[0],
		{ARN: chanB, Ingest: []lake.Range{{From: 1, To: r.log.Head()}}}} // no new Generation: channels count by value
	stores.mu.Unlock()
	r.append(mkActivity(t, 8, acct, chanB), mkActivity(t, 9, acct, chanA))
	r.count(onlyB, 2)
	r.restart() // writes every store's batch

	for _, c := range []struct {
		account, id string
		want        []string
	}{
		{acct, both, aalIDs(acct, 1, 2, 3, 9)},
		{acct, onlyB, aalIDs(acct, 3, 8)},
		{other, otherAcc, aalIDs(other, 6)},
		{acct, noChan, []string{}},
		{acct, mgmt, []string{acct + "-000004"}},
		{acct, allCT, []string{acct + "-000004"}},
	} {
		if diff := cmp.Diff(c.want, r.ids(c.account, c.id)); diff != "" {
			t.Errorf("store %s holds (-want +got):\n%s", c.id, diff)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "lake", acct, deleted, "*", "*.parquet")); len(files) != 0 {
		t.Errorf("the deleted store has files %v", files)
	}
	// Trail log files hold CloudTrail events: no import into such a store.
	logs := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")
	if _, err := r.eng.ImportNow(t.Context(), imports.Info{Account: acct, Region: region, Store: both, S3LocationURI: logs},
		lake.DirSource(logs), nil); !errors.Is(err, imports.ErrWrongStore) {
		t.Fatalf("import into a store of events from outside AWS: %v, want ErrWrongStore", err)
	}
}

// A lake that lost state.json takes up where its stores of events from
// outside AWS were, as for the others: from their channels' ranges.
func TestActivityAuditLogLostState(t *testing.T) {
	const id = "0b3f0000-0000-4000-8000-0000000000a8"
	stores := &fakeStores{specs: []lake.StoreSpec{activitySpec(id, acct, chanA)}}
	dir := t.TempDir()
	r := newRig(t, dir, stores)
	r.append(mkActivity(t, 1, acct, chanA), mkActivity(t, 2, acct, chanA))
	r.count(id, 2)
	r.stop()
	if err := os.Remove(filepath.Join(dir, "lake", "state.json")); err != nil {
		t.Fatal(err)
	}
	r.append(mkActivity(t, 3, acct, chanA))
	r.start()
	r.append(mkActivity(t, 4, acct, chanA))
	r.count(id, 4)
}

// Queries on a store of events from outside AWS see its own schema
// (docs/format/lake.md): eventdata's members with their types, eventtime a
// timestamp that prunes files by day, and no CloudTrail column.
func TestActivityAuditLogQuery(t *testing.T) {
	const (
		id = "0b3f0000-0000-4000-8000-0000000000b1"
		ct = "0b3f0000-0000-4000-8000-0000000000b2"
	)
	stores := &fakeStores{specs: []lake.StoreSpec{activitySpec(id, acct, chanA), spec(ct, 1)}}
	r := newRig(t, t.TempDir(), stores)
	r.append(mkActivity(t, 1, acct, chanA), mkEvent(t, 2, acct))
	r.restart() // 2026-11-01
	r.append(mkActivity(t, 61, acct, chanA), mkActivity(t, 62, acct, chanA))
	r.count(ct, 1)
	r.count(id, 3) // the second on 2026-11-02

	info, rows := r.query(acct, "SELECT eventData.eventName, eventdata.useridentity.principalid, element_at(eventdata.requestparameters, 'k'), "+
		"metadata.channelarn, eventdata.requestparameters['nested'], eventtime, eventdata.eventtime AS sent, eventdata.useridentity.details, eventcategory "+
		"FROM "+id+" WHERE eventtime > '2024-01-01' ORDER BY eventtime")
	wantCols := []string{"eventName", "principalid", "_col2", "channelarn", "_col4", "eventtime", "sent", "details", "eventcategory"}
	if diff := cmp.Diff(wantCols, info.Columns); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	var got [][]string
	for _, row := range rows {
		var g []string
		for _, c := range row {
			g = append(g, deref(c))
		}
		got = append(got, g)
	}
	want := [][]string{
		{"Login1", "alice1", "v1", chanA, `{"a":[1,2]}`, "2026-11-01 23:59:01.000", "2026-11-01T23:59:01Z", `{"team":"ops"}`, "ActivityAuditLog"},
		{"Login1", "alice1", "v61", chanA, `{"a":[1,2]}`, "2026-11-02 00:00:01.000", "2026-11-02T00:00:01Z", `{"team":"ops"}`, "ActivityAuditLog"},
		{"Login2", "alice0", "v62", chanA, `{"a":[1,2]}`, "2026-11-02 00:00:02.000", "2026-11-02T00:00:02Z", `{"team":"ops"}`, "ActivityAuditLog"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// AWS's spelling of eventdata.errormessage reads it too.
	info, rows = r.query(acct, "SELECT eventdata.errormssage, count(*) FROM "+id+" WHERE eventdata.errorMssage IS NULL GROUP BY 1")
	if len(rows) != 1 || rows[0][0] != nil || *rows[0][1] != "3" || info.Columns[0] != "errormssage" {
		t.Errorf("eventdata.errormssage: columns %v, rows %v", info.Columns, rows)
	}
	// eventtime prunes the files by day.
	day, rows := r.query(acct, "SELECT count(*) FROM "+id+" WHERE eventtime >= '2026-11-02 00:00:00'")
	if *rows[0][0] != "2" || day.EventsScanned != 2 {
		t.Errorf("by day: %s rows, scanned %d events; want 2 and 2", *rows[0][0], day.EventsScanned)
	}
	// By eventid: only the file whose filter may hold it.
	one, rows := r.query(acct, "SELECT eventdata.uid FROM "+id+" WHERE eventid = '"+aalIDs(acct, 1)[0]+"'")
	if len(rows) != 1 || *rows[0][0] != "req-1" || one.EventsScanned != 1 {
		t.Errorf("by eventid: %d rows, scanned %d events; want 1 and 1", len(rows), one.EventsScanned)
	}
	// SELECT * is the schema, without `day`.
	star, _ := r.query(acct, "SELECT * FROM "+id)
	wantStar := []string{"eventversion", "eventcategory", "eventtype", "eventid", "eventtime", "awsregion", "recipientaccountid",
		"addendum", "metadata", "eventdata", "eventjson", "eventjsonchecksum"}
	if diff := cmp.Diff(wantStar, star.Columns); diff != "" {
		t.Errorf("SELECT * columns (-want +got):\n%s", diff)
	}
	// Both kinds in one query, each with its own schema.
	_, rows = r.query(acct, "SELECT eventid FROM "+id+" UNION ALL SELECT eventid FROM "+ct+" ORDER BY 1")
	if len(rows) != 4 {
		t.Errorf("a query of both stores gives %d rows, want 4", len(rows))
	}
	// A CloudTrail column is not one of this store's.
	for _, stmt := range []string{"SELECT useridentity.arn FROM " + id, "SELECT eventdata.eventname FROM " + ct} {
		if _, err := r.eng.StartQuery(context.Background(), acct, region, stmt, queries.StartOptions{}); !errors.Is(err, queries.ErrInvalidQuery) {
			t.Errorf("%s: %v, want ErrInvalidQuery", stmt, err)
		}
	}
}

// Compaction, plain Parquet readers, retention and the rebuild of a
// damaged file from the event log work for stores of events from outside
// AWS as for the others.
func TestActivityAuditLogMaintenance(t *testing.T) {
	const id = "0b3f0000-0000-4000-8000-0000000000c1"
	stores := &fakeStores{specs: []lake.StoreSpec{activitySpec(id, acct, chanA)}}
	dir := t.TempDir()
	r := newRigWith(t, &rig{t: t, dir: dir, stores: stores, wal: true})
	for i := 1; i <= 10; i++ { // many small batches: restarts flush each
		r.append(mkActivity(t, i*10, acct, chanA), mkActivity(t, i*10+1, acct, chanA), mkEvent(t, i*10+2, acct))
		r.restart()
	}
	r.count(id, 20)
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Both days are over (the clock is the real one): compacted into files
	// of at most 12 rows.
	for _, f := range lakeFiles(t, dir, id) {
		if !strings.HasPrefix(filepath.Base(f), "c-") {
			t.Fatalf("after compaction the store has files %v, want compaction outputs only", lakeFiles(t, dir, id))
		}
	}
	r.count(id, 20)
	// Plain DuckDB reads the same rows as a Lake query, every column of
	// the schema's 12.
	r.plainIsLake(filepath.Join(dir, "lake", acct, id, "*", "*.parquet"), id, 12, 20)

	// A damaged file is rebuilt from the event log, with only the
	// store's events.
	files := lakeFiles(t, dir, id)
	flipMiddle(t, files[0])
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := 1; i <= 10; i++ {
		want = append(want, i*10, i*10+1)
	}
	if diff := cmp.Diff(aalIDs(acct, want...), r.ids(acct, id)); diff != "" {
		t.Fatalf("after the rebuild the store holds (-want +got):\n%s", diff)
	}
	if rep := lake.Check(filepath.Join(dir, "lake"), stores.DataStores()); len(rep.Problems) != 0 {
		t.Fatalf("fsck after the rebuild: %q", rep.Problems)
	}
	if q, _ := filepath.Glob(filepath.Join(dir, "lake", "quarantine", id, "*.parquet")); len(q) != 1 {
		t.Fatalf("quarantine holds %v, want the damaged file", q)
	}

	r.expireFirstDay(stores, id)
	// A restart finds the store whole.
	r.restart()
	if rep := lake.Check(filepath.Join(dir, "lake"), stores.DataStores()); len(rep.Problems) != 0 {
		t.Fatalf("fsck after retention: %q", rep.Problems)
	}
}

// The results of a query of a store of events from outside AWS are
// delivered to S3 like any other.
func TestActivityAuditLogResultsDelivered(t *testing.T) {
	d := newDeliveryRig(t, nil)
	const id = "0b3f0000-0000-4000-8000-0000000000d2"
	d.stores.mu.Lock()
	d.stores.specs = append(d.stores.specs, activitySpec(id, acct, chanA))
	d.stores.mu.Unlock()
	d.append(mkActivity(t, 1, acct, chanA), mkActivity(t, 2, acct, chanA))
	d.count(id, 2)
	info := d.start("SELECT eventid, eventdata.requestparameters, eventtime FROM "+id+" ORDER BY eventid", "s3://"+resultBucket+"/aal")
	if info.Status != queries.Finished || info.DeliveryStatus != queries.DeliverySuccess {
		t.Fatalf("query %s, delivery %s (%s)", info.Status, info.DeliveryStatus, info.ErrorMessage)
	}
	got := d.delivered(info, "aal")
	want := [][]string{{"eventid", "requestparameters", "eventtime"},
		{aalIDs(acct, 1)[0], `{"k":"v1","nested":"{\"a\":[1,2]}"}`, "2026-11-01 23:59:01.000"},
		{aalIDs(acct, 2)[0], `{"k":"v2","nested":"{\"a\":[1,2]}"}`, "2026-11-01 23:59:02.000"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered CSV (-want +got):\n%s", diff)
	}
}
