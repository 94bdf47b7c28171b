package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/logfile"
	"github.com/opentrail/opentrail/internal/testenv"
)

// expectedEvents parses every file under root the way an independent reader
// would, keeping valid events by account and region, deduplicated by id.
func expectedEvents(t *testing.T, root string) map[string][]event.Event {
	t.Helper()
	out := map[string][]event.Event{}
	seen := map[string]bool{}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dec, err := logfile.NewDecoder(f)
		if err != nil {
			return nil // not a log file (README, LICENSE, ...)
		}
		for {
			rec, err := dec.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				break
			}
			ev, err := event.Parse(rec.Raw)
			if err != nil {
				continue
			}
			k := ev.Account + "/" + ev.Region + "/" + ev.EventID
			if seen[k] {
				continue
			}
			seen[k] = true
			out[ev.Account+"/"+ev.Region] = append(out[ev.Account+"/"+ev.Region], ev)
		}
		return nil
	})
	return out
}

func runOK(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestImportThenAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	td := testenv.CloudTrailData(t)
	dir := t.TempDir()
	out := runOK(t, nil, opentrailBin, "import", "--data-dir", dir, "--event-history-retention", "0", td)
	t.Logf("import summary:\n%s", out)
	// A second import stores nothing new.
	again := runOK(t, nil, opentrailBin, "import", "--data-dir", dir, td)
	if !regexp.MustCompile(`(?m)^\s*imported\s+0$`).Match(again) || !regexp.MustCompile(`(?m)^\s*duplicates\s+3,215\b`).Match(again) {
		t.Errorf("second import stored something new:\n%s", again)
	}
	want := expectedEvents(t, td)
	cutoff := time.Now().UTC().Add(-time.Second) // self-recorded events come after this (EndTime is inclusive, to the second)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr)
	defer srv.kill()
	env := []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null",
		"AWS_ENDPOINT_URL_CLOUDTRAIL=http://" + addr, "AWS_PAGER="}
	type attrCase struct{ key, value string }
	checked := 0
	for part, evs := range want {
		acct, region, _ := strings.Cut(part, "/")
		if len(evs) < 20 {
			continue // small partitions (fake regions) are covered by the Go tests
		}
		// Pick values that occur in this partition.
		var cases []attrCase
		add := func(k, v string) {
			if v != "" && !slices.Contains(cases, attrCase{k, v}) {
				cases = append(cases, attrCase{k, v})
			}
		}
		for i, ev := range evs {
			if i%(len(evs)/4+1) != 0 {
				continue
			}
			add("EventName", ev.EventName)
			add("Username", ev.Username)
			add("EventSource", ev.EventSource)
			add("AccessKeyId", ev.AccessKeyID)
			for _, r := range ev.Resources {
				add("ResourceName", r.ResourceName)
			}
		}
		add("ReadOnly", "true")
		add("ReadOnly", "false")
		for _, c := range cases {
			var wantIDs []string
			for _, ev := range evs {
				if ev.Category != event.CategoryMgmt || !matches(ev, c.key, c.value) {
					continue
				}
				wantIDs = append(wantIDs, ev.EventID)
			}
			raw := runOK(t, env, "aws", "--profile", acct, "--region", region, "--output", "json", "cloudtrail", "lookup-events",
				"--end-time", fmt.Sprint(cutoff.Unix()),
				"--lookup-attributes", "AttributeKey="+c.key+",AttributeValue="+c.value)
			var resp struct {
				Events []struct{ EventId string }
			}
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatalf("%s=%s: %v: %s", c.key, c.value, err, raw)
			}
			var got []string
			for _, e := range resp.Events {
				got = append(got, e.EventId)
			}
			slices.Sort(got)
			slices.Sort(wantIDs)
			if !slices.Equal(got, wantIDs) {
				t.Errorf("%s %s %s=%q: aws CLI returned %d events, the files hold %d", acct, region, c.key, c.value, len(got), len(wantIDs))
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d lookups checked", checked)
	}
	t.Logf("%d aws CLI lookups matched the files exactly", checked)

	// A wrong secret is refused with the AWS error.
	bad := filepath.Join(t.TempDir(), "bad-credentials")
	b, _ := os.ReadFile(filepath.Join(dir, "credentials"))
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "aws_secret_access_key") {
			l = "aws_secret_access_key = wrongwrongwrongwrongwrongwrongwrongwrong"
		}
		lines = append(lines, l)
	}
	os.WriteFile(bad, []byte(strings.Join(lines, "\n")), 0o600)
	cmd := exec.Command("aws", "cloudtrail", "lookup-events", "--max-items", "1")
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+bad, "AWS_CONFIG_FILE=/dev/null", "AWS_ENDPOINT_URL_CLOUDTRAIL=http://"+addr, "AWS_MAX_ATTEMPTS=1")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "InvalidSignatureException") {
		t.Fatalf("wrong secret: err=%v output=%s", err, msg)
	}
}

// matches applies the LookupEvents attribute rules to one event.
func matches(ev event.Event, key, value string) bool {
	switch key {
	case "EventName":
		return ev.EventName == value
	case "Username":
		return ev.Username == value
	case "EventSource":
		return ev.EventSource == value
	case "AccessKeyId":
		return ev.AccessKeyID == value
	case "ReadOnly":
		return ev.ReadOnly != nil && fmt.Sprint(*ev.ReadOnly) == value
	case "ResourceName", "ResourceType":
		for _, r := range ev.Resources {
			if key == "ResourceName" && r.ResourceName == value || key == "ResourceType" && r.ResourceType == value {
				return true
			}
		}
	}
	return false
}

func TestBoto3Pagination(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr)
	defer srv.kill()
	script := `
import boto3, sys
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="eu-central-1")
for i in range(23):
    ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "none"}], MaxResults=1)
ids = []
for page in ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "LookupEvents"}],
        PaginationConfig={"PageSize": 5}):
    ids += [e["EventId"] for e in page["Events"]]
assert len(ids) == len(set(ids)) == 23, (len(ids), len(set(ids)))
try:
    ct.lookup_events(MaxResults=51)
    raise SystemExit("MaxResults 51 accepted")
except ct.exceptions.InvalidMaxResultsException:
    pass
try:
    ct.lookup_events(NextToken="tampered")
    raise SystemExit("tampered token accepted")
except ct.exceptions.InvalidNextTokenException:
    pass
print("ok", len(ids))
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr)
	if !strings.HasPrefix(string(out), "ok 23") {
		t.Fatalf("boto3: %s", out)
	}
}

// TestBoto3Trails drives the trail operations and the embedded S3 front end
// with boto3, so botocore's own parsers read every response shape.
func TestBoto3Trails(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--delivery-interval", "200ms")
	defer srv.kill()
	script := `
import base64, boto3, gzip, hashlib, json, sys, time
url = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
ct = boto3.client("cloudtrail", endpoint_url=url, region_name="us-east-1")
west = boto3.client("cloudtrail", endpoint_url=url, region_name="eu-west-1")
s3.create_bucket(Bucket="boto-trail")
assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["boto-trail"]
t = ct.create_trail(Name="boto", S3BucketName="boto-trail", S3KeyPrefix="p", IsMultiRegionTrail=True,
                    EnableLogFileValidation=True, TagsList=[{"Key": "team", "Value": "sec"}])
arn = t["TrailARN"]
assert arn.endswith(":trail/boto") and t["IsMultiRegionTrail"] and t["LogFileValidationEnabled"], t
try:
    ct.create_trail(Name="boto", S3BucketName="boto-trail")
    raise SystemExit("duplicate trail accepted")
except ct.exceptions.TrailAlreadyExistsException:
    pass
try:
    ct.create_trail(Name="other", S3BucketName="missing-bucket")
    raise SystemExit("missing bucket accepted")
except ct.exceptions.S3BucketDoesNotExistException:
    pass
shadow = west.describe_trails()["trailList"]
assert [x["TrailARN"] for x in shadow] == [arn] and shadow[0]["HomeRegion"] == "us-east-1", shadow
try:
    west.stop_logging(Name=arn)
    raise SystemExit("stop_logging from a shadow region accepted")
except west.exceptions.InvalidHomeRegionException:
    pass
sel = ct.put_event_selectors(TrailName="boto", AdvancedEventSelectors=[{"Name": "mgmt", "FieldSelectors": [
    {"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true"]}]}])
assert sel["AdvancedEventSelectors"][0]["Name"] == "mgmt", sel
assert ct.get_event_selectors(TrailName=arn)["AdvancedEventSelectors"] == sel["AdvancedEventSelectors"]
ct.start_logging(Name="boto")
st = ct.get_trail_status(Name="boto")
assert st["IsLogging"] and "StartLoggingTime" in st, st
assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "team", "Value": "sec"}]
assert [x["Name"] for x in ct.list_trails()["Trails"]] == ["boto"]
for i in range(5):
    ct.lookup_events(MaxResults=1)
deadline = time.time() + 30
keys = []
while time.time() < deadline:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="boto-trail", Prefix="p/AWSLogs/").get("Contents", [])]
    if keys:
        break
    time.sleep(0.2)
assert keys, "no log file delivered"
body = s3.get_object(Bucket="boto-trail", Key=keys[0])["Body"].read()
recs = json.loads(gzip.decompress(body))["Records"]
assert recs and all(r["readOnly"] for r in recs), recs
keys_ = ct.list_public_keys()["PublicKeyList"]
assert keys_ and hashlib.md5(keys_[0]["Value"]).hexdigest() == keys_[0]["Fingerprint"], keys_
ct.delete_trail(Name="boto")
assert ct.describe_trails()["trailList"] == []
print("ok", len(recs))
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr)
	if !strings.HasPrefix(string(out), "ok ") {
		t.Fatalf("boto3: %s", out)
	}
}
