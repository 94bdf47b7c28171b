package eventpattern

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of events, as encoding/json does.
const maxDepth = 10000

// pathNode is a node of the trie of field paths the rules of a set refer
// to. Event subtrees outside the trie are validated but not recorded.
type pathNode struct {
	children map[string]*pathNode
	id       int32 // index of the path's value list, or -1
}

// trailEntry places a value in one element of an array.
type trailEntry struct{ arr, idx int32 }

// scanner walks an event once, validating its JSON and recording the
// leaves at the paths of the trie.
type scanner struct {
	s     string
	pos   int
	heads []int32 // per path id: first value, or -1
	used  []int32 // path ids with values, to reset heads
	vals  []value
	trail []trailEntry // all values' trails
	stack []trailEntry // the arrays of containers enclosing the position
	arrs  int32
}

type syntaxError struct {
	msg string
	pos int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.pos) }

func (sc *scanner) fail(msg string) error { return &syntaxError{msg: msg, pos: sc.pos} }

func (sc *scanner) reset(s string) {
	for _, id := range sc.used {
		sc.heads[id] = -1
	}
	sc.used = sc.used[:0]
	sc.vals = sc.vals[:0]
	sc.trail = sc.trail[:0]
	sc.stack = sc.stack[:0]
	sc.arrs = 0
	sc.s, sc.pos = s, 0
}

// scan reads a whole event, which must be a JSON object.
func (sc *scanner) scan(root *pathNode) error {
	sc.ws()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '{' {
		return sc.fail("the event is not a JSON object")
	}
	if err := sc.value(root, 0); err != nil {
		return err
	}
	sc.ws()
	if sc.pos != len(sc.s) {
		return sc.fail("unexpected content after the event object")
	}
	return nil
}

func (sc *scanner) ws() {
	for sc.pos < len(sc.s) {
		switch sc.s[sc.pos] {
		case ' ', '\t', '\n', '\r':
			sc.pos++
		default:
			return
		}
	}
}

func (sc *scanner) record(n *pathNode, kind vkind, s string) {
	if n == nil || n.id < 0 {
		return
	}
	t0 := int32(len(sc.trail))
	sc.trail = append(sc.trail, sc.stack...)
	if sc.heads[n.id] < 0 {
		sc.used = append(sc.used, n.id)
	}
	sc.vals = append(sc.vals, value{kind: kind, s: s, t0: t0, t1: int32(len(sc.trail)), next: sc.heads[n.id]})
	sc.heads[n.id] = int32(len(sc.vals) - 1)
}

// value reads one JSON value at trie node n (nil: outside the trie).
func (sc *scanner) value(n *pathNode, depth int) error {
	sc.ws()
	if sc.pos >= len(sc.s) {
		return sc.fail("unexpected end of the event")
	}
	switch c := sc.s[sc.pos]; {
	case c == '{':
		return sc.object(n, depth+1)
	case c == '[':
		return sc.array(n, depth+1)
	case c == '"':
		if n == nil || n.id < 0 {
			return sc.skipString()
		}
		s, err := sc.str()
		if err != nil {
			return err
		}
		sc.record(n, vString, s)
	case c == '-' || ('0' <= c && c <= '9'):
		start := sc.pos
		if err := sc.number(); err != nil {
			return err
		}
		sc.record(n, vNumber, sc.s[start:sc.pos])
	case c == 't':
		if err := sc.literal("true"); err != nil {
			return err
		}
		sc.record(n, vTrue, "true")
	case c == 'f':
		if err := sc.literal("false"); err != nil {
			return err
		}
		sc.record(n, vFalse, "false")
	case c == 'n':
		if err := sc.literal("null"); err != nil {
			return err
		}
		sc.record(n, vNull, "null")
	default:
		return sc.fail("invalid character " + quoteByte(c))
	}
	return nil
}

func quoteByte(c byte) string { return fmt.Sprintf("%q", rune(c)) }

// open consumes the '{' or '[' at the position; empty reports a container
// closed at once by end, which it consumes too.
func (sc *scanner) open(end byte, depth int) (empty bool, err error) {
	if depth > maxDepth {
		return false, sc.fail("the event is nested too deeply")
	}
	sc.pos++
	sc.ws()
	if sc.pos < len(sc.s) && sc.s[sc.pos] == end {
		sc.pos++
		return true, nil
	}
	return false, nil
}

// key reads a member's name and the ':' after it; it decodes the name only
// when asked to.
func (sc *scanner) key(decode bool) (string, error) {
	sc.ws()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != '"' {
		return "", sc.fail("expected a field name")
	}
	var key string
	var err error
	if decode {
		key, err = sc.str()
	} else {
		err = sc.skipString()
	}
	if err != nil {
		return "", err
	}
	sc.ws()
	if sc.pos >= len(sc.s) || sc.s[sc.pos] != ':' {
		return "", sc.fail("expected ':' after a field name")
	}
	sc.pos++
	return key, nil
}

// next reads what follows a member or an element: ',' (more is true) or
// the container's end.
func (sc *scanner) next(end byte) (more bool, err error) {
	sc.ws()
	if sc.pos < len(sc.s) {
		switch sc.s[sc.pos] {
		case ',':
			sc.pos++
			return true, nil
		case end:
			sc.pos++
			return false, nil
		}
	}
	return false, sc.fail("expected ',' or '" + string(end) + "'")
}

func (sc *scanner) object(n *pathNode, depth int) error {
	var children map[string]*pathNode
	if n != nil {
		children = n.children
	}
	empty, err := sc.open('}', depth)
	for more := !empty; err == nil && more; more, err = sc.next('}') {
		var key string
		if key, err = sc.key(children != nil); err != nil {
			return err
		}
		if err = sc.value(children[key], depth); err != nil {
			return err
		}
	}
	return err
}

func (sc *scanner) array(n *pathNode, depth int) error {
	arr := sc.arrs
	sc.arrs++
	empty, err := sc.open(']', depth)
	idx := int32(0)
	for more := !empty; err == nil && more; more, err = sc.next(']') {
		sc.ws()
		// Elements that are containers put their leaves in this element
		// of this array; scalar elements need no trail.
		if sc.pos < len(sc.s) && n != nil && (sc.s[sc.pos] == '{' || sc.s[sc.pos] == '[') {
			sc.stack = append(sc.stack, trailEntry{arr: arr, idx: idx})
			err = sc.value(n, depth)
			sc.stack = sc.stack[:len(sc.stack)-1]
		} else {
			err = sc.value(n, depth)
		}
		if err != nil {
			return err
		}
		idx++
	}
	return err
}

func (sc *scanner) literal(lit string) error {
	if !strings.HasPrefix(sc.s[sc.pos:], lit) {
		return sc.fail("invalid literal")
	}
	sc.pos += len(lit)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number validates a JSON number.
func (sc *scanner) number() error {
	s, i := sc.s, sc.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		sc.pos = i
		return sc.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			sc.pos = i
			return sc.fail("invalid number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			sc.pos = i
			return sc.fail("invalid number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	sc.pos = i
	return nil
}

// skipString validates a string without decoding it.
func (sc *scanner) skipString() error {
	s := sc.s
	i := sc.pos + 1
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			sc.pos = i + 1
			return nil
		case c == '\\':
			n, ok := escapeLen(s, i)
			if !ok {
				sc.pos = i
				return sc.fail("invalid escape in a string")
			}
			i += n
		case c < 0x20:
			sc.pos = i
			return sc.fail("control character in a string")
		default:
			i++
		}
	}
	sc.pos = i
	return sc.fail("unterminated string")
}

// escapeLen returns the length of the escape at s[i] ('\\').
func escapeLen(s string, i int) (int, bool) {
	if i+1 >= len(s) {
		return 0, false
	}
	switch s[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		if i+6 > len(s) {
			return 0, false
		}
		for _, c := range []byte(s[i+2 : i+6]) {
			if hexVal(c) < 0 {
				return 0, false
			}
		}
		return 6, true
	}
	return 0, false
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func hex4(s string) rune {
	return hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3])
}

// str reads a string and returns its decoded value: a substring of the
// event when it has no escapes.
func (sc *scanner) str() (string, error) {
	s := sc.s
	start := sc.pos + 1
	ascii := true
	for i := start; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			sc.pos = i + 1
			if !ascii {
				return validUTF8(s[start:i]), nil
			}
			return s[start:i], nil
		}
		if c == '\\' {
			return sc.strEscaped(start)
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		if c < 0x20 {
			sc.pos = i
			return "", sc.fail("control character in a string")
		}
	}
	sc.pos = len(s)
	return "", sc.fail("unterminated string")
}

// strEscaped decodes a string that has escapes, as encoding/json does
// (unpaired surrogates become U+FFFD).
func (sc *scanner) strEscaped(start int) (string, error) {
	s := sc.s
	var b strings.Builder
	i := start
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			sc.pos = i + 1
			return validUTF8(b.String()), nil
		case c < 0x20:
			sc.pos = i
			return "", sc.fail("control character in a string")
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		n, ok := escapeLen(s, i)
		if !ok {
			sc.pos = i
			return "", sc.fail("invalid escape in a string")
		}
		switch s[i+1] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := hex4(s[i+2:])
			if utf16.IsSurrogate(r) {
				if r2, ok := lowSurrogate(s, i+6); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b.WriteRune(d)
						i += 12
						continue
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(s[i+1])
		}
		i += n
	}
	sc.pos = len(s)
	return "", sc.fail("unterminated string")
}

func lowSurrogate(s string, i int) (rune, bool) {
	if i+1 >= len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return 0, false
	}
	if _, ok := escapeLen(s, i); !ok {
		return 0, false
	}
	return hex4(s[i+2:]), true
}

// validUTF8 replaces each byte of s that is not part of valid UTF-8 with
// U+FFFD, as encoding/json decodes strings.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
