package event

import (
	"errors"
	"fmt"
	"strings"
)

// Path names a member of a stored record by its member names from the top,
// joined with dots: "eventName", "userIdentity.arn",
// "userIdentity.sessionContext.sessionIssuer.arn", "resources.ARN". A step
// that meets an array applies the rest of the path to each element, so
// "resources.ARN" names the ARN of every resource. Selectors, rules,
// Insights and Lake columns read records through Paths; they never decode a
// record themselves.
//
// Paths read records as [Parse] returns them (Event.Raw: valid, compact
// JSON). They do not validate: on other bytes the answer is unspecified,
// though never a panic for bytes that are valid JSON.
type Path struct {
	steps []string
	text  string
}

// ErrBadPath means a path is empty or has an empty step.
var ErrBadPath = errors.New("event: bad member path")

// ParsePath compiles a dotted member path.
func ParsePath(s string) (Path, error) {
	steps := strings.Split(s, ".")
	for _, st := range steps {
		if st == "" {
			return Path{}, fmt.Errorf("%w: %q", ErrBadPath, s)
		}
	}
	return Path{steps: steps, text: s}, nil
}

// MustPath is ParsePath for paths written in the code; it panics on a bad
// one.
func MustPath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the path as it was written.
func (p Path) String() string { return p.text }

// Each calls fn with the raw JSON of every value the path reaches in the
// record raw, in document order, until fn returns false. A member that
// repeats counts once, with its last value, as [Parse] reads records.
func (p Path) Each(raw []byte, fn func(val []byte) bool) {
	if len(p.steps) == 0 || len(raw) == 0 {
		return
	}
	each(raw, p.steps, fn)
}

// each walks val along steps; it reports false once fn has asked to stop.
func each(val []byte, steps []string, fn func([]byte) bool) bool {
	switch val[0] {
	case '[':
		more := true
		_ = eachElement(val, func(_ int, el []byte) error {
			if more = each(el, steps, fn); !more {
				return errStop
			}
			return nil
		})
		return more
	case '{':
		var found []byte
		_ = eachMember(val, func(name, v []byte) error {
			if string(name) == steps[0] {
				found = v
			}
			return nil
		})
		if found == nil {
			return true
		}
		if len(steps) == 1 {
			return fn(found)
		}
		return each(found, steps[1:], fn)
	}
	return true
}

var errStop = errors.New("stop")

// Value returns the raw JSON of the first value the path reaches, and
// whether there is one. JSON null counts as a value.
func (p Path) Value(raw []byte) ([]byte, bool) {
	var out []byte
	p.Each(raw, func(v []byte) bool { out = v; return false })
	return out, out != nil
}

// Str returns the first value the path reaches decoded as a string, and
// whether it was a JSON string. Other values (absent, null, numbers,
// booleans, objects) give "", false.
func (p Path) Str(raw []byte) (string, bool) {
	v, ok := p.Value(raw)
	if !ok || v[0] != '"' {
		return "", false
	}
	return jsonString(v), true
}
