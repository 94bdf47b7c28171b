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
// split: six tab-separated fields ending in a newline, the record (valid
// UTF-8) in the fifth and a valid JSON object in the sixth.
func FuzzRowOf(f *testing.F) {
	for _, s := range []string{
		`{"eventVersion":"1.08","eventTime":"2026-12-05T10:11:12Z","eventID":"e","userIdentity":{"type":"IAMUser","sessionContext":{"attributes":{"creationDate":"2026-12-05T09:00:00Z"}}},"requestParameters":{"a":1,"a":null,"b":{"c":[1]}},"resources":[{"ARN":"x"},"y"],"readOnly":"true"}`,
		`{"EVENTID":7,"userAgent":"a\u0000\t\ud800","requestParameters":"x","resources":{}}`,
		"{\"eventID\":\"\xff\"}",
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
		r := RowOf(3, &ev)
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
	})
}
