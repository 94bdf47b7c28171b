package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ev is one go test -json event line.
func ev(action, pkg, test, output string) string {
	b, err := json.Marshal(event{Action: action, Package: pkg, Test: test, Output: output})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// testRun is the events of one test that ends with action (pass, fail or
// skip), logging lines.
func testRun(pkg, test, action string, lines ...string) string {
	s := ev("run", pkg, test, "") + ev("output", pkg, test, "=== RUN   "+test+"\n")
	for _, l := range lines {
		s += ev("output", pkg, test, l)
	}
	return s + ev("output", pkg, test, "--- "+strings.ToUpper(action)+": "+test+" (0.00s)\n") + ev(action, pkg, test, "")
}

// pkgEnd is the events that end a package: its lines and its result.
func pkgEnd(pkg, action string, lines ...string) string {
	var s string
	for _, l := range lines {
		s += ev("output", pkg, "", l)
	}
	return s + ev(action, pkg, "", "")
}

// verdicts summarizes a result's skips for comparison.
func verdicts(r *result) []string {
	var out []string
	for _, s := range r.skips {
		v := "refused"
		if s.accepted {
			v = "accepted"
		}
		out = append(out, s.test+" "+v+": "+s.reason)
	}
	return out
}

func TestCheck(t *testing.T) {
	const p = "example.com/p"
	okEnd := pkgEnd(p, "pass", "PASS\n", "ok  \texample.com/p\t0.01s\n")
	tests := []struct {
		name         string
		opt          options
		in           string
		wantOK       bool
		wantOut      string
		wantSkips    []string
		wantFailures []string
	}{
		{
			name:    "passing tests print only the package line",
			in:      ev("start", p, "", "") + testRun(p, "TestA", "pass", "    a_test.go:3: a log line\n", "printed\n") + okEnd,
			wantOK:  true,
			wantOut: "ok  \texample.com/p\t0.01s\n",
		},
		{
			name:      "skip for a reason other than a tool is refused",
			in:        ev("start", p, "", "") + testRun(p, "TestData", "skip", "    a_test.go:9: shared testdata not found\n") + okEnd,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestData refused: shared testdata not found"},
		},
		{
			name:      "skip without a message is refused",
			in:        testRun(p, "TestNothing", "skip") + okEnd,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestNothing refused: (the test logged no reason)"},
		},
		{
			name:      "skip naming a missing optional tool is accepted",
			in:        testRun(p, "TestCLI", "skip", "    a_test.go:9: optional tool missing: aws: exec: \"aws\": not found\n", "    a_test.go:12: a cleanup log line\n") + okEnd,
			wantOK:    true,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{`TestCLI accepted: optional tool missing: aws: exec: "aws": not found`},
		},
		{
			name:      "tool skip in a subtest",
			in:        ev("run", p, "TestS3", "") + testRun(p, "TestS3/versitygw", "skip", "    s3_test.go:9: optional tool missing: versitygw: binary not found\n") + testRun(p, "TestS3", "pass") + okEnd,
			wantOK:    true,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestS3/versitygw accepted: optional tool missing: versitygw: binary not found"},
		},
		{
			name:      "tool skip in CI is refused",
			opt:       options{ci: true},
			in:        testRun(p, "TestCLI", "skip", "    a_test.go:9: optional tool missing: boto3: no module\n") + okEnd,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestCLI refused: optional tool missing: boto3: no module"},
		},
		{
			name:      "skip naming a tool not on the list is refused",
			in:        testRun(p, "TestDocker", "skip", "    a_test.go:9: optional tool missing: docker: not found\n") + okEnd,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestDocker refused: optional tool missing: docker: not found"},
		},
		{
			name:      "short skip in a -short run is accepted",
			opt:       options{short: true},
			in:        testRun(p, "TestCrash", "skip", "    crash_test.go:9: short mode: crash test\n") + okEnd,
			wantOK:    true,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestCrash accepted: short mode: crash test"},
		},
		{
			name:      "short skip in a run without -short is refused",
			in:        testRun(p, "TestCrash", "skip", "    crash_test.go:9: short mode: crash test\n") + okEnd,
			wantOut:   "ok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestCrash refused: short mode: crash test"},
		},
		{
			name: "a failing test prints its output, subtest first",
			in: ev("start", p, "", "") + testRun(p, "TestOK", "pass", "    a_test.go:2: quiet\n") +
				ev("run", p, "TestF", "") + ev("output", p, "TestF", "=== RUN   TestF\n") + ev("output", p, "TestF", "    a_test.go:7: before\n") +
				testRun(p, "TestF/sub", "fail", "    a_test.go:9: bad thing\n", "        second line\n") +
				ev("output", p, "TestF", "--- FAIL: TestF (0.00s)\n") + ev("fail", p, "TestF", "") +
				pkgEnd(p, "fail", "FAIL\n", "FAIL\texample.com/p\t0.01s\n"),
			wantOut: "    a_test.go:9: bad thing\n        second line\n--- FAIL: TestF/sub (0.00s)\n" +
				"    a_test.go:7: before\n--- FAIL: TestF (0.00s)\nFAIL\nFAIL\texample.com/p\t0.01s\n",
			wantFailures: []string{"test example.com/p TestF/sub", "test example.com/p TestF", "package example.com/p"},
		},
		{
			name: "a test that never ended is printed before the package's verdict",
			in: testRun(p, "TestA", "pass") + ev("run", p, "TestExit", "") + ev("output", p, "TestExit", "=== RUN   TestExit\n") +
				ev("output", p, "TestExit", "    a_test.go:4: about to exit\n") + pkgEnd(p, "fail", "FAIL\texample.com/p\t0.01s\n"),
			wantOut:      "    a_test.go:4: about to exit\nFAIL\texample.com/p\t0.01s\n",
			wantFailures: []string{"package example.com/p"},
		},
		{
			name: "a build failure prints the compiler's output",
			in: `{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-output","Output":"# example.com/c\n"}` + "\n" +
				`{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-output","Output":"c_test.go:3:33: undefined: x\n"}` + "\n" +
				`{"ImportPath":"example.com/c [example.com/c.test]","Action":"build-fail"}` + "\n" +
				ev("start", "example.com/c", "", "") + pkgEnd("example.com/c", "fail", "FAIL\texample.com/c [build failed]\n"),
			wantOut:      "# example.com/c\nc_test.go:3:33: undefined: x\nFAIL\texample.com/c [build failed]\n",
			wantFailures: []string{"build example.com/c [example.com/c.test]", "package example.com/c"},
		},
		{
			name:    "lines that are not events are printed as they are",
			in:      "go: warning: something\n" + testRun(p, "TestA", "pass") + okEnd,
			wantOK:  true,
			wantOut: "go: warning: something\nok  \texample.com/p\t0.01s\n",
		},
		{
			name:    "packages without tests",
			in:      ev("start", "example.com/none", "", "") + pkgEnd("example.com/none", "skip", "?   \texample.com/none\t[no test files]\n"),
			wantOK:  true,
			wantOut: "?   \texample.com/none\t[no test files]\n",
		},
		{
			name:   "-v prints every line",
			opt:    options{verbose: true},
			in:     testRun(p, "TestA", "pass", "    a_test.go:3: a log line\n") + testRun(p, "TestB", "skip", "    b_test.go:3: optional tool missing: aws: gone\n") + okEnd,
			wantOK: true,
			wantOut: "=== RUN   TestA\n    a_test.go:3: a log line\n--- PASS: TestA (0.00s)\n" +
				"=== RUN   TestB\n    b_test.go:3: optional tool missing: aws: gone\n--- SKIP: TestB (0.00s)\nPASS\nok  \texample.com/p\t0.01s\n",
			wantSkips: []string{"TestB accepted: optional tool missing: aws: gone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			res, err := check(strings.NewReader(tt.in), &out, tt.opt)
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if diff := cmp.Diff(tt.wantOut, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkips, verdicts(res)); diff != "" {
				t.Errorf("skips (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailures, res.failures); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
			if res.ok() != tt.wantOK {
				t.Errorf("ok() = %v, want %v", res.ok(), tt.wantOK)
			}
		})
	}
}

// TestCheckTruncated: events that end before a package's result fail the
// run and still print what the package wrote.
func TestCheckTruncated(t *testing.T) {
	const p = "example.com/p"
	in := ev("start", p, "", "") + testRun(p, "TestA", "pass") + ev("run", p, "TestHang", "") +
		ev("output", p, "TestHang", "=== RUN   TestHang\n") + ev("output", p, "TestHang", "    a_test.go:5: waiting\n")
	var out bytes.Buffer
	res, err := check(strings.NewReader(in), &out, options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ok() || !cmp.Equal(res.unfinished, []string{p}) {
		t.Errorf("ok() = %v, unfinished = %v; want a failure naming %s", res.ok(), res.unfinished, p)
	}
	if got, want := out.String(), "    a_test.go:5: waiting\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

func TestSummary(t *testing.T) {
	res := &result{
		skips: []skip{
			{pkg: "example.com/p", test: "TestCLI", reason: "optional tool missing: aws: gone", accepted: true},
			{pkg: "example.com/p", test: "TestData", reason: "no data", refusal: "not a tool"},
		},
		failures: []string{"test example.com/p TestF"},
	}
	var out bytes.Buffer
	res.summarize(&out)
	want := "== skipcheck\n2 skipped tests:\n" +
		"  accepted  example.com/p TestCLI: optional tool missing: aws: gone\n" +
		"  REFUSED   example.com/p TestData: no data\n            refused: not a tool\n" +
		"FAILED test example.com/p TestF\n" +
		"skipcheck: FAIL (1 failed, 1 skips refused, 0 packages unfinished)\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	out.Reset()
	(&result{}).summarize(&out)
	if want := "== skipcheck\nno test skipped\nskipcheck: ok\n"; out.String() != want {
		t.Errorf("summary of a clean run = %q, want %q", out.String(), want)
	}
}

// demo is a module whose tests pass, fail and skip, for TestGoTestJSON.
var demo = map[string]string{
	"go.mod": "module example.com/demo\n\ngo 1.22\n",
	"clean/pass/pass_test.go": `package pass

import "testing"

func TestPass(t *testing.T) { t.Log("quiet") }
`,
	"clean/tool/tool_test.go": `package tool

import "testing"

func TestTool(t *testing.T) {
	t.Cleanup(func() { t.Log("cleaned up") })
	t.Skip("optional tool missing: aws: not on PATH")
}
`,
	"mixed/mixed_test.go": `package mixed

import "testing"

func TestOK(t *testing.T) {}

func TestFail(t *testing.T) {
	t.Run("sub", func(t *testing.T) { t.Error("bad thing") })
}

func TestNoData(t *testing.T) { t.Skip("shared testdata not found") }
`,
}

// goTestJSON runs go test -json on the demo module's packages and returns
// its events and whether go test succeeded.
func goTestJSON(t *testing.T, dir string, pkgs ...string) ([]byte, bool) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is needed to run go test: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), gobin, append([]string{"test", "-json", "-count=1"}, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("go test: %v: %s", err, stderr.Bytes())
	}
	return out, err == nil
}

// TestGoTestJSON checks skipcheck against the events of a real go test run.
func TestGoTestJSON(t *testing.T) {
	dir := t.TempDir()
	for name, content := range demo {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("passing and tool-skipped tests pass", func(t *testing.T) {
		events, goOK := goTestJSON(t, dir, "./clean/...")
		var out bytes.Buffer
		res, err := check(bytes.NewReader(events), &out, options{})
		if err != nil {
			t.Fatal(err)
		}
		if !goOK || !res.ok() {
			t.Errorf("go test ok = %v, skipcheck ok = %v; want both\n%s", goOK, res.ok(), out.String())
		}
		if diff := cmp.Diff([]string{"TestTool accepted: optional tool missing: aws: not on PATH"}, verdicts(res)); diff != "" {
			t.Errorf("skips (-want +got):\n%s", diff)
		}
		for _, want := range []string{"ok  \texample.com/demo/clean/pass\t", "ok  \texample.com/demo/clean/tool\t"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
		// In CI the same skip is refused.
		if res, _ := check(bytes.NewReader(events), &bytes.Buffer{}, options{ci: true}); res.ok() {
			t.Error("a tool skip passed in CI")
		}
	})

	t.Run("failures and other skips fail", func(t *testing.T) {
		events, goOK := goTestJSON(t, dir, "./...")
		var out bytes.Buffer
		res, err := check(bytes.NewReader(events), &out, options{})
		if err != nil {
			t.Fatal(err)
		}
		if goOK || res.ok() {
			t.Errorf("go test ok = %v, skipcheck ok = %v; want neither", goOK, res.ok())
		}
		want := []string{"TestTool accepted: optional tool missing: aws: not on PATH", "TestNoData refused: shared testdata not found"}
		if diff := cmp.Diff(want, verdicts(res), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("skips (-want +got):\n%s", diff)
		}
		wantFailures := []string{"test example.com/demo/mixed TestFail/sub", "test example.com/demo/mixed TestFail", "package example.com/demo/mixed"}
		if diff := cmp.Diff(wantFailures, res.failures); diff != "" {
			t.Errorf("failures (-want +got):\n%s", diff)
		}
		for _, want := range []string{"mixed_test.go:8: bad thing\n--- FAIL: TestFail/sub (", "--- FAIL: TestFail (", "FAIL\texample.com/demo/mixed\t"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
		if strings.Contains(out.String(), "=== RUN") || strings.Contains(out.String(), "quiet") {
			t.Errorf("output has the lines of passing tests or -v framing:\n%s", out.String())
		}

		// With -v, each package's output is exactly what go test wrote.
		var verbose bytes.Buffer
		if _, err := check(bytes.NewReader(events), &verbose, options{verbose: true}); err != nil {
			t.Fatal(err)
		}
		perPkg := map[string]string{}
		for line := range bytes.Lines(events) {
			var e event
			if json.Unmarshal(line, &e) == nil && e.Package != "" {
				perPkg[e.Package] += e.Output
			}
		}
		for pkg, text := range perPkg {
			if !strings.Contains(verbose.String(), text) {
				t.Errorf("-v output lacks the output of %s:\n%s\n-v output:\n%s", pkg, text, verbose.String())
			}
		}
	})
}
