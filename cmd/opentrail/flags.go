package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/datadir"
)

// optional is a flag whose value is nil until it is set, for settings
// where "not given" must differ from every value (the config file's or the
// data directory's setting applies then). parse checks a value and says
// what is wrong with it; flag adds "invalid value ... for flag -NAME".
//
// Its String is empty while unset, so -h prints no "(default ...)" for it:
// the usage text states the default.
type optional[T any] struct {
	v     *T
	parse func(string) (T, error)
}

func (f *optional[T]) String() string {
	if f == nil || f.v == nil {
		return ""
	}
	return fmt.Sprint(*f.v)
}

func (f *optional[T]) Set(s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	f.v = &v
	return nil
}

// optionalVar defines an optional flag on fs whose values parse checks.
func optionalVar[T any](fs *flag.FlagSet, name, usage string, parse func(string) (T, error)) *optional[T] {
	f := &optional[T]{parse: parse}
	fs.Var(f, name, usage)
	return f
}

// parseString takes any string.
func parseString(s string) (string, error) { return s, nil }

// parseDays takes --event-history-retention: 0..datadir.MaxRetentionDays.
func parseDays(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of days", s)
	}
	if err := datadir.CheckRetention(n); err != nil {
		return 0, fmt.Errorf("%d is outside 0..%d days (0 keeps everything)", n, datadir.MaxRetentionDays)
	}
	return n, nil
}

// parseRate takes a rate in requests per second: 0 (off) or more.
func parseRate(s string) (float64, error) { return parseRateOf("requests", s) }

// parseEventRate takes a rate in events per second: 0 (off) or more.
func parseEventRate(s string) (float64, error) { return parseRateOf("events", s) }

func parseRateOf(unit, s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("%q is not a number of %s per second", s, unit)
	}
	if r < 0 {
		return 0, fmt.Errorf("%s is negative: give 0 or more %s per second (0 turns the limit off)", s, unit)
	}
	return r, nil
}

// parseInterval takes a positive duration such as 5m or 200ms.
func parseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 5m, 30s or 200ms", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s is not positive", s)
	}
	return d, nil
}

// newFlagSet returns a command's flag set; its usage goes to stdout.
func newFlagSet(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	return fs
}

// parseFlags parses args into fs, from newFlagSet, turning flag errors
// into usage errors. -h and --help print the usage on the command's stdout
// and return [flag.ErrHelp], which main turns into exit status 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	help := fs.Output()
	fs.SetOutput(io.Discard) // parse errors become usage errors, printed by main
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(help)
			fs.Usage()
			return flag.ErrHelp
		}
		return &usageError{cmd: fs.Name(), msg: err.Error()}
	}
	return nil
}

// parseFlagsOnly is parseFlags for a command that takes flags only: an
// argument left over is a usage error.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{cmd: fs.Name(), msg: fmt.Sprintf("unexpected argument %q (opentrail %s takes no arguments, only flags)", fs.Arg(0), fs.Name())}
	}
	return nil
}
