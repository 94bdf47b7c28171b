package querygen

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Generated is a query GenerateQuery returned.
type Generated struct {
	Statement string
	Prompt    string
	Created   time.Time
}

// Aliases keeps generated queries by QueryAlias, per account and region:
// each account's newest MaxPerAccount for Keep, in memory and, when opened
// with a path, in a file (docs/format/generated-queries.md) so they outlive
// a restart (decision 156). It is safe for concurrent use.
type Aliases struct {
	keep time.Duration
	max  int
	now  func() time.Time
	path string // "" keeps them in memory only

	mu sync.Mutex
	m  map[aliasKey]Generated
	// order lists each account's aliases, oldest first.
	order map[string][]aliasKey
	lines int // lines in the file
}

type aliasKey struct{ account, region, alias string }

// record is one line of the file.
type record struct {
	Account   string    `json:"account"`
	Region    string    `json:"region"`
	Alias     string    `json:"alias"`
	Statement string    `json:"statement"`
	Prompt    string    `json:"prompt"`
	Created   time.Time `json:"created"`
}

// Alias limits: AWS keeps a query and its results for 7 days; so does a
// generated query's alias here.
const (
	DefaultKeep          = 7 * 24 * time.Hour
	DefaultMaxPerAccount = 1000
)

var aliasPattern = regexp.MustCompile(`^generated-[0-9a-f]{20}$`)

// CorruptError is a damaged line of the aliases file.
type CorruptError struct {
	Path string
	Line int
	Msg  string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("querygen: %s line %d: %s; fix or delete the line (deleting the file forgets every generated query's alias)", e.Path, e.Line, e.Msg)
}

// NewAliases returns an empty Aliases kept in memory only; now nil means
// time.Now.
func NewAliases(keep time.Duration, maxPerAccount int, now func() time.Time) *Aliases {
	if now == nil {
		now = time.Now
	}
	return &Aliases{keep: keep, max: maxPerAccount, now: now, m: map[aliasKey]Generated{}, order: map[string][]aliasKey{}}
}

// OpenAliases reads the aliases file at path (none is an empty one), drops
// what expired and a torn last line by rewriting it, and returns Aliases
// that append to it. A damaged line is a *CorruptError.
func OpenAliases(path string, keep time.Duration, maxPerAccount int, now func() time.Time) (*Aliases, error) {
	a := NewAliases(keep, maxPerAccount, now)
	recs, torn, err := readAliases(path)
	if err != nil {
		return nil, err
	}
	a.path = path
	for _, r := range recs {
		a.insert(r)
	}
	for account := range a.order {
		a.expire(account)
	}
	a.lines = len(recs)
	if torn || len(a.m) < len(recs) {
		if err := a.rewrite(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// CheckAliases reads the aliases file at path as OpenAliases does, without
// changing it: the number of aliases it holds, or a *CorruptError.
func CheckAliases(path string) (int, error) {
	recs, _, err := readAliases(path)
	return len(recs), err
}

// readAliases reads and checks every complete line; torn reports a last
// line without its newline.
func readAliases(path string) (recs []record, torn bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("querygen: %w", err)
	}
	seen := map[string]int{}
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return recs, true, nil
		}
		line := b[:i]
		b = b[i+1:]
		var r record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		switch {
		case dec.Decode(&r) != nil:
			return nil, false, &CorruptError{Path: path, Line: n, Msg: "not a generated query's JSON object"}
		case r.Account == "" || r.Region == "" || r.Statement == "" || r.Prompt == "" || r.Created.IsZero():
			return nil, false, &CorruptError{Path: path, Line: n, Msg: "a member is missing"}
		case !aliasPattern.MatchString(r.Alias):
			return nil, false, &CorruptError{Path: path, Line: n, Msg: fmt.Sprintf("alias %q is not generated- and 20 hex digits", r.Alias)}
		}
		if prev, ok := seen[r.Alias]; ok {
			return nil, false, &CorruptError{Path: path, Line: n, Msg: fmt.Sprintf("alias %s is also on line %d", r.Alias, prev)}
		}
		seen[r.Alias] = n
		recs = append(recs, r)
	}
	return recs, false, nil
}

// Add records g for the account and region and returns its new alias:
// "generated-" and 20 random hex digits, which the model's QueryAlias
// pattern accepts. With a file, the alias is durable when Add returns.
func (a *Aliases) Add(account, region string, g Generated) (string, error) {
	var b [10]byte
	rand.Read(b[:])
	r := record{Account: account, Region: region, Alias: "generated-" + hex.EncodeToString(b[:]),
		Statement: g.Statement, Prompt: g.Prompt, Created: a.now().UTC()}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.path != "" {
		line, err := json.Marshal(r)
		if err != nil {
			return "", fmt.Errorf("querygen: %w", err)
		}
		if err := fileutil.AppendSync(a.path, append(line, '\n'), 0o600); err != nil {
			return "", fmt.Errorf("querygen: save the generated query: %w", err)
		}
		a.lines++
	}
	a.insert(r)
	a.expire(account)
	if a.path != "" && a.lines > 2*len(a.m) {
		if err := a.rewrite(); err != nil {
			return "", err
		}
	}
	return r.Alias, nil
}

func (a *Aliases) insert(r record) {
	k := aliasKey{r.Account, r.Region, r.Alias}
	a.m[k] = Generated{Statement: r.Statement, Prompt: r.Prompt, Created: r.Created}
	a.order[r.Account] = append(a.order[r.Account], k)
}

// expire drops the account's aliases beyond max and older than keep.
func (a *Aliases) expire(account string) {
	ks := a.order[account]
	for len(ks) > a.max || len(ks) > 0 && a.now().Sub(a.m[ks[0]].Created) > a.keep {
		delete(a.m, ks[0])
		ks = ks[1:]
	}
	if len(ks) == 0 {
		delete(a.order, account)
		return
	}
	a.order[account] = ks
}

// rewrite replaces the file with the live aliases, oldest first per
// account.
func (a *Aliases) rewrite() error {
	var buf bytes.Buffer
	n := 0
	for _, ks := range a.order {
		for _, k := range ks {
			g := a.m[k]
			line, err := json.Marshal(record{Account: k.account, Region: k.region, Alias: k.alias, Statement: g.Statement, Prompt: g.Prompt, Created: g.Created})
			if err != nil {
				return fmt.Errorf("querygen: %w", err)
			}
			buf.Write(line)
			buf.WriteByte('\n')
			n++
		}
	}
	if err := fileutil.WriteFileAtomic(a.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("querygen: %w", err)
	}
	a.lines = n
	return nil
}

// Resolve returns the query the account's alias names in region, if it
// has one that is not older than Keep.
func (a *Aliases) Resolve(account, region, alias string) (Generated, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.m[aliasKey{account, region, alias}]
	if !ok || a.now().Sub(g.Created) > a.keep {
		return Generated{}, false
	}
	return g, true
}
