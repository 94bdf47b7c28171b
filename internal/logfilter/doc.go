// Package logfilter implements the CloudWatch Logs filter pattern language
// (alerts.md §4.2–4.4): what metric filters, FilterLogEvents and
// TestMetricFilter use to pick log events, and the metric transformation
// that turns a matched event into a metric value. It is pure: no I/O, no
// clock, no logging.
//
// [Parse] compiles a pattern into a [Filter]; a bad pattern is an *[Error]
// (errors.Is [ErrInvalidPattern]) whose message the API returns in an
// InvalidParameterException. Patterns longer than [MaxPatternLength] are
// refused. A Filter is safe for concurrent use.
//
// # Pattern kinds
//
// The first non-space character decides the kind ([Filter.Kind]):
//
//   - Empty (or only spaces): matches every event.
//   - `{ EXPR }`: a JSON pattern. The message must be a JSON object;
//     any other message never matches. EXPR combines conditions with
//     `&&`, `||` and parentheses, `&&` binding tighter than `||`.
//     A condition is `SELECTOR OP VALUE`, `SELECTOR IS NULL`,
//     `SELECTOR IS TRUE`, `SELECTOR IS FALSE` or `SELECTOR NOT EXISTS`.
//     SELECTOR is `$` followed by `.name` steps (letters, digits, `-`,
//     `_`) and `[N]` array indexes after a property: `$.a.b`,
//     `$.a[0].b`, `$.c[0][1]`.
//   - `[ f1, f2, ... ]`: a space-delimited pattern. The message is split at
//     spaces; text between `[` and `]` or between double quotes is one
//     field (without the brackets or quotes). Each pattern field is a name,
//     an empty slot, `...` (any number of fields), or conditions on named
//     fields joined by `&&` / `||` (`status_code = 4* && status_code !=
//     403`). Without `...` the message must have exactly as many fields as
//     the pattern.
//   - Anything else: terms. Bare words or "quoted phrases"; every plain
//     term must occur in the message, no `-term` may occur, and when
//     there are `?term`s at least one of them must occur. Matching is a
//     case-sensitive substring search, so ERROR matches ERRORCODE, as the
//     AWS documentation's example shows.
//
// # Values and operators
//
// A VALUE is a double-quoted string (`\"` and `\\` are escapes) or a bare
// token. A bare token in number form (optional sign, digits, optional
// decimals, optional exponent: `+1000`, `55.5`, `10e-3`) is a number;
// everything else is a string. Strings take `=` and `!=` only; a `*` at
// the start and/or end is a wildcard (`*UnauthorizedOperation`,
// `AccessDenied*`, `*html*`), a lone `*` means any value, and a `*` in the
// middle is literal (`Ev*ent` matches only "Ev*ent"). Comparisons are
// case-sensitive. Numbers take `= != < > <= >=`.
//
// Decisions where AWS documents nothing (alerts.md §7 question 7):
//   - A selector that reaches an object, an array or JSON null makes `=`
//     and `!=` false, as AWS documents for objects and arrays; use
//     IS NULL for null. A missing field makes both false too, so
//     `$.x != "a"` does not match events without x.
//   - A lone `*` matches any string, number or boolean.
//   - A number compares numerically with a JSON number or with a JSON
//     string in number form ("123456789012" = 123456789012); `=` and `!=`
//     against any other string compare the text as written.
//   - String patterns see a JSON number or boolean as its JSON text, so
//     `$.status = 4*` matches 404.
//   - A space-delimited condition may name another field of the same
//     pattern; naming a field the pattern does not declare is an error.
//   - Terms: plain and `?` terms may be mixed (plain ones are required,
//     then at least one `?` one). AWS asks for quotes around terms with
//     characters other than letters, digits and `_`; bare ones are
//     accepted here and end at a space.
//   - Regular expressions (`%…%`) are refused with an error naming them.
//
// # Events and metric values
//
// [NewEvent] wraps one log message and decodes it at most once, however
// many filters look at it: callers evaluating several metric filters per
// event should use [Filter.MatchEvent]. [Filter.Extract] returns
// TestMetricFilter's extractedValues: `$name` or `$N` (1-based field
// number) for every field of a space-delimited match, an empty map for
// other kinds.
//
// [NewTransformation] compiles a metric transformation (metricValue,
// defaultValue, dimensions) against its filter; [Transformation.Apply]
// gives the value a matched event contributes, with its dimension values.
// A metricValue that does not resolve to a number contributes nothing.
//
// # CIS controls
//
// [CIS] lists the CIS AWS Foundations Benchmark monitoring controls 4.1 to
// 4.15 (alerts.md §6) with the filter patterns the benchmark publishes, for
// the CIS monitoring pack.
package logfilter
