package querygen

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// thinking is the reasoning some models write before their answer.
	thinking = regexp.MustCompile(`(?is)<think(?:ing)?>.*?</think(?:ing)?>`)
	// statementStart finds where a statement begins: SELECT, or WITH
	// followed by a common table expression ("WITH name AS (").
	statementStart = regexp.MustCompile(`(?is)\b(SELECT\b|WITH\s+(RECURSIVE\s+)?("[^"]*"|\w+)(\s*\([^)]*\))?\s+AS\s*\()`)
)

// ExtractSQL returns the SQL statement a model's reply holds: the first
// fenced code block (``` or ~~~, tagged sql or untagged, or any block when
// none is) that holds one, else the reply from its first SELECT or WITH on;
// without a reasoning block (<think>…</think>), surrounding space and
// trailing semicolons. A reply with no statement is ErrNoQuery.
func ExtractSQL(reply string) (string, error) {
	reply = thinking.ReplaceAllString(reply, "")
	blocks := fencedBlocks(reply)
	var candidates []string
	for _, b := range blocks {
		if b.lang == "sql" || b.lang == "trino" || b.lang == "presto" || b.lang == "" {
			candidates = append(candidates, b.body)
		}
	}
	for _, b := range blocks {
		candidates = append(candidates, b.body)
	}
	for _, c := range candidates {
		if s := clean(c); s != "" {
			return s, nil
		}
	}
	if len(blocks) == 0 {
		if loc := statementStart.FindStringIndex(reply); loc != nil {
			if s := clean(reply[loc[0]:]); s != "" {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %q", ErrNoQuery, clip(strings.TrimSpace(reply), 200))
}

// clean trims a candidate statement and returns it when it starts with
// SELECT or WITH (after leading comments), else "".
func clean(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasSuffix(s, ";") {
		s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	}
	body := s
	for {
		body = strings.TrimSpace(body)
		if strings.HasPrefix(body, "--") {
			if i := strings.IndexByte(body, '\n'); i >= 0 {
				body = body[i+1:]
				continue
			}
			return ""
		}
		break
	}
	loc := statementStart.FindStringIndex(body)
	if loc == nil || loc[0] != 0 {
		return ""
	}
	return s
}

type block struct{ lang, body string }

// fencedBlocks returns the closed fenced code blocks of text, in order.
func fencedBlocks(text string) []block {
	var out []block
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		fence := ""
		switch {
		case strings.HasPrefix(t, "```"):
			fence = "```"
		case strings.HasPrefix(t, "~~~"):
			fence = "~~~"
		default:
			continue
		}
		lang := strings.ToLower(strings.TrimSpace(strings.TrimLeft(t, fence[:1])))
		// A one-line block: ```SELECT 1```.
		if rest := strings.TrimPrefix(t, fence); strings.HasSuffix(rest, fence) && len(rest) > len(fence) {
			out = append(out, block{body: strings.TrimSuffix(rest, fence)})
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == fence {
				out = append(out, block{lang: lang, body: strings.Join(lines[i+1:j], "\n")})
				i = j
				break
			}
		}
	}
	return out
}
