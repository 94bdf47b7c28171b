package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/objstore"
)

// Error is a failed S3 request. errors.Is matches it against the objstore
// sentinel its code stands for (NoSuchBucket matches
// objstore.ErrNoSuchBucket) and against the SDK's error it wraps.
type Error struct {
	Op     string // S3 operation, e.g. "PutObject"
	Bucket string
	Key    string // "" for bucket operations
	// Code is the S3 error code, e.g. "NoSuchBucket" or "AccessDenied".
	// For HEAD requests, which carry no error body, it is derived from the
	// status: "NoSuchBucket", "NoSuchKey" or "AccessDenied". It is "" when
	// no answer came from the store.
	Code       string
	StatusCode int   // HTTP status; 0 when no answer came
	Err        error // the SDK's error
}

func (e *Error) Error() string {
	target := e.Bucket
	if e.Key != "" {
		target += "/" + e.Key
	}
	code := e.Code
	if code == "" {
		code = "no response"
	}
	return fmt.Sprintf("s3 %s %s: %s: %v", e.Op, target, code, e.Err)
}

// Unwrap returns the sentinel the code maps to, if any, and the SDK error.
func (e *Error) Unwrap() []error {
	out := []error{e.Err}
	if s := sentinel(e.Code); s != nil {
		out = append(out, s)
	}
	if e.transient() {
		out = append(out, objstore.ErrUnavailable)
	}
	return out
}

// transient is IsTransient for e, without unwrapping e itself.
func (e *Error) transient() bool {
	if e.StatusCode != 0 {
		return transientStatus(e.StatusCode, e.Code)
	}
	return IsTransient(e.Err)
}

// sentinel maps an S3 error code to an objstore sentinel; nil when none
// applies.
func sentinel(code string) error {
	switch code {
	case "NoSuchBucket":
		return objstore.ErrNoSuchBucket
	case "NoSuchKey", "NotFound":
		return objstore.ErrNoSuchKey
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return objstore.ErrBucketExists
	case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"AllAccessDisabled", "AccountProblem", "InvalidSecurity", "ExpiredToken", "InvalidToken":
		return objstore.ErrAccessDenied
	case "InvalidBucketName":
		return objstore.ErrInvalidBucketName
	case "PreconditionFailed":
		// Only PutIfAbsent sends a precondition (If-None-Match: *).
		return objstore.ErrExists
	case "KeyTooLongError",
		// versitygw's posix backend, like fsbucket, cannot hold "a" and "a/b".
		"ObjectParentIsFile", "ExistingObjectIsDirectory":
		return objstore.ErrInvalidKey
	}
	return nil
}

// ErrorCode returns the S3 error code of err ("NoSuchBucket",
// "AccessDenied", ...), the string GetTrailStatus reports, or "" when err
// carries none (nil, or the store could not be reached).
func ErrorCode(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	if api, ok := errors.AsType[smithy.APIError](err); ok {
		return api.ErrorCode()
	}
	return ""
}

// transientCodes are S3 error codes that mean "try again later".
var transientCodes = map[string]bool{
	"InternalError":        true,
	"ServiceUnavailable":   true,
	"SlowDown":             true,
	"RequestTimeout":       true,
	"Throttling":           true,
	"ThrottlingException":  true,
	"RequestLimitExceeded": true,
	"TooManyRequests":      true,
	"OperationAborted":     true,
	// A conditional write raced another on the same key; S3 says retry.
	"ConditionalRequestConflict": true,
	"RequestTimeTooSkewed":       false, // a clock to fix, not a wait
	"BadDigest":                  true,  // the body was damaged in transit
	"IncompleteBody":             true,
	"XAmzContentSHA256Mismatch":  true,
}

// IsTransient reports whether err means the store is unreachable or
// temporarily failing (no answer, a timeout, HTTP 5xx or 429, SlowDown and
// the like), so the same request may succeed later. It is false for a
// permanent S3 error (NoSuchBucket, AccessDenied, ...), for nil, and when
// the caller's context was canceled.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if e, ok := errors.AsType[*Error](err); ok && e.StatusCode != 0 {
		return transientStatus(e.StatusCode, e.Code)
	}
	if re, ok := errors.AsType[interface {
		error
		HTTPStatusCode() int
	}](err); ok && re.HTTPStatusCode() != 0 {
		return transientStatus(re.HTTPStatusCode(), ErrorCode(err))
	}
	if _, ok := errors.AsType[smithy.InvalidParamsError](err); ok {
		return false
	}
	if _, ok := errors.AsType[*smithy.SerializationError](err); ok {
		return false
	}
	// No answer: refused or reset connections, DNS failures, timeouts.
	return true
}

func transientStatus(status int, code string) bool {
	if t, ok := transientCodes[code]; ok {
		return t
	}
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}
