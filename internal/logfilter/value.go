package logfilter

import (
	"encoding/json"
	"strconv"
	"strings"
)

// op is a comparison operator.
type op uint8

const (
	opEq op = iota
	opNe
	opLt
	opGt
	opLe
	opGe
)

var opText = [...]string{opEq: "=", opNe: "!=", opLt: "<", opGt: ">", opLe: "<=", opGe: ">="}

// scanOp reads an operator at s[i:]. It returns the operator and its length,
// or length 0 when there is none.
func scanOp(s string, i int) (op, int) {
	rest := s[i:]
	switch {
	case strings.HasPrefix(rest, "!="):
		return opNe, 2
	case strings.HasPrefix(rest, "<="):
		return opLe, 2
	case strings.HasPrefix(rest, ">="):
		return opGe, 2
	case strings.HasPrefix(rest, "="):
		return opEq, 1
	case strings.HasPrefix(rest, "<"):
		return opLt, 1
	case strings.HasPrefix(rest, ">"):
		return opGt, 1
	}
	return 0, 0
}

// literal is the VALUE of a condition.
type literal struct {
	text   string // as written, without quotes
	isNum  bool   // a bare token in number form
	num    float64
	any    bool // a lone "*"
	prefix bool // "*" at the start: match a suffix
	suffix bool // "*" at the end: match a prefix
	core   string
}

func newLiteral(text string, quoted bool) literal {
	l := literal{text: text, core: text}
	if !quoted {
		if n, ok := parseNumber(text); ok {
			l.isNum, l.num = true, n
			return l
		}
	}
	if text == "*" {
		l.any = true
		return l
	}
	if strings.HasPrefix(l.core, "*") {
		l.prefix = true
		l.core = l.core[1:]
	}
	if strings.HasSuffix(l.core, "*") {
		l.suffix = true
		l.core = l.core[:len(l.core)-1]
	}
	return l
}

// parseNumber accepts the number form of the filter syntax: an optional sign,
// digits with an optional fraction (or a fraction alone), and an optional
// exponent. strconv alone would also take hex, "Inf" and underscores.
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range
		return 0, false
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scalar is a value found in an event: a JSON string, number or boolean, or
// a space-delimited field.
type scalar struct {
	text  string
	isNum bool
	num   float64
}

func stringScalar(s string) scalar {
	n, ok := parseNumber(s)
	return scalar{text: s, isNum: ok, num: n}
}

// jsonScalar converts a decoded JSON value. ok is false for objects, arrays
// and null, which no comparison matches.
func jsonScalar(v any) (scalar, bool) {
	switch v := v.(type) {
	case string:
		return stringScalar(v), true
	case json.Number:
		n, err := v.Float64()
		return scalar{text: v.String(), isNum: err == nil, num: n}, true
	case bool:
		return scalar{text: strconv.FormatBool(v)}, true
	}
	return scalar{}, false
}

// compare applies "value op lit" to an existing scalar.
func compare(v scalar, o op, lit *literal) bool {
	if lit.isNum {
		if v.isNum {
			switch o {
			case opEq:
				return v.num == lit.num
			case opNe:
				return v.num != lit.num
			case opLt:
				return v.num < lit.num
			case opGt:
				return v.num > lit.num
			case opLe:
				return v.num <= lit.num
			case opGe:
				return v.num >= lit.num
			}
		}
		switch o {
		case opEq:
			return v.text == lit.text
		case opNe:
			return v.text != lit.text
		}
		return false
	}
	m := lit.matchString(v.text)
	if o == opNe {
		return !m
	}
	return m
}

func (l *literal) matchString(s string) bool {
	switch {
	case l.any:
		return true
	case l.prefix && l.suffix:
		return strings.Contains(s, l.core)
	case l.prefix:
		return strings.HasSuffix(s, l.core)
	case l.suffix:
		return strings.HasPrefix(s, l.core)
	}
	return s == l.core
}

// scanQuoted reads a double-quoted string starting at s[i] == '"'. It
// returns the unescaped text and the index after the closing quote. Only
// \" and \\ are escapes; any other backslash is kept.
func scanQuoted(s string, i int) (string, int, *Error) {
	start := i
	i++
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i += 2
		case c == '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, patternError(start, "unterminated quoted string")
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}
