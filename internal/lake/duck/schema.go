package duck

import (
	"strings"

	"github.com/opentrail/opentrail/internal/event"
)

// kind is a column's DuckDB type family.
type kind uint8

const (
	kString kind = iota
	kTime
	kBool
	kMap // MAP(VARCHAR, VARCHAR)
	kStruct
	kList
)

// column is one column of the Lake schema, or one member of a struct.
// Names are lower case; a record member matches a column when its name,
// lower-cased, equals the column's.
type column struct {
	name   string
	kind   kind
	fields []column   // kStruct members
	index  fieldIndex // kStruct: fields by name
	elem   *column    // kList element
	// own marks the columns WriteParquet fills from a row's line rather
	// than from a record member: eventtime, eventcategory, eventjson,
	// eventjsonchecksum.
	own bool
}

func str(name string) column     { return column{name: name, kind: kString} }
func ts(name string) column      { return column{name: name, kind: kTime} }
func boolean(name string) column { return column{name: name, kind: kBool} }
func mapc(name string) column    { return column{name: name, kind: kMap} }
func structc(name string, fields ...column) column {
	return column{name: name, kind: kStruct, fields: fields, index: indexOf(fields)}
}
func strs(names ...string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		out[i] = str(n)
	}
	return out
}

// Names of the columns OpenTrail fills itself rather than from a record
// member.
const (
	colEventCategory = "eventcategory"
	colEventJSON     = "eventjson"
	colChecksum      = "eventjsonchecksum"
)

// Schema is the column layout of the files of one kind of event data
// store (docs/format/lake.md): [CloudTrail] for stores of CloudTrail
// events (and Insights), [ActivityAuditLog] for stores of events from
// outside AWS. A store's kind never changes, and neither does its schema.
type Schema struct {
	name  string
	cols  []column
	index fieldIndex // cols by name
	// timeIndex and idIndex are the positions of eventtime and eventid.
	timeIndex, idIndex int
	// selectList is the column names, in order, as a select list. A
	// compaction names them rather than selecting *, which would add the
	// `day` column DuckDB derives from the inputs' directory (day=...).
	selectList string
	// lineColumns and projectedType are what selectLines reads a row's
	// line with.
	lineColumns, projectedType string
}

// String is the schema's name.
func (s *Schema) String() string { return s.name }

// newSchema builds a schema from its columns, in order. Every schema has
// the columns WriteParquet fills itself (column.own): eventtime,
// eventcategory, eventjson and eventjsonchecksum; and eventid.
func newSchema(name string, cols []column) *Schema {
	for i := range cols {
		switch cols[i].name {
		case "eventtime", colEventCategory, colEventJSON, colChecksum:
			cols[i].own = true
		}
	}
	if len(cols) > 64 {
		panic("duck: more than 64 columns; RowOf's projection keeps a 64-bit set of them")
	}
	s := &Schema{name: name, cols: cols, index: indexOf(cols)}
	for _, c := range []string{"eventtime", "eventid", colEventCategory, colEventJSON, colChecksum} {
		if _, ok := s.index[c]; !ok {
			panic("duck: schema " + name + " has no " + c)
		}
	}
	s.timeIndex, s.idIndex = s.index["eventtime"], s.index["eventid"]
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
	}
	s.selectList = strings.Join(names, ", ")
	s.lineColumns = lineColumns(cols)
	s.projectedType = projectedType(cols)
	return s
}

// CloudTrail is the Lake schema of CloudTrail events and Insights events
// (spec lake.md §6.1, §6.2; docs/format/lake.md), in column order.
var CloudTrail = newSchema("CloudTrail", func() []column {
	cols := []column{
		str("eventversion"),
		structc("useridentity", append(strs("type", "principalid", "arn", "accountid", "accesskeyid", "username"),
			structc("sessioncontext",
				structc("attributes", ts("creationdate"), str("mfaauthenticated")),
				structc("sessionissuer", strs("type", "principalid", "arn", "accountid", "username")...),
				structc("webidfederationdata", str("federatedprovider"), mapc("attributes")),
				str("sourceidentity"), str("ec2roledelivery"), str("ec2issuedinvpc")),
			structc("onbehalfof", strs("userid", "identitystorearn")...),
			structc("inscopeof", strs("sourcearn", "sourceaccount", "issuertype", "credentialsissuedto")...),
			str("invokedby"), str("identityprovider"))...),
		ts("eventtime"),
	}
	cols = append(cols, strs("eventsource", "eventname", "awsregion", "sourceipaddress", "useragent", "errorcode", "errormessage")...)
	cols = append(cols, mapc("requestparameters"), mapc("responseelements"), mapc("additionaleventdata"),
		str("requestid"), str("eventid"), boolean("readonly"))
	res := structc("", strs("accountid", "type", "arn", "arnprefix")...)
	cols = append(cols, column{name: "resources", kind: kList, elem: &res},
		str("eventtype"), str("apiversion"), boolean("managementevent"))
	cols = append(cols, strs("recipientaccountid", "sharedeventid", "annotation", "vpcendpointid", "vpcendpointaccountid")...)
	cols = append(cols, mapc("serviceeventdetails"), mapc("addendum"), mapc("edgedevicedetails"), mapc("insightdetails"),
		str(colEventCategory),
		structc("tlsdetails", strs("tlsversion", "ciphersuite", "clientprovidedhostheader")...),
		str("sessioncredentialfromconsole"),
		str(colEventJSON), str(colChecksum))
	return cols
}())

// ActivityAuditLog is the Lake schema of events from outside AWS, the
// records channels store (spec lake.md §6.5, §7.5; docs/format/lake.md),
// in column order: AWS's columns, then OpenTrail's eventjson and
// eventjsonchecksum. eventdata.eventtime stays the caller's string; the
// top-level eventtime is the timestamp.
var ActivityAuditLog = newSchema("ActivityAuditLog", func() []column {
	cols := []column{str("eventversion"), str(colEventCategory), str("eventtype"), str("eventid"), ts("eventtime"),
		str("awsregion"), str("recipientaccountid"),
		structc("addendum", strs("reason", "updatedfields", "originaluid", "originaleventid")...),
		structc("metadata", strs("ingestiontime", "channelarn")...),
		structc("eventdata", str("version"),
			structc("useridentity", str("type"), str("principalid"), mapc("details")),
			str("useragent"), str("eventsource"), str("eventname"), str("eventtime"), str("uid"),
			mapc("requestparameters"), mapc("responseelements"), str("errorcode"), str("errormessage"),
			str("sourceipaddress"), str("recipientaccountid"), mapc("additionaleventdata")),
		str(colEventJSON), str(colChecksum),
	}
	return cols
}())

// SchemaFor returns the schema of the files of an event data store whose
// selectors select category (selector.StoreCategory; "" for a store
// without selectors): ActivityAuditLog's for that category, CloudTrail's
// for every other.
func SchemaFor(category string) *Schema {
	if category == event.CategoryActivityAuditLog {
		return ActivityAuditLog
	}
	return CloudTrail
}

// sqlType returns the column's DuckDB type.
func (c *column) sqlType() string {
	switch c.kind {
	case kTime:
		return "TIMESTAMP"
	case kBool:
		return "BOOLEAN"
	case kMap:
		return "MAP(VARCHAR, VARCHAR)"
	case kStruct:
		var b strings.Builder
		b.WriteString("STRUCT(")
		for i, f := range c.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteIdent(f.name))
			b.WriteByte(' ')
			b.WriteString(f.sqlType())
		}
		b.WriteByte(')')
		return b.String()
	case kList:
		return c.elem.sqlType() + "[]"
	default:
		return "VARCHAR"
	}
}

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteString quotes a SQL string literal.
func quoteString(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}

// fieldIndex maps a column list's lower-case names to their positions.
type fieldIndex map[string]int

func indexOf(cols []column) fieldIndex {
	m := make(fieldIndex, len(cols))
	for i, c := range cols {
		m[c.name] = i
	}
	return m
}

// TypeKind is a column type's family, as engines other than DuckDB
// declare it.
type TypeKind uint8

// The type families of the Lake schema.
const (
	TypeString    TypeKind = TypeKind(kString)
	TypeTimestamp TypeKind = TypeKind(kTime) // microseconds, UTC, no time zone
	TypeBoolean   TypeKind = TypeKind(kBool)
	TypeMap       TypeKind = TypeKind(kMap) // string keys, string values
	TypeStruct    TypeKind = TypeKind(kStruct)
	TypeList      TypeKind = TypeKind(kList)
)

// Type is a column's type: its family, a struct's members and a list's
// element.
type Type struct {
	Kind   TypeKind
	Fields []Column // TypeStruct
	Elem   *Type    // TypeList
}

// Column is one column of the Lake schema (or a struct member): its lower
// case name, its type and its DuckDB type.
type Column struct {
	Name   string
	Type   Type
	DuckDB string
}

// Columns returns the schema's columns (docs/format/lake.md), in the
// files' column order: the one definition the Parquet files are written
// with, for whoever declares a table over them (federation's table
// definitions).
func (s *Schema) Columns() []Column { return exportColumns(s.cols) }

func exportColumns(cols []column) []Column {
	out := make([]Column, len(cols))
	for i := range cols {
		out[i] = Column{Name: cols[i].name, Type: cols[i].exportType(), DuckDB: cols[i].sqlType()}
	}
	return out
}

func (c *column) exportType() Type {
	t := Type{Kind: TypeKind(c.kind)}
	switch c.kind {
	case kStruct:
		t.Fields = exportColumns(c.fields)
	case kList:
		e := c.elem.exportType()
		t.Elem = &e
	}
	return t
}
