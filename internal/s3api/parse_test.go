package s3api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc64"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		header        string
		size          int64
		start, length int64
		ranged        bool
		unsatisfiable bool
	}{
		{header: "", size: 10, length: 10},
		{header: "bytes=0-0", size: 10, length: 1, ranged: true},
		{header: "bytes=2-5", size: 10, start: 2, length: 4, ranged: true},
		{header: "bytes=2-", size: 10, start: 2, length: 8, ranged: true},
		{header: "bytes=5-100", size: 10, start: 5, length: 5, ranged: true},
		{header: "bytes=-3", size: 10, start: 7, length: 3, ranged: true},
		{header: "bytes=-30", size: 10, start: 0, length: 10, ranged: true},
		{header: " bytes= 1-2 ", size: 10, start: 1, length: 2, ranged: true},
		{header: "bytes=10-", size: 10, unsatisfiable: true},
		{header: "bytes=10-20", size: 10, unsatisfiable: true},
		{header: "bytes=-0", size: 10, unsatisfiable: true},
		{header: "bytes=0-", size: 0, unsatisfiable: true},
		{header: "bytes=-5", size: 0, unsatisfiable: true},
		{header: "bytes=99999999999999999999999-", size: 10, unsatisfiable: true},
		// Ignored: the whole object is sent.
		{header: "bytes=5-2", size: 10, length: 10},
		{header: "bytes=0-1,3-4", size: 10, length: 10},
		{header: "items=0-1", size: 10, length: 10},
		{header: "bytes=a-b", size: 10, length: 10},
		{header: "bytes=-", size: 10, length: 10},
		{header: "bytes=1", size: 10, length: 10},
		{header: "bytes=+1-2", size: 10, length: 10},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q/%d", tc.header, tc.size), func(t *testing.T) {
			start, length, ranged, err := parseRange(tc.header, tc.size)
			if tc.unsatisfiable {
				if !errors.Is(err, errUnsatisfiable) {
					t.Fatalf("err = %v, want errUnsatisfiable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if start != tc.start || length != tc.length || ranged != tc.ranged {
				t.Errorf("got start %d length %d ranged %v, want %d %d %v", start, length, ranged, tc.start, tc.length, tc.ranged)
			}
		})
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=5-", "bytes=-3", "bytes=1-0", "bytes=0-1,2-3", "bytes=99999999999999999999-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
			if size < 0 {
				return
			}
		}
		start, length, ranged, err := parseRange(h, size)
		if err != nil {
			return
		}
		if !ranged && (start != 0 || length != size) {
			t.Fatalf("unranged answer %d+%d for size %d", start, length, size)
		}
		if start < 0 || length <= 0 && size > 0 || start+length > size {
			t.Fatalf("range %d+%d outside an object of %d bytes", start, length, size)
		}
	})
}

func TestValidBucketName(t *testing.T) {
	valid := []string{"abc", "trail-logs", "my.bucket.name", "a1b2", strings.Repeat("a", 63), "1bucket"}
	invalid := []string{"", "ab", strings.Repeat("a", 64), "Upper", "under_score", "-start", "end-", ".dot", "dot.",
		"two..dots", "192.168.1.1", "xn--punycode", "sthree-x", "bucket-s3alias", "bucket--ol-s3", "space bucket", "bucket/slash"}
	for _, n := range valid {
		if !ValidBucketName(n) {
			t.Errorf("ValidBucketName(%q) = false", n)
		}
	}
	for _, n := range invalid {
		if ValidBucketName(n) {
			t.Errorf("ValidBucketName(%q) = true", n)
		}
	}
}

func TestURLEncode(t *testing.T) {
	tests := map[string]string{
		"plain/key.json.gz":     "plain/key.json.gz",
		"a b+c":                 "a+b%2Bc",
		"~*-_.":                 "%7E*-_.",
		"ü\x01&<>%":             "%C3%BC%01%26%3C%3E%25",
		"AWSLogs/1/CloudTrail/": "AWSLogs/1/CloudTrail/",
	}
	for in, want := range tests {
		if got := urlEncode(in); got != want {
			t.Errorf("urlEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzURLEncode: form-unescaping undoes urlEncode, as botocore and Go
// clients decode encoding-type=url values.
func FuzzURLEncode(f *testing.F) {
	for _, s := range []string{"a b+c", "~*/", "ü\x01", "%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := urlEncode(s)
		dec, err := url.QueryUnescape(enc)
		if err != nil || dec != s {
			t.Fatalf("QueryUnescape(urlEncode(%q)) = %q, %v", s, dec, err)
		}
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x21 || enc[i] > 0x7e {
				t.Fatalf("urlEncode(%q) = %q holds byte %#x", s, enc, enc[i])
			}
		}
	})
}

func TestParseListParams(t *testing.T) {
	tests := []struct {
		query string
		v2    bool
		want  listParams
		err   bool
	}{
		{query: "", want: listParams{MaxKeys: 1000}},
		{query: "prefix=a%2F&delimiter=%2F&marker=a%2Fb&max-keys=5&encoding-type=url",
			want: listParams{Prefix: "a/", Delimiter: "/", Marker: "a/b", After: "a/b", MaxKeys: 5, EncodeURL: true}},
		{query: "max-keys=5000", want: listParams{MaxKeys: 1000}},
		{query: "max-keys=0", want: listParams{MaxKeys: 0}},
		{query: "max-keys=-1", err: true},
		{query: "max-keys=x", err: true},
		{query: "encoding-type=URL", err: true},
		{query: "list-type=2&start-after=k&fetch-owner=true", v2: true,
			want: listParams{V2: true, StartAfter: "k", After: "k", MaxKeys: 1000, FetchOwner: true}},
		{query: "list-type=2&start-after=k&continuation-token=" + encodeToken("m"), v2: true,
			want: listParams{V2: true, StartAfter: "k", After: "m", Token: encodeToken("m"), MaxKeys: 1000}},
		{query: "list-type=2&continuation-token=", v2: true, err: true},
		{query: "list-type=2&continuation-token=" + base64.RawURLEncoding.EncodeToString([]byte("2:x")), v2: true, err: true},
		{query: "list-type=2&continuation-token=%25%25", v2: true, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseListParams(q, tc.v2)
			if tc.err {
				var e *s3Error
				if !errors.As(err, &e) || e.Code != codeInvalidArgument {
					t.Fatalf("err = %v, want InvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseListParams(f *testing.F) {
	for _, s := range []string{"prefix=a&delimiter=/&max-keys=2", "list-type=2&continuation-token=" + encodeToken("x/y"),
		"marker=%00&encoding-type=url", "max-keys=99999999999999999999"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, query string, v2 bool) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		p, err := parseListParams(q, v2)
		if err != nil {
			var e *s3Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 S3 error", err)
			}
			return
		}
		if p.MaxKeys < 0 || p.MaxKeys > maxListKeys {
			t.Fatalf("MaxKeys %d", p.MaxKeys)
		}
		if p.Token != "" {
			after, err := decodeToken(encodeToken(p.After))
			if err != nil || after != p.After {
				t.Fatalf("token round trip of %q: %q, %v", p.After, after, err)
			}
		}
	})
}

// encodeAWSChunked frames data in chunks of size n with trailers, as SDKs
// do.
func encodeAWSChunked(data []byte, n int, trailers [][2]string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
	}
	b.WriteString("0\r\n")
	for _, t := range trailers {
		fmt.Fprintf(&b, "%s:%s\r\n", t[0], t[1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func TestDecodeAWSChunked(t *testing.T) {
	data := []byte("hello, chunked world")
	enc := encodeAWSChunked(data, 7, [][2]string{{"X-Amz-Checksum-Crc32", "abc="}})
	got, trailers, err := decodeAWSChunked(enc, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("data = %q", got)
	}
	if diff := cmp.Diff(map[string]string{"x-amz-checksum-crc32": "abc="}, trailers); diff != "" {
		t.Errorf("trailers (-want +got):\n%s", diff)
	}
	for name, raw := range map[string]string{
		"no final crlf":   "5\r\nhello\r\n0\r\n",
		"extension":       "5;chunk-signature=abc\r\nhello\r\n0;chunk-signature=def\r\n\r\n",
		"empty body":      "0\r\n\r\n",
		"trailer no crlf": "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n",
	} {
		if _, _, err := decodeAWSChunked([]byte(raw), 100); err != nil && name != "trailer no crlf" {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, raw := range map[string]string{
		"short chunk":      "5\r\nhel",
		"missing crlf":     "5\r\nhelloXX0\r\n\r\n",
		"bad size":         "zz\r\nhello\r\n0\r\n\r\n",
		"no terminator":    "5\r\nhello\r\n",
		"junk after":       "0\r\n\r\njunk",
		"malformed tailer": "0\r\nnocolon\r\n\r\n",
		"too large":        "ff\r\n" + strings.Repeat("x", 255) + "\r\n0\r\n\r\n",
		"huge size":        "ffffffffffffffff\r\n",
	} {
		if _, _, err := decodeAWSChunked([]byte(raw), 100); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeAWSChunked(f *testing.F) {
	f.Add([]byte("hello world"), uint8(3), "x-amz-checksum-crc32", "AAAAAA==", []byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte(""), uint8(1), "x-amz-checksum-sha256", "x", []byte("0;sig=1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte, n uint8, tname, tvalue string, raw []byte) {
		// Arbitrary input: no panic, bounded output.
		if got, _, err := decodeAWSChunked(raw, 64); err == nil && len(got) > 64 {
			t.Fatalf("decoded %d bytes past the limit", len(got))
		}
		// Round trip of what an SDK would send.
		tname = strings.ToLower(strings.TrimSpace(tname))
		tvalue = strings.TrimSpace(tvalue)
		if n == 0 || tname == "" || strings.ContainsAny(tname+tvalue, ":\r\n") {
			return
		}
		enc := encodeAWSChunked(data, int(n), [][2]string{{tname, tvalue}})
		got, trailers, err := decodeAWSChunked(enc, int64(len(data)))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !bytes.Equal(got, data) || trailers[tname] != tvalue || len(trailers) != 1 {
			t.Fatalf("round trip: %q %v, want %q %s=%s", got, trailers, data, tname, tvalue)
		}
	})
}

func TestChecksums(t *testing.T) {
	// The check values of the CRC catalogue, for "123456789".
	if got := crc64.Checksum([]byte("123456789"), crc64NVME); got != 0xAE8B14860A799888 {
		t.Errorf("CRC-64/NVME check = %#x", got)
	}
	body := []byte("hello")
	hdr := map[string][]string{"X-Amz-Checksum-Crc32": {"NhCmhg=="}, "X-Amz-Checksum-Type": {"FULL_OBJECT"}}
	sums, err := checkChecksums(hdr, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"x-amz-checksum-crc32": "NhCmhg=="}, sums); diff != "" {
		t.Errorf("verified (-want +got):\n%s", diff)
	}
	for name, tc := range map[string]struct {
		hdr      map[string][]string
		trailers map[string]string
		code     string
	}{
		"wrong crc32":   {hdr: map[string][]string{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}, code: codeBadDigest},
		"wrong trailer": {trailers: map[string]string{"x-amz-checksum-sha256": "AAAA"}, code: codeBadDigest},
		"unknown":       {hdr: map[string][]string{"X-Amz-Checksum-Md4": {"AAAA"}}, code: codeInvalidRequest},
	} {
		_, err := checkChecksums(tc.hdr, tc.trailers, body)
		var e *s3Error
		if !errors.As(err, &e) || e.Code != tc.code {
			t.Errorf("%s: err = %v, want %s", name, err, tc.code)
		}
	}
	algos := []string{}
	for _, a := range checksumAlgorithms {
		algos = append(algos, a.name)
	}
	if !slices.Contains(algos, "CRC64NVME") {
		t.Errorf("algorithms %v", algos)
	}
}
