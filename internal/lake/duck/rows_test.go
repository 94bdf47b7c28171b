package duck

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// FuzzRowOf checks that any record event.Parse accepts, or any compact
// JSON object a WAL record might hold, becomes a line DuckDB's reader can
// split, in every schema: six tab-separated fields ending in a newline,
// the record (valid UTF-8) in the fifth and a valid JSON object in the
// sixth.
func FuzzRowOf(f *testing.F) {
	for _, s := range []string{
		`{"eventVersion":"1.08","eventTime":"2026-12-05T10:11:12Z","eventID":"e","userIdentity":{"type":"IAMUser","sessionContext":{"attributes":{"creationDate":"2026-12-05T09:00:00Z"}}},"requestParameters":{"a":1,"a":null,"b":{"c":[1]}},"resources":[{"ARN":"x"},"y"],"readOnly":"true"}`,
		`{"EVENTID":7,"userAgent":"a\u0000\t\ud800","requestParameters":"x","resources":{}}`,
		"{\"eventID\":\"\xff\"}",
		`{"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","eventTime":"2021-10-27T12:13:14Z","awsRegion":"us-east-1","recipientAccountId":"123456789012","metadata":{"ingestionTime":"2021-10-27T12:13:20Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-4cde-8f01-23456789abcd"},"eventData":{"version":"1.0","UID":"req-42","userIdentity":{"type":"CustomUserIdentity","principalId":"alice","details":{"team":"ops","n":[1]}},"eventTime":"2021-10-27T12:13:14Z","eventName":"Login","eventSource":"myapp.example.com","requestParameters":{"k":"v"},"errorMessage":7,"recipientAccountId":"123456789012"}}`,
		`{"eventCategory":"ActivityAuditLog","eventData":{"userIdentity":"x","requestParameters":[1]},"metadata":null,"addendum":{"reason":{}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := event.Parse(raw)
		if err != nil {
			var buf bytes.Buffer
			if json.Compact(&buf, raw) != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
				return
			}
			ev = event.Event{Raw: buf.Bytes()}
		}
		for _, s := range []*Schema{CloudTrail, ActivityAuditLog} {
			checkLine(t, s.RowOf(3, &ev), &ev)
		}
	})
}

func checkLine(t *testing.T, r Row, ev *event.Event) {
	t.Helper()
	if !bytes.HasSuffix(r.line, []byte("\n")) || bytes.Count(r.line, []byte("\n")) != 1 {
		t.Fatalf("line %q: want exactly one newline, at the end", r.line)
	}
	fields := bytes.Split(r.line[:len(r.line)-1], []byte("\t"))
	if len(fields) != 6 {
		t.Fatalf("line %q: %d fields, want 6", r.line, len(fields))
	}
	if !utf8.Valid(fields[4]) || (utf8.Valid(ev.Raw) && !bytes.Equal(fields[4], ev.Raw)) {
		t.Fatalf("eventjson %q, record %q", fields[4], ev.Raw)
	}
	if !json.Valid(fields[5]) || fields[5][0] != '{' {
		t.Fatalf("projection %q is not a JSON object", fields[5])
	}
}
