package logfilter

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr(f float64) *float64 { return &f }

func TestTransformationApply(t *testing.T) {
	type result struct {
		E  Emission
		OK bool
	}
	for _, c := range []struct {
		name    string
		pattern string
		spec    TransformationSpec
		message string
		want    result
	}{
		{"literal on match", `ERROR`, TransformationSpec{MetricValue: "1"}, "ERROR x", result{Emission{Value: 1, Matched: true}, true}},
		{"no match, no default", `ERROR`, TransformationSpec{MetricValue: "1"}, "INFO x", result{}},
		{"no match, default", `ERROR`, TransformationSpec{MetricValue: "1", DefaultValue: ptr(0)}, "INFO x", result{Emission{Value: 0}, true}},
		{"decimal literal", `ERROR`, TransformationSpec{MetricValue: "2.5"}, "ERROR", result{Emission{Value: 2.5, Matched: true}, true}},
		// FilterAndPatternSyntax, "Publishing Numerical Values Found in Log
		// Entries": { $.latency = * } with metricValue $.latency.
		{"JSON field", `{ $.latency = * }`, TransformationSpec{MetricValue: "$.latency"}, `{"latency": 120.5}`, result{Emission{Value: 120.5, Matched: true}, true}},
		{"JSON numeric string", `{ $.latency = * }`, TransformationSpec{MetricValue: "$.latency"}, `{"latency": "42"}`, result{Emission{Value: 42, Matched: true}, true}},
		{"JSON non-numeric value", `{ $.latency = * }`, TransformationSpec{MetricValue: "$.latency"}, `{"latency": "slow"}`, result{}},
		{"JSON value missing", `{ $.a = 1 }`, TransformationSpec{MetricValue: "$.latency"}, `{"a": 1}`, result{}},
		{"JSON value object", `{ $.a = 1 }`, TransformationSpec{MetricValue: "$.b"}, `{"a": 1, "b": {"c": 1}}`, result{}},
		{"JSON nested value", `{ $.a = 1 }`, TransformationSpec{MetricValue: "$.b[1].c"}, `{"a": 1, "b": [{}, {"c": 7}]}`, result{Emission{Value: 7, Matched: true}, true}},
		{"JSON dimensions", `{ $.eventName = * }`, TransformationSpec{MetricValue: "1", Dimensions: map[string]string{"EventName": "$.eventName", "Code": "$.code"}},
			`{"eventName": "StopLogging", "code": 403}`, result{Emission{Value: 1, Matched: true, Dimensions: map[string]string{"EventName": "StopLogging", "Code": "403"}}, true}},
		{"JSON dimension missing", `{ $.eventName = * }`, TransformationSpec{MetricValue: "1", Dimensions: map[string]string{"User": "$.user"}}, `{"eventName": "x"}`, result{}},
		{"JSON non-object with default", `{ $.a = 1 }`, TransformationSpec{MetricValue: "1", DefaultValue: ptr(0)}, `plain text`, result{Emission{Value: 0}, true}},
		// FilterAndPatternSyntax, space-delimited: the bytes field.
		{"space field by name", `[ip, user, username, timestamp, request, status_code = 404, bytes]`, TransformationSpec{MetricValue: "$bytes"},
			`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a HTTP/1.0" 404 1534`, result{Emission{Value: 1534, Matched: true}, true}},
		{"space field by number", `[..., status_code = 404, bytes]`, TransformationSpec{MetricValue: "$7", Dimensions: map[string]string{"User": "$3", "Status": "$status_code"}},
			`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a HTTP/1.0" 404 1534`, result{Emission{Value: 1534, Matched: true, Dimensions: map[string]string{"User": "frank", "Status": "404"}}, true}},
		{"space field not numeric", `[..., status_code = 404, bytes]`, TransformationSpec{MetricValue: "$bytes"},
			`127.0.0.1 - frank [x] "GET /a HTTP/1.0" 404 -`, result{}},
		{"space field number out of range", `[..., status_code = 404, bytes]`, TransformationSpec{MetricValue: "$9"},
			`a 404 12`, result{}},
		{"space no match with default", `[..., status_code = 404, bytes]`, TransformationSpec{MetricValue: "$bytes", DefaultValue: ptr(-1)},
			`a 200 12`, result{Emission{Value: -1}, true}},
		{"all pattern", ``, TransformationSpec{MetricValue: "1"}, `anything`, result{Emission{Value: 1, Matched: true}, true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, err := NewTransformation(MustParse(c.pattern), c.spec)
			if err != nil {
				t.Fatal(err)
			}
			e, ok := tr.Apply(NewEvent([]byte(c.message)))
			if diff := cmp.Diff(c.want, result{e, ok}); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
		})
	}
}

// FilterAndPatternSyntax, "Setting How the Metric Value Changes When Matches
// Are Found": two events a minute, metric value 1, default 0; both match in
// the first minute (2), none in the second (0).
func TestTransformationDefaultValueDocExample(t *testing.T) {
	tr, err := NewTransformation(MustParse(`ERROR`), TransformationSpec{MetricValue: "1", DefaultValue: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	minute := func(msgs ...string) (sum float64, n int) {
		for _, m := range msgs {
			if e, ok := tr.Apply(NewEvent([]byte(m))); ok {
				sum += e.Value
				n++
			}
		}
		return sum, n
	}
	if sum, n := minute("ERROR a", "ERROR b"); sum != 2 || n != 2 {
		t.Errorf("first minute: sum %v over %d contributions, want 2 over 2", sum, n)
	}
	if sum, n := minute("INFO a", "INFO b"); sum != 0 || n != 2 {
		t.Errorf("second minute: sum %v over %d contributions, want 0 over 2", sum, n)
	}
}

func TestNewTransformationErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		pattern string
		spec    TransformationSpec
		field   string
		msg     string
	}{
		{"empty value", `ERROR`, TransformationSpec{}, "metricValue", "required"},
		{"long value", `{ $.a = 1 }`, TransformationSpec{MetricValue: "$." + strings.Repeat("a", 99)}, "metricValue", "longer than 100"},
		{"field on terms", `ERROR`, TransformationSpec{MetricValue: "$.a"}, "metricValue", "JSON or space-delimited"},
		{"word", `{ $.a = 1 }`, TransformationSpec{MetricValue: "one"}, "metricValue", "neither a number nor a JSON selector"},
		{"bad selector", `{ $.a = 1 }`, TransformationSpec{MetricValue: "$.a b"}, "metricValue", "not a valid JSON selector"},
		{"space unknown field", `[a, b]`, TransformationSpec{MetricValue: "$c"}, "metricValue", "names no field"},
		{"space field zero", `[a, b]`, TransformationSpec{MetricValue: "$0"}, "metricValue", "names no field"},
		{"space JSON selector", `[a, b]`, TransformationSpec{MetricValue: "$.a"}, "metricValue", "names no field"},
		{"space bare name", `[a, b]`, TransformationSpec{MetricValue: "a"}, "metricValue", "field reference"},
		{"four dimensions", `{ $.a = 1 }`, TransformationSpec{MetricValue: "1", Dimensions: map[string]string{"a": "$.a", "b": "$.b", "c": "$.c", "d": "$.d"}}, "dimensions", "at most 3"},
		{"dimension not a selector", `{ $.a = 1 }`, TransformationSpec{MetricValue: "1", Dimensions: map[string]string{"a": "a"}}, "dimensions", "JSON selector"},
		{"empty dimension name", `{ $.a = 1 }`, TransformationSpec{MetricValue: "1", Dimensions: map[string]string{"": "$.a"}}, "dimensions", "1 to 255"},
		{"default with dimensions", `{ $.a = 1 }`, TransformationSpec{MetricValue: "1", DefaultValue: ptr(0), Dimensions: map[string]string{"a": "$.a"}}, "defaultValue", "cannot be set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewTransformation(MustParse(c.pattern), c.spec)
			var te *Error
			if !errors.As(err, &te) || !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("error %v, want an *Error", err)
			}
			if te.Field != c.field || te.Pos != -1 || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q (field %s), want field %s saying %q", err, te.Field, c.field, c.msg)
			}
		})
	}
}

// Several filters over one event decode it once and agree with Match.
func TestEventShared(t *testing.T) {
	ev := NewEvent([]byte(`{"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com"}`))
	for _, c := range CIS {
		f := MustParse(c.FilterPattern)
		if got, want := f.MatchEvent(ev), f.Match(ev.Message); got != want {
			t.Errorf("%s: MatchEvent %v, Match %v", c.ID, got, want)
		}
	}
	if !MustParse(CIS[4].FilterPattern).MatchEvent(ev) {
		t.Error("4.5 did not match StopLogging")
	}
}
