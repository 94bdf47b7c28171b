package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// System tests of the Lake import operations (StartImport, GetImport,
// ListImports, StopImport, ListImportFailures) through the Go SDK against
// a daemon whose embedded buckets hold real trail log files under AWS's
// key layout.

// logObjects are trail log files as a bucket holds them, by key.
type logObjects map[string][]byte

// invictusLogs returns the first n files of the invictus-ir dataset as AWS
// delivers them (gzipped, under AWSLogs/ACCOUNT/CloudTrail/REGION/Y/M/D/)
// and the number of events they hold by eventName.
func invictusLogs(t *testing.T, n int) (logObjects, map[string]int) {
	t.Helper()
	dir := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")
	names, err := filepath.Glob(filepath.Join(dir, "*_CloudTrail_*.json"))
	if err != nil || len(names) < n {
		t.Fatalf("%d files in %s: %v", len(names), dir, err)
	}
	slices.Sort(names)
	objs, counts := logObjects{}, map[string]int{}
	for _, name := range names[:n] {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Records []struct{ EventName string } }
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Records {
			counts[r.EventName]++
		}
		objs[awsLogKey(t, filepath.Base(name))] = gzipped(t, b)
	}
	return objs, counts
}

// awsLogKey is the key AWS delivers a log file named base
// (ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json) under.
func awsLogKey(t *testing.T, base string) string {
	t.Helper()
	p := strings.Split(base, "_")
	if len(p) != 5 || len(p[3]) < 8 {
		t.Fatalf("%s is not an AWS log file name", base)
	}
	d := p[3]
	return "AWSLogs/" + p[0] + "/CloudTrail/" + p[2] + "/" + d[:4] + "/" + d[4:6] + "/" + d[6:8] + "/" + base + ".gz"
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// recentLog is a log file of today holding lakeEvents, keyed as AWS does.
func recentLog(t *testing.T) (string, []byte) {
	t.Helper()
	now := time.Now().UTC()
	b, err := json.Marshal(map[string]any{"Records": lakeEvents})
	if err != nil {
		t.Fatal(err)
	}
	return "AWSLogs/" + testAccount + "/CloudTrail/us-east-1/" + now.Format("2006/01/02") + "/" +
		testAccount + "_CloudTrail_us-east-1_" + now.Format("20060102T1504Z") + "_recent0000000001.json.gz", gzipped(t, b)
}

// makeBucket creates a bucket of account holding objs.
func makeBucket(t *testing.T, e *lakeEnv, account, bucket string, objs logObjects) {
	t.Helper()
	sc := s3Client(t, e.d, account)
	if _, err := sc.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for k, b := range objs {
		if _, err := sc.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

func s3Source(uri string) *cttypes.ImportSource {
	return &cttypes.ImportSource{S3: &cttypes.S3ImportSource{S3LocationUri: aws.String(uri), S3BucketRegion: aws.String("us-east-1"),
		S3BucketAccessRoleArn: aws.String("arn:aws:iam::" + testAccount + ":role/lake-import")}}
}

// waitImport polls GetImport until the import has ended.
func waitImport(t *testing.T, c *cloudtrail.Client, id string) *cloudtrail.GetImportOutput {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := c.GetImport(t.Context(), &cloudtrail.GetImportInput{ImportId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetImport %s: %v", id, err)
		}
		if out.ImportStatus != cttypes.ImportStatusInitializing && out.ImportStatus != cttypes.ImportStatusInProgress {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s is still %s after 60s", id, out.ImportStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counts runs a group-by of eventname over store and returns the counts.
func (e *lakeEnv) counts(t *testing.T, store string) map[string]int {
	t.Helper()
	id := e.start(t, e.ct, "SELECT eventname, count(*) AS n FROM "+store+" GROUP BY eventname")
	if d := e.wait(t, e.ct, id); d.QueryStatus != cttypes.QueryStatusFinished {
		t.Fatalf("%s: %s", d.QueryStatus, aws.ToString(d.ErrorMessage))
	}
	got := map[string]int{}
	p := cloudtrail.NewGetQueryResultsPaginator(e.ct, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range out.QueryResultRows {
			n, err := strconv.Atoi(row[1]["n"])
			if err != nil {
				t.Fatalf("row %v: %v", row, err)
			}
			got[row[0]["eventname"]] = n
		}
	}
	return got
}

// TestLakeImport imports real trail log files from a bucket: every event
// of the files lands in the store (a query's counts equal the files'),
// a file that cannot be read is listed as a failure, digests and other
// objects are left alone, and a store with a short retention skips old
// events.
func TestLakeImport(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	objs, want := invictusLogs(t, 4)
	recentKey, recent := recentLog(t)
	badKey := "AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1300Z_broken0000000001.json.gz"
	objs[recentKey] = recent
	objs[badKey] = []byte("this is not gzip")
	objs["AWSLogs/218007301253/CloudTrail-Digest/us-east-1/2023/07/10/218007301253_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T120000Z.json.gz"] = gzipped(t, []byte(`{"digest":true}`))
	objs["README.txt"] = []byte("not a log file")
	makeBucket(t, e, testAccount, "trail-logs", objs)
	for _, r := range lakeEvents {
		want[r["eventName"].(string)]++
	}
	total := 0
	for _, n := range want {
		total += n
	}

	arn := mustCreate(t, e.ct, "imported")
	before := time.Now().Add(-time.Second)
	out, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://trail-logs")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.ImportId)
	if len(id) != 36 || out.ImportStatus != cttypes.ImportStatusInitializing || !slices.Equal(out.Destinations, []string{arn}) ||
		aws.ToString(out.ImportSource.S3.S3LocationUri) != "s3://trail-logs" || aws.ToString(out.ImportSource.S3.S3BucketRegion) != "us-east-1" ||
		out.CreatedTimestamp == nil || out.CreatedTimestamp.Before(before) || out.UpdatedTimestamp == nil {
		t.Errorf("StartImport: %+v", out)
	}
	got := waitImport(t, e.ct, id)
	s := got.ImportStatistics
	if got.ImportStatus != cttypes.ImportStatusCompleted || s == nil {
		t.Fatalf("GetImport: %+v", got)
	}
	if aws.ToInt64(s.EventsCompleted) != int64(total) || aws.ToInt64(s.FailedEntries) != 1 || aws.ToInt64(s.PrefixesFound) != 2 ||
		aws.ToInt64(s.PrefixesCompleted) != 2 || aws.ToInt64(s.FilesCompleted) != 5 {
		t.Errorf("ImportStatistics: events %d (want %d), failed %d, prefixes %d/%d, files %d (want 5: six log files, one failed)", aws.ToInt64(s.EventsCompleted), total,
			aws.ToInt64(s.FailedEntries), aws.ToInt64(s.PrefixesCompleted), aws.ToInt64(s.PrefixesFound), aws.ToInt64(s.FilesCompleted))
	}
	if diff := cmp.Diff(want, e.counts(t, storeID(arn))); diff != "" {
		t.Errorf("events in the store by eventName (-files +store):\n%s", diff)
	}
	fails, err := e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(fails.Failures) != 1 || !strings.Contains(aws.ToString(fails.Failures[0].Location), badKey) ||
		fails.Failures[0].Status != cttypes.ImportFailureStatusFailed || aws.ToString(fails.Failures[0].ErrorType) == "" ||
		aws.ToString(fails.Failures[0].ErrorMessage) == "" || fails.Failures[0].LastUpdatedTime == nil {
		t.Errorf("ListImportFailures: %+v", fails.Failures)
	}

	// A store that keeps 7 days takes only today's events; the rest are
	// skipped, not failed.
	short, err := e.ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("short"), RetentionPeriod: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	out, err = e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{aws.ToString(short.EventDataStoreArn)}, ImportSource: s3Source("s3://trail-logs/AWSLogs/")})
	if err != nil {
		t.Fatal(err)
	}
	got = waitImport(t, e.ct, aws.ToString(out.ImportId))
	if got.ImportStatus != cttypes.ImportStatusCompleted || aws.ToInt64(got.ImportStatistics.EventsCompleted) != int64(len(lakeEvents)) ||
		aws.ToInt64(got.ImportStatistics.FailedEntries) != 1 {
		t.Errorf("import into a 7-day store: %s, %+v", got.ImportStatus, got.ImportStatistics)
	}
	wantRecent := map[string]int{}
	for _, r := range lakeEvents {
		wantRecent[r["eventName"].(string)]++
	}
	if diff := cmp.Diff(wantRecent, e.counts(t, storeID(aws.ToString(short.EventDataStoreArn)))); diff != "" {
		t.Errorf("the 7-day store (-want +got):\n%s", diff)
	}

	// StartEventTime and EndEventTime bound the events taken.
	bounded := mustCreate(t, e.ct, "bounded")
	out, err = e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{bounded}, ImportSource: s3Source("s3://trail-logs/AWSLogs/218007301253/"),
		StartEventTime: aws.Time(time.Date(2023, 7, 10, 0, 0, 0, 0, time.UTC)), EndEventTime: aws.Time(time.Date(2023, 7, 11, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToTime(out.StartEventTime).Year() != 2023 || aws.ToTime(out.EndEventTime).Day() != 11 {
		t.Errorf("StartImport does not echo the time range: %+v", out)
	}
	got = waitImport(t, e.ct, aws.ToString(out.ImportId))
	if n := aws.ToInt64(got.ImportStatistics.EventsCompleted); n != int64(total-len(lakeEvents)) {
		t.Errorf("bounded import took %d events, want %d", n, total-len(lakeEvents))
	}
}

// blockingSource is an import source whose files cannot be read until
// release is closed: an import that stays IN_PROGRESS as long as a test
// needs.
type blockingSource struct {
	release chan struct{}
	objs    logObjects
}

func (b blockingSource) List(context.Context) ([]lake.SourceFile, error) {
	var out []lake.SourceFile
	for k, v := range b.objs {
		out = append(out, lake.SourceFile{Name: k, Prefix: k[:strings.LastIndexByte(k, '/')], Size: int64(len(v))})
	}
	return out, nil
}

func (b blockingSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return io.NopCloser(bytes.NewReader(b.objs[name])), nil
}

// TestLakeImportRetryReadsFailedFiles: a retry by ImportId reads again
// the files that failed (RETRY, then SUCCEEDED or FAILED in
// ListImportFailures) and imports each once; the files imported before
// are not read again.
func TestLakeImportRetryReadsFailedFiles(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	objs, want := invictusLogs(t, 2)
	badKey := "AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1300Z_broken0000000001.json.gz"
	objs[badKey] = []byte("this is not gzip")
	makeBucket(t, e, testAccount, "trail-logs", objs)
	arn := mustCreate(t, e.ct, "imported")
	out, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://trail-logs")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.ImportId)
	failures := func() []cttypes.ImportFailureListItem {
		t.Helper()
		f, err := e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return f.Failures
	}
	check := func(round string, status cttypes.ImportFailureStatus, failed, files int64, want map[string]int) {
		t.Helper()
		g := waitImport(t, e.ct, id)
		if g.ImportStatus != cttypes.ImportStatusCompleted || aws.ToInt64(g.ImportStatistics.FailedEntries) != failed ||
			aws.ToInt64(g.ImportStatistics.FilesCompleted) != files {
			t.Errorf("%s: %s, %d failed, %d files completed; want COMPLETED, %d, %d", round, g.ImportStatus,
				aws.ToInt64(g.ImportStatistics.FailedEntries), aws.ToInt64(g.ImportStatistics.FilesCompleted), failed, files)
		}
		if f := failures(); len(f) != 1 || !strings.HasSuffix(aws.ToString(f[0].Location), badKey) || f[0].Status != status {
			t.Errorf("%s: ListImportFailures %+v, want %s for the broken file", round, f, status)
		}
		if diff := cmp.Diff(want, e.counts(t, storeID(arn))); diff != "" {
			t.Errorf("%s: events in the store (-files +store):\n%s", round, diff)
		}
	}
	check("first run", cttypes.ImportFailureStatusFailed, 1, 2, want)

	// Still broken: it fails again, and nothing is imported twice.
	if _, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{ImportId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	check("retry of a file still broken", cttypes.ImportFailureStatusFailed, 1, 2, want)

	// Mended: the retry imports it, and only it.
	_, fixed := recentLog(t)
	if _, err := s3Client(t, e.d, testAccount).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail-logs"), Key: aws.String(badKey), Body: bytes.NewReader(fixed)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{ImportId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	for _, r := range lakeEvents {
		want[r["eventName"].(string)]++
	}
	check("retry of a mended file", cttypes.ImportFailureStatusSucceeded, 0, 3, want)
}

// TestLakeImportOngoing: while an import runs, another StartImport of the
// account is refused (AccountHasOngoingImportException) and its store
// cannot be deleted (EventDataStoreHasOngoingImportException); StopImport
// stops it, and a retry by ImportId finishes it from the bucket.
func TestLakeImportOngoing(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	objs, want := invictusLogs(t, 2)
	makeBucket(t, e, testAccount, "trail-logs", objs)
	arn := mustCreate(t, e.ct, "target")
	other := mustCreate(t, e.ct, "other")
	src := blockingSource{release: make(chan struct{}), objs: objs}
	defer close(src.release)
	running, err := e.d.Lake().StartImport(imports.Info{Account: testAccount, Region: "us-east-1", Store: storeID(arn), StoreARN: arn,
		S3LocationURI: "s3://trail-logs", S3BucketRegion: "us-east-1", S3RoleARN: "arn:aws:iam::" + testAccount + ":role/r"}, "", src)
	if err != nil {
		t.Fatal(err)
	}
	id := running.ID

	_, err = e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{other}, ImportSource: s3Source("s3://trail-logs")})
	checkErr(t, err, "AccountHasOngoingImportException", id)
	_, err = e.ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(arn)})
	checkErr(t, err, "EventDataStoreHasOngoingImportException", "StopImport")
	if _, err := e.ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(other)}); err != nil {
		t.Errorf("another store of the account: %v", err)
	}
	// The limit is the account's.
	theirs := mustCreate(t, e.other, "theirs")
	makeBucket(t, e, otherAccount, "their-logs", nil)
	theirImport, err := e.other.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{theirs}, ImportSource: s3Source("s3://their-logs")})
	if err != nil {
		t.Errorf("another account's import: %v", err)
	} else {
		waitImport(t, e.other, aws.ToString(theirImport.ImportId))
	}

	g, err := e.ct.GetImport(ctx, &cloudtrail.GetImportInput{ImportId: aws.String(id)})
	if err != nil || (g.ImportStatus != cttypes.ImportStatusInProgress && g.ImportStatus != cttypes.ImportStatusInitializing) {
		t.Fatalf("GetImport of a running import: %v %+v", err, g)
	}
	l, err := e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{ImportStatus: g.ImportStatus})
	if err != nil || len(l.Imports) != 1 || aws.ToString(l.Imports[0].ImportId) != id {
		t.Errorf("ListImports %s: %v %+v", g.ImportStatus, err, l)
	}

	stopped, err := e.ct.StopImport(ctx, &cloudtrail.StopImportInput{ImportId: aws.String(id)})
	if err != nil || stopped.ImportStatus != cttypes.ImportStatusStopped || stopped.ImportStatistics == nil || aws.ToString(stopped.ImportId) != id ||
		!slices.Equal(stopped.Destinations, []string{arn}) {
		t.Fatalf("StopImport: %v %+v", err, stopped)
	}
	if g := waitImport(t, e.ct, id); g.ImportStatus != cttypes.ImportStatusStopped {
		t.Errorf("after StopImport: %s", g.ImportStatus)
	}

	// Retrying resumes it, from the bucket the import names.
	retry, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{ImportId: aws.String(id)})
	if err != nil || aws.ToString(retry.ImportId) != id || !slices.Equal(retry.Destinations, []string{arn}) {
		t.Fatalf("retry: %v %+v", err, retry)
	}
	if g := waitImport(t, e.ct, id); g.ImportStatus != cttypes.ImportStatusCompleted {
		t.Errorf("the retried import: %s %+v", g.ImportStatus, g.ImportStatistics)
	}
	if diff := cmp.Diff(want, e.counts(t, storeID(arn))); diff != "" {
		t.Errorf("events in the store (-files +store):\n%s", diff)
	}
	if _, err := e.ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(arn)}); err != nil {
		t.Errorf("delete after the import: %v", err)
	}
}

// TestLakeImportErrors: every StartImport refusal, and the errors of the
// other import operations.
func TestLakeImportErrors(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	objs, _ := invictusLogs(t, 1)
	makeBucket(t, e, testAccount, "trail-logs", objs)
	makeBucket(t, e, otherAccount, "their-logs", objs)
	arn := mustCreate(t, e.ct, "target")
	theirs := mustCreate(t, e.other, "theirs")
	gone := mustCreate(t, e.ct, "gone")
	if _, err := e.ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	insight := mustCreate(t, e.ct, "insights", category("Insight"))
	external := mustCreate(t, e.ct, "external", category("ActivityAuditLog"))
	west := mustCreate(t, rootClient(t, e.d, testAccount, "eu-west-1"), "west")
	const unknown = "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13"

	tests := []struct {
		name string
		in   cloudtrail.StartImportInput
		code string
		msgs []string
	}{
		{"both forms", cloudtrail.StartImportInput{ImportId: aws.String(unknown), Destinations: []string{arn}, ImportSource: s3Source("s3://trail-logs")},
			"InvalidParameterException", []string{"ImportId"}},
		{"nothing", cloudtrail.StartImportInput{}, "InvalidParameterException", []string{"Destinations"}},
		{"no source", cloudtrail.StartImportInput{Destinations: []string{arn}}, "InvalidParameterException", []string{"ImportSource"}},
		{"two destinations", cloudtrail.StartImportInput{Destinations: []string{arn, arn}, ImportSource: s3Source("s3://trail-logs")},
			"InvalidParameterException", []string{"Destinations"}},
		{"not an S3 URI", cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("https://trail-logs.s3.amazonaws.com/")},
			"InvalidImportSourceException", []string{"https://trail-logs"}},
		{"no bucket in the URI", cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3:///AWSLogs/")},
			"InvalidImportSourceException", []string{"s3:///AWSLogs/"}},
		{"bad bucket name", cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://Trail_Logs/")},
			"InvalidImportSourceException", []string{"Trail_Logs"}},
		{"missing bucket", cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://no-such-bucket/AWSLogs/")},
			"InvalidImportSourceException", []string{"no-such-bucket"}},
		{"another account's bucket", cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://their-logs")},
			"InvalidImportSourceException", []string{"their-logs", "another account"}},
		{"start after end", cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://trail-logs"),
			StartEventTime: aws.Time(time.Now()), EndEventTime: aws.Time(time.Now().Add(-time.Hour))}, "InvalidParameterException", []string{"StartEventTime"}},
		{"unknown store", cloudtrail.StartImportInput{Destinations: []string{unknown}, ImportSource: s3Source("s3://trail-logs")},
			"EventDataStoreNotFoundException", []string{unknown}},
		{"malformed store", cloudtrail.StartImportInput{Destinations: []string{"not a store"}, ImportSource: s3Source("s3://trail-logs")},
			"EventDataStoreARNInvalidException", []string{"not a store"}},
		{"another account's store", cloudtrail.StartImportInput{Destinations: []string{theirs}, ImportSource: s3Source("s3://trail-logs")},
			"EventDataStoreNotFoundException", nil},
		{"a store of another region", cloudtrail.StartImportInput{Destinations: []string{storeID(west)}, ImportSource: s3Source("s3://trail-logs")},
			"EventDataStoreNotFoundException", nil},
		{"store pending deletion", cloudtrail.StartImportInput{Destinations: []string{gone}, ImportSource: s3Source("s3://trail-logs")},
			"InactiveEventDataStoreException", []string{"pending deletion"}},
		{"Insights store", cloudtrail.StartImportInput{Destinations: []string{insight}, ImportSource: s3Source("s3://trail-logs")},
			"InvalidEventDataStoreCategoryException", []string{storeID(insight), "Insight"}},
		{"store of events from outside AWS", cloudtrail.StartImportInput{Destinations: []string{external}, ImportSource: s3Source("s3://trail-logs")},
			"InvalidEventDataStoreCategoryException", []string{"ActivityAuditLog"}},
		{"retry of an unknown import", cloudtrail.StartImportInput{ImportId: aws.String(unknown)}, "ImportNotFoundException", []string{unknown}},
		{"retry of a malformed id", cloudtrail.StartImportInput{ImportId: aws.String("import-1")}, "InvalidParameterException", []string{"import-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ct.StartImport(ctx, &tt.in)
			checkErr(t, err, tt.code, tt.msgs...)
		})
	}
	if l, err := e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{}); err != nil || len(l.Imports) != 1 {
		for _, im := range l.Imports {
			if aws.ToString(im.ImportId) != e.local {
				g, _ := e.ct.GetImport(ctx, &cloudtrail.GetImportInput{ImportId: im.ImportId})
				t.Errorf("an import was started: %+v", g.ImportSource.S3)
			}
		}
		t.Fatalf("imports after refused StartImport calls: %v", err)
	}
	// The members the SDK requires, sent without it.
	for body, member := range map[string]string{
		`{"Destinations":["` + arn + `"],"ImportSource":{}}`: "ImportSource.S3",
		`{"Destinations":["` + arn + `"],"ImportSource":{"S3":{"S3LocationUri":"s3://trail-logs","S3BucketAccessRoleArn":"arn:aws:iam::111122223333:role/r"}}}`: "S3BucketRegion",
		`{"Destinations":["` + arn + `"],"ImportSource":{"S3":{"S3BucketRegion":"us-east-1","S3BucketAccessRoleArn":"arn:aws:iam::111122223333:role/r"}}}`:      "S3LocationUri",
	} {
		status, b := rawCall(t, e.d, testAccount, "us-east-1", "StartImport", body)
		checkRaw(t, status, b, "InvalidParameterException", member)
	}

	// Two finished imports: one of each account's.
	mine, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://trail-logs")})
	if err != nil {
		t.Fatal(err)
	}
	waitImport(t, e.ct, aws.ToString(mine.ImportId))
	foreign, err := e.other.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{theirs}, ImportSource: s3Source("s3://their-logs")})
	if err != nil {
		t.Fatal(err)
	}
	waitImport(t, e.other, aws.ToString(foreign.ImportId))

	for name, id := range map[string]string{"unknown": unknown, "another account's": aws.ToString(foreign.ImportId)} {
		t.Run(name, func(t *testing.T) {
			_, err := e.ct.GetImport(ctx, &cloudtrail.GetImportInput{ImportId: aws.String(id)})
			checkErr(t, err, "ImportNotFoundException", id)
			_, err = e.ct.StopImport(ctx, &cloudtrail.StopImportInput{ImportId: aws.String(id)})
			checkErr(t, err, "ImportNotFoundException", id)
			_, err = e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(id)})
			checkErr(t, err, "ImportNotFoundException", id)
			_, err = e.ct.StartImport(ctx, &cloudtrail.StartImportInput{ImportId: aws.String(id)})
			checkErr(t, err, "ImportNotFoundException", id)
		})
	}
	for _, op := range []string{"GetImport", "StopImport", "ListImportFailures"} {
		status, b := rawCall(t, e.d, testAccount, "us-east-1", op, `{"ImportId":"import-1"}`)
		checkRaw(t, status, b, "InvalidParameterException", "import-1")
		status, b = rawCall(t, e.d, testAccount, "us-east-1", op, `{}`)
		checkRaw(t, status, b, "InvalidParameterException", "ImportId")
	}
	_, err = e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{ImportStatus: "DONE"})
	checkErr(t, err, "InvalidParameterException", "DONE")
	_, err = e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{MaxResults: aws.Int32(0)})
	checkErr(t, err, "InvalidParameterException", "MaxResults")
	_, err = e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{Destination: aws.String(theirs)})
	checkErr(t, err, "EventDataStoreNotFoundException")
	_, err = e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{NextToken: aws.String("not-a-token")})
	checkErr(t, err, "InvalidNextTokenException")
	_, err = e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: mine.ImportId, NextToken: aws.String("not-a-token")})
	checkErr(t, err, "InvalidNextTokenException")
	_, err = e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: mine.ImportId, MaxResults: aws.Int32(1001)})
	checkErr(t, err, "InvalidParameterException", "MaxResults")
}

// TestLakeListImports: ListImports lists the account's imports newest
// first, by destination and status, in pages; ListImportFailures pages
// too.
func TestLakeListImports(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	objs, _ := invictusLogs(t, 1)
	for i := range 3 {
		objs["AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1300Z_broken000000000"+strconv.Itoa(i)+".json.gz"] = []byte("not gzip")
	}
	makeBucket(t, e, testAccount, "trail-logs", objs)
	makeBucket(t, e, otherAccount, "their-logs", objs)
	a, b := mustCreate(t, e.ct, "store-a"), mustCreate(t, e.ct, "store-b")
	var ids []string
	for _, dest := range []string{a, b, a} {
		out, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{dest}, ImportSource: s3Source("s3://trail-logs")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, aws.ToString(out.ImportId))
		waitImport(t, e.ct, ids[len(ids)-1])
	}
	theirs := mustCreate(t, e.other, "theirs")
	if out, err := e.other.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{theirs}, ImportSource: s3Source("s3://their-logs")}); err != nil {
		t.Fatal(err)
	} else {
		waitImport(t, e.other, aws.ToString(out.ImportId))
	}

	list := func(in cloudtrail.ListImportsInput) []string {
		t.Helper()
		var got []string
		p := cloudtrail.NewListImportsPaginator(e.ct, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if in.MaxResults != nil && len(out.Imports) > int(*in.MaxResults) {
				t.Errorf("a page of %d imports for MaxResults %d", len(out.Imports), *in.MaxResults)
			}
			for _, im := range out.Imports {
				if len(im.Destinations) != 1 || im.CreatedTimestamp == nil || im.UpdatedTimestamp == nil || im.ImportStatus != cttypes.ImportStatusCompleted {
					t.Errorf("import item %+v", im)
				}
				got = append(got, aws.ToString(im.ImportId))
			}
		}
		return got
	}
	newest := []string{ids[2], ids[1], ids[0], e.local}
	for name, tt := range map[string]struct {
		in   cloudtrail.ListImportsInput
		want []string
	}{
		"all":              {cloudtrail.ListImportsInput{}, newest},
		"pages of 1":       {cloudtrail.ListImportsInput{MaxResults: aws.Int32(1)}, newest},
		"pages of 2":       {cloudtrail.ListImportsInput{MaxResults: aws.Int32(2)}, newest},
		"into a":           {cloudtrail.ListImportsInput{Destination: aws.String(a)}, []string{ids[2], ids[0]}},
		"into b by its id": {cloudtrail.ListImportsInput{Destination: aws.String(storeID(b))}, []string{ids[1]}},
		"completed":        {cloudtrail.ListImportsInput{ImportStatus: cttypes.ImportStatusCompleted, MaxResults: aws.Int32(1)}, newest},
		"into the store":   {cloudtrail.ListImportsInput{Destination: aws.String(e.arn)}, []string{e.local}},
		"failed":           {cloudtrail.ListImportsInput{ImportStatus: cttypes.ImportStatusFailed}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	page, err := e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatal(err, page)
	}
	_, err = e.ct.ListImports(ctx, &cloudtrail.ListImportsInput{MaxResults: aws.Int32(1), NextToken: page.NextToken, Destination: aws.String(a)})
	checkErr(t, err, "InvalidNextTokenException")

	var locs []string
	p := cloudtrail.NewListImportFailuresPaginator(e.ct, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(ids[0]), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failures) > 2 {
			t.Errorf("a page of %d failures", len(out.Failures))
		}
		for _, f := range out.Failures {
			locs = append(locs, aws.ToString(f.Location))
		}
	}
	if len(locs) != 3 || len(slices.Compact(slices.Sorted(slices.Values(locs)))) != 3 {
		t.Errorf("failures in pages of 2: %q", locs)
	}
	first, err := e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(ids[0]), MaxResults: aws.Int32(1)})
	if err != nil || first.NextToken == nil {
		t.Fatal(err, first)
	}
	_, err = e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(ids[1]), NextToken: first.NextToken})
	checkErr(t, err, "InvalidNextTokenException")
}

// category is an advanced event selector of one eventCategory.
func category(c string) cttypes.AdvancedEventSelector {
	return cttypes.AdvancedEventSelector{FieldSelectors: []cttypes.AdvancedFieldSelector{{Field: aws.String("eventCategory"), Equals: []string{c}}}}
}

// datedRecord is lakeRecord number i with eventTime at.
func datedRecord(i int, name string, at time.Time) map[string]any {
	r := lakeRecord(i, name, "aws-cli/1.45", "")
	r["eventTime"] = at.UTC().Format("2006-01-02T15:04:05Z")
	return r
}

// datedLog is a gzipped log file of records keyed as AWS delivers it on
// day: its key and its bytes.
func datedLog(t *testing.T, day time.Time, unique string, records ...map[string]any) (string, []byte) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	day = day.UTC()
	return "AWSLogs/" + testAccount + "/CloudTrail/us-east-1/" + day.Format("2006/01/02") + "/" +
		testAccount + "_CloudTrail_us-east-1_" + day.Format("20060102T1504Z") + "_" + unique + ".json.gz", gzipped(t, b)
}

// eventIDs returns the sorted event ids of a store's events.
func (e *lakeEnv) eventIDs(t *testing.T, store string) []string {
	t.Helper()
	id := e.run(t, "SELECT eventid FROM "+store+" ORDER BY eventid")
	var got []string
	p := cloudtrail.NewGetQueryResultsPaginator(e.ct, &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range out.QueryResultRows {
			got = append(got, row[0]["eventid"])
		}
	}
	return got
}

// importIntoNewStore creates a store named name (retention in days, not
// ingesting) and imports the logs under uri into it, and returns the
// store's ARN and the finished import.
func (e *lakeEnv) importIntoNewStore(t *testing.T, name string, retention int32, uri string) (string, *cloudtrail.GetImportOutput) {
	t.Helper()
	created, err := e.ct.CreateEventDataStore(t.Context(), &cloudtrail.CreateEventDataStoreInput{Name: aws.String(name),
		RetentionPeriod: aws.Int32(retention), StartIngestion: aws.Bool(false), TerminationProtectionEnabled: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.EventDataStoreArn)
	out, err := e.ct.StartImport(t.Context(), &cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source(uri)})
	if err != nil {
		t.Fatal(err)
	}
	return arn, waitImport(t, e.ct, aws.ToString(out.ImportId))
}

// TestLakeImportRetentionStatistics imports, into a store that keeps 7
// days, files whose events are all inside its retention, some inside and
// some outside, and all outside. As at AWS, the events outside are not
// imported and appear in no statistic: EventsCompleted counts the events
// imported, FailedEntries stays 0 (skipping is not a failure), every
// file and prefix is completed (a file whose events were all too old was
// read), and GetImport's ImportStatistics has only the model's five
// members. The store then holds exactly the events inside.
func TestLakeImportRetentionStatistics(t *testing.T) {
	e := newLakeEnv(t, nil)
	ctx := t.Context()
	now := time.Now().UTC()
	day := 24 * time.Hour
	inside := []map[string]any{
		datedRecord(101, "CreateBucket", now.Add(-time.Hour)),
		datedRecord(102, "PutObject", now.Add(-2*time.Hour)),
		datedRecord(103, "GetObject", now.Add(-3*day)),
		datedRecord(104, "ListBuckets", now.Add(-7*day+time.Hour)), // just inside
	}
	outside := []map[string]any{
		datedRecord(201, "DeleteBucket", now.Add(-7*day-time.Hour)), // just outside
		datedRecord(202, "DeleteObject", now.Add(-30*day)),
		datedRecord(203, "CreateBucket", now.Add(-400*day)),
		datedRecord(204, "PutObject", now.Add(-400*day-time.Hour)),
	}
	objs := logObjects{}
	add := func(k string, b []byte) { objs[k] = b }
	add(datedLog(t, now, "inside0000000001", inside[0], inside[1]))                                     // all inside
	add(datedLog(t, now.Add(-3*day), "mixed00000000001", inside[2], outside[1], inside[3], outside[0])) // mixed
	add(datedLog(t, now.Add(-400*day), "outside000000001", outside[2], outside[3]))                     // all outside
	makeBucket(t, e, testAccount, "retention-logs", objs)

	arn, got := e.importIntoNewStore(t, "week", 7, "s3://retention-logs/AWSLogs/")
	id := aws.ToString(got.ImportId)
	if got.ImportStatus != cttypes.ImportStatusCompleted {
		t.Fatalf("GetImport: %s", got.ImportStatus)
	}
	want := cttypes.ImportStatistics{PrefixesFound: aws.Int64(3), PrefixesCompleted: aws.Int64(3), FilesCompleted: aws.Int64(3),
		EventsCompleted: aws.Int64(int64(len(inside))), FailedEntries: aws.Int64(0)}
	if diff := cmp.Diff(want, *got.ImportStatistics, cmpopts.IgnoreUnexported(cttypes.ImportStatistics{})); diff != "" {
		t.Errorf("ImportStatistics (-want +got):\n%s", diff)
	}
	fails, err := e.ct.ListImportFailures(ctx, &cloudtrail.ListImportFailuresInput{ImportId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if len(fails.Failures) != 0 {
		t.Errorf("ListImportFailures lists skipped events: %+v", fails.Failures)
	}
	// On the wire, ImportStatistics has the model's members and no other.
	status, body := rawCall(t, e.d, testAccount, "us-east-1", "GetImport", `{"ImportId":"`+id+`"}`)
	var raw struct{ ImportStatistics map[string]any }
	if err := json.Unmarshal(body, &raw); status != 200 || err != nil {
		t.Fatalf("GetImport: %d %s", status, body)
	}
	wantRaw := map[string]any{"PrefixesFound": 3.0, "PrefixesCompleted": 3.0, "FilesCompleted": 3.0, "EventsCompleted": float64(len(inside)), "FailedEntries": 0.0}
	if diff := cmp.Diff(wantRaw, raw.ImportStatistics); diff != "" {
		t.Errorf("GetImport's ImportStatistics JSON (-want +got):\n%s", diff)
	}

	var wantIDs []string
	for _, r := range inside {
		wantIDs = append(wantIDs, r["eventID"].(string))
	}
	slices.Sort(wantIDs)
	if diff := cmp.Diff(wantIDs, e.eventIDs(t, storeID(arn))); diff != "" {
		t.Errorf("the store's event ids (-inside the retention +store):\n%s", diff)
	}
}

// TestLakeImportFromS3Compatible imports from a bucket on an
// S3-compatible server (versitygw) that the daemon is configured with:
// the log files' events land in the store (digests and other objects are
// left alone), and a bucket that server does not have is
// InvalidImportSourceException.
func TestLakeImportFromS3Compatible(t *testing.T) {
	endpoint, access, secret := s3test.StartVersity(t)
	e := newLakeEnv(t, func(c *config.Config) {
		c.Buckets = config.Buckets{Endpoint: endpoint, AccessKeyID: access, SecretAccessKey: secret}
	})
	ctx := t.Context()
	vs3 := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
		HTTPClient:  sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport()),
	})
	if _, err := vs3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("versity-logs")}); err != nil {
		t.Fatal(err)
	}
	objs, want := invictusLogs(t, 3)
	recentKey, recent := recentLog(t)
	objs[recentKey] = recent
	objs["AWSLogs/218007301253/CloudTrail-Digest/us-east-1/2023/07/10/218007301253_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T120000Z.json.gz"] = gzipped(t, []byte(`{"digest":true}`))
	objs["notes/README.txt"] = []byte("not a log file")
	for k, b := range objs {
		if _, err := vs3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("versity-logs"), Key: aws.String(k), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range lakeEvents {
		want[r["eventName"].(string)]++
	}
	total := 0
	for _, n := range want {
		total += n
	}

	arn, got := e.importIntoNewStore(t, "from-versity", 3653, "s3://versity-logs")
	s := got.ImportStatistics
	if got.ImportStatus != cttypes.ImportStatusCompleted || aws.ToInt64(s.EventsCompleted) != int64(total) || aws.ToInt64(s.FilesCompleted) != 4 ||
		aws.ToInt64(s.FailedEntries) != 0 || aws.ToInt64(s.PrefixesFound) != 2 || aws.ToInt64(s.PrefixesCompleted) != 2 {
		t.Errorf("GetImport: %s, events %d (want %d), files %d (want 4), failed %d, prefixes %d/%d (want 2/2)", got.ImportStatus,
			aws.ToInt64(s.EventsCompleted), total, aws.ToInt64(s.FilesCompleted), aws.ToInt64(s.FailedEntries),
			aws.ToInt64(s.PrefixesCompleted), aws.ToInt64(s.PrefixesFound))
	}
	if diff := cmp.Diff(want, e.counts(t, storeID(arn))); diff != "" {
		t.Errorf("events in the store by eventName (-files +store):\n%s", diff)
	}

	// A bucket versitygw does not have is refused at once.
	_, err := e.ct.StartImport(ctx, &cloudtrail.StartImportInput{Destinations: []string{arn}, ImportSource: s3Source("s3://no-such-versity-bucket")})
	checkErr(t, err, "InvalidImportSourceException", "no-such-versity-bucket")
}
