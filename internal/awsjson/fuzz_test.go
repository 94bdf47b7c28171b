package awsjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
		"CloudTrail_20131101.ListTrails", "", ".", "CloudTrail_20131101.", "a.b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		op, err := ParseTarget(h)
		if err != nil {
			if !errors.Is(err, ErrBadTarget) || op != "" {
				t.Fatalf("ParseTarget(%q) = %q, %v", h, op, err)
			}
			return
		}
		// Round trip: the op formats back to a target naming it, and the
		// input was one of the two forms of exactly that target.
		if h != FormatTarget(op) && h != ShortTargetPrefix+"."+op {
			t.Fatalf("ParseTarget(%q) = %q, which is not what the header says", h, op)
		}
		if got, err := ParseTarget(FormatTarget(op)); err != nil || got != op {
			t.Fatalf("ParseTarget(FormatTarget(%q)) = %q, %v", op, got, err)
		}
	})
}

func FuzzTimeUnmarshal(f *testing.F) {
	for _, s := range []string{"1704067200", "1704067200.123", "1.5e9", "-0.5", `"x"`, "null", "1e999", "0.0000000001", "-62135596800"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v Time
		if err := v.UnmarshalJSON([]byte(s)); err != nil || s == "null" {
			return
		}
		// Anything we accept must be a valid JSON number that
		// encoding/json agrees is one.
		var f64 float64
		if err := json.Unmarshal([]byte(s), &f64); err != nil {
			t.Fatalf("accepted %q, which encoding/json rejects: %v", s, err)
		}
		// Print then parse: identical at millisecond precision, and the
		// printed form is a fixed point.
		out, err := v.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Time
		if err := back.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-parse of %s (from %q): %v", out, s, err)
		}
		if want := v.Truncate(time.Millisecond); !back.Equal(want) {
			t.Fatalf("%q -> %v -> %s -> %v, want %v", s, v.Time, out, back.Time, want)
		}
		out2, _ := back.MarshalJSON()
		if string(out2) != string(out) {
			t.Fatalf("print not stable: %s then %s", out, out2)
		}
		// The float reading agrees to within float64 precision.
		if d := float64(v.Unix()) + float64(v.Nanosecond())/1e9 - f64; d > 1e-3 || d < -1e-3 {
			if f64 > -1e11 && f64 < 1e11 {
				t.Fatalf("%q parsed as %v, float says %v", s, v.Time, f64)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "{}", "null", `{"MaxResults":5}`, `{"StartTime":1704067200.25,"IsLogging":false}`,
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"X"},null]}`,
		`{"Tags":{"a":"b"},"Ratio":0.5}`, `{"MaxResults":"5"}`, `[1]`, `{"a":1} x`,
		`{"Selectors":[{"FieldList":["a",null],"Times":[null]}],"Extra":[null],"Tags":{"a":null}}`,
		`{"selectors":[{"fieldlist":[]},null],"Unknown":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v sampleInput
		err := Decode(body, &v)
		if errors.Is(err, ErrNullElement) {
			// Refused for a null only: the body decodes otherwise.
			if err := json.Unmarshal(body, new(sampleInput)); err != nil {
				t.Fatalf("Decode refused a null element of %q, which does not decode: %v", body, err)
			}
			return
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode error %v is %T, want *DecodeError", err, err)
			}
			return
		}
		// No null element got through: decoded with pointer elements,
		// which encoding/json leaves nil for a null, the body has none.
		var shadow sampleInputPtrs
		if err := json.Unmarshal(body, &shadow); err == nil {
			if p := nilElement(reflect.ValueOf(shadow), ""); p != "" {
				t.Fatalf("Decode accepted %q, which has a null element at %s", body, p)
			}
		}
		// Round trip: encode what we decoded and decode it again (empty
		// and absent lists and maps are the same to the API).
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back sampleInput
		if err := Decode(enc, &back); err != nil {
			t.Fatalf("Decode(Marshal(v)) = %v\n%s", err, enc)
		}
		if v.StartTime != nil {
			// Marshal keeps milliseconds only.
			v.StartTime = &Time{v.StartTime.Truncate(time.Millisecond)}
		}
		if diff := cmp.Diff(v, back, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b Time) bool { return a.Equal(b.Time) })); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s\nencoded: %s", diff, enc)
		}
	})
}

// sampleInputPtrs is sampleInput with pointer list elements and map
// values, so that a null element decodes as nil.
type sampleInputPtrs struct {
	LookupAttributes []*sampleAttr
	StartTime        *Time
	MaxResults       *int64
	IsLogging        *bool
	Tags             map[string]*string
	Ratio            *float64
	Selectors        []*struct {
		Name   *string
		Fields []*string `json:"FieldList"`
		Times  []*Time
	}
	Extra []*string
}

// nilElement returns the path of a nil list element or map value in v, or "".
func nilElement(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return nilElement(v.Elem(), path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if p := nilElement(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if e := v.Index(i); e.Kind() == reflect.Pointer && e.IsNil() {
				return fmt.Sprintf("%s[%d]", path, i)
			} else if p := nilElement(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if e := it.Value(); e.Kind() == reflect.Pointer && e.IsNil() {
				return path + "." + it.Key().String()
			}
		}
	}
	return ""
}
