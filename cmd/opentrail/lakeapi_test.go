package main

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/testenv"
)

// gzipTrailLogs lays out every file of the invictus-ir dataset under dir as
// AWS delivers log files (gzipped, AWSLogs/ACCOUNT/CloudTrail/REGION/
// YYYY/MM/DD/NAME.json.gz) and returns the number of events they hold by
// eventName, counted from the files.
func gzipTrailLogs(t *testing.T, dir string) map[string]int {
	t.Helper()
	src := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")
	names, err := filepath.Glob(filepath.Join(src, "*_CloudTrail_*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no log files in %s: %v", src, err)
	}
	counts := map[string]int{}
	for _, name := range names {
		b := readFile(t, name)
		var f struct{ Records []struct{ EventName string } }
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Records {
			counts[r.EventName]++
		}
		// ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json
		base := filepath.Base(name)
		p := strings.Split(base, "_")
		day := p[3][:4] + "/" + p[3][4:6] + "/" + p[3][6:8]
		writeGzip(t, filepath.Join(dir, "AWSLogs", p[0], "CloudTrail", p[2], filepath.FromSlash(day), base+".gz"), b)
	}
	return counts
}

func writeGzip(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// cliError runs an aws CLI command that must fail and returns its
// stderr.
func cliError(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, env, args...)
	if code == 0 {
		t.Fatalf("aws %s succeeded: %s", strings.Join(args, " "), out)
	}
	return errOut
}

// TestLakeImportAndQueryAWSCLI is the check of Lake imports and
// queries with the aws CLI only: copy real trail log files into a bucket
// with aws s3 cp under AWS's key layout, import them with start-import,
// follow get-import to COMPLETED, read list-imports and
// list-import-failures (with the CLI's own paging), then count the
// imported events with start-query, describe-query and get-query-results
// (pages of --max-query-results with --next-token), find the queries with
// list-queries, and see cancel-query refuse a finished one. The counts
// must equal a count made from the files.
func TestLakeImportAndQueryAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)

	// A store for the imported events only: it does not ingest the
	// server's own calls.
	var created struct{ EventDataStoreArn string }
	cliJSON(t, env, &created, "cloudtrail", "create-event-data-store", "--name", "investigation",
		"--retention-period", "3653", "--no-termination-protection-enabled", "--no-start-ingestion")
	arn := created.EventDataStoreArn
	store := arn[strings.LastIndex(arn, "/")+1:]

	logs := t.TempDir()
	want := gzipTrailLogs(t, logs)
	total := 0
	for _, n := range want {
		total += n
	}
	// Two files that are not what they claim: the import lists each.
	bad := []string{
		"AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1300Z_notgzip000000001.json.gz",
		"AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10/218007301253_CloudTrail_us-east-1_20230710T1300Z_notjson000000002.json.gz",
	}
	if err := os.WriteFile(filepath.Join(logs, filepath.FromSlash(bad[0])), []byte("plain text"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeGzip(t, filepath.Join(logs, filepath.FromSlash(bad[1])), []byte("{not json"))
	cliOK(t, env, "s3", "mb", "s3://trail-archive")
	cliOK(t, env, "s3", "cp", "--recursive", "--quiet", logs, "s3://trail-archive/")

	var imp struct {
		ImportId     string
		ImportStatus string
		Destinations []string
		ImportSource struct {
			S3 struct{ S3LocationUri, S3BucketRegion string }
		}
	}
	cliJSON(t, env, &imp, "cloudtrail", "start-import", "--destinations", arn, "--import-source",
		"S3={S3LocationUri=s3://trail-archive/AWSLogs/,S3BucketRegion=us-east-1,S3BucketAccessRoleArn=arn:aws:iam::"+trailAccount+":role/lake-import}")
	if imp.ImportStatus != "INITIALIZING" || !slices.Equal(imp.Destinations, []string{arn}) || imp.ImportSource.S3.S3LocationUri != "s3://trail-archive/AWSLogs/" {
		t.Fatalf("start-import: %+v", imp)
	}
	var got struct {
		ImportStatus     string
		ImportStatistics struct{ PrefixesFound, PrefixesCompleted, FilesCompleted, EventsCompleted, FailedEntries int }
	}
	for deadline := time.Now().Add(120 * time.Second); ; {
		cliJSON(t, env, &got, "cloudtrail", "get-import", "--import-id", imp.ImportId)
		if got.ImportStatus != "INITIALIZING" && got.ImportStatus != "IN_PROGRESS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import is still %s after 120s: %+v", got.ImportStatus, got.ImportStatistics)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := got.ImportStatistics; got.ImportStatus != "COMPLETED" || s.EventsCompleted != total || s.FailedEntries != 2 ||
		s.PrefixesFound != 1 || s.PrefixesCompleted != 1 {
		t.Fatalf("get-import: %s %+v, want COMPLETED with %d events and 2 failed entries", got.ImportStatus, got.ImportStatistics, total)
	}

	var imports struct {
		Imports []struct {
			ImportId, ImportStatus string
			Destinations           []string
		}
		NextToken string
	}
	cliJSON(t, env, &imports, "cloudtrail", "list-imports", "--destination", arn, "--page-size", "1")
	if len(imports.Imports) != 1 || imports.Imports[0].ImportId != imp.ImportId || imports.Imports[0].ImportStatus != "COMPLETED" {
		t.Errorf("list-imports: %+v", imports)
	}
	var failures struct {
		Failures []struct {
			Location, Status, ErrorType, ErrorMessage string
		}
		NextToken string
	}
	// The CLI pages through the failures one at a time and merges them.
	cliJSON(t, env, &failures, "cloudtrail", "list-import-failures", "--import-id", imp.ImportId, "--page-size", "1")
	var locs []string
	for _, f := range failures.Failures {
		if f.Status != "FAILED" || f.ErrorType == "" || f.ErrorMessage == "" {
			t.Errorf("failure %+v", f)
		}
		locs = append(locs, f.Location)
	}
	if len(locs) != 2 || !strings.HasSuffix(locs[0], bad[0]) || !strings.HasSuffix(locs[1], bad[1]) {
		t.Errorf("list-import-failures: %q, want %q", locs, bad)
	}
	// --max-items stops after one, with the CLI's own resume token.
	cliJSON(t, env, &failures, "cloudtrail", "list-import-failures", "--import-id", imp.ImportId, "--max-items", "1")
	if len(failures.Failures) != 1 || failures.NextToken == "" {
		t.Fatalf("list-import-failures --max-items 1: %+v", failures)
	}
	cliJSON(t, env, &failures, "cloudtrail", "list-import-failures", "--import-id", imp.ImportId, "--starting-token", failures.NextToken)
	if len(failures.Failures) != 1 || !strings.HasSuffix(failures.Failures[0].Location, bad[1]) {
		t.Errorf("list-import-failures --starting-token: %+v", failures)
	}

	// The store's counts, in pages of 50 rows (the CLI does not page
	// get-query-results itself: botocore has no paginator for it).
	stmt := "SELECT eventName, count(*) AS events FROM " + store + " GROUP BY eventName ORDER BY eventName"
	var started struct{ QueryId string }
	cliJSON(t, env, &started, "cloudtrail", "start-query", "--query-statement", stmt)
	var desc struct {
		QueryId, QueryString, QueryStatus, ErrorMessage string
		QueryStatistics                                 struct{ EventsMatched, EventsScanned, BytesScanned, ExecutionTimeInMillis int64 }
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		cliJSON(t, env, &desc, "cloudtrail", "describe-query", "--query-id", started.QueryId)
		if desc.QueryStatus != "QUEUED" && desc.QueryStatus != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query is still %s after 60s", desc.QueryStatus)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := desc.QueryStatistics; desc.QueryStatus != "FINISHED" || desc.QueryString != stmt || s.EventsScanned != int64(total) ||
		s.EventsMatched != int64(total) || s.BytesScanned <= 0 {
		t.Fatalf("describe-query: %+v", desc)
	}
	const pageRows = 50
	counts := map[string]int{}
	pages, token := 0, ""
	for {
		args := []string{"cloudtrail", "get-query-results", "--query-id", started.QueryId, "--max-query-results", strconv.Itoa(pageRows)}
		if token != "" {
			args = append(args, "--next-token", token)
		}
		var res struct {
			QueryStatus     string
			QueryStatistics struct{ ResultsCount, TotalResultsCount int }
			QueryResultRows [][]map[string]string
			NextToken       string
		}
		cliJSON(t, env, &res, args...)
		pages++
		if res.QueryStatus != "FINISHED" || len(res.QueryResultRows) > pageRows || res.QueryStatistics.ResultsCount != len(res.QueryResultRows) ||
			res.QueryStatistics.TotalResultsCount != len(want) {
			t.Fatalf("get-query-results page %d: %s %+v with %d rows", pages, res.QueryStatus, res.QueryStatistics, len(res.QueryResultRows))
		}
		for _, row := range res.QueryResultRows {
			if len(row) != 2 {
				t.Fatalf("row %v", row)
			}
			n, err := strconv.Atoi(row[1]["events"])
			if err != nil {
				t.Fatalf("row %v: %v", row, err)
			}
			counts[row[0]["eventName"]] = n
		}
		if token = res.NextToken; token == "" {
			break
		}
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("events by eventName (-files +store):\n%s", diff)
	}
	if wantPages := (len(want) + pageRows - 1) / pageRows; pages != wantPages || wantPages < 2 {
		t.Errorf("%d pages of %d for %d rows, want %d", pages, pageRows, len(want), wantPages)
	}

	var listed struct {
		Queries []struct{ QueryId, QueryStatus string }
	}
	cliJSON(t, env, &listed, "cloudtrail", "list-queries", "--event-data-store", arn)
	if len(listed.Queries) != 1 || listed.Queries[0].QueryId != started.QueryId || listed.Queries[0].QueryStatus != "FINISHED" {
		t.Errorf("list-queries: %+v", listed)
	}
	cliJSON(t, env, &listed, "cloudtrail", "list-queries", "--event-data-store", arn, "--query-status", "RUNNING")
	if len(listed.Queries) != 0 {
		t.Errorf("list-queries --query-status RUNNING: %+v", listed)
	}
	if errOut := cliError(t, env, "cloudtrail", "cancel-query", "--query-id", started.QueryId); !strings.Contains(errOut, "InactiveQueryException") ||
		!strings.Contains(errOut, "FINISHED") {
		t.Errorf("cancel-query of a finished query: %s", errOut)
	}
	if errOut := cliError(t, env, "cloudtrail", "start-query", "--query-statement", "DROP TABLE "+store); !strings.Contains(errOut, "InvalidQueryStatementException") {
		t.Errorf("start-query of a DROP: %s", errOut)
	}
	if errOut := cliError(t, env, "cloudtrail", "get-import", "--import-id", "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13"); !strings.Contains(errOut, "ImportNotFoundException") {
		t.Errorf("get-import of an unknown id: %s", errOut)
	}
}

// TestBoto3LakeQuery runs a Lake query with boto3 over calls the store
// recorded and checks the rows as botocore parses them: a list of rows of
// one-entry dicts, every value a str, NULL as None, the Trino column names.
func TestBoto3LakeQuery(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr)
	defer srv.kill()
	script := `
import boto3, re, sys, time
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1")
arn = ct.create_event_data_store(Name="boto-lake", TerminationProtectionEnabled=False)["EventDataStoreArn"]
store = arn.split("/")[-1]
ct.describe_trails()
try:
    ct.get_trail(Name="no-such-trail")
    raise SystemExit("get_trail of a missing trail succeeded")
except ct.exceptions.TrailNotFoundException:
    pass
stmt = ("SELECT eventName, errorCode, userIdentity.type, eventTime, readOnly, count(*) OVER () FROM " + store +
        " WHERE eventName IN ('DescribeTrails', 'GetTrail') ORDER BY eventName")
deadline = time.time() + 60
while True:
    qid = ct.start_query(QueryStatement=stmt)["QueryId"]
    while True:
        res = ct.get_query_results(QueryId=qid)
        if res["QueryStatus"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.05)
    assert res["QueryStatus"] == "FINISHED", res
    if len(res["QueryResultRows"]) == 2:
        break
    assert time.time() < deadline, "the store did not record the calls in 60s: %r" % res
    time.sleep(0.3)
rows = res["QueryResultRows"]
assert all(isinstance(c, dict) and len(c) == 1 for r in rows for c in r), rows
assert [list(c)[0] for c in rows[0]] == ["eventName", "errorCode", "type", "eventTime", "readOnly", "_col5"], rows[0]
described, failed = rows
assert described[0] == {"eventName": "DescribeTrails"} and described[1] == {"errorCode": None}, described
assert failed[0] == {"eventName": "GetTrail"} and failed[1] == {"errorCode": "TrailNotFoundException"}, failed
for r in rows:
    assert r[2] == {"type": "Root"} and r[4] == {"readOnly": "true"} and r[5] == {"_col5": "2"}, r
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", r[3]["eventTime"]), r
    assert all(v is None or isinstance(v, str) for c in r for v in c.values()), r
stats = res["QueryStatistics"]
assert stats["ResultsCount"] == 2 and stats["TotalResultsCount"] == 2 and stats["BytesScanned"] > 0, stats
page = ct.get_query_results(QueryId=qid, MaxQueryResults=1)
assert len(page["QueryResultRows"]) == 1 and page["NextToken"], page
rest = ct.get_query_results(QueryId=qid, NextToken=page["NextToken"])
assert rest["QueryResultRows"] == rows[1:] and "NextToken" not in rest, rest
d = ct.describe_query(QueryId=qid)
assert d["QueryStatus"] == "FINISHED" and d["QueryString"] == stmt, d
assert d["QueryStatistics"]["EventsScanned"] >= d["QueryStatistics"]["EventsMatched"] >= 2, d
try:
    ct.get_query_results(QueryId="0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13")
    raise SystemExit("an unknown query id was accepted")
except ct.exceptions.QueryIdNotFoundException:
    pass
try:
    ct.get_query_results(QueryId=qid, MaxQueryResults=1001)
    raise SystemExit("MaxQueryResults 1001 was accepted")
except ct.exceptions.InvalidMaxResultsException:
    pass
try:
    ct.start_query(QueryStatement="SELECT eventName FROM " + store + "; SELECT 1")
    raise SystemExit("two statements were accepted")
except ct.exceptions.InvalidQueryStatementException:
    pass
print("ok", len(rows))
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr)
	if !strings.HasPrefix(string(out), "ok 2") {
		t.Fatalf("boto3: %s", out)
	}
}
