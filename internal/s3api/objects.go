package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/objstore"
)

// maxKeyBytes is S3's limit on object key length.
const maxKeyBytes = 1024

// maxMetadataBytes is S3's limit on user metadata (names and values).
const maxMetadataBytes = 2048

// defaultContentType is what S3 answers for objects stored without one.
const defaultContentType = "binary/octet-stream"

// checkKey refuses keys S3 would refuse.
func checkKey(key string) error {
	if len(key) > maxKeyBytes {
		return newErr(http.StatusBadRequest, codeKeyTooLong, "Your key is too long").
			with("MaxSizeAllowed", strconv.Itoa(maxKeyBytes)).with("Size", strconv.Itoa(len(key)))
	}
	if !utf8.ValidString(key) {
		return errInvalidArgument("key", "", "Object keys must be valid UTF-8.")
	}
	return nil
}

// getObject serves GetObject (withBody) and HeadObject. The body is
// opened, and positioned at the range, here; the reply streams it once
// the call is recorded.
func (h *Handler) getObject(ctx context.Context, w *reply, r *http.Request, rc *reqCtx, q url.Values, withBody bool) error {
	if _, err := h.ownedBucket(ctx, rc); err != nil {
		return err
	}
	if err := checkKey(rc.key); err != nil {
		return err
	}
	var (
		body io.ReadCloser
		obj  objstore.Object
		err  error
	)
	if withBody {
		body, obj, err = h.store.Get(ctx, rc.bucket, rc.key)
	} else {
		obj, err = h.store.Head(ctx, rc.bucket, rc.key)
	}
	switch {
	case errors.Is(err, objstore.ErrNoSuchKey), errors.Is(err, objstore.ErrInvalidKey):
		return errNoSuchKey(rc.bucket, rc.key)
	case err != nil:
		return fmt.Errorf("get %q/%q: %w", rc.bucket, rc.key, err)
	}
	if body != nil {
		defer func() {
			if body != nil {
				body.Close()
			}
		}()
	}
	rc.objectSize = obj.Size

	hdr := w.Header()
	etag := quoteETag(obj.ETag)
	hdr.Set("ETag", etag)
	hdr.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	switch checkPreconditions(r.Header, etag, obj.LastModified) {
	case http.StatusNotModified:
		w.WriteHeader(http.StatusNotModified)
		return nil
	case http.StatusPreconditionFailed:
		return newErr(http.StatusPreconditionFailed, codePreconditionFailed,
			"At least one of the pre-conditions you specified did not hold")
	}

	start, length, ranged, err := parseRange(r.Header.Get("Range"), obj.Size)
	if err != nil {
		return newErr(http.StatusRequestedRangeNotSatisfiable, codeInvalidRange,
			"The requested range is not satisfiable").
			with("RangeRequested", r.Header.Get("Range")).with("ActualObjectSize", strconv.FormatInt(obj.Size, 10))
	}
	if withBody && start > 0 {
		if s, ok := body.(io.Seeker); ok {
			_, err = s.Seek(start, io.SeekStart)
		} else {
			_, err = io.CopyN(io.Discard, body, start)
		}
		if err != nil {
			return fmt.Errorf("get %q/%q: skip to byte %d: %w", rc.bucket, rc.key, start, err)
		}
	}
	ct := obj.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Accept-Ranges", "bytes")
	for k, v := range obj.Metadata {
		// Lowercase names, written straight into the map: botocore
		// exposes metadata keys as sent (spec §9 P1).
		hdr["x-amz-meta-"+strings.ToLower(k)] = []string{v}
	}
	for param, header := range responseOverrides {
		if v := q.Get(param); v != "" {
			hdr.Set(header, v)
		}
	}
	status := http.StatusOK
	if ranged {
		status = http.StatusPartialContent
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, obj.Size))
	}
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if withBody {
		w.streamBody(body, length)
		body = nil // the reply closes it
	}
	return nil
}

// responseOverrides are GetObject's response-* query parameters and the
// headers they set. response-content-encoding is not honoured: objects are
// never served with a Content-Encoding (spec §9 P8).
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
}

// checkPreconditions evaluates If-Match, If-Unmodified-Since,
// If-None-Match and If-Modified-Since as S3 does; it returns 0 when the
// request proceeds, else 304 or 412.
func checkPreconditions(h http.Header, etag string, modified time.Time) int {
	modified = modified.UTC().Truncate(time.Second)
	if im := h.Get("If-Match"); im != "" {
		if !etagListMatches(im, etag) {
			return http.StatusPreconditionFailed
		}
	} else if ius := h.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && modified.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := h.Get("If-None-Match"); inm != "" {
		if etagListMatches(inm, etag) {
			return http.StatusNotModified
		}
	} else if ims := h.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !modified.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// etagListMatches reports whether a comma-separated If-Match style list
// names etag (or is "*").
func etagListMatches(list, etag string) bool {
	for v := range strings.SplitSeq(list, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || quoteETag(v) == etag {
			return true
		}
	}
	return false
}

// errUnsatisfiable is parseRange's error for a range that lies outside the
// object.
var errUnsatisfiable = errors.New("range not satisfiable")

// parseRange reads a Range header for an object of size bytes. It returns
// the byte range to send; ranged is false (the whole object) when the
// header is absent, malformed, or asks for several ranges, which S3
// ignores. A well-formed single range that starts at or beyond the end of
// the object, or a zero-length suffix, is errUnsatisfiable (416).
func parseRange(h string, size int64) (start, length int64, ranged bool, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	if first == "" {
		n, ok := parseDigits(last)
		if !ok {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, errUnsatisfiable
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	a, ok := parseDigits(first)
	if !ok {
		return 0, size, false, nil
	}
	b := int64(-1)
	if last != "" {
		if b, ok = parseDigits(last); !ok || b < a {
			return 0, size, false, nil
		}
	}
	if a >= size {
		return 0, 0, false, errUnsatisfiable
	}
	if b < 0 || b >= size {
		b = size - 1
	}
	return a, b - a + 1, true, nil
}

// parseDigits parses a non-empty run of ASCII digits; values too large for
// int64 saturate, which is beyond any object size.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			n = 1 << 62
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// putObject stores the body, with user metadata from x-amz-meta-*
// headers (names lowercased), after checking Content-MD5 and any
// x-amz-checksum-* header or trailer.
func (h *Handler) putObject(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if _, err := h.ownedBucket(ctx, rc); err != nil {
		return err
	}
	if err := checkKey(rc.key); err != nil {
		return err
	}
	body := rc.body
	var trailers map[string]string
	if isAWSChunked(r) {
		var err error
		if body, trailers, err = decodePayload(r, rc.body, h.maxObj); err != nil {
			return err
		}
	}
	rc.bytesIn = int64(len(body))
	if int64(len(body)) > h.maxObj {
		return errEntityTooLarge(int64(len(body)), h.maxObj)
	}
	if err := checkContentMD5(r.Header.Values("Content-Md5"), body); err != nil {
		return err
	}
	sums, err := checkChecksums(r.Header, trailers, body)
	if err != nil {
		return err
	}
	acl := r.Header.Get("X-Amz-Acl")
	if err := checkCannedACL(acl); err != nil {
		return err
	}
	md, err := userMetadata(r.Header)
	if err != nil {
		return err
	}
	ifAbsent, err := h.checkPutPreconditions(ctx, r.Header, rc)
	if err != nil {
		return err
	}
	opt := objstore.PutOptions{ContentType: r.Header.Get("Content-Type"), Metadata: md, ACL: acl}
	if r.Header.Get("X-Amz-Server-Side-Encryption") == "aws:kms" {
		opt.SSEKMSKeyID = r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
		opt.SSEContext = r.Header.Get("X-Amz-Server-Side-Encryption-Context")
	}
	if ifAbsent {
		err = h.store.PutIfAbsent(ctx, rc.bucket, rc.key, body, opt)
	} else {
		err = h.store.Put(ctx, rc.bucket, rc.key, body, opt)
	}
	switch {
	case errors.Is(err, objstore.ErrExists):
		return errPreconditionFailed("If-None-Match")
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return errNoSuchBucket(rc.bucket)
	case errors.Is(err, objstore.ErrInvalidKey):
		return errInvalidArgument("key", rc.key, "The object key cannot be stored by OpenTrail's embedded object store.")
	case err != nil:
		return fmt.Errorf("put %q/%q: %w", rc.bucket, rc.key, err)
	}
	sum := md5.Sum(body)
	hdr := w.Header()
	hdr.Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	for name, v := range sums {
		hdr[name] = []string{v}
	}
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// checkPutPreconditions evaluates If-None-Match and If-Match on
// PutObject. If-None-Match: * alone is left to the store, which checks and
// writes in one atomic step (ifAbsent: write with PutIfAbsent). If-Match
// is checked here against the object's ETag, then written: not atomic.
// With both headers, the object's existence fails one of them, so
// nothing is written conditionally without the store's check.
func (h *Handler) checkPutPreconditions(ctx context.Context, hdr http.Header, rc *reqCtx) (ifAbsent bool, err error) {
	inm, im := hdr.Get("If-None-Match"), hdr.Get("If-Match")
	if inm != "" && inm != "*" {
		return false, errNotImplemented("If-None-Match with an ETag on PutObject")
	}
	if im == "" {
		return inm == "*", nil
	}
	obj, err := h.store.Head(ctx, rc.bucket, rc.key)
	exists := err == nil
	switch {
	case errors.Is(err, objstore.ErrNoSuchKey):
	case err != nil:
		return false, fmt.Errorf("head %q/%q: %w", rc.bucket, rc.key, err)
	}
	switch {
	case inm == "*" && exists:
		return false, errPreconditionFailed("If-None-Match")
	case !exists:
		return false, errNoSuchKey(rc.bucket, rc.key)
	case !etagListMatches(im, quoteETag(obj.ETag)):
		return false, errPreconditionFailed("If-Match")
	}
	return false, nil
}

// userMetadata collects x-amz-meta-* headers, names lowercased and
// without the prefix; repeated headers are joined with ",".
func userMetadata(h http.Header) (map[string]string, error) {
	var md map[string]string
	size := 0
	for name, vals := range h {
		lower := strings.ToLower(name)
		k, ok := strings.CutPrefix(lower, "x-amz-meta-")
		if !ok {
			continue
		}
		if k == "" {
			return nil, errInvalidArgument(name, "", "User metadata names must not be empty.")
		}
		if md == nil {
			md = map[string]string{}
		}
		v := strings.Join(vals, ",")
		if old, dup := md[k]; dup {
			v = old + "," + v
		}
		md[k] = v
		size += len(k) + len(v)
	}
	if size > maxMetadataBytes {
		return nil, newErr(http.StatusBadRequest, codeMetadataTooLarge,
			"Your metadata headers exceed the maximum allowed metadata size.").
			with("Size", strconv.Itoa(size)).with("MaxSizeAllowed", strconv.Itoa(maxMetadataBytes))
	}
	return md, nil
}

// checkContentMD5 verifies a Content-MD5 header: InvalidDigest when it is
// not a base64 MD5, BadDigest when it does not match the body.
func checkContentMD5(vals []string, body []byte) error {
	if len(vals) == 0 {
		return nil
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vals[0]))
	if len(vals) > 1 || err != nil || len(want) != md5.Size {
		return newErr(http.StatusBadRequest, codeInvalidDigest, "The Content-MD5 you specified is not valid.")
	}
	got := md5.Sum(body)
	if string(got[:]) != string(want) {
		return newErr(http.StatusBadRequest, codeBadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	return nil
}

func (h *Handler) deleteObject(ctx context.Context, w http.ResponseWriter, rc *reqCtx) error {
	if _, err := h.ownedBucket(ctx, rc); err != nil {
		return err
	}
	if err := checkKey(rc.key); err != nil {
		return err
	}
	err := h.store.Delete(ctx, rc.bucket, rc.key)
	switch {
	case errors.Is(err, objstore.ErrNoSuchKey), errors.Is(err, objstore.ErrInvalidKey):
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return errNoSuchBucket(rc.bucket)
	case err != nil:
		return fmt.Errorf("delete %q/%q: %w", rc.bucket, rc.key, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
