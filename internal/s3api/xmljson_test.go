package s3api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestXMLToJSON(t *testing.T) {
	const ns = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`
	tests := []struct {
		name     string
		in       string
		wantName string
		want     string // "" when not converted
	}{
		{"versioning (observed)", `<VersioningConfiguration ` + ns + `><Status>Enabled</Status></VersioningConfiguration>`,
			"VersioningConfiguration", `{"Status":"Enabled","xmlns":"http://s3.amazonaws.com/doc/2006-03-01/"}`},
		{"location with declaration and whitespace", `<?xml version="1.0" encoding="UTF-8"?>
<CreateBucketConfiguration ` + ns + `>
  <LocationConstraint>eu-west-1</LocationConstraint>
</CreateBucketConfiguration>`,
			"CreateBucketConfiguration", `{"LocationConstraint":"eu-west-1","xmlns":"http://s3.amazonaws.com/doc/2006-03-01/"}`},
		{"typed numbers and booleans", `<LifecycleConfiguration><Rule><Expiration><Days>1</Days></Expiration><Enabled>true</Enabled>` +
			`<Big>1234567890123456</Big><Lead>007</Lead><Neg>-3</Neg></Rule></LifecycleConfiguration>`,
			"LifecycleConfiguration", `{"Rule":{"Expiration":{"Days":1},"Enabled":true,"Big":"1234567890123456","Lead":"007","Neg":-3}}`},
		{"repeated elements are an array", `<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>x</Value></Tag></TagSet></Tagging>`,
			"Tagging", `{"TagSet":{"Tag":[{"Key":"a","Value":1},{"Key":"b","Value":"x"}]}}`},
		{"empty element", `<CreateBucketConfiguration ` + ns + `/>`,
			"CreateBucketConfiguration", `{"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/"}`},
		{"empty text", `<A><B></B></A>`, "A", `{"B":""}`},
		{"text beside children is dropped", `<A>x<B>y</B>z</A>`, "A", `{"B":"y"}`},
		{"prefixed attributes are dropped", `<AccessControlPolicy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
			`<Grantee xsi:type="CanonicalUser"><ID>1</ID></Grantee></AccessControlPolicy>`,
			"AccessControlPolicy", `{"Grantee":{"ID":1}}`},
		{"escapes", `<A><B>&lt;"x"&amp;</B></A>`, "A", `{"B":"<\"x\"&"}`},
		{"not XML", `{"json": true}`, "", ""},
		{"two roots", `<A/><B/>`, "", ""},
		{"unclosed", `<A><B></A>`, "", ""},
		{"doctype", `<!DOCTYPE A [<!ENTITY x "y">]><A>&x;</A>`, "", ""},
		{"too deep", strings.Repeat("<a>", xmlMaxDepth+1) + strings.Repeat("</a>", xmlMaxDepth+1), "", ""},
		{"as deep as allowed", strings.Repeat("<a>", xmlMaxDepth) + strings.Repeat("</a>", xmlMaxDepth), "a",
			strings.Repeat(`{"a":`, xmlMaxDepth-1) + `""` + strings.Repeat("}", xmlMaxDepth-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, got, ok := xmlToJSON([]byte(tt.in))
			if ok != (tt.want != "") || name != tt.wantName || string(got) != tt.want {
				t.Errorf("xmlToJSON = %q, %s, %v; want %q, %s", name, got, ok, tt.wantName, tt.want)
			}
		})
	}
}

// FuzzXMLToJSON: any body converts to valid JSON or is refused; never a
// panic.
func FuzzXMLToJSON(f *testing.F) {
	for _, s := range []string{
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`,
		`<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>x</Value></Tag></TagSet></Tagging>`,
		`<A b="c">-0</A>`, `<A>`, `</A>`, `<A/><B/>`, "<A>\xff</A>", `<!DOCTYPE A><A/>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		name, v, ok := xmlToJSON(doc)
		if !ok {
			return
		}
		if name == "" || !json.Valid(v) {
			t.Fatalf("xmlToJSON(%q) = %q, %s", doc, name, v)
		}
	})
}
