package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// freshShellEnv is the environment of a new user's fresh shell: no AWS
// settings at all, and a HOME without ~/.aws.
func freshShellEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir())
}

// shell runs a command line as a user would paste it.
func shell(t *testing.T, env []string, line string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return string(out)
}

// lastLineWith returns the last line of text holding s, trimmed.
func lastLineWith(t *testing.T, text, s string) string {
	t.Helper()
	found := ""
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			found = strings.TrimSpace(line)
		}
	}
	if found == "" {
		t.Fatalf("no line with %q in:\n%s", s, text)
	}
	return found
}

// lookupAccounts returns the recipient accounts of the events in the aws
// CLI's lookup-events output.
func lookupAccounts(t *testing.T, out string) map[string]int {
	t.Helper()
	var resp struct {
		Events []struct{ CloudTrailEvent string }
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	accounts := map[string]int{}
	for _, e := range resp.Events {
		var rec struct{ RecipientAccountID string }
		if err := json.Unmarshal([]byte(e.CloudTrailEvent), &rec); err != nil {
			t.Fatal(err)
		}
		accounts[rec.RecipientAccountID]++
	}
	return accounts
}

// The commands that import and serve print for a new user work as printed,
// in a fresh shell, with the real aws CLI: import's names the endpoint
// (with the server's default address, here replaced by the test server's),
// and serve's names the profile of the account it created, also when the
// data directory already had another account (whose key is in profile
// default).
func TestHintsWorkAsPrinted(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	work := t.TempDir()
	dir := filepath.Join(work, "data")
	logs := filepath.Join(work, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	const imported, created = "210987654321", "123456789012"
	log := `{"Records":[{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:01Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"hint-1","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"` + imported + `"}]}`
	if err := os.WriteFile(filepath.Join(logs, imported+"_CloudTrail_us-east-1_20240101T0000Z_a.json"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	summary := string(runOK(t, nil, opentrailBin, "import", "--data-dir", dir, "--event-history-retention", "0", logs))
	importHint := lastLineWith(t, summary, "cloudtrail lookup-events")

	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", created)
	defer srv.kill()
	hints := strings.Join(srv.hints, "\n")
	if want := "Created account " + created + "; its access key is in " + filepath.Join(dir, "credentials") + " (profile " + created + ")."; !strings.Contains(hints, want) {
		t.Errorf("serve's hints lack %q:\n%s", want, hints)
	}
	env := freshShellEnv(t)

	const defaultURL = "http://127.0.0.1:4750"
	if strings.Count(importHint, defaultURL) != 1 {
		t.Fatalf("import's hint does not name the default address %s once: %s", defaultURL, importHint)
	}
	got := lookupAccounts(t, shell(t, env, strings.Replace(importHint, defaultURL, "http://"+addr, 1)))
	if got[imported] == 0 {
		t.Errorf("import's hint found no event of account %s: %v\n%s", imported, got, importHint)
	}

	serveHint := srv.hints[len(srv.hints)-1]
	shell(t, env, serveHint) // recorded as the created account's LookupEvents call
	got = lookupAccounts(t, shell(t, env, serveHint))
	if got[created] == 0 || len(got) != 1 {
		t.Errorf("serve's hint (%s) saw the events of accounts %v, want %s's only", serveHint, got, created)
	}
}
