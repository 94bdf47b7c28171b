package logfilter

import (
	"bytes"
	"encoding/json"
	"strings"
)

// MaxPatternLength is the longest filter pattern PutMetricFilter and
// FilterLogEvents accept (alerts.md §4.3).
const MaxPatternLength = 1024

// Kind is the form of a filter pattern.
type Kind uint8

const (
	// KindAll is the empty pattern: every event matches.
	KindAll Kind = iota
	// KindTerms is a pattern of terms and quoted phrases.
	KindTerms
	// KindJSON is a `{ ... }` pattern over JSON events.
	KindJSON
	// KindSpaceDelimited is a `[ ... ]` pattern over space-delimited events.
	KindSpaceDelimited
)

func (k Kind) String() string {
	switch k {
	case KindAll:
		return "all"
	case KindTerms:
		return "terms"
	case KindJSON:
		return "json"
	case KindSpaceDelimited:
		return "space-delimited"
	}
	return "unknown"
}

// Filter is a compiled filter pattern. It is immutable and safe for
// concurrent use.
type Filter struct {
	pattern string
	kind    Kind
	terms   []term
	json    node
	space   *spacePattern
}

// Parse compiles a filter pattern. Errors are *[Error].
func Parse(pattern string) (*Filter, error) {
	if len(pattern) > MaxPatternLength {
		return nil, &Error{Field: "filterPattern", Pos: -1, Msg: "the pattern is longer than 1024 characters"}
	}
	f := &Filter{pattern: pattern}
	i := skipSpace(pattern, 0)
	if i == len(pattern) {
		f.kind = KindAll
		return f, nil
	}
	var err *Error
	switch pattern[i] {
	case '{':
		f.kind = KindJSON
		f.json, err = parseJSONPattern(pattern, i)
	case '[':
		f.kind = KindSpaceDelimited
		f.space, err = parseSpacePattern(pattern, i)
	default:
		f.kind = KindTerms
		f.terms, err = parseTerms(pattern)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// MustParse is Parse for patterns known to be valid, such as [CIS]; it
// panics on an error.
func MustParse(pattern string) *Filter {
	f, err := Parse(pattern)
	if err != nil {
		panic(err)
	}
	return f
}

// String returns the pattern as given to Parse.
func (f *Filter) String() string { return f.pattern }

// Kind reports the pattern's form.
func (f *Filter) Kind() Kind { return f.kind }

// Match reports whether message matches the filter.
func (f *Filter) Match(message []byte) bool { return f.MatchEvent(NewEvent(message)) }

// MatchEvent is Match for an event that may be matched against several
// filters: the message is decoded once.
func (f *Filter) MatchEvent(ev *Event) bool {
	switch f.kind {
	case KindAll:
		return true
	case KindTerms:
		return matchTerms(f.terms, ev.Message)
	case KindJSON:
		doc, ok := ev.object()
		return ok && f.json.eval(doc)
	case KindSpaceDelimited:
		_, ok := f.space.match(ev.spaceFields())
		return ok
	}
	return false
}

// Extract matches message and returns TestMetricFilter's extractedValues:
// for a space-delimited pattern, every field of the message keyed `$name`
// when a named pattern field took it and `$N` (1-based) otherwise; for the
// other kinds an empty map. ok is false when the message does not match.
func (f *Filter) Extract(message []byte) (values map[string]string, ok bool) {
	ev := NewEvent(message)
	if f.kind != KindSpaceDelimited {
		if !f.MatchEvent(ev) {
			return nil, false
		}
		return map[string]string{}, true
	}
	fields := ev.spaceFields()
	b, ok := f.space.match(fields)
	if !ok {
		return nil, false
	}
	return f.space.extracted(fields, b), true
}

// Event is one log message being matched. It decodes the message (as JSON,
// or into space-delimited fields) at most once, on first need. An Event is
// not safe for concurrent use.
type Event struct {
	Message []byte

	jsonDone bool
	doc      map[string]any
	isObject bool

	fieldsDone bool
	fields     []string
}

// NewEvent wraps a log message.
func NewEvent(message []byte) *Event { return &Event{Message: message} }

// object returns the message decoded as a JSON object.
func (e *Event) object() (map[string]any, bool) {
	if !e.jsonDone {
		e.jsonDone = true
		trimmed := bytes.TrimSpace(e.Message)
		if len(trimmed) > 0 && trimmed[0] == '{' {
			dec := json.NewDecoder(bytes.NewReader(trimmed))
			dec.UseNumber()
			var doc map[string]any
			// Only the object may be in the message (trimmed of spaces).
			if err := dec.Decode(&doc); err == nil && dec.InputOffset() == int64(len(trimmed)) {
				e.doc, e.isObject = doc, true
			}
		}
	}
	return e.doc, e.isObject
}

func (e *Event) spaceFields() []string {
	if !e.fieldsDone {
		e.fieldsDone = true
		e.fields = splitFields(string(e.Message))
	}
	return e.fields
}

// splitFields splits a message at spaces; text between '[' and ']' or
// between double quotes is one field, without the brackets or quotes.
func splitFields(msg string) []string {
	var out []string
	i := 0
	for {
		i = skipSpace(msg, i)
		if i >= len(msg) {
			return out
		}
		var closer byte
		switch msg[i] {
		case '[':
			closer = ']'
		case '"':
			closer = '"'
		}
		if closer != 0 {
			if j := strings.IndexByte(msg[i+1:], closer); j >= 0 {
				out = append(out, msg[i+1:i+1+j])
				i += j + 2
				continue
			}
		}
		j := i
		for j < len(msg) && !isSpace(msg[j]) {
			j++
		}
		out = append(out, msg[i:j])
		i = j
	}
}
