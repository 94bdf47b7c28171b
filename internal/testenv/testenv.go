// Package testenv tells tests what their environment provides: the
// repository's test data, and the optional tools whose absence is the only
// reason a test may skip.
//
// The rule, which scripts/skipcheck enforces on every run of scripts/test:
// a skipped test fails the run unless it skipped through [MissingTool] (or
// [NeedCommand]), whose message starts with [MissingToolPrefix] and names one
// of [Tools], or through [SkipShort] in a run with -short, whose message
// starts with [ShortPrefix]. In CI (CI=true) every optional tool but those
// of [MayLackInCI] is
// installed, so MissingTool fails the test there instead of skipping it.
// Test data is never optional: [CloudTrailData] fails the test when the
// repository's testdata directory is missing.
package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Tool is an optional tool some tests need: a program or Python package
// that does not come with Go.
type Tool string

// The optional tools. scripts/test requires the first three in CI and
// builds versitygw itself.
const (
	AWSCLI    Tool = "aws"       // the aws CLI (aws-cli 1.45)
	Boto3     Tool = "boto3"     // Python's AWS SDK
	Botocore  Tool = "botocore"  // botocore's service models, installed with the two above
	Versitygw Tool = "versitygw" // the S3-compatible server built by scripts/versitygw
	// Tmpfs is the privilege to mount a small tmpfs (root or
	// CAP_SYS_ADMIN), which the full-disk tests fill up for real.
	Tmpfs Tool = "tmpfs"
)

// Tools lists every optional tool. A skip naming another tool is a failure.
var Tools = []Tool{AWSCLI, Boto3, Botocore, Versitygw, Tmpfs}

// MayLackInCI lists the tools that CI may lack too: privileges rather
// than programs. Their tests skip there rather than fail; the behaviour
// they check is also covered by tests with injected faults.
var MayLackInCI = []Tool{Tmpfs}

// MissingToolPrefix starts the message of every skip for a missing tool; the
// tool's name and a colon follow it.
const MissingToolPrefix = "optional tool missing: "

// ShortPrefix starts the message of every skip made because of -short.
const ShortPrefix = "short mode: "

// InCI reports whether the tests run in CI (CI=true), where every optional
// tool is installed.
func InCI() bool { return os.Getenv("CI") == "true" }

// MissingTool ends the test because tool is not available: it skips with a
// message naming the tool, or fails the test in CI. why says what is missing
// and how to get it.
func MissingTool(tb testing.TB, tool Tool, why string) {
	tb.Helper()
	if !slices.Contains(Tools, tool) {
		tb.Fatalf("testenv: %q is not an optional tool (one of %v); a test may not skip for it", tool, Tools)
	}
	if InCI() && !slices.Contains(MayLackInCI, tool) {
		tb.Fatalf("%s is required in CI (CI=true): %s", tool, why)
	}
	tb.Skipf("%s%s: %s", MissingToolPrefix, tool, why)
}

// NeedCommand runs name with args, a quick check that tool works (such as
// "aws --version"), and calls [MissingTool] when it fails.
func NeedCommand(tb testing.TB, tool Tool, name string, args ...string) {
	tb.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		MissingTool(tb, tool, fmt.Sprintf("%s %s: %v: %s", name, strings.Join(args, " "), err, shorten(out)))
	}
}

// shorten trims a command's output for a message.
func shorten(out []byte) string {
	s := strings.TrimSpace(string(out))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// SkipShort skips the test when it runs with -short; what says what the
// test does that a short run leaves out.
func SkipShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("%s%s", ShortPrefix, what)
	}
}

// RepoRoot returns the repository's root: the nearest directory, from the
// working directory (a package's directory while its tests run) upwards,
// that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repository root: %w", err)
	}
	for {
		_, err := os.Stat(filepath.Join(dir, "go.mod"))
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root: no go.mod in the working directory or above it")
		}
		dir = parent
	}
}

// CloudTrailData returns the directory of the repository's real CloudTrail
// events (testdata/cloudtrail; see testdata/README.md), failing the test
// when it is missing.
func CloudTrailData(tb testing.TB) string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "cloudtrail")
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		tb.Fatalf("test data missing: %v; the repository carries it under testdata/ (git checkout -- testdata)", err)
	}
	return dir
}

// RunWithBinary is a TestMain for the tests of a command: it builds the
// package in the current directory into a temporary file named name, sets
// *bin to its path, runs the tests and removes the file. It returns the
// exit code for os.Exit.
func RunWithBinary(m *testing.M, name string, bin *string) int {
	dir, err := os.MkdirTemp("", name+"-bin-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", *bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	return m.Run()
}
