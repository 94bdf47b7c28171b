package cwapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// The reflect glue between wire structs and CBOR values (Smithy RPC v2
// CBOR, alerts.md §1.1): smithy-go's encoding/cbor reads and writes the
// values, this file maps them onto the same structs the JSON form uses,
// by their json tags. Timestamps (awsjson.Time) are tag 1 with epoch
// seconds; everything else follows the Go type.

var timeType = reflect.TypeFor[awsjson.Time]()

// maxDepth bounds nesting while decoding; the deepest CloudWatch input is
// far shallower.
const maxDepth = 32

// cborProtocol is Smithy RPC v2 CBOR (alerts.md §1.1 form 2).
type cborProtocol struct{ inputs map[string]func() any }

func (cborProtocol) Match(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, PathPrefix) }

func (cborProtocol) Operation(r *http.Request, _ []byte) (string, error) {
	return strings.TrimPrefix(r.URL.Path, PathPrefix), nil
}

// JSON decodes the body into the operation's input and re-encodes it as
// the JSON its Invoke reads (timestamps as epoch seconds).
func (p cborProtocol) JSON(op string, body []byte) ([]byte, error) {
	in := p.inputs[op]()
	if err := decodeCBOR(body, in); err != nil {
		return nil, err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, &awsjson.DecodeError{Reason: "a value has no JSON form: " + err.Error(), Err: err}
	}
	return b, nil
}

func (cborProtocol) WriteOutput(w http.ResponseWriter, _, _ string, out any) {
	b := encodeCBOR(out)
	w.Header().Set("Content-Type", cborContentType)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (cborProtocol) WriteError(w http.ResponseWriter, _, _ string, e *jsonsvc.WireError) {
	typ := e.Code
	if e.Type != "" {
		typ = e.Type
	}
	b := cbor.Encode(cbor.Map{"__type": cbor.String(typ), "message": cbor.String(e.Message)})
	w.Header().Set("Content-Type", cborContentType)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(status(e))
	_, _ = w.Write(b)
}

func status(e *jsonsvc.WireError) int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// decodeCBOR decodes a request body into v, a pointer to a wire struct.
// An empty body is {}. Unknown members are ignored, nulls are absent, and
// a member of the wrong type is a *awsjson.DecodeError naming it.
func decodeCBOR(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	val, err := cbor.Decode(body)
	if err != nil {
		return &awsjson.DecodeError{Reason: "the body is not valid CBOR: " + err.Error(), Err: err}
	}
	if _, ok := val.(cbor.Map); !ok {
		return &awsjson.DecodeError{Reason: "the body must be a CBOR map"}
	}
	return assign(reflect.ValueOf(v).Elem(), val, "", 0)
}

func typeError(path, want string, got cbor.Value) error {
	return &awsjson.DecodeError{Member: path, Reason: fmt.Sprintf("expected %s, got CBOR %T", want, got)}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonName returns a field's member name and whether it is omitempty;
// "" for fields that are not on the wire.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty")
}

func assign(dst reflect.Value, val cbor.Value, path string, depth int) error {
	if depth > maxDepth {
		return &awsjson.DecodeError{Member: path, Reason: "nested too deeply"}
	}
	switch val.(type) {
	case *cbor.Nil, *cbor.Undefined, nil:
		return nil // absent
	}
	if dst.Type() == timeType {
		t, err := asTime(val)
		if err != nil {
			return &awsjson.DecodeError{Member: path, Reason: err.Error()}
		}
		dst.Set(reflect.ValueOf(awsjson.Time{Time: t}))
		return nil
	}
	switch dst.Kind() {
	case reflect.Pointer:
		p := reflect.New(dst.Type().Elem())
		if err := assign(p.Elem(), val, path, depth+1); err != nil {
			return err
		}
		dst.Set(p)
	case reflect.String:
		s, ok := val.(cbor.String)
		if !ok {
			return typeError(path, "a string", val)
		}
		dst.SetString(string(s))
	case reflect.Bool:
		b, ok := val.(cbor.Bool)
		if !ok {
			return typeError(path, "a boolean", val)
		}
		dst.SetBool(bool(b))
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := cbor.AsInt64(val)
		if err != nil || dst.OverflowInt(n) {
			return typeError(path, "an integer", val)
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := cbor.AsFloat64(val)
		if err != nil {
			return typeError(path, "a number", val)
		}
		dst.SetFloat(f)
	case reflect.Slice:
		l, ok := val.(cbor.List)
		if !ok {
			return typeError(path, "a list", val)
		}
		s := reflect.MakeSlice(dst.Type(), len(l), len(l))
		for i, e := range l {
			if isNull(e) {
				return &awsjson.DecodeError{Member: fmt.Sprintf("%s[%d]", path, i), Reason: "null list element", Err: awsjson.ErrNullElement}
			}
			if err := assign(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Map:
		m, ok := val.(cbor.Map)
		if !ok || dst.Type().Key().Kind() != reflect.String {
			return typeError(path, "a map", val)
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, e := range m {
			if isNull(e) {
				return &awsjson.DecodeError{Member: join(path, k), Reason: "null map value", Err: awsjson.ErrNullElement}
			}
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := assign(ev, e, join(path, k), depth+1); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(out)
	case reflect.Struct:
		m, ok := val.(cbor.Map)
		if !ok {
			return typeError(path, "a structure", val)
		}
		t := dst.Type()
		for i := range t.NumField() {
			name, _ := jsonName(t.Field(i))
			if name == "" {
				continue
			}
			if e, ok := m[name]; ok {
				if err := assign(dst.Field(i), e, join(path, name), depth+1); err != nil {
					return err
				}
			}
		}
	case reflect.Interface:
		if dst.NumMethod() != 0 {
			return typeError(path, "nothing", val)
		}
		dst.Set(reflect.ValueOf(val)) // opaque: only its presence counts
	default:
		return typeError(path, dst.Kind().String(), val)
	}
	return nil
}

func isNull(v cbor.Value) bool {
	switch v.(type) {
	case *cbor.Nil, *cbor.Undefined, nil:
		return true
	}
	return false
}

// asTime reads a timestamp: tag 1 around a number, as the SDK sends it;
// a bare number is accepted too.
func asTime(v cbor.Value) (time.Time, error) {
	if t, ok := v.(*cbor.Tag); ok {
		if t.ID != 1 {
			return time.Time{}, fmt.Errorf("expected a timestamp (tag 1), got tag %d", t.ID)
		}
		v = t.Value
	} else if t, ok := v.(cbor.Tag); ok {
		if t.ID != 1 {
			return time.Time{}, fmt.Errorf("expected a timestamp (tag 1), got tag %d", t.ID)
		}
		v = t.Value
	}
	f, err := cbor.AsFloat64(v)
	if err != nil {
		return time.Time{}, errors.New("expected a timestamp (epoch seconds)")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= 1e11 {
		return time.Time{}, errors.New("timestamp out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), nil
}

// encodeCBOR encodes a wire struct (or pointer to one).
func encodeCBOR(v any) []byte {
	val := toCBOR(reflect.ValueOf(v))
	if val == nil {
		val = cbor.Map{}
	}
	return cbor.Encode(val)
}

func toCBOR(v reflect.Value) cbor.Value {
	if v.Type() == timeType {
		t := v.Interface().(awsjson.Time).Time
		ms := t.UnixMilli()
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(ms) / 1e3)}
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if cv, ok := v.Interface().(cbor.Value); ok { // an opaque member, as decoded
			return cv
		}
		return toCBOR(v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return toCBOR(v.Elem())
	case reflect.String:
		return cbor.String(v.String())
	case reflect.Bool:
		return cbor.Bool(v.Bool())
	case reflect.Int, reflect.Int32, reflect.Int64:
		n := v.Int()
		if n < 0 {
			return cbor.NegInt(uint64(-(n + 1)) + 1)
		}
		return cbor.Uint(uint64(n))
	case reflect.Float64:
		return cbor.Float64(v.Float())
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		l := make(cbor.List, v.Len())
		for i := range l {
			if l[i] = toCBOR(v.Index(i)); l[i] == nil {
				l[i] = &cbor.Nil{}
			}
		}
		return l
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		m := cbor.Map{}
		it := v.MapRange()
		for it.Next() {
			if e := toCBOR(it.Value()); e != nil {
				m[it.Key().String()] = e
			}
		}
		return m
	case reflect.Struct:
		m := cbor.Map{}
		t := v.Type()
		for i := range t.NumField() {
			name, omit := jsonName(t.Field(i))
			if name == "" {
				continue
			}
			f := v.Field(i)
			if omit && f.IsZero() {
				continue
			}
			if e := toCBOR(f); e != nil {
				m[name] = e
			}
		}
		return m
	}
	return nil
}
