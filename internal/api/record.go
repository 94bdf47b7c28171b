package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/store"
)

// Self-recording: every authenticated call becomes a management event
// (event-record.md §2, §4.5, §7.1).

const (
	eventSource = "cloudtrail.amazonaws.com"

	maxStringField = 1024       // userAgent, errorCode, errorMessage
	maxObjectField = 100 * 1024 // requestParameters, responseElements
)

// record builds the event for one call and appends it to the store. werr
// is the error the client will get, or nil on success, in which case resp
// is the encoded output.
func (h *Handler) record(ctx context.Context, r *http.Request, c *call, op *operation, caller identity.Caller, body, resp []byte, werr *wireError) error {
	rec := h.newRecord(r, c, op, caller, body, resp, werr)
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record %s: encode: %w", op.Name, err)
	}
	ev, err := event.Parse(raw)
	if err != nil {
		return fmt.Errorf("record %s: %w", op.Name, err)
	}
	if _, err := h.opts.Events.Append(ctx, []event.Event{ev}, store.AppendOptions{}); err != nil {
		return fmt.Errorf("record %s: append: %w", op.Name, err)
	}
	return nil
}

func (h *Handler) newRecord(r *http.Request, c *call, op *operation, caller identity.Caller, body, resp []byte, werr *wireError) event.Record {
	readOnly, mgmt := op.ReadOnly, true
	rec := event.Record{
		EventVersion:       event.Version,
		UserIdentity:       userIdentity(caller.Principal),
		EventTime:          event.FormatTime(h.now()),
		EventSource:        eventSource,
		EventName:          op.Name,
		AWSRegion:          caller.Region,
		SourceIPAddress:    clientIP(r),
		UserAgent:          truncate(r.UserAgent(), maxStringField),
		RequestParameters:  lowerCamelMembers(body),
		ResponseElements:   jsonNull,
		RequestID:          c.requestID,
		EventID:            newUUID(),
		ReadOnly:           &readOnly,
		EventType:          event.TypeAPICall,
		ManagementEvent:    &mgmt,
		RecipientAccountID: caller.AccountID,
		EventCategory:      event.CategoryMgmt,
		TLSDetails:         tlsDetails(r),
	}
	if werr != nil {
		rec.ErrorCode = truncate(werr.Code, maxStringField)
		rec.ErrorMessage = truncate(werr.Message, maxStringField)
	} else if !op.ReadOnly {
		rec.ResponseElements = lowerCamelMembers(resp)
	}
	var updated []string
	if len(rec.RequestParameters) > maxObjectField {
		rec.RequestParameters = truncatedObject
		updated = append(updated, "requestParameters")
	}
	if len(rec.ResponseElements) > maxObjectField {
		rec.ResponseElements = truncatedObject
		updated = append(updated, "responseElements")
	}
	if updated != nil {
		// event-record.md §6: an oversized object field is replaced and
		// named in addendum.updatedFields.
		rec.Addendum, _ = json.Marshal(map[string]string{"updatedFields": strings.Join(updated, ",")})
	}
	return rec
}

var (
	jsonNull        = json.RawMessage("null")
	truncatedObject = json.RawMessage(`{"truncated":true}`)
)

// userIdentity is the record's userIdentity for an OpenTrail principal
// (event-record.md §4.5).
func userIdentity(p identity.Principal) *event.UserIdentity {
	u := &event.UserIdentity{
		Type:        p.Type,
		PrincipalID: p.PrincipalID(),
		ARN:         p.ARN(),
		AccountID:   p.AccountID,
	}
	if p.AccessKeyID != "" {
		key := p.AccessKeyID
		u.AccessKeyID = &key
	}
	if p.Type == identity.TypeIAMUser {
		u.UserName = p.UserName
	}
	return u
}

// clientIP is the TCP peer's address. Proxy headers are not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// truncate makes s valid UTF-8 and cuts it to at most n bytes on a rune
// boundary.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// lowerCamelMembers re-encodes a JSON object with its top-level member
// names lower-camel-cased (event-record.md §7.1), dropping null members
// and later duplicates. It returns null for an empty object and for
// anything that is not a JSON object.
func lowerCamelMembers(obj []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return jsonNull
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonNull
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return jsonNull
		}
		name = lowerCamel(name)
		if string(v) == "null" || seen[name] {
			continue
		}
		seen[name] = true
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		buf.Write(k)
		buf.WriteByte(':')
		if err := json.Compact(&buf, v); err != nil {
			return jsonNull
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonNull
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jsonNull
	}
	if len(seen) == 0 {
		return jsonNull
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// lowerCamel lower-cases a member name's leading capital, or its leading
// acronym: Name → name, S3BucketName → s3BucketName, KMSKeyId → kmsKeyId,
// ARN → arn.
func lowerCamel(s string) string {
	r := []rune(s)
	for i := range r {
		if !unicode.IsUpper(r[i]) {
			break
		}
		// Keep the last capital of an acronym that starts a new word.
		if i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// tlsDetails fills tlsDetails from the connection, or returns nil for
// plain HTTP (event-record.md §7.3).
func tlsDetails(r *http.Request) *event.TLSDetails {
	if r.TLS == nil {
		return nil
	}
	return &event.TLSDetails{
		TLSVersion:               tlsVersionName(r.TLS.Version),
		CipherSuite:              cipherSuiteName(r.TLS.CipherSuite),
		ClientProvidedHostHeader: r.Host,
	}
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// openSSLCipherNames spells Go's TLS 1.2 suites the way OpenSSL (and
// CloudTrail) does. TLS 1.3 suites use their IANA names in both.
var openSSLCipherNames = map[uint16]string{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          "ECDHE-ECDSA-AES128-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          "ECDHE-ECDSA-AES256-SHA",
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               "AES128-GCM-SHA256",
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384:               "AES256-GCM-SHA384",
	tls.TLS_RSA_WITH_AES_128_CBC_SHA:                  "AES128-SHA",
	tls.TLS_RSA_WITH_AES_256_CBC_SHA:                  "AES256-SHA",
}

func cipherSuiteName(id uint16) string {
	if n, ok := openSSLCipherNames[id]; ok {
		return n
	}
	return tls.CipherSuiteName(id)
}
