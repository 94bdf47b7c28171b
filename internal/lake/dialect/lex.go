package dialect

import (
	"strings"
)

// This file holds the small lexer that makes a Lake statement parseable by
// DuckDB before its tree is read: it is the only place that edits statement
// text, token by token (never with regular expressions), and it does two
// things:
//
//   - an event data store ID written bare as a table name
//     (FROM EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE) is put in double quotes;
//   - Trino's array type ARRAY(T) in a CAST becomes DuckDB's T[].
//
// It also refuses a string literal where a table name belongs
// (FROM '/etc/passwd' is a file read in DuckDB).

type tokKind int

const (
	tokSpace  tokKind = iota // white space and comments
	tokWord                  // identifier or keyword
	tokQuoted                // "quoted identifier"
	tokString                // 'string', E'string', $$string$$
	tokNumber                // 123, 1.5e3
	tokPunct                 // one character of anything else
)

type token struct {
	kind       tokKind
	start, end int
}

// lex splits src into tokens. It never fails: an unterminated string or
// comment runs to the end, and the parser reports it.
func lex(src string) []token {
	var toks []token
	i := 0
	for i < len(src) {
		start := i
		c := src[i]
		var kind tokKind
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			for i < len(src) && strings.IndexByte(" \t\n\r\f\v", src[i]) >= 0 {
				i++
			}
			kind = tokSpace
		case c == '-' && strings.HasPrefix(src[i:], "--"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			kind = tokSpace
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			i = skipBlockComment(src, i)
			kind = tokSpace
		case c == '\'':
			i = skipString(src, i, false)
			kind = tokString
		case (c == 'e' || c == 'E') && i+1 < len(src) && src[i+1] == '\'':
			i = skipString(src, i+1, true)
			kind = tokString
		case c == '"':
			i = skipQuoted(src, i)
			kind = tokQuoted
		case c == '$' && dollarTag(src, i) != "":
			tag := dollarTag(src, i)
			if j := strings.Index(src[i+len(tag):], tag); j >= 0 {
				i += len(tag) + j + len(tag)
			} else {
				i = len(src)
			}
			kind = tokString
		case isWordStart(c):
			for i < len(src) && isWordPart(src[i]) {
				i++
			}
			kind = tokWord
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			for i < len(src) && (isWordPart(src[i]) || src[i] == '.') {
				i++
			}
			kind = tokNumber
		default:
			i++
			kind = tokPunct
		}
		toks = append(toks, token{kind: kind, start: start, end: i})
	}
	return toks
}

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isWordPart(c byte) bool {
	return isWordStart(c) || c >= '0' && c <= '9' || c == '$'
}

// skipBlockComment returns the end of the (nested, as in DuckDB) comment at i.
func skipBlockComment(src string, i int) int {
	depth := 0
	for i < len(src) {
		switch {
		case strings.HasPrefix(src[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(src[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipString returns the end of the string literal whose quote is at i.
func skipString(src string, i int, backslash bool) int {
	i++
	for i < len(src) {
		switch src[i] {
		case '\\':
			if backslash {
				i += 2
				continue
			}
		case '\'':
			if i+1 < len(src) && src[i+1] == '\'' {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(src)
}

func skipQuoted(src string, i int) int {
	i++
	for i < len(src) {
		if src[i] == '"' {
			if i+1 < len(src) && src[i+1] == '"' {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(src)
}

// dollarTag returns the $tag$ that opens a dollar-quoted string at i, or "".
func dollarTag(src string, i int) string {
	j := i + 1
	if j < len(src) && src[j] != '$' {
		if !isWordStart(src[j]) {
			return ""
		}
		for j < len(src) && (isWordStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
			j++
		}
	}
	if j < len(src) && src[j] == '$' {
		return src[i : j+1]
	}
	return ""
}

func (t token) text(src string) string { return src[t.start:t.end] }

// isStoreIDChar reports whether c may appear in an event data store ID
// (^[a-zA-Z0-9._/\-:]+$).
func isStoreIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._/-:", c) >= 0
}

// prepare returns statement with its bare store IDs quoted and Trino's
// ARRAY(T) types rewritten, or an error for a string used as a table.
func prepare(statement string) (string, error) {
	s, err := quoteStoreIDs(statement)
	if err != nil {
		return "", err
	}
	return rewriteArrayTypes(s), nil
}

// frame is one level of parentheses while looking for table names.
type frame struct {
	special bool // EXTRACT( TRIM( SUBSTRING( OVERLAY(: their FROM is not a table's
	inFrom  bool // inside a FROM list at this level: a comma starts a table
}

// quoteStoreIDs puts double quotes around every bare table name that DuckDB
// could not read as an identifier: a run of store-ID characters that has a
// '-', '/' or ':' or starts with a digit. A table name is what follows FROM
// (not in EXTRACT(... FROM ...), TRIM(... FROM ...) or IS DISTINCT FROM), JOIN,
// or a comma in a FROM list.
func quoteStoreIDs(src string) (string, error) {
	toks := lex(src)
	var out strings.Builder
	copied := 0
	frames := []frame{{}}
	expectTable := false
	prev := "" // the previous word or punctuation, upper case
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tokSpace {
			continue
		}
		top := &frames[len(frames)-1]
		if expectTable {
			expectTable = false
			switch t.kind {
			case tokString:
				return "", unsupported("%s is a string, not a table name: FROM and JOIN take an event data store ID.", t.text(src))
			case tokWord, tokNumber, tokPunct:
				if t.kind == tokPunct && !strings.Contains("/:", t.text(src)) {
					break
				}
				end := t.start
				for end < len(src) && isStoreIDChar(src[end]) {
					if strings.HasPrefix(src[end:], "--") || strings.HasPrefix(src[end:], "/*") {
						break
					}
					end++
				}
				run := src[t.start:end]
				if run != "" && (strings.ContainsAny(run, "-/:") || run[0] >= '0' && run[0] <= '9') {
					out.WriteString(src[copied:t.start])
					out.WriteString(`"` + run + `"`)
					copied = end
					for i+1 < len(toks) && toks[i+1].start < end {
						i++
					}
					prev = "TABLE"
					continue
				}
				if strings.EqualFold(run, "LATERAL") {
					expectTable = true
				}
			}
		}
		word := strings.ToUpper(t.text(src))
		switch t.kind {
		case tokWord:
			switch word {
			case "FROM":
				if prev != "DISTINCT" && !top.special {
					expectTable = true
					top.inFrom = true
				}
			case "JOIN":
				expectTable = true
				top.inFrom = true
			case "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT",
				"WINDOW", "QUALIFY", "FETCH", "SELECT":
				top.inFrom = false
			}
		case tokPunct:
			switch word {
			case "(":
				frames = append(frames, frame{special: prev == "EXTRACT" || prev == "TRIM" || prev == "SUBSTRING" || prev == "OVERLAY"})
			case ")":
				if len(frames) > 1 {
					frames = frames[:len(frames)-1]
				}
			case ",":
				if top.inFrom {
					expectTable = true
				}
			case ";":
				frames = []frame{{}}
			}
		}
		prev = word
	}
	out.WriteString(src[copied:])
	return out.String(), nil
}

// rewriteArrayTypes turns Trino's ARRAY(T) type (DuckDB has no such syntax)
// into T[], nested types included: CAST(x AS ARRAY(MAP(VARCHAR, VARCHAR)))
// becomes CAST(x AS MAP(VARCHAR, VARCHAR)[]). ARRAY(SELECT ...), DuckDB's
// subquery constructor, is left alone (and refused later).
func rewriteArrayTypes(src string) string {
	toks := lex(src)
	var out strings.Builder
	copied := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tokWord || !strings.EqualFold(t.text(src), "ARRAY") {
			continue
		}
		open := nextSignificant(toks, i+1)
		if open < 0 || toks[open].text(src) != "(" {
			continue
		}
		first := nextSignificant(toks, open+1)
		if first < 0 {
			continue
		}
		switch strings.ToUpper(toks[first].text(src)) {
		case "SELECT", "WITH", "FROM", "VALUES", "(", ")":
			continue
		}
		close := matchParen(src, toks, open)
		if close < 0 {
			continue
		}
		inner := src[toks[open].end:toks[close].start]
		out.WriteString(src[copied:t.start])
		out.WriteString(rewriteArrayTypes(strings.TrimSpace(inner)) + "[]")
		copied = toks[close].end
		i = close
	}
	out.WriteString(src[copied:])
	return out.String()
}

func nextSignificant(toks []token, i int) int {
	for ; i < len(toks); i++ {
		if toks[i].kind != tokSpace {
			return i
		}
	}
	return -1
}

// matchParen returns the index of the token that closes the parenthesis at
// toks[open], or -1.
func matchParen(src string, toks []token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].kind != tokPunct {
			continue
		}
		switch toks[i].text(src) {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
