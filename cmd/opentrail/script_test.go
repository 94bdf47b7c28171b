package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs the command-line scripts in testdata/script against the
// built binary, which they call as $OPENTRAIL.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("OPENTRAIL", opentrailBin)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// waitlocked DIR: wait until another, live process holds DIR's
			// lock: its LOCK file names a running process. It does not
			// try the lock itself, which would race with that process
			// taking it.
			"waitlocked": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitlocked DIR")
				}
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					b, _ := os.ReadFile(filepath.Join(ts.MkAbs(args[0]), "LOCK"))
					pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
					if pid > 0 && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				ts.Fatalf("%s was not locked within 30s", args[0])
			},
		},
	})
}
