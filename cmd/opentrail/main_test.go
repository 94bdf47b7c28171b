package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// opentrailBin is the binary built once for the tests that run it as a
// separate process.
var opentrailBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opentrail-bin-")
	if err != nil {
		panic(err)
	}
	opentrailBin = filepath.Join(dir, "opentrail")
	out, err := exec.Command("go", "build", "-o", opentrailBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
