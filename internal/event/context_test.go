package event_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

func ExampleEnrich() {
	rec := []byte(`{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2026-12-06T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"ListTrails","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/1.45"}`)
	tags := func(key string) map[string]string {
		if key == "AKIAEXAMPLE" {
			return map[string]string{"team": "sec"}
		}
		return nil
	}
	out := event.Enrich(rec, []string{"aws:SourceIp", "aws:PrincipalTag/team", "aws:PrincipalTag/cost", "aws:SourceVpce"}, tags)
	var r struct {
		EventContext json.RawMessage `json:"eventContext"`
	}
	_ = json.Unmarshal(out, &r)
	fmt.Println(string(r.EventContext))
	// Output: {"requestContext":{"aws:SourceIp":"198.51.100.7","aws:PrincipalTag/team":"sec"}}
}

func TestEnrichKeys(t *testing.T) {
	rec := `{"userIdentity":{"type":"AssumedRole","principalId":"AROA:s","arn":"arn:aws:sts::123456789012:assumed-role/r/s","accountId":"123456789012","invokedBy":"lambda.amazonaws.com","sessionContext":{"attributes":{"creationDate":"2026-12-06T09:00:00Z","mfaAuthenticated":"false"},"sessionIssuer":{"arn":"arn:aws:iam::123456789012:role/r"}}},"eventTime":"2026-12-06T10:00:00Z","awsRegion":"eu-west-1","sourceIPAddress":"lambda.amazonaws.com","userAgent":"ua","vpcEndpointId":"vpce-1","tlsDetails":{"tlsVersion":"TLSv1.3"}}`
	want := map[string]string{
		"aws:CurrentTime":            "2026-12-06T10:00:00Z",
		"aws:EpochTime":              "1796551200",
		"aws:MultiFactorAuthPresent": "false",
		"aws:PrincipalAccount":       "123456789012",
		"aws:PrincipalArn":           "arn:aws:iam::123456789012:role/r",
		"aws:PrincipalType":          "AssumedRole",
		"aws:RequestedRegion":        "eu-west-1",
		"aws:SecureTransport":        "true",
		"aws:SourceVpce":             "vpce-1",
		"aws:TokenIssueTime":         "2026-12-06T09:00:00Z",
		"aws:UserAgent":              "ua",
		"aws:userid":                 "AROA:s",
		"aws:ViaAWSService":          "true",
	}
	out := event.Enrich([]byte(rec), event.RequestContextKeys(), nil)
	var r struct {
		EventContext struct {
			RequestContext map[string]string `json:"requestContext"`
		} `json:"eventContext"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("enriched record is not JSON: %v\n%s", err, out)
	}
	got := r.EventContext.RequestContext
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s = %q (aws:SourceIp of a service and aws:username of a role have no value)", k, got[k])
		}
	}
	if len(want) != len(event.RequestContextKeys())-2 {
		t.Errorf("the test covers %d of %d keys", len(want)+2, len(event.RequestContextKeys()))
	}
}

func TestEnrichLeavesRecord(t *testing.T) {
	for _, rec := range []string{
		`{"eventTime":"x","eventContext":{"requestContext":{}}}`, // already enriched
		`{"awsRegion":""}`, // nothing to add
		`not json}`,
	} {
		if got := event.Enrich([]byte(rec), event.RequestContextKeys(), nil); string(got) != rec {
			t.Errorf("Enrich(%s) = %s, want it unchanged", rec, got)
		}
	}
}

func TestCanonicalContextKey(t *testing.T) {
	for in, want := range map[string]string{
		"AWS:SOURCEIP": "aws:SourceIp", "aws:sourceip": "aws:SourceIp",
		"aws:principaltag/Team": "aws:PrincipalTag/Team", "aws:USERID": "aws:userid",
	} {
		if got, ok := event.CanonicalContextKey(in); !ok || got != want {
			t.Errorf("CanonicalContextKey(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"aws:PrincipalTag/", "aws:CalledVia", "ec2:InstanceType", ""} {
		if got, ok := event.CanonicalContextKey(in); ok {
			t.Errorf("CanonicalContextKey(%q) = %q, want unsupported", in, got)
		}
	}
	if !slices.IsSorted(event.RequestContextKeys()[:3]) {
		t.Error("keys are listed out of order")
	}
}

func FuzzEnrich(f *testing.F) {
	f.Add([]byte(`{"userIdentity":{"type":"IAMUser","accessKeyId":"K","userName":"u"},"sourceIPAddress":"::1","eventTime":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"eventContext":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := event.Enrich(raw, append(event.RequestContextKeys(), "aws:PrincipalTag/t"), func(string) map[string]string { return map[string]string{"t": "v\"<"} })
		if string(out) == string(raw) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Enrich(%q) = %q: not JSON", raw, out)
		}
	})
}
