package resultfile_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/objstore"
)

// FuzzAppendRecord: whatever the cells, encoding/csv reads back one record
// with the same values (NULL as "", CRLF inside a value as LF, which is how
// encoding/csv reads it).
func FuzzAppendRecord(f *testing.F) {
	f.Add("a\x00b,c\x00\"q\"", byte(0))
	f.Add("line\nbreak\x00\r\n\x00", byte(2))
	f.Add("", byte(1))
	f.Add(" lead\x00trail \x00#x", byte(0))
	f.Fuzz(func(t *testing.T, joined string, nulls byte) {
		parts := strings.Split(joined, "\x00")
		if len(parts) > 8 {
			parts = parts[:8]
		}
		cells := make([]*string, len(parts))
		for i := range parts {
			if nulls&(1<<i) == 0 {
				cells[i] = &parts[i]
			}
		}
		rec := resultfile.AppendRecord(nil, cells)
		if !bytes.HasSuffix(rec, []byte("\r\n")) {
			t.Fatalf("record %q does not end with CRLF", rec)
		}
		r := csv.NewReader(bytes.NewReader(rec))
		got, err := r.ReadAll()
		if err != nil {
			t.Fatalf("encoding/csv cannot read %q: %v", rec, err)
		}
		if len(got) != 1 {
			t.Fatalf("%q reads as %d records, want 1", rec, len(got))
		}
		if diff := cmp.Diff(texts(cells), got[0]); diff != "" {
			t.Errorf("%q reads back differently (-want +got):\n%s", rec, diff)
		}
	})
}

// FuzzParseSignFile: no input panics, and a sign file that parses encodes
// and parses back to the same.
func FuzzParseSignFile(f *testing.F) {
	f.Add([]byte(`{"version":"1.0","region":"us-east-1","files":[{"fileHashValue":"de85a48b8a363033c891abd723181243620a3af3b6505f0a44db77e147e9c188","fileName":"result_1.csv.gz"}],` +
		`"hashAlgorithm":"SHA-256","signatureAlgorithm":"SHA256withRSA","queryCompleteTime":"2022-05-10T22:06:30Z","hashSignature":"7664652a","publicKeyFingerprint":"67b9fa73676d86966b449dd677850753"}`))
	f.Add([]byte(`{"version":"1.0","files":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := resultfile.ParseSignFile(b)
		if err != nil {
			return
		}
		enc, err := sf.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := resultfile.ParseSignFile(enc)
		if err != nil {
			t.Fatalf("an encoded sign file does not parse: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(sf, again); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseURI: no input panics; an accepted URI has a valid bucket name
// and a prefix without trailing slash, and rebuilding the URI parses to
// the same location.
func FuzzParseURI(f *testing.F) {
	f.Add("s3://my-bucket/prefix/")
	f.Add("s3://a.b.c")
	f.Add("s3:///x")
	f.Add("s3://bucket//x//")
	f.Fuzz(func(t *testing.T, uri string) {
		loc, err := resultfile.ParseURI(uri)
		if err != nil {
			return
		}
		if err := objstore.CheckBucketName(loc.Bucket); err != nil {
			t.Errorf("%q gave bucket %q: %v", uri, loc.Bucket, err)
		}
		if strings.HasSuffix(loc.Prefix, "/") {
			t.Errorf("%q gave prefix %q with a trailing slash", uri, loc.Prefix)
		}
		again, err := resultfile.ParseURI("s3://" + loc.Bucket + "/" + loc.Prefix)
		if err != nil || again != loc {
			t.Errorf("rebuilt %q: %+v, %v; want %+v", uri, again, err, loc)
		}
	})
}
