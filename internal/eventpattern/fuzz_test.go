package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func addPatternSeeds(f *testing.F) {
	for _, c := range docCases {
		f.Add(c.pattern)
	}
	for _, c := range ownCases {
		f.Add(c.pattern)
	}
	for _, p := range cloudTrailRules {
		f.Add(p)
	}
}

// FuzzParse checks that Parse never panics, that what it rejects is an
// *Error, and that what it accepts matches the same through a Set.
func FuzzParse(f *testing.F) {
	addPatternSeeds(f)
	f.Add(`{"a":[{"numeric":[">",1,"<",2,"<"]}]}`)
	f.Add(`{"$or":[{"$or":[{"a":["1"]},{"b":["2"]}]},{"c":[{"exists":false}]}]}`)
	events := []string{rulerEvent, ec2Event, employeesEvent, `{"a":"x","b":[1,{"c":null}]}`}
	f.Fuzz(func(t *testing.T, pattern string) {
		p, err := Parse([]byte(pattern))
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("Parse error %v is not an *Error", err)
			}
			return
		}
		if p.String() != pattern {
			t.Fatalf("String() = %q, want the input", p.String())
		}
		s := NewSet()
		s.Add("p", p)
		for _, ev := range events {
			one, err := p.Match([]byte(ev))
			if err != nil {
				t.Fatal(err)
			}
			ids, err := s.Match([]byte(ev))
			if err != nil {
				t.Fatal(err)
			}
			if one != (len(ids) == 1) {
				t.Fatalf("Pattern.Match = %v, Set.Match = %v", one, ids)
			}
		}
	})
}

// FuzzMatch checks, for any pattern and event, that matching never
// panics, that the scanner accepts exactly the JSON objects encoding/json
// accepts, and that the set agrees with a naive evaluation.
func FuzzMatch(f *testing.F) {
	for _, c := range append(slices.Clone(docCases), ownCases...) {
		f.Add(c.pattern, c.event)
	}
	f.Add(`{"a":["x"]}`, `{"a":"\ud800","b":[[[{"a":"x"}]]]}`)
	f.Add(`{"a":{"b":["x"],"c":[{"exists":false}]}}`, `{"a":[{"b":"x","c":1},{"b":"x"}]}`)
	f.Add(`{"a":["x"]}`, `{"a":"x","a":"y"}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := Parse([]byte(pattern))
		if err != nil {
			p = mustParse(t, `{"a":[{"exists":true}]}`)
		}
		s := NewSet()
		s.Add("p", p)
		s.Add("q", mustParse(t, `{"a":[{"prefix":"x"}],"b":{"c":[{"anything-but":1}]}}`))
		ids, err := s.Match([]byte(event))
		one, err1 := p.Match([]byte(event))
		var doc any
		dec := json.NewDecoder(bytes.NewReader([]byte(event)))
		dec.UseNumber()
		stdErr := dec.Decode(&doc)
		_, isObject := doc.(map[string]any)
		valid := stdErr == nil && isObject && !dec.More() && json.Valid([]byte(event))
		if (err == nil) != valid || (err1 == nil) != valid {
			t.Fatalf("Set.Match error %v, Pattern.Match error %v; encoding/json valid object: %v", err, err1, valid)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		if one != slices.Contains(ids, "p") {
			t.Fatalf("Pattern.Match = %v, Set.Match = %v", one, ids)
		}
		want, exact := naiveMatch(p, doc)
		if hasDuplicateKeys(event) {
			// The set sees every value of a repeated key (as event-ruler's
			// streaming parser does); encoding/json keeps the last.
			exact = false
			want = want || one
		}
		if exact && want != one {
			t.Fatalf("match = %v, naive evaluation %v", one, want)
		}
		if !exact && one && !want {
			t.Fatalf("matched where even the naive evaluation does not")
		}
	})
}

// FuzzInputTransformer checks that templates never make the transformer
// panic and that a JSON template always gives JSON.
func FuzzInputTransformer(f *testing.F) {
	f.Add(`{"instance" : <instance>, "state": [9, <state>, true], "Transformed" : "Yes"}`, "$.detail.state", transformEvent)
	f.Add(`"instance <instance> is in <state>"`, "$.detail", transformEvent)
	f.Add(`<instance> is in <state>`, "$.resources[*]", transformEvent)
	f.Add(`{"a": "<aws.events.event> <aws.events.event.json>", "b": <aws.events.rule-arn>}`, "$", `{"x":"\"<>\\"}`)
	f.Add(`{"myInstance": <instance>,"myStatus": "<instance> is in state \"<state>\""}`, "$.detail", `{"detail":{"k":["a\"b"]}}`)
	f.Fuzz(func(t *testing.T, template, path, event string) {
		tr, err := NewInputTransformer(map[string]string{"instance": "$.detail.instance-id", "state": path}, template)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *InputError", err)
			}
			return
		}
		out, err := tr.Transform([]byte(event), testRule)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("Transform error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		if tr.isJSON && !json.Valid(out) {
			// A JSON template (JSON with its placeholders filled with null
			// or text) must stay JSON once filled with the event's values.
			t.Fatalf("template %q gave %q, not JSON", template, out)
		}
		if _, err := ApplyInputPath([]byte(event), path); err != nil {
			var ie *InputError
			if !errors.As(err, &ie) && !errors.Is(err, ErrInvalidEvent) && !errors.Is(err, ErrPathNotFound) {
				t.Fatalf("ApplyInputPath error %v", err)
			}
		}
	})
}

// hasDuplicateKeys reports whether an object of a valid JSON document
// repeats a key.
func hasDuplicateKeys(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	type frame struct {
		keys     map[string]bool
		isObject bool
		wantKey  bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.isObject && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, isObject: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ends: the enclosing object wants a key again.
		if len(stack) > 0 && stack[len(stack)-1].isObject {
			stack[len(stack)-1].wantKey = true
		}
	}
}
