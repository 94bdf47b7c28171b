package awsquery

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrMalformed is wrapped by every error about a request that breaks the
// query protocol's rules: a bad percent-encoding, a member given twice, a
// list or map numbered with gaps, a map entry without its key. The client
// sent something no SDK sends; answer with a client error (SNS:
// InvalidParameter, 400) carrying the [*Error]'s message, and do not retry.
var ErrMalformed = errors.New("awsquery: malformed request")

// Error is a malformed request. Message is worded for the client.
type Error struct {
	// Name is the parameter at fault, "" when the request as a whole is.
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns [ErrMalformed].
func (e *Error) Unwrap() error { return ErrMalformed }

func malformed(name, format string, args ...any) *Error {
	return &Error{Name: name, Message: fmt.Sprintf(format, args...)}
}

// Limits of [Parse].
const (
	// MaxParams bounds the parameters of one request.
	MaxParams = 10000
	// MaxNameBytes bounds a parameter's name.
	MaxNameBytes = 512
)

// Request is a decoded query-protocol request.
type Request struct {
	// Action and Version are the parameters of those names; "" when
	// absent.
	Action, Version string
	// Form holds every other parameter.
	Form Form
}

// Form is a request's members: dotted parameter names (Attributes.entry.1.key)
// to values. The accessors check the shapes the names encode.
type Form map[string]string

// Parse decodes a form-encoded body or a URL's raw query string. Pairs are
// separated by '&'; '+' is a space; empty pairs are skipped. A name given
// twice, an empty name, a bad percent-encoding, more than [MaxParams]
// parameters or a name over [MaxNameBytes] is an [*Error].
func Parse(raw string) (Request, error) {
	req := Request{Form: Form{}}
	n := 0
	seen := map[string]bool{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if n++; n > MaxParams {
			return Request{}, malformed("", "The request has more than %d parameters.", MaxParams)
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return Request{}, malformed("", "Parameter name %q has an invalid percent-encoding.", truncate(k))
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			return Request{}, malformed(name, "The value of parameter %s has an invalid percent-encoding.", truncate(name))
		}
		switch {
		case name == "":
			return Request{}, malformed("", "The request has a parameter without a name.")
		case len(name) > MaxNameBytes:
			return Request{}, malformed("", "Parameter name %q is longer than %d bytes.", truncate(name), MaxNameBytes)
		case seen[name]:
			return Request{}, malformed(name, "Parameter %s is given more than once.", name)
		}
		seen[name] = true
		switch name {
		case "Action":
			req.Action = value
		case "Version":
			req.Version = value
		default:
			req.Form[name] = value
		}
	}
	return req, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Encode is the form encoding of r, parameters sorted by name (Action and
// Version first): what [Parse] reads back as r.
func (r Request) Encode() string {
	var b strings.Builder
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	if r.Action != "" {
		add("Action", r.Action)
	}
	if r.Version != "" {
		add("Version", r.Version)
	}
	keys := make([]string, 0, len(r.Form))
	for k := range r.Form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		add(k, r.Form[k])
	}
	return b.String()
}

// String returns the scalar member name.
func (f Form) String(name string) (string, bool) {
	v, ok := f[name]
	return v, ok
}

// Sub returns the members of the nested structure name, their names
// without the "name." prefix. It is empty (not nil) when there are none.
func (f Form) Sub(name string) Form {
	out := Form{}
	prefix := name + "."
	for k, v := range f {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// Has reports whether the form holds member name, as a scalar or as a
// list, map or structure.
func (f Form) Has(name string) bool {
	if _, ok := f[name]; ok {
		return true
	}
	prefix := name + "."
	for k := range f {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// items collects name.kind.N[.rest] into one Form per N (rest as the
// key, "" for a scalar item), in order, checking that N counts from 1
// without gaps.
func (f Form) items(name, kind string) ([]Form, error) {
	prefix := name + "." + kind + "."
	byN := map[int]Form{}
	for k, v := range f {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			if k == name+"."+kind {
				return nil, malformed(name, "Parameter %s has no %s number.", k, kind)
			}
			continue
		}
		num, field, _ := strings.Cut(rest, ".")
		n, ok := index(num)
		if !ok || n > len(f) {
			return nil, malformed(name, "Parameter %s: %q is not a valid %s number.", k, num, kind)
		}
		if byN[n] == nil {
			byN[n] = Form{}
		}
		byN[n][field] = v
	}
	if len(byN) == 0 {
		return nil, nil
	}
	out := make([]Form, len(byN))
	for n, item := range byN {
		if n > len(byN) {
			return nil, malformed(name, "Parameter %s: %s %d is given but not all of 1 to %d are; number them from 1 without gaps.",
				name, kind, n, n)
		}
		out[n-1] = item
	}
	return out, nil
}

// index parses a 1-based item number: decimal digits without a leading
// zero.
func index(s string) (int, bool) {
	if s == "" || s[0] == '0' || len(s) > 6 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	return n, true
}

// Members returns the list of scalars name.member.N; nil when absent.
func (f Form) Members(name string) ([]string, error) {
	items, err := f.items(name, "member")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		v, ok := it[""]
		if !ok || len(it) != 1 {
			return nil, malformed(name, "Parameter %s.member.%d must be a single value.", name, i+1)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// Structs returns the list of structures name.member.N.Field; nil when
// absent.
func (f Form) Structs(name string) ([]Form, error) {
	items, err := f.items(name, "member")
	if err != nil {
		return nil, err
	}
	for i, it := range items {
		if _, ok := it[""]; ok {
			return nil, malformed(name, "Parameter %s.member.%d must be a structure, not a single value.", name, i+1)
		}
	}
	return items, nil
}

// Map returns the string map name.entry.N.key / name.entry.N.value; nil
// when absent. An entry without a key, or a key given twice, is an
// [*Error]; an entry without a value maps its key to "".
func (f Form) Map(name string) (map[string]string, error) {
	sm, err := f.StructMap(name, "key", "value")
	if err != nil {
		return nil, err
	}
	if sm == nil {
		return nil, nil
	}
	out := make(map[string]string, len(sm))
	for k, v := range sm {
		s, ok := v[""]
		if len(v) > 1 || len(v) == 1 && !ok {
			return nil, malformed(name, "Parameter %s: the value of key %q must be a single value.", name, k)
		}
		out[k] = s
	}
	return out, nil
}

// StructMap returns the map name.entry.N.<keyField> / name.entry.N.<valueField>[.Field]
// with each value as a Form ("" holds a scalar value); nil when absent.
// SNS message attributes are StructMap("MessageAttributes", "Name", "Value").
func (f Form) StructMap(name, keyField, valueField string) (map[string]Form, error) {
	items, err := f.items(name, "entry")
	if err != nil {
		return nil, err
	}
	if items == nil {
		return nil, nil
	}
	out := make(map[string]Form, len(items))
	for i, it := range items {
		key, ok := it[keyField]
		if !ok {
			return nil, malformed(name, "Parameter %s.entry.%d has no %s.", name, i+1, keyField)
		}
		if _, dup := out[key]; dup {
			return nil, malformed(name, "Parameter %s: key %q is given more than once.", name, key)
		}
		val := Form{}
		for k, v := range it {
			switch {
			case k == keyField:
			case k == valueField:
				val[""] = v
			case strings.HasPrefix(k, valueField+"."):
				val[k[len(valueField)+1:]] = v
			default:
				return nil, malformed(name, "Parameter %s.entry.%d.%s is not part of a map entry (want %s and %s).",
					name, i+1, k, keyField, valueField)
			}
		}
		out[key] = val
	}
	return out, nil
}
