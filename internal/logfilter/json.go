package logfilter

import (
	"strconv"
	"strings"
)

// node is a compiled JSON pattern expression.
type node interface {
	eval(doc map[string]any) bool
}

type orNode []node

func (n orNode) eval(doc map[string]any) bool {
	for _, c := range n {
		if c.eval(doc) {
			return true
		}
	}
	return false
}

type andNode []node

func (n andNode) eval(doc map[string]any) bool {
	for _, c := range n {
		if !c.eval(doc) {
			return false
		}
	}
	return true
}

// step is one selector step: a property name or an array index.
type step struct {
	name  string
	index int // used when name == ""
}

// selector is a parsed `$.a[0].b`.
type selector []step

// lookup resolves the selector. found is false when a step is missing or
// indexes something that is not an array (or names into a non-object).
func (s selector) lookup(doc map[string]any) (v any, found bool) {
	var cur any = doc
	for _, st := range s {
		if st.name != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[st.name]; !ok {
				return nil, false
			}
			continue
		}
		a, ok := cur.([]any)
		if !ok || st.index >= len(a) {
			return nil, false
		}
		cur = a[st.index]
	}
	return cur, true
}

type cmpNode struct {
	sel selector
	op  op
	lit literal
}

func (n *cmpNode) eval(doc map[string]any) bool {
	v, found := n.sel.lookup(doc)
	if !found {
		return false
	}
	sc, ok := jsonScalar(v)
	if !ok {
		return false
	}
	return compare(sc, n.op, &n.lit)
}

type testKind uint8

const (
	testNull testKind = iota
	testTrue
	testFalse
	testNotExists
)

type testNode struct {
	sel  selector
	test testKind
}

func (n *testNode) eval(doc map[string]any) bool {
	v, found := n.sel.lookup(doc)
	switch n.test {
	case testNotExists:
		return !found
	case testNull:
		return found && v == nil
	case testTrue:
		b, ok := v.(bool)
		return found && ok && b
	case testFalse:
		b, ok := v.(bool)
		return found && ok && !b
	}
	return false
}

// jsonParser is a recursive-descent parser over a `{ ... }` pattern.
type jsonParser struct {
	s     string
	i     int
	depth int
}

// maxDepth bounds parenthesis nesting; MaxPatternLength already bounds it,
// this keeps the message clear.
const maxDepth = 100

func parseJSONPattern(s string, open int) (node, *Error) {
	p := &jsonParser{s: s, i: open + 1}
	p.skip()
	if p.i < len(s) && s[p.i] == '}' {
		return nil, patternError(p.i, "empty JSON pattern: put a condition between { and }")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i >= len(s) {
		return nil, patternError(p.i, "missing } at the end of the JSON pattern")
	}
	if s[p.i] != '}' {
		return nil, p.unexpected("&&, || or }")
	}
	p.i++
	if rest := skipSpace(s, p.i); rest != len(s) {
		return nil, patternError(rest, "unexpected text after the closing }")
	}
	return n, nil
}

func (p *jsonParser) skip() { p.i = skipSpace(p.s, p.i) }

func (p *jsonParser) unexpected(want string) *Error {
	if p.i >= len(p.s) {
		return patternError(p.i, "the pattern ends where %s was expected", want)
	}
	return patternError(p.i, "expected %s, found %q", want, p.s[p.i:p.i+1])
}

// or parses `and || and ...`.
func (p *jsonParser) or() (node, *Error) {
	return p.chain("||", p.and, func(ns []node) node { return orNode(ns) })
}

// and parses `primary && primary ...`: && binds tighter than ||.
func (p *jsonParser) and() (node, *Error) {
	return p.chain("&&", p.primary, func(ns []node) node { return andNode(ns) })
}

// chain parses operands joined by sep and combines two or more with join.
func (p *jsonParser) chain(sep string, operand func() (node, *Error), join func([]node) node) (node, *Error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	nodes := []node{first}
	for {
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], sep) {
			break
		}
		p.i += len(sep)
		n, err := operand()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 1 {
		return first, nil
	}
	return join(nodes), nil
}

func (p *jsonParser) primary() (node, *Error) {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		open := p.i
		p.depth++
		if p.depth > maxDepth {
			return nil, patternError(open, "parentheses nested deeper than %d", maxDepth)
		}
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			if p.i >= len(p.s) || p.s[p.i] == '}' {
				return nil, patternError(open, "unclosed parenthesis")
			}
			return nil, p.unexpected("&&, || or )")
		}
		p.i++
		p.depth--
		return n, nil
	}
	return p.condition()
}

func (p *jsonParser) condition() (node, *Error) {
	sel, err := p.selector()
	if err != nil {
		return nil, err
	}
	p.skip()
	if w := p.word(); w != "" {
		kwPos := p.i
		p.i += len(w)
		switch strings.ToUpper(w) {
		case "IS":
			p.skip()
			w2 := p.word()
			p.i += len(w2)
			switch strings.ToUpper(w2) {
			case "NULL":
				return &testNode{sel: sel, test: testNull}, nil
			case "TRUE":
				return &testNode{sel: sel, test: testTrue}, nil
			case "FALSE":
				return &testNode{sel: sel, test: testFalse}, nil
			}
			return nil, patternError(kwPos, "IS must be followed by NULL, TRUE or FALSE")
		case "NOT":
			p.skip()
			w2 := p.word()
			p.i += len(w2)
			if strings.ToUpper(w2) == "EXISTS" {
				return &testNode{sel: sel, test: testNotExists}, nil
			}
			return nil, patternError(kwPos, "NOT must be followed by EXISTS")
		}
		return nil, patternError(kwPos, "expected an operator (=, !=, <, >, <=, >=), IS or NOT EXISTS after the selector, found %q", w)
	}
	o, n := scanOp(p.s, p.i)
	if n == 0 {
		return nil, p.unexpected("an operator (=, !=, <, >, <=, >=), IS or NOT EXISTS")
	}
	opPos := p.i
	p.i += n
	p.skip()
	lit, err := p.value()
	if err != nil {
		return nil, err
	}
	if o != opEq && o != opNe && !lit.isNum {
		return nil, patternError(opPos, "the %s operator needs a number, found %q", opText[o], lit.text)
	}
	return &cmpNode{sel: sel, op: o, lit: lit}, nil
}

// word returns the run of letters at the cursor without consuming it.
func (p *jsonParser) word() string {
	j := p.i
	for j < len(p.s) && (p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z') {
		j++
	}
	return p.s[p.i:j]
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '-'
}

func (p *jsonParser) selector() (selector, *Error) {
	start := p.i
	if p.i >= len(p.s) || p.s[p.i] != '$' {
		if p.i < len(p.s) && p.s[p.i] == '%' {
			return nil, patternError(p.i, "regular expressions (%%...%%) are not supported")
		}
		return nil, p.unexpected("a selector starting with $ (such as $.eventName) or (")
	}
	p.i++
	var sel selector
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '.':
			p.i++
			j := p.i
			for j < len(p.s) && isNameByte(p.s[j]) {
				j++
			}
			if j == p.i {
				return nil, patternError(p.i, "expected a property name after '.' in the selector")
			}
			sel = append(sel, step{name: p.s[p.i:j]})
			p.i = j
			continue
		case '[':
			if len(sel) == 0 {
				return nil, patternError(p.i, "an array index must follow a property, as in $.items[0]")
			}
			j := p.i + 1
			for j < len(p.s) && isDigit(p.s[j]) {
				j++
			}
			if j == p.i+1 || j >= len(p.s) || p.s[j] != ']' {
				return nil, patternError(p.i, "an array index is [ digits ], as in $.items[0]")
			}
			idx, err := strconv.Atoi(p.s[p.i+1 : j])
			if err != nil {
				return nil, patternError(p.i, "array index out of range")
			}
			sel = append(sel, step{index: idx})
			p.i = j + 1
			continue
		}
		break
	}
	if len(sel) == 0 {
		return nil, patternError(start, "a selector names a property, as in $.eventName")
	}
	return sel, nil
}

// value reads the VALUE of a JSON condition.
func (p *jsonParser) value() (literal, *Error) {
	if p.i >= len(p.s) {
		return literal{}, p.unexpected("a value")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		text, next, err := scanQuoted(p.s, p.i)
		if err != nil {
			return literal{}, err
		}
		p.i = next
		return newLiteral(text, true), nil
	case c == '%':
		return literal{}, patternError(p.i, "regular expressions (%%...%%) are not supported")
	}
	j := p.i
	for j < len(p.s) && !isSpace(p.s[j]) && !strings.ContainsRune("()&|}\"", rune(p.s[j])) {
		j++
	}
	if j == p.i {
		return literal{}, p.unexpected("a value")
	}
	text := p.s[p.i:j]
	p.i = j
	return newLiteral(text, false), nil
}
