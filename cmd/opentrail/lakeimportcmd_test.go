package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
	"github.com/opentrail/opentrail/internal/testenv"
)

// ec2Record is a CloudTrail record of an EC2 call by alice at at, with
// event id number i.
func ec2Record(i int, name string, at time.Time) map[string]any {
	return map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"type": "IAMUser", "userName": "alice", "accountId": trailAccount,
			"arn": "arn:aws:iam::" + trailAccount + ":user/alice"},
		"eventTime":          at.UTC().Format(time.RFC3339),
		"eventSource":        "ec2.amazonaws.com",
		"eventName":          name,
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "192.0.2.7",
		"userAgent":          "aws-cli/1.45",
		"eventID":            fmt.Sprintf("5a1d7c3e-0000-4000-8000-%012d", i),
		"readOnly":           true,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": trailAccount,
		"eventCategory":      "Management",
	}
}

// writeLog writes records as a log file at path, gzipped if the name ends
// in .gz.
func writeLog(t *testing.T, path string, records ...map[string]any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		writeGzip(t, path, b)
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportEventDataStoreCommand runs `opentrail import --event-data-store`
// on log files (an AWSLogs/ tree and a loose file) into a store it
// creates: it prints the final progress line on stderr, the events
// imported and the records skipped (events older than the new store's
// 3653 days) on stdout, and a server started on the data directory then
// answers a query over the store with exactly the events imported.
func TestImportEventDataStoreCommand(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	now := time.Now().UTC()
	old := now.AddDate(-11, 0, 0) // outside the 3653 days a new store keeps
	logs := t.TempDir()
	tree := filepath.Join(logs, "AWSLogs", trailAccount, "CloudTrail", "us-east-1")
	in := []map[string]any{
		ec2Record(1, "DescribeInstances", now.Add(-time.Hour)),
		ec2Record(2, "RunInstances", now.Add(-50*time.Minute)),
		ec2Record(3, "DescribeVpcs", now.Add(-30*24*time.Hour)),
		ec2Record(4, "StopInstances", now.Add(-40*24*time.Hour)),
	}
	writeLog(t, filepath.Join(tree, now.Format("2006/01/02"), trailAccount+"_CloudTrail_us-east-1_"+now.Format("20060102T1504Z")+"_aaaaaaaaaaaaaaaa.json.gz"),
		in[0], in[1])
	writeLog(t, filepath.Join(tree, "old", trailAccount+"_CloudTrail_us-east-1_"+old.Format("20060102T1504Z")+"_bbbbbbbbbbbbbbbb.json.gz"),
		ec2Record(5, "TerminateInstances", old), in[2], ec2Record(6, "DeleteVpc", old.Add(time.Hour)))
	loose := filepath.Join(logs, "loose.json")
	writeLog(t, loose, in[3])

	stdout, stderr, code := runEnv(t, nil, opentrailBin, "import", "--data-dir", dir, "--event-data-store", "forensics",
		"--account", trailAccount, filepath.Join(logs, "AWSLogs"), loose)
	if code != 0 {
		t.Fatalf("opentrail import --event-data-store: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	imported := regexp.MustCompile(`(?m)^Imported 4 events from 3 files into the new event data store forensics \(([a-f0-9-]{36})\), account ` + trailAccount + `\.$`).FindStringSubmatch(stdout)
	if imported == nil {
		t.Fatalf("stdout has no \"Imported 4 events from 3 files into the new event data store forensics (ID), account %s.\" line:\n%s", trailAccount, stdout)
	}
	store := imported[1]
	if !strings.Contains(stdout, "\nSkipped 2 records: not valid CloudTrail events, or older than the store's 3653-day retention.\n") {
		t.Errorf("stdout does not say the 2 old records were skipped:\n%s", stdout)
	}
	if !strings.Contains(stdout, "start-query --query-statement \"SELECT eventname, count(*) FROM "+store+" GROUP BY eventname\"") {
		t.Errorf("stdout does not give the query to run next:\n%s", stdout)
	}
	// Not a terminal: plain progress lines, the last one final.
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^import: 100%  3/3 files  4 events  [\d,]+ ev/s  ETA 0:00$`).MatchString(last) {
		t.Errorf("the progress output does not end with the final counts (100%%, 3/3 files, 4 events):\n%s", stderr)
	}

	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)
	rows := queryRows(t, env, "SELECT eventid, eventname FROM "+store+" WHERE eventsource = 'ec2.amazonaws.com' ORDER BY eventid")
	var want [][]string
	for _, r := range in {
		want = append(want, []string{r["eventID"].(string), r["eventName"].(string)})
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("the store's EC2 events (-imported +query):\n%s", diff)
	}
	var listed struct {
		Imports []struct {
			ImportStatus string
			Destinations []string
		}
	}
	cliJSON(t, env, &listed, "cloudtrail", "list-imports")
	arn := "arn:aws:cloudtrail:us-east-1:" + trailAccount + ":eventdatastore/" + store
	if len(listed.Imports) != 1 || listed.Imports[0].ImportStatus != "COMPLETED" || !slices.Equal(listed.Imports[0].Destinations, []string{arn}) {
		t.Errorf("list-imports: %+v, want the command's import, COMPLETED, into %s", listed, arn)
	}
}

// holdObjectReads is a proxy to the S3-compatible server at endpoint that
// holds every GetObject until release is called (or the client gives up),
// telling held each key it holds: an import through it stays IN_PROGRESS
// for as long as a test needs.
func holdObjectReads(t *testing.T, endpoint string) (url string, held <-chan string, release func()) {
	t.Helper()
	target, err := neturl.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the Host header, which SigV4 signed
	gate := make(chan struct{})
	keys := make(chan string, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); r.Method == http.MethodGet && key != "" {
			select {
			case keys <- key:
			default:
			}
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(release) // before srv.Close, which waits for held requests
	return srv.URL, keys, release
}

// TestLakeStopImportAWSCLI stops a running import with aws cloudtrail
// stop-import: the import reads a bucket on versitygw through a proxy
// that holds object reads, so it is IN_PROGRESS when stop-import runs;
// stop-import prints the import STOPPED with its statistics, get-import
// agrees, and a retry (start-import --import-id) after the reads are let
// through completes it with every event.
func TestLakeStopImportAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	endpoint, _, _ := s3test.StartVersityWith(t, key.AccessKeyID, key.SecretAccessKey)
	proxy, held, release := holdObjectReads(t, endpoint)
	t.Setenv("OPENTRAIL_BUCKETS_ACCESS_KEY_ID", key.AccessKeyID)
	t.Setenv("OPENTRAIL_BUCKETS_SECRET_ACCESS_KEY", key.SecretAccessKey)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount, "--buckets-endpoint", proxy)
	defer srv.kill()
	env := awsEnv(key, addr, endpoint)

	now := time.Now().UTC()
	logs := t.TempDir()
	var records []map[string]any
	for f := range 3 {
		at := now.Add(-time.Duration(f+1) * time.Hour)
		recs := []map[string]any{ec2Record(10*f+1, "DescribeInstances", at), ec2Record(10*f+2, "RunInstances", at.Add(time.Minute))}
		records = append(records, recs...)
		writeLog(t, filepath.Join(logs, "AWSLogs", trailAccount, "CloudTrail", "us-east-1", at.Format("2006/01/02"),
			fmt.Sprintf("%s_CloudTrail_us-east-1_%s_held%012d.json.gz", trailAccount, at.Format("20060102T1504Z"), f)), recs...)
	}
	cliOK(t, env, "s3", "mb", "s3://held-logs")
	cliOK(t, env, "s3", "cp", "--recursive", "--quiet", logs, "s3://held-logs/")

	var created struct{ EventDataStoreArn string }
	cliJSON(t, env, &created, "cloudtrail", "create-event-data-store", "--name", "held", "--retention-period", "3653",
		"--no-termination-protection-enabled", "--no-start-ingestion")
	arn := created.EventDataStoreArn
	var started struct{ ImportId, ImportStatus string }
	cliJSON(t, env, &started, "cloudtrail", "start-import", "--destinations", arn, "--import-source",
		"S3={S3LocationUri=s3://held-logs/AWSLogs/,S3BucketRegion=us-east-1,S3BucketAccessRoleArn=arn:aws:iam::"+trailAccount+":role/lake-import}")
	select {
	case k := <-held:
		t.Logf("the import is reading %s", k)
	case <-time.After(60 * time.Second):
		t.Fatal("the import read no object in 60s")
	}

	type importOut struct {
		ImportId     string
		ImportStatus string
		Destinations []string
		ImportSource struct {
			S3 struct{ S3LocationUri string }
		}
		CreatedTimestamp float64 // the CLI prints epoch seconds
		UpdatedTimestamp float64
		ImportStatistics *struct{ PrefixesFound, PrefixesCompleted, FilesCompleted, EventsCompleted, FailedEntries int }
	}
	var got importOut
	cliJSON(t, env, &got, "cloudtrail", "get-import", "--import-id", started.ImportId)
	if got.ImportStatus != "IN_PROGRESS" {
		t.Fatalf("get-import while an object read is held: %+v", got)
	}
	var stopped importOut
	cliJSON(t, env, &stopped, "cloudtrail", "stop-import", "--import-id", started.ImportId)
	if s := stopped.ImportStatistics; stopped.ImportId != started.ImportId || stopped.ImportStatus != "STOPPED" ||
		!slices.Equal(stopped.Destinations, []string{arn}) || stopped.ImportSource.S3.S3LocationUri != "s3://held-logs/AWSLogs/" ||
		stopped.CreatedTimestamp <= 0 || stopped.UpdatedTimestamp < stopped.CreatedTimestamp || s == nil ||
		s.PrefixesFound != 1 || s.PrefixesCompleted != 0 || s.FilesCompleted != 0 || s.EventsCompleted != 0 || s.FailedEntries != 0 {
		t.Fatalf("stop-import: %+v (statistics %+v)", stopped, stopped.ImportStatistics)
	}
	cliJSON(t, env, &got, "cloudtrail", "get-import", "--import-id", started.ImportId)
	if got.ImportStatus != "STOPPED" {
		t.Fatalf("get-import after stop-import: %s", got.ImportStatus)
	}

	release()
	var retried struct{ ImportId, ImportStatus string }
	cliJSON(t, env, &retried, "cloudtrail", "start-import", "--import-id", started.ImportId)
	if retried.ImportId != started.ImportId {
		t.Fatalf("start-import --import-id: %+v", retried)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		cliJSON(t, env, &got, "cloudtrail", "get-import", "--import-id", started.ImportId)
		if got.ImportStatus != "INITIALIZING" && got.ImportStatus != "IN_PROGRESS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retried import is still %s after 60s", got.ImportStatus)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := got.ImportStatistics; got.ImportStatus != "COMPLETED" || s == nil || s.FilesCompleted != 3 || s.EventsCompleted != len(records) || s.FailedEntries != 0 {
		t.Fatalf("the retried import: %s %+v", got.ImportStatus, got.ImportStatistics)
	}
	store := arn[strings.LastIndexByte(arn, '/')+1:]
	rows := queryRows(t, env, "SELECT eventid FROM "+store+" ORDER BY eventid")
	var want [][]string
	for _, r := range records {
		want = append(want, []string{r["eventID"].(string)})
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("the store's events after the retry (-files +store):\n%s", diff)
	}
}
