package event

import "encoding/binary"

// checkJSON reports whether b is one JSON value, optionally surrounded by
// whitespace (valid: exactly what encoding/json.Valid accepts; FuzzValidJSON
// compares the two), including its limit of 10,000 nested arrays and
// objects and its acceptance of any byte from 0x20 up inside strings,
// invalid UTF-8 included. It reads each byte once, eight at a time inside
// strings, with no call per byte: on CloudTrail records about four times
// as fast as json.Valid (BenchmarkValidJSON), which was half of what
// parsing an imported record cost. compact reports, for a valid b, that it
// has no whitespace outside strings (json.Compact would not change it).
func checkJSON(b []byte) (valid, compact bool) {
	const maxDepth = 10000 // encoding/json's maxNestingDepth
	var (
		buf   [64]byte
		stack = buf[:0] // '{' or '[' for each open container
		i     int
		n     = len(b)
		space bool // whitespace seen outside strings
	)
value:
	for i < n && isSpace(b[i]) {
		i, space = i+1, true
	}
	if i >= n {
		return false, false
	}
	switch c := b[i]; {
	case c == '"':
		if i = stringAfter(b, i+1); i < 0 {
			return false, false
		}
	case c == '{' || c == '[':
		if len(stack) >= maxDepth {
			return false, false
		}
		stack = append(stack, c)
		i++
		for i < n && isSpace(b[i]) {
			i, space = i+1, true
		}
		if i < n && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
			stack = stack[:len(stack)-1]
			i++
			break
		}
		if c == '{' {
			goto key
		}
		goto value
	case c == '-' || c >= '0' && c <= '9':
		if i = numberAfter(b, i); i < 0 {
			return false, false
		}
	case c == 't':
		if i = literalAfter(b, i, "true"); i < 0 {
			return false, false
		}
	case c == 'f':
		if i = literalAfter(b, i, "false"); i < 0 {
			return false, false
		}
	case c == 'n':
		if i = literalAfter(b, i, "null"); i < 0 {
			return false, false
		}
	default:
		return false, false
	}
	// A value has ended: what follows it depends on where it stands.
	for {
		for i < n && isSpace(b[i]) {
			i, space = i+1, true
		}
		if len(stack) == 0 {
			return i == n, !space
		}
		if i >= n {
			return false, false
		}
		open := stack[len(stack)-1]
		switch b[i] {
		case ',':
			i++
			if open == '{' {
				goto key
			}
			goto value
		case open + 2:
			stack = stack[:len(stack)-1]
			i++
		default:
			return false, false
		}
	}
key:
	for i < n && isSpace(b[i]) {
		i, space = i+1, true
	}
	if i >= n || b[i] != '"' {
		return false, false
	}
	if i = stringAfter(b, i+1); i < 0 {
		return false, false
	}
	for i < n && isSpace(b[i]) {
		i, space = i+1, true
	}
	if i >= n || b[i] != ':' {
		return false, false
	}
	i++
	goto value
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// plainInString marks the bytes a JSON string may hold as they are: all
// but the control characters, '"' and '\\'.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// stringAfter returns the index just past the closing quote of the JSON
// string whose content starts at b[i], or -1 if it is not a valid string.
func stringAfter(b []byte, i int) int {
	for {
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plainInString[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// plain8 reports whether none of the eight bytes in x is a control
// character, '"' or '\\' (the tests of "Bit Twiddling Hacks": a byte less
// than 0x20, a byte equal to a given one, each exact for "any of eight").
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	less := (x - 0x20*ones) &^ x
	q, bs := x^('"'*ones), x^('\\'*ones)
	return (less|(q-ones)&^q|(bs-ones)&^bs)&highs == 0
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numberAfter returns the index just past the JSON number starting at
// b[i], or -1 if none starts there.
func numberAfter(b []byte, i int) int {
	n := len(b)
	if b[i] == '-' {
		i++
	}
	switch {
	case i < n && b[i] == '0':
		i++
	case i < n && b[i] >= '1' && b[i] <= '9':
		for i++; i < n && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < n && b[i] == '.' {
		i++
		if i >= n || !isDigit(b[i]) {
			return -1
		}
		for i++; i < n && isDigit(b[i]); i++ {
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n || !isDigit(b[i]) {
			return -1
		}
		for i++; i < n && isDigit(b[i]); i++ {
		}
	}
	return i
}

// literalAfter returns the index just past lit at b[i], or -1.
func literalAfter(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}
