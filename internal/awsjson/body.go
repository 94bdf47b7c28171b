package awsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// DefaultMaxBody is the request body limit used when none is given: 2 MiB,
// enough for PutEventSelectors' largest legal input (protocol.md §2.1).
const DefaultMaxBody = 2 << 20

// TooLargeError is returned by [ReadBody] when the body exceeds the limit.
type TooLargeError struct {
	Limit int64 // the limit in bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("request body is larger than the %d-byte limit", e.Limit)
}

// ReadBody reads all of r, up to limit bytes (DefaultMaxBody when
// limit <= 0). A longer body returns a [*TooLargeError]; the rest of r is
// not read.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}

// DecodeError says why a request body could not be decoded. It maps to
// SerializationException.
type DecodeError struct {
	// Member is the dotted path of the offending member, e.g.
	// "LookupAttributes.AttributeKey"; "" for the body as a whole.
	Member string
	// Reason is a human-readable explanation, without the member name.
	Reason string
	Err    error // the underlying encoding/json error, if any
}

func (e *DecodeError) Error() string {
	if e.Member == "" {
		return "request body: " + e.Reason
	}
	return "member " + e.Member + ": " + e.Reason
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode decodes a request body into v, a pointer to a wire struct. An
// empty (or all-whitespace) body and the literal null decode as {}. Null
// members are absent, unknown members are ignored, and the body must hold
// exactly one JSON object. A null element of a list or value of a map is
// refused with [ErrNullElement]. Errors are *DecodeError.
//
// Member names match case-insensitively, as encoding/json does; the SDKs
// always send the model's exact spelling.
func Decode(body []byte, v any) error {
	body = bytes.Trim(body, " \t\r\n")
	if len(body) == 0 || string(body) == "null" {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return &DecodeError{Reason: "must be a JSON object, got " + kindWord(jsonKind(string(body)))}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &DecodeError{Reason: "unexpected data after the JSON object", Err: err}
	}
	return checkNulls(body, reflect.TypeOf(v))
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &DecodeError{
			Member: te.Field,
			Reason: "expected " + wireType(te.Type) + ", got " + kindWord(te.Value),
			Err:    err,
		}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &DecodeError{Reason: fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")), Err: err}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &DecodeError{Reason: "not valid JSON: unexpected end of input", Err: err}
	}
	return &DecodeError{Reason: strings.TrimPrefix(err.Error(), "json: "), Err: err}
}

// kindWord turns encoding/json's value description into plain words.
func kindWord(v string) string {
	switch {
	case v == "bool":
		return "a boolean"
	case v == "string":
		return "a string"
	case v == "object", v == "array":
		return "an " + v
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ")
	}
	return v
}

// wireType names the JSON type a Go wire type expects.
func wireType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "a JSON number of epoch seconds (e.g. 1704067200) within years 1 to 5138"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("an integer that fits %d bits", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}
