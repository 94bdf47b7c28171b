package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/sigv4"
)

const (
	accessKeyID = "AKIDEXAMPLE"
	secretKey   = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region      = "us-east-1"

	lookupEventsTarget = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
	channelARN         = "arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-cdef-0123-456789abcdef"
)

var (
	// now is the server clock in these tests; requests are signed a minute
	// earlier unless a case says otherwise.
	now      = time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	signedAt = now.Add(-time.Minute)

	goodCreds = aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretKey}
)

// lookup knows accessKeyID only.
func lookup(_ context.Context, id string) (string, error) {
	if id == accessKeyID {
		return secretKey, nil
	}
	return "", fmt.Errorf("access key %q: %w", id, sigv4.ErrUnknownKey)
}

func newVerifier() *sigv4.Verifier {
	opts := sigv4.DefaultOptions()
	opts.Now = func() time.Time { return now }
	return sigv4.NewVerifier(lookup, opts)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// request is an unsigned request a test case signs.
type request struct {
	method string
	path   string // path and query, as sent
	header map[string]string
	body   []byte
}

func (q request) build(t testing.TB, host string) *http.Request {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodPost
	}
	r, err := http.NewRequest(method, "http://"+host+q.path, bytes.NewReader(q.body))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.body) == 0 {
		r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	return r
}

// signer signs a request the way an SDK client does.
type signer struct {
	creds       aws.Credentials
	service     string
	at          time.Time
	payloadHash string // default: the body's SHA-256
	s3          bool   // S3 path handling: no second escaping
}

func (s signer) sign(t testing.TB, r *http.Request, body []byte) {
	t.Helper()
	hash := s.payloadHash
	if hash == "" {
		hash = hashHex(body)
	}
	creds, at := s.creds, s.at
	if creds.AccessKeyID == "" {
		creds = goodCreds
	}
	if at.IsZero() {
		at = signedAt
	}
	err := v4.NewSigner().SignHTTP(t.Context(), creds, r, hash, s.service, region, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s.s3 })
	if err != nil {
		t.Fatal(err)
	}
}

var (
	lookupEvents = request{
		path: "/",
		header: map[string]string{
			"Content-Type": "application/x-amz-json-1.1",
			"X-Amz-Target": lookupEventsTarget,
		},
		body: []byte(`{"MaxResults":5,"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"  two  spaces "}]}`),
	}
	putAuditEvents = request{
		path:   "/PutAuditEvents?channelArn=" + channelARN + "&externalId=ext%20id+1",
		header: map[string]string{"Content-Type": "application/json"},
		body:   []byte(`{"auditEvents":[{"id":"1","eventData":"{}"}]}`),
	}
	s3Body = []byte("object body\n")
)

func s3Put(contentSHA256, path string) request {
	return request{
		method: http.MethodPut,
		path:   path,
		header: map[string]string{"X-Amz-Content-Sha256": contentSHA256, "Content-Type": "text/plain"},
		body:   s3Body,
	}
}

// signedCase is a request the SDK signs that must verify.
type signedCase struct {
	name   string
	req    request
	signer signer
	want   sigv4.Result
}

func signedCases() []signedCase {
	result := func(service string, headers ...string) sigv4.Result {
		return sigv4.Result{AccessKeyID: accessKeyID, Region: region, Service: service,
			Date: signedAt, SignedHeaders: headers}
	}
	unsigned := func(r sigv4.Result) sigv4.Result { r.UnsignedPayload = true; return r }
	return []signedCase{
		{
			name:   "cloudtrail json",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail"},
			want:   result("cloudtrail", "content-length", "content-type", "host", "x-amz-date", "x-amz-target"),
		},
		{
			name: "cloudtrail empty body",
			req: request{path: "/", header: map[string]string{
				"Content-Type": "application/x-amz-json-1.1",
				"X-Amz-Target": "CloudTrail_20131101.DescribeTrails",
			}},
			signer: signer{service: "cloudtrail"},
			want:   result("cloudtrail", "content-type", "host", "x-amz-date", "x-amz-target"),
		},
		{
			name:   "cloudtrail-data query string",
			req:    putAuditEvents,
			signer: signer{service: "cloudtrail-data"},
			want:   result("cloudtrail-data", "content-length", "content-type", "host", "x-amz-date"),
		},
		{
			name: "non-s3 path encoded twice",
			req: request{method: http.MethodGet, path: "/a%20b/c~d/e:f(g)",
				header: map[string]string{"X-Amz-Target": "x"}},
			signer: signer{service: "cloudtrail"},
			want:   result("cloudtrail", "host", "x-amz-date", "x-amz-target"),
		},
		{
			name:   "s3 hashed payload",
			req:    s3Put(hashHex(s3Body), "/bucket/my%20key~1.txt"),
			signer: signer{service: "s3", s3: true},
			want:   result("s3", "content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date"),
		},
		{
			name:   "s3 unsigned payload",
			req:    s3Put("UNSIGNED-PAYLOAD", "/bucket/dir/my%20key~1.txt"),
			signer: signer{service: "s3", s3: true, payloadHash: "UNSIGNED-PAYLOAD"},
			want: unsigned(result("s3",
				"content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date")),
		},
		{
			name:   "s3 aws-chunked unsigned trailer",
			req:    s3Put("STREAMING-UNSIGNED-PAYLOAD-TRAILER", "/bucket/dir/key"),
			signer: signer{service: "s3", s3: true, payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
			want: unsigned(result("s3",
				"content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date")),
		},
		{
			name:   "s3 strictly encoded reserved characters",
			req:    s3Put(hashHex(s3Body), "/bucket/a%2Fb%28c%29%3A%20~d.txt?tagging="),
			signer: signer{service: "s3", s3: true},
			want:   result("s3", "content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date"),
		},
		{
			name:   "s3 loosely encoded path",
			req:    s3Put(hashHex(s3Body), "/bucket/a(b):c%20d"),
			signer: signer{service: "s3", s3: true},
			want:   result("s3", "content-length", "content-type", "host", "x-amz-content-sha256", "x-amz-date"),
		},
	}
}

// TestVerifySigned verifies SDK-signed requests both as built by the client
// and as received by an HTTP server, whose host has a port.
func TestVerifySigned(t *testing.T) {
	v := newVerifier()
	type outcome struct {
		res sigv4.Result
		err error
	}
	outcomes := make(chan outcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			outcomes <- outcome{err: err}
			return
		}
		res, err := v.Verify(r.Context(), r, body)
		outcomes <- outcome{res, err}
	}))
	t.Cleanup(srv.Close)

	for _, tc := range signedCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, host := range []string{"cloudtrail.example", "localhost:8080"} {
				r := tc.req.build(t, host)
				tc.signer.sign(t, r, tc.req.body)
				res, err := v.Verify(t.Context(), r, tc.req.body)
				if err != nil {
					t.Fatalf("host %s: Verify: %v", host, err)
				}
				if sum := sha256.Sum256(tc.req.body); res.PayloadSHA256 != nil && !bytes.Equal(res.PayloadSHA256, sum[:]) {
					t.Errorf("host %s: PayloadSHA256 %x is not the body's", host, res.PayloadSHA256)
				}
				declared := res.PayloadSHA256
				res.PayloadSHA256 = nil
				if diff := cmp.Diff(tc.want, res); diff != "" {
					t.Errorf("host %s: Verify result (-want +got):\n%s", host, diff)
				}
				// Requests that declare their payload hash verify from
				// the headers alone, handing the hash to the caller.
				hres, herr := v.VerifyHeaders(t.Context(), r)
				switch {
				case r.Header.Get("X-Amz-Content-Sha256") == "" && !res.Presigned:
					if !errors.Is(herr, sigv4.ErrIncomplete) {
						t.Errorf("host %s: VerifyHeaders without a declared hash: %v", host, herr)
					}
				case herr != nil:
					t.Errorf("host %s: VerifyHeaders: %v", host, herr)
				case !bytes.Equal(hres.PayloadSHA256, declared):
					t.Errorf("host %s: VerifyHeaders hash %x, Verify %x", host, hres.PayloadSHA256, declared)
				}
			}

			r := tc.req.build(t, srv.Listener.Addr().String())
			tc.signer.sign(t, r, tc.req.body)
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := <-outcomes
			if got.err != nil {
				t.Fatalf("server: Verify: %v", got.err)
			}
			got.res.PayloadSHA256 = nil // checked above
			if diff := cmp.Diff(tc.want, got.res); diff != "" {
				t.Errorf("server: Verify result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	presign := func(t *testing.T, service, path string, at time.Time, creds aws.Credentials) *http.Request {
		t.Helper()
		r, err := http.NewRequest(http.MethodGet, "http://objects.example:9000"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, _, err := v4.NewSigner().PresignHTTP(t.Context(), creds, r, "UNSIGNED-PAYLOAD", service, region, at,
			func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err != nil {
			t.Fatal(err)
		}
		r, err = http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const path = "/bucket/my%20key~1.txt?X-Amz-Expires=300&versionId=a%2Bb"

	t.Run("valid", func(t *testing.T) {
		r := presign(t, "s3", path, signedAt, goodCreds)
		res, err := newVerifier().Verify(t.Context(), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := sigv4.Result{AccessKeyID: accessKeyID, Region: region, Service: "s3", Date: signedAt,
			SignedHeaders: []string{"host"}, Presigned: true, UnsignedPayload: true}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("Verify result (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name    string
		request func(t *testing.T) *http.Request
		want    error
		msg     string // exact message, if set
	}{
		{
			name: "expired",
			request: func(t *testing.T) *http.Request {
				return presign(t, "s3", path, now.Add(-301*time.Second), goodCreds)
			},
			want: sigv4.ErrExpired,
			msg: "Request has expired: X-Amz-Date 20261121T055459Z plus X-Amz-Expires 300 seconds is " +
				"20261121T055959Z, earlier than the server time 20261121T060000Z.",
		},
		{
			name: "not yet current",
			request: func(t *testing.T) *http.Request {
				return presign(t, "s3", path, now.Add(16*time.Minute), goodCreds)
			},
			want: sigv4.ErrNotYetValid,
			msg:  "Request is not valid yet: X-Amz-Date 20261121T061600Z is later than the server time 20261121T060000Z plus 15 min.",
		},
		{
			name: "not yet current counts as expired",
			request: func(t *testing.T) *http.Request {
				return presign(t, "s3", path, now.Add(16*time.Minute), goodCreds)
			},
			want: sigv4.ErrExpired,
		},
		{
			name: "ahead within the skew",
			request: func(t *testing.T) *http.Request {
				// Valid: the signature is checked, and the secret is wrong.
				return presign(t, "s3", path, now.Add(14*time.Minute), aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: "x"})
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name: "signature version 2",
			request: func(t *testing.T) *http.Request {
				r, err := http.NewRequest(http.MethodGet, "http://objects.example:9000/bucket/key?AWSAccessKeyId="+accessKeyID+
					"&Expires=1795238400&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D", nil)
				if err != nil {
					t.Fatal(err)
				}
				return r
			},
			want: sigv4.ErrSignatureV2,
			msg:  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
		},
		{
			name: "signature version 2 is incomplete",
			request: func(t *testing.T) *http.Request {
				r, err := http.NewRequest(http.MethodGet, "http://objects.example:9000/bucket/key?AWSAccessKeyId=x&Signature=y&Expires=1", nil)
				if err != nil {
					t.Fatal(err)
				}
				return r
			},
			want: sigv4.ErrIncomplete,
		},
		{
			name: "wrong secret",
			request: func(t *testing.T) *http.Request {
				return presign(t, "s3", path, signedAt, aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: "x"})
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name: "query tampered",
			request: func(t *testing.T) *http.Request {
				r := presign(t, "s3", path, signedAt, goodCreds)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "versionId=a%2Bb", "versionId=other", 1)
				return r
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name: "expiry extended",
			request: func(t *testing.T) *http.Request {
				r := presign(t, "s3", path, signedAt, goodCreds)
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=3000", 1)
				return r
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name: "missing expires",
			request: func(t *testing.T) *http.Request {
				return presign(t, "s3", "/bucket/key", signedAt, goodCreds)
			},
			want: sigv4.ErrIncomplete,
			msg: "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, " +
				"X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
		},
		{
			name: "not s3",
			request: func(t *testing.T) *http.Request {
				return presign(t, "cloudtrail", path, signedAt, goodCreds)
			},
			want: sigv4.ErrIncomplete,
		},
		{
			name: "session token",
			request: func(t *testing.T) *http.Request {
				creds := goodCreds
				creds.SessionToken = "token"
				return presign(t, "s3", path, signedAt, creds)
			},
			want: sigv4.ErrUnknownKey,
			msg:  "The security token included in the request is invalid.",
		},
		{
			name: "also an Authorization header",
			request: func(t *testing.T) *http.Request {
				r := presign(t, "s3", path, signedAt, goodCreds)
				r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
				return r
			},
			want: sigv4.ErrIncomplete,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newVerifier().Verify(t.Context(), tc.request(t), nil)
			checkError(t, err, tc.want, tc.msg)
		})
	}
}

// checkError checks that err is an *sigv4.Error wrapping want, with message
// msg if msg is set.
func checkError(t *testing.T, err, want error, msg string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("Verify error = %v, want %v", err, want)
	}
	var e *sigv4.Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify error %T is not a *sigv4.Error", err)
	}
	if e.Message == "" || e.Error() != e.Message {
		t.Errorf("Error() = %q, Message = %q", e.Error(), e.Message)
	}
	if msg != "" {
		if diff := cmp.Diff(msg, e.Message); diff != "" {
			t.Errorf("message (-want +got):\n%s", diff)
		}
	}
}

func TestVerifyFailures(t *testing.T) {
	ct := signer{service: "cloudtrail"}
	tests := []struct {
		name   string
		req    request
		signer signer
		// change alters the signed request and may return a different body.
		change func(r *http.Request, body []byte) []byte
		want   error
		msg    string
	}{
		{
			name:   "wrong secret",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail", creds: aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: "wrong"}},
			want:   sigv4.ErrSignatureMismatch,
			msg: "The request signature we calculated does not match the signature you provided. Check your AWS " +
				"Secret Access Key and signing method. Consult the service documentation for details.",
		},
		{
			name:   "unknown key",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail", creds: aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: secretKey}},
			want:   sigv4.ErrUnknownKey,
			msg:    "The security token included in the request is invalid.",
		},
		{
			name:   "no Authorization header",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte { r.Header.Del("Authorization"); return body },
			want:   sigv4.ErrMissingAuth,
			msg:    "Missing Authentication Token",
		},
		{
			name:   "signed 16 minutes ago",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail", at: now.Add(-16 * time.Minute)},
			want:   sigv4.ErrExpired,
			msg: "Signature expired: 20261121T054400Z is now earlier than 20261121T054500Z " +
				"(20261121T060000Z - 15 min.)",
		},
		{
			name:   "signed 27 minutes ago",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail", at: time.Date(2026, 11, 21, 5, 32, 59, 0, time.UTC)},
			want:   sigv4.ErrExpired,
			msg: "Signature expired: 20261121T053259Z is now earlier than 20261121T054500Z " +
				"(20261121T060000Z - 15 min.)",
		},
		{
			name:   "signed 16 minutes ahead",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail", at: now.Add(16 * time.Minute)},
			want:   sigv4.ErrExpired,
			msg: "Signature not yet current: 20261121T061600Z is still later than 20261121T061500Z " +
				"(20261121T060000Z + 15 min.)",
		},
		{
			name:   "body tampered",
			req:    lookupEvents,
			signer: ct,
			change: func(_ *http.Request, _ []byte) []byte { return []byte(`{"MaxResults":50}`) },
			want:   sigv4.ErrSignatureMismatch,
		},
		{
			name:   "header tampered",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte {
				r.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DeleteTrail")
				return body
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name:   "query tampered",
			req:    putAuditEvents,
			signer: signer{service: "cloudtrail-data"},
			change: func(r *http.Request, body []byte) []byte {
				r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "123456789012", "210987654321", 1)
				return body
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name:   "path tampered",
			req:    putAuditEvents,
			signer: signer{service: "cloudtrail-data"},
			change: func(r *http.Request, body []byte) []byte { r.URL.Path = "/PutAuditEvent"; return body },
			want:   sigv4.ErrSignatureMismatch,
		},
		{
			name:   "signature version 2 header",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte {
				r.Header.Set("Authorization", "AWS "+accessKeyID+":frJIUN8DYpKDtOLCwo//yllqDzg=")
				return body
			},
			want: sigv4.ErrSignatureV2,
			msg:  "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
		},
		{
			name:   "method tampered",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte { r.Method = http.MethodPut; return body },
			want:   sigv4.ErrSignatureMismatch,
		},
		{
			name:   "scope date mismatch",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261121/", "/20261120/", 1))
				return body
			},
			want: sigv4.ErrIncomplete,
			msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: " +
				"'20261120' != '20261121', from '20261121T055900Z'.",
		},
		{
			name:   "no date",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte { r.Header.Del("X-Amz-Date"); return body },
			want:   sigv4.ErrIncomplete,
		},
		{
			name:   "bad date",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte {
				r.Header.Set("X-Amz-Date", "2026-11-21T05:59:00Z")
				return body
			},
			want: sigv4.ErrIncomplete,
			msg: "Date must be in ISO-8601 'basic format'. Got '2026-11-21T05:59:00Z'. " +
				"See http://en.wikipedia.org/wiki/ISO_8601",
		},
		{
			name:   "unsigned x-amz header",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte { r.Header.Set("X-Amz-Extra", "1"); return body },
			want:   sigv4.ErrIncomplete,
			msg:    "There were headers present in the request which were not signed: x-amz-extra.",
		},
		{
			name:   "session token",
			req:    lookupEvents,
			signer: signer{service: "cloudtrail", creds: aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretKey, SessionToken: "token"}},
			want:   sigv4.ErrUnknownKey,
		},
		{
			name:   "session token not signed",
			req:    lookupEvents,
			signer: ct,
			change: func(r *http.Request, body []byte) []byte {
				r.Header.Set("X-Amz-Security-Token", "token")
				return body
			},
			want: sigv4.ErrIncomplete,
		},
		{
			name:   "s3 body does not match content hash",
			req:    s3Put(hashHex(s3Body), "/bucket/key"),
			signer: signer{service: "s3", s3: true},
			change: func(_ *http.Request, _ []byte) []byte { return []byte("other body\n") },
			want:   sigv4.ErrSignatureMismatch,
			msg:    "The provided 'x-amz-content-sha256' header does not match what was computed.",
		},
		{
			name:   "s3 without content hash",
			req:    request{method: http.MethodGet, path: "/bucket/key"},
			signer: signer{service: "s3", s3: true},
			want:   sigv4.ErrIncomplete,
			msg:    "Missing required header for this request: x-amz-content-sha256",
		},
		{
			name:   "s3 path tampered",
			req:    s3Put("UNSIGNED-PAYLOAD", "/bucket/my%20key"),
			signer: signer{service: "s3", s3: true, payloadHash: "UNSIGNED-PAYLOAD"},
			change: func(r *http.Request, body []byte) []byte {
				r.URL.Path, r.URL.RawPath = "/bucket/my/key", "/bucket/my%2Fkey"
				return body
			},
			want: sigv4.ErrSignatureMismatch,
		},
		{
			name: "unsigned payload outside s3",
			req: request{path: "/", header: map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"},
				body: []byte("{}")},
			signer: signer{service: "cloudtrail", payloadHash: "UNSIGNED-PAYLOAD"},
			want:   sigv4.ErrIncomplete,
		},
		{
			name: "unsigned trailer outside s3",
			req: request{path: "/", header: map[string]string{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
				body: []byte("{}")},
			signer: signer{service: "cloudtrail", payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
			want:   sigv4.ErrIncomplete,
		},
		{
			name:   "aws-chunked upload",
			req:    s3Put("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "/bucket/key"),
			signer: signer{service: "s3", s3: true, payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
			want:   sigv4.ErrIncomplete,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req.build(t, "cloudtrail.example")
			tc.signer.sign(t, r, tc.req.body)
			body := tc.req.body
			if tc.change != nil {
				body = tc.change(r, body)
			}
			res, err := newVerifier().Verify(t.Context(), r, body)
			checkError(t, err, tc.want, tc.msg)
			if diff := cmp.Diff(sigv4.Result{}, res); diff != "" {
				t.Errorf("Verify result on error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyMismatchDetails(t *testing.T) {
	r := lookupEvents.build(t, "cloudtrail.example")
	signer{service: "cloudtrail"}.sign(t, r, lookupEvents.body)
	_, err := newVerifier().Verify(t.Context(), r, []byte("{}"))
	var e *sigv4.Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify error = %v, want *sigv4.Error", err)
	}
	wantCR := "POST\n/\n\ncontent-length:" + fmt.Sprint(len(lookupEvents.body)) +
		"\ncontent-type:application/x-amz-json-1.1\nhost:cloudtrail.example\nx-amz-date:20261121T055900Z\n" +
		"x-amz-target:" + lookupEventsTarget + "\n\ncontent-length;content-type;host;x-amz-date;x-amz-target\n" +
		hashHex([]byte("{}"))
	if diff := cmp.Diff(wantCR, e.CanonicalRequest); diff != "" {
		t.Errorf("CanonicalRequest (-want +got):\n%s", diff)
	}
	wantSTS := "AWS4-HMAC-SHA256\n20261121T055900Z\n20261121/us-east-1/cloudtrail/aws4_request\n" +
		hashHex([]byte(wantCR))
	if diff := cmp.Diff(wantSTS, e.StringToSign); diff != "" {
		t.Errorf("StringToSign (-want +got):\n%s", diff)
	}
}

func TestVerifyGarbageAuthorization(t *testing.T) {
	tests := []struct {
		name  string
		value string
		msg   string // exact message, if set
	}{
		{"bearer", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "Authorization header requires the 'AWS4-HMAC-SHA256' " +
			"algorithm (AWS Signature Version 4); other authorization schemes are not supported."},
		{"sigv2", "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", ""},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20261121/s3/aws4_request, SignedHeaders=host, Signature=00", ""},
		{"algorithm only", "AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter. " +
			"Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' " +
			"parameter. Authorization=AWS4-HMAC-SHA256"},
		{"no credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", "Authorization header requires " +
			"'Credential' parameter. Authorization=AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00"},
		{"missing equal sign", "AWS4-HMAC-SHA256 Credential", "'Credential' not a valid key=value pair " +
			"(missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential'."},
		{"unknown parameter", "AWS4-HMAC-SHA256 Credential=a/20261121/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=host, Signature=00, Foo=bar", ""},
		{"duplicate parameter", "AWS4-HMAC-SHA256 Credential=a/20261121/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=host, Signature=00, Signature=01", ""},
		{"short credential", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1, SignedHeaders=host, Signature=00", ""},
		{"bad terminator", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws5_request, " +
			"SignedHeaders=host, Signature=00", "Credential should be scoped with a valid terminator: 'aws4_request', " +
			"not 'aws5_request'. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/" +
			"aws5_request, SignedHeaders=host, Signature=00"},
		{"bad scope date", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261321/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=host, Signature=00", ""},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121//cloudtrail/aws4_request, " +
			"SignedHeaders=host, Signature=00", ""},
		{"bad signed headers", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=host;;x-amz-date, Signature=00", ""},
		{"duplicate signed header", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=host;Host, Signature=00", ""},
		{"host not signed", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=x-amz-date, Signature=00", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := lookupEvents.build(t, "cloudtrail.example")
			r.Header.Set("X-Amz-Date", "20261121T055900Z")
			r.Header.Set("Authorization", tc.value)
			_, err := newVerifier().Verify(t.Context(), r, lookupEvents.body)
			checkError(t, err, sigv4.ErrIncomplete, tc.msg)
		})
	}
}

func TestVerifyLookupFailure(t *testing.T) {
	errDown := errors.New("key store down")
	v := sigv4.NewVerifier(func(context.Context, string) (string, error) { return "", errDown }, sigv4.Options{
		Now: func() time.Time { return now },
	})
	r := lookupEvents.build(t, "cloudtrail.example")
	signer{service: "cloudtrail"}.sign(t, r, lookupEvents.body)
	_, err := v.Verify(t.Context(), r, lookupEvents.body)
	if !errors.Is(err, errDown) {
		t.Fatalf("Verify error = %v, want it to wrap %v", err, errDown)
	}
	var e *sigv4.Error
	if errors.As(err, &e) {
		t.Errorf("Verify error %v is a *sigv4.Error; a lookup failure is not an authentication failure", err)
	}
}

func TestVerifyDoesNotConsumeBody(t *testing.T) {
	r := lookupEvents.build(t, "cloudtrail.example")
	signer{service: "cloudtrail"}.sign(t, r, lookupEvents.body)
	if _, err := newVerifier().Verify(t.Context(), r, lookupEvents.body); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lookupEvents.body, got); diff != "" {
		t.Errorf("body after Verify (-want +got):\n%s", diff)
	}
}

// A Signature Version 2 request declares no payload hash; VerifyHeaders
// still names the signature version rather than the missing header.
func TestVerifyHeadersSignatureV2(t *testing.T) {
	r, err := http.NewRequest(http.MethodGet, "http://objects.example:9000/bucket/key", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", now.Format(http.TimeFormat))
	r.Header.Set("Authorization", "AWS "+accessKeyID+":frJIUN8DYpKDtOLCwo//yllqDzg=")
	_, err = newVerifier().VerifyHeaders(t.Context(), r)
	checkError(t, err, sigv4.ErrSignatureV2, "")
}
