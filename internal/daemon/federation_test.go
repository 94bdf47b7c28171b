package daemon_test

import (
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	_ "github.com/duckdb/duckdb-go/v2" // plain DuckDB reads the published copy
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
)

// System tests of Lake query federation, the open way
// (docs/format/federation.md): EnableFederation and DisableFederation
// through the Go SDK, and the published copy read by plain DuckDB (no
// OpenTrail code: the generated duckdb.sql run as is, its s3:// URLs
// pointed at the embedded bucket's directory) against StartQuery.

const fedRole = "arn:aws:iam::" + testAccount + ":role/LakeFederation"

// fedDaemon starts a daemon whose Lake writes each call's event as its own
// batch and compacts two files of a tier (when the test calls Maintain).
func fedDaemon(t *testing.T, root string) *daemon.Daemon {
	t.Helper()
	return startDaemon(t, root, func(c *config.Config) {
		c.Lake.Threads = 1
		c.Lake.FlushInterval = config.Duration(10 * time.Millisecond)
		c.Lake.MaintainInterval = config.Duration(time.Hour)
		c.Lake.CompactFiles = 2
	})
}

// settle waits until the Lake holds every event of the log up to its
// head.
func settle(t *testing.T, d *daemon.Daemon) {
	t.Helper()
	head := d.Store().Head()
	deadline := time.Now().Add(30 * time.Second)
	for d.Lake().Checkpoint() < head {
		if time.Now().After(deadline) {
			t.Fatalf("the Lake is at %d after 30s, the log at %d", d.Lake().Checkpoint(), head)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fedStatus(t *testing.T, ct *cloudtrail.Client, id string) (cttypes.FederationStatus, string) {
	t.Helper()
	out, err := ct.GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.FederationStatus, aws.ToString(out.FederationRoleArn)
}

// embeddedBucket is the federation bucket's directory in the embedded
// bucket store of the data directory root.
func embeddedBucket(root string) string {
	return filepath.Join(root, "buckets", "opentrail-federation")
}

// publishedDir is the directory of a store's published copy in the
// bucket directory bucket.
func publishedDir(bucket, id string) string {
	return filepath.Join(bucket, "cloudtrail-lake", testAccount, id)
}

// duckRows runs the published duckdb.sql in a fresh in-memory DuckDB, its
// s3:// URLs pointed at the bucket's directory, and returns every row of
// the view, each column rendered as CloudTrail Lake prints it (lake.md §4:
// timestamps to the millisecond, nested values as JSON, NULL left out),
// sorted by eventid.
func duckRows(t *testing.T, bucket, id string) []map[string]string {
	t.Helper()
	dir := publishedDir(bucket, id)
	ddl, err := os.ReadFile(filepath.Join(dir, "duckdb.sql"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.ReplaceAll(string(ddl), "s3://opentrail-federation/", bucket+"/")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range strings.Split(local, ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("duckdb.sql: %v\n%s", err, stmt)
		}
	}
	view := "cloudtrail.eds_" + strings.ReplaceAll(id, "-", "_")
	cols, err := db.QueryContext(t.Context(), "SELECT column_name, column_type FROM (DESCRIBE "+view+")")
	if err != nil {
		t.Fatal(err)
	}
	var names, exprs []string
	for cols.Next() {
		var name, typ string
		if err := cols.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		q := `"` + name + `"`
		switch {
		case strings.HasPrefix(typ, "STRUCT") || strings.HasPrefix(typ, "MAP") || strings.HasSuffix(typ, "]"):
			q = "to_json(" + q + ")::VARCHAR"
		case typ == "TIMESTAMP":
			q = "strftime(" + q + ", '%Y-%m-%d %H:%M:%S.%g')"
		case typ != "VARCHAR":
			q = "CAST(" + q + " AS VARCHAR)"
		}
		names, exprs = append(names, name), append(exprs, q)
	}
	cols.Close()
	if !slices.Contains(names, "day") || !slices.Contains(names, "eventjson") {
		t.Fatalf("the published view has columns %v", names)
	}
	rows, err := db.QueryContext(t.Context(), "SELECT "+strings.Join(exprs, ", ")+" FROM "+view+" ORDER BY eventid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, v := range vals {
			if v.Valid {
				row[names[i]] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func stripComments(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// lakeColumns are the store's columns as StartQuery names them.
var lakeColumns = []string{"eventversion", "useridentity", "eventtime", "eventsource", "eventname", "awsregion",
	"sourceipaddress", "useragent", "errorcode", "errormessage", "requestparameters", "responseelements",
	"additionaleventdata", "requestid", "eventid", "readonly", "resources", "eventtype", "apiversion",
	"managementevent", "recipientaccountid", "sharedeventid", "annotation", "vpcendpointid",
	"vpcendpointaccountid", "serviceeventdetails", "addendum", "edgedevicedetails", "insightdetails",
	"eventcategory", "tlsdetails", "sessioncredentialfromconsole", "eventjson", "eventjsonchecksum"}

// comparePublished checks that plain DuckDB reads from the published copy
// exactly the rows StartQuery returns, every column of every row, and
// that each row's day partition is its eventtime's day.
func comparePublished(t *testing.T, bucket string, ct *cloudtrail.Client, id string) int {
	t.Helper()
	want := queryRows(t, ct, "SELECT "+strings.Join(lakeColumns, ", ")+" FROM "+id+" ORDER BY eventid")
	for _, r := range want {
		for k, v := range r {
			if v == "" {
				delete(r, k) // NULL
			}
		}
	}
	got := duckRows(t, bucket, id)
	for _, r := range got {
		if day := r["day"]; day != r["eventtime"][:10] {
			t.Errorf("event %s: partition day=%s, eventtime %s", r["eventid"], day, r["eventtime"])
		}
		delete(r, "day")
	}
	if len(want) == 0 {
		t.Fatal("the store holds no events: the test's traffic is wrong")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("published copy read by DuckDB differs from StartQuery (-StartQuery +DuckDB):\n%s", diff)
	}
	return len(got)
}

// publishedFiles lists the Parquet files under the copy's data/.
func publishedFiles(t *testing.T, bucket, id string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(publishedDir(bucket, id), "data"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// TestFederationPublishesStore: EnableFederation makes the store ENABLING,
// the publisher ENABLED with its files and table definitions in the
// embedded bucket, which plain DuckDB reads with the same rows as
// StartQuery, before and after a compaction; deletion is refused until
// DisableFederation, which removes the copy.
func TestFederationPublishesStore(t *testing.T) {
	root := t.TempDir()
	d := fedDaemon(t, root)
	ct := rootClient(t, d, testAccount, "us-east-1")
	ctx := t.Context()
	id := edsIn(t, ct, "federated", true)
	arn := "arn:aws:cloudtrail:us-east-1:" + testAccount + ":eventdatastore/" + id
	if st, role := fedStatus(t, ct, id); st != cttypes.FederationStatusDisabled || role != "" {
		t.Fatalf("new store: FederationStatus %s, role %q; want DISABLED and none", st, role)
	}
	// Events in several batches, then no more.
	for i := 0; i < 3; i++ {
		if _, err := ct.ListEventDataStores(ctx, &cloudtrail.ListEventDataStoresInput{}); err != nil {
			t.Fatal(err)
		}
		settle(t, d)
	}
	if _, err := ct.StopEventDataStoreIngestion(ctx, &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	settle(t, d)

	en, err := ct.EnableFederation(ctx, &cloudtrail.EnableFederationInput{EventDataStore: aws.String(id), FederationRoleArn: aws.String(fedRole)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(en.EventDataStoreArn) != arn || en.FederationStatus != cttypes.FederationStatusEnabling || aws.ToString(en.FederationRoleArn) != fedRole {
		t.Fatalf("EnableFederation = %s %s %s, want %s ENABLING %s", aws.ToString(en.EventDataStoreArn), en.FederationStatus, aws.ToString(en.FederationRoleArn), arn, fedRole)
	}
	_, err = ct.EnableFederation(ctx, &cloudtrail.EnableFederationInput{EventDataStore: aws.String(id), FederationRoleArn: aws.String(fedRole)})
	checkErr(t, err, "EventDataStoreFederationEnabledException", "already ENABLING")
	_, err = ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(id)})
	checkErr(t, err, "EventDataStoreFederationEnabledException", "Disable federation first")

	if err := d.Federation().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st, role := fedStatus(t, ct, id); st != cttypes.FederationStatusEnabled || role != fedRole {
		t.Fatalf("after the publish: FederationStatus %s, role %q; want ENABLED and %s", st, role, fedRole)
	}
	for _, name := range []string{"_manifest.json", "duckdb.sql", "trino.sql", "spark.sql"} {
		if _, err := os.Stat(filepath.Join(publishedDir(embeddedBucket(root), id), name)); err != nil {
			t.Errorf("published copy lacks %s: %v", name, err)
		}
	}
	before := publishedFiles(t, embeddedBucket(root), id)
	if len(before) < 2 {
		t.Fatalf("published files %v: want several batches to compact", before)
	}
	n := comparePublished(t, embeddedBucket(root), ct, id)

	// A compaction: the copy follows, with the inputs still there for
	// the grace period, and DuckDB (through the manifest's files) reads
	// each event once.
	if err := d.Lake().Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Federation().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	after := publishedFiles(t, embeddedBucket(root), id)
	var outputs int
	for _, f := range after {
		if strings.HasPrefix(f, "c-") {
			outputs++
		}
	}
	if outputs == 0 || !slices.Equal(slices.DeleteFunc(slices.Clone(after), func(f string) bool { return strings.HasPrefix(f, "c-") }), before) {
		t.Fatalf("published files after the compaction %v (before %v): want its output beside the retired inputs", after, before)
	}
	if got := comparePublished(t, embeddedBucket(root), ct, id); got != n {
		t.Fatalf("after the compaction DuckDB reads %d rows, before %d", got, n)
	}

	dis, err := ct.DisableFederation(ctx, &cloudtrail.DisableFederationInput{EventDataStore: aws.String(id)})
	if err != nil || dis.FederationStatus != cttypes.FederationStatusDisabling || aws.ToString(dis.EventDataStoreArn) != arn {
		t.Fatalf("DisableFederation = %+v, %v; want DISABLING", dis, err)
	}
	_, err = ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(id)})
	checkErr(t, err, "EventDataStoreFederationEnabledException", "DISABLING")
	_, err = ct.EnableFederation(ctx, &cloudtrail.EnableFederationInput{EventDataStore: aws.String(id), FederationRoleArn: aws.String(fedRole)})
	checkErr(t, err, "ConcurrentModificationException", "DISABLING")
	if err := d.Federation().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st, role := fedStatus(t, ct, id); st != cttypes.FederationStatusDisabled || role != "" {
		t.Fatalf("after disable: FederationStatus %s, role %q; want DISABLED and none", st, role)
	}
	if _, err := os.Stat(publishedDir(embeddedBucket(root), id)); !os.IsNotExist(err) {
		t.Fatalf("the published copy is still there after disable: %v (%v)", publishedFiles(t, embeddedBucket(root), id), err)
	}
	dis, err = ct.DisableFederation(ctx, &cloudtrail.DisableFederationInput{EventDataStore: aws.String(id)})
	if err != nil || dis.FederationStatus != cttypes.FederationStatusDisabled {
		t.Fatalf("DisableFederation of a DISABLED store = %+v, %v; want DISABLED", dis, err)
	}
	if _, err := ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(id)}); err != nil {
		t.Fatalf("DeleteEventDataStore after disable: %v", err)
	}
}

// TestFederationErrors: every refusal of EnableFederation and
// DisableFederation OpenTrail gives, with the model's code.
func TestFederationErrors(t *testing.T) {
	d := fedDaemon(t, t.TempDir())
	ct := rootClient(t, d, testAccount, "us-east-1")
	ctx := t.Context()
	id := edsIn(t, ct, "fed-errors", true)
	gone := edsIn(t, ct, "fed-gone", true)
	if _, err := ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, store, role, code, msg string
	}{
		{"no role", id, "", "InvalidParameterException", "FederationRoleArn is required"},
		{"role too long", id, "arn:aws:iam::" + testAccount + ":role/" + strings.Repeat("r", 120), "InvalidParameterException", "125"},
		{"role with a bad character", id, "arn:aws:iam::" + testAccount + ":role/a b", "InvalidParameterException", "may contain only"},
		{"not a role", id, "arn:aws:iam::" + testAccount + ":user/alice", "InvalidParameterException", "not an IAM role ARN"},
		{"not IAM", id, "arn:aws:s3:::bucket", "InvalidParameterException", "not an IAM role ARN"},
		{"another account's role", id, "arn:aws:iam::999988887777:role/x", "InvalidParameterException", "must be in the event data store's account"},
		{"unknown store", "0f0f0f0f-0000-4000-8000-000000000000", fedRole, "EventDataStoreNotFoundException", "does not exist"},
		{"bad store reference", "not a store!", fedRole, "EventDataStoreARNInvalidException", "not a valid event data store"},
		{"store pending deletion", gone, fedRole, "InactiveEventDataStoreException", "pending deletion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &cloudtrail.EnableFederationInput{EventDataStore: aws.String(tc.store), FederationRoleArn: aws.String(tc.role)}
			_, err := ct.EnableFederation(ctx, in)
			checkErr(t, err, tc.code, tc.msg)
		})
	}
	for _, tc := range []struct{ name, store, code, msg string }{
		{"unknown store", "0f0f0f0f-0000-4000-8000-000000000000", "EventDataStoreNotFoundException", "does not exist"},
		{"store pending deletion", gone, "InactiveEventDataStoreException", "pending deletion"},
	} {
		t.Run("disable "+tc.name, func(t *testing.T) {
			_, err := ct.DisableFederation(ctx, &cloudtrail.DisableFederationInput{EventDataStore: aws.String(tc.store)})
			checkErr(t, err, tc.code, tc.msg)
		})
	}
	if st, _ := fedStatus(t, ct, id); st != cttypes.FederationStatusDisabled {
		t.Fatalf("after refusals: FederationStatus %s, want DISABLED", st)
	}
}

// TestFederationRestart: the publisher's checkpoint survives a restart
// (the copy is not uploaded again, the store stays ENABLED and readable),
// fsck reports it, and a damaged one stops the server with a message
// that says what to do, which fsck reports too.
func TestFederationRestart(t *testing.T) {
	root := t.TempDir()
	d, stop := runDaemon(t, root)
	ct := rootClient(t, d, testAccount, "us-east-1")
	ctx := t.Context()
	id := edsIn(t, ct, "federated", true)
	if _, err := ct.ListEventDataStores(ctx, &cloudtrail.ListEventDataStoresInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StopEventDataStoreIngestion(ctx, &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	if _, err := ct.EnableFederation(ctx, &cloudtrail.EnableFederationInput{EventDataStore: aws.String(id), FederationRoleArn: aws.String(fedRole)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Federation().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	files := publishedFiles(t, embeddedBucket(root), id)
	if len(files) == 0 {
		t.Fatal("nothing published")
	}
	first := filepath.Join(publishedDir(embeddedBucket(root), id), "data")
	stat := func() map[string]time.Time {
		m := map[string]time.Time{}
		_ = filepath.WalkDir(first, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				if fi, err := e.Info(); err == nil {
					m[p] = fi.ModTime()
				}
			}
			return nil
		})
		return m
	}
	was := stat()
	stop()

	r := daemon.Check(root)
	if !slices.Contains(r.Lines, "lake: 1 federated event data stores published (federation.json)") || len(r.Problems) != 0 {
		t.Errorf("fsck: lines %q, problems %q", r.Lines, r.Problems)
	}
	d, stop = runDaemon(t, root)
	ct = rootClient(t, d, testAccount, "us-east-1")
	if err := d.Federation().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(was, stat()); diff != "" {
		t.Errorf("the restart uploaded the copy again (-before +after):\n%s", diff)
	}
	if st, _ := fedStatus(t, ct, id); st != cttypes.FederationStatusEnabled {
		t.Fatalf("after the restart: FederationStatus %s, want ENABLED", st)
	}
	comparePublished(t, embeddedBucket(root), ct, id)
	stop()

	ck := filepath.Join(root, "lake", "federation.json")
	if err := os.WriteFile(ck, []byte("{damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = root, "127.0.0.1:0", testAccount
	if d, err := daemon.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "remove it and the publisher publishes every federated store again") {
		if d != nil {
			d.Close()
		}
		t.Fatalf("New with a damaged federation.json = %v", err)
	}
	if r := daemon.Check(root); !strings.Contains(strings.Join(r.Problems, "\n"), ck) {
		t.Errorf("fsck problems %q do not name %s", r.Problems, ck)
	}
}

// TestFederationToS3Server: with buckets on an S3-compatible server
// (versitygw, posix backend), the publisher creates the federation bucket
// there and publishes the copy through the S3 API; plain DuckDB reads it
// from the server's directory with the same rows as StartQuery.
func TestFederationToS3Server(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vdir := t.TempDir()
	s3test.StartVersityAt(t, s3test.AccessKey, s3test.SecretKey, addr, vdir)
	root := t.TempDir()
	d := startDaemon(t, root, func(c *config.Config) {
		c.Lake.Threads = 1
		c.Lake.FlushInterval = config.Duration(10 * time.Millisecond)
		c.Buckets = config.Buckets{Endpoint: "http://" + addr, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
	})
	ct := rootClient(t, d, testAccount, "us-east-1")
	ctx := t.Context()
	id := edsIn(t, ct, "federated", true)
	if _, err := ct.StopEventDataStoreIngestion(ctx, &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	if _, err := ct.EnableFederation(ctx, &cloudtrail.EnableFederationInput{EventDataStore: aws.String(id), FederationRoleArn: aws.String(fedRole)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Federation().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := fedStatus(t, ct, id); st != cttypes.FederationStatusEnabled {
		t.Fatalf("FederationStatus %s, want ENABLED", st)
	}
	bucket := filepath.Join(vdir, "opentrail-federation")
	if files := publishedFiles(t, bucket, id); len(files) == 0 {
		t.Fatalf("nothing published under %s", publishedDir(bucket, id))
	}
	comparePublished(t, bucket, ct, id)
}
