package awsjson

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Time is a timestamp member. On the wire it is a JSON number of seconds
// since the Unix epoch, written with at most millisecond precision
// (1704067200.123, or 1704067200 for a whole second) and read from any JSON
// number, with or without a fraction or exponent. A JSON string is an
// error: the Go SDK rejects strings in responses, so we never send them and
// do not accept them either.
//
// Optional members are *Time with omitempty; a null member leaves the
// pointer nil.
type Time struct{ time.Time }

// NewTime returns t as a *Time, for optional members.
func NewTime(t time.Time) *Time { return &Time{t} }

// maxEpochDigits bounds the integer part of an accepted timestamp: fewer
// than 10^11 seconds either side of the epoch covers years 1 to 5138.
const maxEpochDigits = 11

var timeType = reflect.TypeFor[Time]()

// MarshalJSON writes t as epoch seconds, truncated to the millisecond.
func (t Time) MarshalJSON() ([]byte, error) { return AppendEpoch(nil, t.Time), nil }

// UnmarshalJSON reads a JSON number of epoch seconds. JSON null leaves t
// unchanged. Anything else returns a *json.UnmarshalTypeError, which
// [Decode] turns into a [*DecodeError] naming the member.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	v, ok := ParseEpoch(s)
	if !ok {
		return &json.UnmarshalTypeError{Value: jsonKind(s), Type: timeType}
	}
	t.Time = v
	return nil
}

// AppendEpoch appends t as a JSON number of epoch seconds with at most
// three fraction digits, trailing zeros dropped. Sub-millisecond precision
// is truncated (toward the past).
func AppendEpoch(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	frac := ms % 1000
	if frac == 0 {
		return dst
	}
	digits := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return append(dst, digits...)
}

// ParseEpoch parses a JSON number of epoch seconds exactly (no floating
// point rounding), to nanosecond precision; further digits are dropped.
// It reports false for text that is not a JSON number or whose magnitude
// is 10^11 seconds or more.
func ParseEpoch(s string) (time.Time, bool) {
	neg, intPart, fracPart, exp, ok := splitNumber(s)
	if !ok {
		return time.Time{}, false
	}
	digits := strings.TrimLeft(intPart+fracPart, "0")
	if digits == "" {
		return time.Unix(0, 0).UTC(), true
	}
	// The value is 0.digits × 10^point.
	point := len(intPart) - (len(intPart+fracPart) - len(digits)) + exp
	if point > maxEpochDigits {
		return time.Time{}, false
	}
	if point < -9 {
		// Smaller than a nanosecond.
		return time.Unix(0, 0).UTC(), true
	}
	var whole, frac string
	if point > 0 {
		if point <= len(digits) {
			whole, frac = digits[:point], digits[point:]
		} else {
			whole = digits + strings.Repeat("0", point-len(digits))
		}
	} else {
		whole, frac = "0", strings.Repeat("0", -point)+digits
	}
	if len(frac) > 9 {
		frac = frac[:9]
	} else {
		frac += strings.Repeat("0", 9-len(frac))
	}
	sec, err1 := strconv.ParseInt(whole, 10, 64)
	nsec, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, false
	}
	if neg {
		sec = -sec
		if nsec > 0 {
			sec--
			nsec = 1e9 - nsec
		}
	}
	return time.Unix(sec, nsec).UTC(), true
}

// splitNumber checks s against the JSON number grammar and returns its
// parts. The exponent is clamped to ±10^6, which is far outside any
// accepted timestamp.
func splitNumber(s string) (neg bool, intPart, fracPart string, exp int, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart = s[start:i]
	if intPart == "" || len(intPart) > 1 && intPart[0] == '0' {
		return false, "", "", 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracPart = s[start:i]
		if fracPart == "" {
			return false, "", "", 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		start = i
		for i < len(s) && isDigit(s[i]) {
			if exp < 1e6 {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return false, "", "", 0, false
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(s) {
		return false, "", "", 0, false
	}
	return neg, intPart, fracPart, exp, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// jsonKind describes a JSON value for an error message, the way
// encoding/json does: "string", "bool", "object", "array" or "number 1e99".
func jsonKind(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "number " + s
}
