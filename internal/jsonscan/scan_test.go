package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// valid is Valid's first answer.
func valid(b []byte) bool {
	v, _ := Valid(b)
	return v
}

var scanSeeds = []string{
	``, ` `, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `-1.5e10`, `.5`, `+1`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulls`, `NaN`,
	`""`, `"`, `"abc`, `"\"`, `"\\"`, `"\/"`, `"\u00e9"`, `"\u00g9"`, `"\u12"`, `"\x"`, "\"\t\"", "\"\x7f\"",
	"\"\xff\xfe\"", `"\ud800"`, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"aaaaaaaaaaaaaaaaaaaaaaaa"`,
	`[]`, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[1,[2,[3]]]`, `[[[[`, `{}`, `{`, `}`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{"a":1 "b":2}`, `{"a":1,"b":[true,false,null,{"c":"d"}]}`, `{1:2}`, `{"a":1}}`,
	" \n\t\r{ \"a\" : [ 1 , 2 ] } \n", "{\"a\":1}\x00", `{"Records":[{"eventVersion":"1.08"}]}`,
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth),
	strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1),
}

func TestScanMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		if got, want := valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("valid(%.40q) = %v, json.Valid = %v", s, got, want)
		}
	}
}

// FuzzScan checks the Scanner against encoding/json, and that scanning a
// prefix without eof never contradicts scanning the whole input.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, compact := Valid(b)
		if want := json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, got, want)
		}
		if got {
			var c bytes.Buffer
			if err := json.Compact(&c, b); err != nil {
				t.Fatal(err)
			}
			if want := bytes.Equal(c.Bytes(), b); compact != want {
				t.Fatalf("Valid(%q) says compact %v; json.Compact gives %q", b, compact, c.Bytes())
			}
		}
		var s Scanner
		i := SkipSpace(b, 0)
		n, err := s.Value(b, i, true, 0)
		step := 1 + len(b)/500 // keep long inputs from taking quadratic time
		for k := i; k < len(b); k += step {
			pn, perr := s.Value(b[:k], i, false, 0)
			switch {
			case errors.Is(perr, ErrMore):
			case perr == nil:
				if err != nil || pn != n {
					t.Fatalf("prefix %q scans to %d, whole input %q to %d, %v", b[:k], pn, b, n, err)
				}
			default:
				var pe, we *Error
				if !errors.As(perr, &pe) || !errors.As(err, &we) || pe.Off != we.Off || pe.Error() != we.Error() {
					t.Fatalf("prefix %q: %v; whole input %q: %v", b[:k], perr, b, err)
				}
			}
		}
	})
}
