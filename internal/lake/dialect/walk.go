package dialect

import (
	"fmt"
	"strings"
)

// walker checks a parse tree against the allow-lists and rewrites it in
// place: tables to the engine's identifiers, Trino functions to DuckDB's.
type walker struct {
	opt    Options
	tables []string        // resolved identifiers, in order of first reference
	seen   map[string]bool // of tables
	refs   []*tableRef     // every store reference, with its bounds
}

// tableRef is one reference to a store in a FROM clause.
type tableRef struct {
	name   string // the name it is referred to by: its alias, else as written
	table  string // resolved identifier
	bounds Bounds
}

// scope is the common table expressions visible at one level of a query.
type scope struct {
	ctes   map[string]bool
	parent *scope
}

func (s *scope) has(name string) bool {
	name = strings.ToLower(name)
	for ; s != nil; s = s.parent {
		if s.ctes[name] {
			return true
		}
	}
	return false
}

func newWalker(opt Options) *walker {
	return &walker{opt: opt, seen: map[string]bool{}}
}

// exprCtx says what an expression position may hold.
type exprCtx struct {
	star   bool // a top-level select-list item: * and t.* are allowed
	lambda bool // an argument of a function that takes a lambda
}

// query walks a query node: SELECT, set operation or recursive CTE.
func (w *walker) query(n node, sc *scope) error {
	if n == nil {
		return errorf(ErrSyntax, "The statement does not parse.")
	}
	inner := &scope{ctes: map[string]bool{}, parent: sc}
	if cm := obj(n["cte_map"]); cm != nil {
		for _, e := range list(cm["map"]) {
			entry := obj(e)
			name := str(entry["key"])
			val := obj(entry["value"])
			if err := checkKeys(val, "WITH", "query", "aliases", "materialized", "key_targets"); err != nil {
				return err
			}
			if m := str(val["materialized"]); m != "" && m != "CTE_MATERIALIZE_DEFAULT" {
				return unsupported("WITH ... AS MATERIALIZED is not supported.")
			}
			q := obj(obj(val["query"])["node"])
			// A CTE sees itself only when it is recursive; otherwise its own
			// name inside it is a table, which Resolve must allow.
			if str(q["type"]) == "RECURSIVE_CTE_NODE" {
				inner.ctes[strings.ToLower(name)] = true
			}
			if err := w.query(q, inner); err != nil {
				return err
			}
			inner.ctes[strings.ToLower(name)] = true
		}
	}
	var err error
	switch t := str(n["type"]); t {
	case "SELECT_NODE":
		err = w.selectNode(n, inner)
	case "SET_OPERATION_NODE":
		if err := checkKeys(n, "A set operation", "cte_map", "modifiers", "left", "right", "children", "setop_type", "setop_all"); err != nil {
			return err
		}
		switch str(n["setop_type"]) {
		case "UNION", "EXCEPT", "INTERSECT":
		default:
			return unsupported("%s is not supported; use UNION, EXCEPT or INTERSECT.", strings.ReplaceAll(str(n["setop_type"]), "_", " "))
		}
		kids := list(n["children"])
		if l, r := obj(n["left"]), obj(n["right"]); l != nil || r != nil {
			kids = []any{l, r}
		}
		for _, k := range kids {
			if err := w.query(obj(k), inner); err != nil {
				return err
			}
		}
	case "RECURSIVE_CTE_NODE":
		if err := checkKeys(n, "A recursive WITH", "cte_map", "modifiers", "left", "right", "cte_name", "union_all", "key_targets", "aliases"); err != nil {
			return err
		}
		if len(list(n["key_targets"])) > 0 {
			return unsupported("WITH RECURSIVE ... USING KEY is not supported.")
		}
		for _, k := range []any{n["left"], n["right"]} {
			if err := w.query(obj(k), inner); err != nil {
				return err
			}
		}
	default:
		return unsupported("%s is not supported.", strings.ToLower(strings.ReplaceAll(t, "_", " ")))
	}
	if err != nil {
		return err
	}
	return w.modifiers(n, inner)
}

func (w *walker) modifiers(n node, sc *scope) error {
	for _, m := range list(n["modifiers"]) {
		mod := obj(m)
		switch str(mod["type"]) {
		case "ORDER_MODIFIER":
			if err := w.orders(mod["orders"], sc); err != nil {
				return err
			}
		case "LIMIT_MODIFIER":
			if err := checkKeys(mod, "LIMIT", "limit", "offset"); err != nil {
				return err
			}
			for _, k := range []string{"limit", "offset"} {
				if v := mod[k]; v != nil {
					if err := w.expr(v, sc, exprCtx{}); err != nil {
						return err
					}
				}
			}
		case "DISTINCT_MODIFIER":
			if len(list(mod["distinct_on_targets"])) > 0 {
				return unsupported("DISTINCT ON is not supported.")
			}
		default:
			return unsupported("%s is not supported.", strings.ToLower(strings.ReplaceAll(str(mod["type"]), "_", " ")))
		}
	}
	return nil
}

func (w *walker) orders(v any, sc *scope) error {
	for _, o := range list(v) {
		on := obj(o)
		if err := checkKeys(on, "ORDER BY", "expression", "null_order"); err != nil {
			return err
		}
		if err := w.expr(on["expression"], sc, exprCtx{}); err != nil {
			return err
		}
	}
	return nil
}

// from is what one SELECT's FROM clause holds, for bounds.
type from struct {
	refs   []*tableRef // stores directly in this FROM
	others []string    // lower-case names of other items (CTEs, subqueries, VALUES, UNNEST columns)
	opaque bool        // an item whose columns are unknown (subquery, CTE, VALUES)
}

func (w *walker) selectNode(n node, sc *scope) error {
	if err := checkKeys(n, "SELECT", "cte_map", "modifiers", "select_list", "from_table", "where_clause",
		"group_expressions", "group_sets", "aggregate_handling", "having", "qualify"); err != nil {
		return err
	}
	var f from
	if err := w.tableRef(obj(n["from_table"]), sc, &f); err != nil {
		return err
	}
	for _, e := range list(n["select_list"]) {
		if err := w.expr(e, sc, exprCtx{star: true}); err != nil {
			return err
		}
	}
	if v := n["where_clause"]; v != nil {
		if err := w.expr(v, sc, exprCtx{}); err != nil {
			return err
		}
		f.bound(obj(v))
	}
	for _, e := range list(n["group_expressions"]) {
		if err := w.expr(e, sc, exprCtx{}); err != nil {
			return err
		}
	}
	for _, k := range []string{"having", "qualify"} {
		if v := n[k]; v != nil {
			if err := w.expr(v, sc, exprCtx{}); err != nil {
				return err
			}
		}
	}
	return nil
}

// tableRef walks one item of a FROM clause.
func (w *walker) tableRef(t node, sc *scope, f *from) error {
	if t == nil {
		return errorf(ErrSyntax, "The statement does not parse.")
	}
	switch typ := str(t["type"]); typ {
	case "EMPTY":
		return checkKeys(t, "FROM")
	case "BASE_TABLE":
		if err := checkKeys(t, "A table", "table_name", "column_name_alias", "schema_name", "catalog_name"); err != nil {
			return err
		}
		name := str(t["table_name"])
		if c, s := str(t["catalog_name"]), str(t["schema_name"]); c != "" || s != "" {
			return unsupported("Table %s is not an event data store: only event data store IDs can be queried, without a catalog or schema.", strings.Trim(c+"."+s+"."+name, "."))
		}
		if sc.has(name) {
			f.opaque = true
			f.others = append(f.others, strings.ToLower(alias(t, name)))
			return nil
		}
		id, err := w.opt.Resolve(name)
		if err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
		// Keep the name as written as the alias, so that columns qualified
		// with it still resolve.
		if str(t["alias"]) == "" {
			t["alias"] = name
		}
		t["table_name"] = id
		if !w.seen[id] {
			w.seen[id] = true
			w.tables = append(w.tables, id)
		}
		ref := &tableRef{name: str(t["alias"]), table: id}
		w.refs = append(w.refs, ref)
		f.refs = append(f.refs, ref)
		return nil
	case "JOIN":
		if err := checkKeys(t, "A join", "left", "right", "condition", "join_type", "ref_type", "using_columns", "delim_flipped"); err != nil {
			return err
		}
		switch jt := str(t["join_type"]); jt {
		case "INNER", "LEFT", "RIGHT", "OUTER", "FULL":
		default:
			return unsupported("%s JOIN is not supported.", jt)
		}
		switch rt := str(t["ref_type"]); rt {
		case "REGULAR", "CROSS", "NATURAL":
		default:
			return unsupported("%s JOIN is not supported.", rt)
		}
		for _, k := range []string{"left", "right"} {
			if err := w.tableRef(obj(t[k]), sc, f); err != nil {
				return err
			}
		}
		if v := t["condition"]; v != nil {
			return w.expr(v, sc, exprCtx{})
		}
		return nil
	case "SUBQUERY":
		if err := checkKeys(t, "A subquery", "subquery", "column_name_alias"); err != nil {
			return err
		}
		f.opaque = true
		f.others = append(f.others, strings.ToLower(str(t["alias"])))
		return w.query(obj(obj(t["subquery"])["node"]), sc)
	case "TABLE_FUNCTION":
		if err := checkKeys(t, "A table function", "function", "column_name_alias", "with_ordinality"); err != nil {
			return err
		}
		fn := obj(t["function"])
		name := strings.ToLower(str(fn["function_name"]))
		if name != "unnest" || str(fn["schema"]) != "" || str(fn["catalog"]) != "" {
			return unsupported("Table function %s is not supported: FROM takes event data store IDs, subqueries and UNNEST.", qualifiedName(fn))
		}
		if err := checkKeys(fn, "UNNEST", "function_name", "schema", "catalog", "children", "is_operator", "export_state", "order_bys"); err != nil {
			return err
		}
		if len(list(fn["children"])) == 0 {
			return unsupported("UNNEST needs an array argument.")
		}
		for _, a := range list(fn["children"]) {
			if err := w.expr(a, sc, exprCtx{}); err != nil {
				return err
			}
		}
		f.others = append(f.others, strings.ToLower(str(t["alias"])))
		for _, c := range list(t["column_name_alias"]) {
			f.others = append(f.others, strings.ToLower(str(c)))
		}
		return nil
	case "EXPRESSION_LIST":
		if err := checkKeys(t, "VALUES", "values", "expected_names", "expected_types"); err != nil {
			return err
		}
		f.opaque = true
		f.others = append(f.others, strings.ToLower(str(t["alias"])))
		for _, row := range list(t["values"]) {
			for _, e := range list(row) {
				if err := w.expr(e, sc, exprCtx{}); err != nil {
					return err
				}
			}
		}
		return nil
	case "SHOW_REF":
		return unsupported("DESCRIBE, SHOW and SUMMARIZE are not supported; query the event data store with SELECT.")
	default:
		return unsupported("%s in FROM is not supported.", strings.ToLower(strings.ReplaceAll(typ, "_", " ")))
	}
}

func alias(t node, name string) string {
	if a := str(t["alias"]); a != "" {
		return a
	}
	return name
}

func qualifiedName(fn node) string {
	return strings.Trim(str(fn["catalog"])+"."+str(fn["schema"])+"."+str(fn["function_name"]), ".")
}

// expr walks one expression, checking it and rewriting Trino functions.
func (w *walker) expr(v any, sc *scope, ctx exprCtx) error {
	n := obj(v)
	if n == nil {
		return errorf(ErrSyntax, "The statement does not parse.")
	}
	class, typ := str(n["class"]), str(n["type"])
	switch class {
	case "CONSTANT":
		if err := checkKeys(n, "A constant", "value"); err != nil {
			return err
		}
		// A DOUBLE literal (2.7E0) prints as 2.7, which DuckDB reads back as
		// a DECIMAL: keep its type.
		if str(obj(obj(n["value"])["type"])["id"]) == "DOUBLE" {
			c := node{}
			for k, v := range n {
				c[k] = v
			}
			c["alias"] = ""
			replace(n, node{"class": "CAST", "type": "OPERATOR_CAST", "query_location": location(n), "child": c,
				"cast_type": node{"id": "DOUBLE", "type_info": nil}, "try_cast": false})
		}
		return nil
	case "COLUMN_REF":
		return checkKeys(n, "A column", "column_names")
	case "BETWEEN":
		if err := checkKeys(n, "BETWEEN", "input", "lower", "upper"); err != nil {
			return err
		}
		return w.exprs(sc, n["input"], n["lower"], n["upper"])
	case "CASE":
		if err := checkKeys(n, "CASE", "case_checks", "else_expr"); err != nil {
			return err
		}
		for _, c := range list(n["case_checks"]) {
			cn := obj(c)
			if err := w.exprs(sc, cn["when_expr"], cn["then_expr"]); err != nil {
				return err
			}
		}
		return w.exprs(sc, n["else_expr"])
	case "CAST":
		if err := checkKeys(n, "CAST", "child", "cast_type", "try_cast"); err != nil {
			return err
		}
		if err := w.exprs(sc, n["child"]); err != nil {
			return err
		}
		return rewriteCast(n)
	case "COMPARISON":
		if err := checkKeys(n, "A comparison", "left", "right"); err != nil {
			return err
		}
		switch typ {
		case "COMPARE_EQUAL", "COMPARE_NOTEQUAL", "COMPARE_LESSTHAN", "COMPARE_GREATERTHAN",
			"COMPARE_LESSTHANOREQUALTO", "COMPARE_GREATERTHANOREQUALTO",
			"COMPARE_DISTINCT_FROM", "COMPARE_NOT_DISTINCT_FROM":
		default:
			return unsupported("The comparison %s is not supported.", typ)
		}
		return w.exprs(sc, n["left"], n["right"])
	case "CONJUNCTION":
		if err := checkKeys(n, "AND/OR", "children"); err != nil {
			return err
		}
		return w.exprs(sc, list(n["children"])...)
	case "OPERATOR":
		if err := checkKeys(n, "An operator", "children"); err != nil {
			return err
		}
		switch typ {
		case "OPERATOR_NOT", "OPERATOR_IS_NULL", "OPERATOR_IS_NOT_NULL", "COMPARE_IN", "COMPARE_NOT_IN",
			"ARRAY_EXTRACT", "STRUCT_EXTRACT", "ARRAY_CONSTRUCTOR", "OPERATOR_COALESCE", "OPERATOR_TRY", "OPERATOR_NULLIF":
		case "ARRAY_SLICE":
			return unsupported("Array slices (a[x:y]) are not supported; use slice(a, start, length).")
		default:
			return unsupported("The operator %s is not supported.", strings.ToLower(strings.ReplaceAll(typ, "_", " ")))
		}
		return w.exprs(sc, list(n["children"])...)
	case "FUNCTION":
		return w.function(n, sc)
	case "WINDOW":
		return w.window(n, sc)
	case "LAMBDA":
		if !ctx.lambda {
			return unsupported("A lambda expression (x -> ...) is only allowed as an argument of a function that takes one, such as transform or filter.")
		}
		if err := checkKeys(n, "A lambda", "lhs", "expr", "syntax_type"); err != nil {
			return err
		}
		if err := lambdaParams(obj(n["lhs"])); err != nil {
			return err
		}
		return w.exprs(sc, n["expr"])
	case "SUBQUERY":
		if err := checkKeys(n, "A subquery", "subquery", "subquery_type", "child", "comparison_type"); err != nil {
			return err
		}
		if c := n["child"]; c != nil {
			if err := w.exprs(sc, c); err != nil {
				return err
			}
		}
		return w.query(obj(obj(n["subquery"])["node"]), sc)
	case "STAR":
		if !ctx.star {
			return unsupported("* is only allowed as a select-list item or in count(*).")
		}
		if err := checkKeys(n, "*", "relation_name"); err != nil {
			return err
		}
		return nil
	case "PARAMETER":
		return unsupported("Query parameters (? and $n) are not supported in a query statement.")
	case "POSITIONAL_REFERENCE":
		return unsupported("Positional references (#n) are not supported.")
	case "COLLATE":
		return unsupported("COLLATE is not supported.")
	default:
		return unsupported("The expression %s is not supported.", strings.ToLower(strings.ReplaceAll(class, "_", " ")))
	}
}

func (w *walker) exprs(sc *scope, vs ...any) error {
	for _, v := range vs {
		if v == nil {
			continue
		}
		if err := w.expr(v, sc, exprCtx{}); err != nil {
			return err
		}
	}
	return nil
}

// lambdaParams checks a lambda's parameters: x, or (x, y).
func lambdaParams(lhs node) error {
	isName := func(v any) bool {
		n := obj(v)
		return n != nil && n["class"] == "COLUMN_REF" && len(list(n["column_names"])) == 1
	}
	if isName(lhs) {
		return nil
	}
	if lhs != nil && lhs["class"] == "FUNCTION" && str(lhs["function_name"]) == "row" {
		for _, a := range list(lhs["children"]) {
			if !isName(a) {
				return unsupported("A lambda's parameters must be names: x -> ... or (x, y) -> ....")
			}
		}
		return nil
	}
	return unsupported("A lambda's parameters must be names: x -> ... or (x, y) -> ....")
}

// window walks a window function call.
func (w *walker) window(n node, sc *scope) error {
	if err := checkKeys(n, "A window function", "function_name", "schema", "catalog", "children", "partitions", "orders",
		"start", "end", "start_expr", "end_expr", "offset_expr", "default_expr", "ignore_nulls", "filter_expr",
		"exclude_clause", "distinct", "arg_orders"); err != nil {
		return err
	}
	name := strings.ToLower(str(n["function_name"]))
	if c, s := str(n["catalog"]), str(n["schema"]); c != "" || s != "" && s != "main" {
		return unsupported("Function %s is not supported.", qualifiedName(n))
	}
	if str(n["type"]) == "WINDOW_AGGREGATE" {
		f, ok := functions[name]
		if !ok && name == "count_star" {
			f, ok = function{agg: true}, true
		}
		if !ok || !f.agg || f.rewrite != nil {
			return unsupported("Function %s is not supported as a window function.", name)
		}
		if f.to != "" {
			n["function_name"] = f.to
		}
	} else if !windowFunctions[name] {
		return unsupported("Window function %s is not supported.", name)
	}
	if err := w.exprs(sc, list(n["children"])...); err != nil {
		return err
	}
	if err := w.exprs(sc, list(n["partitions"])...); err != nil {
		return err
	}
	if err := w.orders(n["orders"], sc); err != nil {
		return err
	}
	if err := w.orders(n["arg_orders"], sc); err != nil {
		return err
	}
	return w.exprs(sc, n["start_expr"], n["end_expr"], n["offset_expr"], n["default_expr"], n["filter_expr"])
}

// function walks a function call: checks it against the allow-list, walks
// its arguments, then rewrites it to DuckDB.
func (w *walker) function(n node, sc *scope) error {
	if err := checkKeys(n, "A function call", "function_name", "schema", "catalog", "children", "filter",
		"order_bys", "distinct", "is_operator"); err != nil {
		return err
	}
	name := strings.ToLower(str(n["function_name"]))
	if c, s := str(n["catalog"]), str(n["schema"]); c != "" || s != "" && s != "main" {
		return unsupported("Function %s is not supported.", qualifiedName(n))
	}
	f, ok := functions[name]
	if !ok {
		if !builtins[name] {
			return unsupported("Function %s is not supported.", name)
		}
		f = function{args: [2]int{0, -1}}
	}
	args := list(n["children"])
	if len(args) < f.args[0] || f.args[1] >= 0 && len(args) > f.args[1] {
		return unsupported("Function %s does not take %d arguments (%s).", name, len(args), f.arity())
	}
	if !f.agg && (n["distinct"] == true || n["filter"] != nil || len(list(obj(n["order_bys"])["orders"])) > 0) {
		return unsupported("Function %s is not an aggregate: DISTINCT, FILTER and ORDER BY do not apply to it.", name)
	}
	for i, a := range args {
		lambda := false
		for _, l := range f.lambdas {
			lambda = lambda || l == i
		}
		if err := w.expr(a, sc, exprCtx{lambda: lambda}); err != nil {
			return err
		}
	}
	if v := n["filter"]; v != nil {
		if err := w.exprs(sc, v); err != nil {
			return err
		}
	}
	if err := w.orders(obj(n["order_bys"])["orders"], sc); err != nil {
		return err
	}
	n["schema"] = ""
	switch {
	case f.rewrite != nil:
		return f.rewrite(n, name)
	case f.macro != "":
		n["function_name"] = macroPrefix + name
	case f.to != "":
		n["function_name"] = f.to
	}
	return nil
}
