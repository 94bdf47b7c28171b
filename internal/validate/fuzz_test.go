package validate_test

import (
	"testing"

	"github.com/opentrail/opentrail/internal/validate"
)

// FuzzDigestObject stores arbitrary bytes (gzipped or not) with arbitrary
// signature metadata as the only digest, and arbitrary bytes as a log file
// it may list: Run must not fail or panic, and must count exactly one
// digest.
func FuzzDigestObject(f *testing.F) {
	fx := newFixture(f)
	d := fx.add("b1", t0.Add(h(1)), digestOpts{logs: 1})
	logBody, _ := fx.store.obj("b1", d.doc.LogFiles[0].S3Object)
	f.Add(d.sealed.Gzip, d.sealed.Signature, false, logBody.body)
	f.Add(d.sealed.Raw, d.sealed.Signature, true, []byte{})
	f.Add([]byte{0x1f, 0x8b}, "", false, []byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, body []byte, sig string, zip bool, log []byte) {
		if zip {
			body = gzipBytes(t, body)
		}
		fx.store.put("b1", d.key, body, map[string]string{"signature": sig, "signature-algorithm": "SHA256withRSA"})
		fx.store.put("b1", d.doc.LogFiles[0].S3Object, log, nil)
		res, err := validate.Run(t.Context(), fx.store, fx.keys, options("b1", t0, t0.Add(h(1)), nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if n := res.ValidDigests + res.InvalidDigests; n != 1 {
			t.Fatalf("%d digests counted, want 1: %+v", n, res)
		}
	})
}
