package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// This file is the S3 front end's one wire-error catalogue.
//
// Handlers return either an *s3Error, which names its wire code directly,
// or an error from another package (objstore, sigv4); writeError maps the
// latter with errors.Is / errors.As. Anything else is a 500 InternalError
// whose details are logged with the request id and never sent.

// s3Error is an error as the client sees it: S3's <Error> document.
type s3Error struct {
	Status  int
	Code    string
	Message string
	// Extra elements S3 sends with some codes (Key, BucketName,
	// StringToSign, ...), in order.
	Extra []xmlField
}

type xmlField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, format string, args ...any) *s3Error {
	return &s3Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// with adds an extra element to the error document.
func (e *s3Error) with(name, value string) *s3Error {
	e.Extra = append(e.Extra, xmlField{XMLName: xml.Name{Local: name}, Value: value})
	return e
}

// S3 error codes.
const (
	codeAccessDenied            = "AccessDenied"
	codeAuthHeaderMalformed     = "AuthorizationHeaderMalformed"
	codeAuthQueryError          = "AuthorizationQueryParametersError"
	codeBadDigest               = "BadDigest"
	codeBucketAlreadyExists     = "BucketAlreadyExists"
	codeBucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
	codeEntityTooLarge          = "EntityTooLarge"
	codeIncompleteBody          = "IncompleteBody"
	codeInternalError           = "InternalError"
	codeInvalidAccessKeyID      = "InvalidAccessKeyId"
	codeInvalidArgument         = "InvalidArgument"
	codeInvalidBucketName       = "InvalidBucketName"
	codeInvalidDigest           = "InvalidDigest"
	codeInvalidLocation         = "InvalidLocationConstraint"
	codeInvalidRange            = "InvalidRange"
	codeInvalidRequest          = "InvalidRequest"
	codeKeyTooLong              = "KeyTooLongError"
	codeMalformedXML            = "MalformedXML"
	codeMetadataTooLarge        = "MetadataTooLarge"
	codeMethodNotAllowed        = "MethodNotAllowed"
	codeMissingContentLength    = "MissingContentLength"
	codeMissingSecurityHeader   = "MissingSecurityHeader"
	codeNoSuchBucket            = "NoSuchBucket"
	codeNoSuchKey               = "NoSuchKey"
	codeNotImplemented          = "NotImplemented"
	codePreconditionFailed      = "PreconditionFailed"
	codeServiceUnavailable      = "ServiceUnavailable"
	codeSlowDown                = "SlowDown"
	codeSignatureDoesNotMatch   = "SignatureDoesNotMatch"
	codeTimeTooSkewed           = "RequestTimeTooSkewed"
	codeContentSHA256Mismatch   = "XAmzContentSHA256Mismatch"
)

func errNoSuchBucket(bucket string) *s3Error {
	return newErr(http.StatusNotFound, codeNoSuchBucket, "The specified bucket does not exist").with("BucketName", bucket)
}

func errNoSuchKey(bucket, key string) *s3Error {
	return newErr(http.StatusNotFound, codeNoSuchKey, "The specified key does not exist.").
		with("Key", key).with("BucketName", bucket)
}

func errAccessDenied() *s3Error {
	return newErr(http.StatusForbidden, codeAccessDenied, "Access Denied")
}

func errInvalidBucketName(bucket string) *s3Error {
	return newErr(http.StatusBadRequest, codeInvalidBucketName, "The specified bucket is not valid.").with("BucketName", bucket)
}

func errInvalidArgument(name, value, format string, args ...any) *s3Error {
	return newErr(http.StatusBadRequest, codeInvalidArgument, format, args...).
		with("ArgumentName", name).with("ArgumentValue", value)
}

// errNotImplemented refuses an S3 feature the embedded store lacks.
func errNotImplemented(what string) *s3Error {
	return newErr(http.StatusNotImplemented, codeNotImplemented,
		"%s is not supported by OpenTrail's embedded object store, which serves only the S3 operations "+
			"trail delivery and the aws CLI's s3 commands need.", what)
}

// errPreconditionFailed is S3's answer to a conditional request whose
// condition (the header named, e.g. If-None-Match) does not hold.
func errPreconditionFailed(condition string) *s3Error {
	return newErr(http.StatusPreconditionFailed, codePreconditionFailed,
		"At least one of the pre-conditions you specified did not hold").with("Condition", condition)
}

func errMethodNotAllowed(method, resource string) *s3Error {
	return newErr(http.StatusMethodNotAllowed, codeMethodNotAllowed,
		"The specified method is not allowed against this resource.").
		with("Method", method).with("ResourceType", resource)
}

func errEntityTooLarge(size, max int64) *s3Error {
	e := newErr(http.StatusBadRequest, codeEntityTooLarge,
		"Your proposed upload exceeds the maximum allowed size of %d bytes.", max)
	if size >= 0 {
		e.with("ProposedSize", fmt.Sprint(size))
	}
	return e.with("MaxSizeAllowed", fmt.Sprint(max))
}

func errInternal() *s3Error {
	return newErr(http.StatusInternalServerError, codeInternalError, "We encountered an internal error. Please try again.")
}

// errorDoc is the XML S3 sends with every error that has a body.
type errorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Extra     []xmlField
	Resource  string `xml:",omitempty"`
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
}

// wireError resolves err to what the client is sent; internal reports
// whether it is an unexpected failure that must be logged.
func wireError(err error, r *http.Request) (e *s3Error, internal bool) {
	if errors.As(err, &e) {
		return e, false
	}
	var sigErr *sigv4.Error
	presigned := presignedQuery(r.URL.Query())
	msg := func(def string) string {
		if sigErr != nil && sigErr.Message != "" {
			return sigErr.Message
		}
		return def
	}
	errors.As(err, &sigErr)
	switch {
	case errors.Is(err, sigv4.ErrMissingAuth):
		return errAccessDenied(), false
	case errors.Is(err, sigv4.ErrSignatureV2):
		// What S3 answers in the regions that accept only Signature
		// Version 4.
		return newErr(http.StatusBadRequest, codeInvalidRequest,
			"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."), false
	case errors.Is(err, sigv4.ErrIncomplete) && presigned:
		return newErr(http.StatusBadRequest, codeAuthQueryError, "%s", msg("Query-string authentication parameters are malformed.")), false
	case errors.Is(err, sigv4.ErrIncomplete):
		return newErr(http.StatusBadRequest, codeAuthHeaderMalformed, "%s", msg("The authorization header is malformed.")), false
	case errors.Is(err, sigv4.ErrUnknownKey):
		return newErr(http.StatusForbidden, codeInvalidAccessKeyID,
			"The AWS Access Key Id you provided does not exist in our records."), false
	case errors.Is(err, sigv4.ErrNotYetValid):
		return newErr(http.StatusForbidden, codeAccessDenied, "Request is not valid yet").with("Detail", msg("")), false
	case errors.Is(err, sigv4.ErrExpired) && presigned:
		return newErr(http.StatusForbidden, codeAccessDenied, "Request has expired").with("Detail", msg("")), false
	case errors.Is(err, sigv4.ErrExpired):
		return newErr(http.StatusForbidden, codeTimeTooSkewed,
			"The difference between the request time and the current time is too large.").with("Detail", msg("")), false
	case errors.Is(err, sigv4.ErrSignatureMismatch):
		e := newErr(http.StatusForbidden, codeSignatureDoesNotMatch,
			"The request signature we calculated does not match the signature you provided. "+
				"Check your key and signing method.")
		if sigErr != nil && sigErr.CanonicalRequest != "" {
			e.with("StringToSign", sigErr.StringToSign).with("CanonicalRequest", sigErr.CanonicalRequest)
		}
		return e, false
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return newErr(http.StatusNotFound, codeNoSuchBucket, "The specified bucket does not exist"), false
	case errors.Is(err, objstore.ErrNoSuchKey):
		return newErr(http.StatusNotFound, codeNoSuchKey, "The specified key does not exist."), false
	case errors.Is(err, objstore.ErrBucketExists):
		return newErr(http.StatusConflict, codeBucketAlreadyOwnedByYou,
			"Your previous request to create the named bucket succeeded and you already own it."), false
	case errors.Is(err, objstore.ErrExists):
		return errPreconditionFailed("If-None-Match"), false
	case errors.Is(err, objstore.ErrAccessDenied):
		return errAccessDenied(), false
	case errors.Is(err, objstore.ErrInvalidBucketName):
		return newErr(http.StatusBadRequest, codeInvalidBucketName, "The specified bucket is not valid."), false
	case errors.Is(err, objstore.ErrInvalidKey):
		return newErr(http.StatusBadRequest, codeInvalidArgument,
			"The object key cannot be stored by OpenTrail's embedded object store."), false
	case errors.Is(err, store.ErrBackpressure):
		// The call's record could not be made durable yet: SDKs retry
		// SlowDown with back-off.
		return newErr(http.StatusServiceUnavailable, codeSlowDown,
			"Please reduce your request rate. OpenTrail is catching up on recorded events; retry shortly."), false
	case errors.Is(err, store.ErrClosed):
		return newErr(http.StatusServiceUnavailable, codeServiceUnavailable,
			"Service is unable to handle request: OpenTrail is shutting down; retry shortly."), false
	}
	return errInternal(), true
}

// presignedQuery reports whether the query attempts SigV4 query-string
// authentication (a presigned URL).
func presignedQuery(q url.Values) bool {
	return q.Has("X-Amz-Signature") || q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential")
}

// errorReply makes rp the S3 error document for err (no body for HEAD),
// keeping the headers already set, and notes the error for the record.
func (h *Handler) errorReply(rp *reply, r *http.Request, rc *reqCtx, err error) {
	rp.discard()
	e, internal := wireError(err, r)
	rc.failure = e
	if internal {
		h.log.ErrorContext(r.Context(), "s3 request failed",
			slog.String(logKeyRequestID, rc.id), slog.String(logKeyMethod, r.Method),
			slog.String(logKeyPath, r.URL.Path), slog.Any(logKeyErr, err))
	} else {
		h.log.DebugContext(r.Context(), "s3 request refused",
			slog.String(logKeyRequestID, rc.id), slog.String(logKeyMethod, r.Method),
			slog.String(logKeyPath, r.URL.Path), slog.String(logKeyCode, e.Code))
	}
	hdr := rp.Header()
	if e.Code == codeMethodNotAllowed {
		hdr.Set("Allow", "GET, HEAD, PUT, DELETE")
	}
	if e.Code == codeInvalidRange && rc.objectSize >= 0 {
		hdr.Set("Content-Range", fmt.Sprintf("bytes */%d", rc.objectSize))
	}
	if r.Method == http.MethodHead {
		rp.WriteHeader(e.Status)
		return
	}
	doc := errorDoc{Code: e.Code, Message: e.Message, Extra: e.Extra, Resource: r.URL.Path,
		RequestID: rc.id, HostID: rc.hostID}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(doc); err != nil {
		buf.Reset()
	}
	hdr.Set("Content-Type", "application/xml")
	hdr.Set("Content-Length", fmt.Sprint(buf.Len()))
	rp.WriteHeader(e.Status)
	_, _ = rp.Write(buf.Bytes())
}
