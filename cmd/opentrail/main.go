// Command opentrail is a self-hosted AWS CloudTrail: it records events,
// answers LookupEvents for the aws CLI and every AWS SDK, delivers trails'
// log and digest files, validates them, and imports CloudTrail log files.
//
// Usage:
//
//	opentrail serve    [--data-dir DIR] [--listen ADDR] [--metrics-listen ADDR] ...
//	opentrail import   [--data-dir DIR] PATH...
//	opentrail fsck     [--data-dir DIR]
//	opentrail validate-logs --trail-arn ARN --start-time T [--end-time T] ...
//	opentrail insights [--warm-up D] [--json] PATH...
//	opentrail cis-pack --trail NAME [--endpoint-url URL] [--subscribe URL] ...
//	opentrail version
//	opentrail help [COMMAND]
//
// Every command prints its usage on stdout for -h or --help and exits 0;
// a usage mistake exits 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand.
type command interface {
	Name() string
	Summary() string
	Run(ctx context.Context, args []string) error
}

// errReported is wrapped by errors a command has already reported in its
// own output; main exits 1 without printing them again.
var errReported = errors.New("reported")

// usageError is a mistake in how the command was called; main prints it
// with the subcommand's usage and exits 2.
type usageError struct {
	cmd string
	msg string
}

func (e *usageError) Error() string {
	return fmt.Sprintf("%s\nRun 'opentrail %s -h' for usage.", e.msg, e.cmd)
}

func commands(stdout, stderr io.Writer) []command {
	return []command{
		&serveCmd{stdout: stdout, stderr: stderr},
		&importCmd{stdout: stdout, stderr: stderr},
		&fsckCmd{stdout: stdout, stderr: stderr},
		&validateCmd{stdout: stdout, stderr: stderr},
		&insightsCmd{stdout: stdout, stderr: stderr},
		&cisCmd{stdout: stdout, stderr: stderr},
		&versionCmd{stdout: stdout},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands(stdout, stderr)
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "OpenTrail: a self-hosted AWS CloudTrail.\n\nUsage: opentrail <command> [flags]\n\nCommands:")
		for _, c := range cmds {
			fmt.Fprintf(w, "  %-14s %s\n", c.Name(), c.Summary())
		}
		fmt.Fprintln(w, "\nRun 'opentrail <command> -h' or 'opentrail help <command>' for a command's flags.")
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		switch len(args) {
		case 1:
			usage(stdout)
			return 0
		case 2: // "help serve" is "serve -h"
			args = []string{args[1], "-h"}
		default:
			fmt.Fprintf(stderr, "opentrail: %s takes at most one command name, got %q\n", args[0], args[1:])
			return 2
		}
	}
	for _, c := range cmds {
		if c.Name() != args[0] {
			continue
		}
		err := c.Run(ctx, args[1:])
		var ue *usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintln(stderr, "opentrail:", err)
			return 2
		case errors.Is(err, errReported):
			return 1 // the command has said what went wrong
		default:
			fmt.Fprintln(stderr, "opentrail:", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "opentrail: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// newLogger returns the process logger.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
