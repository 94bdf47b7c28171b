package event

import "encoding/json"

// FromRecord encodes a record built by code (an OpenTrail edge recording
// a call) and derives its Summary from the typed fields, without parsing
// the JSON back. The result equals Parse of the encoded record: the same
// validation, the same Summary. A record carrying Extra members is parsed
// instead, since those may shadow typed ones.
func FromRecord(rec *Record) (Event, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return Event{}, invalid("", "cannot encode the record: %v", err)
	}
	if len(rec.Extra) > 0 || (rec.UserIdentity != nil && len(rec.UserIdentity.Extra) > 0) {
		return Parse(raw)
	}
	if len(raw) > MaxRecordSize {
		return Event{}, invalid("", "record is %d bytes, larger than the 256 KB limit", len(raw))
	}
	d := summaryDoc{
		EventSource: rec.EventSource, EventName: rec.EventName, AWSRegion: rec.AWSRegion,
		EventID: rec.EventID, EventType: rec.EventType, EventCategory: rec.EventCategory,
		ReadOnly: rec.ReadOnly, ManagementEvent: rec.ManagementEvent,
		RecipientAccountID: rec.RecipientAccountID, ErrorCode: rec.ErrorCode, RequestID: rec.RequestID,
	}
	if rec.EventVersion != "" {
		d.EventVersion = &rec.EventVersion
	}
	if rec.EventTime != "" {
		d.EventTime = &rec.EventTime
	}
	if u := rec.UserIdentity; u != nil {
		d.UserIdentity = &docIdentity{Type: u.Type, PrincipalID: u.PrincipalID, ARN: u.ARN, AccountID: u.AccountID,
			UserName: u.UserName, InvokedBy: u.InvokedBy}
		if u.AccessKeyID != nil {
			d.UserIdentity.AccessKeyID = *u.AccessKeyID
		}
	}
	if rec.Resources != nil {
		d.Resources = make([]docResource, len(rec.Resources))
		for i, r := range rec.Resources {
			d.Resources[i] = docResource{ARN: r.ARN, ARNPrefix: r.ARNPrefix, Type: r.Type}
		}
	}
	// The raw members below are read from the encoded record, which is
	// valid compact JSON, so the one scanner serves.
	if rp, ok := pathRequestParameters.Value(raw); ok {
		d.BucketName = bucketNameOf(rp)
	}
	if len(rec.InsightDetails) > 0 {
		v, _ := pathInsightDetails.Value(raw)
		if err := d.decodeInsight(v); err != nil {
			return Event{}, err
		}
	}
	s, err := summarize(&d)
	if err != nil {
		return Event{}, err
	}
	return Event{Raw: raw, Summary: s}, nil
}

var (
	pathRequestParameters = MustPath("requestParameters")
	pathInsightDetails    = MustPath("insightDetails")
)
