package dialect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxStatementLength is the longest QueryStatement CloudTrail Lake accepts,
// in characters.
const MaxStatementLength = 10000

// Parser is DuckDB's parser as dialect uses it. The engine implements it on a
// DuckDB connection with
//
//	SELECT json_serialize_sql($1::VARCHAR)::VARCHAR
//	SELECT json_deserialize_sql($1::JSON)
//
// (the cast of the parameter is needed: json_serialize_sql refuses an
// untyped one). Serialize MUST return the JSON document DuckDB produces, also
// when it reports a parse error inside the document ("error": true); an
// error return means the parser could not be asked at all, and Translate
// passes it on wrapped, not as an [*Error].
type Parser interface {
	Serialize(ctx context.Context, sql string) ([]byte, error)
	Deserialize(ctx context.Context, tree []byte) (string, error)
}

// Options are what Translate needs from the caller.
type Options struct {
	// Resolve maps a table name as written in FROM or JOIN (an event data
	// store ID, bare or in double quotes, exactly as the user wrote it) to the
	// identifier the engine knows the store by. It is called once for every
	// table reference that is not a common table expression; its error fails
	// the translation and is returned wrapped with %w (the caller maps it to
	// EventDataStoreNotFoundException and the like). It MUST return an error
	// for anything that is not one of the caller's stores: it is the
	// allow-list of tables.
	Resolve func(name string) (string, error)
}

// Translation is a statement translated to DuckDB.
type Translation struct {
	// SQL is one DuckDB SELECT statement, to run on a connection where every
	// statement of [Setup] has run, and where each identifier of Tables names
	// a relation (a view over the store's files) with the Lake columns.
	SQL string
	// Columns are the result's column names as CloudTrail Lake names them:
	// the alias if there is one, else the last identifier of the expression
	// as typed (userIdentity.principalid gives principalid), else _col<N>
	// with N the zero-based position. Nil when the select list has a star
	// (*, t.*): the names then come from the table, and the engine uses
	// DuckDB's result names, which SQL makes equal to these rules for every
	// item that is not a star (it aliases each of them).
	Columns []string
	// Tables are the resolved table identifiers, each once, in the order of
	// their first reference.
	Tables []string
	// Bounds holds, for every identifier in Tables, what the statement's
	// WHERE clauses say about the rows it can read from that table, for
	// pruning files. A bound is only ever looser than the statement, never
	// tighter: a file outside the bounds holds no row the query can return.
	Bounds map[string]Bounds
}

// Bounds is what a statement's WHERE clauses say about a table's rows: the
// eventtime range and the eventid values that can matter. The zero value
// means no bound.
type Bounds struct {
	// From and To bound eventtime (UTC), both inclusive; a zero time is no
	// bound on that side.
	From, To time.Time
	// EventIDs, when not nil, are the only eventid values that can matter
	// (sorted, each once). An empty non-nil slice means no row can.
	EventIDs []string
}

// Sentinels for errors.Is on an [*Error]. Each is a statement the user must
// change; the API returns every one as InvalidQueryStatementException with
// the [*Error]'s message.
var (
	// ErrTooLong: the statement is longer than MaxStatementLength.
	ErrTooLong = errors.New("statement too long")
	// ErrSyntax: the statement does not parse (or is empty).
	ErrSyntax = errors.New("syntax error")
	// ErrNotSelect: the statement is not a SELECT query.
	ErrNotSelect = errors.New("not a SELECT statement")
	// ErrMultipleStatements: more than one statement was given.
	ErrMultipleStatements = errors.New("more than one statement")
	// ErrUnsupported: the statement uses a function, table or construct
	// that OpenTrail does not allow or does not support; the message names it.
	ErrUnsupported = errors.New("unsupported")
	// ErrNoTable: the statement reads no event data store.
	ErrNoTable = errors.New("no event data store in FROM")
)

// Error is a statement that cannot be translated. Its message is meant for
// the user as is.
type Error struct {
	Kind error  // one of the sentinels above
	Msg  string // the user-facing message
}

func (e *Error) Error() string { return e.Msg }

// Is reports whether target is e's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) *Error {
	return errorf(ErrUnsupported, format, args...)
}

// Translate checks that statement is one CloudTrail Lake SELECT that reads
// only event data stores and allowed functions, and rewrites it into DuckDB
// SQL with Trino's meaning. Errors are an [*Error] for anything wrong with
// the statement, the wrapped error of opt.Resolve for an unknown table, or
// the wrapped error of p when the parser cannot be asked.
func Translate(ctx context.Context, p Parser, statement string, opt Options) (*Translation, error) {
	if n := utf8.RuneCountInString(statement); n > MaxStatementLength {
		return nil, errorf(ErrTooLong, "The query statement is %d characters long; the maximum is %d.", n, MaxStatementLength)
	}
	if !utf8.ValidString(statement) || strings.ContainsRune(statement, 0) {
		return nil, errorf(ErrSyntax, "The query statement is not valid UTF-8 text.")
	}
	if opt.Resolve == nil {
		return nil, errors.New("dialect: Options.Resolve is nil")
	}
	text, err := prepare(statement)
	if err != nil {
		return nil, err
	}
	raw, err := p.Serialize(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	root, err := decodeTree(raw)
	if err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	node, err := checkStatement(root)
	if err != nil {
		return nil, err
	}
	w := newWalker(opt)
	if err := w.query(node, nil); err != nil {
		return nil, err
	}
	if len(w.tables) == 0 {
		return nil, errorf(ErrNoTable, "The query must read an event data store: give its ID after FROM.")
	}
	cols := nameColumns(node)
	renameAliases(node)
	out, err := encodeTree(root)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	sql, err := p.Deserialize(ctx, out)
	if err != nil {
		return nil, fmt.Errorf("print statement: %w", err)
	}
	return &Translation{SQL: sql, Columns: cols, Tables: w.tables, Bounds: w.bounds()}, nil
}

// checkStatement returns the query node of the one SELECT statement in a
// json_serialize_sql document.
func checkStatement(root map[string]any) (map[string]any, error) {
	if b, _ := root["error"].(bool); b {
		msg, _ := root["error_message"].(string)
		typ, _ := root["error_type"].(string)
		if typ == "not implemented" || strings.Contains(msg, "Only SELECT") {
			return nil, errorf(ErrNotSelect, "Only SELECT statements are supported.")
		}
		if msg == "" {
			msg = "the statement does not parse"
		}
		return nil, errorf(ErrSyntax, "Syntax error: %s", msg)
	}
	stmts, _ := root["statements"].([]any)
	switch len(stmts) {
	case 0:
		return nil, errorf(ErrSyntax, "The query statement is empty.")
	case 1:
	default:
		return nil, errorf(ErrMultipleStatements, "The query statement holds %d statements; give exactly one SELECT.", len(stmts))
	}
	st, ok := stmts[0].(map[string]any)
	if !ok {
		return nil, errorf(ErrSyntax, "The statement does not parse.")
	}
	if m, _ := st["named_param_map"].([]any); len(m) > 0 {
		return nil, unsupported("Query parameters are not supported in a query statement.")
	}
	node, ok := st["node"].(map[string]any)
	if !ok {
		return nil, errorf(ErrNotSelect, "Only SELECT statements are supported.")
	}
	return node, nil
}

func decodeTree(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber() // query_location is a uint64; constants may be huge
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("decode parse tree: %w", err)
	}
	if root == nil {
		return nil, errors.New("decode parse tree: not a JSON object")
	}
	return root, nil
}

func encodeTree(root map[string]any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSpace(b.String())), nil
}
