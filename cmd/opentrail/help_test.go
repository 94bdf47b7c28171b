package main

import (
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// runSplit runs the binary and returns its stdout, stderr and exit code.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(opentrailBin, args...)
	cmd.Dir = t.TempDir() // nothing a command might create lands in the package
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// Every command answers -h, --help and "help NAME" with its usage on
// stdout and exit status 0, and its flag list states each default at most
// once, under a type name that says what to give.
func TestEveryCommandHelp(t *testing.T) {
	meaningless := regexp.MustCompile(`(?m)^  -\S+ value$`)
	for _, c := range commands(io.Discard, io.Discard) {
		name := c.Name()
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				stdout, stderr, code := runSplit(t, args...)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
				}
				if !strings.HasPrefix(stdout, "Usage: opentrail "+name) {
					t.Fatalf("stdout does not start with the usage:\n%s", stdout)
				}
				for _, line := range strings.Split(stdout, "\n") {
					if strings.Count(line, "(default") > 1 {
						t.Errorf("a default stated twice: %q", line)
					}
				}
				if m := meaningless.FindString(stdout); m != "" {
					t.Errorf("flag without a type name (backquote one in its usage): %q", m)
				}
			})
		}
	}
}

// Commands that take only flags refuse a stray argument with a usage error
// (exit 2) before doing anything.
func TestCommandsRefuseArguments(t *testing.T) {
	for _, c := range commands(io.Discard, io.Discard) {
		if c.Name() == "import" || c.Name() == "insights" {
			continue // take paths: import.txtar, TestInsightsReplayCommand
		}
		t.Run(c.Name(), func(t *testing.T) {
			stdout, stderr, code := runSplit(t, c.Name(), "stray")
			if code != 2 || stdout != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, stdout)
			}
			want := `opentrail: unexpected argument "stray" (opentrail ` + c.Name() + ` takes no arguments, only flags)` + "\nRun 'opentrail " + c.Name() + " -h' for usage.\n"
			if stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
			}
		})
	}
}
