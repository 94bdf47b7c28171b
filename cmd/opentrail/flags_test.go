package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An optional flag is nil until given, takes every value its parser
// accepts (zero and empty too: they differ from "not given"), and refuses
// the rest with the parser's reason under the flag's name.
func TestOptionalFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    any    // the value after parsing; nil: unset
		wantErr string // in the parse error
	}{
		{name: "days unset", args: nil, want: nil},
		{name: "days", args: []string{"-days", "30"}, want: 30},
		{name: "days zero keeps everything", args: []string{"-days", "0"}, want: 0},
		{name: "days negative", args: []string{"-days", "-5"}, wantErr: `invalid value "-5" for flag -days: -5 is outside 0..3653 days`},
		{name: "days too many", args: []string{"-days", "3654"}, wantErr: "3654 is outside 0..3653 days"},
		{name: "days not a number", args: []string{"-days", "1.5"}, wantErr: `"1.5" is not a whole number of days`},
		{name: "rate unset", args: nil, want: nil},
		{name: "rate", args: []string{"-rate", "2.5"}, want: 2.5},
		{name: "rate zero is off", args: []string{"-rate", "0"}, want: 0.0},
		{name: "rate negative", args: []string{"-rate", "-1"}, wantErr: "-1 is negative: give 0 or more requests per second (0 turns the limit off)"},
		{name: "rate NaN", args: []string{"-rate", "NaN"}, wantErr: `"NaN" is not a number of requests per second`},
		{name: "rate infinite", args: []string{"-rate", "+Inf"}, wantErr: `"+Inf" is not a number of requests per second`},
		{name: "interval", args: []string{"-interval", "200ms"}, want: 200 * time.Millisecond},
		{name: "interval zero", args: []string{"-interval", "0s"}, wantErr: "0s is not positive"},
		{name: "interval negative", args: []string{"-interval", "-1m"}, wantErr: "-1m is not positive"},
		{name: "interval without unit", args: []string{"-interval", "5"}, wantErr: `"5" is not a duration such as 5m, 30s or 200ms`},
		{name: "string unset", args: nil, want: nil},
		{name: "string empty is given", args: []string{"-string", ""}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			flags := map[string]interface{ get() any }{
				"days":     getter[int]{optionalVar(fs, "days", "", parseDays)},
				"rate":     getter[float64]{optionalVar(fs, "rate", "", parseRate)},
				"interval": getter[time.Duration]{optionalVar(fs, "interval", "", parseInterval)},
				"string":   getter[string]{optionalVar(fs, "string", "", parseString)},
			}
			err := fs.Parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) = %v, want an error with %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.args, err)
			}
			which := strings.Fields(tc.name)[0]
			if diff := cmp.Diff(tc.want, flags[which].get()); diff != "" {
				t.Errorf("-%s after %q (-want +got):\n%s", which, tc.args, diff)
			}
		})
	}
}

// getter reads an optional flag's value: nil while unset.
type getter[T any] struct{ f *optional[T] }

func (g getter[T]) get() any {
	if g.f.v == nil {
		return nil
	}
	return *g.f.v
}

// -h prints no "(default ...)" for an unset optional flag: its usage text
// states the default.
func TestOptionalFlagPrintsNoDefault(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	optionalVar(fs, "rate", "a `rate` (default 0)", parseRate)
	fs.PrintDefaults()
	if want := "  -rate rate\n    \ta rate (default 0)\n"; out.String() != want {
		t.Errorf("PrintDefaults:\n%q\nwant\n%q", out.String(), want)
	}
}
