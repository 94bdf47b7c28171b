package s3api_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
)

// fsEnv is an env over a real embedded store, with bucket "abucket" owned
// by account A and "bbucket" (holding "secret" and "dir/secret") by B.
func fsEnv(t *testing.T) (*env, *fsbucket.Store) {
	t.Helper()
	st, err := fsbucket.Open(t.TempDir(), fsbucket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for b, owner := range map[string]string{"abucket": accountA, "bbucket": accountB} {
		if err := st.CreateBucket(ctx, b, objstore.BucketOptions{Owner: owner}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"secret", "dir/secret"} {
		if err := st.Put(ctx, "bbucket", k, []byte("top secret"), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Put(ctx, "abucket", "mine", []byte("mine"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return newEnv(t, envOptions{backend: st}), st
}

// checkBIntact fails the test if B's objects changed.
func checkBIntact(t *testing.T, st *fsbucket.Store) {
	t.Helper()
	page, err := st.List(t.Context(), "bbucket", "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
		if o.Size != int64(len("top secret")) {
			t.Errorf("bbucket/%s has size %d: overwritten", o.Key, o.Size)
		}
	}
	if strings.Join(keys, ",") != "dir/secret,secret" {
		t.Errorf("bbucket keys = %v, want dir/secret,secret", keys)
	}
	bs, err := st.ListBuckets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 {
		t.Errorf("buckets = %+v, want abucket and bbucket only", bs)
	}
}

// wantNoLeak fails if a response succeeded or carries B's data.
func wantNoLeak(t *testing.T, name string, resp rawResponse) {
	t.Helper()
	if resp.status < 400 {
		t.Errorf("%s: status %d, want an error:\n%s\n%s", name, resp.status, resp.head, resp.body)
	}
	if resp.status >= 500 && resp.status != http.StatusNotImplemented {
		t.Errorf("%s: status %d (server error):\n%s", name, resp.status, resp.body)
	}
	if bytes.Contains(resp.body, []byte("top secret")) || bytes.Contains(resp.body, []byte("<Key>secret")) ||
		bytes.Contains(resp.body, []byte("bbucket</Name>")) {
		t.Errorf("%s: response leaks B's data:\n%s", name, resp.body)
	}
}

var allMethods = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete,
	http.MethodOptions, http.MethodPatch, "PROPFIND", "COPY", "get"}

var oddPaths = []string{
	"/", "//", "/bbucket", "/bbucket/", "/bbucket/secret", "//bbucket/secret", "/bbucket//secret",
	"/abucket/../bbucket/secret", "/abucket/%2e%2e/bbucket/secret", "/abucket%2F..%2Fbbucket%2Fsecret",
	"/bbucket%2Fsecret", "/bbucket/dir%2Fsecret", "/bbucket/./secret", "/BBUCKET/secret", "/bbucket?list-type=2",
	"/bbucket?location", "/bbucket/secret?versionId=null", "/bbucket/secret?response-content-type=x",
	"/%62bucket/secret", "/.meta/buckets/bbucket.json", "/abucket/..%2F..%2F.meta%2Fbuckets%2Fbbucket.json",
}

// TestAnonymousNeverServed sends every method to every odd path without a
// signature: nothing may succeed or change the store.
func TestAnonymousNeverServed(t *testing.T) {
	e, st := fsEnv(t)
	for _, m := range allMethods {
		for _, p := range oddPaths {
			r := e.request(t, nil, m, p, []byte("overwrite"), "", map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
			wantNoLeak(t, m+" "+p, e.do(t, r))
		}
	}
	checkBIntact(t, st)
}

// TestCrossAccount sends A's signed requests at B's bucket through every
// method and odd path: all are refused and B's objects stay.
func TestCrossAccount(t *testing.T) {
	e, st := fsEnv(t)
	for _, m := range allMethods {
		for _, p := range oddPaths {
			if p == "/" || p == "//" {
				continue
			}
			body := []byte("overwrite")
			if m == http.MethodPut && !strings.Contains(strings.TrimPrefix(p, "/"), "/") {
				body = nil // CreateBucket
			}
			for _, hdr := range []map[string]string{nil, {"Range": "bytes=0-3"}, {"If-None-Match": "*"}} {
				r := e.request(t, &e.keyA, m, p, body, "", hdr)
				resp := e.do(t, r)
				if m == http.MethodDelete && strings.HasPrefix(p, "/abucket") && resp.status == http.StatusNoContent {
					continue // a key in A's bucket that cannot exist: deleting it is a no-op
				}
				wantNoLeak(t, m+" "+p, resp)
			}
		}
	}
	checkBIntact(t, st)
	// ListBuckets shows only A's.
	resp := e.do(t, e.request(t, &e.keyA, http.MethodGet, "/", nil, "", nil))
	if resp.status != 200 || bytes.Contains(resp.body, []byte("bbucket")) || !bytes.Contains(resp.body, []byte("abucket")) {
		t.Errorf("ListBuckets for A: %d\n%s", resp.status, resp.body)
	}
}

// TestBadInputNeverCrashes sends keys, prefixes and headers the embedded
// store cannot hold to A's own bucket: every answer is a 4xx S3 error
// document (no body for HEAD), never a 5xx.
func TestBadInputNeverCrashes(t *testing.T) {
	e, _ := fsEnv(t)
	long := strings.Repeat("x", 256)
	keys := []string{
		"a%00b", "..", ".", "a/..", "a/./b", "./a", "a//b", "a/", "%2Fa", long, "d/" + long + "/e",
		"mine/below", "a%5C..%5Cb", "%E2%80%AE", "%FF%FE", "%C0%AE%C0%AE/x", strings.Repeat("k/", 300) + "k",
		".meta", ".tmp/x", "a%0d%0aSet-Cookie:%20x",
	}
	for _, k := range keys {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
			resp := e.do(t, e.request(t, &e.keyA, m, "/abucket/"+k, []byte("x"), "", nil))
			checkErrorShape(t, m+" "+k, m, resp)
		}
		// The conflicting key "mine/below" must not be stored, the others may be.
	}
	queries := []string{
		"prefix=%00", "prefix=../", "prefix=a/../../", "prefix=%FF", "marker=%FF%FF", "delimiter=%00",
		"list-type=2&start-after=%FF", "list-type=2&continuation-token=MTo%3D", "max-keys=-1", "max-keys=99999999999999999999",
		"prefix=" + long + "/", "encoding-type=url&prefix=%01", "prefix=mine/",
	}
	for _, q := range queries {
		resp := e.do(t, e.request(t, &e.keyA, http.MethodGet, "/abucket?"+q, nil, "", nil))
		if resp.status >= 500 {
			t.Errorf("list ?%s: %d\n%s", q, resp.status, resp.body)
		}
	}
	for _, rng := range []string{"bytes=4-", "bytes=-0", "bytes=0-0,1-1", "bytes=99999999999999999999999-", "bytes=3-1", "bytes= -"} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			resp := e.do(t, e.request(t, &e.keyA, m, "/abucket/mine", nil, "", map[string]string{"Range": rng}))
			if resp.status >= 500 || resp.status == http.StatusRequestedRangeNotSatisfiable && m == http.MethodHead && len(resp.body) > 0 {
				t.Errorf("%s Range %s: %d\n%s", m, rng, resp.status, resp.body)
			}
		}
	}
}

// checkErrorShape accepts a success, or an error that is a 4xx with an S3
// error document (none for HEAD).
func checkErrorShape(t *testing.T, name, method string, resp rawResponse) {
	t.Helper()
	if resp.status < 300 {
		return
	}
	if resp.status >= 500 {
		t.Errorf("%s: %d\n%s", name, resp.status, resp.body)
		return
	}
	if method == http.MethodHead {
		if len(resp.body) != 0 {
			t.Errorf("%s: HEAD error with a body: %q", name, resp.body)
		}
		return
	}
	if errorCode(resp.body) == "" || resp.header.Get("Content-Type") != "application/xml" {
		t.Errorf("%s: %d without an S3 error document:\n%s\n%s", name, resp.status, resp.head, resp.body)
	}
}

// TestPresigned checks presigned URLs: they expire, they do not reach
// another account's bucket, and their signature binds method, path and
// query.
func TestPresigned(t *testing.T) {
	var now atomic.Pointer[time.Time]
	st, err := fsbucket.Open(t.TempDir(), fsbucket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	for b, owner := range map[string]string{"abucket": accountA, "bbucket": accountB} {
		if err := st.CreateBucket(ctx, b, objstore.BucketOptions{Owner: owner}); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, b, "obj", []byte("top secret"), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t, envOptions{backend: st, now: func() time.Time {
		if p := now.Load(); p != nil {
			return *p
		}
		return time.Now()
	}})
	ps := s3.NewPresignClient(e.client(t, e.keyA))
	get := func(bucket string, expires time.Duration) string {
		t.Helper()
		req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj")},
			s3.WithPresignExpires(expires))
		if err != nil {
			t.Fatal(err)
		}
		return req.URL
	}
	fetch := func(method, u string) rawResponse {
		t.Helper()
		r, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e.do(t, r)
	}
	if resp := fetch(http.MethodGet, get("abucket", time.Minute)); resp.status != http.StatusOK {
		t.Fatalf("own presigned GET: %d %s", resp.status, resp.body)
	}
	wantNoLeak(t, "presigned GET of B's object", fetch(http.MethodGet, get("bbucket", time.Minute)))
	u := get("abucket", time.Minute)
	for name, v := range map[string]string{
		"other method":   http.MethodDelete,
		"added query":    "",
		"swapped bucket": "",
	} {
		target := u
		switch name {
		case "added query":
			target = u + "&prefix=x"
		case "swapped bucket":
			target = strings.Replace(u, "/abucket/", "/bbucket/", 1)
		}
		method := v
		if method == "" {
			method = http.MethodGet
		}
		resp := fetch(method, target)
		if resp.status != http.StatusForbidden {
			t.Errorf("%s: %d %s", name, resp.status, resp.body)
		}
	}
	later := time.Now().Add(2 * time.Minute)
	now.Store(&later)
	resp := fetch(http.MethodGet, u)
	if resp.status != http.StatusForbidden || errorCode(resp.body) != "AccessDenied" ||
		!bytes.Contains(resp.body, []byte("<Message>Request has expired</Message>")) {
		t.Errorf("expired presigned GET: %d %s", resp.status, resp.body)
	}
	// A URL dated beyond the allowed skew ahead of the server's clock is
	// not valid yet (the Go SDK's presigner, with the server an hour
	// behind).
	earlier := time.Now().Add(-time.Hour)
	now.Store(&earlier)
	resp = fetch(http.MethodGet, get("abucket", time.Minute))
	if resp.status != http.StatusForbidden || errorCode(resp.body) != "AccessDenied" ||
		!bytes.Contains(resp.body, []byte("<Message>Request is not valid yet</Message>")) {
		t.Errorf("presigned GET from the future: %d %s", resp.status, resp.body)
	}
	// Ahead by less than the skew it is valid.
	earlier = time.Now().Add(-10 * time.Minute)
	now.Store(&earlier)
	if resp := fetch(http.MethodGet, get("abucket", time.Minute)); resp.status != http.StatusOK {
		t.Errorf("presigned GET 10 minutes ahead: %d %s", resp.status, resp.body)
	}
	// A URL presigned for another service is refused.
	signer := v4.NewSigner()
	r, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/abucket/obj", nil)
	signed, _, err := signer.PresignHTTP(ctx, aws.Credentials{AccessKeyID: e.keyA.AccessKeyID,
		SecretAccessKey: e.keyA.SecretAccessKey}, r, "UNSIGNED-PAYLOAD", "cloudtrail", region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	now.Store(nil)
	if resp := fetch(http.MethodGet, signed+"&X-Amz-Expires=60"); resp.status < 400 || resp.status >= 500 {
		t.Errorf("presigned for cloudtrail: %d %s", resp.status, resp.body)
	}
}

// TestBodyFraming sends bodies that do not match their framing: the
// object is never stored and the answer is a 400 S3 error.
func TestBodyFraming(t *testing.T) {
	e, st := fsEnv(t)
	send := func(t *testing.T, raw []byte) rawResponse {
		t.Helper()
		conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		conn.(*net.TCPConn).CloseWrite()
		data, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if err != nil {
			t.Fatalf("%v: %q", err, data)
		}
		body, _ := io.ReadAll(resp.Body)
		return rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
	}
	wire := func(t *testing.T, r *http.Request) []byte {
		t.Helper()
		var buf bytes.Buffer
		if err := r.Write(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	t.Run("truncated body", func(t *testing.T) {
		r := e.request(t, &e.keyA, http.MethodPut, "/abucket/short", bytes.Repeat([]byte("x"), 100), "UNSIGNED-PAYLOAD", nil)
		raw := wire(t, r)
		resp := send(t, raw[:len(raw)-90])
		if resp.status != http.StatusBadRequest || errorCode(resp.body) != "IncompleteBody" {
			t.Errorf("truncated body: %d %s", resp.status, resp.body)
		}
		if _, err := st.Head(t.Context(), "abucket", "short"); !errors.Is(err, objstore.ErrNoSuchKey) {
			t.Errorf("truncated upload stored: %v", err)
		}
	})
	chunked := func(t *testing.T, key, raw string, hdr map[string]string) rawResponse {
		t.Helper()
		h := map[string]string{"Content-Encoding": "aws-chunked"}
		for k, v := range hdr {
			h[k] = v
		}
		return e.do(t, e.request(t, &e.keyA, http.MethodPut, "/abucket/"+key, []byte(raw), "STREAMING-UNSIGNED-PAYLOAD-TRAILER", h))
	}
	for name, tc := range map[string]struct {
		raw string
		hdr map[string]string
	}{
		"declared trailer missing": {"5\r\nhello\r\n0\r\n\r\n",
			map[string]string{"X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32"}},
		"decoded length too short":  {"5\r\nhello\r\n0\r\n\r\n", map[string]string{"X-Amz-Decoded-Content-Length": "4"}},
		"decoded length too long":   {"5\r\nhello\r\n0\r\n\r\n", map[string]string{"X-Amz-Decoded-Content-Length": "6"}},
		"chunk shorter than size":   {"6\r\nhello\r\n0\r\n\r\n", nil},
		"chunk longer than size":    {"4\r\nhello\r\n0\r\n\r\n", nil},
		"no final chunk":            {"5\r\nhello\r\n", nil},
		"huge chunk size":           {"ffffffffffffffff\r\nhello\r\n0\r\n\r\n", nil},
		"negative chunk size":       {"-5\r\nhello\r\n0\r\n\r\n", nil},
		"data after trailers":       {"5\r\nhello\r\n0\r\n\r\nmore", nil},
		"undeclared trailer":        {"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", nil},
		"bad decoded length header": {"5\r\nhello\r\n0\r\n\r\n", map[string]string{"X-Amz-Decoded-Content-Length": "five"}},
	} {
		t.Run(name, func(t *testing.T) {
			key := strings.ReplaceAll(name, " ", "-")
			resp := chunked(t, key, tc.raw, tc.hdr)
			if resp.status != http.StatusBadRequest || errorCode(resp.body) == "" {
				t.Errorf("%d %s", resp.status, resp.body)
			}
			if _, err := st.Head(t.Context(), "abucket", key); !errors.Is(err, objstore.ErrNoSuchKey) {
				t.Errorf("malformed upload stored: %v", err)
			}
		})
	}
	t.Run("declared trailer present", func(t *testing.T) {
		resp := chunked(t, "good", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
			map[string]string{"X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32"})
		if resp.status != http.StatusOK {
			t.Errorf("%d %s", resp.status, resp.body)
		}
	})
}

// TestNoHeaderInjection stores metadata and a key holding CR LF (as a
// hand-edited or foreign store could) and checks that GetObject's
// response gains no header lines from them.
func TestNoHeaderInjection(t *testing.T) {
	e, st := fsEnv(t)
	if err := st.Put(t.Context(), "abucket", "inj", []byte("x"), objstore.PutOptions{
		ContentType: "text/plain\r\nSet-Cookie: ct=1",
		Metadata:    map[string]string{"a": "v\r\nSet-Cookie: meta=1", "b\r\nset-cookie: name": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"", "?response-content-disposition=x%0d%0aSet-Cookie:%20q=1"} {
		resp := e.do(t, e.request(t, &e.keyA, http.MethodGet, "/abucket/inj"+q, nil, "", nil))
		if resp.status != http.StatusOK {
			t.Fatalf("GET: %d %s", resp.status, resp.body)
		}
		if resp.header.Get("Set-Cookie") != "" || strings.Contains(strings.ToLower(resp.head), "\r\nset-cookie") {
			t.Errorf("header injected:\n%s", resp.head)
		}
	}
}

// Signature Version 2, hand-built with a correct signature, in the query
// string and in the Authorization header: S3's answer in SigV4-only
// regions, and nothing recorded.
func TestSignatureV2(t *testing.T) {
	e, _ := fsEnv(t)
	sign := func(sts string) string {
		m := hmac.New(sha1.New, []byte(e.keyA.SecretAccessKey))
		m.Write([]byte(sts))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	expires := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	query := "/abucket/mine?AWSAccessKeyId=" + e.keyA.AccessKeyID + "&Expires=" + expires +
		"&Signature=" + url.QueryEscape(sign("GET\n\n\n"+expires+"\n/abucket/mine"))
	date := time.Now().UTC().Format(http.TimeFormat)
	tests := []struct {
		name string
		req  *http.Request
	}{
		{"presigned URL", e.request(t, nil, http.MethodGet, query, nil, "", nil)},
		{"Authorization header", e.request(t, nil, http.MethodGet, "/abucket/mine", nil, "", map[string]string{
			"Date": date, "Authorization": "AWS " + e.keyA.AccessKeyID + ":" + sign("GET\n\n\n"+date+"\n/abucket/mine")})},
		{"Authorization header on PUT", e.request(t, nil, http.MethodPut, "/abucket/v2", []byte("x"), "", map[string]string{
			"Date": date, "Content-Type": "text/plain",
			"Authorization": "AWS " + e.keyA.AccessKeyID + ":" + sign("PUT\n\ntext/plain\n"+date+"\n/abucket/v2")})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(t, tt.req)
			const msg = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
			if resp.status != http.StatusBadRequest || errorCode(resp.body) != "InvalidRequest" ||
				!bytes.Contains(resp.body, []byte("<Message>"+msg+"</Message>")) {
				t.Errorf("%d %s", resp.status, resp.body)
			}
		})
	}
	if evs := e.events.take(); len(evs) != 0 {
		t.Errorf("%d records of SigV2 requests", len(evs))
	}
}
