package selector

import (
	"encoding/json"
	"errors"
	"slices"
)

// ReadWriteType values of a basic [EventSelector].
const (
	ReadOnly  = "ReadOnly"
	WriteOnly = "WriteOnly"
	All       = "All"
)

// Resource types that basic event selectors can log data events for.
const (
	TypeS3Object       = "AWS::S3::Object"
	TypeLambdaFunction = "AWS::Lambda::Function"
	TypeDynamoDBTable  = "AWS::DynamoDB::Table"
)

// Management event sources that ExcludeManagementEventSources may name.
const (
	SourceKMS     = "kms.amazonaws.com"
	SourceRDSData = "rdsdata.amazonaws.com"
)

// EventSelector is a basic event selector, as PutEventSelectors receives
// and GetEventSelectors returns it. Zero values stand for the AWS defaults:
// ReadWriteType "" is [All] and a nil IncludeManagementEvents is true.
// [EventSelector.WithDefaults] fills them in, and MarshalJSON always encodes
// the filled-in form, so an echoed selector looks like AWS's:
//
//	{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[],"ExcludeManagementEventSources":[]}
type EventSelector struct {
	ReadWriteType                 string         `json:"ReadWriteType"`
	IncludeManagementEvents       *bool          `json:"IncludeManagementEvents"`
	DataResources                 []DataResource `json:"DataResources"`
	ExcludeManagementEventSources []string       `json:"ExcludeManagementEventSources"`
}

// DataResource names resources of one type whose data events a basic
// selector logs: ARNs or ARN prefixes (see [ValidateBasic]).
type DataResource struct {
	Type   string   `json:"Type"`
	Values []string `json:"Values"`
}

// WithDefaults returns s with every default filled in: ReadWriteType All,
// IncludeManagementEvents true, and empty (not nil) lists. The lists are
// shared with s where possible; s itself is never modified.
func (s EventSelector) WithDefaults() EventSelector {
	if s.ReadWriteType == "" {
		s.ReadWriteType = All
	}
	if s.IncludeManagementEvents == nil {
		t := true
		s.IncludeManagementEvents = &t
	}
	if s.DataResources == nil {
		s.DataResources = []DataResource{}
	}
	copied := false
	for i, d := range s.DataResources {
		if d.Values == nil {
			if !copied { // do not write into the caller's array
				s.DataResources, copied = append([]DataResource(nil), s.DataResources...), true
			}
			s.DataResources[i].Values = []string{}
		}
	}
	if s.ExcludeManagementEventSources == nil {
		s.ExcludeManagementEventSources = []string{}
	}
	return s
}

// IncludesManagementEvents reports the effective IncludeManagementEvents.
func (s *EventSelector) IncludesManagementEvents() bool {
	return s.IncludeManagementEvents == nil || *s.IncludeManagementEvents
}

// MarshalJSON encodes s with its defaults filled in (see
// [EventSelector.WithDefaults]).
func (s EventSelector) MarshalJSON() ([]byte, error) {
	type plain EventSelector // no methods: no recursion
	return json.Marshal(plain(s.WithDefaults()))
}

// AdvancedEventSelector is an advanced event selector: an event matches it
// when it satisfies every one of its field selectors.
type AdvancedEventSelector struct {
	Name           string          `json:"Name,omitempty"`
	FieldSelectors []FieldSelector `json:"FieldSelectors"`
}

// FieldSelector (AdvancedFieldSelector on the wire) is one condition on one
// record field. A nil operator list is absent; a non-nil empty one was sent
// as [] and is rejected by [ValidateAdvanced].
type FieldSelector struct {
	Field         string   `json:"Field"`
	Equals        []string `json:"Equals,omitempty"`
	StartsWith    []string `json:"StartsWith,omitempty"`
	EndsWith      []string `json:"EndsWith,omitempty"`
	NotEquals     []string `json:"NotEquals,omitempty"`
	NotStartsWith []string `json:"NotStartsWith,omitempty"`
	NotEndsWith   []string `json:"NotEndsWith,omitempty"`
}

// operators lists the operator lists of f with their wire names, positive
// operators first.
func (f *FieldSelector) operators() [6]struct {
	name string
	vals []string
} {
	return [6]struct {
		name string
		vals []string
	}{
		{"Equals", f.Equals}, {"StartsWith", f.StartsWith}, {"EndsWith", f.EndsWith},
		{"NotEquals", f.NotEquals}, {"NotStartsWith", f.NotStartsWith}, {"NotEndsWith", f.NotEndsWith},
	}
}

// Set is the selector configuration of a trail: basic selectors or
// advanced selectors, never both. The zero Set is a trail that never had
// selectors and behaves exactly like [Default]; see [Set.Effective].
//
// Set encodes to JSON as {"EventSelectors":[...]} or
// {"AdvancedEventSelectors":[...]}, the members of a GetEventSelectors
// response, so the catalog can persist it as it is.
type Set struct {
	EventSelectors         []EventSelector         `json:"EventSelectors,omitempty"`
	AdvancedEventSelectors []AdvancedEventSelector `json:"AdvancedEventSelectors,omitempty"`
}

// Clone returns an exact deep copy of s: every slice and pointer is
// copied, nil stays nil and an empty slice stays empty, and no default is
// filled in, so the copy is equal to s field by field and shares no memory
// with it.
func (s Set) Clone() Set {
	return Set{
		EventSelectors:         cloneSlice(s.EventSelectors, EventSelector.clone),
		AdvancedEventSelectors: cloneSlice(s.AdvancedEventSelectors, AdvancedEventSelector.clone),
	}
}

func (s EventSelector) clone() EventSelector {
	if s.IncludeManagementEvents != nil {
		v := *s.IncludeManagementEvents
		s.IncludeManagementEvents = &v
	}
	s.DataResources = cloneSlice(s.DataResources, func(d DataResource) DataResource {
		d.Values = slices.Clone(d.Values)
		return d
	})
	s.ExcludeManagementEventSources = slices.Clone(s.ExcludeManagementEventSources)
	return s
}

func (s AdvancedEventSelector) clone() AdvancedEventSelector {
	s.FieldSelectors = cloneSlice(s.FieldSelectors, func(f FieldSelector) FieldSelector {
		f.Equals, f.StartsWith, f.EndsWith = slices.Clone(f.Equals), slices.Clone(f.StartsWith), slices.Clone(f.EndsWith)
		f.NotEquals, f.NotStartsWith, f.NotEndsWith = slices.Clone(f.NotEquals), slices.Clone(f.NotStartsWith), slices.Clone(f.NotEndsWith)
		return f
	})
	return s
}

// cloneSlice copies s, each element through clone; nil stays nil and an
// empty slice stays empty.
func cloneSlice[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = clone(v)
	}
	return out
}

// Default returns the selectors of a trail created without any: one basic
// selector logging all read and write management events and no data events.
func Default() Set {
	return Set{EventSelectors: []EventSelector{EventSelector{}.WithDefaults()}}
}

// Basic returns a Set of basic selectors.
func Basic(sel []EventSelector) Set { return Set{EventSelectors: sel} }

// Advanced returns a Set of advanced selectors.
func Advanced(sel []AdvancedEventSelector) Set { return Set{AdvancedEventSelectors: sel} }

// IsZero reports whether s holds no selectors of either kind.
func (s Set) IsZero() bool {
	return len(s.EventSelectors) == 0 && len(s.AdvancedEventSelectors) == 0
}

// IsAdvanced reports whether s holds advanced selectors.
func (s Set) IsAdvanced() bool { return len(s.AdvancedEventSelectors) > 0 }

// Effective returns the selectors s stands for, as GetEventSelectors
// returns them: [Default] for the zero Set, and basic selectors with their
// defaults filled in.
func (s Set) Effective() Set {
	switch {
	case s.IsZero():
		return Default()
	case s.IsAdvanced():
		return s
	}
	out := make([]EventSelector, len(s.EventSelectors))
	for i, e := range s.EventSelectors {
		out[i] = e.WithDefaults()
	}
	return Set{EventSelectors: out}
}

// ErrBothKinds is returned by [Set.Validate] for a Set holding basic and
// advanced selectors at once. The API reports it as
// InvalidParameterCombinationException (operations.md §2.4).
var ErrBothKinds = errors.New("specify either EventSelectors or AdvancedEventSelectors, not both")

// Validate checks s with the default [Limits]. The zero Set is valid.
func (s Set) Validate() error { return DefaultLimits().Validate(s) }
