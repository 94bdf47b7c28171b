package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KeyLookup returns the secret access key for an access key id; it returns an
// error wrapping [ErrUnknownKey] when the key does not exist. Any other error
// is treated as a server fault and returned by [Verifier.Verify] wrapped.
// It MUST NOT return an empty secret with a nil error; Verify treats that as
// an unknown key.
type KeyLookup func(ctx context.Context, accessKeyID string) (secret string, err error)

// Options configure a [Verifier]. Start from [DefaultOptions].
type Options struct {
	// Now returns the server time. Default time.Now.
	Now func() time.Time
	// MaxSkew is how far the request date may be from Now, either way,
	// before the request is rejected with [ErrExpired]. Default 15 minutes,
	// as AWS.
	MaxSkew time.Duration
}

// DefaultOptions returns the options AWS services use.
func DefaultOptions() Options {
	return Options{Now: time.Now, MaxSkew: 15 * time.Minute}
}

// maxPresignExpires is the longest X-Amz-Expires S3 accepts: one week.
const maxPresignExpires = 7 * 24 * time.Hour

// unsignedPayload is the X-Amz-Content-Sha256 value an S3 client sends when
// it does not sign the body.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// streamingUnsignedTrailer is the X-Amz-Content-Sha256 value of an S3
// aws-chunked upload whose chunks are unsigned and whose trailer carries a
// checksum (SDKs send it for PutObject over HTTPS). The signature covers
// the headers only, as with UNSIGNED-PAYLOAD; decoding the chunks and
// checking the trailing checksum is the S3 front end's job.
const streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

// Verifier checks SigV4 signatures. It is safe for concurrent use.
type Verifier struct {
	lookup  KeyLookup
	now     func() time.Time
	maxSkew time.Duration
}

// NewVerifier returns a Verifier that finds secrets with lookup, which must
// not be nil. Zero fields of opts take their [DefaultOptions] values, and so
// does a negative MaxSkew.
func NewVerifier(lookup KeyLookup, opts Options) *Verifier {
	def := DefaultOptions()
	if opts.Now == nil {
		opts.Now = def.Now
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = def.MaxSkew
	}
	return &Verifier{lookup: lookup, now: opts.Now, maxSkew: opts.MaxSkew}
}

// Result describes a verified request.
type Result struct {
	// AccessKeyID is the key that signed the request.
	AccessKeyID string
	// Region and Service are the credential scope's. The caller MUST check
	// that the service matches the route and the region is one it serves.
	Region  string
	Service string
	// Date is the signing time (X-Amz-Date, or Date), in UTC.
	Date time.Time
	// SignedHeaders are the signed header names, as the client listed them.
	SignedHeaders []string
	// Presigned is set for query-string (presigned URL) authentication.
	Presigned bool
	// UnsignedPayload is set when the signature does not cover the body
	// (S3's UNSIGNED-PAYLOAD and STREAMING-UNSIGNED-PAYLOAD-TRAILER, and
	// every presigned request).
	UnsignedPayload bool
	// PayloadSHA256 is the body hash the request declared in
	// X-Amz-Content-Sha256 (nil when unsigned). Verify has checked the
	// body against it; after VerifyHeaders the caller must.
	PayloadSHA256 []byte
}

// signed is the signature material of a request, from the Authorization
// header or from presign parameters.
type signed struct {
	auth      authorization
	date      time.Time
	amzDate   string // the timestamp in the string to sign
	presigned bool
	expires   time.Duration // presigned only
}

// Verify checks the request's SigV4 signature: an Authorization header
// (AWS4-HMAC-SHA256) or, for service s3 only, presign query parameters.
// body is the full request body, already read; Verify does not consume
// r.Body. r may be a server request (RequestURI and Host set) or one built
// with [http.NewRequest].
//
// Authentication failures are [*Error]s wrapping one of the sentinels
// ([ErrMissingAuth], [ErrIncomplete], [ErrUnknownKey],
// [ErrSignatureMismatch], [ErrExpired]); a failing [KeyLookup] is returned
// wrapped, and callers should treat it as an internal error.
//
// Beyond the signature itself, Verify requires that host and every X-Amz-*
// header present be signed (X-Amz-Target picks the operation and
// X-Amz-Security-Token the credentials), that the credential scope date
// equal the request date, and that the date be within [Options.MaxSkew] of
// the server clock. Requests carrying X-Amz-Security-Token fail with
// [ErrUnknownKey], because OpenTrail issues no session credentials yet.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Result, error) {
	return v.verify(ctx, r, body, true)
}

// VerifyHeaders checks the signature before the body is read, for
// requests that declare their payload hash (X-Amz-Content-Sha256, required
// by s3) or sign no payload: a server can refuse an unauthenticated upload
// without buffering it. Result.PayloadSHA256 is the declared hash, which
// the caller MUST compare with the SHA-256 of the body it then reads (nil
// when the payload is unsigned). A header-signed request that declares no
// hash is an ErrIncomplete error: use Verify.
func (v *Verifier) VerifyHeaders(ctx context.Context, r *http.Request) (Result, error) {
	if len(r.Header.Values("X-Amz-Content-Sha256")) == 0 && len(r.Header.Values("Authorization")) > 0 &&
		!strings.HasPrefix(strings.TrimLeft(r.Header.Get("Authorization"), " "), "AWS ") {
		// (A Signature Version 2 header is refused as such by verify.)
		var rawQuery string
		if r.URL != nil {
			rawQuery = r.URL.RawQuery
		}
		params, _ := parseQuery(rawQuery)
		if !hasPresignParams(params) {
			return Result{}, incomplete("Missing required header for this request: x-amz-content-sha256")
		}
	}
	return v.verify(ctx, r, nil, false)
}

func (v *Verifier) verify(ctx context.Context, r *http.Request, body []byte, checkBody bool) (Result, error) {
	var rawQuery string
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	params, err := parseQuery(rawQuery)
	if err != nil {
		return Result{}, incomplete("The query string is malformed: it has an invalid percent-encoding.")
	}

	var authz []string
	for _, h := range r.Header.Values("Authorization") {
		if strings.Trim(h, " ") != "" {
			authz = append(authz, h)
		}
	}
	presigned := hasPresignParams(params)
	var s signed
	switch {
	case len(authz) > 0 && presigned:
		return Result{}, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter " +
			"or the Authorization header should be specified.")
	case len(authz) > 1:
		return Result{}, incomplete("The request has more than one Authorization header.")
	case len(authz) == 1:
		s, err = parseHeaderAuth(r, authz[0])
	case presigned:
		s, err = parsePresigned(params)
	case hasParam(params, "AWSAccessKeyId"):
		// Signature Version 2 query-string authentication.
		return Result{}, signatureV2()
	default:
		return Result{}, &Error{Err: ErrMissingAuth, Message: msgMissingAuth}
	}
	if err != nil {
		return Result{}, err
	}
	cred := s.auth.Credential

	if cred.Date != s.amzDate[:8] {
		return Result{}, incomplete(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from "+
			"ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", cred.Date, s.amzDate[:8], s.amzDate))
	}
	if msg := checkSignedHeaders(r, s.auth.SignedHeaders); msg != "" {
		return Result{}, incomplete(msg)
	}
	if err := v.checkTime(s); err != nil {
		return Result{}, err
	}
	if hasParam(params, "X-Amz-Security-Token") || len(headerValues(r, "x-amz-security-token")) > 0 {
		return Result{}, unknownKey()
	}
	payloadHash, bodyHash, err := payloadHashFor(r, body, cred.Service, s.presigned)
	if err != nil {
		return Result{}, err
	}

	secret, err := v.lookup(ctx, cred.AccessKeyID)
	switch {
	case errors.Is(err, ErrUnknownKey):
		return Result{}, unknownKey()
	case err != nil:
		return Result{}, fmt.Errorf("look up access key %q: %w", cred.AccessKeyID, err)
	case secret == "":
		return Result{}, unknownKey()
	}

	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	skip := ""
	if s.presigned {
		skip = "X-Amz-Signature"
	}
	query := canonicalQuery(params, skip)
	headers := canonicalHeaders(r, s.auth.SignedHeaders)
	signedHeaders := strings.Join(s.auth.SignedHeaders, ";")
	key := signingKey(secret, cred)
	scope := cred.scope()

	var mismatch *Error
	for _, uri := range canonicalURIs(requestPath(r), cred.Service == "s3") {
		creq := canonicalRequest(method, uri, query, headers, signedHeaders, payloadHash)
		sts := stringToSign(s.amzDate, scope, creq)
		if hmac.Equal([]byte(signature(key, sts)), []byte(s.auth.Signature)) {
			mismatch = nil
			break
		}
		if mismatch == nil {
			mismatch = &Error{Err: ErrSignatureMismatch, Message: msgSignatureMismatch,
				CanonicalRequest: creq, StringToSign: sts}
		}
	}
	if mismatch != nil {
		return Result{}, mismatch
	}
	if bodyHash != nil && checkBody {
		sum := sha256.Sum256(body)
		if !hmac.Equal(sum[:], bodyHash) {
			return Result{}, &Error{Err: ErrSignatureMismatch, Message: msgContentSHA256Mismatch}
		}
	}

	return Result{
		AccessKeyID:     cred.AccessKeyID,
		Region:          cred.Region,
		Service:         cred.Service,
		Date:            s.date,
		SignedHeaders:   slices.Clone(s.auth.SignedHeaders),
		Presigned:       s.presigned,
		UnsignedPayload: payloadHash == unsignedPayload || payloadHash == streamingUnsignedTrailer,
		PayloadSHA256:   bodyHash,
	}, nil
}

// parseHeaderAuth reads the Authorization header and the request date.
func parseHeaderAuth(r *http.Request, h string) (signed, error) {
	auth, err := parseAuthorization(h)
	if err != nil {
		return signed{}, err
	}
	s := signed{auth: auth}
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		var ok bool
		if s.date, ok = parseAmzDate(d); !ok {
			return signed{}, incomplete(fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'. "+
				"See http://en.wikipedia.org/wiki/ISO_8601", d))
		}
	} else if d := r.Header.Get("Date"); d != "" {
		var ok bool
		if s.date, ok = parseHTTPDate(d); !ok {
			return signed{}, incomplete(fmt.Sprintf("Date header must be in RFC 1123 format, "+
				"such as 'Mon, 02 Jan 2006 15:04:05 GMT'. Got '%s'.", d))
		}
	} else {
		return signed{}, incomplete("Authorization header requires existence of either a 'X-Amz-Date' or " +
			"a 'Date' header. Authorization=" + strings.Trim(h, " "))
	}
	s.amzDate = formatAmzDate(s.date)
	return s, nil
}

// presignParams are the parameters of query-string authentication, all
// required.
var presignParams = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
	"X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires",
}

// hasPresignParams reports whether the query attempts query-string
// authentication.
func hasPresignParams(params []queryParam) bool {
	return hasParam(params, "X-Amz-Algorithm") || hasParam(params, "X-Amz-Credential") ||
		hasParam(params, "X-Amz-Signature")
}

func hasParam(params []queryParam, name string) bool {
	return slices.ContainsFunc(params, func(p queryParam) bool { return p.name == name })
}

// parsePresigned reads the presign query parameters. Only service s3
// accepts them.
func parsePresigned(params []queryParam) (signed, error) {
	values := make(map[string]string, len(presignParams))
	for _, name := range presignParams {
		n := 0
		for _, p := range params {
			if p.name == name {
				values[name] = p.value
				n++
			}
		}
		if n > 1 {
			return signed{}, incomplete(fmt.Sprintf("Query-string authentication parameter %s must appear once.", name))
		}
		if values[name] == "" {
			return signed{}, incomplete("Query-string authentication version 4 requires the X-Amz-Algorithm, " +
				"X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	if alg := values["X-Amz-Algorithm"]; alg != algorithm {
		return signed{}, incomplete(fmt.Sprintf("X-Amz-Algorithm only supports \"%s\", not \"%s\".", algorithm, alg))
	}
	cred, problem := parseCredential(values["X-Amz-Credential"])
	if problem != "" {
		return signed{}, incomplete("Error parsing the X-Amz-Credential parameter: " + problem)
	}
	if cred.Service != "s3" {
		return signed{}, incomplete(fmt.Sprintf("Query-string authentication is supported only for service 's3', "+
			"not '%s'; sign with the Authorization header.", cred.Service))
	}
	names, problem := parseSignedHeaders(values["X-Amz-SignedHeaders"])
	if problem != "" {
		return signed{}, incomplete("Error parsing the X-Amz-SignedHeaders parameter: " + problem)
	}
	date, ok := parseAmzDate(values["X-Amz-Date"])
	if !ok {
		return signed{}, incomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	secs, err := strconv.ParseInt(values["X-Amz-Expires"], 10, 64)
	switch {
	case err != nil:
		return signed{}, incomplete("X-Amz-Expires should be a number")
	case secs < 0:
		return signed{}, incomplete("X-Amz-Expires must be non-negative")
	case secs > int64(maxPresignExpires/time.Second):
		return signed{}, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	return signed{
		auth:      authorization{Credential: cred, SignedHeaders: names, Signature: values["X-Amz-Signature"]},
		date:      date,
		amzDate:   values["X-Amz-Date"],
		presigned: true,
		expires:   time.Duration(secs) * time.Second,
	}, nil
}

// checkSignedHeaders returns a message if host, or an X-Amz-* header that
// the request carries, is not signed.
func checkSignedHeaders(r *http.Request, names []string) string {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[strings.ToLower(n)] = true
	}
	if !set["host"] {
		return "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	}
	var unsigned []string
	for k := range r.Header {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-amz-") && !set[l] {
			unsigned = append(unsigned, l)
		}
	}
	if len(unsigned) == 0 {
		return ""
	}
	slices.Sort(unsigned)
	return "There were headers present in the request which were not signed: " + strings.Join(unsigned, ", ") + "."
}

// checkTime enforces the clock skew and, for presigned requests, expiry.
func (v *Verifier) checkTime(s signed) error {
	now := v.now().UTC()
	if s.date.After(now.Add(v.maxSkew)) {
		if s.presigned {
			return &Error{Err: ErrNotYetValid, Message: "Request is not valid yet: X-Amz-Date " + s.amzDate +
				" is later than the server time " + formatAmzDate(now) + " plus " + skewText(v.maxSkew) + "."}
		}
		return expiredError(s.date, now, v.maxSkew)
	}
	if !s.presigned {
		if s.date.Before(now.Add(-v.maxSkew)) {
			return expiredError(s.date, now, v.maxSkew)
		}
		return nil
	}
	if end := s.date.Add(s.expires); now.After(end) {
		return &Error{Err: ErrExpired, Message: fmt.Sprintf("Request has expired: X-Amz-Date %s plus X-Amz-Expires "+
			"%d seconds is %s, earlier than the server time %s.",
			s.amzDate, int64(s.expires/time.Second), formatAmzDate(end), formatAmzDate(now))}
	}
	return nil
}

// payloadHashFor returns the payload hash for the canonical request and,
// when the client declared a hash in X-Amz-Content-Sha256, that hash
// decoded, for checking against the body once the signature holds.
//
// Without the header the server hashes the body, except for presigned
// requests, which are UNSIGNED-PAYLOAD, and for s3, which requires it.
// UNSIGNED-PAYLOAD is accepted for s3 only, and so is
// STREAMING-UNSIGNED-PAYLOAD-TRAILER (header auth only); the signed
// aws-chunked modes (other STREAMING-* values) are not supported.
func payloadHashFor(r *http.Request, body []byte, service string, presigned bool) (hash string, declared []byte, err error) {
	values := r.Header.Values("X-Amz-Content-Sha256")
	if len(values) > 1 {
		return "", nil, incomplete("The request has more than one x-amz-content-sha256 header.")
	}
	var v string
	if len(values) == 1 {
		v = values[0]
	}
	switch {
	case v == "" && presigned:
		return unsignedPayload, nil, nil
	case v == "" && service == "s3":
		return "", nil, incomplete("Missing required header for this request: x-amz-content-sha256")
	case v == "":
		return hashHex(body), nil, nil
	case v == unsignedPayload && service == "s3":
		return v, nil, nil
	case v == unsignedPayload:
		return "", nil, incomplete(fmt.Sprintf("x-amz-content-sha256 '%s' is accepted only for service 's3'.", v))
	case v == streamingUnsignedTrailer && service == "s3" && !presigned:
		return v, nil, nil
	case strings.HasPrefix(v, "STREAMING-"):
		return "", nil, incomplete(fmt.Sprintf("x-amz-content-sha256 '%s' (aws-chunked upload) is not supported; "+
			"send UNSIGNED-PAYLOAD or the SHA-256 of the body.", v))
	}
	sum, err := hex.DecodeString(v)
	if err != nil || len(sum) != sha256.Size {
		return "", nil, incomplete(fmt.Sprintf("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 "+
			"of the payload, not '%s'.", v))
	}
	return v, sum, nil
}
