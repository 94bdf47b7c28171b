package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
	"github.com/opentrail/opentrail/internal/testenv"
)

const trailAccount = "123456789012"

// cli runs the aws CLI with env; it returns stdout, stderr and the exit code.
func cli(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runEnv(t, env, "aws", args...)
}

// runEnv runs a command with env added to the environment and returns
// stdout, stderr and the exit code.
func runEnv(t *testing.T, env []string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// trailAccountKey creates the trail account in dir before a server starts
// there (so versitygw can share its key) and returns its root key.
func trailAccountKey(t *testing.T, dir string) identity.Key {
	t.Helper()
	ids, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ids.CreateDefault(trailAccount); err != nil {
		t.Fatal(err)
	}
	key, err := ids.RootKey(trailAccount)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// awsEnv is the environment that points the aws CLI at OpenTrail at addr
// (and its S3 requests at s3URL) with key, and nothing else.
func awsEnv(key identity.Key, addr, s3URL string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + key.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + key.SecretAccessKey,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_ENDPOINT_URL_CLOUDTRAIL=http://" + addr, "AWS_ENDPOINT_URL_S3=" + s3URL,
	}
}

func cliOK(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, env, args...)
	if code != 0 {
		t.Fatalf("aws %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

type listed struct {
	Contents []struct{ Key string }
}

func listKeys(t *testing.T, env []string, bucket, prefix string) []string {
	t.Helper()
	out := cliOK(t, env, "s3api", "list-objects", "--bucket", bucket, "--prefix", prefix, "--output", "json")
	var l listed
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("list-objects: %v: %s", err, out)
		}
	}
	var keys []string
	for _, c := range l.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// TestTrailDeliveryValidateLogs is the end-to-end check, with the
// real aws CLI only: make a bucket, create a trail with log file
// validation, make calls, wait for log files and digests, and have
// `aws cloudtrail validate-logs` find everything valid; then change a log
// file, delete another and alter a digest, and have it report each one.
// It runs with the embedded bucket store and with versitygw.
func TestTrailDeliveryValidateLogs(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	for _, backend := range []string{"embedded", "versitygw"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			key := trailAccountKey(t, dir)
			addr := freeAddr(t)
			args := []string{"--account-id", trailAccount, "--delivery-interval", "1s", "--digest-interval", "4s"}
			s3URL := "http://" + addr
			if backend == "versitygw" {
				endpoint, _, _ := s3test.StartVersityWith(t, key.AccessKeyID, key.SecretAccessKey)
				s3URL = endpoint
				args = append(args, "--buckets-endpoint", endpoint)
				t.Setenv("OPENTRAIL_BUCKETS_ACCESS_KEY_ID", key.AccessKeyID)
				t.Setenv("OPENTRAIL_BUCKETS_SECRET_ACCESS_KEY", key.SecretAccessKey)
			}
			srv := startServer(t, dir, addr, args...)
			defer srv.kill()
			env := awsEnv(key, addr, s3URL)
			start := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
			bucket := "trail-logs-" + backend
			cliOK(t, env, "s3", "mb", "s3://"+bucket)
			out := cliOK(t, env, "cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", bucket,
				"--s3-key-prefix", "audit/", "--enable-log-file-validation", "--output", "json")
			var created struct{ TrailARN, S3KeyPrefix string }
			json.Unmarshal([]byte(out), &created)
			if created.TrailARN != "arn:aws:cloudtrail:us-east-1:"+trailAccount+":trail/main" || created.S3KeyPrefix != "audit" {
				t.Fatalf("create-trail answered %s", out)
			}
			cliOK(t, env, "cloudtrail", "start-logging", "--name", "main")
			// Calls over a few delivery intervals, so there are several
			// log files, then digests covering them.
			for range 4 {
				cliOK(t, env, "cloudtrail", "describe-trails")
				cliOK(t, env, "cloudtrail", "lookup-events", "--max-results", "1")
				time.Sleep(1200 * time.Millisecond)
			}
			logPrefix := "audit/AWSLogs/" + trailAccount + "/CloudTrail/us-east-1/"
			digestPrefix := "audit/AWSLogs/" + trailAccount + "/CloudTrail-Digest/us-east-1/"
			deadline := time.Now().Add(60 * time.Second)
			var digests, older []string // older: log files listed by digests before the newest
			for {
				digests = listKeys(t, env, bucket, digestPrefix)
				older = older[:0]
				for _, d := range digests[:max(len(digests)-1, 0)] {
					var doc struct{ LogFiles []struct{ S3Object string } }
					json.Unmarshal(gunzipBytes(t, cliGet(t, env, bucket, d)), &doc)
					for _, f := range doc.LogFiles {
						older = append(older, f.S3Object)
					}
				}
				if len(older) >= 2 && len(listKeys(t, env, bucket, logPrefix)) >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 60s: %d digests, %d log files in the older ones", len(digests), len(older))
				}
				time.Sleep(500 * time.Millisecond)
			}
			arn := created.TrailARN
			// The trail keeps logging: a fixed end time keeps digests
			// delivered meanwhile out of both tools' reports.
			end := time.Now().UTC().Format(time.RFC3339)
			vout, verr, code := cli(t, env, "cloudtrail", "validate-logs", "--trail-arn", arn, "--start-time", start, "--end-time", end, "--verbose")
			if code != 0 || strings.Contains(vout+verr, "INVALID") || !strings.Contains(vout, "digest files valid") ||
				!strings.Contains(vout, "log files valid") {
				t.Fatalf("validate-logs on untouched files: exit %d\n%s\n%s", code, vout, verr)
			}
			t.Logf("validate-logs:\n%s", vout)
			digestKeys := func() []string { return listKeys(t, env, bucket, digestPrefix) }
			sameAsCLI(t, env, digestKeys, "--trail-arn", arn, "--start-time", start, "--end-time", end, "--verbose")

			// Change one log file, delete another, alter a digest.
			changed, deleted := older[0], older[1]
			body := cliGet(t, env, bucket, changed)
			tampered := regzip(t, bytes.Replace(gunzipBytes(t, body), []byte(`"eventVersion"`), []byte(`"eventVersion" `), 1))
			cliPut(t, env, bucket, changed, tampered)
			cliOK(t, env, "s3", "rm", "s3://"+bucket+"/"+deleted)
			digest := digests[len(digests)-1]
			dbody := gunzipBytes(t, cliGet(t, env, bucket, digest))
			cliPut(t, env, bucket, digest, regzip(t, bytes.Replace(dbody, []byte(`"logFiles"`), []byte(` "logFiles"`), 1)))

			vout, verr, code = cli(t, env, "cloudtrail", "validate-logs", "--trail-arn", arn, "--start-time", start, "--end-time", end)
			if code != 1 {
				t.Fatalf("validate-logs after tampering: exit %d\n%s\n%s", code, vout, verr)
			}
			for _, want := range []string{
				"s3://" + bucket + "/" + changed + "\tINVALID: hash value doesn't match",
				"s3://" + bucket + "/" + deleted + "\tINVALID: not found",
				"s3://" + bucket + "/" + digest + "\tINVALID: ",
			} {
				if !strings.Contains(verr, want) {
					t.Errorf("validate-logs did not report %q:\n%s\n%s", want, vout, verr)
				}
			}
			t.Logf("validate-logs after tampering:\n%s\n%s", vout, verr)
			sameAsCLI(t, env, digestKeys, "--trail-arn", arn, "--start-time", start, "--end-time", end)
		})
	}
}

func cliGet(t *testing.T, env []string, bucket, key string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "obj")
	cliOK(t, env, "s3", "cp", "s3://"+bucket+"/"+key, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cliPut(t *testing.T, env []string, bucket, key string, body []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	cliOK(t, env, "s3", "cp", path, "s3://"+bucket+"/"+key)
}

func gunzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func regzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameAsCLI runs `aws cloudtrail validate-logs` and then `opentrail
// validate-logs` with the same environment and arguments, and requires the
// same report. The end time is the CLI's, read from its first line, so both
// cover the same range. The trail keeps delivering meanwhile, and both
// tools also read the digests of the hour after the end time (log files
// spill over into it), so a digest delivered between the two runs would
// appear in one report only: the pair runs again (up to five times) until
// digests, the digest keys listed before and after it, did not change.
func sameAsCLI(t *testing.T, env []string, digests func() []string, args ...string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		before := digests()
		cliOut, cliErr, cliCode := cli(t, env, append([]string{"cloudtrail", "validate-logs"}, args...)...)
		first, _, _ := strings.Cut(cliOut, "\n")
		_, end, ok := strings.Cut(first, " and ")
		if !ok {
			t.Fatalf("unexpected first line %q", first)
		}
		stdout, stderr, code := runEnv(t, env, opentrailBin, append(append([]string{"validate-logs"}, args...), "--end-time", end)...)
		if attempt < 5 && !slices.Equal(before, digests()) {
			continue
		}
		if code != cliCode || stdout != cliOut || stderr != cliErr {
			t.Errorf("opentrail validate-logs differs from the aws CLI: exit %d vs %d\n--- opentrail stdout\n%s\n--- aws stdout\n%s\n--- opentrail stderr\n%s\n--- aws stderr\n%s",
				code, cliCode, stdout, cliOut, stderr, cliErr)
		}
		return
	}
}

// A multi-region trail delivers each region's events under that region
// and keeps a digest chain per region; `aws cloudtrail validate-logs
// --region` validates a non-home region's chain.
func TestMultiRegionTrailValidateLogs(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount, "--delivery-interval", "500ms", "--digest-interval", "3s")
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)
	start := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	cliOK(t, env, "s3", "mb", "s3://multi-region-trail")
	cliOK(t, env, "cloudtrail", "create-trail", "--name", "everywhere", "--s3-bucket-name", "multi-region-trail",
		"--is-multi-region-trail", "--enable-log-file-validation")
	cliOK(t, env, "cloudtrail", "start-logging", "--name", "everywhere")
	for range 3 {
		cliOK(t, env, "--region", "eu-west-1", "cloudtrail", "lookup-events", "--max-results", "1")
		time.Sleep(700 * time.Millisecond)
	}
	digestPrefix := "AWSLogs/" + trailAccount + "/CloudTrail-Digest/eu-west-1/"
	deadline := time.Now().Add(60 * time.Second)
	for {
		var withFiles int
		for _, d := range listKeys(t, env, "multi-region-trail", digestPrefix) {
			if !strings.Contains(d, "_CloudTrail-Digest_eu-west-1_everywhere_us-east-1_") {
				t.Fatalf("eu-west-1 digest key %s does not name the covered and the home region", d)
			}
			var doc struct{ LogFiles []struct{ S3Object string } }
			json.Unmarshal(gunzipBytes(t, cliGet(t, env, "multi-region-trail", d)), &doc)
			for _, f := range doc.LogFiles {
				if !strings.HasPrefix(f.S3Object, "AWSLogs/"+trailAccount+"/CloudTrail/eu-west-1/") {
					t.Fatalf("eu-west-1 digest lists %s", f.S3Object)
				}
				withFiles++
			}
		}
		if withFiles >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no eu-west-1 digests listing log files after 60s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	arn := "arn:aws:cloudtrail:us-east-1:" + trailAccount + ":trail/everywhere"
	out, errOut, code := cli(t, env, "--region", "eu-west-1", "cloudtrail", "validate-logs", "--trail-arn", arn, "--start-time", start)
	if code != 0 || strings.Contains(out+errOut, "INVALID") || !strings.Contains(out, "digest files valid") || !strings.Contains(out, "log files valid") {
		t.Fatalf("validate-logs --region eu-west-1: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("validate-logs --region eu-west-1:\n%s", out)
}
