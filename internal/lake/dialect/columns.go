package dialect

import (
	"strconv"
	"strings"
)

// specialColumns are the names DuckDB's parser leaves as column references
// although Trino reads them as functions, whose result columns Trino names
// _col<N>.
var specialColumns = map[string]bool{
	"current_date": true, "current_time": true, "current_timestamp": true,
	"localtime": true, "localtimestamp": true,
}

// nameColumns names the result columns as CloudTrail Lake does (the
// leftmost SELECT of a set operation names them), and aliases every
// select-list item with its name so that DuckDB's result names are the
// same. It returns nil when the select list has a star.
func nameColumns(q node) []string {
	for str(q["type"]) == "SET_OPERATION_NODE" {
		left := obj(q["left"])
		if left == nil {
			if kids := list(q["children"]); len(kids) > 0 {
				left = obj(kids[0])
			}
		}
		if left == nil {
			return nil
		}
		q = left
	}
	var cols []string
	star := false
	for i, v := range list(q["select_list"]) {
		e := obj(v)
		if str(e["class"]) == "STAR" {
			star = true
			continue
		}
		name := columnName(e, i)
		e["alias"] = name
		cols = append(cols, name)
	}
	if star {
		return nil
	}
	return cols
}

// columnName is one select-list item's name (spec §4): its alias; else the
// last identifier of a column reference or of a field access, as typed;
// else _col<i>.
func columnName(e node, i int) string {
	if a := str(e["alias"]); a != "" {
		return a
	}
	switch str(e["class"]) {
	case "COLUMN_REF":
		names := list(e["column_names"])
		if len(names) > 0 {
			last := str(names[len(names)-1])
			if !(len(names) == 1 && specialColumns[strings.ToLower(last)]) {
				return last
			}
		}
	case "OPERATOR":
		if str(e["type"]) == "STRUCT_EXTRACT" {
			if args := list(e["children"]); len(args) == 2 {
				if s, ok := stringConstant(args[1]); ok {
					return s
				}
			}
		}
	}
	return "_col" + strconv.Itoa(i)
}
