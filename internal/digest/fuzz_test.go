package digest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse: Parse never panics; a parsed document that validates encodes,
// parses back to the same Document, and re-encodes to identical bytes.
func FuzzParse(f *testing.F) {
	f.Add([]byte(awsExample))
	f.Add([]byte(`{"digestStartTime":"2026-01-01T00:00:00Z","digestEndTime":"2026-01-01T01:00:00Z","digestS3Bucket":"b","digestS3Object":"o","digestPublicKeyFingerprint":"x","previousDigestSignature":null,"logFiles":[]}`))
	f.Add([]byte(`{"awsAccountId":"111122223333","digestStartTime":"2026-01-01T00:00:00Z","digestEndTime":"2026-01-01T01:00:00Z","digestS3Bucket":"b\u00e9<","digestS3Object":"o\ufffd","digestPublicKeyFingerprint":"00000000000000000000000000000000","digestSignatureAlgorithm":"SHA256withRSA","previousDigestSignature":null,"logFiles":[],"extra":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse: %v", err)
			}
			return
		}
		enc, err := Encode(d)
		if verr := d.Validate(); verr != nil {
			if err == nil {
				t.Fatalf("Encode accepted a document Validate rejects: %v", verr)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode of a valid document: %v", err)
		}
		d2, err := Parse(enc.Raw)
		if err != nil {
			t.Fatalf("Parse(Encode(d)): %v\n%s", err, enc.Raw)
		}
		if diff := cmp.Diff(d, d2); diff != "" {
			t.Fatalf("parse → encode → parse changed the document (-first +second):\n%s", diff)
		}
		enc2, err := Encode(d2)
		if err != nil || !bytes.Equal(enc.Raw, enc2.Raw) {
			t.Fatalf("re-encoding differs: %v\n%s\n%s", err, enc.Raw, enc2.Raw)
		}
	})
}
