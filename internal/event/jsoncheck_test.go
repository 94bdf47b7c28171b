package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/opentrail/opentrail/internal/jsonscan"
)

// TestRealRecordsCheck checks what Parse asks of jsonscan.Valid on the
// corpus: every real record is valid, compact exactly when json.Compact
// leaves it as it is, and no prefix of one is valid.
func TestRealRecordsCheck(t *testing.T) {
	for _, r := range realRecords(t) {
		var c bytes.Buffer
		if err := json.Compact(&c, r.raw); err != nil {
			t.Fatal(err)
		}
		if valid, compact := jsonscan.Valid(r.raw); !valid || compact != bytes.Equal(c.Bytes(), r.raw) {
			t.Errorf("a real record of %s: valid %v, compact %v: %.200s", r.set, valid, compact, r.raw)
		}
		for _, cut := range []int{1, len(r.raw) / 2, len(r.raw) - 1} {
			if valid, _ := jsonscan.Valid(r.raw[:cut]); valid {
				t.Errorf("%d bytes of a record of %s are accepted", cut, r.set)
			}
		}
	}
}

// BenchmarkValidJSON checks the invictus records (compact, as in log
// files) as Parse does, with jsonscan.Valid and, in the same run, with
// encoding/json.Valid, which Parse used before.
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
		{"jsonscan", func(b []byte) bool { v, _ := jsonscan.Valid(b); return v }},
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
