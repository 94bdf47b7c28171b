// Command opentrail-bench is OpenTrail's benchmark harness, kept out of the
// product binary. It generates CloudTrail events shaped like real ones and
// measures, each beside a baseline from the same run, durable ingest,
// import from .json.gz, LookupEvents latency per attribute, bytes on disk
// per event and peak memory per phase; with --delivery, the time from an
// event's acknowledgement to its log file in a trail's bucket, per bucket
// store; with --lake, CloudTrail Lake: import and ingestion into an event
// data store, bytes per event, and Lake queries through the SDK beside
// DuckDB over the raw logs. It drives OpenTrail's own packages (the
// daemon, the import routines of 'opentrail import', the event store) in
// this process and runs each phase in a child process of itself, so each
// phase's peak memory is its own. BENCHMARKS.md holds the figures and how
// they were taken.
//
// Usage:
//
//	go run ./cmd/opentrail-bench [--events N] [--concurrency N] [--queries N] ...
//	go run ./cmd/opentrail-bench --delivery [--rate N] [--seconds S] [--buckets embedded,versitygw] ...
//	go run ./cmd/opentrail-bench --lake [--events N] [--lake-runs N] [--lake-raw-runs N] ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usageError is a mistake in how the command was called; main prints it
// and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string {
	return e.msg + "\nRun 'opentrail-bench -h' for usage."
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the harness and returns the exit status: 0, 1 on failure, 2
// on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := (&benchCmd{stdout: stdout, stderr: stderr}).Run(ctx, args)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "opentrail-bench:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "opentrail-bench:", err)
		return 1
	}
}

// parseFlags parses args, turning flag errors into usage errors; -h
// prints the usage on stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return flag.ErrHelp
		}
		return &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q: opentrail-bench takes flags only", fs.Arg(0))}
	}
	return nil
}
