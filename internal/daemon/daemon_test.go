package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/sdktest"
)

const testAccount = "111122223333"

func startDaemon(t testing.TB, dir string, mut func(*config.Config)) *daemon.Daemon {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.AccountID = testAccount
	if mut != nil {
		mut(&cfg)
	}
	d, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return d
}

func client(t testing.TB, d *daemon.Daemon, keyID, secret, region string) *cloudtrail.Client {
	t.Helper()
	return cloudtrail.New(cloudtrail.Options{
		Region:           region,
		BaseEndpoint:     aws.String(d.URL()),
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport()),
	})
}

func rootClient(t testing.TB, d *daemon.Daemon, account, region string) *cloudtrail.Client {
	t.Helper()
	k, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	return client(t, d, k.AccessKeyID, k.SecretAccessKey, region)
}

// rootSDK returns account's root key as SDK credentials and the HTTP
// client every SDK client of these tests sends with.
func rootSDK(t testing.TB, d *daemon.Daemon, account string) (aws.CredentialsProvider, *http.Client) {
	t.Helper()
	k, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, ""),
		sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport())
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func requestID(md middleware.Metadata) string {
	id, _ := awsmw.GetRequestIDMetadata(md)
	return id
}

func TestSelfRecordedEvents(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := context.Background()
	ct := rootClient(t, d, testAccount, "us-east-1")

	// A failing call (unsupported operation) and a successful one.
	_, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("trail1"), S3BucketName: aws.String("no-such-bucket")})
	if code := apiCode(err); code != "S3BucketDoesNotExistException" {
		t.Fatalf("CreateTrail error = %v", err)
	}
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil {
		t.Fatal(err)
	}
	firstLookupID := requestID(out.ResultMetadata)
	// The first lookup sees the CreateTrail event; the next sees both.
	out2, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out2.Events) != 2 {
		t.Fatalf("second lookup found %d events, want 2", len(out2.Events))
	}
	ev := out2.Events[0]
	if aws.ToString(ev.EventName) != "LookupEvents" || aws.ToString(ev.ReadOnly) != "true" || aws.ToString(ev.Username) != "root" ||
		aws.ToString(ev.EventSource) != "cloudtrail.amazonaws.com" {
		t.Fatalf("newest event = %+v", ev)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["requestID"] != firstLookupID {
		t.Errorf("requestID = %v, want the x-amzn-RequestId %s", rec["requestID"], firstLookupID)
	}
	for k, want := range map[string]any{
		"eventVersion": "1.11", "eventType": "AwsApiCall", "managementEvent": true, "eventCategory": "Management",
		"recipientAccountId": testAccount, "awsRegion": "us-east-1", "sourceIPAddress": "127.0.0.1", "readOnly": true,
	} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	if ua, _ := rec["userAgent"].(string); !strings.Contains(ua, "aws-sdk-go-v2") {
		t.Errorf("userAgent = %q", ua)
	}
	failed := out2.Events[1]
	var frec map[string]any
	json.Unmarshal([]byte(aws.ToString(failed.CloudTrailEvent)), &frec)
	if aws.ToString(failed.EventName) != "CreateTrail" || frec["errorCode"] == nil || frec["errorMessage"] == nil {
		t.Errorf("failed call event = %v", frec)
	}
	if rp, _ := frec["requestParameters"].(map[string]any); rp["name"] != "trail1" || rp["s3BucketName"] != "no-such-bucket" {
		t.Errorf("requestParameters = %v", frec["requestParameters"])
	}
}

func TestAuthentication(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := context.Background()
	k, _ := d.Identities().RootKey(testAccount)
	cases := []struct {
		name, key, secret, code string
	}{
		{"wrong secret", k.AccessKeyID, "wrong" + k.SecretAccessKey[5:], "InvalidSignatureException"},
		{"unknown key", "AKIAUNKNOWNUNKNOWN00", "x", "UnrecognizedClientException"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := client(t, d, c.key, c.secret, "us-east-1").LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
			if got := apiCode(err); got != c.code {
				t.Fatalf("code = %q (%v), want %s", got, err, c.code)
			}
		})
	}
	t.Run("no signature", func(t *testing.T) {
		req, _ := http.NewRequest("POST", d.URL(), strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.LookupEvents")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 || !strings.Contains(string(b), "MissingAuthenticationToken") || resp.Header.Get("x-amzn-RequestId") == "" {
			t.Fatalf("status %d body %s", resp.StatusCode, b)
		}
	})
	// Nothing above was recorded: only verified callers produce events.
	out, err := rootClient(t, d, testAccount, "us-east-1").LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("events after failed auth: %d, %v", len(out.Events), err)
	}
}

func TestAccountAndRegionIsolation(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := d.Identities().EnsureAccount(ctx, "444455556666"); err != nil {
		t.Fatal(err)
	}
	mine := rootClient(t, d, testAccount, "us-east-1")
	for range 3 {
		if _, err := mine.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	foreign := rootClient(t, d, "444455556666", "us-east-1")
	out, err := foreign.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("foreign account sees %d events (%v)", len(out.Events), err)
	}
	other := rootClient(t, d, testAccount, "eu-west-1")
	out, err = other.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("other region sees %d events (%v)", len(out.Events), err)
	}
	// A token from one account is refused for another.
	page, err := mine.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("paged lookup: %v", err)
	}
	_, err = foreign.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1), NextToken: page.NextToken})
	if apiCode(err) != "InvalidNextTokenException" {
		t.Fatalf("foreign token: %v", err)
	}
}

func TestPaginationAndRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := startDaemon(t, dir, nil)
	ct := rootClient(t, d, testAccount, "us-west-2")
	const calls = 120
	for i := range calls {
		_, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String(fmt.Sprint("x", i))}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(ct *cloudtrail.Client) int {
		n := 0
		p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{
			MaxResults:       aws.Int32(7),
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("LookupEvents")}},
		})
		seen := map[string]bool{}
		var last time.Time
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				if seen[*e.EventId] {
					t.Fatalf("event %s returned twice", *e.EventId)
				}
				seen[*e.EventId] = true
				if !last.IsZero() && e.EventTime.After(last) {
					t.Fatalf("not newest first")
				}
				last = *e.EventTime
				n++
			}
		}
		return n
	}
	if n := count(ct); n != calls {
		t.Fatalf("found %d LookupEvents events, want %d", n, calls)
	}
	// Restart on the same directory: everything is still there, once.
	_ = d.Close()
	d2 := startDaemon(t, dir, nil)
	if n := count(rootClient(t, d2, testAccount, "us-west-2")); n < calls {
		t.Fatalf("after restart found %d events, want >= %d", n, calls)
	}
}

// awsCLI returns a function that runs the aws CLI in dir against d as
// account's root user in us-east-1, with no other configuration.
func awsCLI(t *testing.T, d *daemon.Daemon, account, dir string) func(args ...string) ([]byte, error) {
	t.Helper()
	k, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+k.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+k.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_ENDPOINT_URL="+d.URL(), "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1")
	return func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(t.Context(), "aws", args...)
		cmd.Env, cmd.Dir = env, dir
		return cmd.CombinedOutput()
	}
}
