package dialect

import (
	"encoding/json"
	"strconv"
	"strings"
)

// node is one object of DuckDB's JSON parse tree (json_serialize_sql).
type node = map[string]any

func str(v any) string {
	s, _ := v.(string)
	return s
}

func obj(v any) node {
	n, _ := v.(map[string]any)
	return n
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// isZero reports whether a tree value carries nothing: null, false, "",
// an empty list or object, or an empty ORDER BY.
func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		if len(v) == 0 {
			return true
		}
		if v["type"] == "ORDER_MODIFIER" && len(list(v["orders"])) == 0 {
			return true
		}
		return false
	}
	return false
}

// checkKeys refuses a node with a member that its walker does not know and
// that is not empty: a construct added to DuckDB's tree is refused until it
// is understood, never passed through unchecked.
func checkKeys(n node, what string, known ...string) error {
	for k, v := range n {
		switch k {
		case "class", "type", "alias", "query_location":
			continue
		}
		found := false
		for _, kk := range known {
			if k == kk {
				found = true
				break
			}
		}
		if !found && !isZero(v) {
			return unsupported("%s with %s is not supported.", what, strings.ReplaceAll(k, "_", " "))
		}
	}
	return nil
}

// location returns a node's query_location, for nodes built to replace it.
func location(n node) any {
	if l, ok := n["query_location"]; ok {
		return l
	}
	return json.Number("18446744073709551615")
}

// newFunction builds a FUNCTION expression node calling name with args.
func newFunction(name string, loc any, args ...any) node {
	if args == nil {
		args = []any{}
	}
	return node{
		"class":          "FUNCTION",
		"type":           "FUNCTION",
		"alias":          "",
		"query_location": loc,
		"function_name":  name,
		"schema":         "",
		"children":       args,
		"filter":         nil,
		"order_bys":      node{"type": "ORDER_MODIFIER", "orders": []any{}},
		"distinct":       false,
		"is_operator":    false,
		"export_state":   false,
		"catalog":        "",
	}
}

// newOperatorCall builds a binary operator call such as a || b.
func newOperatorCall(op string, loc any, a, b any) node {
	n := newFunction(op, loc, a, b)
	n["is_operator"] = true
	return n
}

// newString builds a VARCHAR constant.
func newString(s string, loc any) node {
	return node{
		"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": loc,
		"value": node{"type": node{"id": "VARCHAR", "type_info": nil}, "is_null": false, "value": s},
	}
}

// newInteger builds an INTEGER constant.
func newInteger(i int, loc any) node {
	return node{
		"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": "", "query_location": loc,
		"value": node{"type": node{"id": "INTEGER", "type_info": nil}, "is_null": false, "value": json.Number(strconv.Itoa(i))},
	}
}

// replace makes n become m in place (the parent keeps pointing at n), with
// n's alias kept.
func replace(n, m node) {
	alias := n["alias"]
	for k := range n {
		delete(n, k)
	}
	for k, v := range m {
		n[k] = v
	}
	if alias != nil {
		n["alias"] = alias
	}
}

// stringConstant returns the value of a VARCHAR constant node.
func stringConstant(v any) (string, bool) {
	n := obj(v)
	if n == nil || n["class"] != "CONSTANT" {
		return "", false
	}
	val := obj(n["value"])
	if val == nil || val["is_null"] == true {
		return "", false
	}
	if t := obj(val["type"]); t == nil || t["id"] != "VARCHAR" {
		return "", false
	}
	s, ok := val["value"].(string)
	return s, ok
}
