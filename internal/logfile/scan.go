package logfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// This file is a small validating JSON scanner, for the untrusted text of
// log files: whitespace anywhere, any value, read from a stream. It is not
// the scanner of stored records (event.Path, over the compact JSON that
// event.Parse validated once): that one trusts its input and only finds
// members, this one checks the grammar and finds where values end.
// It finds where a value ends
// and checks the grammar of RFC 8259 as encoding/json does (including its
// leniency: invalid UTF-8 and lone surrogates in strings are accepted, and
// nesting deeper than 10000 is refused). It builds nothing, so it runs at
// memory speed rather than at the pace of encoding/json's state machine.
//
// Scanning works on a byte slice that may end before the value does: unless
// eof is set, running out of bytes returns errMore and the caller rescans
// from the value's start once more bytes are buffered.

// errMore reports that the value continues past the end of the buffered
// bytes.
var errMore = errors.New("logfile: more input needed")

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// scanError is a grammar error at byte off of the scanned slice.
type scanError struct {
	off int
	err error
}

func (e *scanError) Error() string { return e.err.Error() }
func (e *scanError) Unwrap() error { return e.err }

func errAt(off int, format string, args ...any) error {
	return &scanError{off: off, err: fmt.Errorf(format, args...)}
}

// end reports running out of input at off: errMore, or at EOF a syntax
// error.
func end(off int, eof bool) error {
	if eof {
		return errAt(off, "unexpected end of input")
	}
	return errMore
}

// quoteChar renders a byte for an error message the way encoding/json does.
func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return fmt.Sprintf("%q", rune(c))
	}
	return "'" + string(rune(c)) + "'"
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// skipSpace returns the index of the first non-whitespace byte at or after
// i, or len(b).
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// strPlain marks the bytes a string can hold without a closer look.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hexDigit marks the hexadecimal digits.
var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// special8 flags, in the high bit of each byte, the bytes of x (little
// endian) that are a quote, a backslash or a control character: the classic
// "has zero byte" and "has byte less than n" bit tricks. Bits above the
// lowest flagged byte may be wrong (borrows), but the lowest one is exact.
func special8(x uint64) uint64 {
	q := x ^ (lo8 * '"')
	s := x ^ (lo8 * '\\')
	return ((q-lo8)&^q | (s-lo8)&^s | (x-lo8*0x20)&^x) & hi8
}

// scanString scans the string whose opening quote is b[i] and returns the
// index after its closing quote.
func scanString(b []byte, i int, eof bool) (int, error) {
	i++
	for {
		for i+8 <= len(b) {
			if m := special8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, end(i, eof)
		}
	special:
		switch c := b[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i, end(i+1, eof)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i, end(i+k, eof)
					}
					if !hexDigit[b[i+k]] {
						return i, errAt(i+k, "invalid character %s in \\u hexadecimal character escape", quoteChar(b[i+k]))
					}
				}
				i += 6
			default:
				return i, errAt(i+1, "invalid character %s in string escape code", quoteChar(b[i+1]))
			}
		default:
			return i, errAt(i, "invalid character %s in string literal", quoteChar(c))
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber scans the number starting at b[i]. A number can only end where
// another byte follows it, so without eof running off the end is errMore.
func scanNumber(b []byte, i int, eof bool) (int, error) {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return i, end(i, eof)
		}
		if !isDigit(b[i]) {
			return i, errAt(i, "invalid character %s in numeric literal", quoteChar(b[i]))
		}
	}
	if b[i] == '0' {
		i++
	} else {
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i >= len(b) {
		return numEnd(i, eof)
	}
	if b[i] == '.' {
		i++
		if i >= len(b) {
			return i, end(i, eof)
		}
		if !isDigit(b[i]) {
			return i, errAt(i, "invalid character %s after decimal point in numeric literal", quoteChar(b[i]))
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i >= len(b) {
			return numEnd(i, eof)
		}
	}
	if b[i] == 'e' || b[i] == 'E' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			return i, end(i, eof)
		}
		if !isDigit(b[i]) {
			return i, errAt(i, "invalid character %s in exponent of numeric literal", quoteChar(b[i]))
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i >= len(b) {
			return numEnd(i, eof)
		}
	}
	return i, nil
}

func numEnd(i int, eof bool) (int, error) {
	if eof {
		return i, nil
	}
	return i, errMore
}

// scanLiteral scans true, false or null starting at b[i].
func scanLiteral(b []byte, i int, eof bool) (int, error) {
	var lit string
	switch b[i] {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	default:
		lit = "null"
	}
	for k := 1; k < len(lit); k++ {
		if i+k >= len(b) {
			return i, end(i+k, eof)
		}
		if b[i+k] != lit[k] {
			return i, errAt(i+k, "invalid character %s in literal %s (expecting '%c')", quoteChar(b[i+k]), lit, lit[k])
		}
	}
	return i + len(lit), nil
}

// scanner scans values. Its stack is kept between calls to save
// allocations.
type scanner struct {
	stack []byte // '{' or '[' per open container
}

// value scans the value starting at b[i] (whitespace first is allowed) and
// returns the index just after it. depth is the number of containers
// already open around the value, for the nesting limit.
func (s *scanner) value(b []byte, i int, eof bool, depth int) (int, error) {
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	var err error
	for {
		// A value starts here.
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, end(i, eof)
		}
		switch c := b[i]; {
		case c == '"':
			if i, err = scanString(b, i, eof); err != nil {
				return i, err
			}
		case c == '{' || c == '[':
			if depth+len(stack) >= maxDepth {
				return i, errAt(i, "exceeded max depth")
			}
			stack = append(stack, c)
			i = skipSpace(b, i+1)
			if i >= len(b) {
				return i, end(i, eof)
			}
			if c == '[' {
				if b[i] == ']' {
					stack = stack[:len(stack)-1]
					i++
					break
				}
				continue
			}
			if b[i] == '}' {
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if i, err = s.key(b, i, eof); err != nil {
				return i, err
			}
			continue
		case c == '-' || isDigit(c):
			if i, err = scanNumber(b, i, eof); err != nil {
				return i, err
			}
		case c == 't' || c == 'f' || c == 'n':
			if i, err = scanLiteral(b, i, eof); err != nil {
				return i, err
			}
		default:
			return i, errAt(i, "invalid character %s looking for beginning of value", quoteChar(c))
		}
		// A value ended: close containers until one wants another value.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, end(i, eof)
			}
			top := stack[len(stack)-1]
			c := b[i]
			if c == ',' {
				i++
				if top == '{' {
					if i, err = s.key(b, i, eof); err != nil {
						return i, err
					}
				}
				break
			}
			if top == '{' && c == '}' || top == '[' && c == ']' {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if top == '{' {
				return i, errAt(i, "invalid character %s after object key:value pair", quoteChar(c))
			}
			return i, errAt(i, "invalid character %s after array element", quoteChar(c))
		}
	}
}

// key scans `"name" :` (with whitespace around) from b[i] and returns the
// index after the colon.
func (s *scanner) key(b []byte, i int, eof bool) (int, error) {
	_, i, err := scanKey(b, i, eof)
	return i, err
}

// scanKey scans an object member name and its colon starting at or after
// b[i]; it returns the name's bytes as written (without quotes, escapes
// kept) and the index after the colon.
func scanKey(b []byte, i int, eof bool) ([]byte, int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return nil, i, end(i, eof)
	}
	if b[i] != '"' {
		return nil, i, errAt(i, "invalid character %s looking for beginning of object key string", quoteChar(b[i]))
	}
	start := i
	i, err := scanString(b, i, eof)
	if err != nil {
		return nil, i, err
	}
	name := b[start+1 : i-1]
	i = skipSpace(b, i)
	if i >= len(b) {
		return nil, i, end(i, eof)
	}
	if b[i] != ':' {
		return nil, i, errAt(i, "invalid character %s after object key", quoteChar(b[i]))
	}
	return name, i + 1, nil
}
