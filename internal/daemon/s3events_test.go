package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/testenv"
)

// deliveredRecord is what the test reads of a delivered S3 record.
type deliveredRecord struct {
	EventName     string `json:"eventName"`
	EventSource   string `json:"eventSource"`
	EventCategory string `json:"eventCategory"`
	RequestID     string `json:"requestID"`
	Recipient     string `json:"recipientAccountId"`
	Resources     []struct {
		Type      string `json:"type"`
		ARN       string `json:"ARN"`
		ARNPrefix string `json:"ARNPrefix"`
		AccountID string `json:"accountId"`
	} `json:"resources"`
}

// deliveredRecords reads the log files under prefix in bucket, keyed by
// requestID.
func deliveredRecords(t *testing.T, c *s3.Client, bucket, prefix string) map[string][]deliveredRecord {
	t.Helper()
	out := map[string][]deliveredRecord{}
	for _, raw := range deliveredJSON(t, c, bucket, prefix) {
		var r deliveredRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		out[r.RequestID] = append(out[r.RequestID], r)
	}
	return out
}

// Trails with S3 data-event selectors deliver the data events of the
// embedded S3 front end's own calls: a basic selector on a bucket, and an
// advanced selector on resources.ARN StartsWith a key prefix. Data events
// stay out of LookupEvents; the S3 management events are in it.
func TestS3DataEventsDelivered(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Delivery.Interval = config.Duration(150 * time.Millisecond)
	})
	ctx := context.Background()
	ct := rootClient(t, d, testAccount, "us-east-1")
	s3c := s3Client(t, d, testAccount)
	for _, b := range []string{"trail-bucket", "data-bucket"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"basic", "advanced"} {
		if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name),
			S3BucketName: aws.String("trail-bucket"), S3KeyPrefix: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("basic"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true),
			DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"),
				Values: []string{"arn:aws:s3:::data-bucket/"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("advanced"),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{Name: aws.String("reports only"),
			FieldSelectors: []cttypes.AdvancedFieldSelector{
				{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
				{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}},
				{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::data-bucket/reports/"}},
			}}}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"basic", "advanced"} {
		if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}

	// The calls: object writes and reads in two prefixes, a bucket-level
	// management read.
	ids := map[string]string{}
	for _, key := range []string{"reports/q1.csv", "other/x.csv"} {
		out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String(key),
			Body: bytes.NewReader([]byte("a,b\n1,2\n"))})
		if err != nil {
			t.Fatal(err)
		}
		ids["PutObject "+key] = requestID(out.ResultMetadata)
	}
	get, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data-bucket"), Key: aws.String("reports/q1.csv")})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, get.Body)
	get.Body.Close()
	ids["GetObject reports/q1.csv"] = requestID(get.ResultMetadata)
	lb, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	ids["ListBuckets"] = requestID(lb.ResultMetadata)
	for name, id := range ids {
		if id == "" {
			t.Fatalf("%s: no x-amz-request-id", name)
		}
	}

	// Basic: every data event of data-bucket, and the management events.
	// Advanced: only the data events under reports/.
	want := map[string]map[string]bool{
		"basic": {"PutObject reports/q1.csv": true, "PutObject other/x.csv": true, "GetObject reports/q1.csv": true, "ListBuckets": true},
		"advanced": {"PutObject reports/q1.csv": true, "PutObject other/x.csv": false, "GetObject reports/q1.csv": true,
			"ListBuckets": false},
	}
	deadline := time.Now().Add(20 * time.Second)
	for trail, calls := range want {
		for {
			got := deliveredRecords(t, s3c, "trail-bucket", trail+"/AWSLogs/")
			complete := true
			for call, delivered := range calls {
				if delivered && len(got[ids[call]]) == 0 {
					complete = false
				}
			}
			if complete {
				for call, delivered := range calls {
					recs := got[ids[call]]
					if !delivered {
						if len(recs) != 0 {
							t.Errorf("%s: %s delivered: %+v", trail, call, recs)
						}
						continue
					}
					if len(recs) != 1 {
						t.Errorf("%s: %s delivered %d times", trail, call, len(recs))
						continue
					}
					r := recs[0]
					name, key, _ := strings.Cut(call, " ")
					if r.EventName != name || r.EventSource != "s3.amazonaws.com" || r.Recipient != testAccount {
						t.Errorf("%s: %s delivered as %+v", trail, call, r)
					}
					if key == "" {
						if r.EventCategory != "Management" || len(r.Resources) != 0 {
							t.Errorf("%s: %s: %+v", trail, call, r)
						}
						continue
					}
					if r.EventCategory != "Data" || len(r.Resources) != 2 ||
						r.Resources[0].Type != "AWS::S3::Object" || r.Resources[0].ARN != "arn:aws:s3:::data-bucket/"+key ||
						r.Resources[1].Type != "AWS::S3::Bucket" || r.Resources[1].AccountID != testAccount {
						t.Errorf("%s: %s: %+v", trail, call, r)
					}
				}
				for _, recs := range got {
					for _, r := range recs {
						// The test's reads of the log files are data events
						// of trail-bucket, which neither trail selects.
						if r.EventCategory == "Data" && len(r.Resources) > 0 &&
							!strings.HasPrefix(r.Resources[0].ARN+r.Resources[0].ARNPrefix, "arn:aws:s3:::data-bucket/") {
							t.Errorf("%s: a data event outside the selectors: %+v", trail, r)
						}
						if trail == "advanced" && r.EventCategory != "Data" {
							t.Errorf("advanced: a %s event %s", r.EventCategory, r.EventName)
						}
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not delivered in time; have %d requests", trail, len(got))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Event history: S3 management events, never data events.
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String("s3.amazonaws.com")}}, MaxResults: aws.Int32(50)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, ev := range out.Events {
		names[aws.ToString(ev.EventName)]++
	}
	if names["CreateBucket"] != 2 || names["ListBuckets"] == 0 {
		t.Errorf("LookupEvents for s3.amazonaws.com: %v; want 2 CreateBucket and ListBuckets", names)
	}
	for _, data := range []string{"PutObject", "GetObject", "ListObjects", "HeadObject"} {
		if names[data] != 0 {
			t.Errorf("LookupEvents returned %d %s data events", names[data], data)
		}
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(data)}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) != 0 {
			t.Errorf("LookupEvents EventName=%s found %d events", data, len(out.Events))
		}
	}
	// S3's LookupEvents Resources are the bucket by name (s3-events.md
	// §2): CreateBucket, whose record has no resources, is found by it.
	out, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String("data-bucket")}}})
	if err != nil {
		t.Fatal(err)
	}
	var created bool
	for _, ev := range out.Events {
		created = created || aws.ToString(ev.EventName) == "CreateBucket"
		if len(ev.Resources) != 1 || aws.ToString(ev.Resources[0].ResourceType) != "AWS::S3::Bucket" || aws.ToString(ev.Resources[0].ResourceName) != "data-bucket" {
			t.Errorf("%s Resources = %+v", aws.ToString(ev.EventName), ev.Resources)
		}
	}
	if !created {
		t.Errorf("LookupEvents ResourceName=data-bucket did not find CreateBucket (%d events)", len(out.Events))
	}
}

// A call on another account's bucket is delivered to both accounts'
// trails, each copy with its own recipient and the same sharedEventID.
func TestS3CrossAccountCopies(t *testing.T) {
	const other = "444455556666"
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Delivery.Interval = config.Duration(150 * time.Millisecond)
	})
	ctx := context.Background()
	if _, err := d.Identities().EnsureAccount(ctx, other); err != nil {
		t.Fatal(err)
	}
	mine, theirs := s3Client(t, d, testAccount), s3Client(t, d, other)
	for c, b := range map[*s3.Client]string{mine: "my-trail-bucket", theirs: "their-trail-bucket"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := theirs.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("their-data")}); err != nil {
		t.Fatal(err)
	}
	// Each account logs every S3 data event it may see: arn:aws:s3.
	for account, bucket := range map[string]string{testAccount: "my-trail-bucket", other: "their-trail-bucket"} {
		ct := rootClient(t, d, account, "us-east-1")
		if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("all-data"), S3BucketName: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("all-data"),
			EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(false),
				DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3:::their-data/"}}}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("all-data")}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := mine.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("their-data"), Key: aws.String("k")})
	if code := apiCode(err); code != "AccessDenied" {
		t.Fatalf("GetObject of another account's object: %v", err)
	}
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || re.ServiceRequestID() == "" {
		t.Fatalf("no request id in %v", err)
	}
	id := re.ServiceRequestID()

	shared := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for account, bucket := range map[string]string{testAccount: "my-trail-bucket", other: "their-trail-bucket"} {
		c := mine
		if account == other {
			c = theirs
		}
		for {
			recs := deliveredRaw(t, c, bucket)[id]
			if len(recs) == 1 {
				r := recs[0]
				if r["recipientAccountId"] != account || r["errorCode"] != "AccessDenied" || r["eventName"] != "GetObject" {
					t.Errorf("%s's copy: %v", account, r)
				}
				ui, _ := r["userIdentity"].(map[string]any)
				wantType := "Root"
				if account == other {
					wantType = "AWSAccount" // the caller, as the owner sees it
				}
				if ui["type"] != wantType || ui["accountId"] != testAccount {
					t.Errorf("%s's copy: userIdentity %v", account, ui)
				}
				shared[account], _ = r["sharedEventID"].(string)
				break
			}
			if len(recs) > 1 {
				t.Fatalf("%s: %d copies", account, len(recs))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the GetObject record was not delivered in time", account)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if shared[testAccount] == "" || shared[testAccount] != shared[other] {
		t.Errorf("sharedEventID %q and %q", shared[testAccount], shared[other])
	}
}

// deliveredRaw reads every log file in bucket, records keyed by requestID.
func deliveredRaw(t *testing.T, c *s3.Client, bucket string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, raw := range deliveredJSON(t, c, bucket, "") {
		var r map[string]any
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		id, _ := r["requestID"].(string)
		out[id] = append(out[id], r)
	}
	return out
}

// The aws CLI's S3 calls are recorded: after `aws s3 mb` and `aws s3 cp`,
// `aws cloudtrail lookup-events` shows CreateBucket, and not the
// PutObject data event.
func TestAWSCLIS3CallsInEventHistory(t *testing.T) {
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	d := startDaemon(t, t.TempDir(), nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := awsCLI(t, d, testAccount, dir)
	run := func(args ...string) []byte {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	run("s3", "mb", "s3://cli-bucket")
	run("s3", "cp", "f.txt", "s3://cli-bucket/f.txt")
	var out struct {
		Events []struct {
			EventName       string
			Username        string
			CloudTrailEvent string
		}
	}
	raw := run("cloudtrail", "lookup-events", "--output", "json",
		"--lookup-attributes", "AttributeKey=EventSource,AttributeValue=s3.amazonaws.com")
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("lookup-events output: %v\n%s", err, raw)
	}
	var names []string
	for _, ev := range out.Events {
		names = append(names, ev.EventName)
		if ev.EventName != "CreateBucket" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(ev.CloudTrailEvent), &rec); err != nil {
			t.Fatal(err)
		}
		rp, _ := rec["requestParameters"].(map[string]any)
		ua, _ := rec["userAgent"].(string)
		if ev.Username != "root" || rp["bucketName"] != "cli-bucket" || !strings.HasPrefix(ua, "[aws-cli/") {
			t.Errorf("CreateBucket event: %s", ev.CloudTrailEvent)
		}
	}
	if !slices.Contains(names, "CreateBucket") || slices.Contains(names, "PutObject") {
		t.Errorf("lookup-events for s3.amazonaws.com: %v; want CreateBucket and no PutObject", names)
	}
}
