package index

import (
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/opentrail/opentrail/internal/event"
)

// memtable holds the events applied since the last flush, with their
// postings. Apply adds to it under the index's write lock; once frozen for
// a flush it is read-only.
type memtable struct {
	recs                           []memRec
	post                           map[string]*memPosting
	ids                            map[uint64]uint32 // eventID hash → 1 + newest record index with it
	bytes                          int64
	created                        time.Time
	lastAcct, lastRegion, lastPart string
}

type memRec struct {
	seq  uint64
	t    int64
	h    uint64 // idHash(part, id)
	raw  []byte
	part string
	id   string
	kind byte
	next uint32 // 1 + the previous record index with the same hash, 0: none
}

// memPosting lists record indexes in apply order; sorted tells whether that
// order is also (time, seq) ascending, so lookups can binary-search it.
type memPosting struct {
	idx    []uint32
	sorted bool
}

func newMemtable() *memtable {
	return &memtable{post: map[string]*memPosting{}, ids: map[uint64]uint32{}, created: time.Now()}
}

func idHash(part, eventID string) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(part)
	d.Write([]byte{0})
	d.WriteString(eventID)
	return d.Sum64()
}

func eventTime(ev *event.Event) int64 { return max(ev.EventTime.Unix(), 0) }

func (m *memtable) add(seq uint64, ev *event.Event, keyBuf []byte) []byte {
	if ev.Account != m.lastAcct || ev.Region != m.lastRegion {
		m.lastAcct, m.lastRegion, m.lastPart = ev.Account, ev.Region, partName(ev.Account, ev.Region)
	}
	part := m.lastPart
	kind := KindOf(&ev.Summary)
	i := uint32(len(m.recs))
	h := idHash(part, ev.EventID)
	r := memRec{seq: seq, t: eventTime(ev), h: h, raw: ev.Raw, part: part, id: ev.EventID, kind: kind, next: m.ids[h]}
	m.recs = append(m.recs, r)
	m.bytes += int64(len(ev.Raw))
	m.ids[h] = i + 1
	keyBuf = m.post1(appendKey(keyBuf[:0], part, kind, 0, ""), i, r)
	if kind == KindOther {
		return keyBuf
	}
	_ = forEachAttr(&ev.Summary, func(attr byte, value string) error {
		keyBuf = m.post1(appendKey(keyBuf[:0], part, kind, attr, value), i, r)
		return nil
	})
	return keyBuf
}

func (m *memtable) post1(k []byte, i uint32, r memRec) []byte {
	p := m.post[string(k)] // no allocation for the lookup
	if p == nil {
		p = &memPosting{sorted: true}
		m.post[string(k)] = p
	} else if p.sorted {
		last := m.recs[p.idx[len(p.idx)-1]]
		p.sorted = (pos{last.t, last.seq}).less(pos{r.t, r.seq})
	}
	p.idx = append(p.idx, i)
	return k
}

// byID calls fn for each record whose id hash is h, newest first, until fn
// returns false.
func (m *memtable) byID(h uint64, fn func(r *memRec) bool) {
	for i := m.ids[h]; i != 0; i = m.recs[i-1].next {
		if !fn(&m.recs[i-1]) {
			return
		}
	}
}

func (m *memtable) pos(i uint32) pos { return pos{m.recs[i].t, m.recs[i].seq} }

// top appends to dst up to limit entries of key strictly below upper that f
// wants, newest first.
func (m *memtable) top(dst []pos, k []byte, f *filter, upper pos, limit int) []pos {
	p := m.post[string(k)]
	if p == nil || limit <= 0 {
		return dst
	}
	if p.sorted {
		// Ascending: the last index below upper, then backwards.
		j := len(p.idx) - 1
		i, hi := 0, len(p.idx)
		for i < hi {
			h := int(uint(i+hi) >> 1)
			if m.pos(p.idx[h]).less(upper) {
				i = h + 1
			} else {
				hi = h
			}
		}
		for j = i - 1; j >= 0 && limit > 0; j-- {
			e := m.pos(p.idx[j])
			if e.t < f.lo {
				break
			}
			if f.keep(e) {
				dst = append(dst, e)
				limit--
			}
		}
		return dst
	}
	// Unordered: keep the newest limit entries seen.
	best := make([]pos, 0, limit+1)
	for _, i := range p.idx {
		e := m.pos(i)
		if !e.less(upper) || !f.visible(e) {
			continue
		}
		if len(best) == limit && !best[limit-1].less(e) {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, e, cmpDesc)
		best = slices.Insert(best, at, e)
		if len(best) > limit {
			best = best[:limit]
		}
	}
	return append(dst, best...)
}

// record returns the record with sequence number seq, if the memtable has
// it.
func (m *memtable) record(seq uint64) ([]byte, bool) {
	if len(m.recs) == 0 || seq < m.recs[0].seq || seq > m.recs[len(m.recs)-1].seq {
		return nil, false
	}
	i, ok := slices.BinarySearchFunc(m.recs, seq, func(r memRec, s uint64) int {
		switch {
		case r.seq < s:
			return -1
		case r.seq > s:
			return 1
		}
		return 0
	})
	if !ok {
		return nil, false
	}
	return m.recs[i].raw, true
}

// filter returns the filter of the memtable's entries for a reader whose
// range starts at start.
func (m *memtable) filter(sw sweeps, start int64) filter {
	if len(m.recs) == 0 {
		return filter{lo: start, check: noCut}
	}
	return newFilter(sw, start, m.recs[0].seq, m.recs[len(m.recs)-1].seq)
}

// sortedKeys returns the posting keys in byte order.
func (m *memtable) sortedKeys() []string {
	keys := make([]string, 0, len(m.post))
	for k := range m.post {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// entries returns a posting's entries that f wants, newest first.
func (m *memtable) entries(p *memPosting, f *filter, dst []pos) []pos {
	dst = dst[:0]
	for j := len(p.idx) - 1; j >= 0; j-- {
		if e := m.pos(p.idx[j]); f.visible(e) {
			dst = append(dst, e)
		}
	}
	if !p.sorted {
		slices.SortFunc(dst, cmpDesc)
	}
	return dst
}
