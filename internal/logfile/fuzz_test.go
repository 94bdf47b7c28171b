package logfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var decoderSeeds = []string{
	`{"Records":[{"eventVersion":"1.08","eventName":"ListBuckets"},{"n":2}]}`,
	`{"x":1,"Records":[{"n":1}],"y":2}`,
	`{"Records":[]}`, `{"Records":null}`, `{"Records":[{"n":1},`, `{"Records":[1,"a",[],{}]} {"Records":[{}]}`,
	`[]`, `[{"n":1},{"n":2}]`, `[{"n":1}]]`, "{\"n\":1}\n{\"n\":2}\n", "{\"n\":1}\nbad\n{\"n\":2}",
	"{\"n\":1,\n{\"n\":2}", "\xef\xbb\xbf[{}]", `{"eventVersion":"1.08"}`, "{\"a\":\"\\u0052\"}\n[{}]",
	"{\"\\u0052ecords\":[{}]}", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff",
}

// FuzzDecoder checks that the decoder never panics or loops, that a tiny
// buffer (many refills) and gzip change nothing, that every record is valid
// JSON, that arrays decode as encoding/json decodes them, and that records
// from a FormatRecords file re-encoded as {"Records":[...]} decode to the
// same bytes.
func FuzzDecoder(f *testing.F) {
	for _, s := range decoderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		format, got, err := decodeAll(t, b, initialBuf)
		format2, got2, err2 := decodeAll(t, b, 4)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("NewDecoder: %v with the default buffer, %v with a tiny one", err, err2)
		}
		if len(b) < 4096 && !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			format3, got3, err3 := decodeAll(t, gzipBytes(t, b), initialBuf)
			if (err == nil) != (err3 == nil) || format3 != format {
				t.Fatalf("NewDecoder: %v, %v plain; %v, %v gzipped", format, err, format3, err3)
			}
			if diff := cmp.Diff(got, got3); diff != "" {
				t.Fatalf("gzip changes the results (-plain +gzip):\n%s", diff)
			}
		}
		if err != nil {
			return
		}
		if format != format2 {
			t.Fatalf("Format() = %v with the default buffer, %v with a tiny one", format, format2)
		}
		if diff := cmp.Diff(got, got2); diff != "" {
			t.Fatalf("a tiny buffer changes the results (-default +tiny):\n%s", diff)
		}

		d, err := NewDecoder(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var raws []json.RawMessage
		clean := true
		for {
			rec, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				clean = false
				if d.Format() != FormatLines {
					break
				}
				continue
			}
			if !json.Valid(rec.Raw) {
				t.Fatalf("record %d is not valid JSON: %q", rec.Index, rec.Raw)
			}
			raws = append(raws, rec.Raw)
		}

		if format == FormatArray && clean && json.Valid(b) && !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			var want []json.RawMessage
			if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &want); err == nil {
				if len(want) != len(raws) {
					t.Fatalf("%d records, encoding/json finds %d", len(raws), len(want))
				}
				for i := range want {
					if !bytes.Equal(want[i], raws[i]) {
						t.Fatalf("record %d is %q, encoding/json finds %q", i, raws[i], want[i])
					}
				}
			}
		}

		if format != FormatRecords {
			return
		}
		enc := []byte(`{"Records":[`)
		for i, r := range raws {
			if i > 0 {
				enc = append(enc, ',')
			}
			enc = append(enc, r...)
		}
		enc = append(enc, "]}"...)
		d, err = NewDecoder(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("re-encoded %q: %v", enc, err)
		}
		if d.Format() != FormatRecords {
			t.Fatalf("re-encoded %q: Format() = %v", enc, d.Format())
		}
		for i := 0; ; i++ {
			rec, err := d.Next()
			if errors.Is(err, io.EOF) {
				if i != len(raws) {
					t.Fatalf("re-encoded %q: %d records, want %d", enc, i, len(raws))
				}
				break
			}
			if err != nil {
				t.Fatalf("re-encoded %q: %v", enc, err)
			}
			if i >= len(raws) || !bytes.Equal(rec.Raw, raws[i]) {
				t.Fatalf("re-encoded %q: record %d is %q", enc, i, rec.Raw)
			}
		}
	})
}
