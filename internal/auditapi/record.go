package auditapi

import (
	"encoding/json"
	"time"
)

// Stored record of an accepted audit event (lake.md §7.5).

// RecordVersion is the eventVersion of the stored records; AWS's value is
// not documented (decision 124).
const RecordVersion = "1.0"

// timeFormat is the stored eventTime and metadata.ingestionTime.
const timeFormat = "2006-01-02T15:04:05Z"

// RecordFields are what the stored record of one audit event holds
// besides the caller's eventData.
type RecordFields struct {
	EventID       string    // the CloudTrail-assigned id, successful[].eventID
	EventTime     time.Time // eventData.eventTime
	Region        string    // the region of the PutAuditEvents call
	Account       string    // the channel's owner: recipientAccountId
	IngestionTime time.Time // when the call was processed
	ChannelARN    string
}

// Record returns the stored record of one accepted audit event: compact
// JSON with its members in this order: eventVersion, eventCategory
// (ActivityAuditLog), eventType (ActivityLog), eventID, eventTime (UTC,
// to the second), awsRegion, recipientAccountId, metadata
// {ingestionTime, channelARN}, eventData (the caller's object as given,
// compact). eventData MUST be a compact JSON object (CheckEvent's
// Checked.EventData).
func Record(f RecordFields, eventData []byte) []byte {
	b := make([]byte, 0, 320+len(f.ChannelARN)+len(eventData))
	b = append(b, `{"eventVersion":"`+RecordVersion+`","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":`...)
	b = appendString(b, f.EventID)
	b = append(b, `,"eventTime":`...)
	b = appendString(b, f.EventTime.UTC().Format(timeFormat))
	b = append(b, `,"awsRegion":`...)
	b = appendString(b, f.Region)
	b = append(b, `,"recipientAccountId":`...)
	b = appendString(b, f.Account)
	b = append(b, `,"metadata":{"ingestionTime":`...)
	b = appendString(b, f.IngestionTime.UTC().Format(timeFormat))
	b = append(b, `,"channelARN":`...)
	b = appendString(b, f.ChannelARN)
	b = append(b, `},"eventData":`...)
	b = append(b, eventData...)
	return append(b, '}')
}

// appendString appends s as a JSON string: as is between quotes when it
// is printable ASCII without '"', '\\' or the characters encoding/json
// escapes for HTML (ids, regions, account ids, ARNs, times), else as
// encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
