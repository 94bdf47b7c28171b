package s3api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/s3api"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// fakeStore is an in-memory objstore.Store.
type fakeStore struct {
	mu      sync.Mutex
	buckets map[string]*fakeBucket
	// failList, when set, makes List fail with a plain error (an
	// unexpected store failure).
	failList error
}

type fakeBucket struct {
	info    objstore.Bucket
	objects map[string]fakeObject
}

type fakeObject struct {
	obj  objstore.Object
	body []byte
	opt  objstore.PutOptions
}

var _ objstore.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore { return &fakeStore{buckets: map[string]*fakeBucket{}} }

func (s *fakeStore) CreateBucket(_ context.Context, bucket string, opt objstore.BucketOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s3api.ValidBucketName(bucket) {
		return fmt.Errorf("create %q: %w", bucket, objstore.ErrInvalidBucketName)
	}
	if _, ok := s.buckets[bucket]; ok {
		return fmt.Errorf("create %q: %w", bucket, objstore.ErrBucketExists)
	}
	region := opt.Region
	if region == "" {
		region = "us-east-1"
	}
	s.buckets[bucket] = &fakeBucket{
		info:    objstore.Bucket{Name: bucket, CreationDate: time.Now().UTC(), Region: region, Owner: opt.Owner},
		objects: map[string]fakeObject{},
	}
	return nil
}

func (s *fakeStore) bucket(name string) (*fakeBucket, error) {
	b, ok := s.buckets[name]
	if !ok {
		return nil, fmt.Errorf("bucket %q: %w", name, objstore.ErrNoSuchBucket)
	}
	return b, nil
}

func (s *fakeStore) HeadBucket(_ context.Context, bucket string) (objstore.Bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucket)
	if err != nil {
		return objstore.Bucket{}, err
	}
	return b.info, nil
}

func (s *fakeStore) ListBuckets(context.Context) ([]objstore.Bucket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []objstore.Bucket
	for _, b := range s.buckets {
		out = append(out, b.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *fakeStore) Put(_ context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	return s.put(bucket, key, body, opt, false)
}

func (s *fakeStore) PutIfAbsent(_ context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	return s.put(bucket, key, body, opt, true)
}

func (s *fakeStore) PutFile(_ context.Context, bucket, key, path string, opt objstore.PutOptions) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return s.put(bucket, key, body, opt, false)
}

func (s *fakeStore) put(bucket, key string, body []byte, opt objstore.PutOptions, ifAbsent bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucket)
	if err != nil {
		return err
	}
	if key == "" {
		return objstore.ErrInvalidKey
	}
	if _, ok := b.objects[key]; ok && ifAbsent {
		return fmt.Errorf("put %q: %w", key, objstore.ErrExists)
	}
	sum := md5.Sum(body)
	md := map[string]string{}
	for k, v := range opt.Metadata {
		md[k] = v
	}
	b.objects[key] = fakeObject{
		obj: objstore.Object{Key: key, Size: int64(len(body)), LastModified: time.Now().UTC().Truncate(time.Millisecond),
			ETag: `"` + hex.EncodeToString(sum[:]) + `"`, ContentType: opt.ContentType, Metadata: md},
		body: bytes.Clone(body),
		opt:  opt,
	}
	return nil
}

func (s *fakeStore) object(bucket, key string) (fakeObject, error) {
	b, err := s.bucket(bucket)
	if err != nil {
		return fakeObject{}, err
	}
	o, ok := b.objects[key]
	if !ok {
		return fakeObject{}, fmt.Errorf("%s/%s: %w", bucket, key, objstore.ErrNoSuchKey)
	}
	return o, nil
}

func (s *fakeStore) Get(_ context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.object(bucket, key)
	if err != nil {
		return nil, objstore.Object{}, err
	}
	return io.NopCloser(bytes.NewReader(o.body)), o.obj, nil
}

func (s *fakeStore) Head(_ context.Context, bucket, key string) (objstore.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.object(bucket, key)
	return o.obj, err
}

func (s *fakeStore) List(_ context.Context, bucket, prefix, after string, max int) (objstore.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failList != nil {
		return objstore.ListPage{}, s.failList
	}
	b, err := s.bucket(bucket)
	if err != nil {
		return objstore.ListPage{}, err
	}
	var keys []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var page objstore.ListPage
	for i, k := range keys {
		if i == max {
			page.Truncated = true
			break
		}
		page.Objects = append(page.Objects, b.objects[k].obj)
	}
	return page, nil
}

func (s *fakeStore) Delete(_ context.Context, bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucket)
	if err != nil {
		return err
	}
	delete(b.objects, key)
	return nil
}

// Test accounts.
const (
	accountA = "111122223333"
	accountB = "444455556666"
	region   = "us-east-1"
)

// env is a running handler over a fake store with two accounts.
type env struct {
	srv    *httptest.Server
	store  *fakeStore
	events *recorder
	keyA   identity.Key
	keyB   identity.Key
	logs   *syncBuffer
}

// recorder is an s3api.EventAppender keeping what it is given; fail, when
// set, makes Append fail instead.
type recorder struct {
	mu   sync.Mutex
	evs  []event.Event
	fail error
}

func (r *recorder) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return store.AppendResult{}, r.fail
	}
	r.evs = append(r.evs, evs...)
	return store.AppendResult{Appended: len(evs)}, nil
}

// take returns the events recorded so far and forgets them.
func (r *recorder) take() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

func (r *recorder) setFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = err
}

type envOptions struct {
	maxObject int64
	now       func() time.Time // verifier clock
	clock     func() time.Time // eventTime clock
	tls       bool
	wrap      func(http.Handler) http.Handler
	// backend, when set, replaces the fake store (e.store stays unused).
	backend s3api.Store
}

func newEnv(t *testing.T, eo envOptions) *env {
	t.Helper()
	ids, err := identity.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{accountA, accountB} {
		if _, err := ids.EnsureAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{store: newFakeStore(), events: &recorder{}, logs: &syncBuffer{}}
	if e.keyA, err = ids.RootKey(accountA); err != nil {
		t.Fatal(err)
	}
	if e.keyB, err = ids.RootKey(accountB); err != nil {
		t.Fatal(err)
	}
	opts := s3api.DefaultOptions()
	opts.Auth = identity.NewAuthenticator(ids, sigv4.Options{Now: eo.now})
	opts.Store = e.store
	opts.Events = e.events
	if eo.clock != nil {
		opts.Now = eo.clock
	}
	if eo.backend != nil {
		opts.Store = eo.backend
	}
	opts.MaxObjectBytes = eo.maxObject
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := s3api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	if eo.wrap != nil {
		hh = eo.wrap(h)
	}
	if eo.tls {
		e.srv = httptest.NewTLSServer(hh)
	} else {
		e.srv = httptest.NewServer(hh)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// client returns an S3 client signing with key, one attempt per call.
func (e *env) client(t *testing.T, key identity.Key, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	var transport http.RoundTripper
	if e.srv.TLS != nil {
		transport = e.srv.Client().Transport
	} else {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	t.Cleanup(func() {
		if tr, ok := transport.(*http.Transport); ok {
			tr.CloseIdleConnections()
		}
	})
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(e.srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		HTTPClient:   sdktest.HTTPClient(transport),
		Retryer:      aws.NopRetryer{},
		// What config.LoadDefaultConfig sets: checksums on PutObject,
		// x-amz-checksum-mode on GetObject.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, optFns...)
}

// rawResponse is a response read off the wire, header names as sent.
type rawResponse struct {
	status int
	head   string // status line and headers, verbatim
	header http.Header
	body   []byte
}

// do sends r over a fresh connection and reads the response verbatim.
func (e *env) do(t *testing.T, r *http.Request) rawResponse {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r.Close = true
	if err := r.Write(conn); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("response without header end: %q", raw)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), r)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, head: string(head), header: resp.Header, body: body}
}

// request builds a request to the test server; payloadHash "" means the
// SHA-256 of body. It is signed with key unless key is nil.
func (e *env) request(t *testing.T, key *identity.Key, method, target string, body []byte, payloadHash string, hdr map[string]string) *http.Request {
	t.Helper()
	return e.requestFor(t, "s3", key, method, target, body, payloadHash, hdr)
}

// requestFor is request with the credential scope's service.
func (e *env) requestFor(t *testing.T, service string, key *identity.Key, method, target string, body []byte, payloadHash string, hdr map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, e.srv.URL+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if key == nil {
		return r
	}
	if payloadHash == "" {
		payloadHash = hashHex(body)
	}
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(t.Context(), creds, r, payloadHash, service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return r
}

// errorCode extracts the <Code> of an S3 error document.
func errorCode(body []byte) string {
	_, rest, ok := bytes.Cut(body, []byte("<Code>"))
	if !ok {
		return ""
	}
	code, _, _ := bytes.Cut(rest, []byte("</Code>"))
	return string(code)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// decodeURL undoes encoding-type=url.
func decodeURL(t *testing.T, s string) string {
	t.Helper()
	d, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return d
}

// errPlain is an unexpected store failure.
var errPlain = errors.New("disk on fire")

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
