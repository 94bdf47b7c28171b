package samples

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// Placeholder is what the SQL of a sample query names the event data store
// with, as AWS's console sample queries do; replace it with a store's ID
// before running the query.
const Placeholder = "$EDS_ID"

// Query is one sample query.
type Query struct {
	Name        string
	Description string
	SQL         string
}

// Limits of a sample query's fields, checked by [Parse].
const (
	MaxNameChars        = 100
	MaxDescriptionChars = 1000
	MaxSQLChars         = 10000 // StartQuery's limit
)

//go:embed catalogue.md
var catalogueFile []byte

var builtin = sync.OnceValues(func() ([]Query, error) { return Parse(catalogueFile) })

// Catalogue returns the embedded sample queries, in file order. The file
// is checked by the package's tests, so an error here is a build mistake.
func Catalogue() ([]Query, error) { return builtin() }

// ParseError is a mistake in a catalogue file, at a line (from 1).
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("samples: line %d: %s", e.Line, e.Msg) }

const (
	headingPrefix = "## "
	fenceOpen     = "```sql"
	fenceClose    = "```"
)

// Parse reads a catalogue in the format of catalogue.md's preamble.
func Parse(data []byte) ([]Query, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	var (
		out   []Query
		names = map[string]int{}
		cur   *Query
		start int      // line of cur's heading
		desc  []string // description lines of cur
		sql   []string
		state int
	)
	const (
		preamble = iota
		inDesc
		inSQL
		afterSQL
	)
	finish := func(line int) error {
		if cur == nil {
			return nil
		}
		if state != afterSQL {
			return &ParseError{Line: start, Msg: fmt.Sprintf("query %q has no complete ```sql block", cur.Name)}
		}
		cur.Description = strings.Join(strings.Fields(strings.Join(desc, " ")), " ")
		if cur.Description == "" {
			return &ParseError{Line: start, Msg: fmt.Sprintf("query %q has no description", cur.Name)}
		}
		if n := len([]rune(cur.Description)); n > MaxDescriptionChars {
			return &ParseError{Line: start, Msg: fmt.Sprintf("query %q: description is %d characters, at most %d", cur.Name, n, MaxDescriptionChars)}
		}
		cur.SQL = strings.TrimSpace(strings.Join(sql, "\n"))
		if cur.SQL == "" {
			return &ParseError{Line: line, Msg: fmt.Sprintf("query %q has empty SQL", cur.Name)}
		}
		if n := len([]rune(cur.SQL)); n > MaxSQLChars {
			return &ParseError{Line: line, Msg: fmt.Sprintf("query %q: SQL is %d characters, at most %d", cur.Name, n, MaxSQLChars)}
		}
		if !strings.Contains(cur.SQL, Placeholder) {
			return &ParseError{Line: line, Msg: fmt.Sprintf("query %q does not name the store as %s", cur.Name, Placeholder)}
		}
		out = append(out, *cur)
		return nil
	}
	for i, l := range lines {
		n := i + 1
		trimmed := strings.TrimRight(l, " \t")
		switch {
		case state != inSQL && (strings.HasPrefix(trimmed, headingPrefix) || trimmed == "##"):
			if err := finish(n); err != nil {
				return nil, err
			}
			name := strings.TrimSpace(strings.TrimPrefix(trimmed, "##"))
			switch {
			case name == "":
				return nil, &ParseError{Line: n, Msg: "empty query name"}
			case len([]rune(name)) > MaxNameChars:
				return nil, &ParseError{Line: n, Msg: fmt.Sprintf("query name is %d characters, at most %d", len([]rune(name)), MaxNameChars)}
			}
			if prev, ok := names[name]; ok {
				return nil, &ParseError{Line: n, Msg: fmt.Sprintf("query %q is also at line %d", name, prev)}
			}
			names[name] = n
			cur, start, desc, sql, state = &Query{Name: name}, n, nil, nil, inDesc
		case state == preamble:
		case state == inDesc && trimmed == fenceOpen:
			state = inSQL
		case state == inDesc && strings.HasPrefix(trimmed, "```"):
			return nil, &ParseError{Line: n, Msg: "a query's fence must open with ```sql"}
		case state == inDesc:
			desc = append(desc, trimmed)
		case state == inSQL && trimmed == fenceClose:
			state = afterSQL
		case state == inSQL:
			sql = append(sql, trimmed)
		case state == afterSQL && strings.TrimSpace(trimmed) != "":
			return nil, &ParseError{Line: n, Msg: fmt.Sprintf("text after the SQL of query %q; start a new query with %q", cur.Name, headingPrefix)}
		}
	}
	if err := finish(len(lines)); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, &ParseError{Line: len(lines), Msg: "no queries"}
	}
	return out, nil
}
