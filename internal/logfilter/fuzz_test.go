package logfilter

import (
	"testing"
)

var fuzzMessages = [][]byte{
	[]byte(`{"eventName": "ConsoleLogin", "a": [1, {"b": null}], "n": 1.5e3, "t": true}`),
	[]byte(`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534`),
	[]byte(`ERROR WARN message`),
	[]byte(``),
}

func addPatternSeeds(f *testing.F) {
	for _, c := range CIS {
		f.Add(c.FilterPattern)
	}
	for _, s := range []string{
		``, `ERROR`, `"ERROR" - "Exiting"`, `?ERROR ?WARN`, `{ $.a[0][1] = "x*" }`, `{ $.a IS NULL || $.b NOT EXISTS && $.c IS TRUE }`,
		`{ $.n >= -1.5e-3 }`, `[ip, user, ..., status_code = 4* && status_code != 403, bytes > 1000]`,
		`[..., request=*.html*, status_code=4*,]`, `[w1=ERROR || w1=WARN, w2]`, `{ ((($.a = 1))) }`, `[a = "x, y", b]`,
	} {
		f.Add(s)
	}
}

// FuzzParse: Parse never panics, and a pattern it accepts can be matched,
// extracted and used in a transformation without panicking.
func FuzzParse(f *testing.F) {
	addPatternSeeds(f)
	f.Fuzz(func(t *testing.T, pattern string) {
		flt, err := Parse(pattern)
		if err != nil {
			if flt != nil {
				t.Fatal("a filter with an error")
			}
			return
		}
		for _, m := range fuzzMessages {
			flt.Match(m)
			flt.Extract(m)
		}
		for _, mv := range []string{"1", "$.a", "$1", "$user"} {
			if tr, err := NewTransformation(flt, TransformationSpec{MetricValue: mv}); err == nil {
				for _, m := range fuzzMessages {
					tr.Apply(NewEvent(m))
				}
			}
		}
	})
}

// FuzzMatch: matching any message with any accepted pattern never panics,
// Match agrees with Extract and MatchEvent, and a transformation applies.
func FuzzMatch(f *testing.F) {
	for _, c := range CIS {
		for _, m := range fuzzMessages {
			f.Add(c.FilterPattern, m)
		}
	}
	for _, c := range []struct{ pattern, message string }{
		{`{ $.a[0][1] = "x*" }`, `{"a": [[0, "xy"]]}`},
		{`{ $.n >= -1.5e-3 }`, `{"n": "0"}`},
		{`[ip, user, ..., status_code = 4* && status_code != 403, bytes > 1000]`, `1 - [a b] "c d" 404 2000`},
		{`[..., a = x, ..., b = y, ...]`, `x y x y x y`},
		{`?ERROR ?WARN -DEBUG`, `WARN: x`},
	} {
		f.Add(c.pattern, []byte(c.message))
	}
	f.Fuzz(func(t *testing.T, pattern string, message []byte) {
		flt, err := Parse(pattern)
		if err != nil {
			return
		}
		m := flt.Match(message)
		if _, ok := flt.Extract(message); ok != m {
			t.Fatalf("Match %v and Extract %v disagree", m, ok)
		}
		if flt.MatchEvent(NewEvent(message)) != m {
			t.Fatal("Match and MatchEvent disagree")
		}
		if tr, err := NewTransformation(flt, TransformationSpec{MetricValue: "1"}); err == nil {
			if _, ok := tr.Apply(NewEvent(message)); ok != m {
				t.Fatalf("Apply contributes %v, Match %v", ok, m)
			}
		}
	})
}
