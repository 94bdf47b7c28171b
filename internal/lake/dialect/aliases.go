package dialect

import "strings"

// memberAliases are struct members whose name AWS's documentation spells
// otherwise than the Lake's files: a query may use either. The
// "Supported SQL schemas" page spells eventdata.errormessage of stores of
// events from outside AWS `errormssage` (spec lake.md §6.5).
var memberAliases = []struct{ parent, alias, name string }{
	{"eventdata", "errormssage", "errormessage"},
}

// renameAliases rewrites, in the query tree v, each column reference that
// ends in a member alias (eventdata.errormssage, t.eventdata.errormssage)
// to the member's name. It runs after nameColumns, so a select-list item
// keeps the name as typed for its column.
func renameAliases(v any) {
	switch n := v.(type) {
	case map[string]any:
		if str(n["class"]) == "COLUMN_REF" {
			names := list(n["column_names"])
			if k := len(names); k >= 2 {
				for _, a := range memberAliases {
					if strings.EqualFold(str(names[k-1]), a.alias) && strings.EqualFold(str(names[k-2]), a.parent) {
						names[k-1] = a.name
					}
				}
			}
			return
		}
		for _, c := range n {
			renameAliases(c)
		}
	case []any:
		for _, c := range n {
			renameAliases(c)
		}
	}
}
