package auditapi

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// Per-event error codes of PutAuditEvents (lake.md §7.4).
const (
	CodeFieldTooLong    = "FieldTooLong"
	CodeFieldNotFound   = "FieldNotFound"
	CodeInvalidChecksum = "InvalidChecksum"
	CodeInvalidData     = "InvalidData"
	CodeInvalidRecipent = "InvalidRecipient"
	CodeInternalFailure = "InternalFailure"
)

// EventError is why one audit event was not ingested: its per-event
// errorCode and errorMessage.
type EventError struct {
	Code    string
	Message string
}

func (e *EventError) Error() string { return e.Code + ": " + e.Message }

func eventErr(code, format string, args ...any) *EventError {
	return &EventError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// kind is the JSON type a field of eventData must have.
type kind int

const (
	kString kind = iota
	kObject
)

// field is one member of eventData's schema (lake.md §7.3); max is in
// characters for strings and in bytes of compact JSON for objects, 0 for
// no limit.
type field struct {
	name     string
	required bool
	kind     kind
	max      int
}

// Indexes of eventDataFields that CheckEvent reads.
var (
	fUserIdentity = fieldIndex("userIdentity")
	fEventTime    = fieldIndex("eventTime")
	fSourceIP     = fieldIndex("sourceIPAddress")
	fRecipient    = fieldIndex("recipientAccountId")
)

func fieldIndex(name string) int {
	for i, f := range eventDataFields {
		if f.name == name {
			return i
		}
	}
	panic("auditapi: no field " + name)
}

// eventDataFields is the schema, in the order errors are looked for.
var eventDataFields = []field{
	{"version", true, kString, 256},
	{"userIdentity", true, kObject, 0},
	{"userAgent", false, kString, 1024},
	{"eventSource", true, kString, 1024},
	{"eventName", true, kString, 1024},
	{"eventTime", true, kString, 0},
	{"UID", true, kString, 1024},
	{"requestParameters", false, kObject, 100 * 1024},
	{"responseElements", false, kObject, 100 * 1024},
	{"errorCode", false, kString, 256},
	{"errorMessage", false, kString, 256},
	{"sourceIPAddress", false, kString, 0},
	{"recipientAccountId", true, kString, 0},
	{"additionalEventData", false, kObject, 28 * 1024},
}

// userIdentityFields is userIdentity's schema.
var userIdentityFields = []field{
	{"type", true, kString, 128},
	{"principalId", true, kString, 1024},
	{"details", false, kObject, 0},
}

// Checked is an audit event that passed every rule: its eventData in
// compact form (the caller's object, whitespace aside) and its eventTime
// in UTC, to the second.
type Checked struct {
	EventData []byte
	EventTime time.Time
}

// CheckEvent applies the per-event rules of lake.md §7.3–7.4 to one
// audit event: the checksum over eventData exactly as received (when one
// is given), then eventData's schema field by field (FieldNotFound,
// InvalidData, FieldTooLong naming the field), then the recipient, which
// must be owner (the channel's account).
func CheckEvent(eventData string, checksum *string, owner string) (Checked, *EventError) {
	if checksum != nil {
		sum := sha256.Sum256([]byte(eventData))
		if want := base64.StdEncoding.EncodeToString(sum[:]); *checksum != want {
			return Checked{}, eventErr(CodeInvalidChecksum, "eventDataChecksum does not match eventData: it must be the base64 SHA-256 of the eventData string exactly as sent (printf %%s \"$eventData\" | openssl dgst -binary -sha256 | base64).")
		}
	}
	data, ok := compactJSON([]byte(eventData))
	if !ok {
		return Checked{}, eventErr(CodeInvalidData, "eventData is not valid JSON: it must be a JSON object, as a string.")
	}
	if data[0] != '{' {
		return Checked{}, eventErr(CodeInvalidData, "eventData is not a JSON object.")
	}
	vals := members(data, eventDataFields)
	if e := checkFields(vals, eventDataFields, ""); e != nil {
		return Checked{}, e
	}
	if e := checkFields(members(vals[fUserIdentity], userIdentityFields), userIdentityFields, "userIdentity."); e != nil {
		return Checked{}, e
	}
	ts := event.JSONString(vals[fEventTime])
	t, ok := parseEventTime(ts)
	if !ok {
		return Checked{}, eventErr(CodeInvalidData, "eventTime %q is not a UTC time of the form yyyy-MM-ddTHH:mm:ss (optionally with fractional seconds and a trailing Z).", clip(ts))
	}
	if raw := vals[fSourceIP]; raw != nil {
		ip := event.JSONString(raw)
		if _, err := netip.ParseAddr(ip); err != nil {
			return Checked{}, eventErr(CodeInvalidData, "sourceIPAddress %q is not an IPv4 or IPv6 address.", clip(ip))
		}
	}
	if recipient := event.JSONString(vals[fRecipient]); recipient != owner {
		return Checked{}, eventErr(CodeInvalidRecipent, "recipientAccountId %q is not the channel owner's account ID, %s.", clip(recipient), owner)
	}
	return Checked{EventData: data, EventTime: t}, nil
}

// members returns the raw values of obj's members named in fields, in
// fields' order (nil for a member absent or null; the last of a repeated
// name wins). obj is valid compact JSON; nil or not an object gives none.
func members(obj []byte, fields []field) [][]byte {
	vals := make([][]byte, len(fields))
	if len(obj) == 0 || obj[0] != '{' {
		return vals
	}
	_ = event.EachMember(obj, func(name, val []byte) error {
		for i := range fields {
			if fields[i].name == string(name) {
				vals[i] = val
				if string(val) == "null" {
					vals[i] = nil
				}
				break
			}
		}
		return nil
	})
	return vals
}

// checkFields checks the values vals of fields (members' result);
// prefix names the enclosing object in messages.
func checkFields(vals [][]byte, fields []field, prefix string) *EventError {
	for i, f := range fields {
		raw := vals[i]
		if raw == nil {
			if f.required {
				return eventErr(CodeFieldNotFound, "eventData has no %s%s; it is required.", prefix, f.name)
			}
			continue
		}
		switch f.kind {
		case kString:
			if raw[0] != '"' {
				return eventErr(CodeInvalidData, "%s%s must be a string.", prefix, f.name)
			}
			// A string has at least a character per 6 bytes of its literal
			// (\uXXXX): only a long literal needs decoding to be counted.
			if f.max > 0 && len(raw)-2 > f.max {
				if n := utf8.RuneCountInString(event.JSONString(raw)); n > f.max {
					return eventErr(CodeFieldTooLong, "%s%s is %d characters long; at most %d are allowed.", prefix, f.name, n, f.max)
				}
			}
		case kObject:
			if raw[0] != '{' {
				return eventErr(CodeInvalidData, "%s%s must be a JSON object.", prefix, f.name)
			}
			if f.max > 0 && len(raw) > f.max {
				return eventErr(CodeFieldTooLong, "%s%s is %d bytes; at most %d KB are allowed (it is rejected, not truncated).", prefix, f.name, len(raw), f.max/1024)
			}
		}
	}
	return nil
}

// parseEventTime reads yyyy-MM-ddTHH:mm:ss, optionally with fractional
// seconds, optionally with Z (decision 124): a time in UTC, truncated to
// the second.
func parseEventTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04:05"} {
		// Fractional seconds are accepted after the seconds by Parse
		// even when the layout has none.
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Second), true
		}
	}
	return time.Time{}, false
}

func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	for i := 61; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return "..."
}
