package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/notify"
	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
	"github.com/opentrail/opentrail/internal/sdktest"
)

func s3Client(t testing.TB, d *daemon.Daemon, account string) *s3.Client {
	t.Helper()
	creds, hc := rootSDK(t, d, account)
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.URL()), UsePathStyle: true, Credentials: creds, HTTPClient: hc})
}

// webhook records SNS-style notifications and fails the first n.
type webhook struct {
	mu    sync.Mutex
	fail  int
	calls int
	got   []notify.Envelope
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.fail > 0 {
		w.fail--
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	var env notify.Envelope
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &env)
	w.got = append(w.got, env)
}

// deliveredJSON reads every log file under prefix in bucket and returns
// its records.
func deliveredJSON(t *testing.T, c *s3.Client, bucket, prefix string) []json.RawMessage {
	t.Helper()
	ctx := context.Background()
	var out []json.RawMessage
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if strings.Contains(*o.Key, "CloudTrail-Digest") {
				continue
			}
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(obj.Body)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Records []json.RawMessage }
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("%s: %v", *o.Key, err)
			}
			out = append(out, doc.Records...)
		}
	}
	return out
}

// deliveredRequests reads every log file in the bucket and returns the
// requestIDs of the events in them, with how often each appears.
func deliveredRequests(t *testing.T, c *s3.Client, bucket string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, raw := range deliveredJSON(t, c, bucket, "") {
		var r struct {
			RequestID string `json:"requestID"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		out[r.RequestID]++
	}
	return out
}

func lookupID(t *testing.T, ct *cloudtrail.Client) string {
	t.Helper()
	out, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	return requestID(out.ResultMetadata)
}

// A trail records only while it is logging; its files land in the
// embedded bucket, notifications reach the webhook after retries, and
// GetTrailStatus tells the truth about all of it.
func TestTrailLoggingDeliveryAndNotifications(t *testing.T) {
	hook := &webhook{fail: 2}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	topic := "arn:aws:sns:us-east-1:" + testAccount + ":trail-files"
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Delivery.Interval = config.Duration(150 * time.Millisecond)
		c.Notifications.Topics = map[string]string{topic: hs.URL}
	})
	ctx := context.Background()
	ct := rootClient(t, d, testAccount, "us-east-1")
	s3c := s3Client(t, d, testAccount)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-bucket")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("trail-bucket"),
		SnsTopicName: aws.String("trail-files")}); err != nil {
		t.Fatal(err)
	}
	before := lookupID(t, ct) // not logging yet
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	logged1 := lookupID(t, ct)
	stopOut, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	stopCall := requestID(stopOut.ResultMetadata) // a trail records its own StopLogging call
	stopped := lookupID(t, ct)
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	logged2 := lookupID(t, ct)

	deadline := time.Now().Add(20 * time.Second)
	var st *cloudtrail.GetTrailStatusOutput
	for {
		var err error
		st, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
		if err != nil {
			t.Fatal(err)
		}
		got := deliveredRequests(t, s3c, "trail-bucket")
		if got[logged1] == 1 && got[logged2] == 1 && got[stopCall] == 1 && st.LatestNotificationTime != nil {
			if got[before] != 0 || got[stopped] != 0 {
				t.Fatalf("events recorded while the trail was not logging were delivered: %v", got)
			}
			for id, n := range got {
				if n != 1 {
					t.Fatalf("request %s delivered %d times", id, n)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered in time: %v; status %+v", got, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !aws.ToBool(st.IsLogging) || st.LatestDeliveryTime == nil || st.StartLoggingTime == nil || st.StopLoggingTime == nil ||
		aws.ToString(st.LatestDeliveryError) != "" || aws.ToString(st.LatestNotificationError) != "" {
		t.Fatalf("status = %+v", st)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.calls < len(hook.got)+2 || len(hook.got) == 0 {
		t.Fatalf("webhook: %d calls, %d notifications (the first two failed)", hook.calls, len(hook.got))
	}
	for _, env := range hook.got {
		var msg struct {
			S3Bucket    string   `json:"s3Bucket"`
			S3ObjectKey []string `json:"s3ObjectKey"`
		}
		if err := json.Unmarshal([]byte(env.Message), &msg); err != nil || env.TopicARN != topic || msg.S3Bucket != "trail-bucket" ||
			len(msg.S3ObjectKey) != 1 || !strings.HasPrefix(msg.S3ObjectKey[0], "AWSLogs/"+testAccount+"/CloudTrail/us-east-1/") {
			t.Fatalf("notification %+v (%v)", env, err)
		}
	}
}

// The S3 front end and the CloudTrail API share the port; buckets belong
// to the account that made them, and a trail cannot use another's.
func TestBucketsBelongToTheirAccount(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := d.Identities().EnsureAccount(ctx, "444455556666"); err != nil {
		t.Fatal(err)
	}
	mine, theirs := s3Client(t, d, testAccount), s3Client(t, d, "444455556666")
	if _, err := theirs.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("their-bucket")}); err != nil {
		t.Fatal(err)
	}
	if _, err := mine.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("their-bucket"), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))}); err == nil {
		t.Fatal("put into another account's bucket succeeded")
	}
	ct := rootClient(t, d, testAccount, "us-east-1")
	_, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("trail1"), S3BucketName: aws.String("their-bucket")})
	if code := apiCode(err); code != "InsufficientS3BucketPolicyException" {
		t.Fatalf("trail on another account's bucket: %v", err)
	}
}

// StopLogging on a validated trail writes a final digest that lists the
// file holding the StopLogging call's own event.
func TestStopLoggingFinalDigest(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Delivery.Interval = config.Duration(time.Hour) // only the stop flushes
	})
	ctx := context.Background()
	ct := rootClient(t, d, testAccount, "us-east-1")
	s3c := s3Client(t, d, testAccount)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("final-digest")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("final-digest"),
		EnableLogFileValidation: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	logged := lookupID(t, ct)
	time.Sleep(1100 * time.Millisecond) // the final digest must end after the chain's start
	out, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	stopCall := requestID(out.ResultMetadata)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
		if err != nil {
			t.Fatal(err)
		}
		if st.LatestDigestDeliveryTime != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no final digest after StopLogging")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := deliveredRequests(t, s3c, "final-digest")
	if got[logged] != 1 || got[stopCall] != 1 {
		t.Fatalf("delivered %v; want the logged call and the StopLogging call once each", got)
	}
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("final-digest"), Prefix: aws.String("AWSLogs/" + testAccount + "/CloudTrail")})
	if err != nil {
		t.Fatal(err)
	}
	var logs, digests []string
	for _, o := range list.Contents {
		if strings.Contains(*o.Key, "CloudTrail-Digest") {
			digests = append(digests, *o.Key)
		} else {
			logs = append(logs, *o.Key)
		}
	}
	if len(digests) != 1 {
		t.Fatalf("digests: %v", digests)
	}
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("final-digest"), Key: aws.String(digests[0])})
	if err != nil {
		t.Fatal(err)
	}
	zr, _ := gzip.NewReader(obj.Body)
	raw, _ := io.ReadAll(zr)
	var doc struct{ LogFiles []struct{ S3Object string } }
	json.Unmarshal(raw, &doc)
	if len(doc.LogFiles) != len(logs) || len(logs) == 0 {
		t.Fatalf("final digest lists %d files, the bucket holds %d: %s", len(doc.LogFiles), len(logs), raw)
	}
}

// A bucket on an S3-compatible server that goes away only delays delivery:
// GetTrailStatus shows the error, and once the server is back every event
// recorded meanwhile is delivered, exactly once.
func TestUnreachableBucketLosesNothing(t *testing.T) {
	dir := t.TempDir()
	ids, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ids.CreateDefault(testAccount); err != nil {
		t.Fatal(err)
	}
	key, err := ids.RootKey(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	v := s3test.StartVersityAt(t, key.AccessKeyID, key.SecretAccessKey, s3test.FreeAddr(t), t.TempDir())
	d := startDaemon(t, dir, func(c *config.Config) {
		c.Delivery.Interval = config.Duration(100 * time.Millisecond)
		c.Buckets = config.Buckets{Endpoint: v.Endpoint, AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	})
	ctx := context.Background()
	ct := rootClient(t, d, testAccount, "us-east-1")
	vs3 := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(v.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		HTTPClient:  sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport()),
	})
	if _, err := vs3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("away")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("away")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	var calls []string
	for range 5 {
		calls = append(calls, lookupID(t, ct))
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	allDelivered := func() bool {
		got := deliveredRequests(t, vs3, "away")
		for _, id := range calls {
			if got[id] != 1 {
				return false
			}
		}
		return true
	}
	waitFor("the first calls to be delivered", allDelivered)

	v.Stop()
	for range 5 {
		calls = append(calls, lookupID(t, ct))
	}
	waitFor("a delivery error in GetTrailStatus", func() bool {
		st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
		if err == nil && aws.ToString(st.LatestDeliveryError) != "" {
			if code := aws.ToString(st.LatestDeliveryError); code != "ServiceUnavailable" {
				t.Errorf("LatestDeliveryError = %q for a bucket server that does not answer", code)
			}
			return true
		}
		return false
	})
	for range 5 {
		calls = append(calls, lookupID(t, ct))
	}
	v.Start()
	waitFor("every call to be delivered after the bucket came back", allDelivered)
	for id, n := range deliveredRequests(t, vs3, "away") {
		if n != 1 {
			t.Fatalf("request %s delivered %d times", id, n)
		}
	}
	waitFor("the delivery error to clear", func() bool {
		st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
		return err == nil && aws.ToString(st.LatestDeliveryError) == "" && st.LatestDeliveryTime != nil
	})
}
