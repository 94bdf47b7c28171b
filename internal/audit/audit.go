// Package audit builds the CloudTrail record of a call received by an
// OpenTrail edge: the cloudtrail API (internal/api), the S3 front end
// (internal/s3api) and the SNS API (internal/snsapi) describe a call as a
// [Call], and [Call.Record] fills the fields every edge fills the same
// way, following event-record.md:
//
//   - userIdentity from the verified [identity.Principal] ([UserIdentity],
//     §4.5);
//   - sourceIPAddress, the TCP peer ([SourceIP]; proxy headers are not
//     trusted);
//   - tlsDetails from the connection, left out over plain HTTP
//     ([TLSDetails], §7.3);
//   - eventID, a random UUID ([NewUUID]); eventVersion [event.Version];
//     eventType AwsApiCall; managementEvent and eventCategory from
//     [Call.Category];
//   - the size caps of §6: userAgent, errorCode, errorMessage and requestID
//     cut at 1 KB on a rune boundary ([Truncate]); requestParameters and
//     responseElements over 100 KB, and additionalEventData over 28 KB,
//     replaced by {"truncated":true} and named in addendum.updatedFields.
//
// What the parameters of a call are (lower-camel JSON members for the
// cloudtrail API, query parameters and headers for S3), which accounts
// receive a copy and which resources a call names stay with each edge.
// [Parse] turns the record into the [event.Event] the store appends.
//
// The package is pure: it reads the request it is given and does no I/O.
package audit

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
)

// Size caps of event-record.md §6.
const (
	// MaxStringField bounds userAgent, errorCode, errorMessage, requestID
	// and tlsDetails.clientProvidedHostHeader, in bytes.
	MaxStringField = 1024
	// MaxObjectField bounds requestParameters and responseElements, in
	// bytes of compact JSON.
	MaxObjectField = 100 * 1024
	// MaxAdditionalData bounds additionalEventData.
	MaxAdditionalData = 28 * 1024
)

// Null is the JSON literal null, the value of an object field that is
// present but empty (responseElements of a read, for one).
var Null = json.RawMessage("null")

// truncatedObject replaces an object field over its cap.
var truncatedObject = json.RawMessage(`{"truncated":true}`)

// Call is one call as an edge received it, with what the edge decided
// about it. Zero fields are left out of the record, except where noted.
type Call struct {
	// Request is the HTTP request; it gives sourceIPAddress and
	// tlsDetails. Required.
	Request *http.Request
	// Time is when the call was received (eventTime, cut to the second).
	Time time.Time
	// Source and Name are eventSource and eventName. Region is awsRegion.
	Source, Name, Region string
	// UserAgent is the userAgent as the edge records it (S3 writes the
	// header in brackets); it is truncated to MaxStringField.
	UserAgent string
	// Identity is userIdentity ([UserIdentity] for a verified caller).
	Identity *event.UserIdentity
	// ReadOnly is readOnly, always written.
	ReadOnly bool
	// Category is event.CategoryMgmt or event.CategoryData;
	// managementEvent is true for the former. Empty means Management.
	Category string
	// RequestID is the id the edge sent the client.
	RequestID string
	// RequestParameters, ResponseElements and AdditionalEventData are raw
	// JSON objects (or null). A nil RequestParameters or ResponseElements
	// is written as null; a nil AdditionalEventData is left out.
	RequestParameters, ResponseElements, AdditionalEventData json.RawMessage
	// ErrorCode and ErrorMessage describe a failed call; both empty on
	// success.
	ErrorCode, ErrorMessage string
	// Resources is the record's resources array; nil leaves it out.
	Resources []event.Resource
	// Recipient is recipientAccountId: the account this copy of the record
	// belongs to. Required.
	Recipient string
	// SharedEventID links the copies of a call that several accounts
	// receive; empty for a call recorded once.
	SharedEventID string
}

// Record builds the CloudTrail record of c, with a new eventID and the
// size caps applied.
func (c *Call) Record() event.Record {
	readOnly := c.ReadOnly
	category := c.Category
	if category == "" {
		category = event.CategoryMgmt
	}
	mgmt := category == event.CategoryMgmt
	rec := event.Record{
		EventVersion:        event.Version,
		UserIdentity:        c.Identity,
		EventTime:           event.FormatTime(c.Time),
		EventSource:         c.Source,
		EventName:           c.Name,
		AWSRegion:           c.Region,
		SourceIPAddress:     SourceIP(c.Request),
		UserAgent:           Truncate(c.UserAgent, MaxStringField),
		ErrorCode:           Truncate(c.ErrorCode, MaxStringField),
		ErrorMessage:        Truncate(c.ErrorMessage, MaxStringField),
		RequestParameters:   orNull(c.RequestParameters),
		ResponseElements:    orNull(c.ResponseElements),
		AdditionalEventData: c.AdditionalEventData,
		RequestID:           Truncate(c.RequestID, MaxStringField),
		EventID:             NewUUID(),
		ReadOnly:            &readOnly,
		Resources:           c.Resources,
		EventType:           event.TypeAPICall,
		ManagementEvent:     &mgmt,
		RecipientAccountID:  c.Recipient,
		SharedEventID:       c.SharedEventID,
		EventCategory:       category,
		TLSDetails:          TLSDetails(c.Request),
	}
	var updated []string
	for _, f := range []struct {
		name string
		v    *json.RawMessage
		max  int
	}{
		{"requestParameters", &rec.RequestParameters, MaxObjectField},
		{"responseElements", &rec.ResponseElements, MaxObjectField},
		{"additionalEventData", &rec.AdditionalEventData, MaxAdditionalData},
	} {
		if len(*f.v) > f.max {
			*f.v = truncatedObject
			updated = append(updated, f.name)
		}
	}
	if updated != nil {
		// event-record.md §6: an oversized object field is replaced and
		// named in addendum.updatedFields.
		rec.Addendum, _ = json.Marshal(map[string]string{"updatedFields": strings.Join(updated, ",")})
	}
	return rec
}

func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return Null
	}
	return v
}

// Parse encodes rec and validates it into the event the store appends,
// deriving its summary from the typed fields (event.FromRecord) rather
// than parsing the JSON back.
func Parse(rec event.Record) (event.Event, error) {
	ev, err := event.FromRecord(&rec)
	if err != nil {
		return event.Event{}, fmt.Errorf("%s record: %w", rec.EventName, err)
	}
	return ev, nil
}

// UserIdentity is the record's userIdentity for an OpenTrail principal
// (event-record.md §4.5).
func UserIdentity(p identity.Principal) *event.UserIdentity {
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

// SourceIP is the TCP peer's address. Proxy headers are not trusted.
func SourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Truncate makes s valid UTF-8 and cuts it to at most n bytes on a rune
// boundary.
func Truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// NewUUID returns a random (version 4) UUID in lowercase, for event and
// request ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// TLSDetails fills tlsDetails from the connection, or returns nil for
// plain HTTP (event-record.md §7.3). clientProvidedHostHeader is the Host
// header, cut to MaxStringField.
func TLSDetails(r *http.Request) *event.TLSDetails {
	if r.TLS == nil {
		return nil
	}
	return &event.TLSDetails{
		TLSVersion:               tlsVersionName(r.TLS.Version),
		CipherSuite:              CipherSuite(r.TLS),
		ClientProvidedHostHeader: Truncate(r.Host, MaxStringField),
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

// CipherSuite is the connection's cipher suite, spelled as CloudTrail
// spells it (OpenSSL names; IANA names for TLS 1.3), or "" for plain
// HTTP.
func CipherSuite(cs *tls.ConnectionState) string {
	if cs == nil {
		return ""
	}
	if n, ok := openSSLCipherNames[cs.CipherSuite]; ok {
		return n
	}
	return tls.CipherSuiteName(cs.CipherSuite)
}
