package auditapi_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auditapi"
)

func ExampleRecord() {
	rec := auditapi.Record(auditapi.RecordFields{
		EventID:       "5b7c2f3e-9a0d-4e6b-8c1f-0a2b3c4d5e6f",
		EventTime:     time.Date(2021, 10, 27, 12, 13, 14, 0, time.UTC),
		Region:        "us-east-1",
		Account:       "123456789012",
		IngestionTime: time.Date(2026, 12, 6, 10, 0, 0, 500, time.UTC),
		ChannelARN:    "arn:aws:cloudtrail:us-east-1:123456789012:channel/6f0c2a1e-3b7d-4c55-9e0f-2d8a4b1c9e77",
	}, []byte(`{"version":"1.0","UID":"req-42"}`))
	fmt.Println(string(rec))
	// Output:
	// {"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":"5b7c2f3e-9a0d-4e6b-8c1f-0a2b3c4d5e6f","eventTime":"2021-10-27T12:13:14Z","awsRegion":"us-east-1","recipientAccountId":"123456789012","metadata":{"ingestionTime":"2026-12-06T10:00:00Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/6f0c2a1e-3b7d-4c55-9e0f-2d8a4b1c9e77"},"eventData":{"version":"1.0","UID":"req-42"}}
}

// TestRecordValidJSON: whatever the strings hold, the record is valid
// JSON that reads back the same values, and times are in UTC.
func TestRecordValidJSON(t *testing.T) {
	at := time.Date(2021, 10, 27, 14, 13, 14, 0, time.FixedZone("x", 2*3600))
	rec := auditapi.Record(auditapi.RecordFields{EventID: "a\"b", EventTime: at, Region: "<r>", Account: "\x00", IngestionTime: at, ChannelARN: "\\"}, []byte(`{}`))
	var got struct {
		EventID, EventTime, AwsRegion, RecipientAccountID string
		Metadata                                          struct{ IngestionTime, ChannelARN string }
	}
	if err := json.Unmarshal(rec, &got); err != nil {
		t.Fatalf("%s: %v", rec, err)
	}
	if got.EventID != "a\"b" || got.AwsRegion != "<r>" || got.RecipientAccountID != "\x00" || got.Metadata.ChannelARN != "\\" ||
		got.EventTime != "2021-10-27T12:13:14Z" || got.Metadata.IngestionTime != "2021-10-27T12:13:14Z" {
		t.Errorf("read back %+v from %s", got, rec)
	}
}
