package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// benchBin is the harness built once for the tests that run it as a
// separate process (it runs its phases as children of itself).
var benchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opentrail-bench-bin-")
	if err != nil {
		panic(err)
	}
	benchBin = filepath.Join(dir, "opentrail-bench")
	out, err := exec.Command("go", "build", "-o", benchBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
