package sigv4

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sentinel errors. Every authentication failure returned by [Verifier.Verify]
// is an [*Error] that wraps exactly one of the first five; branch with
// [errors.Is]. The last two refine ErrExpired and ErrIncomplete.
// The comments name the AWS error code each one corresponds to, which the
// api package maps to the wire.
var (
	// ErrMissingAuth means the request carries neither an Authorization
	// header nor query-string presign parameters. The caller should answer
	// as AWS does with MissingAuthenticationTokenException ("Missing
	// Authentication Token"); S3 calls it AccessDenied.
	ErrMissingAuth = errors.New("sigv4: missing authentication token")

	// ErrIncomplete means the signature material is malformed or
	// incomplete: a bad Authorization header or presign parameter, a
	// missing or unparsable date, a credential scope date that differs from
	// the request date, or a header that must be signed but is not. The
	// client has a bug; answer IncompleteSignatureException (S3:
	// AuthorizationHeaderMalformed or AuthorizationQueryParametersError)
	// with [Error.Message], which says what is missing. Do not retry.
	ErrIncomplete = errors.New("sigv4: incomplete signature")

	// ErrUnknownKey means the access key ID is not known to the
	// [KeyLookup], or the request carries a session token, which OpenTrail
	// does not issue yet. Answer UnrecognizedClientException ("The security
	// token included in the request is invalid."; S3: InvalidAccessKeyId).
	// [KeyLookup] implementations return an error wrapping it.
	ErrUnknownKey = errors.New("sigv4: unknown access key")

	// ErrSignatureMismatch means the signature, or the
	// X-Amz-Content-Sha256 payload hash, does not match the request: a
	// wrong secret, a client signing bug, or a request altered in transit.
	// Answer InvalidSignatureException (S3: SignatureDoesNotMatch); for
	// debugging, [Error.CanonicalRequest] and [Error.StringToSign] hold what
	// the server computed.
	ErrSignatureMismatch = errors.New("sigv4: signature mismatch")

	// ErrExpired means the request date is more than [Options.MaxSkew]
	// before or after the server clock, or a presigned URL has passed its
	// X-Amz-Expires. Answer InvalidSignatureException with [Error.Message]
	// (S3: RequestTimeTooSkewed or AccessDenied "Request has expired") and
	// always send a Date response header: SDKs correct their clock from it
	// and retry.
	ErrExpired = errors.New("sigv4: signature expired")

	// ErrNotYetValid means a presigned URL's X-Amz-Date is more than
	// [Options.MaxSkew] after the server clock: the URL is not valid yet.
	// It wraps [ErrExpired], so callers that do not tell the two apart
	// answer it as a clock problem; S3 answers AccessDenied "Request is
	// not valid yet". The client's clock is ahead, or the URL was made
	// with a start time in the future; do not retry before that time.
	ErrNotYetValid = fmt.Errorf("%w: presigned request not valid yet", ErrExpired)

	// ErrSignatureV2 means the request is signed with AWS Signature
	// Version 2 (an "Authorization: AWS AccessKeyId:Signature" header, or
	// AWSAccessKeyId, Signature and Expires query parameters), which
	// OpenTrail does not accept. It wraps [ErrIncomplete], so callers that
	// do not tell the two apart answer it as a malformed signature; S3
	// answers InvalidRequest "The authorization mechanism you have
	// provided is not supported. Please use AWS4-HMAC-SHA256.", as in the
	// regions that accept only Signature Version 4. The client must be
	// configured to sign with Signature Version 4.
	ErrSignatureV2 = fmt.Errorf("%w: signature version 2", ErrIncomplete)
)

// Error is an authentication failure. Message is the human-readable text,
// phrased like AWS's so it can go on the wire unchanged; Err is the sentinel
// it wraps (ErrNotYetValid and ErrSignatureV2 wrap a sentinel in turn).
type Error struct {
	// Err is one of the package's sentinel errors.
	Err error
	// Message is the AWS-style description of the failure.
	Message string

	// CanonicalRequest and StringToSign are what the server computed; they
	// are set only for signature mismatches, to help debug a client's
	// signer (S3 returns them in its SignatureDoesNotMatch error). They hold
	// no secret.
	CanonicalRequest string
	StringToSign     string
}

// Error returns e.Message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Messages used with the sentinels, worded as AWS words them.
const (
	msgSignatureV2       = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
	msgMissingAuth       = "Missing Authentication Token"
	msgUnknownKey        = "The security token included in the request is invalid."
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgContentSHA256Mismatch = "The provided 'x-amz-content-sha256' header does not match what was computed."
)

func incomplete(msg string) *Error { return &Error{Err: ErrIncomplete, Message: msg} }

func signatureV2() *Error { return &Error{Err: ErrSignatureV2, Message: msgSignatureV2} }

func unknownKey() *Error { return &Error{Err: ErrUnknownKey, Message: msgUnknownKey} }

// expiredError reports a request date outside now ± skew, in AWS's words:
//
//	Signature expired: 20261121T053259Z is now earlier than 20261121T054500Z (20261121T060000Z - 15 min.)
//	Signature not yet current: 20261121T061600Z is still later than 20261121T061500Z (20261121T060000Z + 15 min.)
func expiredError(date, now time.Time, skew time.Duration) *Error {
	if date.Before(now) {
		return &Error{Err: ErrExpired, Message: "Signature expired: " + formatAmzDate(date) +
			" is now earlier than " + formatAmzDate(now.Add(-skew)) +
			" (" + formatAmzDate(now) + " - " + skewText(skew) + ".)"}
	}
	return &Error{Err: ErrExpired, Message: "Signature not yet current: " + formatAmzDate(date) +
		" is still later than " + formatAmzDate(now.Add(skew)) +
		" (" + formatAmzDate(now) + " + " + skewText(skew) + ".)"}
}

// skewText renders a skew the way AWS does ("15 min").
func skewText(d time.Duration) string {
	return strconv.FormatFloat(d.Minutes(), 'f', -1, 64) + " min"
}
