package logfile

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// valid reports whether b is one JSON value with optional whitespace
// around it, by our scanner.
func valid(b []byte) bool {
	var s scanner
	i := skipSpace(b, 0)
	n, err := s.value(b, i, true, 0)
	return err == nil && skipSpace(b, n) == len(b)
}

var scanSeeds = []string{
	``, ` `, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `-1.5e10`, `.5`, `+1`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulls`, `NaN`,
	`""`, `"`, `"abc`, `"\"`, `"\\"`, `"\/"`, `"\u00e9"`, `"\u00g9"`, `"\u12"`, `"\x"`, "\"\t\"", "\"\x7f\"",
	"\"\xff\xfe\"", `"\ud800"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"aaaaaaaaaaaaaaaaaaaaaaaa"`,
	`[]`, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[1,[2,[3]]]`, `[[[[`, `{}`, `{`, `}`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{"a":1 "b":2}`, `{"a":1,"b":[true,false,null,{"c":"d"}]}`, `{1:2}`, `{"a":1}}`,
	" \n\t\r{ \"a\" : [ 1 , 2 ] } \n", "{\"a\":1}\x00", `{"Records":[{"eventVersion":"1.08"}]}`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
}

func TestScanMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		if got, want := valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("valid(%.40q) = %v, json.Valid = %v", s, got, want)
		}
	}
}

// FuzzScan checks the scanner against encoding/json, and that scanning a
// prefix without eof never contradicts scanning the whole input.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Fatalf("valid(%q) = %v, json.Valid = %v", b, got, want)
		}
		var s scanner
		i := skipSpace(b, 0)
		n, err := s.value(b, i, true, 0)
		step := 1 + len(b)/500 // keep long inputs from taking quadratic time
		for k := i; k < len(b); k += step {
			pn, perr := s.value(b[:k], i, false, 0)
			switch {
			case errors.Is(perr, errMore):
			case perr == nil:
				if err != nil || pn != n {
					t.Fatalf("prefix %q scans to %d, whole input %q to %d, %v", b[:k], pn, b, n, err)
				}
			default:
				var pe, we *scanError
				if !errors.As(perr, &pe) || !errors.As(err, &we) || pe.off != we.off || pe.Error() != we.Error() {
					t.Fatalf("prefix %q: %v; whole input %q: %v", b[:k], perr, b, err)
				}
			}
		}
	})
}
