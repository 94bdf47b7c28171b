package dialect

import (
	"slices"
	"strings"
	"time"
)

// bound narrows the bounds of the stores this FROM reads from the top-level
// AND conjuncts of its WHERE clause: comparisons and BETWEEN of eventtime
// with a literal, eventid = or IN literals. Anything else is ignored, which
// only leaves the bounds looser.
func (f *from) bound(where node) {
	for _, c := range conjuncts(where) {
		switch str(c["class"]) {
		case "COMPARISON":
			l, r := obj(c["left"]), obj(c["right"])
			op := str(c["type"])
			if f.column(r, "eventtime") != nil || f.column(r, "eventid") != nil {
				l, r = r, l
				op = flip(op)
			}
			if ref := f.column(l, "eventtime"); ref != nil {
				t, ok := timeLiteral(r)
				if !ok {
					continue
				}
				switch op {
				case "COMPARE_GREATERTHAN", "COMPARE_GREATERTHANOREQUALTO":
					ref.bounds.lower(t)
				case "COMPARE_LESSTHAN", "COMPARE_LESSTHANOREQUALTO":
					ref.bounds.upper(t)
				case "COMPARE_EQUAL":
					ref.bounds.lower(t)
					ref.bounds.upper(t)
				}
			} else if ref := f.column(l, "eventid"); ref != nil && op == "COMPARE_EQUAL" {
				if s, ok := stringConstant(r); ok {
					ref.bounds.ids([]string{s})
				}
			}
		case "BETWEEN":
			if ref := f.column(obj(c["input"]), "eventtime"); ref != nil {
				if t, ok := timeLiteral(obj(c["lower"])); ok {
					ref.bounds.lower(t)
				}
				if t, ok := timeLiteral(obj(c["upper"])); ok {
					ref.bounds.upper(t)
				}
			}
		case "OPERATOR":
			if str(c["type"]) != "COMPARE_IN" {
				continue
			}
			args := list(c["children"])
			ref := f.column(obj(args[0]), "eventid")
			if ref == nil {
				continue
			}
			var ids []string
			for _, a := range args[1:] {
				s, ok := stringConstant(a)
				if !ok {
					ids = nil
					break
				}
				ids = append(ids, s)
			}
			if ids != nil {
				ref.bounds.ids(ids)
			}
		}
	}
}

func conjuncts(e node) []node {
	if e == nil {
		return nil
	}
	if str(e["class"]) == "CONJUNCTION" && str(e["type"]) == "CONJUNCTION_AND" {
		var out []node
		for _, c := range list(e["children"]) {
			out = append(out, conjuncts(obj(c))...)
		}
		return out
	}
	return []node{e}
}

func flip(op string) string {
	switch op {
	case "COMPARE_GREATERTHAN":
		return "COMPARE_LESSTHAN"
	case "COMPARE_GREATERTHANOREQUALTO":
		return "COMPARE_LESSTHANOREQUALTO"
	case "COMPARE_LESSTHAN":
		return "COMPARE_GREATERTHAN"
	case "COMPARE_LESSTHANOREQUALTO":
		return "COMPARE_GREATERTHANOREQUALTO"
	}
	return op
}

// column returns the store reference that e, a column reference, is the
// column col of: col alone when this FROM has exactly one store and nothing
// else that could have such a column, or qualified with a store's name.
func (f *from) column(e node, col string) *tableRef {
	if e == nil || str(e["class"]) != "COLUMN_REF" {
		return nil
	}
	names := list(e["column_names"])
	switch len(names) {
	case 1:
		if !strings.EqualFold(str(names[0]), col) || len(f.refs) != 1 || f.opaque || slices.Contains(f.others, col) {
			return nil
		}
		return f.refs[0]
	case 2:
		if !strings.EqualFold(str(names[1]), col) {
			return nil
		}
		q := strings.ToLower(str(names[0]))
		if slices.Contains(f.others, q) {
			return nil
		}
		var found *tableRef
		for _, r := range f.refs {
			if strings.ToLower(r.name) == q {
				if found != nil {
					return nil // ambiguous: DuckDB refuses it anyway
				}
				found = r
			}
		}
		return found
	}
	return nil
}

// timeLiteral reads the instant of a timestamp literal: a string, a
// TIMESTAMP or DATE literal, or from_iso8601_timestamp of a string. It
// accepts only forms whose meaning is certain; anything else gives no bound.
func timeLiteral(e node) (time.Time, bool) {
	if e == nil {
		return time.Time{}, false
	}
	switch str(e["class"]) {
	case "CONSTANT":
		if s, ok := stringConstant(e); ok {
			return parseNaive(s)
		}
	case "CAST":
		switch str(obj(e["cast_type"])["id"]) {
		case "TIMESTAMP", "DATE", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_NS":
			if s, ok := stringConstant(e["child"]); ok {
				return parseNaive(s)
			}
		}
	case "FUNCTION":
		if str(e["function_name"]) == macroPrefix+"from_iso8601_timestamp" {
			args := list(e["children"])
			if len(args) == 1 {
				if s, ok := stringConstant(args[0]); ok {
					return parseISO(s)
				}
			}
		}
	}
	return time.Time{}, false
}

// parseNaive reads a timestamp without a time zone, as DuckDB casts a
// string to TIMESTAMP: a date, or a date and time with an optional fraction
// and an optional trailing Z.
func parseNaive(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "Z")
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseISO reads an ISO 8601 timestamp with an optional offset; without one
// it is UTC (the engine's time zone).
func parseISO(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
		return t.UTC(), true
	}
	return parseNaive(s)
}

func (b *Bounds) lower(t time.Time) {
	if b.From.IsZero() || t.After(b.From) {
		b.From = t
	}
}

func (b *Bounds) upper(t time.Time) {
	if b.To.IsZero() || t.Before(b.To) {
		b.To = t
	}
}

// ids narrows the eventid set to its intersection with ids.
func (b *Bounds) ids(ids []string) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if b.EventIDs == nil {
		b.EventIDs = ids
		return
	}
	keep := []string{}
	for _, id := range b.EventIDs {
		if _, ok := slices.BinarySearch(ids, id); ok {
			keep = append(keep, id)
		}
	}
	b.EventIDs = keep
}

// bounds merges the bounds of every reference to each table: a file is
// needed if any reference can read it.
func (w *walker) bounds() map[string]Bounds {
	out := map[string]Bounds{}
	first := map[string]bool{}
	for _, r := range w.refs {
		if !first[r.table] {
			first[r.table] = true
			out[r.table] = r.bounds
			continue
		}
		b := out[r.table]
		if b.From.IsZero() || r.bounds.From.IsZero() {
			b.From = time.Time{}
		} else if r.bounds.From.Before(b.From) {
			b.From = r.bounds.From
		}
		if b.To.IsZero() || r.bounds.To.IsZero() {
			b.To = time.Time{}
		} else if r.bounds.To.After(b.To) {
			b.To = r.bounds.To
		}
		if b.EventIDs == nil || r.bounds.EventIDs == nil {
			b.EventIDs = nil
		} else {
			b.EventIDs = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(b.EventIDs), r.bounds.EventIDs...))))
		}
		out[r.table] = b
	}
	return out
}
