package awsquery

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse decodes arbitrary forms: Parse never panics, every error is an
// *Error wrapping ErrMalformed, a decoded request encodes back to one
// that decodes identically, and the shape readers never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Action=CreateTopic&Version=2010-03-31&Name=t1",
		"Action=SetTopicAttributes&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At&AttributeName=Policy&AttributeValue=%7B%7D",
		"Action=TagResource&ResourceArn=a&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2",
		"Action=Publish&MessageAttributes.entry.1.Name=c&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=r",
		"Attributes.entry.1.key=a&Attributes.entry.1.value=b&Attributes.entry.2.key=c",
		"L.member.2=x", "A=1&A.B=2", "%zz", "a=b&a=c", "&&&", "=x", "x.member.0=1", "M.entry.1.value=v",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := Parse(raw)
		if err != nil {
			var e *Error
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("Parse(%q) error = %#v, want *Error wrapping ErrMalformed", raw, err)
			}
			return
		}
		again, err := Parse(req.Encode())
		if err != nil {
			t.Fatalf("Parse(Encode(Parse(%q))): %v", raw, err)
		}
		if diff := cmp.Diff(req, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", raw, diff)
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("reading %q: %v is not ErrMalformed", raw, err)
			}
		}
		_, err = req.Form.Tree()
		check(err)
		for name := range req.Form {
			for _, n := range []string{name, prefixOf(name)} {
				_, err = req.Form.Members(n)
				check(err)
				_, err = req.Form.Structs(n)
				check(err)
				_, err = req.Form.Map(n)
				check(err)
				_, err = req.Form.StructMap(n, "Name", "Value")
				check(err)
			}
		}
	})
}

// prefixOf is the name's first segment (Tags of Tags.member.1.Key).
func prefixOf(name string) string {
	for i := range len(name) {
		if name[i] == '.' {
			return name[:i]
		}
	}
	return name
}
