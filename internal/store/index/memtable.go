package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/event"
)

// memtable holds the events applied since the last flush, with their
// postings. Apply adds to it under the index's write lock; once frozen for
// a flush it is read-only.
//
// Its records are kept as a segment keeps them: in record blocks of about
// blockTarget bytes, each compressed as soon as it is full (with the
// record dictionary), so a memtable takes about a tenth of its records'
// size in memory. The last block is open (uncompressed) until the flush.
// A memtable of the index hands its full blocks to the index's compressor,
// which compresses them on its own goroutine, off the index's lock (Apply
// compresses a block itself only when the compressor is that far behind);
// a full block stays readable uncompressed until then.
type memtable struct {
	recs []memRec
	// at is each record's (time, seq), as in recs: the postings' entries
	// are read from it, a fifth of recs' size, so a flush building them
	// and a lookup reading them miss the cache less.
	at                             []pos
	blocks                         []memBlock
	open                           []byte // the open block's buffer, reused for the next once it is compressed
	post                           map[string]*memPosting
	ids                            map[uint64]uint32 // eventID hash → 1 + newest record index with it
	bytes                          int64             // the records' size, uncompressed
	created                        time.Time
	lastAcct, lastRegion, lastPart string

	id    uint64        // the memtable's key in the block cache
	codec *codec        // the record dictionary of the blocks it compresses, which its flush writes into the segment
	enc   *zstd.Encoder // codec's, for the blocks as they fill
	cache *blockCache
	// dictTried is set once Apply tried to make the index's first record
	// dictionary from this memtable.
	dictTried bool
	// async compresses its full blocks (nil: add does); pending counts
	// the blocks handed to it not yet compressed, which a flush waits for.
	async   *compressor
	pending sync.WaitGroup
	// sortMu guards the byTime views of unsorted postings, which lookups
	// (under the index's read lock, so several at once) bring up to date.
	sortMu sync.Mutex
}

type memRec struct {
	seq  uint64
	t    int64
	h    uint64 // idHash(part, id)
	part string
	id   string
	blk  uint32 // the record's block
	off  uint32 // the record's offset in its block, uncompressed
	n    uint32 // the record's length
	kind byte
	next uint32 // 1 + the previous record index with the same hash, 0: none
}

// memBlock is a record block in the format of a segment's: raw while
// open (the memtable's open buffer) and, once full, until it is
// compressed; then comp. Both change only under the index's write lock.
type memBlock struct {
	first    uint64 // sequence number of its first record
	firstRec uint32 // index of its first record in recs
	raw      []byte
	comp     []byte
	codec    *codec // comp's record dictionary
	full     bool   // it takes no more records
}

// memPosting lists record indexes in apply order; sorted tells whether that
// order is also (time, seq) ascending, so lookups can binary-search it.
// When it is not (events applied out of time order), byTime holds
// idx[:len(byTime)] in (time, seq) order: lookups sort what was applied
// since the last one and merge it in (catchUp), instead of scanning the
// whole list for the newest entries.
type memPosting struct {
	idx    []uint32
	sorted bool
	byTime []uint32
	// last is the (time, seq) of idx's last entry while sorted: post1
	// checks the order against it without reading that record back (a
	// cache miss per attribute of each event applied).
	last pos
}

// unsortedTail is how many entries applied since byTime was last brought
// up to date a lookup scans rather than merges in.
const unsortedTail = 1024

// memtableIDs numbers memtables for the block cache, above any segment
// file number.
var memtableIDs atomic.Uint64

// newMemtable returns an empty memtable that compresses its record blocks
// with c's record dictionary, using enc (one of c's encoders, which it uses
// only while a caller adds to it), and reads them back through cache.
func newMemtable(c *codec, enc *zstd.Encoder, cache *blockCache) *memtable {
	return &memtable{post: map[string]*memPosting{}, ids: map[uint64]uint32{}, created: time.Now(),
		id: 1<<63 | memtableIDs.Add(1), codec: c, enc: enc, cache: cache}
}

// compressor compresses the memtables' full record blocks on a goroutine
// of its own (run), so that Apply does not hold the index's lock for it: a
// third of what indexing an event costs, and the part that lookups
// waited for. It swaps each compressed block in under the index's write
// lock, and keeps the buffers of the blocks it compressed for the next
// open ones.
type compressor struct {
	mu   *sync.RWMutex // the index's
	jobs chan compressJob
	free [][]byte // under mu
}

type compressJob struct {
	m     *memtable
	i     int
	raw   []byte
	codec *codec
	enc   *zstd.Encoder
}

// compressQueue is how many full blocks (32 KiB each) may wait for the
// compressor before Apply compresses them itself.
const compressQueue = 64

func newCompressor(mu *sync.RWMutex) *compressor {
	return &compressor{mu: mu, jobs: make(chan compressJob, compressQueue)}
}

// queue hands m's full block i to the compressor; false when it is too far
// behind (or c is nil), and the caller compresses the block itself. The
// caller holds the index's write lock.
func (c *compressor) queue(m *memtable, i int) bool {
	if c == nil {
		return false
	}
	m.pending.Add(1)
	select {
	case c.jobs <- compressJob{m: m, i: i, raw: m.blocks[i].raw, codec: m.codec, enc: m.enc}:
		return true
	default:
		m.pending.Done()
		return false
	}
}

// buffer returns a buffer for an open block; the caller holds the index's
// write lock.
func (c *compressor) buffer() []byte {
	if c != nil && len(c.free) > 0 {
		b := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		return b[:0]
	}
	return make([]byte, 0, blockTarget+4<<10)
}

// run compresses the blocks queued until stop is closed, then those still
// queued.
func (c *compressor) run(stop <-chan struct{}) {
	for {
		select {
		case j := <-c.jobs:
			c.compress(j)
		case <-stop:
			for {
				select {
				case j := <-c.jobs:
					c.compress(j)
				default:
					return
				}
			}
		}
	}
}

func (c *compressor) compress(j compressJob) {
	comp := j.enc.EncodeAll(j.raw, nil)
	c.mu.Lock()
	b := &j.m.blocks[j.i]
	b.comp, b.codec, b.raw = comp, j.codec, nil
	// No reader holds the raw bytes past its hold on the lock (raw
	// copies them), so the next open block may take them.
	if len(c.free) < 8 {
		c.free = append(c.free, j.raw[:0])
	}
	c.mu.Unlock()
	j.m.pending.Done()
}

// sizeLike makes room in the empty memtable m for as many records, eventIDs
// and posting keys as prev holds, so filling it does not copy its record
// table and maps over again each time they outgrow their room (which cost
// about a tenth of applying an event). The memtable before holds about
// what the next one will: they rotate at the same size.
func (m *memtable) sizeLike(prev *memtable) {
	if prev == nil || len(prev.recs) == 0 || len(m.recs) > 0 {
		return
	}
	m.recs = make([]memRec, 0, len(prev.recs))
	m.at = make([]pos, 0, len(prev.recs))
	m.ids = make(map[uint64]uint32, len(prev.ids))
	m.post = make(map[string]*memPosting, len(prev.post))
}

// useCodec makes the memtable compress the blocks it fills from now on
// with c's record dictionary, using enc (one of c's encoders); its flush
// compresses the blocks already full again with it.
func (m *memtable) useCodec(c *codec, enc *zstd.Encoder) { m.codec, m.enc = c, enc }

// appendRecord appends a record to a record block whose first sequence
// number is first (docs/format/index.md) and returns the block and the
// record's offset in it.
func appendRecord(b []byte, first, seq uint64, raw []byte) ([]byte, int) {
	b = binary.AppendUvarint(b, seq-first)
	b = binary.AppendUvarint(b, uint64(len(raw)))
	return append(b, raw...), len(b)
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
	if len(m.blocks) == 0 || m.blocks[len(m.blocks)-1].full {
		if m.open == nil {
			m.open = m.async.buffer()
		}
		m.blocks = append(m.blocks, memBlock{first: seq, firstRec: i, raw: m.open[:0]})
	}
	b := &m.blocks[len(m.blocks)-1]
	var off int
	b.raw, off = appendRecord(b.raw, b.first, seq, ev.Raw)
	m.open = b.raw
	h := idHash(part, ev.EventID)
	r := memRec{seq: seq, t: eventTime(ev), h: h, part: part, id: ev.EventID, blk: uint32(len(m.blocks) - 1), off: uint32(off), n: uint32(len(ev.Raw)),
		kind: kind, next: m.ids[h]}
	m.recs = append(m.recs, r)
	m.at = append(m.at, pos{r.t, r.seq})
	if len(b.raw) >= blockTarget {
		b.full = true
		if m.async.queue(m, len(m.blocks)-1) {
			m.open = nil // the compressor has it; the next block takes another
		} else {
			b.comp, b.codec = m.enc.EncodeAll(b.raw, nil), m.codec
			b.raw = nil // its buffer, m.open, takes the next block
		}
	}
	m.bytes += int64(len(ev.Raw))
	m.ids[h] = i + 1
	at := m.at[i]
	keyBuf = m.post1(appendKey(keyBuf[:0], part, kind, 0, ""), i, at)
	if kind == KindOther {
		return keyBuf
	}
	_ = forEachAttr(&ev.Summary, func(attr byte, value string) error {
		keyBuf = m.post1(appendKey(keyBuf[:0], part, kind, attr, value), i, at)
		return nil
	})
	return keyBuf
}

// post1 adds record i, at position at, to the posting of key k.
func (m *memtable) post1(k []byte, i uint32, at pos) []byte {
	p := m.post[string(k)] // no allocation for the lookup
	if p == nil {
		p = &memPosting{sorted: true}
		m.post[string(k)] = p
	} else if p.sorted {
		p.sorted = p.last.less(at)
	}
	p.last = at
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

func (m *memtable) pos(i uint32) pos { return m.at[i] }

// top appends to dst up to limit entries of key strictly below upper that f
// wants, newest first.
func (m *memtable) top(dst []pos, k []byte, f *filter, upper pos, limit int) []pos {
	p := m.post[string(k)]
	if p == nil || limit <= 0 {
		return dst
	}
	if p.sorted {
		return m.newest(dst, p.idx, f, upper, limit)
	}
	// Unordered: the byTime view, brought up to date unless only a few
	// entries were applied since, then those few.
	m.sortMu.Lock()
	defer m.sortMu.Unlock()
	if len(p.idx)-len(p.byTime) > unsortedTail {
		m.catchUp(p)
	}
	best := m.newest(make([]pos, 0, limit+1), p.byTime, f, upper, limit)
	for _, i := range p.idx[len(p.byTime):] {
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

// newest appends to dst up to limit entries of idx, which is in (time,
// seq) order, strictly below upper that f wants, newest first: the last
// index below upper, then backwards.
func (m *memtable) newest(dst []pos, idx []uint32, f *filter, upper pos, limit int) []pos {
	i, hi := 0, len(idx)
	for i < hi {
		h := int(uint(i+hi) >> 1)
		if m.pos(idx[h]).less(upper) {
			i = h + 1
		} else {
			hi = h
		}
	}
	for j := i - 1; j >= 0 && limit > 0; j-- {
		e := m.pos(idx[j])
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

// catchUp brings p.byTime up to date with p.idx: it sorts the entries
// applied since and merges them in from the end (entries mostly arrive
// newer than most, so few move). The caller holds sortMu.
func (m *memtable) catchUp(p *memPosting) {
	n := len(p.byTime)
	tail := slices.Clone(p.idx[n:])
	slices.SortFunc(tail, func(a, b uint32) int { return -cmpDesc(m.pos(a), m.pos(b)) })
	p.byTime = append(p.byTime, tail...)
	i, w := n-1, len(p.byTime)-1
	for j := len(tail) - 1; j >= 0; w-- {
		if i >= 0 && m.pos(tail[j]).less(m.pos(p.byTime[i])) {
			p.byTime[w] = p.byTime[i]
			i--
		} else {
			p.byTime[w] = tail[j]
			j--
		}
	}
}

// record returns the record with sequence number seq, if the memtable has
// it. The caller must not modify it.
func (m *memtable) record(seq uint64) ([]byte, bool, error) {
	if len(m.recs) == 0 || seq < m.recs[0].seq || seq > m.recs[len(m.recs)-1].seq {
		return nil, false, nil
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
		return nil, false, nil
	}
	raw, err := m.raw(&m.recs[i])
	return raw, err == nil, err
}

// raw returns a record's bytes; the caller must not modify them. A record
// of the open block is copied: its buffer is reused once the block is full.
func (m *memtable) raw(r *memRec) ([]byte, error) {
	b, err := m.block(int(r.blk))
	if err != nil {
		return nil, err
	}
	if uint64(r.off)+uint64(r.n) > uint64(len(b)) {
		return nil, fmt.Errorf("index memtable: record %d lies outside its block", r.seq)
	}
	if m.blocks[r.blk].raw != nil {
		return bytes.Clone(b[r.off : r.off+r.n]), nil
	}
	return b[r.off : r.off+r.n], nil
}

// block returns record block i uncompressed, through the block cache once
// it is compressed; the caller must not modify it, nor keep the open
// block's bytes beyond its hold on the index's lock.
func (m *memtable) block(i int) ([]byte, error) {
	b := &m.blocks[i]
	if b.raw != nil {
		return b.raw, nil
	}
	k := cacheKey{file: m.id, n: i}
	if m.cache != nil {
		if d, ok := m.cache.get(k); ok {
			return d, nil
		}
	}
	d, err := b.codec.dec.DecodeAll(b.comp, nil)
	if err != nil {
		return nil, fmt.Errorf("index memtable: block %d: %w", i, err)
	}
	if m.cache != nil {
		m.cache.put(k, d)
	}
	return d, nil
}

// blockRecs returns the records of block i.
func (m *memtable) blockRecs(i int) []memRec {
	end := len(m.recs)
	if i+1 < len(m.blocks) {
		end = int(m.blocks[i+1].firstRec)
	}
	return m.recs[m.blocks[i].firstRec:end]
}

// release forgets the memtable's blocks in the cache once it is flushed.
func (m *memtable) release() {
	if m.cache != nil {
		m.cache.drop(m.id)
	}
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
