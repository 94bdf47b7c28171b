package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// TestCrashDuringDelivery kills the server with SIGKILL again and again
// while clients call it and a trail with log file validation delivers to
// the embedded store. Afterwards every recorded event is in exactly one
// delivered log file, every acknowledged call among them, and the digests
// form one chain without a gap that lists every log file once; the real
// `aws cloudtrail validate-logs` agrees.
func TestCrashDuringDelivery(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	args := []string{"--account-id", trailAccount, "--delivery-interval", "300ms", "--digest-interval", "2s"}
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(http.DefaultTransport)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, UsePathStyle: true})
	ctx := context.Background()
	const bucket = "crash-trail"
	start := time.Now().UTC().Add(-time.Minute)

	srv := startServer(t, dir, addr, args...)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String(bucket),
		EnableLogFileValidation: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	rounds := 6
	for round := range rounds {
		if round > 0 {
			srv = startServer(t, dir, addr, args...)
		}
		stop := callUntil(t, ctx, 8, func(int) *cloudtrail.Client {
			return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
				Credentials: creds, RetryMaxAttempts: 1, HTTPClient: sdktest.HTTPClient(http.DefaultTransport)})
		}, &mu, acked)
		// Long enough for deliveries and, in some rounds, digests to be in
		// flight when the kill comes.
		time.Sleep(time.Duration(400+rand.IntN(1800)) * time.Millisecond)
		srv.kill()
		stop()
	}
	// A last run with no calls: delivery finishes, then one more digest
	// window passes so every file is in a digest.
	srv = startServer(t, dir, addr, args...)
	stateFile := filepath.Join(dir, datadir.DeliveryDir, "state.json")
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Spool []json.RawMessage `json:"spool"`
		}
		b, _ := os.ReadFile(stateFile)
		json.Unmarshal(b, &st)
		if b != nil && len(st.Spool) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery did not finish: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// What the store holds.
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.History.WaitCaughtUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := off.History
	stored := map[string]string{} // eventID → eventName
	storedReq := map[string]bool{}
	q := history.Query{Account: trailAccount, Region: "us-east-1", Limit: 50, Start: start}
	for {
		p, err := st.Lookup(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range p.Events {
			stored[ev.EventID] = ev.EventName
			storedReq[ev.RequestID] = true
		}
		if p.Next == nil {
			break
		}
		q.Cursor = p.Next
	}
	off.Close()

	// What the bucket holds.
	root := filepath.Join(dir, datadir.BucketsDir, bucket)
	delivered := map[string]int{}
	deliveredReq := map[string]bool{}
	logHash := map[string]string{}
	var digestKeys []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		key := filepath.ToSlash(rel)
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw := gunzipBytes(t, body)
		if strings.Contains(key, "/CloudTrail-Digest/") {
			digestKeys = append(digestKeys, key)
			return nil
		}
		logHash[key] = digest.Hash(raw)
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for _, r := range doc.Records {
			ev, err := event.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				RequestID string `json:"requestID"`
			}
			json.Unmarshal(r, &rec)
			delivered[ev.EventID]++
			deliveredReq[rec.RequestID] = true
		}
		return nil
	})
	if len(acked) < 100 {
		t.Fatalf("only %d calls succeeded; the test did not exercise the server", len(acked))
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("event %s is in %d log files", id, n)
		}
		if _, ok := stored[id]; !ok {
			t.Errorf("delivered event %s is not in the store", id)
		}
	}
	for id, name := range stored {
		if name == "LookupEvents" && delivered[id] == 0 {
			t.Errorf("recorded LookupEvents event %s was never delivered", id)
		}
	}
	for id := range acked {
		if !deliveredReq[id] {
			t.Errorf("acknowledged call %s is in no log file", id)
		}
	}

	// The digest chain: one starting digest, every link intact, windows
	// tiling time, and every log file listed exactly once.
	type dg struct {
		doc  *digest.Document
		hash string
	}
	digests := map[string]dg{}
	for _, k := range digestKeys {
		raw := gunzipBytes(t, mustRead(t, filepath.Join(root, filepath.FromSlash(k))))
		doc, err := digest.Parse(raw)
		if err != nil {
			t.Fatalf("digest %s: %v", k, err)
		}
		digests[k] = dg{doc, digest.Hash(raw)}
	}
	starts, listed := 0, map[string]int{}
	for k, d := range digests {
		for _, f := range d.doc.LogFiles {
			listed[f.S3Object]++
			if logHash[f.S3Object] != f.HashValue {
				t.Errorf("digest %s: log file %s hash mismatch or missing", k, f.S3Object)
			}
		}
		prev, ok := d.doc.Previous()
		if !ok {
			starts++
			continue
		}
		p, found := digests[prev.Object]
		if !found || p.hash != prev.Hash || !p.doc.DigestEndTime.Equal(d.doc.DigestStartTime) {
			t.Errorf("digest %s: broken link to %s (found %v)", k, prev.Object, found)
		}
	}
	if starts != 1 {
		t.Errorf("%d starting digests; the chain has a gap", starts)
	}
	for k := range logHash {
		if listed[k] != 1 {
			t.Errorf("log file %s is listed in %d digests", k, listed[k])
		}
	}
	t.Logf("%d acknowledged calls; %d events stored, %d delivered in %d log files; %d digests",
		len(acked), len(stored), len(delivered), len(logHash), len(digests))

	// And the real validator agrees.
	if toolAvailable("aws") || os.Getenv("CI") == "true" { // CI has the aws CLI (scripts/test checks)
		srv = startServer(t, dir, addr, args...)
		defer srv.kill()
		env := awsEnv(key, addr, "http://"+addr)
		out, errOut, code := cli(t, env, "cloudtrail", "validate-logs", "--trail-arn",
			"arn:aws:cloudtrail:us-east-1:"+trailAccount+":trail/main", "--start-time", start.Format(time.RFC3339))
		if code != 0 || strings.Contains(out+errOut, "INVALID") {
			t.Errorf("validate-logs after the crashes: exit %d\n%s\n%s", code, out, errOut)
		}
		t.Logf("validate-logs:\n%s", out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func toolAvailable(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
