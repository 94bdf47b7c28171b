package awsquery

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    Request
		wantErr bool
	}{
		{"create topic", "Action=CreateTopic&Version=2010-03-31&Name=t1",
			Request{Action: "CreateTopic", Version: "2010-03-31", Form: Form{"Name": "t1"}}, false},
		{"escapes and plus", "Action=Publish&Message=a+b%26c%3D&Subject=%E2%9C%93",
			Request{Action: "Publish", Form: Form{"Message": "a b&c=", "Subject": "✓"}}, false},
		{"empty pairs and value", "&&Action=ListTopics&NextToken=&",
			Request{Action: "ListTopics", Form: Form{"NextToken": ""}}, false},
		{"no equals sign", "Action=X&Flag", Request{Action: "X", Form: Form{"Flag": ""}}, false},
		{"empty", "", Request{Form: Form{}}, false},
		{"duplicate", "Name=a&Name=b", Request{}, true},
		{"duplicate action", "Action=a&Action=b", Request{}, true},
		{"bad escape in value", "Name=%zz", Request{}, true},
		{"bad escape in name", "%zz=1", Request{}, true},
		{"empty name", "=1", Request{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.raw)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%q) error = %v, want ErrMalformed", tc.raw, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.raw, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func TestShapes(t *testing.T) {
	f := Form{
		"Tags.member.1.Key": "k1", "Tags.member.1.Value": "v1",
		"Tags.member.2.Key": "k2", "Tags.member.2.Value": "v2",
		"TagKeys.member.1": "a", "TagKeys.member.2": "b",
		"Attributes.entry.1.key": "DisplayName", "Attributes.entry.1.value": "Mine",
		"Attributes.entry.2.key": "Policy", "Attributes.entry.2.value": "{}",
		"MessageAttributes.entry.1.Name": "color", "MessageAttributes.entry.1.Value.DataType": "String",
		"MessageAttributes.entry.1.Value.StringValue": "red",
		"Nested.A": "1", "Nested.B.C": "2",
		"Name": "t1",
	}
	members, err := f.Members("TagKeys")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, members); diff != "" {
		t.Errorf("Members (-want +got):\n%s", diff)
	}
	structs, err := f.Structs("Tags")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Form{{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}}, structs); diff != "" {
		t.Errorf("Structs (-want +got):\n%s", diff)
	}
	m, err := f.Map("Attributes")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"DisplayName": "Mine", "Policy": "{}"}, m); diff != "" {
		t.Errorf("Map (-want +got):\n%s", diff)
	}
	sm, err := f.StructMap("MessageAttributes", "Name", "Value")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]Form{"color": {"DataType": "String", "StringValue": "red"}}, sm); diff != "" {
		t.Errorf("StructMap (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Form{"A": "1", "B.C": "2"}, f.Sub("Nested")); diff != "" {
		t.Errorf("Sub (-want +got):\n%s", diff)
	}
	if got, _ := f.Members("Missing"); got != nil {
		t.Errorf("Members(Missing) = %v, want nil", got)
	}
	if !f.Has("Nested") || f.Has("Nest") || !f.Has("Name") {
		t.Errorf("Has is wrong")
	}
	tree, err := f.Tree()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Tags":              []any{map[string]any{"Key": "k1", "Value": "v1"}, map[string]any{"Key": "k2", "Value": "v2"}},
		"TagKeys":           []any{"a", "b"},
		"Attributes":        map[string]any{"DisplayName": "Mine", "Policy": "{}"},
		"MessageAttributes": map[string]any{"color": map[string]any{"DataType": "String", "StringValue": "red"}},
		"Nested":            map[string]any{"A": "1", "B": map[string]any{"C": "2"}},
		"Name":              "t1",
	}
	if diff := cmp.Diff(want, tree); diff != "" {
		t.Errorf("Tree (-want +got):\n%s", diff)
	}
}

func TestShapeErrors(t *testing.T) {
	tests := []struct {
		name string
		f    Form
		read func(Form) error
	}{
		{"gap", Form{"L.member.1": "a", "L.member.3": "c"}, func(f Form) error { _, err := f.Members("L"); return err }},
		{"zero index", Form{"L.member.0": "a"}, func(f Form) error { _, err := f.Members("L"); return err }},
		{"leading zero", Form{"L.member.01": "a"}, func(f Form) error { _, err := f.Members("L"); return err }},
		{"not a number", Form{"L.member.x": "a"}, func(f Form) error { _, err := f.Members("L"); return err }},
		{"no index", Form{"L.member": "a"}, func(f Form) error { _, err := f.Members("L"); return err }},
		{"struct where scalar", Form{"L.member.1.K": "a"}, func(f Form) error { _, err := f.Members("L"); return err }},
		{"scalar where struct", Form{"L.member.1": "a"}, func(f Form) error { _, err := f.Structs("L"); return err }},
		{"entry without key", Form{"M.entry.1.value": "a"}, func(f Form) error { _, err := f.Map("M"); return err }},
		{"duplicate key", Form{"M.entry.1.key": "a", "M.entry.2.key": "a"}, func(f Form) error { _, err := f.Map("M"); return err }},
		{"stray entry field", Form{"M.entry.1.key": "a", "M.entry.1.other": "b"}, func(f Form) error { _, err := f.Map("M"); return err }},
		{"tree scalar and struct", Form{"A": "1", "A.B": "2"}, func(f Form) error { _, err := f.Tree(); return err }},
		{"tree list and struct", Form{"A.member.1": "1", "A.B": "2"}, func(f Form) error { _, err := f.Tree(); return err }},
		{"tree gap", Form{"A.member.2": "1"}, func(f Form) error { _, err := f.Tree(); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read(tc.f)
			var e *Error
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error = %v, want an *Error wrapping ErrMalformed", err)
			}
		})
	}
}

func TestEncodeResult(t *testing.T) {
	type result struct {
		TopicArn string   `xml:"TopicArn"`
		Topics   []string `xml:"Topics>member>TopicArn"`
		Attrs    []Entry  `xml:"Attributes>entry"`
	}
	b, err := EncodeResult("http://sns.amazonaws.com/doc/2010-03-31/", "CreateTopic", "req-1",
		result{TopicArn: "arn:a<b", Topics: []string{"x"}, Attrs: Entries(map[string]string{"b": "2", "a": "1"})})
	if err != nil {
		t.Fatal(err)
	}
	want := `<CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>arn:a&lt;b</TopicArn>` +
		`<Topics><member><TopicArn>x</TopicArn></member></Topics><Attributes><entry><key>a</key><value>1</value></entry>` +
		`<entry><key>b</key><value>2</value></entry></Attributes></CreateTopicResult>` +
		`<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateTopicResponse>`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("EncodeResult (-want +got):\n%s", diff)
	}
	b, err = EncodeResult("ns", "DeleteTopic", "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	want = `<DeleteTopicResponse xmlns="ns"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteTopicResponse>`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("EncodeResult without result (-want +got):\n%s", diff)
	}
}

func TestEncodeError(t *testing.T) {
	got := string(EncodeError("http://sns.amazonaws.com/doc/2010-03-31/",
		ErrorDetail{Type: "Sender", Code: "NotFound", Message: "Topic does not exist"}, "r1"))
	want := `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code>` +
		`<Message>Topic does not exist</Message></Error><RequestId>r1</RequestId></ErrorResponse>`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EncodeError (-want +got):\n%s", diff)
	}
}
