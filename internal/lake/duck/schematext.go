package duck

import "strings"

// Text returns the schema as text, one column per line with its DuckDB
// type ("eventtime TIMESTAMP"), in column order: what a query generator's
// prompt shows of a store. It is rendered from the schema's columns, so it
// never drifts from what queries read.
func (s *Schema) Text() string {
	var b strings.Builder
	for _, c := range s.cols {
		b.WriteString(c.name)
		b.WriteByte(' ')
		b.WriteString(c.sqlType())
		b.WriteByte('\n')
	}
	return b.String()
}
