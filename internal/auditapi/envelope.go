package auditapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/jsonscan"
)

// decodeEnvelope decodes a PutAuditEvents body as awsjson.Decode does
// (its errors, its answers), in one fast pass over the body for the
// bodies clients send; anything unusual (a null element, a member of
// another type, a name that differs only in case, a repeated member) is
// left to awsjson.Decode.
func decodeEnvelope(body []byte) (putAuditEventsIn, error) {
	if in, ok := fastEnvelope(body); ok {
		return in, nil
	}
	var in putAuditEventsIn
	err := awsjson.Decode(body, &in)
	return in, err
}

var errSlow = errors.New("not on the fast path")

// compactJSON returns b in compact form (b itself when it is already),
// and false when b is not valid JSON in valid UTF-8 (encoding/json would
// turn invalid UTF-8 into U+FFFD).
func compactJSON(b []byte) ([]byte, bool) {
	valid, compact := jsonscan.Valid(b)
	if !valid || !utf8.Valid(b) {
		return nil, false
	}
	if !compact {
		var buf bytes.Buffer
		buf.Grow(len(b))
		_ = json.Compact(&buf, b) // valid: cannot fail
		b = buf.Bytes()
	}
	return b, true
}

// fastEnvelope decodes body when it is a JSON object whose auditEvents is
// absent, null or a list of objects whose id, eventData and
// eventDataChecksum are strings or null; ok false otherwise.
func fastEnvelope(body []byte) (in putAuditEventsIn, ok bool) {
	// encoding/json turns invalid UTF-8 into U+FFFD; the slow path does.
	body, ok = compactJSON(body)
	if !ok || body[0] != '{' {
		return in, false
	}
	seen := false
	err := event.EachMember(body, func(name, val []byte) error {
		if string(name) != "auditEvents" {
			if strings.EqualFold(string(name), "auditEvents") {
				return errSlow
			}
			return nil
		}
		if seen || val[0] != '[' && string(val) != "null" {
			return errSlow
		}
		seen = true
		if val[0] != '[' {
			return nil
		}
		in.AuditEvents = []auditEventIn{}
		return event.EachElement(val, func(_ int, el []byte) error {
			if el[0] != '{' {
				return errSlow
			}
			var ae auditEventIn
			got := map[string]bool{}
			if err := event.EachMember(el, func(name, v []byte) error {
				var dst **string
				switch string(name) {
				case "id":
					dst = &ae.ID
				case "eventData":
					dst = &ae.EventData
				case "eventDataChecksum":
					dst = &ae.EventDataChecksum
				default:
					for _, m := range []string{"id", "eventData", "eventDataChecksum"} {
						if strings.EqualFold(string(name), m) {
							return errSlow
						}
					}
					return nil
				}
				if got[string(name)] {
					return errSlow
				}
				got[string(name)] = true
				switch {
				case string(v) == "null":
				case v[0] == '"':
					s := event.JSONString(v)
					*dst = &s
				default:
					return errSlow
				}
				return nil
			}); err != nil {
				return err
			}
			in.AuditEvents = append(in.AuditEvents, ae)
			return nil
		})
	})
	return in, err == nil
}
