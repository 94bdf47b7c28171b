package dialect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// macroPrefix names the macros of [Macros]: the Trino function f is the
// macro trino_f. Users cannot call them by that name (it is on no list).
const macroPrefix = "trino_"

// function is one row of the Trino function table: how a Trino function
// that CloudTrail Lake users may call becomes DuckDB. Exactly one of to,
// macro and rewrite says how; none means DuckDB's function of the same name
// gives Trino's answer.
type function struct {
	args    [2]int // least and most arguments; most -1: any number
	to      string // a DuckDB function with Trino's meaning under another name
	macro   string // the definition of macro trino_<name>: "(a, b) AS body[, (a) AS body]"
	agg     bool   // an aggregate
	lambdas []int  // argument positions that may be lambdas
	// rewrite changes the call node in the tree, for what a macro cannot do
	// (lambdas, any number of arguments, patterns translated at translate
	// time). Its arguments have been checked and rewritten already.
	rewrite func(n node, name string) error
}

func (f function) arity() string {
	switch {
	case f.args[1] < 0:
		return fmt.Sprintf("at least %d", f.args[0])
	case f.args[0] == f.args[1]:
		return fmt.Sprintf("exactly %d", f.args[0])
	default:
		return fmt.Sprintf("%d to %d", f.args[0], f.args[1])
	}
}

func n(lo, hi int) [2]int { return [2]int{lo, hi} }

// functions is the allow-list of Trino functions, and how each is run.
// Every row, and every window function, has a test in the dialect table
// (dialect_test.go) with Trino's documented answer; TestDialectTable fails
// for a name no row calls.
var functions = map[string]function{
	// Aggregates.
	"count":             {args: n(1, 1), agg: true},
	"count_if":          {args: n(1, 1), agg: true},
	"sum":               {args: n(1, 1), agg: true},
	"avg":               {args: n(1, 1), agg: true},
	"min":               {args: n(1, 1), agg: true},
	"max":               {args: n(1, 1), agg: true},
	"min_by":            {args: n(2, 2), agg: true},
	"max_by":            {args: n(2, 2), agg: true},
	"arbitrary":         {args: n(1, 1), agg: true, to: "any_value"},
	"any_value":         {args: n(1, 1), agg: true},
	"array_agg":         {args: n(1, 1), agg: true},
	"bool_and":          {args: n(1, 1), agg: true},
	"bool_or":           {args: n(1, 1), agg: true},
	"every":             {args: n(1, 1), agg: true, to: "bool_and"},
	"histogram":         {args: n(1, 1), agg: true},
	"stddev":            {args: n(1, 1), agg: true},
	"stddev_samp":       {args: n(1, 1), agg: true},
	"stddev_pop":        {args: n(1, 1), agg: true},
	"variance":          {args: n(1, 1), agg: true},
	"var_samp":          {args: n(1, 1), agg: true},
	"var_pop":           {args: n(1, 1), agg: true},
	"geometric_mean":    {args: n(1, 1), agg: true},
	"corr":              {args: n(2, 2), agg: true},
	"covar_pop":         {args: n(2, 2), agg: true},
	"covar_samp":        {args: n(2, 2), agg: true},
	"approx_distinct":   {args: n(1, 2), agg: true, rewrite: rewriteApproxDistinct},
	"approx_percentile": {args: n(2, 2), agg: true, to: "quantile_disc"},

	// Conditional and comparison.
	"nullif":   {args: n(2, 2)},
	"greatest": {args: n(2, -1), rewrite: foldWith("trino_greatest")},
	"least":    {args: n(2, -1), rewrite: foldWith("trino_least")},

	// Strings.
	"lower":                {args: n(1, 1)},
	"upper":                {args: n(1, 1)},
	"length":               {args: n(1, 1)},
	"trim":                 {args: n(1, 2)},
	"ltrim":                {args: n(1, 2)},
	"rtrim":                {args: n(1, 2)},
	"lpad":                 {args: n(3, 3)},
	"rpad":                 {args: n(3, 3)},
	"substr":               {args: n(2, 3)},
	"substring":            {args: n(2, 3)},
	"strpos":               {args: n(2, 2)},
	"position":             {args: n(2, 2)},
	"starts_with":          {args: n(2, 2)},
	"chr":                  {args: n(1, 1)},
	"codepoint":            {args: n(1, 1), to: "unicode"},
	"concat":               {args: n(2, -1), rewrite: rewriteConcat},
	"replace":              {args: n(2, 3), macro: "(s, f) AS replace(s, f, ''), (s, f, r) AS replace(s, f, r)"},
	"reverse":              {args: n(1, 1), macro: "(x VARCHAR) AS reverse(x), (x) AS list_reverse(x)"},
	"split":                {args: n(2, 2), to: "string_split"},
	"split_part":           {args: n(3, 3), macro: "(s, d, i) AS CASE WHEN i > 0 AND i <= len(string_split(s, d)) THEN split_part(s, d, i) END"},
	"levenshtein_distance": {args: n(2, 2), to: "levenshtein"},
	"hamming_distance":     {args: n(2, 2), to: "hamming"},

	// Regular expressions.
	"regexp_like":        {args: n(2, 2), to: "regexp_matches"},
	"regexp_extract":     {args: n(2, 3), macro: "(s, p) AS CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p) END, (s, p, g) AS CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END"},
	"regexp_extract_all": {args: n(2, 3)},
	"regexp_replace":     {args: n(2, 3), macro: `(s, p) AS regexp_replace(s, p, '', 'g'), (s, p, r) AS regexp_replace(s, p, regexp_replace(r, '\$(\d)', '\\\1', 'g'), 'g')`},
	"regexp_count":       {args: n(2, 2), macro: "(s, p) AS len(regexp_extract_all(s, p))"},
	"regexp_split":       {args: n(2, 2), to: "regexp_split_to_array"},

	// URLs.
	"url_extract_protocol":  {args: n(1, 1), macro: `(u) AS nullif(regexp_extract(u, '^([A-Za-z][A-Za-z0-9+.\-]*):', 1), '')`},
	"url_extract_host":      {args: n(1, 1), macro: `(u) AS nullif(regexp_extract(u, '^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^:/?#]*)', 1), '')`},
	"url_extract_port":      {args: n(1, 1), macro: `(u) AS TRY_CAST(nullif(regexp_extract(u, '^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^/?#@]*@)?(?:\[[^\]/?#]*\]|[^:/?#]*):([0-9]+)', 1), '') AS BIGINT)`},
	"url_extract_path":      {args: n(1, 1), macro: `(u) AS regexp_extract(u, '^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://[^/?#]*)?([^?#]*)', 1)`},
	"url_extract_query":     {args: n(1, 1), macro: `(u) AS CASE WHEN strpos(u, '?') > 0 THEN regexp_extract(u, '\?([^#]*)', 1) END`},
	"url_extract_fragment":  {args: n(1, 1), macro: `(u) AS CASE WHEN strpos(u, '#') > 0 THEN regexp_extract(u, '#(.*)$', 1) END`},
	"url_extract_parameter": {args: n(2, 2), macro: `(u, k) AS list_transform(list_filter(string_split(regexp_extract(u, '\?([^#]*)', 1), '&'), trino_p -> trino_p = k OR starts_with(trino_p, k || '=')), trino_p -> substr(trino_p, length(k) + 2))[1]`},

	// Math. Trino's trigonometric functions, square root and logarithms
	// are Java's: NaN or an infinity outside their domain (asin(2),
	// tan(infinity()), sqrt(-1), ln(0)), where DuckDB's fail the query.
	"abs":         {args: n(1, 1)},
	"ceil":        {args: n(1, 1)},
	"ceiling":     {args: n(1, 1)},
	"floor":       {args: n(1, 1)},
	"round":       {args: n(1, 2)},
	"truncate":    {args: n(1, 1), to: "trunc"},
	"sqrt":        {args: n(1, 1), macro: "(x) AS CASE WHEN x < 0 THEN CAST('NaN' AS DOUBLE) ELSE sqrt(x) END"},
	"cbrt":        {args: n(1, 1)},
	"exp":         {args: n(1, 1)},
	"ln":          {args: n(1, 1), macro: "(x) AS CASE WHEN x = 0 THEN CAST('-Infinity' AS DOUBLE) WHEN x < 0 THEN CAST('NaN' AS DOUBLE) ELSE ln(x) END"},
	"log2":        {args: n(1, 1), macro: "(x) AS CASE WHEN x = 0 THEN CAST('-Infinity' AS DOUBLE) WHEN x < 0 THEN CAST('NaN' AS DOUBLE) ELSE log2(x) END"},
	"log10":       {args: n(1, 1), macro: "(x) AS CASE WHEN x = 0 THEN CAST('-Infinity' AS DOUBLE) WHEN x < 0 THEN CAST('NaN' AS DOUBLE) ELSE log10(x) END"},
	"log":         {args: n(2, 2), macro: "(b, x) AS CASE WHEN b = 1 THEN CASE WHEN x > 1 THEN CAST('Infinity' AS DOUBLE) WHEN x >= 0 AND x < 1 THEN CAST('-Infinity' AS DOUBLE) ELSE CAST('NaN' AS DOUBLE) END ELSE (CASE WHEN x = 0 THEN CAST('-Infinity' AS DOUBLE) WHEN x < 0 THEN CAST('NaN' AS DOUBLE) ELSE ln(x) END) / (CASE WHEN b = 0 THEN CAST('-Infinity' AS DOUBLE) WHEN b < 0 THEN CAST('NaN' AS DOUBLE) ELSE ln(b) END) END"},
	"power":       {args: n(2, 2)},
	"pow":         {args: n(2, 2)},
	"mod":         {args: n(2, 2)},
	"sign":        {args: n(1, 1)},
	"pi":          {args: n(0, 0)},
	"e":           {args: n(0, 0), macro: "() AS exp(1)"},
	"rand":        {args: n(0, 0), to: "random"},
	"random":      {args: n(0, 0)},
	"degrees":     {args: n(1, 1)},
	"radians":     {args: n(1, 1)},
	"sin":         {args: n(1, 1), macro: "(x) AS CASE WHEN isinf(CAST(x AS DOUBLE)) THEN CAST('NaN' AS DOUBLE) ELSE sin(x) END"},
	"cos":         {args: n(1, 1), macro: "(x) AS CASE WHEN isinf(CAST(x AS DOUBLE)) THEN CAST('NaN' AS DOUBLE) ELSE cos(x) END"},
	"tan":         {args: n(1, 1), macro: "(x) AS CASE WHEN isinf(CAST(x AS DOUBLE)) THEN CAST('NaN' AS DOUBLE) ELSE tan(x) END"},
	"asin":        {args: n(1, 1), macro: "(x) AS CASE WHEN x < -1 OR x > 1 THEN CAST('NaN' AS DOUBLE) ELSE asin(x) END"},
	"acos":        {args: n(1, 1), macro: "(x) AS CASE WHEN x < -1 OR x > 1 THEN CAST('NaN' AS DOUBLE) ELSE acos(x) END"},
	"atan":        {args: n(1, 1)},
	"atan2":       {args: n(2, 2)},
	"is_nan":      {args: n(1, 1), to: "isnan"},
	"is_finite":   {args: n(1, 1), to: "isfinite"},
	"is_infinite": {args: n(1, 1), to: "isinf"},
	"nan":         {args: n(0, 0), macro: "() AS CAST('NaN' AS DOUBLE)"},
	"infinity":    {args: n(0, 0), macro: "() AS CAST('Infinity' AS DOUBLE)"},

	// Date and time.
	"now":                    {args: n(0, 0)},
	"date":                   {args: n(1, 1), macro: "(x) AS CAST(x AS DATE)"},
	"date_trunc":             {args: n(2, 2)},
	"date_add":               {args: n(3, 3), macro: "(u, k, t DATE) AS CAST(t + k * CAST('1 ' || u AS INTERVAL) AS DATE), (u, k, t) AS t + k * CAST('1 ' || u AS INTERVAL)"},
	"date_diff":              {args: n(3, 3), to: "date_sub"},
	"date_format":            {args: n(2, 2), rewrite: rewritePattern("strftime", mysqlPattern)},
	"date_parse":             {args: n(2, 2), rewrite: rewritePattern("strptime", mysqlPattern)},
	"format_datetime":        {args: n(2, 2), rewrite: rewritePattern("strftime", jodaPattern)},
	"parse_datetime":         {args: n(2, 2), rewrite: rewritePattern("strptime", jodaPattern)},
	"date_part":              {args: n(2, 2), rewrite: rewriteExtract},
	"year":                   {args: n(1, 1)},
	"quarter":                {args: n(1, 1)},
	"month":                  {args: n(1, 1)},
	"week":                   {args: n(1, 1)},
	"week_of_year":           {args: n(1, 1), to: "week"},
	"day":                    {args: n(1, 1)},
	"day_of_month":           {args: n(1, 1), to: "day"},
	"day_of_week":            {args: n(1, 1), to: "isodow"},
	"dow":                    {args: n(1, 1), to: "isodow"},
	"day_of_year":            {args: n(1, 1), to: "dayofyear"},
	"doy":                    {args: n(1, 1), to: "dayofyear"},
	"year_of_week":           {args: n(1, 1), to: "isoyear"},
	"yow":                    {args: n(1, 1), to: "isoyear"},
	"hour":                   {args: n(1, 1)},
	"minute":                 {args: n(1, 1)},
	"second":                 {args: n(1, 1)},
	"millisecond":            {args: n(1, 1), macro: "(t) AS millisecond(t) % 1000"},
	"last_day_of_month":      {args: n(1, 1), to: "last_day"},
	"from_iso8601_timestamp": {args: n(1, 1), macro: "(s) AS CAST(s AS TIMESTAMPTZ)"},
	"from_iso8601_date":      {args: n(1, 1), macro: "(s) AS CAST(s AS DATE)"},
	"to_iso8601":             {args: n(1, 1), macro: "(t DATE) AS strftime(t, '%Y-%m-%d'), (t) AS CASE WHEN typeof(t) = 'TIMESTAMP WITH TIME ZONE' THEN strftime(t, '%Y-%m-%dT%H:%M:%S.%gZ') ELSE strftime(t, '%Y-%m-%dT%H:%M:%S.%g') END"},
	"to_unixtime":            {args: n(1, 1), macro: "(t) AS epoch(t)"},
	"from_unixtime":          {args: n(1, 1), macro: "(x) AS to_timestamp(x)"},

	// JSON.
	"json_parse":          {args: n(1, 1), to: "json"},
	"json_format":         {args: n(1, 1), macro: "(j) AS CAST(json(j) AS VARCHAR)"},
	"json_extract":        {args: n(2, 2), macro: "(j, p) AS CASE WHEN json_valid(j) THEN json_extract(j, p) END", rewrite: rewriteJSONPath},
	"json_extract_scalar": {args: n(2, 2), macro: "(j, p) AS CASE WHEN json_valid(j) THEN (CASE WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END) END", rewrite: rewriteJSONPath},
	"json_size":           {args: n(2, 2), macro: "(j, p) AS CASE WHEN json_valid(j) THEN (CASE WHEN json_type(j, p) IS NULL THEN NULL WHEN json_type(j, p) = 'ARRAY' THEN CAST(json_array_length(j, p) AS BIGINT) WHEN json_type(j, p) = 'OBJECT' THEN len(json_keys(j, p)) ELSE 0 END) END", rewrite: rewriteJSONPath},
	"json_array_length":   {args: n(1, 1), macro: "(j) AS CASE WHEN json_valid(j) THEN (CASE WHEN json_type(j) = 'ARRAY' THEN CAST(json_array_length(j) AS BIGINT) END) END"},
	"json_array_get":      {args: n(2, 2), macro: "(j, i) AS CASE WHEN json_valid(j) THEN (CASE WHEN json_type(j) = 'ARRAY' THEN json_extract(j, '$[' || CASE WHEN i >= 0 THEN CAST(i AS VARCHAR) ELSE '#' || CAST(i AS VARCHAR) END || ']') END) END"},
	"json_array_contains": {args: n(2, 2), macro: "(j, v) AS CASE WHEN json_valid(j) THEN (CASE WHEN json_type(j) = 'ARRAY' THEN list_contains(CAST(json_extract(j, '$[*]') AS VARCHAR[]), CAST(to_json(v) AS VARCHAR)) END) END"},
	"is_json_scalar":      {args: n(1, 1), macro: "(j) AS json_type(json(j)) NOT IN ('OBJECT', 'ARRAY')"},

	// Arrays and maps.
	"element_at":       {args: n(2, 2), macro: "(c, k) AS c[k]"},
	"cardinality":      {args: n(1, 1), macro: "(x MAP(VARCHAR, VARCHAR)) AS cardinality(x), (x) AS len(x)"},
	"contains":         {args: n(2, 2)},
	"array_distinct":   {args: n(1, 1), macro: "(a) AS list_filter(a, (trino_x, trino_i) -> list_position(a, trino_x) = trino_i)"},
	"array_max":        {args: n(1, 1), macro: "(a) AS CASE WHEN len(list_filter(a, trino_x -> trino_x IS NULL)) > 0 THEN NULL ELSE list_max(a) END"},
	"array_min":        {args: n(1, 1), macro: "(a) AS CASE WHEN len(list_filter(a, trino_x -> trino_x IS NULL)) > 0 THEN NULL ELSE list_min(a) END"},
	"array_position":   {args: n(2, 2), macro: "(a, e) AS CASE WHEN a IS NULL THEN NULL ELSE coalesce(list_position(a, e), 0) END"},
	"array_remove":     {args: n(2, 2), macro: "(a, e) AS list_filter(a, trino_x -> trino_x IS NULL OR trino_x <> e)"},
	"array_sort":       {args: n(1, 1), to: "list_sort"},
	"array_union":      {args: n(2, 2), macro: "(a, b) AS trino_array_distinct(list_concat(a, b))"},
	"array_intersect":  {args: n(2, 2), macro: "(a, b) AS trino_array_distinct(list_filter(a, trino_x -> list_contains(b, trino_x)))"},
	"array_except":     {args: n(2, 2), macro: "(a, b) AS trino_array_distinct(list_filter(a, trino_x -> NOT list_contains(b, trino_x)))"},
	"arrays_overlap":   {args: n(2, 2), to: "list_has_any"},
	"array_join":       {args: n(2, 3), macro: "(a, d) AS array_to_string(a, d), (a, d, r) AS array_to_string(list_transform(a, trino_x -> coalesce(CAST(trino_x AS VARCHAR), r)), d)"},
	"slice":            {args: n(3, 3), macro: "(a, s, k) AS CASE WHEN s > 0 THEN list_slice(a, s, s + k - 1) ELSE list_slice(a, len(a) + s + 1, len(a) + s + k) END"},
	"sequence":         {args: n(2, 3), macro: "(a, b) AS CASE WHEN a <= b THEN generate_series(a, b) ELSE generate_series(a, b, -1) END, (a, b, s) AS generate_series(a, b, s)"},
	"flatten":          {args: n(1, 1)},
	"filter":           {args: n(2, 2), lambdas: []int{1}, to: "list_filter"},
	"transform":        {args: n(2, 2), lambdas: []int{1}, to: "list_transform"},
	"reduce":           {args: n(4, 4), lambdas: []int{2, 3}, rewrite: rewriteReduce},
	"any_match":        {args: n(2, 2), lambdas: []int{1}, macro: "(l) AS CASE WHEN l IS NULL THEN NULL WHEN list_contains(l, true) THEN true WHEN len(list_filter(l, trino_x -> trino_x IS NULL)) > 0 THEN NULL ELSE false END", rewrite: rewriteMatch},
	"all_match":        {args: n(2, 2), lambdas: []int{1}, macro: "(l) AS CASE WHEN l IS NULL THEN NULL WHEN list_contains(l, false) THEN false WHEN len(list_filter(l, trino_x -> trino_x IS NULL)) > 0 THEN NULL ELSE true END", rewrite: rewriteMatch},
	"none_match":       {args: n(2, 2), lambdas: []int{1}, macro: "(l) AS CASE WHEN l IS NULL THEN NULL WHEN list_contains(l, true) THEN false WHEN len(list_filter(l, trino_x -> trino_x IS NULL)) > 0 THEN NULL ELSE true END", rewrite: rewriteMatch},
	"map":              {args: n(0, 2)},
	"map_keys":         {args: n(1, 1)},
	"map_values":       {args: n(1, 1)},
	"map_entries":      {args: n(1, 1)},
	"map_from_entries": {args: n(1, 1)},
	"map_concat":       {args: n(2, -1)},
}

// helperMacros are macros the rewrites call that are not a Trino function
// of the same name.
var helperMacros = []struct{ name, def string }{
	{"trino_greatest", "(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END"},
	{"trino_least", "(a, b) AS CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE least(a, b) END"},
	// CAST(x AS VARCHAR): JSON loses its quotes, timestamps keep milliseconds.
	{"trino_varchar", "(x) AS CASE WHEN typeof(x) = 'JSON' THEN json_extract_string(CAST(x AS VARCHAR), '$') " +
		"WHEN typeof(x) = 'TIMESTAMP' THEN strftime(CAST(x AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%g') " +
		"ELSE CAST(x AS VARCHAR) END"},
}

// windowFunctions are the ranking and value window functions; aggregates
// from functions are allowed over windows too.
var windowFunctions = map[string]bool{
	"row_number": true, "rank": true, "dense_rank": true, "percent_rank": true, "cume_dist": true,
	"ntile": true, "lag": true, "lead": true, "first_value": true, "last_value": true, "nth_value": true,
}

// builtins are the functions DuckDB's parser itself writes into the tree for
// Trino syntax (operators, LIKE, INTERVAL and TIMESTAMP literals, ARRAY[...],
// ROW(...), AT TIME ZONE, count(*)). They are allowed as they are.
var builtins = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "%": true, "||": true,
	"~~": true, "!~~": true, "like_escape": true, "not_like_escape": true,
	"row": true, "list_value": true, "count_star": true, "timezone": true, "trunc": true,
	"to_years": true, "to_months": true, "to_days": true, "to_hours": true, "to_minutes": true,
	"to_seconds": true, "to_milliseconds": true, "to_microseconds": true, "to_weeks": true,
	"to_quarters": true, "to_decades": true, "to_centuries": true, "to_millennia": true,
}

// Macros returns the CREATE MACRO statements that supply the Trino functions
// DuckDB lacks or computes differently. A connection that runs translated
// SQL must run them first (they are idempotent: CREATE OR REPLACE), after
// [Settings].
func Macros() []string {
	var names []string
	for name, f := range functions {
		if f.macro != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []string
	for _, h := range helperMacros {
		out = append(out, "CREATE OR REPLACE MACRO "+h.name+h.def)
	}
	// array_distinct first: other macros call it.
	out = append(out, "CREATE OR REPLACE MACRO "+macroPrefix+"array_distinct"+functions["array_distinct"].macro)
	for _, name := range names {
		if name != "array_distinct" {
			out = append(out, "CREATE OR REPLACE MACRO "+macroPrefix+name+functions[name].macro)
		}
	}
	return out
}

// Settings returns the SET statements a connection needs before it runs
// translated SQL (and before it locks its configuration): Trino's integer
// division and UTC as the time zone of timestamps with a time zone.
func Settings() []string {
	return []string{
		"SET TimeZone = 'UTC'",
		"SET integer_division = true",
	}
}

// rewriteConcat: Trino's concat is NULL when any argument is NULL (DuckDB's
// skips NULLs); DuckDB's || operator has Trino's meaning, for strings and
// arrays.
func rewriteConcat(n node, _ string) error {
	args := list(n["children"])
	acc := args[0]
	for _, a := range args[1:] {
		acc = newOperatorCall("||", location(n), acc, a)
	}
	replace(n, obj(acc))
	return nil
}

// foldWith turns f(a, b, c) into m(m(a, b), c): greatest and least are NULL
// when any argument is NULL in Trino; the two-argument macros keep that.
func foldWith(macro string) func(n node, _ string) error {
	return func(n node, _ string) error {
		args := list(n["children"])
		acc := args[0]
		for _, a := range args[1:] {
			acc = newFunction(macro, location(n), acc, a)
		}
		replace(n, obj(acc))
		return nil
	}
}

// rewriteApproxDistinct counts exactly: count(DISTINCT x) is within any
// error bound, and gives Trino's answer on small sets (DuckDB's
// approx_count_distinct does not).
func rewriteApproxDistinct(n node, _ string) error {
	n["function_name"] = "count"
	n["distinct"] = true
	n["children"] = list(n["children"])[:1]
	return nil
}

// rewriteMatch: any_match(a, x -> p) becomes trino_any_match(list_transform(a, x -> p)):
// the lambda is applied by DuckDB, the three-valued logic by the macro.
func rewriteMatch(n node, name string) error {
	args := list(n["children"])
	inner := newFunction("list_transform", location(n), args[0], args[1])
	n["function_name"] = macroPrefix + name
	n["children"] = []any{inner}
	return nil
}

// rewriteReduce: reduce(a, s0, (s, x) -> f, s -> g) becomes
// list_reduce(a, (s, x) -> f, s0), with g applied through a one-item list
// unless it is the identity.
func rewriteReduce(n node, _ string) error {
	args := list(n["children"])
	loc := location(n)
	red := newFunction("list_reduce", loc, args[0], args[2], args[1])
	out := obj(args[3])
	if lhs, body := obj(out["lhs"]), obj(out["expr"]); lhs != nil && body != nil &&
		lhs["class"] == "COLUMN_REF" && body["class"] == "COLUMN_REF" &&
		len(list(lhs["column_names"])) == 1 && len(list(body["column_names"])) == 1 &&
		strings.EqualFold(str(list(lhs["column_names"])[0]), str(list(body["column_names"])[0])) {
		replace(n, red)
		return nil
	}
	applied := newFunction("list_transform", loc, newFunction("list_value", loc, red), out)
	replace(n, node{
		"class": "OPERATOR", "type": "ARRAY_EXTRACT", "alias": "", "query_location": loc,
		"children": []any{applied, newInteger(1, loc)},
	})
	return nil
}

// rewritePattern turns a Trino formatting function into strftime or
// strptime, translating its pattern, which must be a literal.
func rewritePattern(to string, convert func(string) (string, error)) func(n node, name string) error {
	return func(n node, name string) error {
		args := list(n["children"])
		p, ok := stringConstant(args[1])
		if !ok {
			return unsupported("The format of %s must be a string literal.", name)
		}
		out, err := convert(p)
		if err != nil {
			return unsupported("%s: %v", name, err)
		}
		args[1] = newString(out, location(obj(args[1])))
		n["function_name"] = to
		return nil
	}
}

// extractFields maps the fields of EXTRACT(field FROM x), which DuckDB's
// parser writes as date_part('field', x), to the DuckDB function that gives
// Trino's value (the same as the Trino function of the field's name).
var extractFields = map[string]string{
	"year": "year", "quarter": "quarter", "month": "month", "week": "week",
	"day": "day", "day_of_month": "day", "day_of_week": "isodow", "dow": "isodow",
	"day_of_year": "dayofyear", "doy": "dayofyear", "year_of_week": "isoyear", "yow": "isoyear",
	"hour": "hour", "minute": "minute", "second": "second",
}

func rewriteExtract(n node, _ string) error {
	args := list(n["children"])
	field, ok := stringConstant(args[0])
	if !ok {
		return unsupported("EXTRACT needs a field name, such as YEAR or DAY_OF_WEEK.")
	}
	fn, ok := extractFields[strings.ToLower(field)]
	if !ok {
		return unsupported("EXTRACT(%s FROM ...) is not supported.", strings.ToUpper(field))
	}
	n["children"] = args[1:]
	n["function_name"] = fn
	return nil
}

// rewriteJSONPath translates a literal Trino JSON path into DuckDB's syntax
// ($["a b"] becomes $."a b") and calls the function's macro.
func rewriteJSONPath(n node, name string) error {
	args := list(n["children"])
	if p, ok := stringConstant(args[1]); ok {
		args[1] = newString(jsonPath(p), location(obj(args[1])))
	}
	n["function_name"] = macroPrefix + name
	return nil
}

// jsonPath translates Trino's JSON path subset ($, .name, ["name"], [n],
// [*]) into DuckDB's; a path it does not understand is returned as is, for
// DuckDB to judge.
func jsonPath(p string) string {
	if !strings.HasPrefix(p, "$") {
		return p
	}
	var b strings.Builder
	b.WriteString("$")
	rest := p[1:]
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, `["`) || strings.HasPrefix(rest, `['`):
			q := rest[1]
			end := strings.IndexByte(rest[2:], q)
			if end < 0 || !strings.HasPrefix(rest[2+end+1:], "]") {
				return p
			}
			name := rest[2 : 2+end]
			if strings.ContainsRune(name, '"') {
				return p
			}
			b.WriteString(`."` + name + `"`)
			rest = rest[2+end+2:]
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return p
			}
			b.WriteString(rest[:end+1])
			rest = rest[end+1:]
		case strings.HasPrefix(rest, "."):
			end := strings.IndexAny(rest[1:], ".[")
			if end < 0 {
				end = len(rest) - 1
			}
			b.WriteString(rest[:end+1])
			rest = rest[end+1:]
		default:
			return p
		}
	}
	return b.String()
}

// rewriteCast gives CAST Trino's meaning where DuckDB's differs:
// CAST(json AS VARCHAR) is the JSON value's text, not its JSON encoding,
// and a timestamp keeps its milliseconds; CAST(x AS JSON) encodes x as JSON
// (a string becomes a JSON string) instead of parsing it.
func rewriteCast(n node) error {
	t := obj(n["cast_type"])
	switch str(t["id"]) {
	case "VARCHAR":
		replace(n, newFunction("trino_varchar", location(n), n["child"]))
	case "UNBOUND":
		// Only an explicit CAST(x AS JSON) encodes: the JSON literal
		// JSON '[1, 2]' parses its text, in Trino as in DuckDB. The parser
		// writes both as a cast; the literal's has no location of its own
		// (or, for x::JSON, one after its operand's).
		if strings.EqualFold(str(obj(t["type_info"])["name"]), "json") && before(n, obj(n["child"])) {
			replace(n, newFunction("to_json", location(n), n["child"]))
		}
	}
	return nil
}

// before reports whether node a starts before node b in the statement.
func before(a, b node) bool {
	la, errA := strconv.ParseUint(fmt.Sprint(a["query_location"]), 10, 64)
	lb, errB := strconv.ParseUint(fmt.Sprint(b["query_location"]), 10, 64)
	return errA == nil && errB == nil && la < lb
}
