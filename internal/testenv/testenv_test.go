package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	ended string // "skip", "fatal" or "" when the helper returned
	msg   string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.ended, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.ended, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.ended, r.msg = "fatal", fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn with a recorder on a goroutine of its own, so that the
// recorder's Goexit ends only fn.
func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestMissingTool(t *testing.T) {
	tests := []struct {
		name      string
		ci        string
		tool      Tool
		wantEnd   string
		wantStart string
	}{
		{name: "skip outside CI", ci: "", tool: AWSCLI, wantEnd: "skip", wantStart: "optional tool missing: aws: not on PATH"},
		{name: "skip when CI is not true", ci: "1", tool: Versitygw, wantEnd: "skip", wantStart: "optional tool missing: versitygw: not on PATH"},
		{name: "fail in CI", ci: "true", tool: Boto3, wantEnd: "fatal", wantStart: "boto3 is required in CI (CI=true): not on PATH"},
		{name: "unknown tool", ci: "", tool: "docker", wantEnd: "fatal", wantStart: `testenv: "docker" is not an optional tool`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := run(t, func(tb testing.TB) { MissingTool(tb, tt.tool, "not on PATH") })
			if r.ended != tt.wantEnd || !strings.HasPrefix(r.msg, tt.wantStart) {
				t.Errorf("MissingTool ended with %s %q, want %s %q...", r.ended, r.msg, tt.wantEnd, tt.wantStart)
			}
		})
	}
}

func TestNeedCommand(t *testing.T) {
	t.Setenv("CI", "")
	if r := run(t, func(tb testing.TB) { NeedCommand(tb, AWSCLI, os.Args[0], "-test.run=^$") }); r.ended != "" {
		t.Errorf("NeedCommand with a working command ended the test: %s %q", r.ended, r.msg)
	}
	missing := filepath.Join(t.TempDir(), "no-such-program")
	r := run(t, func(tb testing.TB) { NeedCommand(tb, AWSCLI, missing, "--version") })
	if want := MissingToolPrefix + "aws: " + missing + " --version: "; r.ended != "skip" || !strings.HasPrefix(r.msg, want) {
		t.Errorf("NeedCommand with a missing program ended with %s %q, want skip %q...", r.ended, r.msg, want)
	}
}

func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	got, err := RepoRoot()
	if err != nil || got != root {
		t.Errorf("RepoRoot() = %q, %v; want %q", got, err, root)
	}
	r := run(t, func(tb testing.TB) { CloudTrailData(tb) })
	if r.ended != "fatal" || !strings.HasPrefix(r.msg, "test data missing: ") {
		t.Errorf("CloudTrailData without testdata ended with %s %q, want a failure", r.ended, r.msg)
	}
}

func TestCloudTrailData(t *testing.T) {
	dir := CloudTrailData(t)
	for _, name := range []string{"README.md", "invictus-ir-aws-dataset/LICENSE", "traildiscover/LICENSE", "otrf-security-datasets/LICENSE"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("CloudTrailData() = %s: %v", dir, err)
		}
	}
}
