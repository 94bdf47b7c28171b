package keyring

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/digest"
)

// FuzzDecodeKey: decoding arbitrary key files never panics, and a file that
// decodes re-encodes to a file that decodes to the same key.
func FuzzDecodeKey(f *testing.F) {
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	k := &Key{Region: "us-east-1", Private: priv, DER: digest.PublicKeyDER(&priv.PublicKey),
		ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ValidTo: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)}
	k.Fingerprint = digest.Fingerprint(k.DER)
	b, err := encodeKey(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fileName(k), b)
	f.Add("x.json", []byte(`{"version":1,"region":"us-east-1"}`))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		k, err := decodeKey(name, "us-east-1", b)
		if err != nil {
			return
		}
		again, err := encodeKey(k)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := decodeKey(fileName(k), "us-east-1", again)
		if err != nil {
			t.Fatalf("re-encoded key does not decode: %v", err)
		}
		if diff := cmp.Diff(k, k2, cmp.Comparer(func(a, b *rsa.PrivateKey) bool { return a.Equal(b) })); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
