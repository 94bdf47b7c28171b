package eventpattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const docTransform = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html"
const docInputTransformerAPI = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_InputTransformer.html"

// transformEvent is the EC2 sample event of eb-transform-target-input.
const transformEvent = `{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}`

var testRule = RuleInfo{
	ARN:           "arn:aws:events:us-east-1:123456789012:rule/example",
	Name:          "example",
	IngestionTime: time.Date(2015, 11, 11, 21, 29, 55, 0, time.UTC),
}

func TestInputTransformer(t *testing.T) {
	paths := map[string]string{"instance": "$.detail.instance-id", "state": "$.detail.state"}
	cases := []struct {
		name, doc string
		paths     map[string]string
		template  string
		event     string
		want      string
	}{
		{"json string", docTransform, paths, `"instance <instance> is in <state>"`, transformEvent,
			`"instance i-0123456789 is in RUNNING"`},
		{"json object", docTransform, paths, `{"instance" : <instance>, "state": [9, <state>, true], "Transformed" : "Yes"}`, transformEvent,
			`{"instance" : "i-0123456789", "state": [9, "RUNNING", true], "Transformed" : "Yes"}`},
		{"text", docTransform, paths, `instance <instance> is in <state>`, transformEvent,
			`instance i-0123456789 is in RUNNING`},
		{"variables in and out of quotes", docInputTransformerAPI, map[string]string{"instance": "$.detail.instance-id", "status": "$.detail.state"},
			`{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}`, transformEvent,
			`{"myInstance": "i-0123456789","myStatus": "i-0123456789 is in state \"RUNNING\""}`},
		{"reserved variables", docTransform, nil,
			`{"ruleArn" : <aws.events.rule-arn>, "ruleName" : <aws.events.rule-name>, "at": <aws.events.event.ingestion-time>, "originalEvent" : <aws.events.event>}`,
			transformEvent,
			`{"ruleArn" : "arn:aws:events:us-east-1:123456789012:rule/example", "ruleName" : "example", "at": "2015-11-11T21:29:55Z", "originalEvent" : {"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]}}`},
		{"whole event", docTransform, nil, `{"e": <aws.events.event.json>}`, transformEvent, `{"e": ` + transformEvent + `}`},
		{"rule name in text", docTransform, nil, `Rule <aws.events.rule-name> fired`, transformEvent, `Rule example fired`},
		{"object as value", "", map[string]string{"d": "$.detail"}, `{"d": <d>}`, transformEvent,
			`{"d": {"instance-id":"i-0123456789","state":"RUNNING"}}`},
		{"object in a string loses its quotes", "", map[string]string{"d": "$.detail"}, `{"d": "detail is <d>"}`, transformEvent,
			`{"d": "detail is {instance-id:i-0123456789,state:RUNNING}"}`},
		{"object in text", "", map[string]string{"d": "$.detail"}, `detail <d>`, transformEvent,
			`detail {"instance-id":"i-0123456789","state":"RUNNING"}`},
		{"array index", "", map[string]string{"r": "$.resources[0]"}, `<r>`, transformEvent,
			`"arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"`},
		{"wildcard", "", map[string]string{"r": "$.resources[*]"}, `{"all": <r>}`, transformEvent,
			`{"all": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]}`},
		{"missing value", "", map[string]string{"x": "$.detail.nope"}, `{"x": <x>, "s": "[<x>]"}`, transformEvent,
			`{"x": null, "s": "[]"}`},
		{"missing in text", "", map[string]string{"x": "$.detail.nope"}, `x=<x>.`, transformEvent, `x=.`},
		{"escapes kept in strings", "", map[string]string{"m": "$.m"}, `{"s": "said <m>"}`, `{"m":"a \"quote\" and \\ \n"}`,
			`{"s": "said a \"quote\" and \\ \n"}`},
		{"escapes decoded in text", "", map[string]string{"m": "$.m"}, `said <m>`, `{"m":"a \"quote\""}`, `said a "quote"`},
		{"number in string", "", map[string]string{"n": "$.n"}, `{"s": "n=<n>"}`, `{"n":4.5}`, `{"s": "n=4.5"}`},
		{"unknown placeholder stays", "", paths, `{"a": "<unknown> <state>"}`, transformEvent, `{"a": "<unknown> RUNNING"}`},
		{"angle brackets in text", "", paths, `a < b > c <state>`, transformEvent, `a < b > c RUNNING`},
		{"html characters not escaped", "", map[string]string{"a": "$.a"}, `{"o": "<a>"}`, `{"a":{"k":"<&>"}}`, `{"o": "{k:<&>}"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewInputTransformer(tc.paths, tc.template)
			if err != nil {
				t.Fatalf("NewInputTransformer: %v", err)
			}
			got, err := tr.Transform([]byte(tc.event), testRule)
			if err != nil {
				t.Fatalf("Transform: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("Transform =\n%s\nwant\n%s\n(%s)", got, tc.want, tc.doc)
			}
		})
	}
}

func TestInputTransformerErrors(t *testing.T) {
	big := map[string]string{}
	for i := range 101 {
		big[fmt.Sprintf("k%d", i)] = "$.detail"
	}
	cases := []struct {
		name     string
		paths    map[string]string
		template string
		field    string
	}{
		{"too many paths", big, "<k1>", "InputTransformer.InputPathsMap"},
		{"reserved key", map[string]string{VarRuleName: "$.detail"}, "x", "InputTransformer.InputPathsMap." + VarRuleName},
		{"bad key", map[string]string{"a b": "$.detail"}, "x", "InputTransformer.InputPathsMap"},
		{"empty key", map[string]string{"": "$.detail"}, "x", "InputTransformer.InputPathsMap"},
		{"long key", map[string]string{strings.Repeat("k", 257): "$.detail"}, "x", "InputTransformer.InputPathsMap"},
		{"bad path", map[string]string{"a": "detail"}, "x", "InputTransformer.InputPathsMap.a"},
		{"bracket field", map[string]string{"a": "$['detail']"}, "x", "InputTransformer.InputPathsMap.a"},
		{"empty template", nil, "", "InputTransformer.InputTemplate"},
		{"long template", nil, strings.Repeat("x", MaxInputTemplateLength+1), "InputTransformer.InputTemplate"},
		{"placeholder as key", map[string]string{"k": "$.detail.state"}, `{<k>: 1}`, "InputTransformer.InputTemplate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewInputTransformer(tc.paths, tc.template)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want *InputError", err)
			}
			if ie.Field != tc.field {
				t.Errorf("Field = %q, want %q (%v)", ie.Field, tc.field, err)
			}
		})
	}
	tr, err := NewInputTransformer(map[string]string{"a": "$.a"}, `<a>`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Transform([]byte(`{"a":`), testRule); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Transform of a bad event: %v, want ErrInvalidEvent", err)
	}
	tr, err = NewInputTransformer(nil, `<aws.events.event>`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Transform([]byte(`[1]`), testRule); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Transform of an array event: %v, want ErrInvalidEvent", err)
	}
}

func TestApplyInputPath(t *testing.T) {
	const ev = `{"a": {"b": [ {"c": 1}, {"c": "two", "d": null} ], "e": "x"}, "f": true}`
	cases := []struct{ path, want string }{
		{"$", ev},
		{"$.a.e", `"x"`},
		{"$.f", `true`},
		{"$.a.b", `[ {"c": 1}, {"c": "two", "d": null} ]`},
		{"$.a.b[1]", `{"c": "two", "d": null}`},
		{"$.a.b[1].c", `"two"`},
		{"$.a.b[1].d", `null`},
		{"$.a.b[*].c", `[1,"two"]`},
		{"$.a.*", `[[ {"c": 1}, {"c": "two", "d": null} ],"x"]`},
		{"$.a.b[*].z", `[]`},
	}
	for _, tc := range cases {
		got, err := ApplyInputPath([]byte(ev), tc.path)
		if err != nil {
			t.Errorf("ApplyInputPath(%s): %v", tc.path, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("ApplyInputPath(%s) = %s, want %s", tc.path, got, tc.want)
		}
	}
	for _, p := range []string{"$.z", "$.a.b[2]", "$.a.e.x", "$.f[0]", "$.a.b.c"} {
		if _, err := ApplyInputPath([]byte(ev), p); !errors.Is(err, ErrPathNotFound) {
			t.Errorf("ApplyInputPath(%s) error = %v, want ErrPathNotFound", p, err)
		}
	}
	for _, p := range []string{"", "a", "$.", "$..a", "$a", "$.a[", "$.a[x]", "$.a[-1]", "$['a']", "$." + strings.Repeat("a", 256)} {
		_, err := ApplyInputPath([]byte(ev), p)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != "InputPath" {
			t.Errorf("ApplyInputPath(%q) error = %v, want an *InputError on InputPath", p, err)
		}
		if ValidateInputPath(p) == nil {
			t.Errorf("ValidateInputPath(%q) = nil", p)
		}
	}
	if _, err := ApplyInputPath([]byte(`{"a":1} x`), "$.a"); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("trailing garbage: %v, want ErrInvalidEvent", err)
	}
	// A selected part of a real event is valid JSON.
	for name, ev := range sampleEvents(t) {
		got, err := ApplyInputPath(ev, "$.detail.userIdentity")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !json.Valid(got) {
			t.Errorf("%s: %s is not JSON", name, got)
		}
	}
}
