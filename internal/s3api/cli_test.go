package s3api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/testenv"
)

// awsCLI runs the installed aws CLI against the test server as account A.
type awsCLI struct {
	t   *testing.T
	env []string
	dir string
}

func newAWSCLI(t *testing.T, e *env) *awsCLI {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		testenv.MissingTool(t, testenv.AWSCLI, err.Error()+"; install aws-cli 1.45 (pip install awscli) to run the CLI tests")
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			vars = append(vars, kv)
		}
	}
	vars = append(vars,
		"AWS_ACCESS_KEY_ID="+e.keyA.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+e.keyA.SecretAccessKey,
		"AWS_DEFAULT_REGION="+region,
		"AWS_ENDPOINT_URL_S3="+e.srv.URL,
		"AWS_CONFIG_FILE="+empty,
		"AWS_SHARED_CREDENTIALS_FILE="+empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_RETRY_MODE=standard", "AWS_MAX_ATTEMPTS=1",
	)
	t.Logf("using %s", path)
	return &awsCLI{t: t, env: vars, dir: dir}
}

// run runs aws with args and returns stdout, stderr and the error.
func (c *awsCLI) run(args ...string) (string, string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ok runs aws and fails the test on a non-zero exit.
func (c *awsCLI) ok(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func TestAWSCLI(t *testing.T) {
	var ranged atomic.Int32
	e := newEnv(t, envOptions{maxObject: 32 << 20, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
				ranged.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}})
	cli := newAWSCLI(t, e)
	ctx := t.Context()

	if out := cli.ok("s3", "mb", "s3://cli-bucket"); !strings.Contains(out, "make_bucket: cli-bucket") {
		t.Errorf("mb output: %q", out)
	}
	if b, err := e.store.HeadBucket(ctx, "cli-bucket"); err != nil || b.Owner != accountA || b.Region != "us-east-1" {
		t.Fatalf("bucket after mb: %+v, %v", b, err)
	}
	// The CLI's CreateBucket is recorded, userAgent in brackets.
	if evs := e.events.take(); len(evs) != 1 || evs[0].EventName != "CreateBucket" || evs[0].Account != accountA ||
		!bytes.Contains(evs[0].Raw, []byte(`"userAgent":"[aws-cli/`)) {
		t.Errorf("records after mb: %d", len(evs))
		for _, ev := range evs {
			t.Logf("%s", ev.Raw)
		}
	}

	content := make([]byte, 300<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	src := filepath.Join(cli.dir, "upload.bin")
	if err := os.WriteFile(src, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cli.dir, "top.txt"), []byte("top\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli.ok("s3", "cp", "upload.bin", "s3://cli-bucket/dir/sub/file.bin"); !strings.Contains(out, "upload:") {
		t.Errorf("cp upload output: %q", out)
	}
	var put *event.Event
	evs := e.events.take()
	for i := range evs {
		if evs[i].EventName == "PutObject" {
			put = &evs[i]
		}
	}
	if put == nil || put.Category != event.CategoryData ||
		!bytes.Contains(put.Raw, fmt.Appendf(nil, `"bytesTransferredIn":%d,`, len(content))) ||
		!bytes.Contains(put.Raw, []byte(`"ARN":"arn:aws:s3:::cli-bucket/dir/sub/file.bin"`)) {
		t.Errorf("no PutObject data event for the upload of %d bytes among %d records", len(content), len(evs))
		for _, ev := range evs {
			t.Logf("%s", ev.Raw)
		}
	}
	cli.ok("s3", "cp", "top.txt", "s3://cli-bucket/top.txt")

	t.Run("ls", func(t *testing.T) {
		if out := cli.ok("s3", "ls"); !strings.Contains(out, " cli-bucket\n") {
			t.Errorf("ls: %q", out)
		}
		out := cli.ok("s3", "ls", "s3://cli-bucket/")
		if !strings.Contains(out, "PRE dir/\n") || !strings.Contains(out, " 4 top.txt\n") || strings.Contains(out, "file.bin") {
			t.Errorf("ls s3://cli-bucket/:\n%s", out)
		}
		out = cli.ok("s3", "ls", "s3://cli-bucket/", "--recursive")
		if !strings.Contains(out, " 307200 dir/sub/file.bin\n") || !strings.Contains(out, " 4 top.txt\n") || strings.Contains(out, "PRE") {
			t.Errorf("ls --recursive:\n%s", out)
		}
	})
	t.Run("download", func(t *testing.T) {
		if out := cli.ok("s3", "cp", "s3://cli-bucket/dir/sub/file.bin", "download.bin"); !strings.Contains(out, "download:") {
			t.Errorf("cp download output: %q", out)
		}
		got, err := os.ReadFile(filepath.Join(cli.dir, "download.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("downloaded %d bytes that differ from the %d uploaded", len(got), len(content))
		}
	})
	t.Run("ranged download", func(t *testing.T) {
		// Above the CLI's 8 MB multipart threshold, s3transfer downloads
		// in ranged GETs.
		big := bytes.Repeat(content, 40) // 12 MB
		if err := e.store.Put(ctx, "cli-bucket", "big.bin", big, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		cli.ok("s3", "cp", "s3://cli-bucket/big.bin", "big.bin")
		got, err := os.ReadFile(filepath.Join(cli.dir, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, big) {
			t.Errorf("ranged download differs: %d bytes, want %d", len(got), len(big))
		}
		if ranged.Load() < 2 {
			t.Errorf("the CLI made %d ranged GETs, want several", ranged.Load())
		}
		if err := e.store.Delete(ctx, "cli-bucket", "big.bin"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("multipart upload refused", func(t *testing.T) {
		big := filepath.Join(cli.dir, "big-upload.bin")
		if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 9<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := cli.run("s3", "cp", "big-upload.bin", "s3://cli-bucket/big-upload.bin")
		if err == nil || !strings.Contains(errOut, "NotImplemented") || !strings.Contains(errOut, "Multipart upload") {
			t.Errorf("multipart upload: err %v, stderr:\n%s", err, errOut)
		}
	})
	t.Run("list-objects prefix marker", func(t *testing.T) {
		for _, k := range []string{"logs/1", "logs/2", "logs/3 x", "logs/4/5", "other"} {
			if err := e.store.Put(ctx, "cli-bucket", k, []byte(k), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		var out struct {
			Contents []struct {
				Key  string
				Size int64
			}
		}
		raw := cli.ok("s3api", "list-objects", "--bucket", "cli-bucket", "--prefix", "logs/", "--marker", "logs/1", "--output", "json")
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("list-objects output: %v\n%s", err, raw)
		}
		var keys []string
		for _, c := range out.Contents {
			keys = append(keys, c.Key)
		}
		if diff := cmp.Diff([]string{"logs/2", "logs/3 x", "logs/4/5"}, keys); diff != "" {
			t.Errorf("keys (-want +got):\n%s", diff)
		}
		// Paging through the CLI's own paginator, one key per page.
		raw = cli.ok("s3api", "list-objects", "--bucket", "cli-bucket", "--prefix", "logs/", "--page-size", "1", "--output", "json")
		out.Contents = nil
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Contents) != 4 {
			t.Errorf("paged list-objects returned %d keys:\n%s", len(out.Contents), raw)
		}
	})
	t.Run("digest metadata", func(t *testing.T) {
		if err := e.store.Put(ctx, "cli-bucket", "digest.json.gz", []byte("x"), objstore.PutOptions{
			Metadata: map[string]string{"signature": "0abc", "signature-algorithm": "SHA256withRSA"}}); err != nil {
			t.Fatal(err)
		}
		var out struct{ Metadata map[string]string }
		raw := cli.ok("s3api", "head-object", "--bucket", "cli-bucket", "--key", "digest.json.gz", "--output", "json")
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"signature": "0abc", "signature-algorithm": "SHA256withRSA"}, out.Metadata); diff != "" {
			t.Errorf("botocore metadata (-want +got):\n%s", diff)
		}
	})
	t.Run("get-bucket-location", func(t *testing.T) {
		raw := cli.ok("s3api", "get-bucket-location", "--bucket", "cli-bucket", "--output", "json")
		if !strings.Contains(raw, `"LocationConstraint": null`) {
			t.Errorf("get-bucket-location: %s", raw)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		_, errOut, err := cli.run("s3api", "get-object", "--bucket", "cli-bucket", "--key", "missing", "out")
		if err == nil || !strings.Contains(errOut, "NoSuchKey") {
			t.Errorf("get-object of a missing key: err %v, stderr %q", err, errOut)
		}
	})
	t.Run("rm", func(t *testing.T) {
		if out := cli.ok("s3", "rm", "s3://cli-bucket/top.txt"); !strings.Contains(out, "delete: s3://cli-bucket/top.txt") {
			t.Errorf("rm output: %q", out)
		}
		if _, err := e.store.Head(ctx, "cli-bucket", "top.txt"); err == nil {
			t.Errorf("top.txt still there after rm")
		}
		if out := cli.ok("s3", "ls", "s3://cli-bucket/"); strings.Contains(out, "top.txt") {
			t.Errorf("ls after rm:\n%s", out)
		}
	})
}

// boto3 signing with Signature Version 2 (botocore's "s3" signer, for the
// header and for presigned URLs) is told that only Signature Version 4 is
// accepted, as S3 tells it in the regions that accept only SigV4.
func TestBoto3SignatureV2(t *testing.T) {
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	e := newEnv(t, envOptions{})
	if err := e.store.CreateBucket(t.Context(), "v2-bucket", objstore.BucketOptions{Owner: accountA}); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, urllib.request, urllib.error
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
    config=Config(signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
try:
    s3.get_object(Bucket="v2-bucket", Key="k")
    raise SystemExit("SigV2 header accepted")
except ClientError as e:
    err = e.response["Error"]
    print("header", e.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err["Message"])
url = s3.generate_presigned_url("get_object", Params={"Bucket": "v2-bucket", "Key": "k"}, ExpiresIn=60)
assert "AWSAccessKeyId=" in url and "Signature=" in url, url
try:
    urllib.request.urlopen(url)
    raise SystemExit("SigV2 URL accepted")
except urllib.error.HTTPError as e:
    print("url", e.code, e.read().decode())
`
	cmd := exec.CommandContext(t.Context(), "python3", "-c", script, e.srv.URL, e.keyA.AccessKeyID, e.keyA.SecretAccessKey)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	const msg = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
	if !strings.Contains(string(out), "header 400 InvalidRequest "+msg) {
		t.Errorf("SigV2 header: %s", out)
	}
	if !strings.Contains(string(out), "url 400 ") || !strings.Contains(string(out), "<Code>InvalidRequest</Code><Message>"+msg) {
		t.Errorf("SigV2 presigned URL: %s", out)
	}
	if evs := e.events.take(); len(evs) != 0 {
		t.Errorf("%d records of SigV2 requests; authentication failures are not recorded", len(evs))
	}
}
