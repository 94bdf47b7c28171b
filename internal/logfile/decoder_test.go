package logfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/testenv"
)

// decodeAll decodes input and describes every result as a line: a record
// as "index line@offset raw", a syntax error as "error index line@offset:
// message", any other error as "fatal: message".
func decodeAll(t testing.TB, input []byte, bufSize int) (Format, []string, error) {
	t.Helper()
	d, err := newDecoderSize(bytes.NewReader(input), bufSize)
	if err != nil {
		return 0, nil, err
	}
	return d.Format(), drain(t, d, len(input)+10), nil
}

func drain(t testing.TB, d *Decoder, limit int) []string {
	t.Helper()
	var out []string
	for n := 0; ; n++ {
		if n > limit {
			t.Fatalf("Next did not reach the end after %d calls", n)
		}
		rec, err := d.Next()
		var se *SyntaxError
		switch {
		case err == nil:
			out = append(out, fmt.Sprintf("%d %d@%d %s", rec.Index, rec.Line, rec.Offset, rec.Raw))
		case errors.Is(err, io.EOF):
			if _, err := d.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after io.EOF = %v, want io.EOF", err)
			}
			return out
		case errors.As(err, &se):
			out = append(out, fmt.Sprintf("error %d %d@%d: %v", se.Index, se.Line, se.Offset, se.Err))
		default:
			out = append(out, "fatal: "+err.Error())
			if _, err2 := d.Next(); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Next after %v = %v, want the same error", err, err2)
			}
			return out
		}
	}
}

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		format Format
		want   []string
	}{
		{
			name:   "records",
			in:     `{"Records":[{"eventVersion":"1.08","n":1},{"n":2}]}`,
			format: FormatRecords,
			want:   []string{`0 1@12 {"eventVersion":"1.08","n":1}`, `1 1@42 {"n":2}`},
		},
		{
			name:   "records pretty",
			in:     "{\n  \"Records\": [\n    {\"n\": 1},\n    {\"n\": [2, 3]}\n  ]\n}\n",
			format: FormatRecords,
			want:   []string{`0 3@21 {"n": 1}`, `1 4@35 {"n": [2, 3]}`},
		},
		{
			name:   "records after other members",
			in:     `{"x":[1,{"Records":[{"no":1}]}],"Records":[{"n":1}],"y":{"Records":[]},"z":null}`,
			format: FormatRecords,
			want:   []string{`0 1@43 {"n":1}`},
		},
		{
			name:   "records escaped name",
			in:     `{"\u0052ecords":[{"n":1}]}`,
			format: FormatRecords,
			want:   []string{`0 1@17 {"n":1}`},
		},
		{
			name:   "records empty",
			in:     `{"Records":[]}`,
			format: FormatRecords,
		},
		{
			name:   "records any values",
			in:     `{"Records":[1,"s",null,[],{}]}`,
			format: FormatRecords,
			want:   []string{`0 1@12 1`, `1 1@14 "s"`, `2 1@18 null`, `3 1@23 []`, `4 1@26 {}`},
		},
		{
			name:   "records concatenated",
			in:     "{\"Records\":[{\"n\":1}]}{\"Records\":[{\"n\":2}]}\n{\"n\":3}",
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`, `1 1@33 {"n":2}`, `2 2@43 {"n":3}`},
		},
		{
			name:   "records not an array",
			in:     `{"Records":null}`,
			format: FormatRecords,
			want:   []string{`error 0 1@11: the Records member is not an array`},
		},
		{
			name:   "records truncated",
			in:     `{"Records":[{"n":1},{"n":`,
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`, `error 1 1@25: unexpected end of input`},
		},
		{
			name:   "records bad element ends the file",
			in:     `{"Records":[{"n":1},{"n" 2},{"n":3}]}`,
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`, `error 1 1@25: invalid character '2' after object key`},
		},
		{
			name:   "records missing comma",
			in:     `{"Records":[{"n":1} {"n":2}]}`,
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`, `error 1 1@20: invalid character '{' after array element`},
		},
		{
			name:   "records trailing garbage",
			in:     `{"Records":[{"n":1}]} xyz`,
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`, `error 1 1@22: invalid character 'x' looking for beginning of value`},
		},
		{
			name:   "records trailing members",
			in:     `{"Records":[{"n":1}],"x":{"a":[1,2]}}` + "\n",
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`},
		},
		{
			name:   "records bad trailing member",
			in:     `{"Records":[{"n":1}],"x":tru}`,
			format: FormatRecords,
			want:   []string{`0 1@12 {"n":1}`, `error 1 1@28: invalid character '}' in literal true (expecting 'e')`},
		},
		{
			name:   "byte order mark",
			in:     "\xef\xbb\xbf{\"Records\":[{\"n\":1}]}",
			format: FormatRecords,
			want:   []string{`0 1@15 {"n":1}`},
		},
		{
			name:   "array",
			in:     "[\n  {\"n\": 1},\n  {\"n\": 2}\n]\n",
			format: FormatArray,
			want:   []string{`0 2@4 {"n": 1}`, `1 3@16 {"n": 2}`},
		},
		{
			name:   "array empty",
			in:     `[]`,
			format: FormatArray,
		},
		{
			name:   "array empty with space",
			in:     " \n[\n]\n",
			format: FormatArray,
		},
		{
			name:   "array trailing garbage",
			in:     `[{"n":1}]]`,
			format: FormatArray,
			want:   []string{`0 1@1 {"n":1}`, `error 1 1@9: invalid character ']' looking for beginning of value`},
		},
		{
			name:   "array truncated",
			in:     `[{"n":1},`,
			format: FormatArray,
			want:   []string{`0 1@1 {"n":1}`, `error 1 1@9: unexpected end of input`},
		},
		{
			name:   "object",
			in:     "{\n  \"eventVersion\": \"1.08\",\n  \"eventName\": \"X\"\n}\n",
			format: FormatObject,
			want:   []string{"0 1@0 {\n  \"eventVersion\": \"1.08\",\n  \"eventName\": \"X\"\n}"},
		},
		{
			name:   "object empty",
			in:     `{}`,
			format: FormatObject,
			want:   []string{`0 1@0 {}`},
		},
		{
			name:   "object trailing garbage",
			in:     `{"n":1} garbage {"n":2}`,
			format: FormatObject,
			want:   []string{`0 1@0 {"n":1}`, `error 1 1@8: invalid character 'g' looking for beginning of value`},
		},
		{
			name:   "object malformed",
			in:     "{\n\"n\": 1,\n\"m\" 2\n}\n{\"n\":2}\n",
			format: FormatObject,
			want:   []string{`error 0 3@14: invalid character '2' after object key`},
		},
		{
			name:   "lines",
			in:     "{\"n\":1}\n{\"n\":2}\r\n\n  \n{\"n\":3}",
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `1 2@8 {"n":2}`, `2 5@21 {"n":3}`},
		},
		{
			name:   "lines without newlines",
			in:     `{"n":1}{"n":2} {"n":3}`,
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `1 1@7 {"n":2}`, `2 1@15 {"n":3}`},
		},
		{
			name:   "lines bad line",
			in:     "{\"n\":1}\n{\"n\":2,}\n{\"n\":3}\n",
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `error 1 2@15: invalid character '}' looking for beginning of object key string`, `2 3@17 {"n":3}`},
		},
		{
			name:   "lines truncated line",
			in:     "{\"n\":1}\n{\"n\":\n{\"n\":3}\n{\"n\":4}\n",
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `error 1 2@22: invalid character '{' after object key:value pair`, `2 3@14 {"n":3}`, `3 4@22 {"n":4}`},
		},
		{
			name:   "lines garbage lines",
			in:     "{\"n\":1}\nnot json\nnor this\n\n  {\"n\":2}\n",
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `error 1 2@8: invalid character 'n' looking for beginning of value`, `2 5@29 {"n":2}`},
		},
		{
			name:   "lines bad first line",
			in:     "{\"n\":1,,}\n{\"n\":2}\n",
			format: FormatLines,
			want:   []string{`error 0 1@7: invalid character ',' looking for beginning of object key string`, `1 2@10 {"n":2}`},
		},
		{
			name:   "lines bad last line",
			in:     "{\"n\":1}\n{\"n\":",
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `error 1 2@13: unexpected end of input`},
		},
		{
			name:   "lines with records object",
			in:     "{\"n\":1}\n{\"Records\":[{\"n\":2},{\"n\":3}]}\n",
			format: FormatLines,
			want:   []string{`0 1@0 {"n":1}`, `1 2@20 {"n":2}`, `2 2@28 {"n":3}`},
		},
		{
			name:   "lines control character in string",
			in:     "{\"n\":\"a\tb\"}\n{\"n\":2}\n",
			format: FormatLines,
			want:   []string{`error 0 1@7: invalid character '\t' in string literal`, `1 2@12 {"n":2}`},
		},
	}
	for _, tt := range tests {
		for _, variant := range []string{"plain", "gzip", "tiny buffer", "gzip tiny buffer"} {
			t.Run(tt.name+"/"+variant, func(t *testing.T) {
				in := []byte(tt.in)
				size := initialBuf
				if strings.HasPrefix(variant, "gzip") {
					in = gzipBytes(t, in)
				}
				if strings.HasSuffix(variant, "tiny buffer") {
					size = 4
				}
				format, got, err := decodeAll(t, in, size)
				if err != nil {
					t.Fatalf("NewDecoder: %v", err)
				}
				if format != tt.format {
					t.Errorf("Format() = %v, want %v", format, tt.format)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("records (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestNotCloudTrail(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"whitespace", " \n\t\r\n"},
		{"license", "MIT License\n\nCopyright (c) 2023 Invictus Incident Response\n"},
		{"markdown", "# Real CloudTrail events for tests\n"},
		{"markdown link", "[![build](https://example.com/b.svg)](https://example.com)\n"},
		{"markdown bracket", "[link]: https://example.com\n"},
		{"number", "123"},
		{"string", `"Records"`},
		{"array of numbers", `[1, 2]`},
		{"array of arrays", `[[{"n":1}]]`},
		{"object without name", `{x: 1}`},
		{"brace text", "{{ template }}"},
		{"only bom", "\xef\xbb\xbf"},
		{"utf-16 bom", "\xff\xfe{\x00}\x00"},
		{"lone brace", "{"},
		{"lone bracket", " ["},
		{"binary", "\x00\x01\x02\x03"},
	}
	for _, tt := range tests {
		for _, gz := range []bool{false, true} {
			name := tt.name
			in := []byte(tt.in)
			if gz {
				name += "/gzip"
				in = gzipBytes(t, in)
			}
			t.Run(name, func(t *testing.T) {
				d, err := NewDecoder(bytes.NewReader(in))
				if !errors.Is(err, ErrNotCloudTrail) {
					t.Fatalf("NewDecoder = %v, %v; want an error wrapping ErrNotCloudTrail", d, err)
				}
			})
		}
	}
}

func TestGzipErrors(t *testing.T) {
	content := bytes.Repeat([]byte(`{"eventVersion":"1.08","eventName":"ListBuckets"}`+"\n"), 20000)
	gz := gzipBytes(t, content)

	t.Run("truncated", func(t *testing.T) {
		d, err := NewDecoder(bytes.NewReader(gz[:len(gz)/2]))
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, d, len(content))
		last := got[len(got)-1]
		if !strings.HasPrefix(last, "fatal: read: ") || !strings.Contains(last, "unexpected EOF") {
			t.Errorf("last result = %q, want a fatal unexpected EOF", last)
		}
		if len(got) < 2 {
			t.Errorf("got %d results, want the records before the cut", len(got))
		}
	})
	t.Run("bad checksum", func(t *testing.T) {
		bad := bytes.Clone(gz)
		bad[len(bad)-6] ^= 0xff // CRC-32 is in the last 8 bytes
		d, err := NewDecoder(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, d, len(content))
		if n := len(got) - 1; n != 20000 || !strings.Contains(got[n], "checksum") {
			t.Errorf("got %d records then %q; want 20000 then a checksum error", n, got[n])
		}
	})
	t.Run("bad header", func(t *testing.T) {
		_, err := NewDecoder(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0}))
		if err == nil || errors.Is(err, ErrNotCloudTrail) {
			t.Errorf("NewDecoder = %v, want a gzip error", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		r := io.MultiReader(bytes.NewReader(content[:1000]), iotest.ErrReader(errors.New("disk on fire")))
		d, err := NewDecoder(r)
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, d, len(content))
		if last := got[len(got)-1]; last != "fatal: read: disk on fire" {
			t.Errorf("last result = %q", last)
		}
	})
}

func TestLargeRecords(t *testing.T) {
	big := `{"n":"` + strings.Repeat("x", 3*initialBuf) + `"}`
	in := `{"Records":[{"n":1},` + big + `,{"n":2}]}`
	_, got, err := decodeAll(t, []byte(in), initialBuf)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`0 1@12 {"n":1}`, `1 1@20 ` + big, fmt.Sprintf(`2 1@%d {"n":2}`, 21+len(big))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	testenv.SkipShort(t, "the 16 MiB record")
	huge := `{"n":"` + strings.Repeat("x", MaxRecordSize) + `"}`
	d, err := NewDecoder(strings.NewReader("{\"n\":1}\n" + huge + "\n{\"n\":3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []string
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrRecordTooLarge) {
				t.Fatalf("Next = %v, want ErrRecordTooLarge", err)
			}
			recs = append(recs, "too large")
			continue
		}
		recs = append(recs, string(rec.Raw))
	}
	if diff := cmp.Diff([]string{`{"n":1}`, "too large", `{"n":3}`}, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestRawIsACopy(t *testing.T) {
	in := `{"Records":[` + strings.Repeat(`{"n":"abcdefgh"},`, 10000) + `{"n":"last"}]}`
	d, err := newDecoderSize(strings.NewReader(in), 64)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	for i, rec := range recs[:10000] {
		if string(rec.Raw) != `{"n":"abcdefgh"}` || cap(rec.Raw) != len(rec.Raw) {
			t.Fatalf("record %d = %q (cap %d), was overwritten or shares capacity", i, rec.Raw, cap(rec.Raw))
		}
	}
}

func TestReset(t *testing.T) {
	d, err := NewDecoder(strings.NewReader(`[{"n":1}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, d, 10); len(got) != 1 {
		t.Fatalf("first file: %q", got)
	}
	if err := d.Reset(bytes.NewReader(gzipBytes(t, []byte("{\"n\":1}\n{\"n\":2}\n")))); err != nil {
		t.Fatal(err)
	}
	if d.Format() != FormatLines {
		t.Errorf("Format() = %v, want lines", d.Format())
	}
	if diff := cmp.Diff([]string{`0 1@0 {"n":1}`, `1 2@8 {"n":2}`}, drain(t, d, 10)); diff != "" {
		t.Errorf("second file (-want +got):\n%s", diff)
	}
	if err := d.Reset(strings.NewReader("README")); !errors.Is(err, ErrNotCloudTrail) {
		t.Errorf("Reset(README) = %v", err)
	}
	if err := d.Reset(strings.NewReader(`{"Records":[{"n":3}]}`)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`0 1@12 {"n":3}`}, drain(t, d, 10)); diff != "" {
		t.Errorf("fourth file (-want +got):\n%s", diff)
	}
}

// TestTestdata decodes every file of the corpus and compares the records with
// what encoding/json finds.
func TestTestdata(t *testing.T) {
	dir := testenv.CloudTrailData(t)
	type count struct {
		files, records int
	}
	counts := map[string]map[Format]count{}
	var notCT []string
	err := filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		d, err := NewDecoder(bytes.NewReader(b))
		if errors.Is(err, ErrNotCloudTrail) {
			notCT = append(notCT, rel)
			return nil
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		var raws []json.RawMessage
		for {
			rec, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				break
			}
			raws = append(raws, rec.Raw)
		}
		want := stdlibRecords(t, d.Format(), b)
		if len(want) != len(raws) {
			t.Errorf("%s: %d records, encoding/json finds %d", rel, len(raws), len(want))
		}
		for i := range min(len(want), len(raws)) {
			if !bytes.Equal(want[i], raws[i]) {
				t.Errorf("%s: record %d is\n%s\nencoding/json finds\n%s", rel, i, raws[i], want[i])
			}
		}
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		if counts[top] == nil {
			counts[top] = map[Format]count{}
		}
		c := counts[top][d.Format()]
		c.files++
		c.records += len(raws)
		counts[top][d.Format()] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]map[Format]count{
		"invictus-ir-aws-dataset": {FormatRecords: {55, 2900}},
		"otrf-security-datasets":  {FormatLines: {1, 103}},
		"traildiscover":           {FormatArray: {318, 296 + 381}, FormatObject: {19, 19}},
	}
	if diff := cmp.Diff(wantCounts, counts, cmp.AllowUnexported(count{})); diff != "" {
		t.Errorf("files and records per format (-want +got):\n%s", diff)
	}
	wantNot := []string{"README.md", "invictus-ir-aws-dataset/LICENSE", "invictus-ir-aws-dataset/SOURCE.md",
		"otrf-security-datasets/LICENSE", "otrf-security-datasets/SOURCE.md", "traildiscover/LICENSE", "traildiscover/SOURCE.md"}
	if diff := cmp.Diff(wantNot, notCT); diff != "" {
		t.Errorf("files refused as not CloudTrail (-want +got):\n%s", diff)
	}
}

// stdlibRecords decodes b with encoding/json.
func stdlibRecords(t testing.TB, f Format, b []byte) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	switch f {
	case FormatRecords:
		var v struct{ Records []json.RawMessage }
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		out = v.Records
	case FormatArray:
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var m json.RawMessage
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}
