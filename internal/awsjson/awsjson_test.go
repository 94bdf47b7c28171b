package awsjson

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name, in, op string
		ok           bool
	}{
		{"botocore", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", "LookupEvents", true},
		{"smithy", "CloudTrail_20131101.DescribeTrails", "DescribeTrails", true},
		{"missing", "", "", false},
		{"no dot", "LookupEvents", "", false},
		{"empty op", "CloudTrail_20131101.", "", false},
		{"other service", "DynamoDB_20120810.ListTables", "", false},
		{"wrong case prefix", "cloudtrail_20131101.ListTrails", "", false},
		{"extra segment", "CloudTrail_20131101.X.ListTrails", "", false},
		{"bad op chars", "CloudTrail_20131101.List-Trails", "", false},
		{"trailing space", "CloudTrail_20131101.ListTrails ", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := ParseTarget(tt.in)
			if (err == nil) != tt.ok || op != tt.op {
				t.Fatalf("ParseTarget(%q) = %q, %v; want %q, ok=%v", tt.in, op, err, tt.op, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadTarget) {
				t.Errorf("error %v does not match ErrBadTarget", err)
			}
		})
	}
}

func TestTimeMarshal(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1704067200, 0), "1704067200"},
		{time.UnixMilli(1704067200123), "1704067200.123"},
		{time.UnixMilli(1704067200100), "1704067200.1"},
		{time.Unix(1704067200, 999_999_999), "1704067200.999"},
		{time.Unix(0, 0), "0"},
		{time.UnixMilli(-500), "-0.5"},
		{time.UnixMilli(-1500), "-1.5"},
		{time.Time{}, "-62135596800"},
	}
	for _, tt := range tests {
		got, err := Time{tt.t}.MarshalJSON()
		if err != nil || string(got) != tt.want {
			t.Errorf("MarshalJSON(%v) = %s, %v; want %s", tt.t, got, err, tt.want)
		}
	}
}

func TestTimeUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1704067200", time.Unix(1704067200, 0), true},
		{"1704067200.123", time.UnixMilli(1704067200123), true},
		{"1704067200.123456789123", time.Unix(1704067200, 123456789), true},
		{"1.7040672e9", time.Unix(1704067200, 0), true},
		{"17040672001E-1", time.Unix(1704067200, 100_000_000), true},
		{"0", time.Unix(0, 0), true},
		{"-0", time.Unix(0, 0), true},
		{"-0.5", time.UnixMilli(-500), true},
		{"-1.25", time.UnixMilli(-1250), true},
		{"0e999999999999", time.Unix(0, 0), true},
		{"1e-20", time.Unix(0, 0), true},
		{"-62135596800", time.Time{}, true},
		{"99999999999", time.Unix(99999999999, 0), true},
		{"100000000000", time.Time{}, false},
		{"1e300", time.Time{}, false},
		{`"1704067200"`, time.Time{}, false},
		{`"2024-01-01T00:00:00Z"`, time.Time{}, false},
		{"true", time.Time{}, false},
		{"01", time.Time{}, false},
		{"1.", time.Time{}, false},
		{".5", time.Time{}, false},
		{"1e", time.Time{}, false},
		{"+1", time.Time{}, false},
		{"{}", time.Time{}, false},
	}
	for _, tt := range tests {
		var got Time
		err := got.UnmarshalJSON([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("UnmarshalJSON(%s) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !got.Equal(tt.want) {
			t.Errorf("UnmarshalJSON(%s) = %v, want %v", tt.in, got.Time, tt.want)
		}
	}
	// null leaves the value alone.
	v := Time{time.Unix(5, 0)}
	if err := v.UnmarshalJSON([]byte("null")); err != nil || !v.Equal(time.Unix(5, 0)) {
		t.Errorf("null: %v, %v", v.Time, err)
	}
}

type sampleAttr struct {
	AttributeKey   *string
	AttributeValue *string
}

type sampleInput struct {
	LookupAttributes []sampleAttr      `json:",omitempty"`
	StartTime        *Time             `json:",omitempty"`
	MaxResults       *int64            `json:",omitempty"`
	IsLogging        *bool             `json:",omitempty"`
	Tags             map[string]string `json:",omitempty"`
	Ratio            *float64          `json:",omitempty"`
	Selectors        []sampleSelector  `json:",omitempty"`
	SampleShared
}

// sampleSelector has lists inside a list element.
type sampleSelector struct {
	Name   *string  `json:",omitempty"`
	Fields []string `json:"FieldList,omitempty"`
	Times  []Time   `json:",omitempty"`
}

// SampleShared is embedded, as api's trailSettings is: its members are
// promoted.
type SampleShared struct {
	Extra []string `json:",omitempty"`
}

func ptr[T any](v T) *T { return &v }

func TestDecode(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   sampleInput
		member string // for errors
		errSub string
	}{
		{name: "empty", body: ""},
		{name: "whitespace", body: " \r\n\t"},
		{name: "null body", body: "null"},
		{name: "empty object", body: "{}"},
		{name: "null members", body: `{"StartTime":null,"MaxResults":null,"LookupAttributes":null}`},
		{name: "unknown members", body: `{"Whatever":{"a":[1,2]},"MaxResults":5}`, want: sampleInput{MaxResults: ptr[int64](5)}},
		{name: "full", body: `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"X"}],"StartTime":1704067200.5,"IsLogging":true}`,
			want: sampleInput{
				LookupAttributes: []sampleAttr{{ptr("EventName"), ptr("X")}},
				StartTime:        &Time{time.UnixMilli(1704067200500).UTC()},
				IsLogging:        ptr(true),
			}},
		{name: "string for int", body: `{"MaxResults":"5"}`, member: "MaxResults", errSub: "expected an integer that fits 64 bits, got a string"},
		{name: "fraction for int", body: `{"MaxResults":5.5}`, member: "MaxResults", errSub: "got the number 5.5"},
		{name: "string for time", body: `{"StartTime":"2024-01-01"}`, member: "StartTime", errSub: "epoch seconds"},
		{name: "time out of range", body: `{"StartTime":1e20}`, member: "StartTime", errSub: "got the number 1e20"},
		{name: "nested", body: `{"LookupAttributes":[{"AttributeKey":1}]}`, member: "LookupAttributes.AttributeKey", errSub: "expected a string, got a number"},
		{name: "object for list", body: `{"LookupAttributes":{}}`, member: "LookupAttributes", errSub: "expected an array, got an object"},
		{name: "array body", body: `[]`, errSub: "must be a JSON object, got an array"},
		{name: "string body", body: `"x"`, errSub: "must be a JSON object, got a string"},
		{name: "truncated", body: `{"MaxResults":`, errSub: "unexpected end of input"},
		{name: "syntax", body: `{"MaxResults" 5}`, errSub: "not valid JSON"},
		{name: "trailing data", body: `{} {}`, errSub: "unexpected data after the JSON object"},

		// Null elements of lists and values of maps the type decodes.
		{name: "null element", body: `{"LookupAttributes":[null]}`, member: "LookupAttributes[0]", errSub: "a list cannot hold null elements"},
		{name: "null elements", body: `{"LookupAttributes":[null,null]}`, member: "LookupAttributes[0]", errSub: "a list cannot hold null elements"},
		{name: "null after an element", body: `{"LookupAttributes":[{"AttributeKey":"EventName"},null]}`, member: "LookupAttributes[1]", errSub: "null elements"},
		{name: "null in a nested list", body: `{"Selectors":[{"Name":"a"},{"FieldList":["x",null]}]}`, member: "Selectors[1].FieldList[1]", errSub: "null elements"},
		{name: "null time in a list", body: `{"Selectors":[{"Times":[1,null]}]}`, member: "Selectors[0].Times[1]", errSub: "null elements"},
		{name: "null map value", body: `{"Tags":{"a":"b","c":null}}`, member: "Tags.c", errSub: "a map cannot hold null values"},
		{name: "null in a promoted member", body: `{"Extra":[null]}`, member: "Extra[0]", errSub: "null elements"},
		{name: "member matched ignoring case", body: `{"lookupattributes":[null]}`, member: "LookupAttributes[0]", errSub: "null elements"},
		{name: "null in a later duplicate", body: `{"Selectors":[],"Selectors":[null]}`, member: "Selectors[0]", errSub: "null elements"},
		{name: "null in an unknown member", body: `{"Unknown":[null,{"a":[null]}],"Other":{"x":null}}`},
		{name: "null members of an element", body: `{"LookupAttributes":[{"AttributeKey":null,"AttributeValue":"v"}],"Selectors":[{"Name":null,"FieldList":null}]}`,
			want: sampleInput{LookupAttributes: []sampleAttr{{AttributeValue: ptr("v")}}, Selectors: []sampleSelector{{}}}},
		{name: "the word null in strings", body: `{"LookupAttributes":[{"AttributeKey":"null","AttributeValue":"[null]"}]}`,
			want: sampleInput{LookupAttributes: []sampleAttr{{ptr("null"), ptr("[null]")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sampleInput
			err := Decode([]byte(tt.body), &got)
			if tt.errSub == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Decode (-want +got):\n%s", diff)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode error = %v (%T), want *DecodeError", err, err)
			}
			if de.Member != tt.member || !strings.Contains(de.Error(), tt.errSub) {
				t.Errorf("Decode error = member %q, %q; want member %q containing %q", de.Member, de.Error(), tt.member, tt.errSub)
			}
			if null := strings.Contains(tt.errSub, "null"); errors.Is(err, ErrNullElement) != null {
				t.Errorf("errors.Is(%v, ErrNullElement) = %v, want %v", err, !null, null)
			}
		})
	}
}

func TestReadBody(t *testing.T) {
	b, err := ReadBody(strings.NewReader("12345"), 5)
	if err != nil || string(b) != "12345" {
		t.Fatalf("ReadBody at limit = %q, %v", b, err)
	}
	_, err = ReadBody(strings.NewReader("123456"), 5)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 5 {
		t.Fatalf("ReadBody over limit error = %v, want *TooLargeError{5}", err)
	}
	b, err = ReadBody(strings.NewReader(strings.Repeat("x", DefaultMaxBody)), 0)
	if err != nil || len(b) != DefaultMaxBody {
		t.Fatalf("ReadBody default limit: %d bytes, %v", len(b), err)
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := WriteError(rec, 400, "InvalidMaxResultsException", `MaxResults "51" is out of range`); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 400 {
		t.Errorf("status = %d", rec.Code)
	}
	if got := rec.Header().Get("X-Amzn-ErrorType"); got != "InvalidMaxResultsException" {
		t.Errorf("X-Amzn-ErrorType = %q", got)
	}
	if got := rec.Header().Get("Content-Type"); got != ContentType {
		t.Errorf("Content-Type = %q", got)
	}
	want := `{"__type":"InvalidMaxResultsException","message":"MaxResults \"51\" is out of range"}`
	if got := rec.Body.String(); got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

// TestDecodeNullUnexportedEmbedded: members of an unexported embedded
// struct are promoted too (encoding/json decodes into them).
func TestDecodeNullUnexportedEmbedded(t *testing.T) {
	type shared struct {
		List []string `json:"List,omitempty"`
	}
	var v struct {
		Name *string
		shared
	}
	err := Decode([]byte(`{"Name":"n","List":["a",null]}`), &v)
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrNullElement) || de.Member != "List[1]" {
		t.Errorf("Decode = %v, want a null element at List[1]", err)
	}
}
