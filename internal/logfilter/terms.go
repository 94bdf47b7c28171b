package logfilter

import (
	"bytes"
	"strings"
)

type termMode uint8

const (
	termRequired termMode = iota
	termExcluded          // -term
	termOptional          // ?term
)

type term struct {
	text []byte
	mode termMode
}

// parseTerms reads a pattern of terms: bare words or quoted phrases, each
// optionally prefixed by '-' (must not occur) or '?' (one of the '?' terms
// must occur). A '-' may be separated from its term by spaces, as in the
// AWS example `"ERROR" - "Exiting"`.
func parseTerms(s string) ([]term, *Error) {
	var out []term
	i := 0
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return out, nil
		}
		mode := termRequired
		start := i
		switch s[i] {
		case '-':
			mode = termExcluded
			i = skipSpace(s, i+1)
		case '?':
			mode = termOptional
			i++
		}
		if i >= len(s) || (mode == termOptional && isSpace(s[i])) {
			return nil, patternError(start, "%q must be followed by a term", s[start:start+1])
		}
		var text string
		if s[i] == '"' {
			t, next, err := scanQuoted(s, i)
			if err != nil {
				return nil, err
			}
			text, i = t, next
		} else {
			j := i
			for j < len(s) && !isSpace(s[j]) {
				j++
			}
			text = s[i:j]
			if len(text) >= 2 && strings.HasPrefix(text, "%") && strings.HasSuffix(text, "%") {
				return nil, patternError(i, "regular expressions (%%...%%) are not supported")
			}
			i = j
		}
		out = append(out, term{text: []byte(text), mode: mode})
	}
}

func matchTerms(terms []term, msg []byte) bool {
	optional, anyOptional := false, false
	for _, t := range terms {
		has := bytes.Contains(msg, t.text)
		switch t.mode {
		case termRequired:
			if !has {
				return false
			}
		case termExcluded:
			if has {
				return false
			}
		case termOptional:
			anyOptional = true
			optional = optional || has
		}
	}
	return !anyOptional || optional
}
