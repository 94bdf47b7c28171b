package eventpattern

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/testenv"
)

// detailTypes maps a record's eventType to the detail-type of its
// EventBridge event (alerts.md §3.1).
var detailTypes = map[string]string{
	"AwsApiCall":       "AWS API Call via CloudTrail",
	"AwsConsoleSignIn": "AWS Console Sign In via CloudTrail",
	"AwsConsoleAction": "AWS Console Action via CloudTrail",
	"AwsServiceEvent":  "AWS Service Event via CloudTrail",
}

// envelope wraps a CloudTrail record as EventBridge delivers it to the
// default bus (alerts.md §3.2).
func envelope(tb testing.TB, rec []byte) []byte {
	tb.Helper()
	var r struct {
		EventID            string `json:"eventID"`
		EventSource        string `json:"eventSource"`
		EventType          string `json:"eventType"`
		EventTime          string `json:"eventTime"`
		AWSRegion          string `json:"awsRegion"`
		RecipientAccountID string `json:"recipientAccountId"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		tb.Fatalf("record: %v", err)
	}
	source, _, _ := strings.Cut(r.EventSource, ".")
	env := struct {
		Version    string          `json:"version"`
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}{"0", r.EventID, detailTypes[r.EventType], "aws." + source, r.RecipientAccountID, r.EventTime, r.AWSRegion, []string{}, rec}
	out, err := json.Marshal(env)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// sampleEvents returns the records of testdata/cloudtrail in envelopes,
// keyed by eventName.
func sampleEvents(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "cloudtrail", "invictus-records.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			EventName string `json:"eventName"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out[r.EventName] = envelope(t, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 8 {
		t.Fatalf("read %d sample records, want 8", len(out))
	}
	return out
}

// corpus returns every record of the repository's Invictus dataset (2,900
// real events) in envelopes.
func corpus(tb testing.TB) [][]byte {
	tb.Helper()
	dir := filepath.Join(testenv.CloudTrailData(tb), "invictus-ir-aws-dataset")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		var file struct {
			Records []json.RawMessage `json:"Records"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for _, r := range file.Records {
			out = append(out, envelope(tb, r))
		}
	}
	if len(out) != 2900 {
		tb.Fatalf("corpus has %d events, want 2900", len(out))
	}
	return out
}

// cloudTrailRules are rules as people write them for CloudTrail events,
// several from the CIS monitoring controls (alerts.md §6).
var cloudTrailRules = map[string]string{
	"console-login": `{"source":["aws.signin"],"detail-type":["AWS Console Sign In via CloudTrail"],"detail":{"eventName":["ConsoleLogin"]}}`,
	"console-login-no-mfa": `{"detail-type":["AWS Console Sign In via CloudTrail"],
		"detail":{"eventName":["ConsoleLogin"],"additionalEventData":{"MFAUsed":[{"anything-but":"Yes"}]}}}`,
	"iam-policy-changes": `{"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["iam.amazonaws.com"],
		"eventName":["DeleteGroupPolicy","DeleteRolePolicy","DeleteUserPolicy","PutGroupPolicy","PutRolePolicy","PutUserPolicy","CreatePolicy",
		"DeletePolicy","CreatePolicyVersion","DeletePolicyVersion","AttachRolePolicy","DetachRolePolicy","AttachUserPolicy","DetachUserPolicy",
		"AttachGroupPolicy","DetachGroupPolicy"]}}`,
	"iam-create-prefix":  `{"source":["aws.iam"],"detail":{"eventName":[{"prefix":"Create"}]}}`,
	"cloudtrail-changes": `{"source":["aws.cloudtrail"],"detail":{"eventName":["CreateTrail","UpdateTrail","DeleteTrail","StartLogging","StopLogging"]}}`,
	"s3-bucket-policy": `{"source":["aws.s3"],"detail":{"eventSource":["s3.amazonaws.com"],"eventName":["PutBucketAcl","PutBucketPolicy","PutBucketCors",
		"PutBucketLifecycle","PutBucketReplication","DeleteBucketPolicy","DeleteBucketCors","DeleteBucketLifecycle","DeleteBucketReplication"]}}`,
	"security-group-changes": `{"detail":{"eventName":["AuthorizeSecurityGroupIngress","AuthorizeSecurityGroupEgress","RevokeSecurityGroupIngress",
		"RevokeSecurityGroupEgress","CreateSecurityGroup","DeleteSecurityGroup"]}}`,
	"sg-open-to-world": `{"detail":{"eventName":["AuthorizeSecurityGroupIngress"],
		"requestParameters":{"ipPermissions":{"items":{"ipRanges":{"items":{"cidrIp":["0.0.0.0/0"]}}}}}}}`,
	"sg-low-port-open": `{"detail":{"eventName":["AuthorizeSecurityGroupIngress"],
		"requestParameters":{"ipPermissions":{"items":{"fromPort":[{"numeric":["<",1024]}],"ipProtocol":["tcp"]}}}}}`,
	"sg-port-and-cidr-same-rule": `{"detail":{"responseElements":{"securityGroupRuleSet":{"items":{"fromPort":[443],"cidrIpv4":["0.0.0.0/0"]}}}}}`,
	"unauthorized": `{"detail":{"$or":[{"errorCode":[{"suffix":"UnauthorizedOperation"}]},
		{"errorCode":[{"prefix":"AccessDenied"}],"sourceIPAddress":[{"anything-but":"delivery.logs.amazonaws.com"}],"eventName":[{"anything-but":"HeadBucket"}]}]}}`,
	"root-usage":     `{"detail":{"userIdentity":{"type":["Root"],"invokedBy":[{"exists":false}]},"eventType":[{"anything-but":"AwsServiceEvent"}]}}`,
	"service-events": `{"detail-type":["AWS Service Event via CloudTrail"]}`,
	"private-source": `{"detail":{"sourceIPAddress":[{"cidr":"192.168.0.0/16"}]}}`,
	"stratus-agent":  `{"detail":{"userAgent":[{"wildcard":"*stratus-red-team_*"}]}}`,
	"not-us-east-1":  `{"region":[{"anything-but":{"prefix":"us-east-"}}]}`,
	"secret-delete":  `{"source":["aws.secretsmanager"],"detail":{"eventName":[{"suffix":"Delete"}],"userIdentity":{"invokedBy":[{"exists":true}]}}}`,
	"kms-cmk":        `{"detail":{"eventSource":["kms.amazonaws.com"],"eventName":["DisableKey","ScheduleKeyDeletion"]}}`,
}

func TestCloudTrailEvents(t *testing.T) {
	events := sampleEvents(t)
	s := NewSet()
	for id, text := range cloudTrailRules {
		s.Add(id, mustParse(t, text))
	}
	want := map[string][]string{
		"ConsoleLogin":     {"console-login", "console-login-no-mfa", "private-source", "stratus-agent"},
		"AttachUserPolicy": {"iam-policy-changes", "private-source", "stratus-agent"},
		"CreateAccessKey":  {"iam-create-prefix", "private-source", "stratus-agent"},
		"DeleteTrail":      {"cloudtrail-changes", "private-source"},
		"PutBucketPolicy":  {"s3-bucket-policy", "private-source", "stratus-agent"},
		"AuthorizeSecurityGroupIngress": {"security-group-changes", "sg-low-port-open", "sg-open-to-world",
			"sg-port-and-cidr-same-rule", "private-source", "stratus-agent"},
		"AssumeRole":               {"unauthorized", "private-source", "stratus-agent"},
		"StartSecretVersionDelete": {"secret-delete", "service-events"},
	}
	for name, ev := range events {
		t.Run(name, func(t *testing.T) {
			got, err := s.Match(ev)
			if err != nil {
				t.Fatal(err)
			}
			w := append([]string(nil), want[name]...)
			sortStrings(w)
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("rules matched (-want +got):\n%s\nevent: %s", diff, ev)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
