package eventpattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the target input members (EventBridge API model, Target and
// InputTransformer shapes).
const (
	MaxInputPathLength     = 256  // InputPath and each InputPathsMap value
	MaxInputPathsMapKeys   = 100  // InputPathsMap entries
	MaxInputPathsMapKeyLen = 256  // InputPathsMap key length
	MaxInputTemplateLength = 8192 // InputTemplate
)

// Reserved InputTemplate variables, which InputPathsMap may not define
// (eb-transform-target-input, "Predefined variables").
const (
	VarRuleARN       = "aws.events.rule-arn"
	VarRuleName      = "aws.events.rule-name"
	VarIngestionTime = "aws.events.event.ingestion-time"
	VarEvent         = "aws.events.event"      // the event without its detail
	VarEventJSON     = "aws.events.event.json" // the whole event
)

// ErrPathNotFound is returned (wrapped) by [ApplyInputPath] when the path
// selects nothing in the event. AWS does not document what it delivers
// then; the caller decides (OpenTrail's target follower skips the
// delivery and records why).
var ErrPathNotFound = errors.New("input path selects nothing in the event")

// pathStep is one step of a JSON path: a field, an array index, or '*'
// (every member or element).
type pathStep struct {
	field string
	index int // -1 for a field or '*'
	all   bool
}

// jsonPath is a compiled path of the dot notation EventBridge accepts:
// $, $.a.b, $.a[0].b, $.a[*], $.a.*.
type jsonPath struct {
	text  string
	steps []pathStep
	multi bool // has '*': the result is an array of every selected value
}

func parsePath(field, p string) (jsonPath, error) {
	if p == "" {
		return jsonPath{}, inputErr(field, "the JSON path is empty")
	}
	if n := utf8.RuneCountInString(p); n > MaxInputPathLength {
		return jsonPath{}, inputErr(field, "the JSON path is %d characters long; the limit is %d", n, MaxInputPathLength)
	}
	if p[0] != '$' {
		return jsonPath{}, inputErr(field, "the JSON path %q must start with $", p)
	}
	jp := jsonPath{text: p}
	rest := p[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			name := rest[1 : 1+end]
			if name == "" {
				return jsonPath{}, inputErr(field, "the JSON path %q has an empty field name", p)
			}
			if name == "*" {
				jp.steps = append(jp.steps, pathStep{index: -1, all: true})
				jp.multi = true
			} else {
				jp.steps = append(jp.steps, pathStep{field: name, index: -1})
			}
			rest = rest[1+end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return jsonPath{}, inputErr(field, "the JSON path %q has an unclosed [", p)
			}
			in := rest[1:end]
			if in == "*" {
				jp.steps = append(jp.steps, pathStep{index: -1, all: true})
				jp.multi = true
			} else {
				i, err := strconv.Atoi(in)
				if err != nil || i < 0 || strings.HasPrefix(in, "+") {
					return jsonPath{}, inputErr(field, "the JSON path %q has %q in brackets; use an array index or *, and dot notation for fields", p, in)
				}
				jp.steps = append(jp.steps, pathStep{index: i})
			}
			rest = rest[end+1:]
		default:
			return jsonPath{}, inputErr(field, "the JSON path %q is not in dot notation", p)
		}
	}
	return jp, nil
}

// ValidateInputPath checks a target's InputPath; the error is an
// *[InputError].
func ValidateInputPath(path string) error {
	_, err := parsePath("InputPath", path)
	return err
}

// selectRaw returns the raw JSON texts the path selects in doc, in
// document order.
func (jp *jsonPath) selectRaw(doc string) ([]string, error) {
	sc := &scanner{}
	sc.reset(doc)
	var out []string
	if err := sc.selectIn(jp.steps, &out, 0); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	sc.ws()
	if sc.pos != len(sc.s) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEvent, sc.fail("unexpected content after the event"))
	}
	return out, nil
}

// selectIn reads one value, appending to out the raw texts the steps
// select inside it.
func (sc *scanner) selectIn(steps []pathStep, out *[]string, depth int) error {
	sc.ws()
	start := sc.pos
	if len(steps) == 0 {
		if err := sc.value(nil, depth); err != nil {
			return err
		}
		*out = append(*out, sc.s[start:sc.pos])
		return nil
	}
	if sc.pos >= len(sc.s) {
		return sc.fail("unexpected end of the event")
	}
	st := steps[0]
	switch sc.s[sc.pos] {
	case '{':
		if st.index >= 0 {
			return sc.value(nil, depth)
		}
		return sc.members(depth, func(key string) error {
			if st.all || key == st.field {
				return sc.selectIn(steps[1:], out, depth+1)
			}
			return sc.value(nil, depth+1)
		})
	case '[':
		if !st.all && st.index < 0 {
			return sc.value(nil, depth)
		}
		return sc.elements(depth, func(i int) error {
			if st.all || i == st.index {
				return sc.selectIn(steps[1:], out, depth+1)
			}
			return sc.value(nil, depth+1)
		})
	}
	return sc.value(nil, depth) // a scalar has no members
}

// members reads an object, calling member at each value with its key.
func (sc *scanner) members(depth int, member func(key string) error) error {
	empty, err := sc.open('}', depth)
	for more := !empty; err == nil && more; more, err = sc.next('}') {
		var key string
		if key, err = sc.key(true); err != nil {
			return err
		}
		if err = member(key); err != nil {
			return err
		}
	}
	return err
}

// elements reads an array, calling elem at each element with its index.
func (sc *scanner) elements(depth int, elem func(i int) error) error {
	empty, err := sc.open(']', depth)
	for i := 0; err == nil && !empty; i++ {
		if err = elem(i); err != nil {
			return err
		}
		var more bool
		if more, err = sc.next(']'); !more {
			break
		}
	}
	return err
}

// lookup returns the raw JSON the path selects: the value for a path
// without '*', a JSON array of every selected value otherwise; found is
// false when a path without '*' selects nothing.
func (jp *jsonPath) lookup(doc string) (raw string, found bool, err error) {
	raws, err := jp.selectRaw(doc)
	if err != nil {
		return "", false, err
	}
	if jp.multi {
		return "[" + strings.Join(raws, ",") + "]", true, nil
	}
	if len(raws) == 0 {
		return "", false, nil
	}
	return raws[0], true, nil
}

// ApplyInputPath returns the part of the event a target's InputPath
// selects, as raw JSON (the bytes of the event, not re-encoded). The error
// is an *[InputError] for an invalid path, wraps [ErrInvalidEvent] for an
// event that is not JSON, and wraps [ErrPathNotFound] when the path
// selects nothing.
func ApplyInputPath(event []byte, path string) ([]byte, error) {
	jp, err := parsePath("InputPath", path)
	if err != nil {
		return nil, err
	}
	raw, found, err := jp.lookup(string(event))
	if err != nil {
		return nil, fmt.Errorf("apply input path: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("apply input path %s: %w", path, ErrPathNotFound)
	}
	return []byte(raw), nil
}

// RuleInfo is what the reserved InputTemplate variables say about the
// rule and the event's arrival.
type RuleInfo struct {
	ARN           string    // aws.events.rule-arn
	Name          string    // aws.events.rule-name
	IngestionTime time.Time // aws.events.event.ingestion-time
}

// placement says where a placeholder sits in the template.
type placement uint8

const (
	placeValue  placement = iota // a bare JSON value
	placeString                  // inside a JSON string
	placeText                    // in a template that is not JSON
)

// tmplPart is literal text followed by an optional placeholder.
type tmplPart struct {
	text  string
	name  string // "" for the final part
	place placement
}

// InputTransformer is a compiled InputPathsMap and InputTemplate. It is
// immutable and safe for concurrent use.
type InputTransformer struct {
	paths  map[string]jsonPath
	parts  []tmplPart
	isJSON bool // the template is JSON once its placeholders are filled in
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func reserved(name string) bool {
	switch name {
	case VarRuleARN, VarRuleName, VarIngestionTime, VarEvent, VarEventJSON:
		return true
	}
	return false
}

// NewInputTransformer validates and compiles a target's InputTransformer.
// The error is an *[InputError] naming the member at fault.
//
// A placeholder is <name> where name is a key of pathsMap or a reserved
// variable; any other text between angle brackets stays as it is (AWS
// offers no escape for < and >). Placement decides the substitution; see
// the package documentation.
func NewInputTransformer(pathsMap map[string]string, template string) (*InputTransformer, error) {
	if len(pathsMap) > MaxInputPathsMapKeys {
		return nil, inputErr("InputTransformer.InputPathsMap", "%d entries; the limit is %d", len(pathsMap), MaxInputPathsMapKeys)
	}
	t := &InputTransformer{paths: make(map[string]jsonPath, len(pathsMap))}
	for k, v := range pathsMap {
		field := "InputTransformer.InputPathsMap." + k
		switch {
		case reserved(k):
			return nil, inputErr(field, "%s is a reserved variable name", k)
		case len(k) > MaxInputPathsMapKeyLen:
			return nil, inputErr("InputTransformer.InputPathsMap", "a key is %d characters long; the limit is %d", len(k), MaxInputPathsMapKeyLen)
		case !validKey(k):
			return nil, inputErr("InputTransformer.InputPathsMap", "key %q must match [A-Za-z0-9_-]+", k)
		}
		jp, err := parsePath(field, v)
		if err != nil {
			return nil, err
		}
		t.paths[k] = jp
	}
	n := utf8.RuneCountInString(template)
	if n == 0 || n > MaxInputTemplateLength {
		return nil, inputErr("InputTransformer.InputTemplate", "%d characters long; it must be 1 to %d", n, MaxInputTemplateLength)
	}
	parts, err := t.parseTemplate(template)
	if err != nil {
		return nil, err
	}
	t.parts = parts
	return t, nil
}

// parseTemplate splits the template at its placeholders and places each.
func (t *InputTransformer) parseTemplate(tmpl string) ([]tmplPart, error) {
	var parts []tmplPart
	inString, escaped := false, false
	last := 0
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if inString {
			switch {
			case escaped:
				escaped = false
				continue
			case c == '\\':
				escaped = true
				continue
			case c == '"':
				inString = false
				continue
			}
		} else if c == '"' {
			inString = true
			continue
		}
		if c != '<' {
			continue
		}
		end := strings.IndexByte(tmpl[i+1:], '>')
		if end < 0 {
			break
		}
		name := tmpl[i+1 : i+1+end]
		if _, ok := t.paths[name]; !ok && !reserved(name) {
			continue
		}
		place := placeValue
		if inString {
			place = placeString
		}
		parts = append(parts, tmplPart{text: tmpl[last:i], name: name, place: place})
		i += end + 1
		last = i + 1
	}
	parts = append(parts, tmplPart{text: tmpl[last:]})

	// A template that is JSON once its placeholders are filled in is a
	// JSON template; any other is text.
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.text)
		if p.name == "" {
			continue
		}
		if p.place == placeValue {
			b.WriteString("null")
		} else {
			b.WriteString("x")
		}
	}
	t.isJSON = json.Valid([]byte(b.String()))
	if !t.isJSON {
		for i := range parts {
			if parts[i].name == "" {
				continue
			}
			if strings.HasPrefix(strings.TrimSpace(tmpl), "{") && parts[i].place == placeValue &&
				strings.HasPrefix(strings.TrimLeft(parts[i+1].text, " \t\r\n"), ":") {
				return nil, inputErr("InputTransformer.InputTemplate", "the placeholder <%s> cannot be used as an object key", parts[i].name)
			}
			parts[i].place = placeText
		}
	}
	return parts, nil
}

// Transform fills in the template for an event (a JSON object). Missing
// paths give null as a JSON value and nothing inside a string or a text
// template. The error wraps [ErrInvalidEvent] when the event is not JSON.
func (t *InputTransformer) Transform(event []byte, rule RuleInfo) ([]byte, error) {
	doc := string(event)
	var out strings.Builder
	for _, p := range t.parts {
		out.WriteString(p.text)
		if p.name == "" {
			continue
		}
		raw, found, err := t.resolve(doc, p.name, rule)
		if err != nil {
			return nil, fmt.Errorf("transform input: %w", err)
		}
		writeValue(&out, raw, found, p.place)
	}
	return []byte(out.String()), nil
}

// resolve returns the raw JSON of a variable.
func (t *InputTransformer) resolve(doc, name string, rule RuleInfo) (string, bool, error) {
	switch name {
	case VarRuleARN:
		return quote(rule.ARN), true, nil
	case VarRuleName:
		return quote(rule.Name), true, nil
	case VarIngestionTime:
		return quote(rule.IngestionTime.UTC().Format(time.RFC3339)), true, nil
	case VarEventJSON:
		if err := validObject(doc); err != nil {
			return "", false, err
		}
		return doc, true, nil
	case VarEvent:
		raw, err := withoutDetail(doc)
		return raw, err == nil, err
	}
	jp := t.paths[name]
	return jp.lookup(doc)
}

func validObject(doc string) error {
	sc := &scanner{}
	sc.reset(doc)
	if err := sc.scan(&pathNode{id: -1}); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	return nil
}

// withoutDetail returns the event object without its detail member, the
// other members as raw JSON in their order.
func withoutDetail(doc string) (string, error) {
	sc := &scanner{}
	sc.reset(doc)
	sc.ws()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '{' {
		return "", fmt.Errorf("%w: %w", ErrInvalidEvent, sc.fail("the event is not a JSON object"))
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	err := sc.members(0, func(key string) error {
		sc.ws()
		start := sc.pos
		if err := sc.value(nil, 1); err != nil {
			return err
		}
		if key == "detail" {
			return nil
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(quote(key))
		b.WriteByte(':')
		b.WriteString(sc.s[start:sc.pos])
		return nil
	})
	if err == nil {
		sc.ws()
		if sc.pos != len(sc.s) {
			err = sc.fail("unexpected content after the event object")
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// writeValue writes a variable's raw JSON at its placement.
func writeValue(out *strings.Builder, raw string, found bool, place placement) {
	switch place {
	case placeValue:
		if !found {
			out.WriteString("null")
			return
		}
		out.WriteString(raw)
	case placeString:
		if !found {
			return
		}
		if raw[0] == '"' {
			out.WriteString(raw[1 : len(raw)-1]) // already escaped for JSON
			return
		}
		if raw[0] == '{' || raw[0] == '[' {
			// An object or array inside a string loses its quotes (see
			// the package documentation); what remains is escaped.
			q := quote(strings.ReplaceAll(compact(raw), `"`, ""))
			out.WriteString(q[1 : len(q)-1])
			return
		}
		out.WriteString(raw) // number, true, false, null
	case placeText:
		if !found {
			return
		}
		if raw[0] == '"' {
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err == nil {
				out.WriteString(s)
				return
			}
		}
		out.WriteString(raw)
	}
}

// quote returns s as a JSON string, with <, > and & as they are.
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// compact removes the whitespace outside strings of valid JSON.
func compact(raw string) string {
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
