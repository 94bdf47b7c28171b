package eventpattern

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	long := `{"a":["` + strings.Repeat("x", MaxPatternLength) + `"]}`
	// 11 groups of two alternatives: 2^11 = 2048 combinations.
	var many strings.Builder
	many.WriteString("{")
	for i := range 11 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"f` + string(rune('a'+i)) + `":{"$or":[{"x":["1"]},{"y":["2"]}]}`)
	}
	many.WriteString("}")

	cases := []struct {
		name, pattern, path, reason string
	}{
		{"not json", `{"a":`, "a", "Unexpected end"},
		{"syntax", `{"a":[1,]}`, "a[1]", "not valid JSON"},
		{"not an object", `["a"]`, "", "Filter is not an object"},
		{"string", `"a"`, "", "Filter is not an object"},
		{"trailing content", `{"a":["x"]} {}`, "", "Unexpected content"},
		{"empty pattern", `{}`, "", "Empty objects are not allowed"},
		{"empty nested object", `{"detail":{}}`, "detail", "Empty objects are not allowed"},
		{"leaf not an array", `{"source":"aws.ec2"}`, "source", "must be an object or an array"},
		{"leaf number", `{"source":5}`, "source", "must be an object or an array"},
		{"leaf null", `{"detail":{"a":null}}`, "detail.a", "must be an object or an array"},
		{"empty array", `{"source":[]}`, "source", "Empty arrays are not allowed"},
		{"nested array", `{"source":[["a"]]}`, "source[0]", "Match value must be"},
		{"duplicate field", `{"a":["x"],"a":["y"]}`, "a", "Duplicate field"},
		{"unknown operator", `{"a":[{"contains":"x"}]}`, "a[0].contains", "Unrecognized match type contains"},
		{"empty operator", `{"a":[{}]}`, "a[0]", "Match expression name not found"},
		{"two operators", `{"a":[{"prefix":"x","suffix":"y"}]}`, "a[0]", "Only one key allowed"},
		{"prefix number", `{"a":[{"prefix":5}]}`, "a[0].prefix", "must be a string"},
		{"prefix object other", `{"a":[{"prefix":{"wildcard":"x"}}]}`, "a[0].prefix", "Unsupported prefix pattern"},
		{"prefix ignore case number", `{"a":[{"prefix":{"equals-ignore-case":5}}]}`, "a[0].prefix.equals-ignore-case", "must be a string"},
		{"suffix two keys", `{"a":[{"suffix":{"equals-ignore-case":"x","y":1}}]}`, "a[0].suffix", "Only one key"},
		{"equals-ignore-case list", `{"a":[{"equals-ignore-case":["x"]}]}`, "a[0].equals-ignore-case", "must be a string"},
		{"wildcard consecutive", `{"a":[{"wildcard":"a**b"}]}`, "a[0].wildcard", "Consecutive wildcard characters at pos 2"},
		{"wildcard bad escape", `{"a":[{"wildcard":"a\\b"}]}`, "a[0].wildcard", "Invalid escape character at pos 1"},
		{"wildcard trailing backslash", `{"a":[{"wildcard":"a\\"}]}`, "a[0].wildcard", "Invalid escape character"},
		{"wildcard number", `{"a":[{"wildcard":1}]}`, "a[0].wildcard", "must be a string"},
		{"exists string", `{"a":[{"exists":"true"}]}`, "a[0].exists", "either true or false"},
		{"cidr bad", `{"a":[{"cidr":"10.0.0.0"}]}`, "a[0].cidr", "Nonstandard IP address"},
		{"cidr bits", `{"a":[{"cidr":"10.0.0.0/33"}]}`, "a[0].cidr", "Nonstandard IP address"},
		{"cidr number", `{"a":[{"cidr":10}]}`, "a[0].cidr", "must be a string"},
		{"anything-but null", `{"a":[{"anything-but":null}]}`, "a[0].anything-but", "must be an array or single string/number"},
		{"anything-but bool", `{"a":[{"anything-but":true}]}`, "a[0].anything-but", "must be an array or single string/number"},
		{"anything-but mixed list", `{"a":[{"anything-but":["x",1]}]}`, "a[0].anything-but", "mixed type is not supported"},
		{"anything-but empty list", `{"a":[{"anything-but":[]}]}`, "a[0].anything-but", "mixed type is not supported"},
		{"anything-but null in list", `{"a":[{"anything-but":["x",null]}]}`, "a[0].anything-but[1]", "start|null|boolean is not supported"},
		{"anything-but object in list", `{"a":[{"anything-but":[{"prefix":"x"}]}]}`, "a[0].anything-but[0]", "start|null|boolean is not supported"},
		{"anything-but unknown", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, "a[0].anything-but.numeric", "Unsupported anything-but pattern: numeric"},
		{"anything-but empty prefix", `{"a":[{"anything-but":{"prefix":""}}]}`, "a[0].anything-but.prefix", "Null prefix/suffix not allowed"},
		{"anything-but prefix list", `{"a":[{"anything-but":{"prefix":["x"]}}]}`, "a[0].anything-but.prefix", "must be a string"},
		{"anything-but ignore case number", `{"a":[{"anything-but":{"equals-ignore-case":5}}]}`, "a[0].anything-but.equals-ignore-case", "must be a string or an array of strings"},
		{"anything-but ignore case number in list", `{"a":[{"anything-but":{"equals-ignore-case":["x",5]}}]}`, "a[0].anything-but.equals-ignore-case[1]", "not supported"},
		{"anything-but wildcard empty list", `{"a":[{"anything-but":{"wildcard":[]}}]}`, "a[0].anything-but.wildcard", "Empty arrays"},
		{"anything-but wildcard invalid", `{"a":[{"anything-but":{"wildcard":["**"]}}]}`, "a[0].anything-but.wildcard", "Consecutive wildcard"},
		{"anything-but two keys", `{"a":[{"anything-but":{"prefix":"x","suffix":"y"}}]}`, "a[0].anything-but", "Only one key"},
		{"numeric not array", `{"a":[{"numeric":5}]}`, "a[0].numeric", "must be an array"},
		{"numeric empty", `{"a":[{"numeric":[]}]}`, "a[0].numeric", "Empty numeric expression"},
		{"numeric bad operator", `{"a":[{"numeric":["!=",5]}]}`, "a[0].numeric", "Unrecognized numeric range operator"},
		{"numeric number first", `{"a":[{"numeric":[5,">"]}]}`, "a[0].numeric", "first term must be an operator"},
		{"numeric string value", `{"a":[{"numeric":[">","5"]}]}`, "a[0].numeric", "Value of > must be numeric"},
		{"numeric missing value", `{"a":[{"numeric":[">"]}]}`, "a[0].numeric", "Value of > must be numeric"},
		{"numeric out of range", `{"a":[{"numeric":[">",5000000001]}]}`, "a[0].numeric", "out of range"},
		{"numeric equals then more", `{"a":[{"numeric":["=",5,"<",6]}]}`, "a[0].numeric", "Too many elements"},
		{"numeric upper then lower", `{"a":[{"numeric":["<",5,">",1]}]}`, "a[0].numeric", "Too many elements"},
		{"numeric two lower bounds", `{"a":[{"numeric":[">",1,">",2]}]}`, "a[0].numeric", "Bad numeric range operator"},
		{"numeric inverted", `{"a":[{"numeric":[">",5,"<",1]}]}`, "a[0].numeric", "Bottom must be less than top"},
		{"numeric empty range", `{"a":[{"numeric":[">=",5,"<=",5]}]}`, "a[0].numeric", "Bottom must be less than top"},
		{"numeric too many", `{"a":[{"numeric":[">",1,"<",5,"<",6]}]}`, "a[0].numeric", "Too many terms"},
		{"numeric nested array", `{"a":[{"numeric":[">",[1]]}]}`, "a[0].numeric", "only operators and numbers"},
		{"or not array", `{"$or":{"a":["x"]}}`, "$or", "must be followed by an array"},
		{"or one object", `{"$or":[{"a":["x"]}]}`, "$or", "at least 2 objects"},
		{"or empty", `{"$or":[]}`, "$or", "at least 2 objects"},
		{"or non object", `{"$or":[{"a":["x"]},["b"]]}`, "$or[1]", "Only JSON objects"},
		{"or empty object", `{"$or":[{"a":["x"]},{}]}`, "$or[1]", "Empty objects"},
		{"or reserved name", `{"$or":[{"numeric":["x"]},{"a":["y"]}]}`, "$or[0].numeric", "reserved field name"},
		{"or reserved name nested", `{"$or":[{"d":{"prefix":["x"]}},{"a":["y"]}]}`, "$or[0].d.prefix", "reserved field name"},
		{"too long", long, "", "the limit is 4096"},
		{"too many combinations", many.String(), "", "more than 1000 combinations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want an error", tc.pattern)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if !errors.Is(err, ErrInvalidPattern) {
				t.Errorf("errors.Is(%v, ErrInvalidPattern) = false", err)
			}
			if pe.Path != tc.path {
				t.Errorf("Path = %q, want %q (error: %v)", pe.Path, tc.path, err)
			}
			if !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("Reason = %q, want it to contain %q", pe.Reason, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "Event pattern is not valid. Reason: ") {
				t.Errorf("message %q lacks the AWS prefix", err.Error())
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, p := range []string{
		`{"a":[{"exact":"x"}]}`,
		`{"a":["x",5,-1.5e3,true,false,null,""]}`,
		`{"a":[{"prefix":""}]}`,
		`{"a":[{"numeric":["<=",-5e9]}]}`,
		`{"a":[{"numeric":[">=",-5e9,"<=",5e9]}]}`,
		`{"a":[{"cidr":"2001:db8::/32"}]}`,
		`{"a":[{"cidr":"10.1.2.3/8"}]}`,
		`{"a":[{"anything-but":{"wildcard":["a*","*b"]}}]}`,
		`{"$or":[{"a":["1"]},{"$or":[{"b":["2"]},{"c":["3"]}]}]}`,
		`{"a":{"$or":[{"b":["2"]},{"c":["3"]}]}}`,
		`{"a":["` + strings.Repeat("é", MaxPatternLength-10) + `"]}`, // characters, not bytes
	} {
		if _, err := Parse([]byte(p)); err != nil {
			t.Errorf("Parse(%.80s): %v", p, err)
		}
	}
}

func TestPatternString(t *testing.T) {
	const s = `{ "source": ["aws.ec2"] }`
	if got := mustParse(t, s).String(); got != s {
		t.Errorf("String() = %q, want %q", got, s)
	}
}

func TestMatchInvalidEvent(t *testing.T) {
	p := mustParse(t, `{"a":["x"]}`)
	for _, ev := range []string{
		``, `[]`, `"x"`, `{`, `{"a":}`, `{"a":"x"`, `{"a":"x"}x`, `{"a":tru}`, `{"a":01}`, `{"a":1.}`, `{"a":"\x"}`,
		"{\"a\":\"\x01\"}", `{"a" "x"}`, `{"a":[1 2]}`, `{"b":{"c":[}}`, `{"a":"\u12"}`, `{"b":-}`,
	} {
		if _, err := p.Match([]byte(ev)); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Match(%q) error = %v, want ErrInvalidEvent", ev, err)
		}
		if _, err := NewSet().Match([]byte(ev)); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("empty Set.Match(%q) error = %v, want ErrInvalidEvent", ev, err)
		}
	}
}

func TestHasWildcard(t *testing.T) {
	for p, want := range map[string]bool{
		`{"a":["x*"]}`:                                   false,
		`{"a":[{"prefix":"x"}]}`:                         false,
		`{"a":[{"wildcard":"x*"}]}`:                      true,
		`{"a":[{"anything-but":{"wildcard":["x*"]}}]}`:   true,
		`{"$or":[{"a":["1"]},{"b":[{"wildcard":"*"}]}]}`: true,
	} {
		if got := mustParse(t, p).HasWildcard(); got != want {
			t.Errorf("HasWildcard(%s) = %v, want %v", p, got, want)
		}
	}
}
