package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

func TestValidateLogsUsage(t *testing.T) {
	const arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "the following arguments are required: --trail-arn, --start-time"},
		{"no trail", []string{"--start-time", "2026-01-01"}, "the following arguments are required: --trail-arn\n"},
		{"no start", []string{"--trail-arn", arn}, "the following arguments are required: --start-time\n"},
		{"bad arn", []string{"--trail-arn", "arn:aws:cloudtrail:us-east-1:1234:trail/main", "--start-time", "2026-01-01"},
			"Invalid trail ARN provided: arn:aws:cloudtrail:us-east-1:1234:trail/main\n"},
		{"not a trail", []string{"--trail-arn", "arn:aws:s3:::bucket", "--start-time", "2026-01-01"},
			"Invalid trail ARN provided: arn:aws:s3:::bucket\n"},
		{"bad start", []string{"--trail-arn", arn, "--start-time", "yesterday"}, "Unable to parse date value: yesterday\n"},
		{"bad end", []string{"--trail-arn", arn, "--start-time", "2026-01-01", "--end-time", "2026-13-01"},
			"Unable to parse date value: 2026-13-01\n"},
		{"start after end", []string{"--trail-arn", arn, "--start-time", "2026-01-02", "--end-time", "2026-01-01"},
			"Invalid time range specified: start-time must occur before end-time\n"},
		{"unknown flag", []string{"--trail-arn", arn, "--start-time", "2026-01-02", "--bucket", "b"},
			"flag provided but not defined: -bucket\n"},
		{"extra argument", []string{"--trail-arn", arn, "--start-time", "2026-01-02", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"validate-logs"}, tt.args...), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) || !strings.Contains(stderr.String(), "Run 'opentrail validate-logs -h' for usage.") {
				t.Errorf("stderr = %q, want it to contain %q and the usage hint", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestValidateLogsHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"validate-logs", "-h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr %q", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "Usage: opentrail validate-logs") || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q; want the usage on stdout only", stdout.String(), stderr.String())
	}
}

func TestParseCLITime(t *testing.T) {
	want := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for _, s := range []string{"2026-01-02T15:04:05Z", "2026-01-02T17:04:05+02:00", "2026-01-02T15:04:05", "2026-01-02 15:04:05",
		"2026-01-02 15:04:05Z", "20260102T150405Z", "1767366245", " 2026-01-02T15:04:05Z "} {
		got, err := parseCLITime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseCLITime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for s, w := range map[string]time.Time{
		"2026-01-02":                     time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"2026-01-02T15:04":               time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC),
		"2026-01-02T15:04:05.25Z":        want.Add(250 * time.Millisecond),
		"1767366245.5":                   want.Add(500 * time.Millisecond),
		"2026-01-02T15:04:05.123456789Z": want.Add(123456789),
	} {
		if got, err := parseCLITime(s); err != nil || !got.Equal(w) {
			t.Errorf("parseCLITime(%q) = %v, %v; want %v", s, got, err, w)
		}
	}
	for _, s := range []string{"", "now", "2026-02-30", "01/02/2026", "-5", "2026-01-02T25:00:00Z"} {
		if got, err := parseCLITime(s); err == nil {
			t.Errorf("parseCLITime(%q) = %v, want an error", s, got)
		}
	}
}

// TestValidateLogsEndToEnd runs the daemon in-process with a trail that
// delivers every 250ms and digests every second, then validates its
// bucket: all valid; then with a log file replaced: INVALID and exit 1.
// With the aws CLI installed, its validate-logs must print the same.
func TestValidateLogsEndToEnd(t *testing.T) {
	testenv.SkipShort(t, "end-to-end test")
	const account = "111122223333"
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.AccountID = account
	cfg.Delivery.Interval = config.Duration(250 * time.Millisecond)
	cfg.Delivery.DigestInterval = config.Duration(time.Second)
	d, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon Run: %v", err)
		}
	})
	key, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	// The command reads credentials from the standard chain.
	t.Setenv("AWS_ACCESS_KEY_ID", key.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", key.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	ctx := t.Context()
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport())
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.URL()), Credentials: creds, HTTPClient: hc})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.URL()), Credentials: creds, HTTPClient: hc, UsePathStyle: true})

	const bucket = "validate-e2e"
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	created, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String(bucket),
		EnableLogFileValidation: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(created.TrailARN)
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// Wait for digests listing at least two log files, stop logging, and
	// wait until no new digest appears, so that every run sees the same.
	digestPrefix := "AWSLogs/" + account + "/CloudTrail-Digest/us-east-1/"
	deadline := time.Now().Add(30 * time.Second)
	var logs []string
	for {
		logs = nil
		for _, k := range vlList(t, s3c, bucket, digestPrefix) {
			var doc struct{ LogFiles []struct{ S3Object string } }
			if err := json.Unmarshal(gunzipBytes(t, vlGet(t, s3c, bucket, k)), &doc); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			for _, f := range doc.LogFiles {
				logs = append(logs, f.S3Object)
			}
		}
		if len(logs) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the digests list %d log files", len(logs))
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	prev := -1
	for n := len(vlList(t, s3c, bucket, digestPrefix)); n != prev; n = len(vlList(t, s3c, bucket, digestPrefix)) {
		prev = n
		time.Sleep(2500 * time.Millisecond)
	}
	end := time.Now().UTC().Truncate(time.Second)
	args := []string{"--trail-arn", arn, "--start-time", start.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339),
		"--region", "us-east-1"}

	validateBoth := func(wantCode int, extra ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		all := append(append([]string{"validate-logs"}, args...), extra...)
		code := run(ctx, append(all, "--endpoint-url", d.URL()), &stdout, &stderr)
		if code != wantCode {
			t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantCode, stdout.String(), stderr.String())
		}
		if _, err := exec.LookPath("aws"); err != nil {
			t.Logf("aws CLI not installed; not comparing: %v", err)
			return stdout.String(), stderr.String()
		}
		cmd := exec.Command("aws", append([]string{"cloudtrail"}, all...)...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_CLOUDTRAIL="+d.URL(), "AWS_ENDPOINT_URL_S3="+d.URL(), "AWS_PAGER=")
		var cliOut, cliErr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &cliOut, &cliErr
		err := cmd.Run()
		cliCode := 0
		if ee, ok := err.(*exec.ExitError); ok {
			cliCode = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if cliCode != wantCode {
			t.Errorf("aws exit code %d, want %d\n%s", cliCode, wantCode, cliErr.String())
		}
		if diff := cmp.Diff(cliOut.String(), stdout.String()); diff != "" {
			t.Errorf("stdout differs from the aws CLI's (-aws +opentrail):\n%s", diff)
		}
		if diff := cmp.Diff(cliErr.String(), stderr.String()); diff != "" {
			t.Errorf("stderr differs from the aws CLI's (-aws +opentrail):\n%s", diff)
		}
		return stdout.String(), stderr.String()
	}

	out, errOut := validateBoth(0, "--verbose")
	t.Logf("valid run, stdout:\n%s\nstderr:\n%s", out, errOut)
	if !strings.Contains(out, "digest files valid") || !strings.Contains(out, "log files valid") || strings.Contains(out+errOut, "INVALID") {
		t.Fatalf("untouched trail not all valid:\n%s\n%s", out, errOut)
	}
	for _, l := range logs {
		if !strings.Contains(out, "Log file\ts3://"+bucket+"/"+l+"\tvalid\n") {
			t.Errorf("log file %s not reported valid", l)
		}
	}

	// Replace one log file.
	changed := logs[0]
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(changed),
		Body: bytes.NewReader(regzip(t, []byte(`{"Records":[]}`)))}); err != nil {
		t.Fatal(err)
	}
	out, errOut = validateBoth(1)
	t.Logf("tampered run, stdout:\n%s\nstderr:\n%s", out, errOut)
	if want := "Log file\ts3://" + bucket + "/" + changed + "\tINVALID: hash value doesn't match\n\n"; !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr does not start with %q:\n%s", want, errOut)
	}
	if !strings.Contains(out, "log files INVALID") {
		t.Errorf("summary does not count the invalid log file:\n%s", out)
	}

	// Also delete another log file and alter the newest digest, keeping
	// its signature metadata; the outputs must still match the CLI's.
	if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(logs[1])}); err != nil {
		t.Fatal(err)
	}
	digests := vlList(t, s3c, bucket, digestPrefix)
	newest := digests[len(digests)-1]
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(newest)})
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	altered := bytes.Replace(gunzipBytes(t, vlGet(t, s3c, bucket, newest)), []byte(`"logFiles"`), []byte(` "logFiles"`), 1)
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(newest),
		Body: bytes.NewReader(regzip(t, altered)), Metadata: obj.Metadata}); err != nil {
		t.Fatal(err)
	}
	out, errOut = validateBoth(1, "--verbose")
	t.Logf("tampered run 2, stdout:\n%s\nstderr:\n%s", out, errOut)
	for _, want := range []string{
		"Digest file\ts3://" + bucket + "/" + newest + "\tINVALID: signature verification failed\n",
		"Log file\ts3://" + bucket + "/" + logs[1] + "\tINVALID: not found\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func vlList(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return slices.Sorted(slices.Values(keys))
}

func vlGet(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
