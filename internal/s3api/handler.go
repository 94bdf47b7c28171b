package s3api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// Authenticator verifies a request's SigV4 signature over its body; it has
// the shape of internal/api's and [identity.Authenticator] implements it.
//
// AuthenticateHeaders MUST return an error wrapping one of the sigv4
// sentinels (ErrMissingAuth, ErrIncomplete, ErrUnknownKey,
// ErrSignatureMismatch, ErrExpired), optionally inside a *sigv4.Error
// whose Message is shown to the client, when the request is not authentic.
// It checks the signature from the request line and headers alone, before
// the body is read, so an unauthenticated upload is refused without being
// buffered; it returns the body hash the request declared
// (X-Amz-Content-Sha256), which the handler checks once it has read the
// body, or nil for an unsigned payload. On success the Caller's Region and
// Service MUST be the credential scope's. It MUST NOT read r.Body.
type Authenticator interface {
	AuthenticateHeaders(r *http.Request) (identity.Caller, []byte, error)
}

// Store is the object store as the S3 front end uses it: every method of
// [objstore.Store], with its contract. HeadBucket MUST report the owner
// the bucket was created with (BucketOptions.Owner); an empty Owner means
// the store does not track owners and every authenticated caller may use
// the bucket.
type Store interface {
	CreateBucket(ctx context.Context, bucket string, opt objstore.BucketOptions) error
	HeadBucket(ctx context.Context, bucket string) (objstore.Bucket, error)
	ListBuckets(ctx context.Context) ([]objstore.Bucket, error)
	Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error
	// PutIfAbsent serves PutObject with If-None-Match: *; it MUST check
	// and write atomically and return objstore.ErrExists when an object
	// exists at the key.
	PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error)
	Head(ctx context.Context, bucket, key string) (objstore.Object, error)
	List(ctx context.Context, bucket, prefix, after string, max int) (objstore.ListPage, error)
	Delete(ctx context.Context, bucket, key string) error
}

var _ Store = objstore.Store(nil)

// Options configure a [Handler]. Start from [DefaultOptions].
type Options struct {
	Auth  Authenticator // required
	Store Store         // required
	// Events records every S3 call (see the package documentation).
	// Required.
	Events EventAppender
	// Now is the clock of eventTime. Default time.Now.
	Now func() time.Time
	// MaxObjectBytes bounds a PutObject body (decoded size for aws-chunked
	// uploads); larger uploads fail with EntityTooLarge. Default 64 MiB,
	// at most 5 GiB.
	MaxObjectBytes int64
	// Logger receives internal errors (with the request id) and, at debug
	// level, refused requests. nil discards logs.
	Logger *slog.Logger
	// VirtualHostDomains are the domains under which a request may name
	// its bucket in the host, virtual-hosted style: a request to
	// BUCKET.DOMAIN[:port]/KEY addresses KEY in BUCKET. Any other host is
	// path-style (/BUCKET/KEY). Default: localhost.
	VirtualHostDomains []string
}

// DefaultMaxObjectBytes is the default [Options.MaxObjectBytes].
const DefaultMaxObjectBytes = 64 << 20

// maxObjectBytesLimit is the largest [Options.MaxObjectBytes] New accepts:
// S3's limit on a single PUT. (Bodies are held in memory; the bound also
// keeps the read limits derived from it far from overflow.)
const maxObjectBytesLimit = 5 << 30

// maxRequestBodyBytes bounds the body of every request but PutObject
// (CreateBucket's configuration document).
const maxRequestBodyBytes = 1 << 20

// DefaultOptions returns the defaults: 64 MiB objects, logs to
// [slog.Default].
func DefaultOptions() Options {
	return Options{MaxObjectBytes: DefaultMaxObjectBytes, Logger: slog.Default(), VirtualHostDomains: []string{"localhost"},
		Now: time.Now}
}

// Handler serves the S3 REST API over a [Store]. It is safe for concurrent
// use.
type Handler struct {
	auth   Authenticator
	store  Store
	events EventAppender
	now    func() time.Time
	maxObj int64
	log    *slog.Logger
	vhosts []string // lower-case domains, see Options.VirtualHostDomains
}

// New returns a Handler. Auth, Store and Events are required; a zero
// MaxObjectBytes takes the default.
func New(opts Options) (*Handler, error) {
	if opts.Auth == nil {
		return nil, errors.New("s3api: Options.Auth is required")
	}
	if opts.Store == nil {
		return nil, errors.New("s3api: Options.Store is required")
	}
	if opts.Events == nil {
		return nil, errors.New("s3api: Options.Events is required")
	}
	if opts.MaxObjectBytes < 0 {
		return nil, fmt.Errorf("s3api: Options.MaxObjectBytes is negative (%d)", opts.MaxObjectBytes)
	}
	if opts.MaxObjectBytes > maxObjectBytesLimit {
		return nil, fmt.Errorf("s3api: Options.MaxObjectBytes %d is above %d (5 GiB, S3's largest single PUT)",
			opts.MaxObjectBytes, int64(maxObjectBytesLimit))
	}
	if opts.MaxObjectBytes == 0 {
		opts.MaxObjectBytes = DefaultMaxObjectBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{auth: opts.Auth, store: opts.Store, events: opts.Events, now: opts.Now,
		maxObj: opts.MaxObjectBytes, log: log}
	if h.now == nil {
		h.now = time.Now
	}
	for _, d := range opts.VirtualHostDomains {
		if d = strings.Trim(strings.ToLower(d), "."); d != "" {
			h.vhosts = append(h.vhosts, d)
		}
	}
	return h, nil
}

// Log attribute keys.
const (
	logKeyRequestID = "request_id"
	logKeyMethod    = "method"
	logKeyPath      = "path"
	logKeyCode      = "code"
	logKeyErr       = "err"
	logKeyOperation = "operation"
)

// reqCtx is the per-request state.
type reqCtx struct {
	id, hostID string
	body       []byte
	caller     identity.Caller
	bucket     string
	key        string
	objectSize int64 // for InvalidRange's Content-Range; -1 when unknown

	// What the record of the call needs (record.go).
	op            *s3op // nil: the request names no S3 operation
	authenticated bool  // the caller is verified: the call is recorded
	anonymous     bool  // unsigned: recorded for the bucket's owner only
	bytesIn       int64 // request payload bytes (decoded for aws-chunked)
	region        string
	failure       *s3Error // the error sent, nil on success

	// The bucket as looked up once (lookupBucket).
	looked    bool
	bucketRec objstore.Bucket
	bucketErr error
}

// ServeHTTP serves one S3 request (path-style: /bucket/key). The reply is
// decided first, the call recorded, and only then is the reply sent: a
// client never learns the outcome of a call whose record is not durable.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := &reqCtx{objectSize: -1}
	rc.id, rc.hostID = newRequestID()
	rp := newReply()
	if err := h.serve(rp, r, rc); err != nil {
		h.errorReply(rp, r, rc, err)
	}
	// The record must be durable before the client learns the outcome; a
	// client that has gone away must not stop it either.
	if err := h.record(context.WithoutCancel(r.Context()), r, rc, rp); err != nil {
		h.log.WarnContext(r.Context(), "s3: recording the call failed; the client gets an error instead of the result",
			slog.String(logKeyRequestID, rc.id), slog.String(logKeyOperation, rc.op.Name), slog.Any(logKeyErr, err))
		rp.discard()
		rp = newReply()
		h.errorReply(rp, r, rc, err)
	}
	hdr := w.Header()
	hdr.Set("x-amz-request-id", rc.id)
	hdr.Set("x-amz-id-2", rc.hostID)
	hdr.Set("Server", "OpenTrail")
	if err := rp.send(w, r); err != nil {
		// The status line is out; all that can be done is to log and
		// cut the response short, which the client sees as a short body.
		// Usually the client went away.
		h.log.WarnContext(r.Context(), "s3: sending the response failed",
			slog.String(logKeyRequestID, rc.id), slog.String(logKeyPath, r.URL.Path), slog.Any(logKeyErr, err))
		panic(http.ErrAbortHandler)
	}
}

// serve reads, authenticates and routes the request, filling rp.
func (h *Handler) serve(rp *reply, r *http.Request, rc *reqCtx) error {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") {
		return newErr(http.StatusBadRequest, codeInvalidRequest, "The request path must start with '/'.")
	}
	if b, ok := h.virtualBucket(r.Host); ok {
		rc.bucket, rc.key = b, p[1:]
	} else {
		rc.bucket, rc.key, _ = strings.Cut(p[1:], "/")
	}
	rc.op = classify(r.Method, rc.bucket, rc.key, p, r.URL.Query(), r.Header)

	if err := checkStreamingMode(r); err != nil {
		return err
	}
	// (A Signature Version 2 header sends no x-amz-content-sha256; sigv4
	// refuses it by name.)
	if authz := r.Header.Get("Authorization"); authz != "" && !strings.HasPrefix(authz, "AWS ") &&
		len(r.Header.Values("X-Amz-Content-Sha256")) == 0 {
		return newErr(http.StatusBadRequest, codeMissingSecurityHeader,
			"Your request was missing a required header.").with("MissingHeaderName", "x-amz-content-sha256")
	}
	// Authenticate before reading the body: nobody unauthenticated gets
	// to make the server buffer an upload.
	caller, declared, err := h.auth.AuthenticateHeaders(r)
	if err != nil {
		// An unsigned request is recorded for the owner of the bucket it
		// names (s3-events.md §3); other authentication failures are not
		// recorded: no verified account owns them.
		rc.anonymous = errors.Is(err, sigv4.ErrMissingAuth)
		return err
	}
	body, err := h.readBody(r, rc)
	if err != nil {
		return err
	}
	rc.body, rc.bytesIn = body, int64(len(body))
	if declared != nil {
		if sum := sha256.Sum256(body); !bytes.Equal(sum[:], declared) {
			return newErr(http.StatusBadRequest, codeContentSHA256Mismatch,
				"The provided 'x-amz-content-sha256' header does not match what was computed.").
				with("ClientComputedContentSHA256", hex.EncodeToString(declared)).with("S3ComputedContentSHA256", hex.EncodeToString(sum[:]))
		}
	}
	if caller.Service != signingService {
		return newErr(http.StatusBadRequest, codeAuthHeaderMalformed,
			"The authorization header is malformed; incorrect service %q. This endpoint belongs to %q.",
			caller.Service, signingService)
	}
	if caller.Region == "" {
		return newErr(http.StatusBadRequest, codeAuthHeaderMalformed,
			"The authorization header is malformed; the region is empty.")
	}
	rc.caller, rc.authenticated = caller, true
	return h.route(rp, r, rc)
}

// virtualBucket returns the bucket a virtual-hosted request names in its
// host (BUCKET.DOMAIN[:port] for a domain of Options.VirtualHostDomains).
func (h *Handler) virtualBucket(host string) (string, bool) {
	if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	host = strings.ToLower(host)
	for _, d := range h.vhosts {
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b, true
		}
	}
	return "", false
}

// signingService is the SigV4 service name of the S3 API.
const signingService = "s3"

// isObjectPut reports whether the request is a PutObject (or another PUT
// to a key), whose body may be up to MaxObjectBytes.
func isObjectPut(r *http.Request, rc *reqCtx) bool {
	return r.Method == http.MethodPut && rc.bucket != "" && rc.key != ""
}

// readBody reads the whole body, bounded: MaxObjectBytes for PutObject
// (plus framing for aws-chunked uploads), 1 MiB for anything else.
func (h *Handler) readBody(r *http.Request, rc *reqCtx) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := int64(maxRequestBodyBytes)
	chunked := isAWSChunked(r)
	if isObjectPut(r, rc) {
		limit = h.maxObj
		if chunked {
			if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil || n < 0 {
					return nil, errInvalidArgument("x-amz-decoded-content-length", s,
						"x-amz-decoded-content-length must be a non-negative integer.")
				}
				if n > h.maxObj {
					return nil, errEntityTooLarge(n, h.maxObj)
				}
			}
			limit = chunkedLimit(h.maxObj)
		}
	}
	if r.ContentLength > limit {
		if isObjectPut(r, rc) && !chunked {
			return nil, errEntityTooLarge(r.ContentLength, h.maxObj)
		}
		if isObjectPut(r, rc) {
			return nil, errEntityTooLarge(-1, h.maxObj)
		}
		return nil, newErr(http.StatusBadRequest, "MaxMessageLengthExceeded", "Your request was too big.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, newErr(http.StatusBadRequest, codeIncompleteBody,
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if int64(len(body)) > limit {
		if isObjectPut(r, rc) {
			return nil, errEntityTooLarge(-1, h.maxObj)
		}
		return nil, newErr(http.StatusBadRequest, "MaxMessageLengthExceeded", "Your request was too big.")
	}
	return body, nil
}

// route dispatches an authenticated request.
func (h *Handler) route(w *reply, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	if err := checkSubresources(r, q, rc.key != ""); err != nil {
		return err
	}
	ctx := r.Context()
	switch {
	case rc.bucket == "" && r.URL.Path != "/":
		// "//key" or "//": an empty bucket name, not the service.
		return errInvalidBucketName("")
	case rc.bucket == "":
		if r.Method == http.MethodGet {
			return h.listBuckets(ctx, w, rc, q)
		}
		return errMethodNotAllowed(r.Method, "SERVICE")
	case rc.key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case q.Has("location"):
				return h.getBucketLocation(ctx, w, rc)
			case q.Has("list-type"):
				if q.Get("list-type") != "2" {
					return errInvalidArgument("list-type", q.Get("list-type"), "Invalid List Type specified in Request")
				}
				return h.listObjectsV2(ctx, w, rc, q)
			}
			return h.listObjectsV1(ctx, w, rc, q)
		case http.MethodHead:
			return h.headBucket(ctx, w, rc)
		case http.MethodPut:
			return h.createBucket(ctx, w, r, rc)
		case http.MethodDelete:
			return errNotImplemented("DeleteBucket")
		case http.MethodPost:
			if q.Has("delete") {
				return errNotImplemented("DeleteObjects (POST ?delete)")
			}
			return errNotImplemented("Browser-based upload (POST to a bucket)")
		}
		return errMethodNotAllowed(r.Method, "BUCKET")
	default:
		switch r.Method {
		case http.MethodGet:
			return h.getObject(ctx, w, r, rc, q, true)
		case http.MethodHead:
			return h.getObject(ctx, w, r, rc, q, false)
		case http.MethodPut:
			if r.Header.Get("X-Amz-Copy-Source") != "" {
				return errNotImplemented("CopyObject (x-amz-copy-source)")
			}
			return h.putObject(ctx, w, r, rc)
		case http.MethodDelete:
			return h.deleteObject(ctx, w, rc)
		case http.MethodPost:
			return errNotImplemented("POST on an object (multipart upload, restore, select)")
		}
		return errMethodNotAllowed(r.Method, "OBJECT")
	}
}

// subresources are the S3 query sub-resources the embedded store does not
// implement, with what each one is.
var subresources = map[string]string{
	"accelerate":          "Transfer acceleration (?accelerate)",
	"acl":                 "Access control lists (?acl)",
	"analytics":           "Analytics configuration (?analytics)",
	"attributes":          "GetObjectAttributes (?attributes)",
	"cors":                "CORS configuration (?cors)",
	"delete":              "DeleteObjects (?delete)",
	"encryption":          "Bucket encryption configuration (?encryption)",
	"intelligent-tiering": "Intelligent-Tiering configuration (?intelligent-tiering)",
	"inventory":           "Inventory configuration (?inventory)",
	"legal-hold":          "Object legal hold (?legal-hold)",
	"lifecycle":           "Lifecycle configuration (?lifecycle)",
	"logging":             "Server access logging (?logging)",
	"metrics":             "Metrics configuration (?metrics)",
	"notification":        "Event notifications (?notification)",
	"object-lock":         "Object Lock (?object-lock)",
	"ownershipControls":   "Object ownership controls (?ownershipControls)",
	"partNumber":          "Multipart upload parts (?partNumber)",
	"policy":              "Bucket policies (?policy)",
	"policyStatus":        "Bucket policy status (?policyStatus)",
	"publicAccessBlock":   "Public access block (?publicAccessBlock)",
	"replication":         "Replication (?replication)",
	"requestPayment":      "Requester Pays (?requestPayment)",
	"restore":             "RestoreObject (?restore)",
	"retention":           "Object retention (?retention)",
	"select":              "SelectObjectContent (?select)",
	"session":             "CreateSession (?session)",
	"tagging":             "Tagging (?tagging)",
	"torrent":             "BitTorrent (?torrent)",
	"uploadId":            "Multipart upload (?uploadId)",
	"uploads":             "Multipart upload (?uploads)",
	"versioning":          "Versioning (?versioning)",
	"versions":            "ListObjectVersions (?versions)",
	"website":             "Website hosting (?website)",
}

// checkSubresources refuses unsupported sub-resources and versioned
// access; versionId=null (the only version of an object in an unversioned
// bucket) is accepted on objects.
func checkSubresources(r *http.Request, q map[string][]string, object bool) error {
	for name := range q {
		if what, ok := subresources[name]; ok {
			return errNotImplemented(what)
		}
	}
	if v, ok := q["versionId"]; ok && (!object || len(v) != 1 || v[0] != "null") {
		return errNotImplemented("Versioned access (?versionId)")
	}
	if r.Method == http.MethodPut && r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled") == "true" {
		return errNotImplemented("Object Lock (x-amz-bucket-object-lock-enabled)")
	}
	return nil
}

// ownedBucket returns the bucket if it exists and belongs to the caller's
// account: NoSuchBucket when it does not exist, AccessDenied when another
// account owns it.
func (h *Handler) ownedBucket(ctx context.Context, rc *reqCtx) (objstore.Bucket, error) {
	b, err := h.lookupBucket(ctx, rc)
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket), errors.Is(err, objstore.ErrInvalidBucketName):
		return objstore.Bucket{}, errNoSuchBucket(rc.bucket)
	case err != nil:
		return objstore.Bucket{}, fmt.Errorf("head bucket %q: %w", rc.bucket, err)
	case b.Owner != "" && b.Owner != rc.caller.AccountID:
		return objstore.Bucket{}, errAccessDenied()
	}
	return b, nil
}

// lookupBucket looks the request's bucket up, once per request: the
// handler and the record see the same bucket.
func (h *Handler) lookupBucket(ctx context.Context, rc *reqCtx) (objstore.Bucket, error) {
	if !rc.looked {
		rc.looked = true
		rc.bucketRec, rc.bucketErr = h.store.HeadBucket(ctx, rc.bucket)
	}
	return rc.bucketRec, rc.bucketErr
}

// writeXML sends a 200 response with an XML document.
func writeXML(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		// The documents are built from plain strings; encoding cannot fail.
		panic(fmt.Sprintf("s3api: encode %T: %v", v, err))
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// newRequestID returns an x-amz-request-id (16 uppercase hex digits) and
// an x-amz-id-2 value.
func newRequestID() (id, hostID string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:8])), base64.StdEncoding.EncodeToString(b[8:])
}

// s3Namespace is the XML namespace of S3 documents.
const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// timeFormat is how S3 writes timestamps in XML.
const timeFormat = "2006-01-02T15:04:05.000Z"
