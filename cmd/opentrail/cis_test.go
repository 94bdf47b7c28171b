package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/logfilter"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/sns/snstest"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

// cisRecords are the real CloudTrail records (internal/logfilter's test
// data, with their licences) that drive the CIS conditions OpenTrail's
// own APIs cannot cause: sign-ins, IAM, KMS, S3 bucket policies, Config,
// EC2 networking and Organizations. Each is the first record with that
// eventName; fix edits a copy (the files stay as they are).
var cisRecords = []struct {
	control, eventName string
	fix                func(map[string]any)
}{
	{"4.2", "ConsoleLogin", func(r map[string]any) { r["additionalEventData"].(map[string]any)["MFAUsed"] = "No" }},
	{"4.4", "PutRolePolicy", nil},
	{"4.6", "ConsoleLogin", func(r map[string]any) {
		r["errorMessage"] = "Failed authentication"
		r["responseElements"] = map[string]any{"ConsoleLogin": "Failure"}
	}},
	{"4.7", "CreateKey", func(r map[string]any) { r["eventName"] = "ScheduleKeyDeletion" }},
	{"4.8", "PutBucketPolicy", nil},
	{"4.9", "StopConfigurationRecorder", nil},
	{"4.10", "AuthorizeSecurityGroupIngress", nil},
	{"4.11", "CreateNetworkAclEntry", nil},
	{"4.12", "CreateInternetGateway", nil},
	{"4.13", "CreateRoute", nil},
	{"4.14", "CreateVpc", nil},
	{"4.15", "LeaveOrganization", nil},
}

// loadCISRecords reads the records of cisRecords, moved into account and
// the present (each gets a new eventID).
func loadCISRecords(t *testing.T, account string, now time.Time) []event.Event {
	t.Helper()
	byName := map[string]map[string]any{}
	root := filepath.Join("..", "..", "internal", "logfilter", "testdata", "cloudtrail")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, "LICENSE") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var recs []map[string]any
		var file struct{ Records []map[string]any }
		if json.Unmarshal(b, &file) == nil && file.Records != nil {
			recs = file.Records
		} else if json.Unmarshal(b, &recs) != nil {
			return nil
		}
		for _, r := range recs {
			if n, _ := r["eventName"].(string); n != "" && byName[n] == nil {
				byName[n] = r
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for i, c := range cisRecords {
		src := byName[c.eventName]
		if src == nil {
			t.Fatalf("no %s record in %s", c.eventName, root)
		}
		b, _ := json.Marshal(src)
		var r map[string]any
		json.Unmarshal(b, &r)
		if c.fix != nil {
			c.fix(r)
		}
		r["recipientAccountId"] = account
		if ui, ok := r["userIdentity"].(map[string]any); ok {
			ui["accountId"] = account
		}
		r["eventTime"] = now.UTC().Format(time.RFC3339)
		r["awsRegion"] = "us-east-1"
		r["eventID"] = fmt.Sprintf("c1500000-0000-4000-8000-%012d", i)
		b, _ = json.Marshal(r)
		ev, err := event.Parse(b)
		if err != nil {
			t.Fatalf("%s record: %v", c.control, err)
		}
		out = append(out, ev)
	}
	return out
}

// addIAMUser adds an IAM user key to account in dir's accounts.json, as
// an operator does while the server is stopped (docs/format/accounts.md).
func addIAMUser(t *testing.T, dir, account, user string) identity.Key {
	t.Helper()
	path := filepath.Join(dir, "accounts.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	key := identity.Key{AccessKeyID: "AKIACISTESTOPS000001", SecretAccessKey: "cis-test-secret-key-of-the-ops-user-0001", Type: identity.TypeIAMUser, UserName: user}
	for _, a := range f["accounts"].([]any) {
		a := a.(map[string]any)
		if a["accountId"] == account {
			a["keys"] = append(a["keys"].([]any), map[string]any{"accessKeyId": key.AccessKeyID, "secretAccessKey": key.SecretAccessKey, "type": "IAMUser", "userName": user})
		}
	}
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestCISPack sets up the CIS monitoring controls with `opentrail
// cis-pack`, then drives them: a minute of benign calls fires nothing;
// then every CIS condition (root use, CloudTrail changes and an
// unauthorized call made against OpenTrail; the others as the real
// CloudTrail records of those calls) fires its alarm, whose notification
// reaches the subscribed HTTP endpoint, signed.
func TestCISPack(t *testing.T) {
	testenv.SkipShort(t, "CIS system test (two alarm periods)")
	dir := t.TempDir()
	rootKey := trailAccountKey(t, dir)
	opsKey := addIAMUser(t, dir, trailAccount, "ops")
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dir, "127.0.0.1:0", trailAccount
	cfg.Delivery.Interval = config.Duration(time.Second)
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	url := d.URL()
	hc := sdktest.HTTPClient(http.DefaultTransport)
	creds := func(k identity.Key) aws.CredentialsProvider {
		return credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")
	}
	opsCT := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: &url, Credentials: creds(opsKey), HTTPClient: hc, RetryMaxAttempts: 1})
	rootCT := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: &url, Credentials: creds(rootKey), HTTPClient: hc, RetryMaxAttempts: 1})
	opsS3 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: &url, Credentials: creds(opsKey), HTTPClient: hc, UsePathStyle: true})
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: &url, Credentials: creds(opsKey), HTTPClient: hc, RetryMaxAttempts: 1})

	// A multi-Region trail logging all management events, and a bucket of
	// another account, for an unauthorized call.
	if _, err := opsS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cis-trail")}); err != nil {
		t.Fatal(err)
	}
	if _, err := opsCT.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("cis-trail"), IsMultiRegionTrail: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := opsCT.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	const other = "444455556666"
	if _, err := d.Identities().EnsureAccount(ctx, other); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := d.Identities().RootKey(other)
	otherS3 := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: &url, Credentials: creds(otherKey), HTTPClient: hc, UsePathStyle: true})
	if _, err := otherS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("not-yours")}); err != nil {
		t.Fatal(err)
	}

	// The trail already delivers to the pack's log group: otherwise the
	// pack's own UpdateTrail, a CloudTrail configuration change (4.5), may
	// or may not be counted, as its metric filter is created a moment
	// later.
	cwl := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: &url, Credentials: creds(opsKey), HTTPClient: hc, RetryMaxAttempts: 1})
	if _, err := cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("cis-cloudtrail-logs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := opsCT.UpdateTrail(ctx, &cloudtrail.UpdateTrailInput{Name: aws.String("main"),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:" + trailAccount + ":log-group:cis-cloudtrail-logs:*"),
		CloudWatchLogsRoleArn:     aws.String("arn:aws:iam::" + trailAccount + ":role/CloudTrail_CloudWatchLogs_Role")}); err != nil {
		t.Fatal(err)
	}
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	t.Setenv("AWS_ACCESS_KEY_ID", opsKey.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", opsKey.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var out bytes.Buffer
	args := []string{"cis-pack", "--endpoint-url", url, "--trail", "main", "--subscribe", sub.URL(), "--period", "60"}
	if code := run(ctx, args, &out, &out); code != 0 {
		t.Fatalf("cis-pack exited %d:\n%s", code, out.String())
	}
	t.Logf("cis-pack:\n%s", out.String())
	// A second run changes nothing and succeeds.
	out.Reset()
	if code := run(ctx, args, &out, &out); code != 0 || !strings.Contains(out.String(), "already subscribed") {
		t.Fatalf("second cis-pack run exited %d:\n%s", code, out.String())
	}
	alarms := func() map[string]cwtypes.StateValue {
		t.Helper()
		da, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("CIS-")})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]cwtypes.StateValue{}
		for _, a := range da.MetricAlarms {
			m[aws.ToString(a.AlarmName)] = a.StateValue
		}
		return m
	}
	if n := len(alarms()); n != len(logfilter.CIS) {
		t.Fatalf("%d CIS alarms, want %d", n, len(logfilter.CIS))
	}

	// Phase 1: benign calls by the IAM user for a while; once their
	// minutes are evaluated every alarm is OK and nothing was notified.
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if _, err := opsCT.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(5)}); err != nil {
			t.Fatal(err)
		}
		if _, err := opsCT.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := opsS3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cis-trail"), Key: aws.String("notes.txt"), Body: strings.NewReader("hi")}); err != nil {
			t.Fatal(err)
		}
	}
	waitEvaluated(t, end)
	for name, st := range alarms() {
		if st != cwtypes.StateValueOk {
			t.Errorf("after benign calls alarm %s is %s, want OK", name, st)
		}
	}
	for _, m := range sub.Received() {
		if m.Doc["Type"] == "Notification" {
			t.Errorf("a notification after benign calls: %v", m.Doc["Subject"])
		}
	}

	// Phase 2: every CIS condition.
	if _, err := rootCT.ListTrails(ctx, &cloudtrail.ListTrailsInput{}); err != nil { // 4.3 root use
		t.Fatal(err)
	}
	if _, err := opsCT.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil { // 4.5
		t.Fatal(err)
	}
	if _, err := opsS3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("not-yours"), Key: aws.String("x")}); err == nil { // 4.1
		t.Fatal("reading another account's bucket worked")
	}
	now := time.Now()
	if _, err := d.Store().Append(ctx, loadCISRecords(t, trailAccount, now), store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEvaluated(t, now)
	want := map[string]bool{}
	for _, c := range logfilter.CIS {
		want["CIS-"+c.ID+"-"+c.MetricName] = true
	}
	for name, st := range alarms() {
		if st != cwtypes.StateValueAlarm {
			t.Errorf("alarm %s is %s after its condition, want ALARM", name, st)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	got := map[string]bool{}
	for len(got) < len(want) && time.Now().Before(deadline) {
		for _, m := range sub.Received() {
			subj, _ := m.Doc["Subject"].(string)
			if m.Doc["Type"] != "Notification" || !strings.HasPrefix(subj, `ALARM: "`) {
				continue
			}
			name := strings.TrimPrefix(subj, `ALARM: "`)
			name = name[:strings.IndexByte(name, '"')]
			got[name] = true
			if !strings.HasSuffix(subj, "in US East (N. Virginia)") {
				t.Errorf("subject %q", subj)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for name := range want {
		if !got[name] {
			t.Errorf("no ALARM notification for %s reached the subscriber", name)
		}
	}
	if errs := sub.Errors(); len(errs) > 0 {
		t.Errorf("the subscriber could not verify messages: %v", errs)
	}
}

// waitEvaluated waits until the alarms have evaluated the minute of t:
// its end, plus the 1 s evaluation delay, plus a margin for the
// evaluation loop and SNS.
func waitEvaluated(t *testing.T, at time.Time) {
	t.Helper()
	until := at.Truncate(time.Minute).Add(time.Minute + time.Second + 5*time.Second)
	time.Sleep(time.Until(until))
}
