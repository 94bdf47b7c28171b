package event

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRecordRoundTripRealData checks that every real record survives
// decoding into Record and encoding again with no member lost or changed.
func TestRecordRoundTripRealData(t *testing.T) {
	recs := realRecords(t)
	for _, set := range []string{"invictus", "traildiscover", "otrf"} {
		t.Run(set, func(t *testing.T) {
			failures := 0
			for _, rr := range recs {
				if rr.set != set {
					continue
				}
				var r Record
				if err := json.Unmarshal(rr.raw, &r); err != nil {
					t.Errorf("%s: unmarshal: %v", rr.name, err)
					continue
				}
				out, err := json.Marshal(r)
				if err != nil {
					t.Errorf("%s: marshal: %v", rr.name, err)
					continue
				}
				if diff := cmp.Diff(jsonValue(t, rr.raw), jsonValue(t, out)); diff != "" {
					t.Errorf("%s: round trip changed the record (-in +out):\n%s", rr.name, diff)
					if failures++; failures == 5 {
						t.Fatal("too many failures")
					}
				}
			}
		})
	}
}

// TestRecordRoundTripEdgeCases covers shapes the typed fields cannot carry
// on their own; Extra keeps them so that nothing is lost.
func TestRecordRoundTripEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty object", `{}`},
		{"empty string members", `{"eventName":"","errorCode":"","errorMessage":"","userAgent":""}`},
		{"null string members", `{"errorCode":null,"errorMessage":null,"apiVersion":null}`},
		{"null pointer members", `{"userIdentity":null,"readOnly":null,"managementEvent":null,"tlsDetails":null,"resources":null}`},
		{"null raw members", `{"requestParameters":null,"responseElements":null,"additionalEventData":null}`},
		{"empty resources", `{"resources":[]}`},
		{"booleans false", `{"readOnly":false,"managementEvent":false}`},
		{"number where a string belongs", `{"eventID":123,"recipientAccountId":123456789012,"awsRegion":1.50}`},
		{"string where a boolean belongs", `{"readOnly":"true","managementEvent":"false"}`},
		{"object where a string belongs", `{"eventName":{"a":1},"userAgent":["x"]}`},
		{"userIdentity not an object", `{"userIdentity":"someone"}`},
		{"userIdentity members empty or null", `{"userIdentity":{"type":"IAMUser","userName":"","arn":null,"accessKeyId":"","invokedBy":5}}`},
		{"userIdentity accessKeyId null", `{"userIdentity":{"accessKeyId":null}}`},
		{"userIdentity unknown members", `{"userIdentity":{"type":"X","newThing":{"a":[1,2]},"zz":null}}`},
		{"resources element with unknown member", `{"resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket","newMember":"x"}]}`},
		{"resources element with empty ARN", `{"resources":[{"ARN":"","accountId":"111111111111"}]}`},
		{"resources element null", `{"resources":[null,{"ARN":"a"}]}`},
		{"resources not an array", `{"resources":{"ARN":"a"}}`},
		{"resources element wrong type", `{"resources":[{"ARN":5}]}`},
		{"tlsDetails extra member", `{"tlsDetails":{"tlsVersion":"TLSv1.3","keyExchange":"x25519"}}`},
		{"tlsDetails empty member", `{"tlsDetails":{"tlsVersion":"","cipherSuite":"c"}}`},
		{"unknown members", `{"zeta":1,"alpha":{"b":[true,null]},"eventName":"X"}`},
		{"escaped strings", `{"eventName":"a\"b\\c\u00e9\n","userAgent":"<script>&"}`},
		{"numbers kept as written", `{"requestParameters":{"n":1.0,"m":1e3,"big":12345678901234567890123}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := json.Unmarshal([]byte(tt.in), &r); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if diff := cmp.Diff(jsonValue(t, []byte(tt.in)), jsonValue(t, out)); diff != "" {
				t.Errorf("round trip changed the record (-in +out):\n%s\nout: %s", diff, out)
			}
			var r2 Record
			if err := json.Unmarshal(out, &r2); err != nil {
				t.Fatalf("unmarshal again: %v", err)
			}
			out2, err := json.Marshal(r2)
			if err != nil {
				t.Fatalf("marshal again: %v", err)
			}
			if !bytes.Equal(out, out2) {
				t.Errorf("second round trip differs:\n%s\n%s", out, out2)
			}
		})
	}
}

// TestRecordUnmarshalTyped checks the typed view of a decoded record,
// including which members Extra keeps.
func TestRecordUnmarshalTyped(t *testing.T) {
	ro, key := true, ""
	tests := []struct {
		name string
		in   string
		want Record
	}{
		{
			name: "typical",
			in: `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"123456789012","accessKeyId":"","userName":"alice"},` +
				`"eventTime":"2023-07-10T11:42:36Z","eventName":"ListBuckets","requestParameters":{"a":1},"responseElements":null,` +
				`"readOnly":true,"resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}],"tlsDetails":{"tlsVersion":"TLSv1.2"},"custom":[1]}`,
			want: Record{
				EventVersion:      "1.08",
				UserIdentity:      &UserIdentity{Type: "IAMUser", AccountID: "123456789012", AccessKeyID: &key, UserName: "alice"},
				EventTime:         "2023-07-10T11:42:36Z",
				EventName:         "ListBuckets",
				RequestParameters: json.RawMessage(`{"a":1}`),
				ResponseElements:  json.RawMessage(`null`),
				ReadOnly:          &ro,
				Resources:         []Resource{{ARN: "arn:aws:s3:::b", Type: "AWS::S3::Bucket"}},
				TLSDetails:        &TLSDetails{TLSVersion: "TLSv1.2"},
				Extra:             map[string]json.RawMessage{"custom": json.RawMessage(`[1]`)},
			},
		},
		{
			name: "empty and null strings kept in Extra",
			in:   `{"eventName":"","errorCode":null}`,
			want: Record{Extra: map[string]json.RawMessage{"eventName": json.RawMessage(`""`), "errorCode": json.RawMessage(`null`)}},
		},
		{
			name: "wrong JSON type kept in Extra, field left zero",
			in:   `{"readOnly":"true","eventID":42}`,
			want: Record{Extra: map[string]json.RawMessage{"readOnly": json.RawMessage(`"true"`), "eventID": json.RawMessage(`42`)}},
		},
		{
			name: "resources with an unknown member: typed and kept",
			in:   `{"resources":[{"ARN":"a","x":1}]}`,
			want: Record{
				Resources: []Resource{{ARN: "a"}},
				Extra:     map[string]json.RawMessage{"resources": json.RawMessage(`[{"ARN":"a","x":1}]`)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Record
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordUnmarshalErrors(t *testing.T) {
	for _, in := range []string{`null`, `[]`, `"x"`, `1`, `{"a":}`, `{`} {
		t.Run(in, func(t *testing.T) {
			var r Record
			if err := r.UnmarshalJSON([]byte(in)); err == nil {
				t.Errorf("UnmarshalJSON(%s) = nil error, record %+v", in, r)
			}
		})
	}
}

// TestRecordEditAfterUnmarshal checks that a typed field set after decoding
// wins over the JSON Extra kept for the same member, and that clearing a
// field removes the member.
func TestRecordEditAfterUnmarshal(t *testing.T) {
	tests := []struct {
		name string
		in   string
		edit func(*Record)
		want string
	}{
		{"set a null string", `{"errorCode":null}`, func(r *Record) { r.ErrorCode = "Boom" }, `{"errorCode":"Boom"}`},
		{"leave a null string", `{"errorCode":null}`, func(*Record) {}, `{"errorCode":null}`},
		{"clear a string", `{"errorCode":"Boom","eventName":"X"}`, func(r *Record) { r.ErrorCode = "" }, `{"eventName":"X"}`},
		{"set a mistyped boolean", `{"readOnly":"yes"}`, func(r *Record) { r.ReadOnly = new(false) }, `{"readOnly":false}`},
		{"change resources kept for an unknown member", `{"resources":[{"ARN":"a","x":1}]}`,
			func(r *Record) { r.Resources[0].ARN = "b" }, `{"resources":[{"ARN":"b"}]}`},
		{"keep resources with an unknown member", `{"resources":[{"ARN":"a","x":1}]}`,
			func(*Record) {}, `{"resources":[{"ARN":"a","x":1}]}`},
		{"set userIdentity that was null", `{"userIdentity":null}`,
			func(r *Record) { r.UserIdentity = &UserIdentity{Type: "Root"} }, `{"userIdentity":{"type":"Root"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := json.Unmarshal([]byte(tt.in), &r); err != nil {
				t.Fatal(err)
			}
			tt.edit(&r)
			got, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// awsOrder is the member order of event-record.md §1.
var awsOrder = []string{
	"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
	"sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
	"responseElements", "additionalEventData", "requestID", "eventID", "readOnly",
	"resources", "eventType", "apiVersion", "managementEvent", "recipientAccountId",
	"sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "serviceEventDetails",
	"eventCategory", "addendum", "tlsDetails", "sessionCredentialFromConsole", "eventContext",
}

// fullRecord is a record built in code with every member set.
func fullRecord() Record {
	return Record{
		EventVersion: Version,
		UserIdentity: &UserIdentity{
			Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: "arn:aws:iam::123456789012:user/Alice",
			AccountID: "123456789012", AccessKeyID: new("AKIAEXAMPLE"), UserName: "Alice",
			SessionContext: json.RawMessage(`{}`), InvokedBy: "signin.amazonaws.com", IdentityProvider: "idp",
			OnBehalfOf: json.RawMessage(`{}`), InScopeOf: json.RawMessage(`{}`), CredentialID: "cred",
			Extra: map[string]json.RawMessage{"zzz": json.RawMessage(`1`)},
		},
		EventTime:                    "2019-06-19T00:18:31Z",
		EventSource:                  "cloudtrail.amazonaws.com",
		EventName:                    "StartLogging",
		AWSRegion:                    "us-east-2",
		SourceIPAddress:              "203.0.113.64",
		UserAgent:                    "aws-cli/2",
		ErrorCode:                    "E",
		ErrorMessage:                 "M",
		RequestParameters:            json.RawMessage(`{"name":"t"}`),
		ResponseElements:             json.RawMessage(`null`),
		AdditionalEventData:          json.RawMessage(`{}`),
		RequestID:                    "req",
		EventID:                      "7116c6a1-0000-4000-8000-000000000000",
		ReadOnly:                     new(false),
		Resources:                    []Resource{{ARN: "arn:aws:cloudtrail:us-east-2:123456789012:trail/t", AccountID: "123456789012", Type: "AWS::CloudTrail::Trail"}},
		EventType:                    TypeAPICall,
		APIVersion:                   "2013-11-01",
		ManagementEvent:              new(true),
		RecipientAccountID:           "123456789012",
		SharedEventID:                "shared",
		VpcEndpointID:                "vpce-1",
		VpcEndpointAccountID:         "123456789012",
		ServiceEventDetails:          json.RawMessage(`{}`),
		EventCategory:                CategoryMgmt,
		Addendum:                     json.RawMessage(`{"reason":"DELIVERY_DELAY"}`),
		TLSDetails:                   &TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "h"},
		SessionCredentialFromConsole: "true",
		EdgeDeviceDetails:            json.RawMessage(`{}`),
		EventContext:                 json.RawMessage(`{}`),
		InsightDetails:               json.RawMessage(`{}`),
		Extra:                        map[string]json.RawMessage{"zNew": json.RawMessage(`2`), "aNew": json.RawMessage(`3`)},
	}
}

// memberOrder returns the top-level member names of a JSON object in order.
func memberOrder(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var names []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Token(); err != io.EOF {
		t.Fatalf("trailing data after object: %v", err)
	}
	return names
}

func TestRecordMarshalOrder(t *testing.T) {
	b, err := json.Marshal(fullRecord())
	if err != nil {
		t.Fatal(err)
	}
	// AWS order for the members §1 lists; edgeDeviceDetails, which §1 does
	// not place, goes before eventContext; insightDetails last; then Extra
	// by name.
	var want []string
	for _, n := range awsOrder {
		if n == "eventContext" {
			want = append(want, "edgeDeviceDetails")
		}
		want = append(want, n)
	}
	want = append(want, "insightDetails", "aNew", "zNew")
	if diff := cmp.Diff(want, memberOrder(t, b)); diff != "" {
		t.Errorf("member order (-want +got):\n%s", diff)
	}

	var ui map[string]json.RawMessage
	if err := json.Unmarshal(b, &ui); err != nil {
		t.Fatal(err)
	}
	wantUI := []string{"type", "principalId", "arn", "accountId", "accessKeyId", "userName", "sessionContext",
		"invokedBy", "identityProvider", "onBehalfOf", "inScopeOf", "credentialId", "zzz"}
	if diff := cmp.Diff(wantUI, memberOrder(t, ui["userIdentity"])); diff != "" {
		t.Errorf("userIdentity member order (-want +got):\n%s", diff)
	}
}

// TestRecordMarshalBuiltInCode checks that zero fields of a record built in
// code are left out, while set pointers to zero values are written.
func TestRecordMarshalBuiltInCode(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"zero", Record{}, `{}`},
		{"StartLogging", Record{
			EventVersion:       "1.05",
			UserIdentity:       &UserIdentity{Type: "IAMUser", UserName: "Mary_Major"},
			EventTime:          FormatTime(time.Date(2019, 6, 19, 0, 18, 31, 0, time.UTC)),
			EventSource:        "cloudtrail.amazonaws.com",
			EventName:          "StartLogging",
			RequestParameters:  json.RawMessage(`{"name":"t"}`),
			ResponseElements:   json.RawMessage(`null`),
			ReadOnly:           new(false),
			EventType:          TypeAPICall,
			RecipientAccountID: "123456789012",
		}, `{"eventVersion":"1.05","userIdentity":{"type":"IAMUser","userName":"Mary_Major"},"eventTime":"2019-06-19T00:18:31Z",` +
			`"eventSource":"cloudtrail.amazonaws.com","eventName":"StartLogging","requestParameters":{"name":"t"},"responseElements":null,` +
			`"readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"123456789012"}`},
		{"empty access key written", Record{UserIdentity: &UserIdentity{AccessKeyID: new("")}}, `{"userIdentity":{"accessKeyId":""}}`},
		{"empty resources written", Record{Resources: []Resource{}}, `{"resources":[]}`},
		{"Extra naming a known member goes in its place", Record{
			EventName: "X",
			Extra:     map[string]json.RawMessage{"errorCode": json.RawMessage(`null`), "a": json.RawMessage(`1`)},
		}, `{"eventName":"X","errorCode":null,"a":1}`},
		{"typed value wins over a different Extra value", Record{
			EventName: "X",
			Extra:     map[string]json.RawMessage{"eventName": json.RawMessage(`"Y"`)},
		}, `{"eventName":"X"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"utc", time.Date(2023, 7, 10, 11, 42, 36, 0, time.UTC), "2023-07-10T11:42:36Z"},
		{"fraction dropped", time.Date(2023, 7, 10, 11, 42, 36, 999_999_999, time.UTC), "2023-07-10T11:42:36Z"},
		{"converted to UTC", time.Date(2023, 7, 10, 13, 42, 36, 0, time.FixedZone("CEST", 2*3600)), "2023-07-10T11:42:36Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatTime(tt.in); got != tt.want {
				t.Errorf("FormatTime = %q, want %q", got, tt.want)
			}
		})
	}
}
