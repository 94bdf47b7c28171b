package event

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPath(t *testing.T) {
	ev, err := Parse([]byte(`{"eventVersion":"1.11","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/R/s",
		"sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::123456789012:role/R"},"attributes":{"mfaAuthenticated":"false"}}},
		"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1",
		"errorCode":"NoSuchKey","requestParameters":{"bucketName":"b","key":"k\u00e9","list":[1,{"x":true}]},
		"eventID":"e","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],
		"recipientAccountId":"123456789012","responseElements":null,"x":"first","x":"last","n":12.5}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		all  []string // raw JSON of every value reached
		str  string
		ok   bool // Str's ok
	}{
		{path: "eventName", all: []string{`"GetObject"`}, str: "GetObject", ok: true},
		{path: "userIdentity.arn", all: []string{`"arn:aws:sts::123456789012:assumed-role/R/s"`}, str: "arn:aws:sts::123456789012:assumed-role/R/s", ok: true},
		{path: "userIdentity.sessionContext.sessionIssuer.arn", all: []string{`"arn:aws:iam::123456789012:role/R"`}, str: "arn:aws:iam::123456789012:role/R", ok: true},
		{path: "requestParameters.key", all: []string{`"k\u00e9"`}, str: "ké", ok: true},
		{path: "resources.ARN", all: []string{`"arn:aws:s3:::b/k"`, `"arn:aws:s3:::b"`}, str: "arn:aws:s3:::b/k", ok: true},
		{path: "resources.type", all: []string{`"AWS::S3::Object"`, `"AWS::S3::Bucket"`}, str: "AWS::S3::Object", ok: true},
		{path: "requestParameters.list.x", all: []string{`true`}},
		{path: "readOnly", all: []string{`true`}},
		{path: "n", all: []string{`12.5`}},
		{path: "responseElements", all: []string{`null`}},
		{path: "requestParameters", all: []string{`{"bucketName":"b","key":"k\u00e9","list":[1,{"x":true}]}`}},
		{path: "x", all: []string{`"last"`}, str: "last", ok: true},
		{path: "missing"},
		{path: "eventName.deeper"},
		{path: "userIdentity.missing.arn"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := MustPath(tt.path)
			var all []string
			p.Each(ev.Raw, func(v []byte) bool { all = append(all, string(v)); return true })
			if diff := cmp.Diff(tt.all, all); diff != "" {
				t.Errorf("Each (-want +got):\n%s", diff)
			}
			if s, ok := p.Str(ev.Raw); s != tt.str || ok != tt.ok {
				t.Errorf("Str = %q, %v; want %q, %v", s, ok, tt.str, tt.ok)
			}
			v, ok := p.Value(ev.Raw)
			if ok != (len(tt.all) > 0) || ok && string(v) != tt.all[0] {
				t.Errorf("Value = %q, %v", v, ok)
			}
		})
	}
	t.Run("stop", func(t *testing.T) {
		n := 0
		MustPath("resources.type").Each(ev.Raw, func([]byte) bool { n++; return false })
		if n != 1 {
			t.Errorf("Each went on after fn returned false: %d calls", n)
		}
	})
}

func TestParsePathErrors(t *testing.T) {
	for _, s := range []string{"", ".", "a.", ".a", "a..b"} {
		if _, err := ParsePath(s); !errors.Is(err, ErrBadPath) {
			t.Errorf("ParsePath(%q) = %v, want ErrBadPath", s, err)
		}
	}
}

// FuzzPath checks the accessor against encoding/json on every record Parse
// accepts: the value a one- or two-step path reaches is the member
// encoding/json decodes (last duplicate wins).
func FuzzPath(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Parse(data)
		if err != nil {
			return
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(ev.Raw, &top); err != nil {
			t.Fatalf("Parse accepted what encoding/json rejects: %v", err)
		}
		for name, want := range top {
			p, err := ParsePath(name)
			if err != nil {
				continue // a name with a dot or an empty name
			}
			got, ok := p.Value(ev.Raw)
			if !ok {
				t.Fatalf("%s: not found", name)
			}
			if !json.Valid(got) || !jsonEqual(got, want) {
				t.Fatalf("%s = %s, encoding/json says %s", name, got, want)
			}
			var inner map[string]json.RawMessage
			if json.Unmarshal(want, &inner) != nil {
				continue
			}
			for sub, w := range inner {
				q, err := ParsePath(name + "." + sub)
				if err != nil {
					continue
				}
				if g, ok := q.Value(ev.Raw); !ok || !jsonEqual(g, w) {
					t.Fatalf("%s.%s = %s, encoding/json says %s", name, sub, g, w)
				}
			}
		}
	})
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
}
