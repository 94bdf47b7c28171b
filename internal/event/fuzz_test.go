package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fuzzSeeds adds a few real records of each set of the corpus and some
// hand-written shapes.
func fuzzSeeds(f *testing.F) {
	per := map[string]int{}
	for _, r := range realRecords(f) {
		if per[r.set] < 4 {
			per[r.set]++
			f.Add(r.raw)
		}
	}
	for _, s := range []string{
		`{}`,
		`{"eventTime":"2023-07-10T11:42:36Z","eventSource":"s","eventName":"n","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"123456789012"}`,
		`{"eventTime":"2019-10-17T10:05:00Z","awsRegion":"us-east-1","eventID":"e","eventType":"AwsCloudTrailInsight","recipientAccountId":"012345678901","insightDetails":{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}}`,
		`{"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","eventTime":"2021-10-27T12:13:14Z","awsRegion":"us-east-1","recipientAccountId":"123456789012","metadata":{"ingestionTime":"2021-10-27T12:13:20Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-4cde-8f01-23456789abcd"},"eventData":{"version":"1.0","UID":"req-42","userIdentity":{"type":"CustomUserIdentity","principalId":"alice","details":{"team":"ops"}},"eventTime":"2021-10-27T12:13:14Z","eventName":"Login","eventSource":"myapp.example.com","requestParameters":{"k":"v"},"recipientAccountId":"123456789012"}}`,
		`{"eventCategory":"ActivityAuditLog","eventID":"e","eventTime":"2021-10-27T12:13:14Z","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventData":{"eventName":"a","eventSource":null,"eventSource":"b"},"eventData":[]}`,
		`{"eventName":"","errorCode":null,"userIdentity":{"type":"Root","accessKeyId":null,"x":1},"resources":[null,{"ARN":"a","y":[]}],"tlsDetails":{"z":""}}`,
		`{"event\u004eame":"X","EventName":"Y","eventName":"Z","eventName":5}`,
		` { "a" : [ 1 , 2.5e3 , "\"\\" ] } `,
		`[1]`,
		`null`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse checks that Parse never panics, accepts only valid JSON, keeps
// the compact form, and is idempotent: parsing the bytes it keeps gives the
// same bytes and Summary. It also checks the hand-written member decoding
// against encoding/json.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Parse(data)

		var compact bytes.Buffer
		validJSON := json.Compact(&compact, data) == nil
		if validJSON && compact.Len() > 0 && compact.Bytes()[0] == '{' {
			b := compact.Bytes()
			want, wantErr := refDecode(b)
			var got summaryDoc
			gotErr := got.decode(b)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("decode error %v, encoding/json error %v", gotErr, wantErr)
			}
			if gotErr == nil {
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("decoded members (-encoding/json +Parse):\n%s", diff)
				}
			}
		}

		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			if _, ok := errors.AsType[*ValidationError](err); !ok {
				t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
			}
			return
		}
		if !validJSON {
			t.Fatalf("Parse accepted invalid JSON %q", data)
		}
		if !bytes.Equal(ev.Raw, compact.Bytes()) {
			t.Fatalf("Raw is not the compact input:\n got %q\nwant %q", ev.Raw, compact.Bytes())
		}
		if len(ev.Raw) > MaxRecordSize {
			t.Fatalf("accepted %d bytes", len(ev.Raw))
		}
		ev2, err := Parse(ev.Raw)
		if err != nil {
			t.Fatalf("Parse(Raw): %v", err)
		}
		if !bytes.Equal(ev.Raw, ev2.Raw) {
			t.Fatalf("Parse(Raw).Raw differs:\n%q\n%q", ev.Raw, ev2.Raw)
		}
		if diff := cmp.Diff(ev.Summary, ev2.Summary); diff != "" {
			t.Fatalf("Parse(Raw).Summary differs (-first +second):\n%s", diff)
		}
		// Every record Parse accepts can be read as a Record.
		var r Record
		if err := json.Unmarshal(ev.Raw, &r); err != nil {
			t.Fatalf("accepted record does not decode into Record: %v", err)
		}
	})
}

// FuzzRecordRoundTrip checks that a decoded Record encodes to the same JSON
// value it was decoded from, and that a second round trip is byte-identical
// to the first.
func FuzzRecordRoundTrip(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Record
		if err := json.Unmarshal(data, &r); err != nil {
			return
		}
		b1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		in, err := decodeAny(data)
		if err != nil {
			t.Fatalf("decoded as a Record but not as JSON: %v", err)
		}
		out, err := decodeAny(b1)
		if err != nil {
			t.Fatalf("Marshal wrote invalid JSON %q: %v", b1, err)
		}
		if diff := cmp.Diff(in, out); diff != "" {
			t.Fatalf("round trip changed the record (-in +out):\n%s", diff)
		}
		var r2 Record
		if err := json.Unmarshal(b1, &r2); err != nil {
			t.Fatalf("Unmarshal(Marshal): %v", err)
		}
		b2, err := json.Marshal(r2)
		if err != nil {
			t.Fatalf("Marshal again: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("second round trip differs:\n%s\n%s", b1, b2)
		}
	})
}
