// Package eventpattern is EventBridge's event pattern language, and the
// InputPath and InputTransformer that shape what a rule's target receives
// (alerts.md §3.3 and §3.4). It is pure: no I/O, no goroutines.
//
// [Parse] validates a pattern and returns a [*Pattern]; a rejected pattern
// gives an *[Error] (errors.Is [ErrInvalidPattern]) whose Path locates the
// fault ("detail.eventName[2]") and whose message the API returns as
// InvalidEventPatternException. [Pattern.Match] answers TestEventPattern.
// A [Set] holds many named patterns compiled together and returns the
// names that match an event: what the EventBridge follower calls for
// every event on a bus. [ApplyInputPath] and [NewInputTransformer] /
// [InputTransformer.Transform] build a target's input; their validation
// errors are *[InputError].
//
// # Semantics
//
// The semantics are AWS's, from the EventBridge user guide (pages
// eb-event-patterns, eb-create-pattern-operators, eb-event-patterns-arrays,
// eb-event-patterns-null-values, eb-transform-target-input) and, where the
// guide is silent, from aws/event-ruler, the library EventBridge matches
// with (its README and JsonRuleCompiler). The tests cite the page each
// case comes from. A pattern mirrors the event: fields of an object must
// all match (AND); a leaf is a non-empty array of alternatives (OR).
// Matching is case-sensitive and typed: "5" does not match 5, "true" does
// not match true, null matches only JSON null, "" only the empty string,
// and nothing but exists:false matches a missing field.
//
// Choices where the sources are silent or disagree:
//
//   - Numbers. An exact number matches an event number with the same text,
//     or, when both lie within ±5.0e9, the same value to six decimal
//     places: [5] matches 5, 5.0 and 5e0. Larger numbers (account IDs)
//     match only by text. This is event-ruler's rule: the compiler adds
//     both a numeric and a literal matcher for a number. numeric ranges
//     take JSON numbers only; their bounds must lie within ±5.0e9 (else the
//     pattern is rejected) and a lower bound must be below the upper one;
//     an event number outside ±5.0e9 matches no range. Comparison is on
//     values rounded to millionths.
//   - Strings only. prefix, suffix, equals-ignore-case, wildcard and cidr
//     match string values only. Ignoring case is Unicode simple case
//     folding (strings.EqualFold), rune by rune for prefix and suffix.
//     cidr needs a prefix length; host bits are ignored; an IPv4-mapped
//     IPv6 address matches an IPv4 range. An exact value that is an IP
//     address matches the address however it is written ("2001:db8::1"
//     matches "2001:DB8:0::1"), as event-ruler turns such values into
//     address ranges; anything-but compares them as strings, as
//     event-ruler does.
//   - anything-but matches a present value that satisfies none of its
//     alternatives; a value of another type satisfies none (anything-but
//     "x" matches 5 and null; anything-but [5] matches "5"). A missing
//     field does not match. On an event array it matches when some element
//     qualifies, since each element is a value of the field, as everywhere
//     else (["x","y"] matches anything-but "x").
//   - exists applies to leaves. exists:true matches any leaf value,
//     including null; an object or an empty array is no leaf value, so
//     exists:false matches a field holding {"c1":100} or [].
//   - Arrays. An event array matches when any element does. Arrays of
//     objects are flattened, but, as event-ruler's rulesForJSONEvent,
//     values that satisfy two conditions of the same pattern must lie in
//     the same element of every array of objects (or of arrays) that holds
//     both; elements of an array of scalars are interchangeable. With
//     exists:false in such a pattern, the field must be missing from the
//     element the other conditions chose. The search for a consistent
//     choice is bounded: a rule that needs more than 10,000 steps on one
//     event does not match it (real patterns need a handful).
//   - $or takes an array of at least two non-empty objects, nests, and may
//     appear at any level; its objects may not use operator names as field
//     names. A pattern expands into at most [MaxBranches] alternatives.
//     A field named both outside and inside an $or alternative must satisfy
//     both conditions.
//   - Field names are whole keys: {"a":{"b":[..]}} does not match the key
//     "a.b" (event-ruler joins paths with dots, and says not to rely on
//     it). A pattern repeating a key is rejected rather than keeping the
//     last one. event-ruler's undocumented {"exact": "v"} is accepted.
//   - An event object that repeats a key has all its values, as
//     event-ruler's streaming parser sees them.
//   - Size: [MaxPatternLength] characters (the API model's figure; the
//     quota page says 2,048).
//
// Error messages follow event-ruler's wording where it has one ("Empty
// arrays are not allowed", "Inside anything but list, start|null|boolean
// is not supported.", "Consecutive wildcard characters at pos 2").
//
// # Matching cost
//
// A Set compiles its patterns into a trie of the field paths they use
// and an index. One pass over the event validates its JSON and records
// only the leaves at those paths (other subtrees are skipped without
// decoding). Each alternative of a pattern is indexed under its most
// selective field whose alternatives are all exact strings, prefixes,
// suffixes or wildcards with a literal start or end (the field whose values
// the fewest other rules share); it is evaluated only when the event has a
// value there that equals, starts or ends with one of them. Only patterns
// with no such field (a lone anything-but, numeric, exists, cidr,
// equals-ignore-case or "*x*" wildcard) are evaluated for every event. So the cost of common rules does
// not grow with their number: BenchmarkSet measures 1,000 rules against
// real CloudTrail events, with BenchmarkSetBaseline beside it.
//
// A Set is safe for concurrent use. Add and Remove only record the
// change, so loading many rules costs one compilation; the next Match
// recompiles (copy-on-write: matches already running finish on the
// previous compilation).
//
// # Target input
//
// Paths (InputPath and the values of InputPathsMap) are EventBridge's
// dot notation: $, $.detail.eventName, $.resources[0], $.detail.items[*]
// or $.detail.* (a path with * gives a JSON array of every value it
// selects). Bracketed field names are rejected, as AWS asks for dot
// notation. ApplyInputPath returns the selected raw JSON, bytes of the
// event as they are; a path that selects nothing gives [ErrPathNotFound]
// (AWS documents no behaviour; the caller decides).
//
// A template is a JSON template when it is valid JSON once its
// placeholders are replaced (a bare placeholder by a value, one inside a
// string by text); otherwise it is a text template. A placeholder <name>
// is replaced by:
//
//   - as a bare JSON value: the value's JSON ("RUNNING" with its quotes,
//     objects as they are in the event); null when the path is missing;
//   - inside a JSON string: a string's characters, still JSON-escaped, so
//     that the result stays JSON (alerts.md §3.4; the guide says
//     EventBridge substitutes so as to keep the output valid JSON); a
//     number, true, false or null as text; an object or array as its JSON
//     with the quote characters removed (a decision: the guide's examples
//     stop at strings); nothing when the path is missing;
//   - in a text template: a string's characters, decoded; anything else
//     as JSON; nothing when missing.
//
// The reserved variables are aws.events.rule-arn, aws.events.rule-name,
// aws.events.event.ingestion-time (RFC 3339, UTC, seconds), aws.events.event
// (the event without its detail, other members in order) and
// aws.events.event.json (the whole event), all from [RuleInfo] and the
// event. <text> that names no variable stays as it is (AWS offers no
// escape for < and >); a placeholder used as an object key is rejected.
package eventpattern
