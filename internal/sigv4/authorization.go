package sigv4

import (
	"fmt"
	"strings"
	"time"
)

const (
	// algorithm is the only signing algorithm accepted.
	algorithm = "AWS4-HMAC-SHA256"
	// terminator ends every credential scope.
	terminator = "aws4_request"
	// amzDateLayout is the ISO 8601 basic format of X-Amz-Date.
	amzDateLayout = "20060102T150405Z"
	// scopeDateLayout is the date part of a credential scope.
	scopeDateLayout = "20060102"
)

// authorization is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=<h1;h2>, Signature=<hex>
type authorization struct {
	Credential    credential
	SignedHeaders []string
	Signature     string
}

// String formats a in the form the AWS SDKs write, so that
// parseAuthorization(a.String()) returns a again.
func (a authorization) String() string {
	return algorithm + " Credential=" + a.Credential.String() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + a.Signature
}

// credential is the Credential parameter: an access key ID and the
// credential scope.
type credential struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
}

// String formats c as <key>/<yyyymmdd>/<region>/<service>/aws4_request.
func (c credential) String() string { return c.AccessKeyID + "/" + c.scope() }

// scope is the credential scope: <yyyymmdd>/<region>/<service>/aws4_request.
func (c credential) scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/" + terminator
}

// parseAuthorization parses an Authorization header value. Failures are
// [*Error]s wrapping [ErrIncomplete]. The parameters may appear in any
// order, separated by commas with optional spaces (empty items are
// skipped); each must appear exactly once and no other parameter is
// accepted.
//
// The header is echoed in error messages (as AWS does) only when it starts
// with the SigV4 algorithm name, which guarantees it holds no secret; other
// schemes (Basic, Bearer) may carry passwords or tokens.
func parseAuthorization(h string) (authorization, error) {
	h = strings.Trim(h, " ")
	alg, rest, _ := strings.Cut(h, " ")
	if alg == "AWS" {
		return authorization{}, signatureV2()
	}
	if alg != algorithm {
		return authorization{}, incomplete("Authorization header requires the '" + algorithm +
			"' algorithm (AWS Signature Version 4); other authorization schemes are not supported.")
	}
	suffix := " Authorization=" + h

	var a authorization
	var cred, signedHeaders string
	var seen [3]bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " ")
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return authorization{}, incomplete(fmt.Sprintf(
				"'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, h))
		}
		var i int
		var dst *string
		switch key {
		case "Credential":
			i, dst = 0, &cred
		case "SignedHeaders":
			i, dst = 1, &signedHeaders
		case "Signature":
			i, dst = 2, &a.Signature
		default:
			return authorization{}, incomplete(fmt.Sprintf(
				"'%s' is not a valid Authorization header parameter; expected Credential, SignedHeaders and Signature.%s",
				key, suffix))
		}
		if seen[i] {
			return authorization{}, incomplete(fmt.Sprintf(
				"Authorization header has more than one '%s' parameter.%s", key, suffix))
		}
		seen[i] = true
		*dst = value
	}

	var missing strings.Builder
	for _, p := range []struct{ name, value string }{
		{"Credential", cred}, {"Signature", a.Signature}, {"SignedHeaders", signedHeaders},
	} {
		if p.value == "" {
			missing.WriteString("Authorization header requires '" + p.name + "' parameter. ")
		}
	}
	if missing.Len() > 0 {
		return authorization{}, incomplete(missing.String() + "Authorization=" + h)
	}

	var problem string
	if a.Credential, problem = parseCredential(cred); problem != "" {
		return authorization{}, incomplete(problem + suffix)
	}
	if a.SignedHeaders, problem = parseSignedHeaders(signedHeaders); problem != "" {
		return authorization{}, incomplete(problem + suffix)
	}
	return a, nil
}

// parseCredential parses <key>/<yyyymmdd>/<region>/<service>/aws4_request.
// On failure it returns a message describing the problem, for the caller to
// wrap with context.
func parseCredential(s string) (c credential, problem string) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 {
		return credential{}, fmt.Sprintf("Credential should have 5 slash-separated parts "+
			"(<AccessKeyId>/<yyyymmdd>/<region>/<service>/aws4_request), not %d: '%s'.", len(parts), s)
	}
	c = credential{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}
	switch {
	case c.AccessKeyID == "":
		return credential{}, fmt.Sprintf("Credential should name an access key ID: '%s'.", s)
	case !validScopeDate(c.Date):
		return credential{}, fmt.Sprintf("Credential should be scoped to a date in yyyyMMdd format, not '%s'.", c.Date)
	case c.Region == "":
		return credential{}, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", c.Region)
	case c.Service == "":
		return credential{}, fmt.Sprintf("Credential should be scoped to a valid service, not '%s'.", c.Service)
	case parts[4] != terminator:
		return credential{}, fmt.Sprintf("Credential should be scoped with a valid terminator: '%s', not '%s'.",
			terminator, parts[4])
	}
	return c, ""
}

// validScopeDate reports whether s is a real date written as yyyymmdd.
func validScopeDate(s string) bool {
	t, err := time.Parse(scopeDateLayout, s)
	return err == nil && t.Format(scopeDateLayout) == s
}

// parseSignedHeaders parses the SignedHeaders list: header names separated
// by ';'. Names are kept as received (the canonical request repeats the list
// verbatim) but compared case-insensitively, so duplicates differing only in
// case are rejected. On failure it returns a message describing the problem.
func parseSignedHeaders(s string) (names []string, problem string) {
	names = strings.Split(s, ";")
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !isToken(n) {
			return nil, fmt.Sprintf("SignedHeaders should be header names separated by ';', not '%s'.", s)
		}
		lower := strings.ToLower(n)
		if seen[lower] {
			return nil, fmt.Sprintf("SignedHeaders names '%s' more than once.", lower)
		}
		seen[lower] = true
	}
	return names, ""
}

// isToken reports whether s is a non-empty RFC 9110 token, the syntax of a
// header field name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parseAmzDate parses an X-Amz-Date value (yyyymmddThhmmssZ), strictly.
func parseAmzDate(s string) (time.Time, bool) {
	t, err := time.Parse(amzDateLayout, s)
	if err != nil || t.Format(amzDateLayout) != s {
		return time.Time{}, false
	}
	return t, true
}

// formatAmzDate formats t as an X-Amz-Date value, in UTC.
func formatAmzDate(t time.Time) string { return t.UTC().Format(amzDateLayout) }

// httpDateLayouts are the RFC 1123 forms accepted in a Date header.
var httpDateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 GMT", // http.TimeFormat, what clients send
	time.RFC1123Z,
	time.RFC1123,
}

// parseHTTPDate parses a Date header value in RFC 1123 format.
func parseHTTPDate(s string) (time.Time, bool) {
	for _, layout := range httpDateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
