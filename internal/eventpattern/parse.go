package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxPatternLength is the longest pattern [Parse] accepts, in characters:
// the EventPattern length in the EventBridge API model (the quota page
// says 2,048; alerts.md §3.3 chooses the model's figure).
const MaxPatternLength = 4096

// MaxBranches bounds how many alternatives a pattern's $or operators may
// expand to (every $or multiplies the alternatives of the object holding
// it). AWS documents no figure; the bound keeps one rule's cost bounded.
const MaxBranches = 1000

// Numbers in numeric matches must lie within ±NumericLimit and are
// compared to six decimal places, as event-ruler's ComparableNumber.
const NumericLimit = 5e9

// Pattern is a parsed event pattern. It is immutable and safe for
// concurrent use.
type Pattern struct {
	text     string
	branches [][]cond // disjunctive normal form: a branch is a conjunction

	once   sync.Once
	single *compiled
}

// String returns the pattern as it was given to [Parse].
func (p *Pattern) String() string { return p.text }

// HasWildcard reports whether the pattern uses the wildcard operator
// (alone or inside anything-but): EventBridge allows at most 30 such rules
// per bus (alerts.md §3.3), a quota the API enforces.
func (p *Pattern) HasWildcard() bool {
	for _, b := range p.branches {
		for _, c := range b {
			for _, m := range c.ms {
				if m.kind == mWildcard {
					return true
				}
				for _, in := range m.inner {
					if in.kind == mWildcard {
						return true
					}
				}
			}
		}
	}
	return false
}

// Match reports whether the event (a JSON object, normally the
// EventBridge envelope) matches the pattern: what TestEventPattern
// answers. The error wraps [ErrInvalidEvent] when the event is not a JSON
// object.
func (p *Pattern) Match(event []byte) (bool, error) {
	p.once.Do(func() { p.single = compile([]string{""}, []*Pattern{p}) })
	ids, err := p.single.match(event)
	return len(ids) > 0, err
}

// cond is one field of a branch: the value at path must satisfy one of
// the matchers.
type cond struct {
	path []string
	ms   []matcher
}

type mkind uint8

const (
	mString     mkind = iota // exact string
	mNumber                  // exact number
	mLiteral                 // true, false or null
	mPrefix                  // {"prefix": s}
	mPrefixFold              // {"prefix": {"equals-ignore-case": s}}
	mSuffix                  // {"suffix": s}
	mSuffixFold              // {"suffix": {"equals-ignore-case": s}}
	mEqualsFold              // {"equals-ignore-case": s}
	mWildcard                // {"wildcard": s}
	mNumeric                 // {"numeric": [...]}
	mCIDR                    // {"cidr": s}
	mExists                  // {"exists": true}
	mAbsent                  // {"exists": false}
	mNot                     // {"anything-but": ...}: no inner matcher matches
)

// matcher is one alternative of a field's array.
type matcher struct {
	kind mkind
	s    string // the string, prefix, suffix or number text; the literal
	lit  vkind  // mLiteral: the kind of value matched
	q    int64  // mNumber: the number in millionths, when qok
	qok  bool

	// mNumeric: bounds in millionths.
	lo, hi                     int64
	hasLo, hasHi, loOpen, hiOp bool

	cidr  netip.Prefix
	ip    netip.Addr // mString of a leaf: the value as an IP address, if it is one
	wc    wildcard
	inner []matcher // mNot: the excluded alternatives
}

// quantize turns a JSON number into millionths; ok is false outside
// ±NumericLimit or for text that is not a number.
func quantize(text string) (int64, bool) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.Abs(f) > NumericLimit || math.IsNaN(f) {
		return 0, false
	}
	return int64(math.Round(f * 1e6)), true
}

// Parse parses and validates an EventBridge event pattern. A rejected
// pattern gives an *[Error] whose message the API returns as
// InvalidEventPatternException.
func Parse(pattern []byte) (*Pattern, error) {
	if n := utf8.RuneCount(pattern); n > MaxPatternLength {
		return nil, patternErr("", "Event pattern is %d characters long; the limit is %d", n, MaxPatternLength)
	}
	p := &parser{dec: json.NewDecoder(bytes.NewReader(pattern))}
	p.dec.UseNumber()
	tok, err := p.token("")
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, patternErr("", "Filter is not an object")
	}
	root := &node{}
	if err := p.object(root, nil, "", false); err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, patternErr("", "Unexpected content after the pattern object")
	}
	branches, err := expand(root)
	if err != nil {
		return nil, err
	}
	return &Pattern{text: string(pattern), branches: branches}, nil
}

// node is an object of the pattern: its fields (AND) and its $or groups,
// each an OR of nodes.
type node struct {
	conds []cond
	ors   [][]*node
}

type parser struct {
	dec *json.Decoder
}

func (p *parser) token(path string) (json.Token, error) {
	tok, err := p.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, patternErr(path, "Unexpected end of the pattern")
	}
	if err != nil {
		return nil, patternErr(path, "The pattern is not valid JSON: %v", err)
	}
	return tok, nil
}

// operators are the match expression names, which may not be field names
// inside $or (event-ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
var operators = map[string]bool{
	"exact": true, "prefix": true, "suffix": true, "equals-ignore-case": true, "wildcard": true,
	"anything-but": true, "numeric": true, "exists": true, "cidr": true,
}

func elemPath(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }

func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// object parses the fields of an object whose '{' was read, adding them
// to n with the field path prefix.
func (p *parser) object(n *node, prefix []string, path string, inOr bool) error {
	seen := map[string]bool{}
	for {
		tok, err := p.token(path)
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			if len(seen) == 0 {
				return patternErr(path, "Empty objects are not allowed")
			}
			return nil
		}
		key := tok.(string) // the decoder only yields strings as keys
		fpath := joinPath(path, key)
		if seen[key] {
			return patternErr(fpath, "Duplicate field %q", key)
		}
		seen[key] = true
		if key == "$or" {
			if err := p.or(n, prefix, fpath); err != nil {
				return err
			}
			continue
		}
		if inOr && operators[key] {
			return patternErr(fpath, "%s is a reserved field name which cannot be used inside $or", key)
		}
		tok, err = p.token(fpath)
		if err != nil {
			return err
		}
		d, ok := tok.(json.Delim)
		switch {
		case ok && d == '{':
			if err := p.object(n, append(prefix[:len(prefix):len(prefix)], key), fpath, inOr); err != nil {
				return err
			}
		case ok && d == '[':
			ms, err := p.leaf(fpath)
			if err != nil {
				return err
			}
			n.conds = append(n.conds, cond{path: append(prefix[:len(prefix):len(prefix)], key), ms: ms})
		default:
			return patternErr(fpath, "%q must be an object or an array", key)
		}
	}
}

// or parses the array of a "$or" field.
func (p *parser) or(n *node, prefix []string, path string) error {
	tok, err := p.token(path)
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return patternErr(path, "$or must be followed by an array of objects")
	}
	var group []*node
	for i := 0; ; i++ {
		ipath := elemPath(path, i)
		tok, err := p.token(ipath)
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok && d == ']' {
			break
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return patternErr(ipath, "Only JSON objects are allowed in the array of $or")
		}
		sub := &node{}
		if err := p.object(sub, prefix, ipath, true); err != nil {
			return err
		}
		group = append(group, sub)
	}
	if len(group) < 2 {
		return patternErr(path, "There must be at least 2 objects in $or")
	}
	n.ors = append(n.ors, group)
	return nil
}

// leaf parses the alternatives of a field whose '[' was read.
func (p *parser) leaf(path string) ([]matcher, error) {
	var ms []matcher
	for i := 0; ; i++ {
		ipath := elemPath(path, i)
		tok, err := p.token(ipath)
		if err != nil {
			return nil, err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case ']':
				if len(ms) == 0 {
					return nil, patternErr(path, "Empty arrays are not allowed")
				}
				return ms, nil
			case '{':
				m, err := p.operator(ipath)
				if err != nil {
					return nil, err
				}
				ms = append(ms, m)
			default:
				return nil, patternErr(ipath, "Match value must be String, number, true, false, or null")
			}
		case string:
			m := matcher{kind: mString, s: v}
			// event-ruler matches an exact value that is an IP address as
			// an address ("2001:db8::1" matches "2001:DB8:0::1").
			if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
				m.ip = a.Unmap()
			}
			ms = append(ms, m)
		case json.Number:
			ms = append(ms, numberMatcher(string(v)))
		case bool:
			if v {
				ms = append(ms, matcher{kind: mLiteral, s: "true", lit: vTrue})
			} else {
				ms = append(ms, matcher{kind: mLiteral, s: "false", lit: vFalse})
			}
		case nil:
			ms = append(ms, matcher{kind: mLiteral, s: "null", lit: vNull})
		}
	}
}

func numberMatcher(text string) matcher {
	q, ok := quantize(text)
	return matcher{kind: mNumber, s: text, q: q, qok: ok}
}

// end reads the '}' closing a match expression.
func (p *parser) end(path string) error {
	tok, err := p.token(path)
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '}' {
		return patternErr(path, "Only one key allowed in match expression")
	}
	return nil
}

// str reads a string value of an operator.
func (p *parser) str(path, what string) (string, error) {
	tok, err := p.token(path)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", patternErr(path, "%s match pattern must be a string", what)
	}
	return s, nil
}

// operator parses a match expression whose '{' was read.
func (p *parser) operator(path string) (matcher, error) {
	tok, err := p.token(path)
	if err != nil {
		return matcher{}, err
	}
	name, ok := tok.(string)
	if !ok {
		return matcher{}, patternErr(path, "Match expression name not found")
	}
	opath := joinPath(path, name)
	var m matcher
	switch name {
	case "exact":
		s, err := p.str(opath, name)
		if err != nil {
			return m, err
		}
		m = matcher{kind: mString, s: s}
	case "prefix", "suffix":
		m, err = p.affix(opath, name)
		if err != nil {
			return m, err
		}
	case "equals-ignore-case":
		s, err := p.str(opath, name)
		if err != nil {
			return m, err
		}
		m = matcher{kind: mEqualsFold, s: s}
	case "wildcard":
		s, err := p.str(opath, name)
		if err != nil {
			return m, err
		}
		wc, err := parseWildcard(opath, s)
		if err != nil {
			return m, err
		}
		m = matcher{kind: mWildcard, s: s, wc: wc}
	case "anything-but":
		m, err = p.anythingBut(opath)
		if err != nil {
			return m, err
		}
	case "numeric":
		m, err = p.numeric(opath)
		if err != nil {
			return m, err
		}
	case "exists":
		tok, err := p.token(opath)
		if err != nil {
			return m, err
		}
		b, ok := tok.(bool)
		if !ok {
			return m, patternErr(opath, "exists match pattern must be either true or false")
		}
		m = matcher{kind: mAbsent}
		if b {
			m = matcher{kind: mExists}
		}
	case "cidr":
		s, err := p.str(opath, name)
		if err != nil {
			return m, err
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return m, patternErr(opath, "Nonstandard IP address: %s", s)
		}
		m = matcher{kind: mCIDR, s: s, cidr: unmapPrefix(pfx)}
	default:
		return m, patternErr(opath, "Unrecognized match type %s", name)
	}
	return m, p.end(path)
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	bits := p.Bits()
	if a.Is4In6() {
		a = a.Unmap()
		bits -= 96
		if bits < 0 {
			bits = 0
		}
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// affix parses the value of "prefix" or "suffix": a string, or
// {"equals-ignore-case": string}.
func (p *parser) affix(path, name string) (matcher, error) {
	kind, fold := mPrefix, mPrefixFold
	if name == "suffix" {
		kind, fold = mSuffix, mSuffixFold
	}
	tok, err := p.token(path)
	if err != nil {
		return matcher{}, err
	}
	switch v := tok.(type) {
	case string:
		return matcher{kind: kind, s: v}, nil
	case json.Delim:
		if v == '{' {
			tok, err := p.token(path)
			if err != nil {
				return matcher{}, err
			}
			if k, ok := tok.(string); !ok || k != "equals-ignore-case" {
				return matcher{}, patternErr(path, "Unsupported %s pattern: only a string or equals-ignore-case is allowed", name)
			}
			s, err := p.str(joinPath(path, "equals-ignore-case"), name+"/equals-ignore-case")
			if err != nil {
				return matcher{}, err
			}
			if err := p.end(path); err != nil {
				return matcher{}, err
			}
			return matcher{kind: fold, s: s}, nil
		}
	}
	return matcher{}, patternErr(path, "%s match pattern must be a string", name)
}

// anythingBut parses the value of "anything-but".
func (p *parser) anythingBut(path string) (matcher, error) {
	tok, err := p.token(path)
	if err != nil {
		return matcher{}, err
	}
	not := matcher{kind: mNot}
	switch v := tok.(type) {
	case string:
		not.inner = []matcher{{kind: mString, s: v}}
	case json.Number:
		not.inner = []matcher{numberMatcher(string(v))}
	case json.Delim:
		switch v {
		case '[':
			inner, err := p.anythingButList(path)
			if err != nil {
				return not, err
			}
			not.inner = inner
		case '{':
			inner, err := p.anythingButObject(path)
			if err != nil {
				return not, err
			}
			not.inner = inner
		default:
			return not, patternErr(path, "Value of anything-but must be an array or single string/number value")
		}
	default:
		return not, patternErr(path, "Value of anything-but must be an array or single string/number value")
	}
	return not, nil
}

// anythingButList parses a list of strings or of numbers whose '[' was read.
func (p *parser) anythingButList(path string) ([]matcher, error) {
	var inner []matcher
	strs, nums := false, false
	for i := 0; ; i++ {
		ipath := elemPath(path, i)
		tok, err := p.token(ipath)
		if err != nil {
			return nil, err
		}
		switch v := tok.(type) {
		case string:
			strs = true
			inner = append(inner, matcher{kind: mString, s: v})
		case json.Number:
			nums = true
			inner = append(inner, numberMatcher(string(v)))
		case json.Delim:
			if v == ']' {
				if strs == nums { // both, or empty
					return nil, patternErr(path, "Inside anything but list, either all values are number or string, mixed type is not supported")
				}
				return inner, nil
			}
			return nil, patternErr(ipath, "Inside anything but list, start|null|boolean is not supported.")
		default:
			return nil, patternErr(ipath, "Inside anything but list, start|null|boolean is not supported.")
		}
	}
}

// anythingButObject parses {"prefix": s}, {"suffix": s},
// {"equals-ignore-case": s or [s...]} or {"wildcard": s or [s...]} after
// anything-but, and the '}' that closes it.
func (p *parser) anythingButObject(path string) ([]matcher, error) {
	tok, err := p.token(path)
	if err != nil {
		return nil, err
	}
	name, ok := tok.(string)
	if !ok {
		return nil, patternErr(path, "Anything-But expression name not found")
	}
	opath := joinPath(path, name)
	var inner []matcher
	switch name {
	case "prefix", "suffix":
		s, err := p.str(opath, name)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, patternErr(opath, "Null prefix/suffix not allowed")
		}
		kind := mPrefix
		if name == "suffix" {
			kind = mSuffix
		}
		inner = []matcher{{kind: kind, s: s}}
	case "equals-ignore-case", "wildcard":
		strs, err := p.stringOrList(opath, name)
		if err != nil {
			return nil, err
		}
		for _, s := range strs {
			if name == "wildcard" {
				wc, err := parseWildcard(opath, s)
				if err != nil {
					return nil, err
				}
				inner = append(inner, matcher{kind: mWildcard, s: s, wc: wc})
			} else {
				inner = append(inner, matcher{kind: mEqualsFold, s: s})
			}
		}
	default:
		return nil, patternErr(opath, "Unsupported anything-but pattern: %s", name)
	}
	if err := p.end(path); err != nil {
		return nil, err
	}
	return inner, nil
}

// stringOrList reads a string or a non-empty list of strings.
func (p *parser) stringOrList(path, name string) ([]string, error) {
	tok, err := p.token(path)
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case string:
		return []string{v}, nil
	case json.Delim:
		if v != '[' {
			break
		}
		var out []string
		for i := 0; ; i++ {
			tok, err := p.token(path)
			if err != nil {
				return nil, err
			}
			if d, ok := tok.(json.Delim); ok && d == ']' {
				if len(out) == 0 {
					return nil, patternErr(path, "Empty arrays are not allowed")
				}
				return out, nil
			}
			s, ok := tok.(string)
			if !ok {
				return nil, patternErr(elemPath(path, i), "Inside anything-but/%s list, number|start|null|boolean is not supported.", name)
			}
			out = append(out, s)
		}
	}
	return nil, patternErr(path, "anything-but/%s match pattern must be a string or an array of strings", name)
}

// numeric parses the array of a "numeric" expression.
func (p *parser) numeric(path string) (matcher, error) {
	tok, err := p.token(path)
	if err != nil {
		return matcher{}, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return matcher{}, patternErr(path, "Value of numeric must be an array.")
	}
	// Read the whole array first: operators and numbers alternate.
	var terms []json.Token
	for {
		tok, err := p.token(path)
		if err != nil {
			return matcher{}, err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == ']' {
				break
			}
			return matcher{}, patternErr(path, "Bad value in numeric range: only operators and numbers are allowed")
		}
		terms = append(terms, tok)
	}
	m := matcher{kind: mNumeric}
	if len(terms) == 0 {
		return m, patternErr(path, "Empty numeric expression")
	}
	var num func(i int, op string) (int64, error)
	num = func(i int, op string) (int64, error) {
		if i >= len(terms) {
			return 0, patternErr(path, "Value of %s must be numeric", op)
		}
		n, ok := terms[i].(json.Number)
		if !ok {
			return 0, patternErr(path, "Value of %s must be numeric", op)
		}
		q, ok := quantize(string(n))
		if !ok {
			return 0, patternErr(path, "Value %s is out of range: numbers must be between -5.0E9 and 5.0E9, inclusive", string(n))
		}
		return q, nil
	}
	op, ok := terms[0].(string)
	if !ok {
		return m, patternErr(path, "Invalid member in numeric match: the first term must be an operator")
	}
	v, err := num(1, op)
	if err != nil {
		return m, err
	}
	rest := terms[2:]
	switch op {
	case "=":
		m.lo, m.hi, m.hasLo, m.hasHi = v, v, true, true
		if len(rest) > 0 {
			return m, patternErr(path, "Too many elements in numeric expression")
		}
		return m, nil
	case "<", "<=":
		m.hi, m.hasHi, m.hiOp = v, true, op == "<"
		if len(rest) > 0 {
			return m, patternErr(path, "Too many elements in numeric expression")
		}
		return m, nil
	case ">", ">=":
		m.lo, m.hasLo, m.loOpen = v, true, op == ">"
	default:
		return m, patternErr(path, "Unrecognized numeric range operator: %v", terms[0])
	}
	if len(rest) == 0 {
		return m, nil
	}
	op2, ok := rest[0].(string)
	if !ok || (op2 != "<" && op2 != "<=") {
		return m, patternErr(path, "Bad numeric range operator: %v; a lower bound may be followed only by < or <=", rest[0])
	}
	hi, err := num(3, op2)
	if err != nil {
		return m, err
	}
	if len(rest) > 2 {
		return m, patternErr(path, "Too many terms in numeric range expression")
	}
	if hi <= m.lo {
		return m, patternErr(path, "Bottom must be less than top")
	}
	m.hi, m.hasHi, m.hiOp = hi, true, op2 == "<"
	return m, nil
}

// expand turns a node into disjunctive normal form.
func expand(n *node) ([][]cond, error) {
	out := [][]cond{append([]cond(nil), n.conds...)}
	for _, group := range n.ors {
		var alts [][]cond
		for _, sub := range group {
			e, err := expand(sub)
			if err != nil {
				return nil, err
			}
			alts = append(alts, e...)
			if len(alts) > MaxBranches {
				return nil, tooComplex()
			}
		}
		next := make([][]cond, 0, len(out)*len(alts))
		for _, o := range out {
			for _, a := range alts {
				if len(next) == MaxBranches {
					return nil, tooComplex()
				}
				b := make([]cond, 0, len(o)+len(a))
				next = append(next, append(append(b, o...), a...))
			}
		}
		out = next
	}
	return out, nil
}

func tooComplex() *Error {
	return patternErr("", "The $or alternatives of the pattern expand to more than %d combinations", MaxBranches)
}

// wildcard is a compiled wildcard value: the literal parts between
// unescaped '*'.
type wildcard struct {
	parts []string // len = stars + 1
}

// parseWildcard splits a wildcard value at its unescaped '*', rejecting
// consecutive '*' and escapes other than \* and \\ (event-ruler's
// WildcardParser).
func parseWildcard(path, s string) (wildcard, error) {
	var parts []string
	var cur strings.Builder
	lastStar := -2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if lastStar == i-1 {
				return wildcard{}, patternErr(path, "Consecutive wildcard characters at pos %d", i)
			}
			lastStar = i
			parts = append(parts, cur.String())
			cur.Reset()
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return wildcard{}, patternErr(path, "Invalid escape character at pos %d", i)
			}
			i++
			cur.WriteByte(s[i])
		default:
			cur.WriteByte(c)
		}
	}
	return wildcard{parts: append(parts, cur.String())}, nil
}

// match reports whether v matches the wildcard: the first part is a
// prefix, the last a suffix, and the middle parts appear in order between
// them (leftmost placement is optimal when '*' is the only metacharacter).
func (w *wildcard) match(v string) bool {
	ps := w.parts
	if len(ps) == 1 {
		return v == ps[0]
	}
	first, last := ps[0], ps[len(ps)-1]
	if len(v) < len(first)+len(last) || !strings.HasPrefix(v, first) || !strings.HasSuffix(v, last) {
		return false
	}
	mid := v[len(first) : len(v)-len(last)]
	for _, part := range ps[1 : len(ps)-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}
