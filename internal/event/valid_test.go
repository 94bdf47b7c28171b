package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// validCases are inputs at each edge of the grammar; the tests compare
// validJSON's answer on each with encoding/json.Valid's.
var validCases = []string{
	``, ` `, `{}`, `[]`, `{ }`, `[ ]`, ` {} `, "\t\n\r{}\r\n\t", `{}{}`, `{} x`, `[] ,`,
	`{`, `}`, `[`, `]`, `{]`, `[}`, `[[]`, `[]]`, `{"a":1}}`,
	`"a"`, `"`, `"\"`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\a"`, `"\x41"`, `"\'"`, `"\u0041"`, `"\u00e9\uD834\uDD1E"`,
	`"\uDEAD"`, `"\u004"`, `"\u004g"`, `"\u"`, `"\U0041"`, "\"a\x00b\"", "\"a\x1fb\"", "\"a\x7fb\"", "\"\xff\xfe\"", "\"\xc3\"", "\"é\"",
	"\"a\tb\"", "\"a\nb\"", `"abcdefghijklmnopqrstuvwxyz0123456789"`, `"abcdefgh\"`, `"abcdefg\"`,
	`0`, `-0`, `00`, `01`, `-`, `-a`, `1.`, `1.0`, `.5`, `1.5e`, `1e5`, `1E+5`, `1e-5`, `1e+`, `1.5E-07`, `-1.25e3`, `+1`, `0x10`, `1_000`, `123456789012345678901234567890`,
	`true`, `false`, `null`, `tru`, `truee`, `nul`, `nulll`, `True`, `NULL`, `fals`, `falsey`, `[true,false,null]`,
	`{"a"}`, `{"a":}`, `{"a" 1}`, `{a:1}`, `{'a':1}`, `{"a":1,}`, `{"a":1,"b"}`, `{,}`, `{"a":1 "b":2}`, `{1:2}`, `{"a":1,"a":2}`,
	`[1,]`, `[,1]`, `[1 2]`, `[1,,2]`, `[ 1 , 2 , [ 3 , { "x" : [ ] } ] ]`, `[{"a":[{"b":{}}]}]`, `{"a":{"b":{"c":[1,{"d":null}]}}}`,
	"\ufeff{}", `{"a":"b"}` + "\x00", "{\"a\":1}\n",
}

// valid is checkJSON's first answer.
func valid(b []byte) bool {
	v, _ := checkJSON(b)
	return v
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("checkJSON(%q) = %v, encoding/json.Valid says %v", c, got, want)
		}
	}
	for _, r := range realRecords(t) {
		if !valid(r.raw) {
			t.Errorf("a real record of %s is refused: %.200s", r.set, r.raw)
		}
		// Every prefix of a record is an unfinished value.
		for _, cut := range []int{1, len(r.raw) / 2, len(r.raw) - 1} {
			if valid(r.raw[:cut]) {
				t.Errorf("%d bytes of a record of %s are accepted", cut, r.set)
			}
		}
	}
}

// TestValidJSONDepth checks encoding/json's nesting limit: 10,000 open
// arrays or objects are valid, 10,001 are not.
func TestValidJSONDepth(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001, 20000} {
		arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		objects := strings.Repeat(`{"a":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
		for _, c := range []string{arrays, objects} {
			if got, want := valid([]byte(c)), json.Valid([]byte(c)); got != want {
				t.Errorf("depth %d (%.10s…): validJSON = %v, encoding/json.Valid = %v", depth, c, got, want)
			}
		}
	}
}

// FuzzValidJSON checks that validJSON accepts exactly what
// encoding/json.Valid accepts.
func FuzzValidJSON(f *testing.F) {
	fuzzSeeds(f)
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, compact := checkJSON(b)
		if want := json.Valid(b); got != want {
			t.Fatalf("checkJSON(%q) = %v, encoding/json.Valid says %v", b, got, want)
		}
		if !got {
			return
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatal(err)
		}
		if want := bytes.Equal(c.Bytes(), b); compact != want {
			t.Fatalf("checkJSON(%q) says compact %v; json.Compact gives %q", b, compact, c.Bytes())
		}
	})
}

// BenchmarkValidJSON validates the invictus records (compact, as in log
// files) with validJSON and, in the same run, with encoding/json.Valid.
func BenchmarkValidJSON(b *testing.B) {
	recs := realSet(b, "invictus")
	var n int64
	for _, r := range recs {
		n += int64(len(r.raw))
	}
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{
		{"checkJSON", valid},
		{"encoding-json", json.Valid},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				for _, r := range recs {
					if !bc.valid(r.raw) {
						b.Fatal("refused")
					}
				}
			}
		})
	}
}

// FuzzStringEnd checks that stringEnd finds the end of any JSON string
// literal (json.Marshal's encoding of the fuzzed text, and the same with
// every non-ASCII byte escaped), with more JSON after it.
func FuzzStringEnd(f *testing.F) {
	for _, s := range []string{"", "a", `"`, `\`, `\\`, `\"`, `abcdefg\`, `abcdefgh"`, "a\x00b", "é\u2028", `\\\\\\\"`, "0123456789abcdef\\\"xyz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		ascii := strconv.QuoteToASCII(s) // Go escapes, but a JSON string's end all the same
		for _, l := range [][]byte{lit, []byte(ascii)} {
			b := append([]byte{'['}, l...)
			b = append(b, `,"x"]`...)
			if got := stringEnd(b, 1); got != 1+len(l) {
				t.Fatalf("stringEnd(%q, 1) = %d, want %d", b, got, 1+len(l))
			}
		}
	})
}
