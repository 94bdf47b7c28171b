package logfilter

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxDimensions is the most dimensions a metric transformation may have.
const MaxDimensions = 3

// TransformationSpec is the part of PutMetricFilter's metricTransformations
// that decides what a log event contributes to the metric.
type TransformationSpec struct {
	// MetricValue is a number ("1"), a JSON selector ("$.latency") for a
	// JSON pattern, or a field reference ("$bytes", "$7") for a
	// space-delimited pattern.
	MetricValue string
	// DefaultValue, when set, is what a non-matching event contributes.
	DefaultValue *float64
	// Dimensions maps a dimension name to a JSON selector or field
	// reference, as MetricValue.
	Dimensions map[string]string
}

// Transformation is a compiled metric transformation. It is immutable and
// safe for concurrent use.
type Transformation struct {
	filter       *Filter
	literal      float64
	isLiteral    bool
	valueSel     selector // JSON
	valueRef     string   // space-delimited
	defaultValue *float64
	dims         []dimension
}

type dimension struct {
	name string
	sel  selector
	ref  string
}

// Emission is what one event contributes to a metric.
type Emission struct {
	// Value is added to the metric's sum for the minute.
	Value float64
	// Dimensions are the dimension values; nil when the transformation
	// has none.
	Dimensions map[string]string
	// Matched is false for a defaultValue contribution.
	Matched bool
}

// NewTransformation compiles spec against the filter it belongs to. Errors
// are *[Error].
func NewTransformation(f *Filter, spec TransformationSpec) (*Transformation, error) {
	t := &Transformation{filter: f, defaultValue: spec.DefaultValue}
	mv := spec.MetricValue
	switch {
	case mv == "":
		return nil, &Error{Field: "metricValue", Pos: -1, Msg: "metricValue is required"}
	case len(mv) > 100:
		return nil, &Error{Field: "metricValue", Pos: -1, Msg: "metricValue is longer than 100 characters"}
	}
	if n, ok := parseNumber(mv); ok {
		t.literal, t.isLiteral = n, true
	} else {
		sel, ref, err := f.reference("metricValue", mv)
		if err != nil {
			return nil, err
		}
		t.valueSel, t.valueRef = sel, ref
	}
	if len(spec.Dimensions) > MaxDimensions {
		return nil, &Error{Field: "dimensions", Pos: -1, Msg: fmt.Sprintf("at most %d dimensions are allowed, got %d", MaxDimensions, len(spec.Dimensions))}
	}
	if len(spec.Dimensions) > 0 && spec.DefaultValue != nil {
		return nil, &Error{Field: "defaultValue", Pos: -1, Msg: "a defaultValue cannot be set on a transformation with dimensions"}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Dimensions)) {
		if name == "" || len(name) > 255 {
			return nil, &Error{Field: "dimensions", Pos: -1, Msg: "dimension names are 1 to 255 characters"}
		}
		sel, ref, err := f.reference("dimensions", spec.Dimensions[name])
		if err != nil {
			return nil, err
		}
		t.dims = append(t.dims, dimension{name: name, sel: sel, ref: ref})
	}
	return t, nil
}

// reference compiles a `$.selector` (JSON patterns) or `$name` / `$N`
// (space-delimited patterns).
func (f *Filter) reference(field, ref string) (selector, string, *Error) {
	switch f.kind {
	case KindJSON:
		if !strings.HasPrefix(ref, "$.") {
			return nil, "", &Error{Field: field, Pos: -1, Msg: fmt.Sprintf("%q is neither a number nor a JSON selector such as $.latency", ref)}
		}
		p := &jsonParser{s: ref}
		sel, err := p.selector()
		if err != nil || p.i != len(ref) {
			return nil, "", &Error{Field: field, Pos: -1, Msg: fmt.Sprintf("%q is not a valid JSON selector", ref)}
		}
		return sel, "", nil
	case KindSpaceDelimited:
		name, ok := strings.CutPrefix(ref, "$")
		if !ok || name == "" {
			return nil, "", &Error{Field: field, Pos: -1, Msg: fmt.Sprintf("%q is neither a number nor a field reference such as $bytes", ref)}
		}
		if _, named := f.space.names[name]; !named {
			if n, ok := parseNumber(name); !ok || n < 1 || strings.ContainsAny(name, ".eE+-") {
				return nil, "", &Error{Field: field, Pos: -1, Msg: fmt.Sprintf("%q names no field of the pattern", ref)}
			}
		}
		return nil, name, nil
	}
	return nil, "", &Error{Field: field, Pos: -1, Msg: fmt.Sprintf("%q is not a number; field values need a JSON or space-delimited filter pattern", ref)}
}

// Filter returns the filter the transformation belongs to.
func (t *Transformation) Filter() *Filter { return t.filter }

// Apply returns what ev contributes to the metric. ok is false when it
// contributes nothing: it does not match and there is no defaultValue, or
// it matches but the metric value is not a number or a dimension's field is
// missing.
func (t *Transformation) Apply(ev *Event) (e Emission, ok bool) {
	f := t.filter
	switch f.kind {
	case KindJSON:
		doc, isObj := ev.object()
		if !isObj || !f.json.eval(doc) {
			return t.fallback()
		}
		e = Emission{Value: t.literal, Matched: true}
		if !t.isLiteral {
			v, found := t.valueSel.lookup(doc)
			sc, isScalar := jsonScalar(v)
			if !found || !isScalar || !sc.isNum {
				return Emission{}, false
			}
			e.Value = sc.num
		}
		for _, d := range t.dims {
			v, found := d.sel.lookup(doc)
			sc, isScalar := jsonScalar(v)
			if !found || !isScalar {
				return Emission{}, false
			}
			e.setDim(d.name, sc.text)
		}
		return e, true
	case KindSpaceDelimited:
		fields := ev.spaceFields()
		b, matched := f.space.match(fields)
		if !matched {
			return t.fallback()
		}
		e = Emission{Value: t.literal, Matched: true}
		if !t.isLiteral {
			v, found := f.space.field(t.valueRef, fields, b)
			n, isNum := parseNumber(v)
			if !found || !isNum {
				return Emission{}, false
			}
			e.Value = n
		}
		for _, d := range t.dims {
			v, found := f.space.field(d.ref, fields, b)
			if !found {
				return Emission{}, false
			}
			e.setDim(d.name, v)
		}
		return e, true
	}
	if !f.MatchEvent(ev) {
		return t.fallback()
	}
	return Emission{Value: t.literal, Matched: true}, true
}

func (e *Emission) setDim(name, value string) {
	if e.Dimensions == nil {
		e.Dimensions = map[string]string{}
	}
	e.Dimensions[name] = value
}

func (t *Transformation) fallback() (Emission, bool) {
	if t.defaultValue == nil {
		return Emission{}, false
	}
	return Emission{Value: *t.defaultValue}, true
}
