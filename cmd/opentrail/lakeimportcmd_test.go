package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
