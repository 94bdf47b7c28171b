package duck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// RowOf converts a stored event to a row of the schema s
// (docs/format/lake.md, "Mapping a record to a row"). ev.Raw must be the
// compact JSON a stored event carries.
//
// The row is a line that DuckDB reads (WriteParquet): the eventtime in
// microseconds, the sequence number, the category, the checksum, the record
// and the record's projection on the schema, tab-separated. The projection
// is JSON in which every member the schema knows is named as its column
// (lower case) and already has the column's JSON type: DuckDB's
// json_transform then maps it to the columns without judgement, so every
// rule of the mapping is here, in Go.
func (s *Schema) RowOf(seq uint64, ev *event.Event) Row {
	raw := ev.Raw
	if !utf8.Valid(raw) {
		raw = []byte(strings.ToValidUTF8(string(raw), "\uFFFD"))
	}
	// eventtime and eventid as the projection matches them.
	var timeVal, idVal []byte
	proj := make([]byte, 0, len(raw)+64)
	proj = project(proj, raw, s.index, s.cols, func(i int, val []byte) {
		switch i {
		case s.timeIndex:
			timeVal = val
		case s.idIndex:
			idVal = val
		}
	})
	t := ev.EventTime.UTC()
	if len(timeVal) > 0 && timeVal[0] == '"' {
		if p, ok := parseTime(event.JSONString(timeVal)); ok {
			t = p
		}
	}
	var id string
	switch {
	case len(idVal) == 0 || idVal[0] == 'n':
	case idVal[0] == '"':
		id = event.JSONString(idVal)
	default:
		id = string(idVal)
	}
	sum := sha256.Sum256(raw)
	line := make([]byte, 0, len(raw)+len(proj)+128)
	line = strconv.AppendInt(line, t.UnixMicro(), 10)
	line = append(line, '\t')
	line = strconv.AppendUint(line, seq, 10)
	line = append(line, '\t')
	line = appendTSVField(line, ev.Category)
	line = append(line, '\t')
	line = hex.AppendEncode(line, sum[:])
	line = append(line, '\t')
	line = append(line, raw...)
	line = append(line, '\t')
	line = append(line, proj...)
	line = append(line, '\n')
	// The sort group: for ActivityAuditLog records the Summary's names
	// are eventdata's, and their Username is "".
	return Row{Seq: seq, EventTime: t, eventID: id, group: ev.EventSource + "\x00" + ev.EventName + "\x00" + ev.Username, line: line}
}

// appendTSVField appends s with the bytes a line's fields cannot hold
// (tab, newline, carriage return) replaced by spaces.
func appendTSVField(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b == '\t' || b == '\n' || b == '\r' {
			b = ' '
		}
		dst = append(dst, b)
	}
	return dst
}

// project appends the projection of the JSON object obj on the columns
// cols (indexed by idx): an object holding, for each member whose name
// matches a column when lower-cased (the first of two such members wins),
// the column's name and the member's value in the column's JSON type
// (projectValue). Members no column names are left out, and so are those
// of columns WriteParquet fills itself (column.own). see, when not nil, is
// called with each matched member's column and value.
func project(dst, obj []byte, idx fieldIndex, cols []column, see func(i int, val []byte)) []byte {
	dst = append(dst, '{')
	var seen uint64 // cols has at most 64 entries (init checks)
	var buf [64]byte
	_ = event.EachMember(obj, func(name, val []byte) error {
		if len(name) > len(buf) {
			return nil // longer than any column's name
		}
		for j, b := range name {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			buf[j] = b
		}
		i, ok := idx[string(buf[:len(name)])]
		if !ok || seen&(1<<i) != 0 {
			return nil
		}
		seen |= 1 << i
		if see != nil {
			see(i, val)
		}
		if cols[i].own {
			return nil
		}
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, cols[i].name)
		dst = append(dst, ':')
		dst = projectValue(dst, &cols[i], val)
		return nil
	})
	return append(dst, '}')
}

// projectValue appends the JSON value val as the column c holds it, in
// c's JSON type; null when the value has no meaning for the column.
func projectValue(dst []byte, c *column, val []byte) []byte {
	if len(val) == 0 || val[0] == 'n' {
		return append(dst, "null"...)
	}
	switch c.kind {
	case kString:
		return appendText(dst, val)
	case kTime:
		if val[0] != '"' {
			break
		}
		t, ok := parseTime(event.JSONString(val))
		if !ok {
			break
		}
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02 15:04:05.999999")
		return append(dst, '"')
	case kBool:
		switch string(val) {
		case "true", `"true"`:
			return append(dst, "true"...)
		case "false", `"false"`:
			return append(dst, "false"...)
		}
	case kMap:
		if val[0] != '{' {
			break
		}
		return projectMap(dst, val)
	case kStruct:
		if val[0] != '{' {
			break
		}
		return project(dst, val, c.index, c.fields, nil)
	case kList:
		if val[0] != '[' {
			break
		}
		dst = append(dst, '[')
		_ = event.EachElement(val, func(n int, el []byte) error {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = projectValue(dst, c.elem, el)
			return nil
		})
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

// projectMap appends the JSON object obj as a map column holds it: each
// member once (the first of two with one name), its value as text.
func projectMap(dst, obj []byte) []byte {
	dst = append(dst, '{')
	var keys []string
	_ = event.EachMember(obj, func(name, val []byte) error {
		for _, k := range keys {
			if k == string(name) {
				return nil
			}
		}
		keys = append(keys, string(name))
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, string(name))
		dst = append(dst, ':')
		if val[0] == 'n' {
			dst = append(dst, "null"...)
		} else {
			dst = appendText(dst, val)
		}
		return nil
	})
	return append(dst, '}')
}

// appendText appends the JSON string a string column holds for the JSON
// value val: a string's text, any other value's compact JSON.
func appendText(dst, val []byte) []byte {
	if val[0] != '"' {
		return appendJSONString(dst, string(val))
	}
	if bytes.Contains(val, []byte(`\u`)) {
		// Re-encoded, so that an escape DuckDB's reader may refuse (a
		// lone surrogate) reaches it as the text Go decodes.
		return appendJSONString(dst, event.JSONString(val))
	}
	return append(dst, val...)
}

// appendJSONString appends s as a JSON string literal: quotes, backslashes
// and control characters escaped, everything else as UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, '"')
}

// parseTime parses an ISO 8601 time as records carry it.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
