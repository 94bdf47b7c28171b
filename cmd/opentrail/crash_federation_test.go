package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// TestCrashDuringFederationPublish kills the server with SIGKILL while the
// publisher uploads a federated store's first snapshot (some files of it
// uploaded, no manifest yet: found by looking at the bucket after the
// kill; a kill that lands before or after that window is retried with
// another delay). Then `opentrail fsck` finds no problem, the next start
// finishes the publish (ENABLED), and the published copy is whole: every
// file the manifest lists is there with the SHA-256 it records, the
// listed rows are every imported event once, and every data file under
// the prefix is one the manifest lists or one the publisher's checkpoint
// records as to be retired.
func TestCrashDuringFederationPublish(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	logs := t.TempDir()
	const daysN, perDay = 4, 20_000
	for i := range daysN {
		writeDayLogs(t, logs, time.Now().UTC().AddDate(0, 0, -10+i).Format(time.DateOnly), 2, perDay/2)
	}
	out := string(runOK(t, nil, opentrailBin, "import", "--data-dir", dir, "--event-data-store", "federated", "--account", trailAccount, logs))
	m := regexp.MustCompile(`Imported (\d+) events .*\(([0-9a-f-]{36})\)`).FindStringSubmatch(out)
	if m == nil || m[1] != fmt.Sprint(daysN*perDay) {
		t.Fatalf("import:\n%s", out)
	}
	id := m[2]
	addr := freeAddr(t)
	client := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		HTTPClient:  sdktest.HTTPClient(http.DefaultTransport)})
	ctx := context.Background()
	role := aws.String("arn:aws:iam::" + trailAccount + ":role/LakeFederation")
	copyDir := filepath.Join(dir, "buckets", "opentrail-federation", "cloudtrail-lake", trailAccount, id)
	dataFiles := func() []string {
		var out []string
		_ = filepath.WalkDir(filepath.Join(copyDir, "data"), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(filepath.Join(copyDir, "data"), p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		return out
	}
	status := func() types.FederationStatus {
		g, err := client.GetEventDataStore(ctx, &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return g.FederationStatus
	}
	waitStatus := func(want types.FederationStatus) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); status() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("FederationStatus %s after 60s, want %s", status(), want)
			}
		}
	}

	delay := 5 * time.Millisecond
	for try := 0; ; try++ {
		if try == 12 {
			t.Fatal("12 kills, none landed while the first snapshot was uploaded")
		}
		srv := startServer(t, dir, addr, "--account-id", trailAccount)
		switch status() {
		case types.FederationStatusEnabled, types.FederationStatusEnabling:
			// The last kill came too late, or too early: start over.
			if _, err := client.DisableFederation(ctx, &cloudtrail.DisableFederationInput{EventDataStore: aws.String(id)}); err != nil {
				t.Fatal(err)
			}
			waitStatus(types.FederationStatusDisabled)
		}
		if _, err := client.EnableFederation(ctx, &cloudtrail.EnableFederationInput{EventDataStore: aws.String(id), FederationRoleArn: role}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		srv.kill()
		_, manifestErr := os.Stat(filepath.Join(copyDir, "_manifest.json"))
		files := dataFiles()
		switch {
		case len(files) > 0 && manifestErr != nil:
			t.Logf("kill %d, %v after enable-federation: %d files uploaded, no manifest", try, delay, len(files))
		case manifestErr == nil:
			t.Logf("kill %d, %v after enable-federation: after the publish; trying sooner", try, delay)
			delay /= 2
			continue
		default:
			t.Logf("kill %d, %v after enable-federation: before any upload; trying later", try, delay)
			delay += 5 * time.Millisecond
			continue
		}
		break
	}
	runOK(t, nil, opentrailBin, "fsck", "--data-dir", dir)

	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	waitStatus(types.FederationStatusEnabled)
	srv.stop(t)

	var man struct {
		Files []struct {
			Key, SHA256 string
			Rows, Bytes int64
		}
	}
	b, err := os.ReadFile(filepath.Join(copyDir, "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	var rows int64
	var listed []string
	for _, f := range man.Files {
		rel := f.Key[strings.Index(f.Key, "/data/")+len("/data/"):]
		listed = append(listed, rel)
		body, err := os.ReadFile(filepath.Join(copyDir, "data", filepath.FromSlash(rel)))
		if err != nil {
			t.Fatalf("the manifest lists %s: %v", f.Key, err)
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(body)) != f.Bytes {
			t.Fatalf("%s: %d bytes of another SHA-256 than the manifest's (%d bytes)", f.Key, len(body), f.Bytes)
		}
		rows += f.Rows
	}
	if rows != daysN*perDay {
		t.Fatalf("the published snapshot lists %d events, want %d", rows, daysN*perDay)
	}
	var ck struct {
		Stores map[string]struct {
			Listed   []string
			Unlisted map[string]time.Time
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "lake", "federation.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ck); err != nil {
		t.Fatal(err)
	}
	e := ck.Stores[id]
	slices.Sort(listed)
	if got := slices.Sorted(slices.Values(e.Listed)); !slices.Equal(got, listed) {
		t.Fatalf("the checkpoint lists %v, the manifest %v", got, listed)
	}
	for _, f := range dataFiles() {
		if _, retiring := e.Unlisted[f]; !slices.Contains(listed, f) && !retiring {
			t.Errorf("%s is under the prefix but neither listed nor to be retired: it would stay for ever", f)
		}
	}
}
