package sigv4_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/opentrail/opentrail/internal/sigv4"
)

// FuzzVerify feeds arbitrary request targets, header values and bodies to
// Verify. It must never panic; it fails only with *sigv4.Error wrapping a
// sentinel (the lookup used here cannot fail otherwise); and whatever it
// accepts must carry a well-formed credential scope.
func FuzzVerify(f *testing.F) {
	add := func(r *http.Request, body []byte) {
		f.Add(r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"),
			r.Header.Get("Date"), r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("X-Amz-Target"),
			r.Header.Get("Content-Type"), body)
	}
	// Seeds: every request of TestVerifySigned, validly signed.
	for _, tc := range signedCases() {
		r := tc.req.build(f, "cloudtrail.example")
		tc.signer.sign(f, r, tc.req.body)
		add(r, tc.req.body)
	}
	f.Add("GET", "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request"+
		"&X-Amz-Date=20261121T055900Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
		"objects.example:9000", "", "", "", "", "", "", []byte(nil))
	f.Add("POST", "/", "h", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request, "+
		"SignedHeaders=date;host, Signature=00", "", "Sat, 21 Nov 2026 05:59:00 GMT", "", "", "", []byte("{}"))

	v := newVerifier()
	f.Fuzz(func(t *testing.T, method, target, host, authz, amzDate, date, contentSHA, amzTarget, contentType string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := &http.Request{Method: method, URL: u, RequestURI: target, Host: host, Header: http.Header{},
			ContentLength: int64(len(body))}
		for k, v := range map[string]string{
			"Authorization": authz, "X-Amz-Date": amzDate, "Date": date, "X-Amz-Content-Sha256": contentSHA,
			"X-Amz-Target": amzTarget, "Content-Type": contentType,
		} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		res, err := v.Verify(t.Context(), r, body)
		if err != nil {
			var e *sigv4.Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("Verify error = %#v, want *sigv4.Error with a message", err)
			}
			for _, s := range []error{sigv4.ErrMissingAuth, sigv4.ErrIncomplete, sigv4.ErrUnknownKey,
				sigv4.ErrSignatureMismatch, sigv4.ErrExpired} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Verify error %v wraps no sentinel", err)
		}
		if res.AccessKeyID != accessKeyID || res.Region == "" || res.Service == "" || len(res.SignedHeaders) == 0 {
			t.Fatalf("Verify accepted the request with result %+v", res)
		}
	})
}
