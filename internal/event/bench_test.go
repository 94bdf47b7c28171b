package event

import (
	"bytes"
	"encoding/json"
	"testing"
)

// BenchmarkParse parses the invictus records, the import hot path: "log
// file" as they appear in delivered log files (compact, the common case,
// also how the store re-reads them), "indented" pretty-printed.
func BenchmarkParse(b *testing.B) {
	recs := realSet(b, "invictus")
	compact := make([][]byte, len(recs))
	indented := make([][]byte, len(recs))
	for i, r := range recs {
		compact[i] = r.raw
		var buf bytes.Buffer
		if err := json.Indent(&buf, r.raw, "", "  "); err != nil {
			b.Fatal(err)
		}
		indented[i] = buf.Bytes()
	}
	for _, bc := range []struct {
		name string
		recs [][]byte
	}{
		{"log file", compact},
		{"indented", indented},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var n int64
			for _, r := range bc.recs {
				n += int64(len(r))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				for _, r := range bc.recs {
					if _, err := Parse(r); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bc.recs)), "ns/record")
		})
	}
}

// BenchmarkRecordRoundTrip decodes the invictus records into Record and
// encodes them again.
func BenchmarkRecordRoundTrip(b *testing.B) {
	recs := realSet(b, "invictus")
	var n int64
	for _, r := range recs {
		n += int64(len(r.raw))
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		for _, rr := range recs {
			var r Record
			if err := json.Unmarshal(rr.raw, &r); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRecordToEvent compares the two ways an edge turns the record
// it built into the event it appends: encode then Parse back (the old
// way), or FromRecord (encode, summary from the typed fields).
func BenchmarkRecordToEvent(b *testing.B) {
	recs := realSet(b, "invictus")
	typed := make([]Record, 0, len(recs))
	for _, r := range recs {
		var rec Record
		if json.Unmarshal(r.raw, &rec) == nil && len(rec.Extra) == 0 {
			typed = append(typed, rec)
		}
	}
	b.Run("marshal+Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range typed {
				raw, _ := json.Marshal(&typed[i])
				if _, err := Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("FromRecord", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for i := range typed {
				if _, err := FromRecord(&typed[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
