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
	raws := make([][]byte, len(eventColumns))
	collect(ev.Raw, topIndex, raws)
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
		vals[i] = c.value(raws[i])
	}
	t := ev.EventTime.UTC()
	if v, ok := vals[eventTimeIndex].(time.Time); ok {
		t = v
	}
	return Row{Seq: seq, EventTime: t, values: vals}
}

// topIndex indexes eventColumns; each struct column has its own (index).
var topIndex = indexOf(eventColumns)

// collect sets raws[i] to the value of the member of the JSON object obj
// whose name, lower-cased, is the i-th name of idx; the first of two names
// that differ only in case wins. It allocates nothing for names of up to
// 64 bytes.
func collect(obj []byte, idx fieldIndex, raws [][]byte) {
	if len(obj) == 0 || obj[0] != '{' {
		return
	}
	var buf [64]byte
	_ = event.EachMember(obj, func(name, val []byte) error {
		var i int
		var ok bool
		if len(name) <= len(buf) {
			for j, b := range name {
				if 'A' <= b && b <= 'Z' {
					b += 'a' - 'A'
				}
				buf[j] = b
			}
			i, ok = idx[string(buf[:len(name)])]
		} else {
			i, ok = idx[strings.ToLower(string(name))]
		}
		if ok && raws[i] == nil {
			raws[i] = val
		}
		return nil
	})
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
		raws := make([][]byte, len(c.fields))
		collect(raw, c.index, raws)
		out := make(map[string]any, len(c.fields))
		for i := range c.fields {
			f := &c.fields[i]
			out[f.name] = f.value(raws[i])
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
