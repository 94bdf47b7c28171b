package main

import (
	"os"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// opentrailBin is the binary built once for the tests that run it as a
// separate process.
var opentrailBin string

func TestMain(m *testing.M) { os.Exit(testenv.RunWithBinary(m, "opentrail", &opentrailBin)) }
