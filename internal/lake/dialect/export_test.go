package dialect

import "sort"

// AllowedFunctions returns every function name the allow-lists take from
// users: the Trino function table and the window functions (not the
// builtins DuckDB's parser writes for syntax). The dialect table checks
// that each has a row.
func AllowedFunctions() []string {
	var out []string
	for name := range functions {
		out = append(out, name)
	}
	for name := range windowFunctions {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
