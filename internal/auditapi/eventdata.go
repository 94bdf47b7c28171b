package auditapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
	"unicode/utf8"
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
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(eventData)); err != nil || !utf8.Valid(compact.Bytes()) {
		return Checked{}, eventErr(CodeInvalidData, "eventData is not valid JSON: it must be a JSON object, as a string.")
	}
	obj, ok := members(compact.Bytes())
	if !ok {
		return Checked{}, eventErr(CodeInvalidData, "eventData is not a JSON object.")
	}
	if e := checkFields(obj, eventDataFields, ""); e != nil {
		return Checked{}, e
	}
	ui, _ := members(obj["userIdentity"])
	if e := checkFields(ui, userIdentityFields, "userIdentity."); e != nil {
		return Checked{}, e
	}
	var ts string
	_ = json.Unmarshal(obj["eventTime"], &ts)
	t, ok := parseEventTime(ts)
	if !ok {
		return Checked{}, eventErr(CodeInvalidData, "eventTime %q is not a UTC time of the form yyyy-MM-ddTHH:mm:ss (optionally with fractional seconds and a trailing Z).", clip(ts))
	}
	if raw, ok := obj["sourceIPAddress"]; ok && !isNull(raw) {
		var ip string
		_ = json.Unmarshal(raw, &ip)
		if _, err := netip.ParseAddr(ip); err != nil {
			return Checked{}, eventErr(CodeInvalidData, "sourceIPAddress %q is not an IPv4 or IPv6 address.", clip(ip))
		}
	}
	var recipient string
	_ = json.Unmarshal(obj["recipientAccountId"], &recipient)
	if recipient != owner {
		return Checked{}, eventErr(CodeInvalidRecipent, "recipientAccountId %q is not the channel owner's account ID, %s.", clip(recipient), owner)
	}
	return Checked{EventData: compact.Bytes(), EventTime: t}, nil
}

// checkFields checks obj against fields; prefix names the enclosing
// object in messages.
func checkFields(obj map[string]json.RawMessage, fields []field, prefix string) *EventError {
	for _, f := range fields {
		raw, ok := obj[f.name]
		if !ok || isNull(raw) {
			if f.required {
				return eventErr(CodeFieldNotFound, "eventData has no %s%s; it is required.", prefix, f.name)
			}
			continue
		}
		switch f.kind {
		case kString:
			var s string
			if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				return eventErr(CodeInvalidData, "%s%s must be a string.", prefix, f.name)
			}
			if n := utf8.RuneCountInString(s); f.max > 0 && n > f.max {
				return eventErr(CodeFieldTooLong, "%s%s is %d characters long; at most %d are allowed.", prefix, f.name, n, f.max)
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

// members decodes a compact JSON object's members (the last of a
// repeated name wins), false when b is not an object.
func members(b []byte) (map[string]json.RawMessage, bool) {
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	return m, true
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

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
