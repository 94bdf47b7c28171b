package querygen

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Generated is a query GenerateQuery returned.
type Generated struct {
	Statement string
	Prompt    string
	Created   time.Time
}

// Aliases keeps generated queries by QueryAlias, per account and region,
// in memory: the newest MaxPerAccount of each account for Keep (decision
// 156). It is safe for concurrent use.
type Aliases struct {
	keep time.Duration
	max  int
	now  func() time.Time

	mu sync.Mutex
	m  map[aliasKey]Generated
	// order lists each account's aliases, oldest first.
	order map[string][]aliasKey
}

type aliasKey struct{ account, region, alias string }

// Alias limits: AWS keeps a query and its results for 7 days; so does a
// generated query's alias here.
const (
	DefaultKeep          = 7 * 24 * time.Hour
	DefaultMaxPerAccount = 1000
)

// NewAliases returns an empty Aliases; now nil means time.Now.
func NewAliases(keep time.Duration, maxPerAccount int, now func() time.Time) *Aliases {
	if now == nil {
		now = time.Now
	}
	return &Aliases{keep: keep, max: maxPerAccount, now: now, m: map[aliasKey]Generated{}, order: map[string][]aliasKey{}}
}

// Add records g for the account and region and returns its new alias:
// "generated-" and 20 random hex digits, which the model's QueryAlias
// pattern accepts.
func (a *Aliases) Add(account, region string, g Generated) string {
	var b [10]byte
	rand.Read(b[:])
	alias := "generated-" + hex.EncodeToString(b[:])
	g.Created = a.now()
	k := aliasKey{account, region, alias}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[k] = g
	ks := append(a.order[account], k)
	for len(ks) > a.max || len(ks) > 0 && a.now().Sub(a.m[ks[0]].Created) > a.keep {
		delete(a.m, ks[0])
		ks = ks[1:]
	}
	a.order[account] = ks
	return alias
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
