package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/testenv"
)

// mountTmpfs mounts a tmpfs of the given size at a new directory for the
// test, or skips for the missing privilege.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		testenv.MissingTool(t, testenv.Tmpfs, "mount -t tmpfs: "+err.Error()+": "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			return // ENOSPC
		}
	}
}

// A full disk makes calls fail with ServiceUnavailable (nothing is
// acknowledged that is not on disk) and leaves no litter; once space
// returns, the server recovers by itself: no restart, every acknowledged
// call recorded exactly once, and the data directory checks clean.
func TestFullDiskRecovers(t *testing.T) {
	testenv.SkipShort(t, "fills a file system")
	dir := filepath.Join(mountTmpfs(t, "24m"), "data")
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", "123456789012", "--delivery-interval", "1s", "--metrics-listen", metricsAddr)
	defer srv.kill()
	ids, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ids.RootKey("123456789012")
	if err != nil {
		t.Fatal(err)
	}
	ct := cloudtrail.New(cloudtrail.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials:      credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
	ctx := t.Context()
	// A logging trail, so trail delivery stages files on the full disk too.
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("full")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("full")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	call := func() error {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
		if err == nil {
			id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
			acked[id] = true
		}
		return err
	}
	for range 20 {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}

	filler := filepath.Join(filepath.Dir(dir), "filler")
	fill(t, filler)
	refused := 0
	for range 200 {
		err := call()
		if err == nil {
			continue // a write that still fitted
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
			t.Fatalf("a call on a full disk failed with %v, want ServiceUnavailable", err)
		}
		refused++
	}
	if refused == 0 {
		t.Fatal("no call was refused on a full disk")
	}
	if m := metric(t, metricsAddr, "opentrail_store_writable"); m != "0" {
		t.Errorf("opentrail_store_writable = %q on a full disk, want 0", m)
	}
	time.Sleep(2 * time.Second) // delivery tries to stage a file (or two) on the full disk

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for call() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the server did not recover once space returned")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for range 20 {
		if err := call(); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	if m := metric(t, metricsAddr, "opentrail_store_writable"); m != "1" {
		t.Errorf("opentrail_store_writable = %q after recovery, want 1", m)
	}

	// Every acknowledged call is recorded once.
	seen := map[string]int{}
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("LookupEvents")}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.Events {
			seen[requestIDOf(t, aws.ToString(e.CloudTrailEvent))]++
		}
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged call %s recorded %d times", id, seen[id])
		}
	}
	// Trail delivery recovered too: the calls after the recovery reach the
	// bucket, and no half-written spool file is left (fsck reports those).
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("full"), Prefix: aws.String("AWSLogs/")})
		if err == nil && len(out.Contents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log file delivered after the disk recovered (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	srv.stop(t)
	if out, code := runBin(t, "fsck", "--data-dir", dir); code != 0 {
		t.Fatalf("fsck after the full disk: exit %d\n%s", code, out)
	}
}

// metric returns the value of an unlabelled metric from the metrics server
// at addr (serve --metrics-listen).
func metric(t *testing.T, addr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + daemon.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			return v
		}
	}
	return ""
}

func requestIDOf(t *testing.T, rec string) string {
	t.Helper()
	_, after, ok := strings.Cut(rec, `"requestID":"`)
	if !ok {
		t.Fatalf("no requestID in %s", rec)
	}
	id, _, _ := strings.Cut(after, `"`)
	return id
}
