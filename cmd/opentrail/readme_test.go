package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	// The README's snippet uses it; importing it here keeps it in go.mod.
	_ "github.com/aws/aws-sdk-go-v2/config"

	"github.com/opentrail/opentrail/internal/testenv"
)

// readmeBlock returns the one fenced block of README.md in lang that holds
// marker.
func readmeBlock(t *testing.T, lang, marker string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, m := range regexp.MustCompile("(?s)```"+regexp.QuoteMeta(lang)+"\n(.*?)```").FindAllSubmatch(readme, -1) {
		if strings.Contains(string(m[1]), marker) {
			found = append(found, string(m[1]))
		}
	}
	if len(found) != 1 {
		t.Fatalf("README.md has %d ```%s blocks holding %q, want 1", len(found), lang, marker)
	}
	return found[0]
}

// readmeServerURL is the address README snippets use, the default one.
const readmeServerURL = "http://127.0.0.1:4750"

// atServer points a snippet at the test's server.
func atServer(t *testing.T, snippet, addr string) string {
	t.Helper()
	if !strings.Contains(snippet, readmeServerURL) {
		t.Fatalf("snippet does not name %s:\n%s", readmeServerURL, snippet)
	}
	return strings.ReplaceAll(snippet, readmeServerURL, "http://"+addr)
}

// readmeServer starts a server on DIR/opentrail-data, as `serve` run in DIR
// would, and returns DIR and the server.
func readmeServer(t *testing.T, extra ...string) (string, *server) {
	t.Helper()
	work := t.TempDir()
	return work, startServer(t, filepath.Join(work, "opentrail-data"), freeAddr(t), extra...)
}

// TestREADMEGoSnippetCompiles type-checks the Go snippet in README.md, so
// the example users copy stays correct.
func TestREADMEGoSnippetCompiles(t *testing.T) {
	snippet := readmeBlock(t, "go", "cloudtrail.NewFromConfig")
	src := `package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

func main() {
	ctx := context.Background()
` + indent(snippet) + `
	_, _ = out, err
}
`
	// Inside the module, so the module's dependencies resolve.
	dir, err := os.MkdirTemp(".", "readme-snippet-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "vet", "./"+filepath.Base(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("README Go snippet does not compile:\n%s\n%s", out, src)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("\t" + l + "\n")
	}
	return b.String()
}

// The README's boto3 snippet works as pasted in a fresh shell (no AWS
// variables, no ~/.aws), run from the directory holding opentrail-data:
// its second run sees the first's LookupEvents call, so it reached
// OpenTrail with the server's key.
func TestREADMEBoto3Snippet(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	work, srv := readmeServer(t)
	defer srv.kill()
	snippet := atServer(t, readmeBlock(t, "python", "boto3"), srv.addr)
	env := freshShellEnv(t)
	var out []byte
	for range 2 {
		cmd := exec.Command("python3", "-c", snippet)
		cmd.Dir, cmd.Env = work, env
		var err error
		if out, err = cmd.CombinedOutput(); err != nil {
			t.Fatalf("README boto3 snippet: %v\n%s\n%s", err, out, snippet)
		}
	}
	if !strings.HasPrefix(string(out), "[{") || !strings.Contains(string(out), "'EventName': 'LookupEvents'") {
		t.Errorf("README boto3 snippet printed:\n%s", out)
	}
}

// The README's shell snippets work as pasted, in bash in a fresh shell,
// with the real aws CLI: pointing the CLI at OpenTrail, and the trail
// walk-through down to validate-logs, both opentrail's (--endpoint-url) and
// the aws CLI's (the endpoint variables). The walk-through's "... calls ..."
// becomes a call and a wait for delivery and digests, at a 200ms delivery
// interval and a 1s digest window.
func TestREADMEShellSnippets(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	work, srv := readmeServer(t, "--delivery-interval", "200ms", "--digest-interval", "1s")
	defer srv.kill()
	env := freshShellEnv(t)
	bash := func(t *testing.T, script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README snippet: %v\n%s\n--- script:\n%s", err, out, script)
		}
		return string(out)
	}

	t.Run("clients", func(t *testing.T) {
		out := bash(t, atServer(t, readmeBlock(t, "sh", "cloudtrail lookup-events --lookup-attributes"), srv.addr))
		if !strings.Contains(out, `"Events": [`) {
			t.Errorf("lookup-events printed:\n%s", out)
		}
	})

	t.Run("sns", func(t *testing.T) {
		out := bash(t, atServer(t, readmeBlock(t, "sh", "sns create-topic"), srv.addr))
		for _, want := range []string{`"SubscriptionArn": "PendingConfirmation"`, `"Endpoint": "https://hooks.example.com/sns"`, ":alerts"} {
			if !strings.Contains(out, want) {
				t.Errorf("the SNS snippet printed no %s:\n%s", want, out)
			}
		}
	})

	t.Run("lake", func(t *testing.T) {
		// The dashboards' and the event configuration's snippets go on
		// from the Lake's (OT, EDS).
		script := readmeBlock(t, "sh", "cloudtrail start-query") + readmeBlock(t, "sh", "start-dashboard-refresh") + readmeBlock(t, "sh", "put-event-configuration")
		out := bash(t, atServer(t, script, srv.addr))
		for _, want := range []string{`"QueryStatus": "FINISHED"`, `"eventName": "DescribeTrails"`, `"eventName": "CreateEventDataStore"`, `"calls": "1"`,
			`"MaxEventSize": "Large"`, `"aws:PrincipalTag/team"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the Lake snippet printed no %s:\n%s", want, out)
			}
		}
		if !regexp.MustCompile(`(?s)"calls": "1".*"QueryStatus": "FINISHED".*"n": "\d+"`).MatchString(out) {
			t.Errorf("the dashboard snippet printed no widget rows:\n%s", out)
		}
	})

	t.Run("channels", func(t *testing.T) {
		out := bash(t, atServer(t, readmeBlock(t, "sh", "put-audit-events"), srv.addr))
		for _, w := range []string{`"successful": [`, `"id": "1"`, `"eventID"`, `"failed": []`, `"LatestIngestionSuccessEventID"`} {
			if !strings.Contains(out, w) {
				t.Errorf("the channels snippet printed no %s:\n%s", w, out)
			}
		}
	})

	t.Run("trails", func(t *testing.T) {
		script := readmeBlock(t, "sh", "create-trail") + readmeBlock(t, "sh", "aws cloudtrail validate-logs")
		calls := regexp.MustCompile(`(?m)^# \.\.\. calls \.\.\..*$`)
		if !calls.MatchString(script) {
			t.Fatalf("no \"# ... calls ...\" line in the trail snippet:\n%s", script)
		}
		script = calls.ReplaceAllLiteralString(script, "aws --endpoint-url $OT cloudtrail lookup-events --max-results 1 >/dev/null; sleep 3")
		const goRun = "go run ./cmd/opentrail "
		if !strings.Contains(script, goRun) {
			t.Fatalf("the trail snippet does not run %q:\n%s", goRun, script)
		}
		script = strings.ReplaceAll(atServer(t, script, srv.addr), goRun, opentrailBin+" ")
		out := bash(t, script)
		t.Logf("the trail snippet printed:\n%s", out)
		for _, want := range []string{".json.gz", "digest files valid", "log files valid"} {
			if !strings.Contains(out, want) {
				t.Errorf("the trail snippet printed no %q:\n%s", want, out)
			}
		}
		if n := strings.Count(out, "digest files valid"); n != 2 || strings.Contains(out, "INVALID") {
			t.Errorf("want two clean validate-logs reports, got %d:\n%s", n, out)
		}
	})
}
