package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// writeLogFile writes n events of the trail account as a gzipped
// {"Records":[...]} file and returns their eventIDs.
func writeLogFile(t *testing.T, path, prefix string, n int) []string {
	t.Helper()
	var recs []map[string]any
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		ids = append(ids, id)
		recs = append(recs, map[string]any{
			"eventVersion": "1.11", "userIdentity": map[string]any{"type": "Root", "accountId": trailAccount},
			"eventTime": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "eventSource": "ec2.amazonaws.com",
			"eventName": "DescribeInstances", "awsRegion": "us-east-1", "eventID": id, "readOnly": true,
			"eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": trailAccount, "eventCategory": "Management",
		})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	json.NewEncoder(zw).Encode(map[string]any{"Records": recs})
	zw.Close()
	f.Close()
	return ids
}

// delivered returns the eventIDs in the embedded bucket's log files.
func deliveredIDs(t *testing.T, dir, bucket string) map[string]int {
	t.Helper()
	out := map[string]int{}
	root := filepath.Join(dir, datadir.BucketsDir, bucket)
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, "CloudTrail-Digest") {
			return nil
		}
		var doc struct{ Records []struct{ EventID string } }
		json.Unmarshal(gunzipBytes(t, mustRead(t, path)), &doc)
		for _, r := range doc.Records {
			out[r.EventID]++
		}
		return nil
	})
	return out
}

// An import into a data directory with a logging trail is delivered when
// the server next starts; with no trail logging, the WAL is not held and the
// next start skips what delivery did not need.
func TestImportWithTrails(t *testing.T) {
	testenv.SkipShort(t, "process test")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	args := []string{"--account-id", trailAccount, "--delivery-interval", "200ms"}
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(http.DefaultTransport)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, UsePathStyle: true})
	ctx := context.Background()
	stop := func(s *server) { s.cmd.Process.Signal(syscall.SIGTERM); s.cmd.Wait() }

	srv := startServer(t, dir, addr, args...)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("imports")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("imports")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	stop(srv)
	file := filepath.Join(t.TempDir(), "a.json.gz")
	logged := writeLogFile(t, file, "logged", 300)
	runOK(t, nil, opentrailBin, "import", "--data-dir", dir, "--event-history-retention", "0", file)

	srv = startServer(t, dir, addr, args...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := deliveredIDs(t, dir, "imports")
		n := 0
		for _, id := range logged {
			n += got[id]
		}
		if n == len(logged) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d imported events delivered", n, len(logged))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	stop(srv)
	// No trail logging: the import does not hold the WAL, and the next
	// start neither fails nor delivers it.
	file2 := filepath.Join(t.TempDir(), "b.json.gz")
	unlogged := writeLogFile(t, file2, "unlogged", 300)
	runOK(t, nil, opentrailBin, "import", "--data-dir", dir, file2)
	srv = startServer(t, dir, addr, args...)
	defer srv.kill()
	if _, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	got := deliveredIDs(t, dir, "imports")
	for _, id := range unlogged {
		if got[id] != 0 {
			t.Fatalf("event %s imported while no trail was logging was delivered", id)
		}
	}
}
