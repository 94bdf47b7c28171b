package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// uriEncode percent-encodes every byte of s outside the RFC 3986 unreserved
// set (A-Z a-z 0-9 - _ . ~) with uppercase hex, as SigV4 requires. With
// keepSlash, '/' is left as is (for paths).
func uriEncode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := range len(s) {
		c := s[i]
		if isUnreserved(c) || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// requestPath returns the path exactly as the client sent it, still
// percent-encoded: from RequestURI for server requests (so that middleware
// rewriting r.URL does not matter), else from r.URL.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if strings.HasPrefix(p, "/") {
		p, _, _ = strings.Cut(p, "?")
	} else if r.URL != nil {
		p = r.URL.EscapedPath()
	} else {
		p = ""
	}
	if p == "" {
		p = "/"
	}
	return p
}

// canonicalURIs returns the canonical URI candidates for a raw (as sent)
// path, the most likely first. SDKs build the canonical URI from the path
// they send, so the first candidate takes the raw path as the client's
// encoding: S3 uses it unchanged; other services encode it once more, which
// is the "encode each segment twice" rule. The second candidate, returned
// only when it differs, decodes each segment and re-encodes it strictly
// (once for S3, twice otherwise); it accepts clients that sign a strict
// encoding but send a looser one (such as a raw '(' or ':'). Whichever
// candidate a signature matches, the path the client signed decodes to the
// same segments as the path it sent, so a signature never covers another
// resource. Paths are not normalised: CloudTrail's paths are "/" and
// "/PutAuditEvents", and S3 forbids normalisation.
func canonicalURIs(rawPath string, s3 bool) []string {
	var first, second string
	if s3 {
		first, second = rawPath, encodeSegments(rawPath, 1)
	} else {
		first, second = uriEncode(rawPath, true), encodeSegments(rawPath, 2)
	}
	if first == second {
		return []string{first}
	}
	return []string{first, second}
}

// encodeSegments decodes each '/'-separated segment of p and encodes it
// times times with [uriEncode]. A segment that does not decode is encoded
// as is.
func encodeSegments(p string, times int) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if d, err := url.PathUnescape(s); err == nil {
			s = d
		}
		for range times {
			s = uriEncode(s, false)
		}
		segs[i] = s
	}
	return strings.Join(segs, "/")
}

// queryParam is one decoded query-string parameter.
type queryParam struct{ name, value string }

// errBadQuery reports a query string with an invalid percent-encoding.
var errBadQuery = errors.New("sigv4: malformed query string")

// parseQuery splits a raw query string into decoded parameters, in order,
// keeping duplicates and empty values. '+' decodes to a space, as in
// [url.ParseQuery]. Unlike url.ParseQuery it keeps ';' as data and fails
// rather than silently dropping a pair it cannot decode: a dropped pair
// would be left out of the signature.
func parseQuery(raw string) ([]queryParam, error) {
	var params []queryParam
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		var err1, err2 error
		name, err1 = url.QueryUnescape(name)
		value, err2 = url.QueryUnescape(value)
		if err1 != nil || err2 != nil {
			return nil, errBadQuery
		}
		params = append(params, queryParam{name, value})
	}
	return params, nil
}

// canonicalQuery encodes each parameter with [uriEncode], sorts by encoded
// name then encoded value, and joins them as name=value&... . A parameter
// named skip (X-Amz-Signature for presigned requests) is left out.
func canonicalQuery(params []queryParam, skip string) string {
	enc := make([]queryParam, 0, len(params))
	for _, p := range params {
		if skip != "" && p.name == skip {
			continue
		}
		enc = append(enc, queryParam{uriEncode(p.name, false), uriEncode(p.value, false)})
	}
	slices.SortFunc(enc, func(a, b queryParam) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// headerValues returns the values of the header name (lowercase) as the
// client sent them. host comes from r.Host, where Go moves it; a
// content-length missing from r.Header (client-side requests) comes from
// r.ContentLength, as the SDK signer takes it.
func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return []string{host}
	}
	key := textproto.CanonicalMIMEHeaderKey(name)
	values := r.Header[key]
	// Keys that are not in canonical form (set directly on the map, or
	// holding bytes CanonicalMIMEHeaderKey leaves alone), in a fixed order.
	var others []string
	for k := range r.Header {
		if k != key && strings.EqualFold(k, name) {
			others = append(others, k)
		}
	}
	slices.Sort(others)
	for _, k := range others {
		values = append(values, r.Header[k]...)
	}
	if len(values) == 0 && name == "content-length" && r.ContentLength > 0 {
		values = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	return values
}

// canonicalHeaders returns the canonical headers block for the signed
// header names: "name:value\n" sorted by lowercase name, each value with
// leading and trailing spaces trimmed and inner runs of spaces collapsed,
// several values joined with ','.
func canonicalHeaders(r *http.Request, signed []string) string {
	names := make([]string, len(signed))
	for i, n := range signed {
		names[i] = strings.ToLower(n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		for i, v := range headerValues(r, n) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// trimAll trims leading and trailing spaces and collapses inner runs of
// spaces to one, like the SDK signers.
func trimAll(v string) string {
	v = strings.Trim(v, " ")
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := range len(v) {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// canonicalRequest joins the parts of a canonical request.
func canonicalRequest(method, uri, query, headers, signedHeaders, payloadHash string) string {
	return method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + signedHeaders + "\n" + payloadHash
}

// stringToSign builds the string to sign for a canonical request.
func stringToSign(amzDate, scope, canonicalRequest string) string {
	return algorithm + "\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(canonicalRequest))
}

// signingKey derives the signing key for a credential scope.
func signingKey(secret string, c credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), c.Date)
	k = hmacSHA256(k, c.Region)
	k = hmacSHA256(k, c.Service)
	return hmacSHA256(k, terminator)
}

// signature is the hex signature of a string to sign.
func signature(key []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
