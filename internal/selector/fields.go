package selector

import (
	"github.com/opentrail/opentrail/internal/event"
)

// Fields is what matching reads from one event. Build it once per event with
// [FieldsOf] and pass the same value to every trail's [Matcher]. Most
// members come from the event's [event.Summary]; userIdentity.arn,
// vpcEndpointId and sessionCredentialFromConsole are read from the stored
// record through [event.Path] only when a matcher first asks for one, then
// kept. A Fields is not safe for concurrent use.
type Fields struct {
	category, source, name, eventType, errorCode string
	readOnly                                     *bool
	resources                                    []event.LookupResource
	raw                                          []byte

	// raw members read so far (bit i: the fieldID fUserARN+i), and their
	// values.
	read                         uint8
	userARN, vpceID, fromConsole string
}

// FieldsOf returns the matching view of ev. It does not parse ev.Raw and
// keeps references to ev's slices, which must not change while it is used.
func FieldsOf(ev *event.Event) Fields {
	return Fields{
		category:  ev.Category,
		source:    ev.EventSource,
		name:      ev.EventName,
		eventType: ev.EventType,
		errorCode: ev.ErrorCode,
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
	fEventType
	fErrorCode
	// Members read from the stored record; keep them last (see fromRaw).
	fUserARN
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

func (id fieldID) fromRaw() bool { return id >= fUserARN }

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
	case fEventType:
		return f.eventType
	case fErrorCode:
		return f.errorCode
	}
	if id.fromRaw() {
		return f.rawValue(id)
	}
	return ""
}

func (f *Fields) isReadOnly() bool { return f.readOnly != nil && *f.readOnly }

// Paths of the members read from the stored record.
var (
	pathUserARN     = event.MustPath("userIdentity.arn")
	pathVpceID      = event.MustPath("vpcEndpointId")
	pathFromConsole = event.MustPath("sessionCredentialFromConsole")
)

// rawValue reads a member the Summary lacks from the stored record, once
// per member. Values that are not strings compare as "", except that
// sessionCredentialFromConsole, a JSON string "true" in records, may also
// be the boolean true.
func (f *Fields) rawValue(id fieldID) string {
	bit := uint8(1) << (id - fUserARN)
	seen := f.read&bit != 0
	f.read |= bit
	switch id {
	case fUserARN:
		if !seen {
			f.userARN, _ = pathUserARN.Str(f.raw)
		}
		return f.userARN
	case fVpceID:
		if !seen {
			f.vpceID, _ = pathVpceID.Str(f.raw)
		}
		return f.vpceID
	case fFromConsole:
		if !seen {
			if v, ok := pathFromConsole.Value(f.raw); ok && v[0] == 't' {
				f.fromConsole = "true"
			} else {
				f.fromConsole, _ = pathFromConsole.Str(f.raw)
			}
		}
		return f.fromConsole
	}
	return ""
}
