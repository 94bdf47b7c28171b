package main

import (
	"os"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// benchBin is the harness built once for the tests that run it as a
// separate process (it runs its phases as children of itself).
var benchBin string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinary(m, "opentrail-bench", &benchBin)) }
