// Package jsonscan is a small validating JSON scanner for untrusted text:
// whitespace anywhere, any value, possibly read from a stream. It finds
// where a value ends and checks the grammar of RFC 8259 as encoding/json
// does (including its leniency: invalid UTF-8 and lone surrogates in
// strings are accepted, and nesting deeper than 10000 is refused). It
// builds nothing, so it runs at memory speed rather than at the pace of
// encoding/json's state machine: the log file decoder (internal/logfile)
// finds records with it, and event.Parse checks a record with [Valid].
// It is not the scanner of stored records (event.Path, over the compact
// JSON that event.Parse validated once): that one trusts its input and
// only finds members.
//
// Scanning works on a byte slice that may end before the value does: unless
// eof is set, running out of bytes returns ErrMore and the caller rescans
// from the value's start once more bytes are buffered.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// ErrMore reports that the value continues past the end of the buffered
// bytes.
var ErrMore = errors.New("jsonscan: more input needed")

// MaxDepth is encoding/json's nesting limit.
const MaxDepth = 10000

// Error is a grammar error at byte Off of the scanned slice.
type Error struct {
	Off int
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrAt returns an *Error at byte off with a message made as by fmt.Errorf.
func ErrAt(off int, format string, args ...any) error {
	return &Error{Off: off, Err: fmt.Errorf(format, args...)}
}

// End reports running out of input at off: ErrMore, or at EOF a syntax
// error.
func End(off int, eof bool) error {
	if eof {
		return ErrAt(off, "unexpected end of input")
	}
	return ErrMore
}

// QuoteChar renders a byte for an error message the way encoding/json does.
func QuoteChar(c byte) string {
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

// SkipSpace returns the index of the first non-whitespace byte at or after
// i, or len(b).
func SkipSpace(b []byte, i int) int {
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
			return i, End(i, eof)
		}
	special:
		switch c := b[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i, End(i+1, eof)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if i+k >= len(b) {
						return i, End(i+k, eof)
					}
					if !hexDigit[b[i+k]] {
						return i, ErrAt(i+k, "invalid character %s in \\u hexadecimal character escape", QuoteChar(b[i+k]))
					}
				}
				i += 6
			default:
				return i, ErrAt(i+1, "invalid character %s in string escape code", QuoteChar(b[i+1]))
			}
		default:
			return i, ErrAt(i, "invalid character %s in string literal", QuoteChar(c))
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber scans the number starting at b[i]. A number can only end where
// another byte follows it, so without eof running off the end is ErrMore.
func scanNumber(b []byte, i int, eof bool) (int, error) {
	if b[i] == '-' {
		i++
		if i >= len(b) {
			return i, End(i, eof)
		}
		if !isDigit(b[i]) {
			return i, ErrAt(i, "invalid character %s in numeric literal", QuoteChar(b[i]))
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
			return i, End(i, eof)
		}
		if !isDigit(b[i]) {
			return i, ErrAt(i, "invalid character %s after decimal point in numeric literal", QuoteChar(b[i]))
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
			return i, End(i, eof)
		}
		if !isDigit(b[i]) {
			return i, ErrAt(i, "invalid character %s in exponent of numeric literal", QuoteChar(b[i]))
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
	return i, ErrMore
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
			return i, End(i+k, eof)
		}
		if b[i+k] != lit[k] {
			return i, ErrAt(i+k, "invalid character %s in literal %s (expecting '%c')", QuoteChar(b[i+k]), lit, lit[k])
		}
	}
	return i + len(lit), nil
}

// Scanner scans values. Its stack is kept between calls to save
// allocations.
type Scanner struct {
	stack  []byte // '{' or '[' per open container
	spaced bool   // whitespace was skipped outside strings
}

// skip is SkipSpace, noting whether there was whitespace.
func (s *Scanner) skip(b []byte, i int) int {
	j := SkipSpace(b, i)
	s.spaced = s.spaced || j != i
	return j
}

// Valid reports whether b is one JSON value with optional whitespace
// around it: exactly what encoding/json.Valid accepts (FuzzScan compares
// the two). compact reports, for a valid b, that no whitespace stands
// outside its strings, so json.Compact would leave it as it is.
func Valid(b []byte) (valid, compact bool) {
	s := scanners.Get().(*Scanner)
	defer scanners.Put(s)
	s.spaced = false
	n, err := s.Value(b, s.skip(b, 0), true, 0)
	if err != nil || s.skip(b, n) != len(b) {
		return false, false
	}
	return true, !s.spaced
}

// scanners keeps Valid's scanners, whose stacks would otherwise be
// allocated for every value.
var scanners = sync.Pool{New: func() any { return new(Scanner) }}

// Value scans the value starting at b[i] (whitespace first is allowed) and
// returns the index just after it. depth is the number of containers
// already open around the value, for the nesting limit.
func (s *Scanner) Value(b []byte, i int, eof bool, depth int) (int, error) {
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	var err error
	for {
		// A value starts here.
		i = s.skip(b, i)
		if i >= len(b) {
			return i, End(i, eof)
		}
		switch c := b[i]; {
		case c == '"':
			if i, err = scanString(b, i, eof); err != nil {
				return i, err
			}
		case c == '{' || c == '[':
			if depth+len(stack) >= MaxDepth {
				return i, ErrAt(i, "exceeded max depth")
			}
			stack = append(stack, c)
			i = s.skip(b, i+1)
			if i >= len(b) {
				return i, End(i, eof)
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
			return i, ErrAt(i, "invalid character %s looking for beginning of value", QuoteChar(c))
		}
		// A value ended: close containers until one wants another value.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = s.skip(b, i)
			if i >= len(b) {
				return i, End(i, eof)
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
				return i, ErrAt(i, "invalid character %s after object key:value pair", QuoteChar(c))
			}
			return i, ErrAt(i, "invalid character %s after array element", QuoteChar(c))
		}
	}
}

// key scans `"name" :` (with whitespace around) from b[i] and returns the
// index after the colon.
func (s *Scanner) key(b []byte, i int, eof bool) (int, error) {
	_, i, err := s.ScanKey(b, i, eof)
	return i, err
}

// ScanKey scans an object member name and its colon starting at or after
// b[i]; it returns the name's bytes as written (without quotes, escapes
// kept) and the index after the colon.
func (s *Scanner) ScanKey(b []byte, i int, eof bool) ([]byte, int, error) {
	i = s.skip(b, i)
	if i >= len(b) {
		return nil, i, End(i, eof)
	}
	if b[i] != '"' {
		return nil, i, ErrAt(i, "invalid character %s looking for beginning of object key string", QuoteChar(b[i]))
	}
	start := i
	i, err := scanString(b, i, eof)
	if err != nil {
		return nil, i, err
	}
	name := b[start+1 : i-1]
	i = s.skip(b, i)
	if i >= len(b) {
		return nil, i, End(i, eof)
	}
	if b[i] != ':' {
		return nil, i, ErrAt(i, "invalid character %s after object key", QuoteChar(b[i]))
	}
	return name, i + 1, nil
}
