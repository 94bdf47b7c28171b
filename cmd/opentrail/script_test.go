package main

import (
	"errors"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/opentrail/opentrail/internal/store/fileutil"
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
			// waitlocked DIR: wait until another process holds DIR's lock.
			"waitlocked": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitlocked DIR")
				}
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					l, err := fileutil.LockDir(ts.MkAbs(args[0]))
					if errors.Is(err, fileutil.ErrLocked) {
						return
					}
					if err == nil {
						l.Unlock()
					}
					time.Sleep(50 * time.Millisecond)
				}
				ts.Fatalf("%s was not locked within 30s", args[0])
			},
		},
	})
}
