package awsquery

import (
	"strings"
)

// Tree returns the form as nested values: a string for a scalar, []any
// for a list (name.member.N), map[string]any for a map (name.entry.N with
// key/value, Key/Value or Name/Value fields) or a nested structure. Names
// are kept as sent. A name that is both a scalar and a container, or a
// list or map that breaks the numbering rules, is an [*Error].
func (f Form) Tree() (map[string]any, error) {
	groups := map[string]Form{}
	for k, v := range f {
		head, rest, _ := strings.Cut(k, ".")
		if groups[head] == nil {
			groups[head] = Form{}
		}
		groups[head][rest] = v
	}
	out := make(map[string]any, len(groups))
	for name, g := range groups {
		v, err := g.node(name)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// node turns the members of one name (keys relative to it, "" for the
// scalar) into a value.
func (g Form) node(name string) (any, error) {
	if v, ok := g[""]; ok {
		if len(g) > 1 {
			return nil, malformed(name, "Parameter %s is given both as a value and as a list, map or structure.", name)
		}
		return v, nil
	}
	kinds := map[string]bool{}
	var kind string
	for k := range g {
		head, _, _ := strings.Cut(k, ".")
		if head != "member" && head != "entry" {
			head = "struct"
		}
		kinds[head] = true
		kind = head
	}
	if len(kinds) > 1 {
		return nil, malformed(name, "Parameter %s mixes list members, map entries and structure members.", name)
	}
	wrapped := Form{}
	for k, v := range g {
		wrapped[name+"."+k] = v
	}
	switch kind {
	case "member":
		items, err := wrapped.items(name, "member")
		if err != nil {
			return nil, err
		}
		list := make([]any, len(items))
		for i, it := range items {
			if list[i], err = it.node(name); err != nil {
				return nil, err
			}
		}
		return list, nil
	case "entry":
		// The first entry says which fields hold keys and values.
		keyField, valueField := entryFields(wrapped.Sub(name + ".entry.1"))
		entries, err := wrapped.StructMap(name, keyField, valueField)
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(entries))
		for key, val := range entries {
			if len(val) == 0 {
				m[key] = ""
				continue
			}
			if m[key], err = val.node(name); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return g.Tree()
}

// entryFields names a map entry's key and value fields: key/value (the
// default serialisation), Key/Value, or Name/Value (SNS message
// attributes).
func entryFields(it Form) (string, string) {
	for _, kv := range [][2]string{{"key", "value"}, {"Key", "Value"}, {"Name", "Value"}} {
		if _, ok := it[kv[0]]; ok {
			return kv[0], kv[1]
		}
	}
	return "key", "value"
}
