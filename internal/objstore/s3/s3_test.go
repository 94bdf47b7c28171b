package s3

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
	"github.com/opentrail/opentrail/internal/objstore/s3/s3test"
)

func newStore(t *testing.T, endpoint string, mutate ...func(*Options)) *Store {
	t.Helper()
	opts := DefaultOptions()
	opts.Endpoint, opts.AccessKeyID, opts.SecretAccessKey = endpoint, "AKIDEXAMPLE", "secret"
	for _, m := range mutate {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformanceVersity(t *testing.T) {
	endpoint, access, secret := s3test.StartVersity(t)
	s := newStore(t, endpoint, func(o *Options) { o.AccessKeyID, o.SecretAccessKey = access, secret })
	objstoretest.Run(t, func(*testing.T) objstore.Store { return s })
}

func TestVersityErrors(t *testing.T) {
	endpoint, access, secret := s3test.StartVersity(t)
	ctx := t.Context()
	s := newStore(t, endpoint, func(o *Options) { o.AccessKeyID, o.SecretAccessKey = access, secret })
	bucket := objstoretest.BucketName(t)
	if err := s.CreateBucket(ctx, bucket, objstore.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.CreateBucket(ctx, bucket, objstore.BucketOptions{})
	if !errors.Is(err, objstore.ErrBucketExists) || ErrorCode(err) == "" || IsTransient(err) {
		t.Errorf("CreateBucket twice: %v (code %q)", err, ErrorCode(err))
	}
	_, err = s.Head(ctx, objstoretest.BucketName(t), "k")
	if ErrorCode(err) != "NoSuchBucket" {
		t.Errorf("Head in a missing bucket: code %q (%v), want NoSuchBucket", ErrorCode(err), err)
	}
	_, err = s.HeadBucket(ctx, objstoretest.BucketName(t))
	if ErrorCode(err) != "NoSuchBucket" || IsTransient(err) {
		t.Errorf("HeadBucket of a missing bucket: code %q (%v), want NoSuchBucket", ErrorCode(err), err)
	}
	_, _, err = s.Get(ctx, bucket, "missing")
	if ErrorCode(err) != "NoSuchKey" || !strings.Contains(err.Error(), "NoSuchKey") {
		t.Errorf("Get of a missing key: code %q, message %q", ErrorCode(err), err)
	}

	bad := newStore(t, endpoint, func(o *Options) { o.AccessKeyID, o.SecretAccessKey = access, "wrong" })
	err = bad.Put(ctx, bucket, "k", []byte("x"), objstore.PutOptions{})
	if !errors.Is(err, objstore.ErrAccessDenied) || IsTransient(err) {
		t.Errorf("Put with a wrong secret: %v (code %q), want ErrAccessDenied", err, ErrorCode(err))
	}
	_, err = bad.HeadBucket(ctx, bucket)
	if !errors.Is(err, objstore.ErrAccessDenied) || ErrorCode(err) != "AccessDenied" {
		t.Errorf("HeadBucket with a wrong secret: %v (code %q), want AccessDenied", err, ErrorCode(err))
	}
}

// request is what a fake server saw.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// fake is an httptest S3 that records requests and answers with handle.
type fake struct {
	mu     sync.Mutex
	reqs   []request
	handle func(w http.ResponseWriter, r *http.Request, n int)
}

func startFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) (*fake, string) {
	f := &fake{handle: handle}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		n := len(f.reqs)
		f.mu.Unlock()
		if f.handle != nil {
			f.handle(w, r, n)
		}
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func TestPutHeaders(t *testing.T) {
	f, url := startFake(t, nil)
	s := newStore(t, url)
	err := s.Put(t.Context(), "trail", "AWSLogs/1/d.json.gz", []byte("body"), objstore.PutOptions{
		ContentType: "application/json",
		Metadata:    map[string]string{"signature": "abc", "Signature-Algorithm": "SHA256withRSA"},
		ACL:         "bucket-owner-full-control",
		SSEKMSKeyID: "arn:aws:kms:us-east-1:123456789012:key/k",
		SSEContext:  "eyJhIjoiYiJ9",
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPut || r.Path != "/trail/AWSLogs/1/d.json.gz" || r.Body != "body" {
		t.Errorf("request %s %s body %q; want a path-style PUT of the body", r.Method, r.Path, r.Body)
	}
	// Header keys as sent: net/http's server canonicalises them, so look
	// for the lower-case metadata names in the raw map too.
	want := map[string]string{
		"Content-Type":                 "application/json",
		"X-Amz-Acl":                    "bucket-owner-full-control",
		"X-Amz-Server-Side-Encryption": "aws:kms",
		"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:us-east-1:123456789012:key/k",
		"X-Amz-Server-Side-Encryption-Context":        "eyJhIjoiYiJ9",
		"X-Amz-Meta-Signature":                        "abc",
		"X-Amz-Meta-Signature-Algorithm":              "SHA256withRSA",
		"Content-Md5":                                 "hBotaJrYa9FhFEdFPCLG/A==",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = r.Header.Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PutObject headers (-want +got):\n%s", diff)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("Content-Encoding = %q, want none", ce)
	}
}

// TestPutIfAbsentHeader: PutIfAbsent is the PutObject of Put plus
// If-None-Match: *, and Put sends no precondition.
func TestPutIfAbsentHeader(t *testing.T) {
	f, url := startFake(t, nil)
	s := newStore(t, url)
	opt := objstore.PutOptions{ContentType: "application/json", Metadata: map[string]string{"signature": "abc"}}
	if err := s.Put(t.Context(), "trail", "d/k", []byte("body"), opt); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(t.Context(), "trail", "d/k", []byte("body"), opt); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, want := range []string{"", "*"} {
		if got := reqs[i].Header.Get("If-None-Match"); got != want {
			t.Errorf("request %d: If-None-Match %q, want %q", i, got, want)
		}
	}
	for _, h := range []string{"Content-Type", "Content-Md5", "X-Amz-Meta-Signature"} {
		if reqs[0].Header.Get(h) != reqs[1].Header.Get(h) {
			t.Errorf("%s: Put sent %q, PutIfAbsent %q", h, reqs[0].Header.Get(h), reqs[1].Header.Get(h))
		}
	}
	if reqs[1].Method != http.MethodPut || reqs[1].Path != "/trail/d/k" || reqs[1].Body != "body" {
		t.Errorf("PutIfAbsent sent %s %s body %q", reqs[1].Method, reqs[1].Path, reqs[1].Body)
	}
}

// TestMetadataKeysOnTheWire checks that metadata header names go out in
// lower case: servers that keep the case they get would otherwise hand
// botocore the key "Signature".
func TestMetadataKeysOnTheWire(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		n, _ := c.Read(buf)
		raw <- string(buf[:n])
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	}()
	t.Cleanup(func() { ln.Close() })
	s := newStore(t, "http://"+ln.Addr().String(), func(o *Options) { o.MaxAttempts = 1 })
	_ = s.Put(t.Context(), "trail", "k", []byte("x"), objstore.PutOptions{Metadata: map[string]string{"Signature": "abc"}})
	head := <-raw
	if !strings.Contains(head, "\r\nx-amz-meta-signature: abc\r\n") {
		t.Errorf("request does not carry a lower-case x-amz-meta-signature header:\n%s", head)
	}
}

func TestCreateBucketLocation(t *testing.T) {
	f, url := startFake(t, nil)
	s := newStore(t, url)
	for _, region := range []string{"", "us-east-1", "eu-west-1"} {
		if err := s.CreateBucket(t.Context(), "bucket"+strings.ReplaceAll(region, "-", ""), objstore.BucketOptions{Region: region}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := f.requests()
	for i, wantBody := range []bool{false, false, true} {
		hasBody := strings.Contains(reqs[i].Body, "<LocationConstraint>eu-west-1</LocationConstraint>")
		if reqs[i].Method != http.MethodPut || hasBody != wantBody || (!wantBody && reqs[i].Body != "") {
			t.Errorf("CreateBucket %d: %s %s body %q; want LocationConstraint %v", i, reqs[i].Method, reqs[i].Path, reqs[i].Body, wantBody)
		}
	}
}

func TestListRequest(t *testing.T) {
	f, url := startFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>true</IsTruncated>`+
			`<Contents><Key>a/b</Key><Size>3</Size><ETag>"e"</ETag><LastModified>2024-05-01T12:00:00.000Z</LastModified></Contents></ListBucketResult>`)
	})
	s := newStore(t, url)
	page, err := s.List(t.Context(), "trail", "a/", "a/a", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Key != "a/b" || page.Objects[0].ETag != `"e"` || !page.Truncated {
		t.Errorf("List = %+v", page)
	}
	q := f.requests()[0].Query
	for _, want := range []string{"list-type=2", "prefix=a%2F", "start-after=a%2Fa", "max-keys=2"} {
		if !strings.Contains(q, want) {
			t.Errorf("ListObjectsV2 query %q lacks %q", q, want)
		}
	}
}

// TestRetryResendsBody checks that a retried PutObject sends the whole
// body again.
func TestRetryResendsBody(t *testing.T) {
	f, url := startFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<Error><Code>InternalError</Code><Message>try again</Message></Error>`)
		}
	})
	s := newStore(t, url)
	body := strings.Repeat("0123456789", 10000)
	if err := s.Put(t.Context(), "trail", "k", []byte(body), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d attempts, want 2", len(reqs))
	}
	for i, r := range reqs {
		if r.Body != body {
			t.Errorf("attempt %d sent %d bytes, want %d", i+1, len(r.Body), len(body))
		}
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		code      string
		op        func(s *Store) error
		sentinel  error
		wantCode  string
		transient bool
	}{
		{"NoSuchBucket", 404, "NoSuchBucket", putOp, objstore.ErrNoSuchBucket, "NoSuchBucket", false},
		{"NoSuchKey", 404, "NoSuchKey", getOp, objstore.ErrNoSuchKey, "NoSuchKey", false},
		{"AccessDenied", 403, "AccessDenied", putOp, objstore.ErrAccessDenied, "AccessDenied", false},
		{"InvalidAccessKeyId", 403, "InvalidAccessKeyId", putOp, objstore.ErrAccessDenied, "InvalidAccessKeyId", false},
		{"BucketAlreadyExists", 409, "BucketAlreadyExists", createOp, objstore.ErrBucketExists, "BucketAlreadyExists", false},
		{"BucketAlreadyOwnedByYou", 409, "BucketAlreadyOwnedByYou", createOp, objstore.ErrBucketExists, "BucketAlreadyOwnedByYou", false},
		{"InvalidBucketName", 400, "InvalidBucketName", createOp, objstore.ErrInvalidBucketName, "InvalidBucketName", false},
		{"KeyTooLong", 400, "KeyTooLongError", putOp, objstore.ErrInvalidKey, "KeyTooLongError", false},
		{"ObjectParentIsFile", 409, "ObjectParentIsFile", putOp, objstore.ErrInvalidKey, "ObjectParentIsFile", false},
		{"SlowDown", 503, "SlowDown", putOp, nil, "SlowDown", true},
		{"InternalError", 500, "InternalError", putOp, nil, "InternalError", true},
		{"PreconditionFailed", 412, "PreconditionFailed", putIfAbsentOp, objstore.ErrExists, "PreconditionFailed", false},
		{"ConditionalRequestConflict", 409, "ConditionalRequestConflict", putIfAbsentOp, objstore.ErrUnavailable, "ConditionalRequestConflict", true},
		{"head 404", 404, "", headBucketOp, objstore.ErrNoSuchBucket, "NoSuchBucket", false},
		{"head 403", 403, "", headBucketOp, objstore.ErrAccessDenied, "AccessDenied", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, url := startFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				if tc.code != "" && r.Method != http.MethodHead {
					io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+tc.code+`</Code><Message>m</Message></Error>`)
				}
			})
			s := newStore(t, url, func(o *Options) { o.MaxAttempts = 1 })
			err := tc.op(s)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %v, want errors.Is %v", err, tc.sentinel)
			}
			if got := ErrorCode(err); got != tc.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tc.wantCode)
			}
			if !strings.Contains(err.Error(), tc.wantCode) {
				t.Errorf("message %q lacks the code %q", err, tc.wantCode)
			}
			if got := IsTransient(err); got != tc.transient {
				t.Errorf("IsTransient = %v, want %v", got, tc.transient)
			}
		})
	}
}

func putOp(s *Store) error {
	return s.Put(context.Background(), "trail", "k", []byte("x"), objstore.PutOptions{})
}

func putIfAbsentOp(s *Store) error {
	return s.PutIfAbsent(context.Background(), "trail", "k", []byte("x"), objstore.PutOptions{})
}

func getOp(s *Store) error {
	_, _, err := s.Get(context.Background(), "trail", "k")
	return err
}

func createOp(s *Store) error {
	return s.CreateBucket(context.Background(), "trail", objstore.BucketOptions{})
}

func headBucketOp(s *Store) error {
	_, err := s.HeadBucket(context.Background(), "trail")
	return err
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := newStore(t, "http://"+addr, func(o *Options) { o.MaxAttempts = 1 })
	err = putOp(s)
	if err == nil || !IsTransient(err) || ErrorCode(err) != "" || !errors.Is(err, objstore.ErrUnavailable) {
		t.Errorf("Put to a closed port: %v, IsTransient %v, code %q; want transient (ErrUnavailable) with no code", err, IsTransient(err), ErrorCode(err))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = s.Put(ctx, "trail", "k", nil, objstore.PutOptions{})
	if err == nil || IsTransient(err) || errors.Is(err, objstore.ErrUnavailable) {
		t.Errorf("Put with a canceled context: %v, IsTransient %v; want not transient", err, IsTransient(err))
	}
	if IsTransient(nil) || ErrorCode(nil) != "" {
		t.Error("nil error is transient or has a code")
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{
		{Endpoint: "http://x"},
		{Endpoint: "ftp://x", AccessKeyID: "a", SecretAccessKey: "b"},
		{Endpoint: "localhost:9000", AccessKeyID: "a", SecretAccessKey: "b"},
		{AccessKeyID: "a", SecretAccessKey: "b", MaxAttempts: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

func TestHideWriteTo(t *testing.T) {
	var sawWriteTo bool
	rt := wireFixes{roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_, sawWriteTo = r.Body.(io.WriterTo)
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})}
	req, _ := http.NewRequest(http.MethodPut, "http://x/", io.NopCloser(strings.NewReader("body")))
	if _, ok := req.Body.(io.WriterTo); !ok {
		t.Fatal("test body has no WriteTo to hide")
	}
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if sawWriteTo {
		t.Error("the transport saw a body with WriteTo")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
