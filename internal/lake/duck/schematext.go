package duck

import "strings"

// SchemaText returns the Lake schema of CloudTrail events as text, one
// column per line with its DuckDB type ("eventtime TIMESTAMP"), in column
// order: what a query generator's prompt shows of a store. It is rendered
// from the one schema definition (eventColumns), so it never drifts from
// what queries read.
func SchemaText() string {
	var b strings.Builder
	for _, c := range eventColumns {
		b.WriteString(c.name)
		b.WriteByte(' ')
		b.WriteString(c.sqlType())
		b.WriteByte('\n')
	}
	return b.String()
}
