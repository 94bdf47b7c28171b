package auditapi

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// Until the event log takes ActivityAuditLog records (event.Parse wants
// eventSource and eventName at the top level; branch aal changes that),
// the tests derive such a record's Summary themselves. Remove once
// event.Parse accepts Record's output.
func init() {
	probe := Record(RecordFields{EventID: "5b7c2f3e-9a0d-4e6b-8c1f-0a2b3c4d5e6f", EventTime: time.Unix(0, 0), Region: "us-east-1", Account: "123456789012",
		IngestionTime: time.Unix(0, 0), ChannelARN: "arn:aws:cloudtrail:us-east-1:123456789012:channel/x"}, []byte(`{}`))
	if _, err := event.Parse(probe); err == nil {
		return
	}
	parseRecord = func(raw []byte) (event.Event, error) {
		if len(raw) > event.MaxRecordSize {
			return event.Event{}, &event.ValidationError{Reason: "too large"}
		}
		var r struct {
			EventID, EventTime, AwsRegion, RecipientAccountID string
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return event.Event{}, err
		}
		t, err := time.Parse(timeFormat, r.EventTime)
		if err != nil {
			return event.Event{}, errors.New("bad eventTime")
		}
		return event.Event{Raw: raw, Summary: event.Summary{EventID: r.EventID, EventTime: t, Account: r.RecipientAccountID, Region: r.AwsRegion,
			Category: "ActivityAuditLog", EventType: "ActivityLog"}}, nil
	}
}
