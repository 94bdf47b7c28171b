package duck

import "strings"

// What WriteParquet's statement reads a line of the temporary file as
// (write.go): built with each schema, in builds with and without cgo.

// lineColumns is selectLines' column list for the columns cols, in
// order.
func lineColumns(schema []column) string {
	var cols []string
	for _, c := range schema {
		var expr string
		switch c.name {
		case "eventtime":
			expr = "make_timestamp(t)"
		case colEventCategory:
			expr = "cat"
		case colEventJSON:
			expr = "ev"
		case colChecksum:
			expr = "sum"
		default:
			expr = "j." + quoteIdent(c.name)
		}
		cols = append(cols, expr+" AS "+quoteIdent(c.name))
	}
	return strings.Join(cols, ", ")
}

// projectedType is the json_transform structure of a line's projection:
// the columns of schema but the ones WriteParquet fills itself.
func projectedType(schema []column) string {
	var cols []column
	for _, c := range schema {
		if !c.own {
			cols = append(cols, c)
		}
	}
	return jsonStructure(cols)
}

// jsonStructure is json_transform's structure for an object with the
// columns cols.
func jsonStructure(cols []column) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(appendJSONString(nil, cols[i].name))
		b.WriteByte(':')
		b.WriteString(cols[i].jsonType())
	}
	b.WriteByte('}')
	return b.String()
}

// jsonType is the column's type in a json_transform structure.
func (c *column) jsonType() string {
	switch c.kind {
	case kStruct:
		return jsonStructure(c.fields)
	case kList:
		return "[" + c.elem.jsonType() + "]"
	}
	return string(appendJSONString(nil, c.sqlType()))
}
