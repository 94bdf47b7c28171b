//go:build cgo

package duck

import (
	"bytes"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/event"
)

// RowOf converts a stored event to a row of the Lake schema
// (docs/format/lake.md, "Mapping a record to a row"). ev.Raw must be the
// compact JSON a stored event carries.
func RowOf(seq uint64, ev *event.Event) Row {
	vals := make([]driver.Value, len(eventColumns))
	members := make(map[string][]byte, 32)
	collect(ev.Raw, members)
	for i := range eventColumns {
		c := &eventColumns[i]
		switch c.name {
		case colEventCategory:
			vals[i] = ev.Category
			continue
		case colEventJSON:
			vals[i] = string(ev.Raw)
			continue
		case colChecksum:
			sum := sha256.Sum256(ev.Raw)
			vals[i] = hex.EncodeToString(sum[:])
			continue
		}
		vals[i] = c.value(members[c.name])
	}
	t := ev.EventTime.UTC()
	if v, ok := vals[eventTimeIndex].(time.Time); ok {
		t = v
	}
	return Row{Seq: seq, EventTime: t, values: vals}
}

// collect fills m with the members of the JSON object obj, by lower-cased
// name; the first of two names that differ only in case wins.
func collect(obj []byte, m map[string][]byte) {
	if len(obj) == 0 || obj[0] != '{' {
		return
	}
	_ = event.EachMember(obj, func(name, val []byte) error {
		k := lowerName(name)
		if _, dup := m[k]; !dup {
			m[k] = val
		}
		return nil
	})
}

// lowerName returns name lower-cased, without allocating a new string for
// the common case beyond the conversion itself.
func lowerName(name []byte) string {
	for _, b := range name {
		if 'A' <= b && b <= 'Z' {
			return strings.ToLower(string(name))
		}
	}
	return string(name)
}

// value converts the JSON value raw (nil when absent) to the column's
// appender value.
func (c *column) value(raw []byte) driver.Value {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if c.kind == kStruct {
			return nil
		}
		return nil
	}
	switch c.kind {
	case kString:
		return text(raw)
	case kTime:
		if raw[0] != '"' {
			return nil
		}
		t, ok := parseTime(event.JSONString(raw))
		if !ok {
			return nil
		}
		return t
	case kBool:
		switch string(raw) {
		case "true", `"true"`:
			return true
		case "false", `"false"`:
			return false
		}
		return nil
	case kMap:
		if raw[0] != '{' {
			return nil
		}
		m := duckdb.OrderedMap{}
		seen := map[string]bool{}
		_ = event.EachMember(raw, func(name, val []byte) error {
			k := string(name)
			if seen[k] {
				return nil
			}
			seen[k] = true
			if bytes.Equal(val, []byte("null")) {
				m.Set(k, nil)
			} else {
				m.Set(k, text(val))
			}
			return nil
		})
		return m
	case kStruct:
		if raw[0] != '{' {
			return nil
		}
		members := make(map[string][]byte, len(c.fields))
		collect(raw, members)
		out := make(map[string]any, len(c.fields))
		for i := range c.fields {
			f := &c.fields[i]
			out[f.name] = f.value(members[f.name])
		}
		return out
	case kList:
		if raw[0] != '[' {
			return nil
		}
		var out []any
		_ = event.EachElement(raw, func(_ int, val []byte) error {
			out = append(out, c.elem.value(val))
			return nil
		})
		if out == nil {
			out = []any{}
		}
		return out
	}
	return nil
}

// text is a JSON value as a string column holds it: a string's text, any
// other value's compact JSON.
func text(raw []byte) string {
	if raw[0] == '"' {
		return event.JSONString(raw)
	}
	return string(raw)
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
