package eventpattern

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Set is a collection of named patterns compiled together, so that
// matching an event costs about the same whatever the number of rules
// whose patterns are exact or prefix values on some field (see the
// package documentation). Match is safe for concurrent use with Add and
// Remove; the zero Set is empty and ready to use.
type Set struct {
	mu    sync.Mutex
	rules map[string]*Pattern
	dirty atomic.Bool
	cur   atomic.Pointer[compiled]
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Add adds the pattern under id, replacing any pattern id had. p must not
// be nil.
func (s *Set) Add(id string, p *Pattern) {
	if p == nil {
		panic("eventpattern: Set.Add with a nil pattern")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rules == nil {
		s.rules = map[string]*Pattern{}
	}
	s.rules[id] = p
	s.dirty.Store(true)
}

// Remove removes the pattern of id, if any.
func (s *Set) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rules[id]; ok {
		delete(s.rules, id)
		s.dirty.Store(true)
	}
}

// Len returns the number of patterns in the set.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rules)
}

// Match returns the ids of the patterns the event matches, sorted. The
// event is a JSON object, normally the EventBridge envelope; the error
// wraps [ErrInvalidEvent] when it is not. The first Match after Add or
// Remove recompiles the set (about 3 ms for 1,000 rules): matches already
// running finish on the previous compilation, and matches that start
// meanwhile wait for the new one, so a Match always sees every Add and
// Remove that returned before it began.
func (s *Set) Match(event []byte) ([]string, error) {
	if s.dirty.Load() {
		s.mu.Lock()
		if s.dirty.Load() {
			ids := make([]string, 0, len(s.rules))
			for id := range s.rules {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			ps := make([]*Pattern, len(ids))
			for i, id := range ids {
				ps[i] = s.rules[id]
			}
			s.cur.Store(compile(ids, ps))
			s.dirty.Store(false)
		}
		s.mu.Unlock()
	}
	c := s.cur.Load()
	if c == nil {
		c = emptySet
	}
	return c.match(event)
}

var emptySet = compile(nil, nil)

// compiled is an immutable compilation of patterns.
type compiled struct {
	ids      []string // rule ids, sorted; indexes are rule numbers
	root     *pathNode
	npaths   int
	branches []cbranch
	index    []*pathIndex // per path id, nil when no branch is indexed on it
	indexed  []int32      // path ids with an index
	always   []int32      // branches with no indexable field: always evaluated
	pool     sync.Pool    // of *scratch
}

// cbranch is a compiled conjunction of one rule.
type cbranch struct {
	rule  int32
	conds []ccond
	// indexed is the condition the branch is indexed under when a value
	// found under its keys satisfies it (no wildcard), or -1.
	indexed int
}

// ccond is a compiled field condition.
type ccond struct {
	pid    int32
	ms     []matcher // the alternatives that need a present value
	absent bool      // {"exists": false} is one of the alternatives
}

func (c *ccond) matchAny(v *value) bool {
	for i := range c.ms {
		if c.ms[i].match(v) {
			return true
		}
	}
	return false
}

// pathIndex maps the exact values, prefixes and suffixes of one path to
// the branches indexed on them.
type pathIndex struct {
	exact              map[string][]int32
	prefix, suffix     map[string][]int32
	prefixLn, suffixLn []int // distinct key lengths, ascending
}

type indexKey struct {
	pid  int32
	kind mkind
	s    string
}

// indexKeys returns the keys under which a condition can be indexed: every
// alternative is an exact string, a prefix, a suffix, or a wildcard with a
// literal start or end, so an event without a value at the path that
// equals, starts or ends with a key cannot satisfy it. proves reports
// whether a value found under a key satisfies the condition (no wildcard).
func indexKeys(c *ccond) (keys []indexKey, proves bool) {
	if c.absent || len(c.ms) == 0 {
		return nil, false
	}
	keys = make([]indexKey, 0, len(c.ms))
	proves = true
	for _, m := range c.ms {
		if m.ip.IsValid() {
			return nil, false // other spellings of the address match too
		}
		switch m.kind {
		case mString, mPrefix, mSuffix:
			keys = append(keys, indexKey{c.pid, m.kind, m.s})
		case mWildcard:
			proves = false
			first, last := m.wc.parts[0], m.wc.parts[len(m.wc.parts)-1]
			switch {
			case len(m.wc.parts) == 1:
				keys = append(keys, indexKey{c.pid, mString, first})
			case first != "":
				keys = append(keys, indexKey{c.pid, mPrefix, first})
			case last != "":
				keys = append(keys, indexKey{c.pid, mSuffix, last})
			default:
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return keys, proves
}

func compile(ids []string, ps []*Pattern) *compiled {
	c := &compiled{ids: ids, root: &pathNode{id: -1}}
	pathID := func(path []string) int32 {
		n := c.root
		for _, seg := range path {
			if n.children == nil {
				n.children = map[string]*pathNode{}
			}
			child := n.children[seg]
			if child == nil {
				child = &pathNode{id: -1}
				n.children[seg] = child
			}
			n = child
		}
		if n.id < 0 {
			n.id = int32(c.npaths)
			c.npaths++
		}
		return n.id
	}
	for r, p := range ps {
		for _, b := range p.branches {
			cb := cbranch{rule: int32(r), indexed: -1}
			for _, cd := range b {
				cc := ccond{pid: pathID(cd.path)}
				for _, m := range cd.ms {
					if m.kind == mAbsent {
						cc.absent = true
					} else {
						cc.ms = append(cc.ms, m)
					}
				}
				cb.conds = append(cb.conds, cc)
			}
			c.branches = append(c.branches, cb)
		}
	}

	// Index each branch under its most selective indexable condition: the
	// one whose keys the fewest branches share.
	freq := map[indexKey]int{}
	for _, b := range c.branches {
		for i := range b.conds {
			keys, _ := indexKeys(&b.conds[i])
			for _, k := range keys {
				freq[k]++
			}
		}
	}
	c.index = make([]*pathIndex, c.npaths)
	for bi := range c.branches {
		b := &c.branches[bi]
		var best []indexKey
		bestCost := -1
		for i := range b.conds {
			keys, proves := indexKeys(&b.conds[i])
			if keys == nil {
				continue
			}
			cost := 0
			for _, k := range keys {
				cost += freq[k]
			}
			if bestCost < 0 || cost < bestCost {
				best, bestCost, b.indexed = keys, cost, -1
				if proves {
					b.indexed = i
				}
			}
		}
		if best == nil {
			c.always = append(c.always, int32(bi))
			continue
		}
		for _, k := range best {
			pi := c.index[k.pid]
			if pi == nil {
				pi = &pathIndex{}
				c.index[k.pid] = pi
				c.indexed = append(c.indexed, k.pid)
			}
			pi.add(k, int32(bi))
		}
	}
	for _, pi := range c.index {
		if pi != nil {
			slices.Sort(pi.prefixLn)
			slices.Sort(pi.suffixLn)
		}
	}
	c.pool.New = func() any { return c.newScratch() }
	return c
}

func (pi *pathIndex) add(k indexKey, b int32) {
	addTo := func(m *map[string][]int32, lens *[]int) {
		if *m == nil {
			*m = map[string][]int32{}
		}
		list := (*m)[k.s]
		if len(list) > 0 && list[len(list)-1] == b {
			return // the same key twice in one condition
		}
		if len(list) == 0 && lens != nil && !slices.Contains(*lens, len(k.s)) {
			*lens = append(*lens, len(k.s))
		}
		(*m)[k.s] = append(list, b)
	}
	switch k.kind {
	case mString:
		addTo(&pi.exact, nil)
	case mPrefix:
		addTo(&pi.prefix, &pi.prefixLn)
	case mSuffix:
		addTo(&pi.suffix, &pi.suffixLn)
	}
}

// scratch is the per-event working memory of one compiled set.
type scratch struct {
	scanner
	epoch   uint32
	bstamp  []uint32 // per branch: epoch when it became a candidate
	rstamp  []uint32 // per rule: epoch when it matched
	sstamp  []uint32 // per rule: epoch of rsteps
	rsteps  []int32  // per rule: search steps spent on this event
	cands   []int32
	matched []int32
	// The per-element search.
	order    []condOrder
	bind     []int32 // per array: the element chosen, or -1
	undo     []int32 // arrays bound, in order
	deferred []int32 // conditions satisfied by absence
	steps    int
	dominate bool
}

func (c *compiled) newScratch() *scratch {
	sc := &scratch{
		bstamp: make([]uint32, len(c.branches)),
		rstamp: make([]uint32, len(c.ids)),
		sstamp: make([]uint32, len(c.ids)),
		rsteps: make([]int32, len(c.ids)),
	}
	sc.heads = make([]int32, c.npaths)
	for i := range sc.heads {
		sc.heads[i] = -1
	}
	return sc
}

func (c *compiled) match(event []byte) ([]string, error) {
	if len(c.branches) == 0 {
		// Still validate the event, so that errors do not depend on the rules.
		var sc scanner
		sc.reset(string(event))
		if err := sc.scan(&pathNode{id: -1}); err != nil {
			return nil, fmt.Errorf("match event: %w: %w", ErrInvalidEvent, err)
		}
		return nil, nil
	}
	sc := c.pool.Get().(*scratch)
	defer c.pool.Put(sc)
	sc.reset(string(event))
	if err := sc.scan(c.root); err != nil {
		return nil, fmt.Errorf("match event: %w: %w", ErrInvalidEvent, err)
	}
	sc.epoch++
	if sc.epoch == 0 { // wrapped: forget every stamp
		clear(sc.bstamp)
		clear(sc.rstamp)
		clear(sc.sstamp)
		sc.epoch = 1
	}
	sc.cands = sc.cands[:0]
	sc.matched = sc.matched[:0]
	for _, pid := range c.indexed {
		pi := c.index[pid]
		for vi := sc.heads[pid]; vi >= 0; vi = sc.vals[vi].next {
			v := &sc.vals[vi]
			if v.kind != vString {
				continue
			}
			sc.candidates(pi.exact[v.s])
			for _, n := range pi.prefixLn {
				if n > len(v.s) {
					break
				}
				sc.candidates(pi.prefix[v.s[:n]])
			}
			for _, n := range pi.suffixLn {
				if n > len(v.s) {
					break
				}
				sc.candidates(pi.suffix[v.s[len(v.s)-n:]])
			}
		}
	}
	sc.cands = append(sc.cands, c.always...)
	for _, bi := range sc.cands {
		b := &c.branches[bi]
		if sc.rstamp[b.rule] == sc.epoch {
			continue
		}
		if sc.evalBranch(b) {
			sc.rstamp[b.rule] = sc.epoch
			sc.matched = append(sc.matched, b.rule)
		}
	}
	if len(sc.matched) == 0 {
		return nil, nil
	}
	slices.Sort(sc.matched)
	out := make([]string, len(sc.matched))
	for i, r := range sc.matched {
		out[i] = c.ids[r]
	}
	return out, nil
}

func (sc *scratch) candidates(list []int32) {
	for _, b := range list {
		if sc.bstamp[b] != sc.epoch {
			sc.bstamp[b] = sc.epoch
			sc.cands = append(sc.cands, b)
		}
	}
}

// maxSearch bounds the steps of the per-element search for one rule (all
// its branches) and one event. Beyond it the rule does not match (see the
// package documentation); real events and patterns need a few steps.
const maxSearch = 10_000

// evalBranch reports whether the event satisfies every condition of b,
// with values that lie in the same element of any array of objects they
// share.
func (sc *scratch) evalBranch(b *cbranch) bool {
	// First, each condition on its own. The indexed one holds: if it is
	// the only one with values in arrays of objects, any of its values
	// goes with the others'.
	trails, absent := false, false
	for i := range b.conds {
		if i == b.indexed {
			continue
		}
		cd := &b.conds[i]
		ok := false
		head := sc.heads[cd.pid]
		for vi := head; vi >= 0; vi = sc.vals[vi].next {
			v := &sc.vals[vi]
			if v.t0 != v.t1 {
				trails = true
			}
			if !ok && cd.matchAny(v) {
				ok = true
			}
		}
		if cd.absent {
			absent = true
			// Absent, or present only inside arrays of objects, where
			// absence is decided per element by the search.
			ok = ok || head < 0 || trails
		}
		if !ok {
			return false
		}
	}
	if !trails {
		return true
	}
	// Then the search, most constrained conditions first.
	sc.order = sc.order[:0]
	for i := range b.conds {
		cd := &b.conds[i]
		n := int32(0)
		for vi := sc.heads[cd.pid]; vi >= 0; vi = sc.vals[vi].next {
			if cd.matchAny(&sc.vals[vi]) {
				n++
			}
		}
		sc.order = append(sc.order, condOrder{cond: int32(i), n: n})
	}
	slices.SortFunc(sc.order, func(a, b condOrder) int { return int(a.n - b.n) })
	if cap(sc.bind) < int(sc.arrs) {
		sc.bind = make([]int32, sc.arrs)
	}
	sc.bind = sc.bind[:sc.arrs]
	for i := range sc.bind {
		sc.bind[i] = -1
	}
	sc.undo = sc.undo[:0]
	sc.deferred = sc.deferred[:0]
	if sc.sstamp[b.rule] != sc.epoch {
		sc.sstamp[b.rule] = sc.epoch
		sc.rsteps[b.rule] = 0
	}
	sc.steps = int(sc.rsteps[b.rule])
	sc.dominate = !absent
	ok := sc.search(b, 0)
	sc.rsteps[b.rule] = int32(min(sc.steps, maxSearch+1))
	return ok
}

type condOrder struct{ cond, n int32 }

// search chooses, condition by condition, a value (or absence) consistent
// with the element bindings of the values already chosen.
func (sc *scratch) search(b *cbranch, k int) bool {
	sc.steps++
	if sc.steps > maxSearch {
		return false
	}
	if k == len(sc.order) {
		for _, ci := range sc.deferred {
			for vi := sc.heads[b.conds[ci].pid]; vi >= 0; vi = sc.vals[vi].next {
				if sc.compatible(vi) {
					return false
				}
			}
		}
		return true
	}
	ci := sc.order[k].cond
	cd := &b.conds[ci]
	prev := int32(-1)
	for vi := sc.heads[cd.pid]; vi >= 0; vi = sc.vals[vi].next {
		v := &sc.vals[vi]
		if !cd.matchAny(v) || !sc.compatible(vi) {
			continue
		}
		if v.t0 == v.t1 && sc.dominate {
			// A value outside arrays of objects binds nothing: no other
			// choice can do better (without absence conditions, fewer
			// bindings never hurt).
			return sc.search(b, k+1)
		}
		if prev >= 0 && sameTrail(sc.trail[sc.vals[prev].t0:sc.vals[prev].t1], sc.trail[v.t0:v.t1]) {
			continue // the same bindings as the previous choice
		}
		prev = vi
		mark := len(sc.undo)
		for _, e := range sc.trail[v.t0:v.t1] {
			if sc.bind[e.arr] < 0 {
				sc.bind[e.arr] = e.idx
				sc.undo = append(sc.undo, e.arr)
			}
		}
		if sc.search(b, k+1) {
			return true
		}
		for _, a := range sc.undo[mark:] {
			sc.bind[a] = -1
		}
		sc.undo = sc.undo[:mark]
		if sc.steps > maxSearch {
			return false
		}
	}
	if cd.absent {
		sc.deferred = append(sc.deferred, ci)
		if sc.search(b, k+1) {
			return true
		}
		sc.deferred = sc.deferred[:len(sc.deferred)-1]
	}
	return false
}

func sameTrail(a, b []trailEntry) bool { return slices.Equal(a, b) }

// compatible reports whether value vi lies in the bound element of every
// bound array it lies in.
func (sc *scratch) compatible(vi int32) bool {
	v := &sc.vals[vi]
	for _, e := range sc.trail[v.t0:v.t1] {
		if b := sc.bind[e.arr]; b >= 0 && b != e.idx {
			return false
		}
	}
	return true
}
