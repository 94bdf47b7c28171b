package event

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkFromRecord decodes raw into a Record and checks that FromRecord of
// it equals Parse of its encoding: same bytes, same Summary, same verdict.
func checkFromRecord(t *testing.T, raw []byte) {
	t.Helper()
	var rec Record
	if json.Unmarshal(raw, &rec) != nil {
		return
	}
	enc, err := json.Marshal(&rec)
	if err != nil {
		return
	}
	want, werr := Parse(enc)
	got, gerr := FromRecord(&rec)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("FromRecord error %v, Parse error %v\nrecord %s", gerr, werr, enc)
	}
	if werr != nil {
		if werr.Error() != gerr.Error() {
			t.Fatalf("FromRecord error %q, Parse error %q", gerr, werr)
		}
		return
	}
	if string(got.Raw) != string(want.Raw) {
		t.Fatalf("Raw differs:\n got %s\nwant %s", got.Raw, want.Raw)
	}
	if diff := cmp.Diff(want.Summary, got.Summary); diff != "" {
		t.Fatalf("Summary (-Parse +FromRecord):\n%s\nrecord %s", diff, enc)
	}
}

// FromRecord agrees with Parse on every real record (typed the way code
// builds them) and on hand-written shapes.
func TestFromRecordMatchesParse(t *testing.T) {
	recs := realRecords(t)
	typed := 0
	for _, r := range recs {
		var rec Record
		if json.Unmarshal(r.raw, &rec) == nil && len(rec.Extra) == 0 {
			typed++
		}
		checkFromRecord(t, r.raw)
	}
	if typed < 100 {
		t.Fatalf("only %d real records decode without Extra members: the typed path is not exercised", typed)
	}
	for _, s := range []string{
		`{"eventVersion":"1.11","eventTime":"2026-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"CreateBucket","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"123456789012","requestParameters":{"bucketName":"b","Host":"h"},"readOnly":false,"managementEvent":true,"eventCategory":"Management"}`,
		`{"eventTime":"2026-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"e","userIdentity":{"type":"Root","accountId":"123456789012","accessKeyId":"AKIA"}}`,
		`{"eventTime":"2019-10-17T10:05:00Z","awsRegion":"us-east-1","eventID":"e","eventType":"AwsCloudTrailInsight","recipientAccountId":"012345678901","insightDetails":{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}}`,
		`{"eventTime":"2019-10-17T10:05:00Z","awsRegion":"us-east-1","eventID":"e","eventType":"AwsCloudTrailInsight","recipientAccountId":"012345678901","insightDetails":null}`,
		`{"eventTime":"bad","eventSource":"s","eventName":"n","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"123456789012"}`,
		`{"eventTime":"2026-01-01T00:00:00Z","eventSource":"s","eventName":"n","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"123456789012","requestParameters":[{"bucketName":"x"}],"resources":[{"ARNPrefix":"p","type":"T"},{}]}`,
	} {
		checkFromRecord(t, []byte(s))
	}
}

func FuzzFromRecord(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { checkFromRecord(t, data) })
}

// checkParseStored checks that ParseStored of what Parse accepted (the
// bytes a store keeps) gives the same event: what followers get when they
// read the WAL back.
func checkParseStored(t *testing.T, raw []byte) {
	t.Helper()
	want, err := Parse(raw)
	if err != nil {
		return
	}
	got, err := ParseStored(want.Raw)
	if err != nil {
		t.Fatalf("ParseStored refuses what Parse accepted: %v\nrecord %s", err, want.Raw)
	}
	if string(got.Raw) != string(want.Raw) {
		t.Fatalf("Raw differs:\n got %s\nwant %s", got.Raw, want.Raw)
	}
	if diff := cmp.Diff(want.Summary, got.Summary); diff != "" {
		t.Fatalf("Summary (-Parse +ParseStored):\n%s\nrecord %s", diff, want.Raw)
	}
}

// ParseStored agrees with Parse on every real record.
func TestParseStoredMatchesParse(t *testing.T) {
	for _, r := range realRecords(t) {
		checkParseStored(t, r.raw)
	}
}

func FuzzParseStored(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { checkParseStored(t, data) })
}
