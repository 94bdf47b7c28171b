package logfilter

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Source of the case groups below: the CloudWatch Logs User Guide page
// "Filter and Pattern Syntax" (FilterAndPatternSyntax,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html,
// as in awsdocs/amazon-cloudwatch-logs-user-guide doc_source/FilterAndPatternSyntax.md)
// and its successor pages "matching-terms-json-log-events" and
// "search-data-filter-pattern" for the same examples. Each group names the
// section its examples come from.

type matchCase struct {
	pattern string
	message string
	want    bool
}

func runMatchCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s|%s", c.pattern, c.message), func(t *testing.T) {
			f, err := Parse(c.pattern)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.pattern, err)
			}
			if got := f.Match([]byte(c.message)); got != c.want {
				t.Errorf("Parse(%q).Match(%q) = %v, want %v", c.pattern, c.message, got, c.want)
			}
		})
	}
}

// FilterAndPatternSyntax, "Matching Terms in Log Events", examples 1 to 4.
func TestMatchTermsDocExamples(t *testing.T) {
	fatal := "[ERROR] A fatal exception has occurred"
	exiting := "Exiting with ERRORCODE: -1"
	runMatchCases(t, []matchCase{
		{`""`, "anything at all", true},
		{``, "anything at all", true},
		{`   `, "", true},
		{`ERROR`, fatal, true},
		{`ERROR`, exiting, true},
		{`"ERROR"`, exiting, true},
		{`"ERROR" - "Exiting"`, exiting, false},
		{`"ERROR" - "Exiting"`, fatal, true},
		{`ERROR Exception`, "[ERROR] Caught IllegalArgumentException", true},
		{`ERROR Exception`, "[ERROR] Unhandled Exception", true},
		{`ERROR Exception`, fatal, false}, // "exception": matching is case-sensitive
		{`Failed to process the request`, "[WARN] Failed to process the request", true},
		{`Failed to process the request`, "[ERROR] Unable to continue: Failed to process the request", true},
		{`Failed to process the request`, "[WARN] Failed to process", false},
		{`"Failed to process the request"`, "[WARN] Failed to process the request", true},
		{`"Failed to process the request"`, "[WARN] the request Failed to process", false},
		{`error`, fatal, false},
	})
}

// FilterAndPatternSyntax, "OR Pattern Matching": three events and the
// events each pattern matches.
func TestMatchORDocExamples(t *testing.T) {
	events := []string{"ERROR WARN message", "ERROR message", "WARN message"}
	jsonEvents := []string{`{"foo": "bar"}`, `{"foo": "baz"}`}
	for _, c := range []struct {
		pattern string
		events  []string
		want    []int // 1-based, as the page numbers the events
	}{
		{`ERROR`, events, []int{1, 2}},
		{`?ERROR ?WARN`, events, []int{1, 2, 3}},
		{`ERROR WARN`, events, []int{1}},
		{`ERROR -WARN`, events, []int{2}},
		{`[w1=ERROR, w2]`, events, []int{2}},
		{`[w1=ERROR || w1=WARN, w2]`, events, []int{2, 3}},
		// The page's third space-delimited example ([w1!=ERROR&&w1!=WARN,
		// w2] "matches pattern 1") contradicts its own wording and the
		// other two examples; what the syntax says is: no two-field event
		// whose first word is neither.
		{`[w1!=ERROR&&w1!=WARN, w2]`, events, nil},
		{`[w1!=ERROR&&w1!=WARN, w2]`, []string{"INFO message"}, []int{1}},
		{`{$.foo = bar}`, jsonEvents, []int{1}},
		{`{$.foo = baz }`, jsonEvents, []int{2}},
		{`{$.foo = bar || $.foo = baz }`, jsonEvents, []int{1, 2}},
	} {
		t.Run(c.pattern, func(t *testing.T) {
			f, err := Parse(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i, e := range c.events {
				if f.Match([]byte(e)) {
					got = append(got, i+1)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("matched events (-want +got):\n%s", diff)
			}
		})
	}
}

// FilterAndPatternSyntax, "JSON Metric Filter Examples": the page's event
// and the filters it says match, plus their negations.
func TestMatchJSONDocExamples(t *testing.T) {
	ev := `{
  "eventType": "UpdateTrail",
  "sourceIPAddress": "111.111.111.111",
  "arrayKey": [
        "value",
        "another value"
  ],
  "objectList": [
       {
         "name": "a",
         "id": 1
       },
       {
         "name": "b",
         "id": 2
       }
  ],
  "SomeObject": null,
  "ThisFlag": true
}`
	runMatchCases(t, []matchCase{
		{`{ $.eventType = "UpdateTrail" }`, ev, true},
		{`{ $.eventType = UpdateTrail }`, ev, true},
		{`{ $.eventType = "updatetrail" }`, ev, false},
		{`{ $.sourceIPAddress != 123.123.* }`, ev, true},
		{`{ $.sourceIPAddress = 111.111.* }`, ev, true},
		{`{ $.sourceIPAddress != 111.111.* }`, ev, false},
		{`{ $.arrayKey[0] = "value" }`, ev, true},
		{`{ $.arrayKey[1] = "value" }`, ev, false},
		{`{ $.arrayKey[2] = "value" }`, ev, false},
		{`{ $.eventType[0] = "value" }`, ev, false}, // not an array
		{`{ $.objectList[1].id = 2 }`, ev, true},
		{`{ $.objectList[0].id = 2 }`, ev, false},
		{`{ $.objectList[1].missing = 2 }`, ev, false},
		{`{ $.SomeObject IS NULL }`, ev, true},
		{`{ $.eventType IS NULL }`, ev, false},
		{`{ $.SomeOtherObject IS NULL }`, ev, false},
		{`{ $.SomeOtherObject NOT EXISTS }`, ev, true},
		{`{ $.SomeObject NOT EXISTS }`, ev, false}, // null exists
		{`{ $.ThisFlag IS TRUE }`, ev, true},
		{`{ $.ThisFlag IS FALSE }`, ev, false},
		{`{ $.eventType IS TRUE }`, ev, false},
		{`{ $.ThisFlag = true }`, ev, true}, // a boolean's JSON text
		// "JSON Special Considerations": objects and arrays match neither = nor !=.
		{`{ $.objectList = 1 }`, ev, false},
		{`{ $.objectList != 1 }`, ev, false},
		{`{ $.objectList[0] != "x" }`, ev, false},
		{`{ $.users = 1 }`, `{"users": [1, 2, 3]}`, false},
		{`{ $.users != 1 }`, `{"users": [1, 2, 3]}`, false},
		// Null and missing fields match neither (package decision).
		{`{ $.SomeObject != "x" }`, ev, false},
		{`{ $.SomeOtherObject != "x" }`, ev, false},
		// Lone * matches any scalar.
		{`{ $.eventType = * }`, ev, true},
		{`{ $.objectList[0].id = * }`, ev, true},
		{`{ $.ThisFlag = * }`, ev, true},
		{`{ $.SomeObject = * }`, ev, false},
		{`{ $.arrayKey = * }`, ev, false},
		{`{ $.nothing = * }`, ev, false},
		{`{ $.eventType != * }`, ev, false},
	})
}

// FilterAndPatternSyntax, "JSON Compound Conditions": the page's event and
// its four examples with the results it states.
func TestMatchJSONCompoundDocExamples(t *testing.T) {
	ev := `{
    "user": {
        "id": 1,
        "email": "John.Stiles@example.com"
    },
    "users": [
        {
         "id": 2,
         "email": "John.Doe@example.com"
        },
        {
         "id": 3,
         "email": "Jane.Doe@example.com"
        }
    ],
    "actions": [
        "GET",
        "PUT",
        "DELETE"
    ],
    "coordinates": [
        [0, 1, 2],
        [4, 5, 6],
        [7, 8, 9]
    ]
}`
	runMatchCases(t, []matchCase{
		{`{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }`, ev, true},
		{`{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }`, ev, false},
		// && binds tighter than ||: A || (B && C).
		{`{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }`, ev, true},
		{`{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }`, ev, false},
		// Nested arrays.
		{`{ $.coordinates[0][1] = 1 }`, ev, true},
		{`{ $.coordinates[2][2] = 9 }`, ev, true},
		{`{ $.coordinates[2][3] = 9 }`, ev, false},
		{`{ $.actions[2] = "DELETE" && $.users[1].id = 3 }`, ev, true},
		{`{ ((($.user.id = 1))) }`, ev, true},
	})
}

// FilterAndPatternSyntax, "Numeric Comparisons" and the STRING wildcard
// rules of "Matching JSON Terms Using Metric Filters".
func TestMatchJSONValueDocExamples(t *testing.T) {
	ev := `{"latency": 500, "numbers": [0.001], "processes": [{}, {}, {}, {}, {"averageRuntime": 55.5}],
		"errorCode": 400, "accountId": "123456789012", "big": 1e3, "neg": -2.5}`
	runMatchCases(t, []matchCase{
		{`{ $.latency >= 500 }`, ev, true},
		{`{ $.latency > 500 }`, ev, false},
		{`{ $.numbers[0] < 10e3 }`, ev, true},
		{`{ $.numbers[0] < 10e-3 }`, ev, true},
		{`{ $.numbers[0] < 1e-3 }`, ev, false},
		{`{ $.processes[4].averageRuntime <= 55.5 }`, ev, true},
		{`{ $.processes[4].averageRuntime < 55.5 }`, ev, false},
		{`{ $.errorCode = 400 }`, ev, true},
		{`{ $.errorCode != 500 }`, ev, true},
		{`{ $.errorCode != 400 }`, ev, false},
		{`{ $.latency > +1000 }`, ev, false},
		{`{ $.latency < +1000 }`, ev, true},
		{`{ $.big = 1000 }`, ev, true},
		{`{ $.neg < -2 }`, ev, true},
		{`{ $.neg >= -2.5 }`, ev, true},
		{`{ $.errorCode = 4* }`, ev, true}, // a number's JSON text against a string pattern
		// A string in number form compares as a number (package decision).
		{`{ $.accountId = 123456789012 }`, ev, true},
		{`{ $.accountId > 100 }`, ev, true},
		{`{ $.accountId = "123456789012" }`, ev, true},
		{`{ $.latency = "500" }`, ev, true},
		{`{ $.latency > 100 && $.latency < 1000 }`, ev, true},
		{`{ $.nothing < 1 }`, ev, false},
		{`{ $.processes < 1 }`, ev, false},
	})
	names := `{"a": "PutEvent", "b": "GetEvent", "c": "EventId", "d": "EventName", "e": "Ev*ent", "f": "Event", "g": "a@b $c\\d \"q\""}`
	runMatchCases(t, []matchCase{
		{`{ $.a = *Event }`, names, true},
		{`{ $.b = "*Event" }`, names, true},
		{`{ $.c = *Event }`, names, false},
		{`{ $.c = Event* }`, names, true},
		{`{ $.d = "Event*" }`, names, true},
		{`{ $.a = Event* }`, names, false},
		{`{ $.e = Ev*ent }`, names, true},
		{`{ $.f = Ev*ent }`, names, false},
		{`{ $.a = *vEv* }`, names, false},
		{`{ $.a = *tEv* }`, names, true},
		{`{ $.f = *Event* }`, names, true},
		{`{ $.g = "a@b $c\\d \"q\"" }`, names, true},
		{`{ $.a != *Event }`, names, false},
		{`{ $.c != *Event }`, names, true},
	})
}

// Events that are not JSON objects never match a JSON pattern.
func TestMatchJSONNonJSON(t *testing.T) {
	for _, msg := range []string{"", "ERROR", `{"a": 1`, `{"a": 1} trailing`, `[{"a": 1}]`, `"a"`, `1`, `null`, `{"a": 1}{"a": 1}`} {
		for _, pattern := range []string{`{ $.a = 1 }`, `{ $.b NOT EXISTS }`, `{ $.a = * }`} {
			if MustParse(pattern).Match([]byte(msg)) {
				t.Errorf("%s matched non-object %q", pattern, msg)
			}
		}
	}
	if !MustParse(`{ $.a = 1 }`).Match([]byte("  {\"a\": 1}\n")) {
		t.Error("surrounding spaces stopped a JSON event from matching")
	}
}

// FilterAndPatternSyntax, "Using Metric Filters to Extract Values from
// Space-Delimited Log Events".
func TestMatchSpaceDelimitedDocExamples(t *testing.T) {
	lines := []string{
		`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`,
		`127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324`,
		`127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355`,
		`127.0.0.1 - frank [10/Oct/2000:13:51:00 -0700] "GET /index.html HTTP/1.0" 404 999`,
		`127.0.0.1 - frank [10/Oct/2000:13:52:00 -0700] "GET /index.html HTTP/1.0" 403 2048`,
	}
	for _, c := range []struct {
		pattern string
		want    []int // 1-based lines
	}{
		{`[ip, user, username, timestamp, request, status_code, bytes]`, []int{1, 2, 3, 4, 5}},
		{`[ip, user, username, timestamp, request, status_code]`, nil},
		{`[ip, user, username, timestamp, request, status_code, bytes, more]`, nil},
		{`[..., status_code, bytes]`, []int{1, 2, 3, 4, 5}},
		{`[ip, user, ..., status_code, bytes]`, []int{1, 2, 3, 4, 5}},
		{`[ip, user, ...]`, []int{1, 2, 3, 4, 5}},
		{`[...]`, []int{1, 2, 3, 4, 5}},
		{`[ip, user, username, timestamp, request, status_code, bytes > 1000]`, []int{1, 2, 3, 5}},
		{`[ip, user, username, timestamp, request, status_code = 200, bytes]`, []int{1, 3}},
		{`[ip, user, username, timestamp, request, status_code = 4*, bytes]`, []int{4, 5}},
		{`[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]`, []int{4, 5}},
		{`[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]`, []int{4}},
		{`[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]`, []int{4, 5}},
		// A condition may name another declared field.
		{`[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000, bytes]`, []int{5}},
		{`[ip, user = "-", username = frank, ...]`, []int{1, 2, 3, 4, 5}},
		{`[ip, user, username != frank, ...]`, nil},
		{`[..., request = "GET /index.html HTTP/1.0", status_code, bytes < 1000]`, []int{4}},
		{`[..., timestamp = 10/Oct/2000:13:5*, ..., bytes]`, []int{3, 4, 5}},
	} {
		t.Run(c.pattern, func(t *testing.T) {
			f, err := Parse(c.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i, l := range lines {
				if f.Match([]byte(l)) {
					got = append(got, i+1)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("matched lines (-want +got):\n%s", diff)
			}
		})
	}
}

// FilterAndPatternSyntax's extractedValues example (the page prints
// /products/index.html for a message that says /index.html; the values
// come from the message).
func TestExtractDocExample(t *testing.T) {
	f := MustParse(`[..., request=*.html*, status_code=4*,]`)
	got, ok := f.Extract([]byte(`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534`))
	if !ok {
		t.Fatal("no match")
	}
	want := map[string]string{
		"$status_code": "404",
		"$request":     "GET /index.html HTTP/1.0",
		"$7":           "1534",
		"$4":           "10/Oct/2000:13:25:15 -0700",
		"$3":           "frank",
		"$2":           "-",
		"$1":           "127.0.0.1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("extractedValues (-want +got):\n%s", diff)
	}
	if _, ok := f.Extract([]byte(`127.0.0.1 - frank [x] "GET /index.html HTTP/1.0" 200 1534`)); ok {
		t.Error("a 200 matched status_code=4*")
	}
	// JSON and term patterns extract nothing: {} as TestMetricFilter returns.
	for _, p := range []string{`{ $.a = 1 }`, `ERROR`, ``} {
		msg := `{"a": 1, "ERROR": true}`
		got, ok := MustParse(p).Extract([]byte(msg))
		if !ok || got == nil || len(got) != 0 {
			t.Errorf("Extract(%q) = %v, %v; want an empty map", p, got, ok)
		}
	}
}

func TestSplitFields(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`  a  b `, []string{"a", "b"}},
		{`a [b c] "d e" f`, []string{"a", "b c", "d e", "f"}},
		{`a [b c`, []string{"a", "[b", "c"}},
		{`"unterminated quote`, []string{`"unterminated`, "quote"}},
		{"tab\tseparated\nlines", []string{"tab", "separated", "lines"}},
	} {
		if diff := cmp.Diff(c.want, splitFields(c.in)); diff != "" {
			t.Errorf("splitFields(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

func TestKind(t *testing.T) {
	for pattern, want := range map[string]Kind{
		``: KindAll, `  `: KindAll, `ERROR`: KindTerms, `""`: KindTerms,
		` { $.a = 1 } `: KindJSON, `[a, b]`: KindSpaceDelimited,
	} {
		if got := MustParse(pattern).Kind(); got != want {
			t.Errorf("Kind(%q) = %v, want %v", pattern, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		pattern string
		pos     int    // 0-based; -1 when the error has no position
		msg     string // a substring of the message
	}{
		{`{ $.a = %ab+c% }`, 8, "regular expressions"},
		{`%ERROR%`, 0, "regular expressions"},
		{`[a = %x%, b]`, 5, "regular expressions"},
		{`{ $.a = "abc }`, 8, "unterminated quoted string"},
		{`"abc`, 0, "unterminated quoted string"},
		{`{ $.a = 1`, 9, "missing }"},
		{`{}`, 1, "empty JSON pattern"},
		{`{ }`, 2, "empty JSON pattern"},
		{`{ $.a < abc }`, 6, "needs a number"},
		{`{ $.a >= * }`, 6, "needs a number"},
		{`{ $[0] = 1 }`, 3, "array index must follow a property"},
		{`{ $ = 1 }`, 2, "names a property"},
		{`{ $. = 1 }`, 4, "property name"},
		{`{ $.a[x] = 1 }`, 5, "array index"},
		{`{ $.a = }`, 8, "a value"},
		{`{ $.a }`, 6, "an operator"},
		{`{ $.a IS MAYBE }`, 6, "IS must be followed by NULL, TRUE or FALSE"},
		{`{ $.a NOT THERE }`, 6, "NOT must be followed by EXISTS"},
		{`{ $.a EXISTS }`, 6, "expected an operator"},
		{`{ ($.a = 1 }`, 2, "unclosed parenthesis"},
		{`{ $.a = 1) }`, 9, "expected &&, || or }"},
		{`{ $.a = 1 } x`, 12, "after the closing }"},
		{`{ $.a = 1 && }`, 13, "selector"},
		{`{ eventName = x }`, 2, "selector"},
		{`[a, a]`, 4, "declared twice"},
		{`[a = 1 && b = 2]`, 0, `"b"`},
		{`[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]`, 0, `"bytes"`},
		{`[]`, 0, "empty space-delimited pattern"},
		{`[a, b`, 0, "missing ]"},
		{`[a, b] c`, 7, "after the closing ]"},
		{`[a b]`, 3, "operator"},
		{`[a =]`, 4, "value"},
		{`[a < x]`, 3, "needs a number"},
		{`[, = 1]`, 3, "field name"},
		{`[a = 1 b]`, 7, "&&, || or a comma"},
		{`ERROR -`, 6, "followed by a term"},
		{`? ERROR`, 0, "followed by a term"},
		{strings.Repeat("a", MaxPatternLength+1), -1, "longer than 1024"},
		{"{ " + strings.Repeat("(", 101) + "$.a = 1" + strings.Repeat(")", 101) + " }", 102, "nested deeper"},
	} {
		t.Run(c.pattern, func(t *testing.T) {
			_, err := Parse(c.pattern)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", c.pattern)
			}
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("error %v is not ErrInvalidPattern", err)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not *Error", err)
			}
			if pe.Pos != c.pos || pe.Field != "filterPattern" {
				t.Errorf("error at %s:%d, want filterPattern:%d (%v)", pe.Field, pe.Pos, c.pos, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse(`{ $.a < abc }`)
	if got, want := err.Error(), `Invalid filterPattern at character 7: the < operator needs a number, found "abc"`; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

func TestParseLimit(t *testing.T) {
	p := "{ $.a = " + strings.Repeat("x", MaxPatternLength-10) + " }"
	if len(p) != MaxPatternLength {
		t.Fatalf("test pattern is %d long", len(p))
	}
	if _, err := Parse(p); err != nil {
		t.Errorf("a %d-character pattern was refused: %v", len(p), err)
	}
}

// TestSpaceDelimitedManyEllipses checks that a pattern whose "..." can align
// in many ways still terminates quickly, within its step budget.
func TestSpaceDelimitedManyEllipses(t *testing.T) {
	f := MustParse(`[..., a = x, ..., b = y, ..., c = z, ..., d = never, ...]`)
	msg := strings.Repeat("x y z ", 200)
	if f.Match([]byte(msg)) {
		t.Error("matched a message without the word never")
	}
	if !MustParse(`[..., a = x, ..., b = y, ...]`).Match([]byte(msg)) {
		t.Error("did not match x ... y")
	}
}
