package samples

import (
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Result is a sample query with its relevance to a search phrase, in
// [0, 1].
type Result struct {
	Query
	Relevance float64
}

// Field weights and BM25's parameters. The name says most about a query,
// its SQL least (and most of it is column names every query shares).
const (
	weightName = 3.0
	weightDesc = 1.0
	weightSQL  = 0.3
	bm25K1     = 1.2
	bm25B      = 0.75
)

// Index ranks a set of queries for search phrases. It is immutable and
// safe for concurrent use.
type Index struct {
	queries []Query
	tf      []map[string]float64 // weighted term frequencies per query
	length  []float64            // weighted length per query
	avg     float64
	df      map[string]int
}

// NewIndex indexes queries.
func NewIndex(queries []Query) *Index {
	ix := &Index{queries: slices.Clone(queries), df: map[string]int{}}
	var total float64
	for _, q := range ix.queries {
		tf := map[string]float64{}
		var n float64
		for _, f := range []struct {
			text string
			w    float64
		}{{q.Name, weightName}, {q.Description, weightDesc}, {sqlWords(q.SQL), weightSQL}} {
			for _, t := range Terms(f.text) {
				tf[t] += f.w
				n += f.w
			}
		}
		for t := range tf {
			ix.df[t]++
		}
		ix.tf = append(ix.tf, tf)
		ix.length = append(ix.length, n)
		total += n
	}
	if len(ix.queries) > 0 {
		ix.avg = total / float64(len(ix.queries))
	}
	return ix
}

// idf is BM25's inverse document frequency (Lucene's form, never
// negative). A term no query has counts as if one query had it, so an
// unknown word lowers every query's relevance without dominating it.
func (ix *Index) idf(t string) float64 {
	n := float64(len(ix.queries))
	df := float64(max(ix.df[t], 1))
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}

// Search returns the queries that share a term with phrase, most relevant
// first (ties in catalogue order).
func (ix *Index) Search(phrase string) []Result {
	terms := Terms(phrase)
	slices.Sort(terms)
	terms = slices.Compact(terms)
	// The best score a query could reach: every term with an unbounded
	// frequency, where BM25's term weight tends to idf·(k1+1).
	var best float64
	for _, t := range terms {
		best += ix.idf(t) * (bm25K1 + 1)
	}
	var out []Result
	if best == 0 {
		return out
	}
	for i, q := range ix.queries {
		var s float64
		norm := bm25K1 * (1 - bm25B + bm25B*ix.length[i]/ix.avg)
		for _, t := range terms {
			if f := ix.tf[i][t]; f > 0 {
				s += ix.idf(t) * f * (bm25K1 + 1) / (f + norm)
			}
		}
		if s > 0 {
			r := math.Round(s/best*1e4) / 1e4
			out = append(out, Result{Query: q, Relevance: min(1, max(r, 1e-4))})
		}
	}
	slices.SortStableFunc(out, func(a, b Result) int {
		switch {
		case a.Relevance > b.Relevance:
			return -1
		case a.Relevance < b.Relevance:
			return 1
		}
		return 0
	})
	return out
}

var builtinIndex = sync.OnceValues(func() (*Index, error) {
	qs, err := Catalogue()
	if err != nil {
		return nil, err
	}
	return NewIndex(qs), nil
})

// Search searches the embedded catalogue ([Catalogue]).
func Search(phrase string) ([]Result, error) {
	ix, err := builtinIndex()
	if err != nil {
		return nil, err
	}
	return ix.Search(phrase), nil
}

// Terms returns the search terms of text: words and identifiers split at
// non-alphanumerics and camelCase boundaries, lower-cased, without stop
// words, stemmed, with synonyms mapped to one term. It is what both the
// catalogue and a phrase are indexed by.
func Terms(text string) []string {
	var out []string
	for _, w := range words(text) {
		w = strings.ToLower(w)
		if stopWords[w] {
			continue
		}
		if syn, ok := synonyms[w]; ok {
			out = append(out, syn...)
			continue
		}
		s := stem(w)
		if syn, ok := synonyms[s]; ok {
			out = append(out, syn...)
			continue
		}
		if !stopWords[s] {
			out = append(out, s)
		}
	}
	return out
}

// words splits text into runs of letters and digits, and splits a run at
// its camelCase boundaries ("ConsoleLogin", "userIdentity", "GetSecretValue",
// "MFAUsed" give Console Login, user Identity, Get Secret Value, MFA Used).
// A run written as one word ("signin") is kept whole.
func words(text string) []string {
	var out []string
	rs := []rune(text)
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		run := rs[start:end]
		from := 0
		for i := 1; i < len(run); i++ {
			lowerToUpper := unicode.IsLower(run[i-1]) && unicode.IsUpper(run[i])
			acronymEnd := unicode.IsUpper(run[i-1]) && unicode.IsUpper(run[i]) && i+1 < len(run) && unicode.IsLower(run[i+1])
			if lowerToUpper || acronymEnd {
				out = append(out, string(run[from:i]))
				from = i
			}
		}
		out = append(out, string(run[from:]))
		start = -1
	}
	for i, r := range rs {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(rs))
	return out
}

// sqlWords returns the words of a statement without its SQL keywords and
// the store placeholder, which say nothing about what it is for.
func sqlWords(sql string) string {
	var keep []string
	for _, w := range words(strings.ReplaceAll(sql, Placeholder, " ")) {
		if !sqlKeywords[strings.ToLower(w)] {
			keep = append(keep, w)
		}
	}
	return strings.Join(keep, " ")
}

// sqlKeywords are the keywords and generic functions of the catalogue's
// SQL, and the one-letter aliases it uses.
var sqlKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`select distinct from where group by order limit offset having case when then
		else end null is not and or in like between asc desc count sum avg min max round coalesce cross
		join unnest element_at true false as t r if regexp_like lower upper date_trunc day_of_week`) {
		m[w] = true
	}
	return m
}()

// stem strips English plural and verb endings so that "logins", "policies",
// "deleted" and "deleting" meet "login", "policy" and "delete". It is
// deliberately small (not Porter's algorithm): the catalogue's vocabulary
// is small and both sides go through the same function.
func stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	case strings.HasSuffix(w, "ing") && len(w) > 5:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && len(w) > 4:
		w = undouble(w[:len(w)-2])
	}
	if strings.HasSuffix(w, "e") && len(w) > 3 {
		w = w[:len(w)-1]
	}
	return w
}

// undouble drops one of two equal final consonants: "stopp" is "stop".
func undouble(w string) string {
	n := len(w)
	if n >= 2 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiouylsz", rune(w[n-1])) {
		return w[:n-1]
	}
	return w
}

// stopWords are dropped from phrases and the catalogue: English filler.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the of to in on at for by with and or is are was were be been being
		my me i we our us you your it its this that these those there their them they he she his her
		show find list give display tell want need see look looking please can could would should will
		all any some every each what which how many much when where why whose whom
		do does did done have has had get got from into onto out over under about as than then
		no not without only also just more less very so such same other others
		query queries sample samples sql ins`) {
		m[w] = true
	}
	return m
}()

// synonyms map a word, or its stem, to the terms it stands for: the
// stemmed words the catalogue uses.
var synonyms = map[string][]string{
	// Signing in.
	"signin": {"login"}, "sign": {"login"}, "logon": {"login"}, "logged": {"login"},
	"authenticat": {"login"}, "authentication": {"login"},
	// MFA.
	"mfa": {"mfa"}, "2fa": {"mfa"}, "multifactor": {"mfa"}, "otp": {"mfa"}, "totp": {"mfa"},
	// Denials.
	"deny": {"deny"}, "unauthorized": {"deny"}, "unauthoriz": {"deny"}, "forbidden": {"deny"},
	"refused": {"deny"}, "refus": {"deny"}, "rejected": {"deny"}, "reject": {"deny"}, "blocked": {"deny"},
	// Errors.
	"fail": {"error"}, "failur": {"error"}, "failure": {"error"}, "erroneou": {"error"},
	// Rankings.
	"most": {"top"}, "frequent": {"top"}, "busiest": {"top"}, "popular": {"top"}, "common": {"top"}, "active": {"top"},
	// Who.
	"who": {"principal"}, "caller": {"principal"}, "actor": {"principal"}, "identity": {"principal"}, "identiti": {"principal"},
	// Changes.
	"modify": {"chang"}, "modifi": {"chang"}, "updat": {"chang"}, "edit": {"chang"}, "alter": {"chang"}, "tamper": {"tamper", "chang"},
	// Removal and creation.
	"remov": {"delet"}, "deletion": {"delet"}, "destroy": {"delet"}, "drop": {"delet"}, "wip": {"delet"},
	"creation": {"creat"}, "add": {"creat"},
	// Network.
	"firewall": {"security", "group"}, "sg": {"security", "group"}, "securitygroup": {"security", "group"},
	"ip": {"ip"}, "ips": {"ip"}, "ipv4": {"ip"}, "address": {"ip"}, "addresse": {"ip"},
	"world": {"internet"}, "anyone": {"internet"}, "everyone": {"internet"},
	// Encryption.
	"encryption": {"kms", "encrypt"}, "cmk": {"kms", "key"},
	// Clients.
	"useragent": {"user", "agent"}, "ua": {"user", "agent"}, "client": {"agent"}, "tool": {"agent"},
	"cli": {"cli"}, "sdk": {"sdk"},
	// Compute and storage.
	"vm": {"instanc"}, "server": {"instanc"}, "ec2": {"ec2", "instanc"},
	"s3": {"s3", "bucket"},
	// Time.
	"timeline": {"hour", "time"}, "hourly": {"hour"}, "daily": {"day"}, "weekday": {"day", "week"}, "weekend": {"day", "week"},
	// Roles.
	"assumerol": {"assum", "rol"},
	// Credentials.
	"credential": {"credential", "password", "key"},
	// Logging.
	"audit": {"cloudtrail", "trail"}, "logging": {"log"},
}
