package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// Version is the eventVersion OpenTrail writes on every record it produces.
const Version = "1.11"

// TimeFormat is the layout of eventTime and the other record timestamps:
// ISO 8601 UTC with second precision and a Z suffix.
const TimeFormat = "2006-01-02T15:04:05Z"

// Event types (the eventType field).
const (
	TypeAPICall     = "AwsApiCall"
	TypeServiceEvt  = "AwsServiceEvent"
	TypeConsole     = "AwsConsoleAction"
	TypeSignIn      = "AwsConsoleSignIn"
	TypeInsight     = "AwsCloudTrailInsight"
	TypeVpceEvent   = "AwsVpceEvent"
	CategoryMgmt    = "Management"
	CategoryData    = "Data"
	CategoryNetwork = "NetworkActivity"
	CategoryInsight = "Insight"
	// CategoryActivityAuditLog and TypeActivityLog are the eventCategory
	// and eventType of a record of events from outside AWS: an event a
	// channel's PutAuditEvents accepted, wrapped (lake.md §7.5). Such a
	// record names its event in eventData, and only event data stores
	// of that category take it.
	CategoryActivityAuditLog = "ActivityAuditLog"
	TypeActivityLog          = "ActivityLog"
)

// Record is a CloudTrail event record. Fields follow the order AWS writes
// them in; members this version of OpenTrail does not know are kept in Extra
// and written back after the known ones, so decoding and re-encoding a real
// record loses nothing.
//
// Object-valued members that are passed through unchanged
// (requestParameters, responseElements, …) are raw JSON. A nil RawMessage
// means "absent"; the JSON literal null is kept as null.
type Record struct {
	EventVersion                 string          `json:"eventVersion,omitempty"`
	UserIdentity                 *UserIdentity   `json:"userIdentity,omitempty"`
	EventTime                    string          `json:"eventTime,omitempty"`
	EventSource                  string          `json:"eventSource,omitempty"`
	EventName                    string          `json:"eventName,omitempty"`
	AWSRegion                    string          `json:"awsRegion,omitempty"`
	SourceIPAddress              string          `json:"sourceIPAddress,omitempty"`
	UserAgent                    string          `json:"userAgent,omitempty"`
	ErrorCode                    string          `json:"errorCode,omitempty"`
	ErrorMessage                 string          `json:"errorMessage,omitempty"`
	RequestParameters            json.RawMessage `json:"requestParameters,omitempty"`
	ResponseElements             json.RawMessage `json:"responseElements,omitempty"`
	AdditionalEventData          json.RawMessage `json:"additionalEventData,omitempty"`
	RequestID                    string          `json:"requestID,omitempty"`
	EventID                      string          `json:"eventID,omitempty"`
	ReadOnly                     *bool           `json:"readOnly,omitempty"`
	Resources                    []Resource      `json:"resources,omitempty"`
	EventType                    string          `json:"eventType,omitempty"`
	APIVersion                   string          `json:"apiVersion,omitempty"`
	ManagementEvent              *bool           `json:"managementEvent,omitempty"`
	RecipientAccountID           string          `json:"recipientAccountId,omitempty"`
	SharedEventID                string          `json:"sharedEventID,omitempty"`
	VpcEndpointID                string          `json:"vpcEndpointId,omitempty"`
	VpcEndpointAccountID         string          `json:"vpcEndpointAccountId,omitempty"`
	ServiceEventDetails          json.RawMessage `json:"serviceEventDetails,omitempty"`
	EventCategory                string          `json:"eventCategory,omitempty"`
	Addendum                     json.RawMessage `json:"addendum,omitempty"`
	TLSDetails                   *TLSDetails     `json:"tlsDetails,omitempty"`
	SessionCredentialFromConsole string          `json:"sessionCredentialFromConsole,omitempty"`
	EdgeDeviceDetails            json.RawMessage `json:"edgeDeviceDetails,omitempty"`
	EventContext                 json.RawMessage `json:"eventContext,omitempty"`
	InsightDetails               json.RawMessage `json:"insightDetails,omitempty"`

	// Extra holds members not listed above, keyed by member name, as raw
	// JSON. It also keeps, under its own name, a known member whose JSON the
	// typed field cannot carry exactly: a string member that is "" or null
	// (an empty field means absent), null for a pointer or slice field, a
	// value of an unexpected JSON type (the field is then left zero), or
	// resources or tlsDetails with members Resource or TLSDetails lack.
	// MarshalJSON writes such a kept member in its AWS position, unless the
	// typed field has since been set to a different value, which then wins.
	Extra map[string]json.RawMessage `json:"-"`
}

// UserIdentity is the userIdentity element. Unknown members, and known ones
// the typed fields cannot carry exactly, are kept in Extra, as for [Record].
type UserIdentity struct {
	Type             string                     `json:"type,omitempty"`
	PrincipalID      string                     `json:"principalId,omitempty"`
	ARN              string                     `json:"arn,omitempty"`
	AccountID        string                     `json:"accountId,omitempty"`
	AccessKeyID      *string                    `json:"accessKeyId,omitempty"`
	UserName         string                     `json:"userName,omitempty"`
	SessionContext   json.RawMessage            `json:"sessionContext,omitempty"`
	InvokedBy        string                     `json:"invokedBy,omitempty"`
	IdentityProvider string                     `json:"identityProvider,omitempty"`
	OnBehalfOf       json.RawMessage            `json:"onBehalfOf,omitempty"`
	InScopeOf        json.RawMessage            `json:"inScopeOf,omitempty"`
	CredentialID     string                     `json:"credentialId,omitempty"`
	Extra            map[string]json.RawMessage `json:"-"`
}

// Resource is one element of the record's resources array. Its ARN key is
// upper-case on the wire.
type Resource struct {
	ARN       string `json:"ARN,omitempty"`
	ARNPrefix string `json:"ARNPrefix,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"`
}

// TLSDetails is the tlsDetails element.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion,omitempty"`
	CipherSuite              string `json:"cipherSuite,omitempty"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader,omitempty"`
}

// FormatTime renders t as a record timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// recordFields lists Record's JSON members in AWS order, with accessors.
// Keeping one table means marshal, unmarshal and the known-name set cannot
// drift apart.
var recordFields = fieldTable[Record]{
	{"eventVersion", func(r *Record) any { return &r.EventVersion }},
	{"userIdentity", func(r *Record) any { return &r.UserIdentity }},
	{"eventTime", func(r *Record) any { return &r.EventTime }},
	{"eventSource", func(r *Record) any { return &r.EventSource }},
	{"eventName", func(r *Record) any { return &r.EventName }},
	{"awsRegion", func(r *Record) any { return &r.AWSRegion }},
	{"sourceIPAddress", func(r *Record) any { return &r.SourceIPAddress }},
	{"userAgent", func(r *Record) any { return &r.UserAgent }},
	{"errorCode", func(r *Record) any { return &r.ErrorCode }},
	{"errorMessage", func(r *Record) any { return &r.ErrorMessage }},
	{"requestParameters", func(r *Record) any { return &r.RequestParameters }},
	{"responseElements", func(r *Record) any { return &r.ResponseElements }},
	{"additionalEventData", func(r *Record) any { return &r.AdditionalEventData }},
	{"requestID", func(r *Record) any { return &r.RequestID }},
	{"eventID", func(r *Record) any { return &r.EventID }},
	{"readOnly", func(r *Record) any { return &r.ReadOnly }},
	{"resources", func(r *Record) any { return &r.Resources }},
	{"eventType", func(r *Record) any { return &r.EventType }},
	{"apiVersion", func(r *Record) any { return &r.APIVersion }},
	{"managementEvent", func(r *Record) any { return &r.ManagementEvent }},
	{"recipientAccountId", func(r *Record) any { return &r.RecipientAccountID }},
	{"sharedEventID", func(r *Record) any { return &r.SharedEventID }},
	{"vpcEndpointId", func(r *Record) any { return &r.VpcEndpointID }},
	{"vpcEndpointAccountId", func(r *Record) any { return &r.VpcEndpointAccountID }},
	{"serviceEventDetails", func(r *Record) any { return &r.ServiceEventDetails }},
	{"eventCategory", func(r *Record) any { return &r.EventCategory }},
	{"addendum", func(r *Record) any { return &r.Addendum }},
	{"tlsDetails", func(r *Record) any { return &r.TLSDetails }},
	{"sessionCredentialFromConsole", func(r *Record) any { return &r.SessionCredentialFromConsole }},
	{"edgeDeviceDetails", func(r *Record) any { return &r.EdgeDeviceDetails }},
	{"eventContext", func(r *Record) any { return &r.EventContext }},
	{"insightDetails", func(r *Record) any { return &r.InsightDetails }},
}

var identityFields = fieldTable[UserIdentity]{
	{"type", func(u *UserIdentity) any { return &u.Type }},
	{"principalId", func(u *UserIdentity) any { return &u.PrincipalID }},
	{"arn", func(u *UserIdentity) any { return &u.ARN }},
	{"accountId", func(u *UserIdentity) any { return &u.AccountID }},
	{"accessKeyId", func(u *UserIdentity) any { return &u.AccessKeyID }},
	{"userName", func(u *UserIdentity) any { return &u.UserName }},
	{"sessionContext", func(u *UserIdentity) any { return &u.SessionContext }},
	{"invokedBy", func(u *UserIdentity) any { return &u.InvokedBy }},
	{"identityProvider", func(u *UserIdentity) any { return &u.IdentityProvider }},
	{"onBehalfOf", func(u *UserIdentity) any { return &u.OnBehalfOf }},
	{"inScopeOf", func(u *UserIdentity) any { return &u.InScopeOf }},
	{"credentialId", func(u *UserIdentity) any { return &u.CredentialID }},
}

// MarshalJSON writes the record's members in AWS order, then Extra sorted by
// name.
func (r Record) MarshalJSON() ([]byte, error) { return recordFields.marshal(&r, r.Extra) }

// UnmarshalJSON reads a record, keeping unknown members in Extra.
func (r *Record) UnmarshalJSON(b []byte) error {
	*r = Record{}
	extra, err := recordFields.unmarshal(r, b)
	r.Extra = extra
	return err
}

// MarshalJSON writes the identity's members in AWS order, then Extra.
func (u UserIdentity) MarshalJSON() ([]byte, error) { return identityFields.marshal(&u, u.Extra) }

// UnmarshalJSON reads an identity, keeping unknown members in Extra.
func (u *UserIdentity) UnmarshalJSON(b []byte) error {
	*u = UserIdentity{}
	extra, err := identityFields.unmarshal(u, b)
	u.Extra = extra
	return err
}

type field[T any] struct {
	name string
	ptr  func(*T) any
}

type fieldTable[T any] []field[T]

// known reports whether name is one of the table's members.
func (ft fieldTable[T]) known(name string) bool {
	for _, f := range ft {
		if f.name == name {
			return true
		}
	}
	return false
}

func (ft fieldTable[T]) marshal(v *T, extra map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	put := func(name string, raw []byte) {
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		nb, _ := json.Marshal(name)
		buf.Write(nb)
		buf.WriteByte(':')
		buf.Write(raw)
	}
	for _, f := range ft {
		p := f.ptr(v)
		raw, ok, err := encodeMember(p)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.name, err)
		}
		// A known member kept in extra is the exact JSON it arrived as.
		// It is written back unless the typed field now holds something
		// else (the caller changed it).
		if kept, isKept := extra[f.name]; isKept && (!ok || keptMatches(kept, p)) {
			put(f.name, kept)
			continue
		}
		if ok {
			put(f.name, raw)
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !ft.known(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		put(k, extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// encodeMember encodes *p, reporting ok=false for the zero value (absent).
// A RawMessage holding "null" is present.
func encodeMember(p any) ([]byte, bool, error) {
	switch v := p.(type) {
	case *string:
		if *v == "" {
			return nil, false, nil
		}
	case *json.RawMessage:
		if *v == nil {
			return nil, false, nil
		}
		return *v, true, nil
	case **bool:
		if *v == nil {
			return nil, false, nil
		}
	case **string:
		if *v == nil {
			return nil, false, nil
		}
	case **UserIdentity:
		if *v == nil {
			return nil, false, nil
		}
	case **TLSDetails:
		if *v == nil {
			return nil, false, nil
		}
	case *[]Resource:
		if *v == nil {
			return nil, false, nil
		}
	}
	b, err := json.Marshal(p)
	return b, err == nil, err
}

func (ft fieldTable[T]) unmarshal(v *T, b []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("event: record is null, want a JSON object")
	}
	for _, f := range ft {
		raw, ok := m[f.name]
		if !ok {
			continue
		}
		if decodeMember(raw, f.ptr(v)) {
			delete(m, f.name)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// decodeMember decodes the member value raw into *p and reports whether
// encoding *p gives back the same JSON value, so that raw need not be kept.
// It is false for a string member that is "" or null (the typed field
// cannot tell those from absent), for null where the field is a pointer or
// slice, for a value of a JSON type the field cannot hold (then *p is left
// zero), and for resources or tlsDetails holding members or values the Go
// types do not carry.
func decodeMember(raw json.RawMessage, p any) bool {
	if len(raw) == 0 {
		return false
	}
	switch v := p.(type) {
	case *json.RawMessage:
		*v = append(json.RawMessage(nil), raw...)
		return true
	case *string:
		if raw[0] != '"' {
			return false
		}
		if s, ok := plainString(raw); ok {
			*v = s
		} else if json.Unmarshal(raw, v) != nil {
			*v = ""
		}
		return *v != ""
	case **string:
		if raw[0] != '"' {
			return false
		}
	case **bool:
		if raw[0] != 't' && raw[0] != 'f' {
			return false
		}
	case **UserIdentity:
		if raw[0] != '{' {
			return false
		}
	case **TLSDetails:
		if raw[0] != '{' || json.Unmarshal(raw, v) != nil {
			*v = nil
			return false
		}
		return sameJSON(raw, *v)
	case *[]Resource:
		if raw[0] != '[' || json.Unmarshal(raw, v) != nil {
			*v = nil
			return false
		}
		return sameJSON(raw, *v)
	}
	if err := json.Unmarshal(raw, p); err != nil {
		reflect.ValueOf(p).Elem().SetZero()
		return false
	}
	return true
}

// keptMatches reports whether kept, a member's JSON kept in Extra, decodes
// to the value the typed field *p now holds.
func keptMatches(kept json.RawMessage, p any) bool {
	cur := reflect.ValueOf(p).Elem()
	fresh := reflect.New(cur.Type())
	decodeMember(kept, fresh.Interface())
	return reflect.DeepEqual(cur.Interface(), fresh.Elem().Interface())
}

// plainString returns the value of the JSON string literal raw when it holds
// only printable ASCII without escapes, the common case, in which it equals
// what encoding/json would decode.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c < 0x20 || c >= 0x80 || c == '\\' || c == '"' {
			return "", false
		}
	}
	return string(body), true
}

// sameJSON reports whether the JSON text raw and the encoding of v are the
// same JSON value (member order aside).
func sameJSON(raw []byte, v any) bool {
	enc, err := json.Marshal(v)
	if err != nil {
		return false
	}
	a, errA := decodeAny(raw)
	b, errB := decodeAny(enc)
	return errA == nil && errB == nil && reflect.DeepEqual(a, b)
}

func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
