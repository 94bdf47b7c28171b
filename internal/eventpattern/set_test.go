package eventpattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// naiveValues collects the leaves at path in a decoded event, flattening
// arrays; inArray reports whether one of them lies inside an array of
// containers (where the per-element rule applies).
func naiveValues(v any, path []string, inArray bool) (vals []value, crossed bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 0 {
			return nil, false
		}
		child, ok := x[path[0]]
		if !ok {
			return nil, false
		}
		return naiveValues(child, path[1:], inArray)
	case []any:
		for _, e := range x {
			_, container := e.(map[string]any)
			if _, arr := e.([]any); arr {
				container = true
			}
			vs, c := naiveValues(e, path, inArray || container)
			vals = append(vals, vs...)
			crossed = crossed || c
		}
		return vals, crossed
	}
	if len(path) != 0 {
		return nil, false
	}
	var val value
	switch x := v.(type) {
	case string:
		val = value{kind: vString, s: x}
	case json.Number:
		val = value{kind: vNumber, s: string(x)}
	case bool:
		val = value{kind: vFalse, s: "false"}
		if x {
			val = value{kind: vTrue, s: "true"}
		}
	case nil:
		val = value{kind: vNull, s: "null"}
	}
	return []value{val}, inArray
}

// naiveMatch evaluates a pattern on a decoded event without any index and
// without the per-element rule; exact is false when the answer might
// depend on that rule.
func naiveMatch(p *Pattern, ev any) (match, exact bool) {
	exact = true
	for _, b := range p.branches {
		all := true
		for _, c := range b {
			vals, crossed := naiveValues(ev, c.path, false)
			if crossed {
				exact = false
			}
			ok := false
			for _, m := range c.ms {
				if m.kind == mAbsent {
					// Values inside arrays of objects may lie in other
					// elements than the rest of the branch's.
					ok = ok || len(vals) == 0 || crossed
					continue
				}
				for i := range vals {
					ok = ok || m.match(&vals[i])
				}
			}
			if !ok {
				all = false
			}
		}
		if all {
			match = true
		}
	}
	return match, exact
}

// TestSetAgainstNaive checks the compiled set (one pass over the event,
// index, per-element search) against a direct evaluation of each pattern,
// on every real event and a thousand rules.
func TestSetAgainstNaive(t *testing.T) {
	events := corpus(t)
	rules := benchRules(t, events, 1000)
	for id, text := range cloudTrailRules {
		rules[id] = text
	}
	s := NewSet()
	patterns := map[string]*Pattern{}
	for id, text := range rules {
		p := mustParse(t, text)
		patterns[id] = p
		s.Add(id, p)
	}
	ids := make([]string, 0, len(patterns))
	for id := range patterns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	total, inexact := 0, 0
	for _, ev := range events {
		got, err := s.Match(ev)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(ev))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			want, exact := naiveMatch(patterns[id], doc)
			has := slices.Contains(got, id)
			if !exact {
				inexact++
				if has && !want {
					t.Errorf("rule %s matched event %.200s, which even the naive evaluation rejects", id, ev)
				}
				continue
			}
			if has != want {
				t.Errorf("rule %s: set says %v, naive evaluation %v, event %.300s", id, has, want, ev)
			}
		}
		total += len(got)
	}
	if total < len(events) {
		t.Errorf("only %d matches over %d events: the rules do not exercise the set", total, len(events))
	}
	t.Logf("%d matches; %d (rule, event) pairs left to the per-element rule", total, inexact)
}

func TestSetAddRemove(t *testing.T) {
	ev := []byte(`{"source":"aws.iam","detail":{"eventName":"CreateUser"}}`)
	s := NewSet()
	match := func() []string {
		t.Helper()
		ids, err := s.Match(ev)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := match(); got != nil {
		t.Fatalf("empty set matched %v", got)
	}
	s.Add("b", mustParse(t, `{"source":["aws.iam"]}`))
	s.Add("a", mustParse(t, `{"detail":{"eventName":[{"prefix":"Create"}]}}`))
	s.Add("c", mustParse(t, `{"source":["aws.s3"]}`))
	if diff := cmp.Diff([]string{"a", "b"}, match()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	s.Add("c", mustParse(t, `{"source":[{"suffix":"iam"}]}`)) // replaces c
	if diff := cmp.Diff([]string{"a", "b", "c"}, match()); diff != "" {
		t.Errorf("after replacing c (-want +got):\n%s", diff)
	}
	s.Remove("b")
	s.Remove("nope")
	if diff := cmp.Diff([]string{"a", "c"}, match()); diff != "" {
		t.Errorf("after removing b (-want +got):\n%s", diff)
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2", s.Len())
	}
	var zero Set
	zero.Add("x", mustParse(t, `{"source":["aws.iam"]}`))
	if ids, err := zero.Match(ev); err != nil || len(ids) != 1 {
		t.Errorf("zero Set: %v, %v", ids, err)
	}
}

// TestSetSharedIndexKeys covers branches that share index keys, rules of
// several branches, and a branch listing a key twice.
func TestSetSharedIndexKeys(t *testing.T) {
	s := NewSet()
	s.Add("dup", mustParse(t, `{"a":["x","x",{"prefix":"x"}]}`))
	s.Add("or", mustParse(t, `{"$or":[{"a":["x"]},{"b":["y"]},{"a":[{"prefix":"x"}]}]}`))
	s.Add("pre", mustParse(t, `{"a":[{"prefix":"x"},{"prefix":"xx"},{"suffix":"x"}]}`))
	s.Add("none", mustParse(t, `{"a":["z"]}`))
	for ev, want := range map[string][]string{
		`{"a":"x"}`:        {"dup", "or", "pre"},
		`{"a":"xx"}`:       {"dup", "or", "pre"},
		`{"a":["q","xz"]}`: {"dup", "or", "pre"},
		`{"b":"y"}`:        {"or"},
		`{"a":"yx"}`:       {"pre"},
		`{"a":"z"}`:        {"none"},
		`{"a":5}`:          nil,
	} {
		got, err := s.Match([]byte(ev))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event %s (-want +got):\n%s", ev, diff)
		}
	}
}

// TestSetWildcardIndex covers wildcards indexed by their literal start or
// end, which narrows the candidates but does not prove the match.
func TestSetWildcardIndex(t *testing.T) {
	s := NewSet()
	s.Add("start", mustParse(t, `{"a":[{"wildcard":"ab*cd"}]}`))
	s.Add("end", mustParse(t, `{"a":[{"wildcard":"*yz"}],"b":["1"]}`))
	s.Add("literal", mustParse(t, `{"a":[{"wildcard":"abc"}]}`))
	s.Add("inside", mustParse(t, `{"a":[{"wildcard":"*x*"}]}`))
	s.Add("mixed", mustParse(t, `{"a":["q",{"wildcard":"q*r"}]}`))
	for ev, want := range map[string][]string{
		`{"a":"abXcd"}`:        {"start"},
		`{"a":"abXX"}`:         nil,
		`{"a":"abc"}`:          {"literal"},
		`{"a":"xyz","b":"1"}`:  {"end", "inside"},
		`{"a":"xyz","b":"2"}`:  {"inside"},
		`{"a":"q"}`:            {"mixed"},
		`{"a":"qzr"}`:          {"mixed"},
		`{"a":"qzz"}`:          nil,
		`{"a":["qzz","abcd"]}`: {"start"},
	} {
		got, err := s.Match([]byte(ev))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event %s (-want +got):\n%s", ev, diff)
		}
	}
}

// TestSetConcurrent runs matches while rules come and go (run with -race).
func TestSetConcurrent(t *testing.T) {
	s := NewSet()
	s.Add("fixed", mustParse(t, `{"source":["aws.iam"]}`))
	ev := []byte(`{"source":"aws.iam","detail":{"eventName":"CreateUser"}}`)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				ids, err := s.Match(ev)
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Contains(ids, "fixed") {
					t.Errorf("goroutine %d, round %d: %v lacks the fixed rule", g, i, ids)
					return
				}
			}
		}()
	}
	for i := range 100 {
		id := fmt.Sprintf("r%d", i%7)
		if i%3 == 0 {
			s.Remove(id)
		} else {
			s.Add(id, mustParse(t, `{"detail":{"eventName":[{"prefix":"Create"}]}}`))
		}
	}
	wg.Wait()
}

// TestSearchBounded covers events and patterns that would make a naive
// per-element search exponential: many conditions over arrays where the
// last one fails.
func TestSearchBounded(t *testing.T) {
	var pat, ev strings.Builder
	// 12 conditions on 12 arrays of 10 objects each, and a failing one.
	pat.WriteString(`{`)
	ev.WriteString(`{`)
	for i := range 12 {
		fmt.Fprintf(&pat, `"a%d":{"x":[1]},`, i)
		fmt.Fprintf(&ev, `"a%d":[`, i)
		for j := range 10 {
			if j > 0 {
				ev.WriteString(",")
			}
			ev.WriteString(`{"x":1}`)
		}
		ev.WriteString(`],`)
	}
	pat.WriteString(`"a0x":{"y":[{"exists":false}]}}`)
	ev.WriteString(`"a0x":[{"y":1}]}`)
	p := mustParse(t, pat.String())
	got, err := p.Match([]byte(ev.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got {
		t.Errorf("matched, want no match")
	}

	// The same without the field that must be absent matches.
	got, err = p.Match([]byte(strings.Replace(ev.String(), `"a0x":[{"y":1}]`, `"a0x":[{"w":1}]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Errorf("no match, want a match")
	}

	// A scalar array and repeated conditions on it (through $or).
	scalar := `{"r":["a","b","c","d","e","f","g","h"],"o":[{"k":1},{"k":2}]}`
	// Nested $or put ten conditions on r in every branch, and o.k fails.
	or := `{"r":[{"exists":true}],"o":{"k":[3]}}`
	for range 9 {
		or = `{"r":[{"prefix":""}],"$or":[` + or + `,{"r":["zz"]}]}`
	}
	p = mustParse(t, or)
	if got, err := p.Match([]byte(scalar)); err != nil || got {
		t.Errorf("Match = %v, %v; want false", got, err)
	}
}
