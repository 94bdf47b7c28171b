// Package dialect translates CloudTrail Lake SQL (Trino's SELECT, spec
// lake.md §5) into DuckDB SQL with the same meaning, and refuses everything
// else.
//
// DuckDB parses; this package never parses SQL itself. [Translate] works in
// four steps:
//
//  1. A small lexer (lex.go) makes the statement parseable by DuckDB: it
//     double-quotes an event data store ID written bare as a table name
//     (FROM EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE) and turns Trino's ARRAY(T)
//     type into T[]. It works token by token (strings, quoted identifiers
//     and comments understood), never with regular expressions.
//  2. DuckDB's own parser turns the statement into a JSON tree
//     (json_serialize_sql, through the [Parser] the engine provides).
//  3. The tree is walked (walk.go): exactly one SELECT; every node kind,
//     every table and every function on an allow-list; every table that is
//     not a common table expression resolved through [Options].Resolve,
//     which is the allow-list of stores. Table functions other than UNNEST,
//     file paths, schema- or catalog-qualified names, DuckDB's settings,
//     catalogs and files are refused with a message that names them. Trino
//     functions are rewritten where DuckDB differs (functions.go, one row
//     per function): most become a macro of [Macros], a few a DuckDB
//     function of another name, and the rest (lambdas, any number of
//     arguments, date patterns) a small rewrite of the call node.
//  4. The tree is printed back as SQL by DuckDB (json_deserialize_sql),
//     with the result column names of CloudTrail Lake (columns.go) and the
//     eventtime/eventid bounds of each store (bounds.go) for file pruning.
//
// The engine runs [Settings] and [Macros] on each connection before any
// translated statement. Validation here is one layer of defence: the
// engine also locks DuckDB down (no external access, locked configuration).
// docs/lake-sql.md lists the supported SQL and the known differences from
// Trino.
package dialect
