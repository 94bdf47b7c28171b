package selector

import (
	"bytes"
	"encoding/json"

	"github.com/opentrail/opentrail/internal/event"
)

// Fields is what matching reads from one event. Build it once per event with
// [FieldsOf] and pass the same value to every trail's [Matcher]: members the
// [event.Summary] lacks (eventType, userIdentity.arn, errorCode,
// vpcEndpointId, sessionCredentialFromConsole) are read from the raw record
// only when a matcher first asks for one, then kept. A Fields is not safe for
// concurrent use.
type Fields struct {
	category, source, name string
	readOnly               *bool
	resources              []event.LookupResource
	raw                    []byte

	parsed                                             bool
	eventType, userARN, errorCode, vpceID, fromConsole string
}

// FieldsOf returns the matching view of ev. It does not parse ev.Raw and
// keeps references to ev's slices, which must not change while it is used.
func FieldsOf(ev event.Event) Fields {
	return Fields{
		category:  ev.Category,
		source:    ev.EventSource,
		name:      ev.EventName,
		readOnly:  ev.ReadOnly,
		resources: ev.Resources,
		raw:       ev.Raw,
	}
}

// field ids of values a condition compares.
type fieldID uint8

const (
	fUnknown fieldID = iota // never present: compares as ""
	fCategory
	fSource
	fName
	fReadOnly
	fResourceType
	fResourceARN
	// Members read from the raw record; keep them last (see rawField).
	fEventType
	fUserARN
	fErrorCode
	fVpceID
	fFromConsole
)

var fieldIDs = map[string]fieldID{
	FieldEventCategory:  fCategory,
	FieldEventSource:    fSource,
	FieldEventName:      fName,
	FieldReadOnly:       fReadOnly,
	FieldResourcesType:  fResourceType,
	FieldResourcesARN:   fResourceARN,
	FieldEventType:      fEventType,
	FieldUserARN:        fUserARN,
	FieldErrorCode:      fErrorCode,
	FieldVpcEndpointID:  fVpceID,
	FieldSessionConsole: fFromConsole,
}

func (id fieldID) fromRaw() bool { return id >= fEventType }

// value returns the event's value of a non-resource field; absent members
// are "". readOnly is "true" or "false", an event without readOnly counting
// as "false" (see the package documentation).
func (f *Fields) value(id fieldID) string {
	switch id {
	case fCategory:
		return f.category
	case fSource:
		return f.source
	case fName:
		return f.name
	case fReadOnly:
		if f.isReadOnly() {
			return "true"
		}
		return "false"
	}
	if id.fromRaw() {
		f.parse()
		switch id {
		case fEventType:
			return f.eventType
		case fUserARN:
			return f.userARN
		case fErrorCode:
			return f.errorCode
		case fVpceID:
			return f.vpceID
		case fFromConsole:
			return f.fromConsole
		}
	}
	return ""
}

func (f *Fields) isReadOnly() bool { return f.readOnly != nil && *f.readOnly }

// parse reads the members the Summary lacks from the raw record, once. The
// record is scanned, not unmarshalled: only the wanted members' values are
// decoded. Malformed input leaves the remaining members empty.
func (f *Fields) parse() {
	if f.parsed {
		return
	}
	f.parsed = true
	eachMember(f.raw, func(name, val []byte) {
		switch string(name) {
		case "eventType":
			f.eventType = stringValue(val)
		case "errorCode":
			f.errorCode = stringValue(val)
		case "vpcEndpointId":
			f.vpceID = stringValue(val)
		case "sessionCredentialFromConsole":
			// A JSON string "true" in records; accept a boolean too.
			if len(val) > 0 && val[0] == 't' {
				f.fromConsole = "true"
			} else {
				f.fromConsole = stringValue(val)
			}
		case "userIdentity":
			f.userARN = ""
			eachMember(val, func(name, val []byte) {
				if string(name) == "arn" {
					f.userARN = stringValue(val)
				}
			})
		}
	})
}

// stringValue decodes a JSON string value; anything else is "".
func stringValue(val []byte) string {
	if len(val) < 2 || val[0] != '"' {
		return ""
	}
	lit := val[1 : len(val)-1]
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit)
	}
	var s string
	if json.Unmarshal(val, &s) != nil {
		return ""
	}
	return s
}

// eachMember calls fn with the decoded name and raw value of each member of
// the JSON object obj, in order, tolerating whitespace. It stops silently at
// the first syntax error; it never reads past obj.
func eachMember(obj []byte, fn func(name, val []byte)) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return
		}
		ke := stringEnd(obj, i)
		if ke < 0 {
			return
		}
		name := obj[i+1 : ke-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			name = []byte(stringValue(obj[i:ke]))
		}
		i = skipSpace(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return
		}
		i = skipSpace(obj, i+1)
		ve := valueEnd(obj, i)
		if ve < 0 {
			return
		}
		fn(name, obj[i:ve])
		i = skipSpace(obj, ve)
		if i >= len(obj) || obj[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i],
// or -1 if it is not terminated.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return -1
}

// valueEnd returns the index just past the JSON value starting at b[i], or
// -1 if there is none. Containers are skipped by bracket depth, strings by
// their quotes; the contents are not checked.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
