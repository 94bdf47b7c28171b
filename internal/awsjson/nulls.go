package awsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// ErrNullElement is wrapped by the [*DecodeError] that [Decode] returns for
// a null element of a list, or a null value of a map, that the input type
// has a member for. Every list and map of the cloudtrail model is dense
// (none is marked sparse), so a null there is never a value: encoding/json
// would make it a zero structure, an empty string or false, and the
// operation would act on something the client never sent. The API answers
// it with the operation's validation error.
var ErrNullElement = errors.New("awsjson: null list element or map value")

// checkNulls returns a *DecodeError wrapping ErrNullElement for the first
// null element of a list, or value of a map, in body that decoding into t
// fills; members t has no field for are not looked at. body is valid JSON:
// Decode has decoded it.
func checkNulls(body []byte, t reflect.Type) error {
	if !bytes.Contains(body, []byte("null")) {
		return nil
	}
	w := nullWalker{dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	tok, err := w.dec.Token()
	if err != nil {
		return decodeError(err)
	}
	return w.value(tok, t, "")
}

type nullWalker struct{ dec *json.Decoder }

func nullError(member, reason string) error {
	return &DecodeError{Member: member, Reason: reason, Err: ErrNullElement}
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// value walks the value that starts with tok, to be decoded into t (nil
// when nothing is decoded from it), at member path.
func (w *nullWalker) value(tok json.Token, t reflect.Type, path string) error {
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar, null included: a null member is absent
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(unmarshalerType) {
		return w.skip() // decoded by its own UnmarshalJSON, or not at all
	}
	switch {
	case d == '{' && t.Kind() == reflect.Struct:
		fields := structFields(t)
		for w.dec.More() {
			key, vtok, err := w.member()
			if err != nil {
				return err
			}
			var ft reflect.Type
			if f := fields.lookup(key); f != nil {
				key, ft = f.name, f.typ
			}
			if err := w.value(vtok, ft, joinMember(path, key)); err != nil {
				return err
			}
		}
	case d == '{' && t.Kind() == reflect.Map:
		for w.dec.More() {
			key, vtok, err := w.member()
			if err != nil {
				return err
			}
			p := joinMember(path, key)
			if vtok == nil {
				return nullError(p, "a map cannot hold null values")
			}
			if err := w.value(vtok, t.Elem(), p); err != nil {
				return err
			}
		}
	case d == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; w.dec.More(); i++ {
			etok, err := w.dec.Token()
			if err != nil {
				return decodeError(err)
			}
			p := path + "[" + strconv.Itoa(i) + "]"
			if etok == nil {
				return nullError(p, "a list cannot hold null elements")
			}
			if err := w.value(etok, t.Elem(), p); err != nil {
				return err
			}
		}
	default:
		return w.skip() // not decoded into a list, map or structure
	}
	if _, err := w.dec.Token(); err != nil { // the closing delimiter
		return decodeError(err)
	}
	return nil
}

// member reads an object member's name and the first token of its value.
func (w *nullWalker) member() (string, json.Token, error) {
	ktok, err := w.dec.Token()
	if err != nil {
		return "", nil, decodeError(err)
	}
	vtok, err := w.dec.Token()
	if err != nil {
		return "", nil, decodeError(err)
	}
	key, _ := ktok.(string)
	return key, vtok, nil
}

// skip reads the rest of the object or array whose opening delimiter was
// the last token read.
func (w *nullWalker) skip() error {
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return decodeError(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

func joinMember(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// field is a member of a wire struct as encoding/json sees it.
type field struct {
	name string // the JSON member name
	typ  reflect.Type
}

type fieldList []field

// lookup finds the field encoding/json decodes member key into: the one
// named exactly key, else the first whose name matches key ignoring case.
func (l fieldList) lookup(key string) *field {
	for i := range l {
		if l[i].name == key {
			return &l[i]
		}
	}
	for i := range l {
		if strings.EqualFold(l[i].name, key) {
			return &l[i]
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type -> fieldList

// structFields lists t's JSON members in field order, with the members of
// embedded structs promoted unless a shallower field has their name.
func structFields(t reflect.Type) fieldList {
	if l, ok := fieldCache.Load(t); ok {
		return l.(fieldList)
	}
	var l fieldList
	var embedded []reflect.Type
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			embedded = append(embedded, ft)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		l = append(l, field{name: name, typ: sf.Type})
		seen[name] = true
	}
	for _, et := range embedded {
		for _, f := range structFields(et) {
			if !seen[f.name] {
				l = append(l, f)
				seen[f.name] = true
			}
		}
	}
	fieldCache.Store(t, l)
	return l
}
