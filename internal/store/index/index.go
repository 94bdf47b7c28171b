// Package index keeps event history: every event's record plus the posting
// lists LookupEvents reads. It is a follower of the WAL: [Index.Apply] takes
// records in sequence order into an in-memory memtable, which is flushed to
// an immutable segment file; the MANIFEST names the live segments, the
// checkpoint (the last WAL sequence number they hold), the retention sweeps
// and the quarantined segments. The formats are in docs/format/index.md.
//
// Retention: [Index.Sweep] deletes the events applied so far that are older
// than a cutoff; events applied later are not affected, however old.
//
// Damage: a segment that fails a check, when the index opens it or later
// when a read or the background scrub finds a bad checksum, is moved to the
// quarantine directory and dropped from the live set, and the read that
// found it is answered from the other segments. [Index.RebuildQuarantined]
// swaps in a segment rebuilt from the WAL when the WAL still holds the
// range. Open refuses, changing nothing, with a [*ManifestError] when the
// MANIFEST does not account for the segment files; [Rebuild] (fsck --repair)
// writes a new MANIFEST from the segments.
package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Attribute numbers, as in docs/format/index.md. They equal store.AttrKey.
const (
	AttrEventID      = 1
	AttrEventName    = 2
	AttrReadOnly     = 3
	AttrUsername     = 4
	AttrResourceType = 5
	AttrResourceName = 6
	AttrEventSource  = 7
	AttrAccessKeyID  = 8
)

// Kinds of events.
const (
	KindManagement byte = 'M'
	KindInsight    byte = 'I'
	KindOther      byte = 'D'
)

const (
	timeLen   = 5
	seqLen    = 8
	suffixLen = timeLen + seqLen
	cursorV1  = 1

	manifestName    = "MANIFEST"
	manifestVersion = 2
	// A run of segments is merged into one once it has this many.
	mergeMinRun = 4
	// Segments this large are not merged again.
	mergeMaxEvents = 4 << 20
)

// ErrBadCursor means a cursor was not made by this package.
var ErrBadCursor = errors.New("index: malformed cursor")

// Options configure the index.
type Options struct {
	CacheSize int64 // decompressed block cache, bytes
	// A memtable is flushed once its records reach MemtableBytes, once it
	// holds MemtableEvents events, or once its oldest event is FlushAge
	// old. The event count bounds what a restart after a crash reads back
	// from the WAL and indexes again (at most two memtables), which costs
	// by events more than by bytes: without it a memtable of small events
	// could hold a million of them.
	MemtableBytes  int64
	MemtableEvents int
	FlushAge       time.Duration
	Logger         *slog.Logger
	// Merges wait until no memtable has been flushed (nor the index
	// opened) for MergeIdle, so a start-up, a bulk import or a sustained
	// ingest is not slowed by them, unless
	// there are more than MaxSegments segments (decision 102: 128, enough
	// that a merge forced by the count makes a segment of more than
	// mergeMaxEvents, which is not merged again).
	MergeIdle   time.Duration
	MaxSegments int
	// ReadOnly opens the index for checking (fsck): nothing on disk
	// changes, leftover and damaged files are reported by Verify instead
	// of deleted or quarantined, and Apply fails.
	ReadOnly bool
	// ScrubPause is the pause between two segments of the background
	// scrub, which reads every segment whole after Open; a negative value
	// turns the scrub off.
	ScrubPause time.Duration
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{CacheSize: 128 << 20, MemtableBytes: 128 << 20, MemtableEvents: 100_000, FlushAge: 5 * time.Minute, MergeIdle: 10 * time.Second, MaxSegments: 128,
		ScrubPause: 2 * time.Second, Logger: slog.Default()}
}

// Index is the event-history store.
type Index struct {
	dir   string
	opts  Options
	log   *slog.Logger
	cache *blockCache
	enc   *zstd.Encoder // directory blocks
	// codecs has the codec of every record dictionary in use; rec (under
	// mu) is the current one's (docs/format/index.md), which new
	// memtables and merges compress record blocks with.
	codecs *codecs
	rec    *codec

	// manMu serializes changes to the set of segments and the MANIFEST; it
	// is taken before mu.
	manMu sync.Mutex
	man   manifest

	mu       sync.RWMutex
	cond     *sync.Cond // on mu: imm flushed or failed
	mem      *memtable
	imm      *memtable // being flushed
	segs     []*segment
	applied  uint64
	sweeps   sweeps // ix.man.Sweeps, for readers
	flushErr error
	keyBuf   []byte

	problems  []string // what a read-only Open found for Verify to report
	leftovers []string // what a read-only Open found that the next start tidies up, for Verify

	holes []QuarantinedSegment // holesOf(man), for merges

	lastFlush   atomic.Int64 // UnixNano of the last flush
	quarantines atomic.Int64 // segments quarantined since Open
	quarantined chan struct{}
	scrubbed    atomic.Bool

	flushCh chan *memtable
	mergeCh chan struct{}
	// compressor compresses the memtables' full record blocks (nil when
	// read-only).
	compressor *compressor
	stop       chan struct{}
	wg         sync.WaitGroup
	closed     bool
}

// Open opens or creates the index in dir.
func Open(dir string, opts Options) (*Index, error) {
	def := DefaultOptions()
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = def.CacheSize
	}
	if opts.MemtableBytes <= 0 {
		opts.MemtableBytes = def.MemtableBytes
	}
	if opts.MemtableEvents <= 0 {
		opts.MemtableEvents = def.MemtableEvents
	}
	if opts.FlushAge <= 0 {
		opts.FlushAge = def.FlushAge
	}
	if opts.MergeIdle <= 0 {
		opts.MergeIdle = def.MergeIdle
	}
	if opts.MaxSegments <= 0 {
		opts.MaxSegments = def.MaxSegments
	}
	if opts.ScrubPause == 0 {
		opts.ScrubPause = def.ScrubPause
	}
	if !opts.ReadOnly {
		if err := fileutil.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("open index: %w", err)
		}
	}
	enc, err := newEncoder(nil, 0)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	cs := newCodecs(0)
	ix := &Index{
		dir: dir, opts: opts, log: opts.Logger, cache: newBlockCache(opts.CacheSize), enc: enc, codecs: cs,
		flushCh: make(chan *memtable, 1), mergeCh: make(chan struct{}, 1), stop: make(chan struct{}),
		quarantined: make(chan struct{}, 1),
	}
	ix.cond = sync.NewCond(&ix.mu)
	if !opts.ReadOnly {
		ix.compressor = newCompressor(&ix.mu)
	}
	fail := func(err error) (*Index, error) {
		for _, sg := range ix.segs {
			sg.release()
		}
		cs.close()
		return nil, fmt.Errorf("open index: %w", err)
	}
	if err := ix.load(); err != nil {
		return fail(err)
	}
	// The current record dictionary: the newest segment's that has one.
	for i := len(ix.segs) - 1; i >= 0 && ix.rec == nil; i-- {
		if ix.segs[i].codec.dict != nil {
			ix.rec = ix.segs[i].codec
		}
	}
	if ix.rec == nil {
		if ix.rec, err = cs.plain(); err != nil {
			return fail(err)
		}
	}
	if ix.mem, err = ix.newMemtable(); err != nil {
		return fail(err)
	}
	if opts.ReadOnly {
		ix.closed = true
		return ix, nil
	}
	// Opening counts as a flush for MergeIdle: after a crash the WAL's
	// events are applied again first, and a merge beside that replay took
	// a quarter of a core from it (BENCHMARKS.md, issue 13).
	ix.lastFlush.Store(time.Now().UnixNano())
	ix.wg.Add(3)
	go ix.flushLoop()
	go ix.mergeLoop()
	go func() {
		defer ix.wg.Done()
		ix.compressor.run(ix.stop)
	}()
	if opts.ScrubPause > 0 {
		ix.wg.Add(1)
		go ix.scrubLoop()
	}
	ix.nudgeMerge()
	return ix, nil
}

// writeManifest replaces MANIFEST; the caller holds manMu.
func (ix *Index) writeManifest(m manifest) error {
	if err := storeManifest(ix.dir, m); err != nil {
		return err
	}
	ix.man = m
	ix.mu.Lock()
	ix.holes = holesOf(m)
	ix.mu.Unlock()
	return nil
}

// storeManifest replaces the MANIFEST in dir.
func storeManifest(dir string, m manifest) error {
	m.Version = manifestVersion
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(dir, manifestName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	return nil
}

// Checkpoint is the sequence number of the last WAL record applied.
func (ix *Index) Checkpoint() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.applied
}

// Durable is the sequence number of the last WAL record in a flushed
// segment: after a crash the index resumes from there.
func (ix *Index) Durable() uint64 {
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	return ix.man.Checkpoint
}

// Item is one WAL record to apply.
type Item struct {
	Seq   uint64
	Event *event.Event
}

func partName(account, region string) string { return account + "/" + region }

// KindOf tells which kind an event is stored as.
func KindOf(s *event.Summary) byte {
	switch s.Category {
	case event.CategoryMgmt:
		return KindManagement
	case event.CategoryInsight:
		return KindInsight
	}
	return KindOther
}

// Apply adds items, which must continue the sequence from Checkpoint, to
// the memtable. They are not durable until a flush: a crash loses them back
// to Durable, and the store replays them from the WAL. When the memtable is
// full Apply hands it to the flusher, waiting if the previous one is still
// being flushed.
func (ix *Index) Apply(items []Item) error {
	for len(items) > 0 {
		n := min(len(items), ApplyChunk)
		if err := ix.applyChunk(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// ApplyChunk is how many events Apply indexes per hold of the index's
// lock. Lookups wait for the lock: a follower's batch of 8,192 events held
// it for about 30 ms (an insert with its share of record compression takes
// about 4 µs), and that was the p99 of lookups while ingest ran; 256
// events hold it about 1 ms.
const ApplyChunk = 256

// applyChunk applies items under one hold of the lock.
func (ix *Index) applyChunk(items []Item) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return errors.New("index apply: closed")
	}
	if len(ix.mem.recs) == 0 {
		ix.mem.created = time.Now()
	}
	for _, it := range items {
		ix.keyBuf = ix.mem.add(it.Seq, it.Event, ix.keyBuf)
	}
	if ix.rec.dict == nil && !ix.mem.dictTried && ix.mem.bytes >= dictSample {
		ix.firstDictLocked()
	}
	ix.applied = items[len(items)-1].Seq
	if ix.mem.bytes >= ix.opts.MemtableBytes || len(ix.mem.recs) >= ix.opts.MemtableEvents {
		ix.rotateLocked()
	}
	return nil
}

// rotateLocked freezes the memtable and queues it for flushing, waiting for
// the previous flush first. The caller holds mu.
func (ix *Index) rotateLocked() {
	if len(ix.mem.recs) == 0 {
		return
	}
	for ix.imm != nil {
		ix.cond.Wait()
	}
	mem, err := ix.newMemtable()
	if err != nil {
		// The encoders of the current dictionary cannot be made: keep
		// filling this memtable; the next rotation tries again.
		ix.log.Error("index: cannot start a memtable", "err", err)
		return
	}
	ix.imm, ix.mem = ix.mem, mem
	ix.flushCh <- ix.imm
}

// Sync flushes everything applied so far and returns the checkpoint that is
// now durable.
func (ix *Index) Sync() (uint64, error) {
	ix.mu.Lock()
	ix.rotateLocked()
	for ix.imm != nil && ix.flushErr == nil {
		ix.cond.Wait()
	}
	err := ix.flushErr
	ix.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("index sync: %w", err)
	}
	return ix.Durable(), nil
}

func (ix *Index) flushLoop() {
	defer ix.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case m := <-ix.flushCh:
			for {
				err := ix.flush(m)
				ix.mu.Lock()
				ix.flushErr = err
				ix.cond.Broadcast()
				ix.mu.Unlock()
				if err == nil {
					break
				}
				ix.log.Error("index: flush failed; retrying (the WAL keeps the events)", "err", err)
				select {
				case <-ix.stop:
					return
				case <-time.After(time.Second):
				}
			}
			ix.nudgeMerge()
		case <-tick.C:
			ix.mu.Lock()
			if len(ix.mem.recs) > 0 && ix.imm == nil && time.Since(ix.mem.created) >= ix.opts.FlushAge {
				ix.rotateLocked()
			}
			ix.mu.Unlock()
		case <-ix.stop:
			return
		}
	}
}

// nextFile reserves a segment file number.
func (ix *Index) nextFile() uint64 {
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	n := ix.man.NextFile
	ix.man.NextFile++
	return n
}

// flush writes the frozen memtable m as a segment and commits it.
func (ix *Index) flush(m *memtable) error {
	ix.mu.RLock()
	sw := ix.sweeps
	ix.mu.RUnlock()
	num := ix.nextFile()
	path := filepath.Join(ix.dir, segName(num))
	last := m.recs[len(m.recs)-1].seq
	wrote, err := ix.writeMemtable(m, path, sw)
	if err != nil {
		return err
	}
	ix.updateDict(m)
	var sg *segment
	if wrote {
		if sg, err = openSegment(path, num, ix.cache, ix.codecs); err != nil {
			os.Remove(path)
			return err
		}
	}
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	nm := ix.man
	nm.Checkpoint = last
	nm.Segments = slices.Clone(ix.man.Segments)
	if sg != nil {
		nm.Segments = append(nm.Segments, segName(num))
	}
	if err := ix.writeManifest(nm); err != nil {
		if sg != nil {
			sg.release()
			os.Remove(path)
		}
		return err
	}
	ix.mu.Lock()
	if sg != nil {
		ix.segs = append(slices.Clone(ix.segs), sg)
	}
	ix.imm = nil
	ix.mu.Unlock()
	m.release()
	ix.lastFlush.Store(time.Now().UnixNano())
	return nil
}

// writeMemtable writes m's events that no sweep of sw deleted as a segment
// file covering m's sequence range. It reports false, writing nothing, when
// none are left. (A sweep committed meanwhile is applied when the segment
// is read.)
func (ix *Index) writeMemtable(m *memtable, path string, sw sweeps) (bool, error) {
	return writeMemtable(m, path, ix.enc, sw, m.recs[0].seq, m.recs[len(m.recs)-1].seq)
}

// updateDict makes a new current record dictionary from the memtable m
// being flushed when the index has none or a short one
// (docs/format/index.md). Memtables created from then on use it. A
// failure only leaves the current one.
func (ix *Index) updateDict(m *memtable) {
	ix.mu.RLock()
	cur := ix.rec
	ix.mu.RUnlock()
	if !wantDict(cur.dict, m) {
		return
	}
	c, err := ix.dictCodec(m, max(2*len(cur.dict), 1))
	if err != nil {
		ix.log.Warn("index: cannot make a record dictionary; keeping the current one", "err", err)
	}
	if c == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.rec != cur {
		return // Apply made the first one meanwhile
	}
	ix.rec = c
	if len(ix.mem.recs) == 0 {
		// Nothing compressed yet: the memtable can take it up too.
		if mem, err := ix.newMemtable(); err == nil {
			ix.mem = mem
		}
	}
}

// dictCodec makes a record dictionary from m's records and returns its
// codec, with its encoders made; nil when the dictionary would be shorter
// than minLen.
func (ix *Index) dictCodec(m *memtable, minLen int) (*codec, error) {
	d, err := buildDict(m, dictTarget)
	if err != nil || len(d) < minLen {
		return nil, err
	}
	c, err := ix.codecs.get(d)
	if err == nil {
		_, _, err = c.encoders()
	}
	if err != nil {
		return nil, err
	}
	ix.log.Debug("index: new record dictionary", "bytes", len(d), "id", c.id)
	return c, nil
}

// dictSample is how much of the first memtable's records the index's
// first record dictionary is made from, while Apply fills it.
const dictSample = 4 * dictTarget

// firstDictLocked makes the index's first record dictionary from the
// memtable (docs/format/index.md), once it holds dictSample bytes of
// records: it compresses the rest of its blocks with it, and its flush the
// first ones again. Without it the first memtable and the next, made
// before the first flush, would be written without a dictionary. The
// caller holds mu.
func (ix *Index) firstDictLocked() {
	m := ix.mem
	m.dictTried = true
	c, err := ix.dictCodec(m, 1)
	if err != nil {
		ix.log.Warn("index: cannot make a record dictionary", "err", err)
	}
	if c == nil {
		return
	}
	mem, _, _ := c.encoders() // made by dictCodec
	ix.rec = c
	m.useCodec(c, mem)
}

// newMemtable returns an empty memtable for Apply, with the current record
// dictionary, sized like the current one. The caller holds mu.
func (ix *Index) newMemtable() (*memtable, error) {
	mem, _, err := ix.rec.encoders()
	if err != nil {
		return nil, err
	}
	m := newMemtable(ix.rec, mem, ix.cache)
	m.sizeLike(ix.mem)
	m.async = ix.compressor
	return m, nil
}

// writeMemtable writes m's events that no sweep of sw deleted as a segment
// file whose sequence range is first..last, with m's record dictionary;
// dirEnc compresses its directory blocks.
func writeMemtable(m *memtable, path string, dirEnc *zstd.Encoder, sw sweeps, first, last uint64) (bool, error) {
	m.pending.Wait() // its full blocks compressed: it is frozen, read without the lock from here
	f := m.filter(sw, noCut)
	type idEnt struct{ h, seq uint64 }
	ids := make([]idEnt, 0, len(m.recs))
	for _, r := range m.recs {
		if f.visible(pos{r.t, r.seq}) {
			ids = append(ids, idEnt{r.h, r.seq})
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	w, err := newSegWriter(path, dirEnc, m.codec, first, len(ids))
	if err != nil {
		return false, fmt.Errorf("flush index: %w", err)
	}
	// The memtable's blocks are copied as they are when no sweep deleted
	// one of their records, and written again without those otherwise.
	for i, b := range m.blocks {
		recs := m.blockRecs(i)
		if !slices.ContainsFunc(recs, func(r memRec) bool { return !f.visible(pos{r.t, r.seq}) }) {
			comp := b.comp
			if comp == nil || b.codec != m.codec {
				d, err := m.block(i)
				if err != nil {
					w.abort()
					return false, err
				}
				comp = w.recEnc.EncodeAll(d, nil)
			}
			w.addBlock(b.first, comp)
			continue
		}
		d, err := m.block(i)
		if err != nil {
			w.abort()
			return false, err
		}
		for _, r := range recs {
			if f.visible(pos{r.t, r.seq}) {
				w.addRecord(r.seq, d[r.off:r.off+r.n])
			}
		}
	}
	var ents []pos
	for _, k := range m.sortedKeys() {
		ents = m.entries(m.post[k], &f, ents)
		if err := w.addPosting([]byte(k), ents); err != nil {
			w.abort()
			return false, err
		}
	}
	slices.SortFunc(ids, func(a, b idEnt) int {
		if a.h != b.h {
			return cmpU64(a.h, b.h)
		}
		return cmpU64(a.seq, b.seq)
	})
	for _, e := range ids {
		if err := w.addID(e.h, e.seq); err != nil {
			w.abort()
			return false, err
		}
	}
	if err := w.finish(last); err != nil {
		return false, fmt.Errorf("flush index: %w", err)
	}
	return true, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// forEachAttr calls fn for every lookup key the event is indexed under
// (EventId excluded: it has its own table).
func forEachAttr(s *event.Summary, fn func(attr byte, value string) error) error {
	if s.EventName != "" {
		if err := fn(AttrEventName, s.EventName); err != nil {
			return err
		}
	}
	if s.ReadOnly != nil {
		v := "false"
		if *s.ReadOnly {
			v = "true"
		}
		if err := fn(AttrReadOnly, v); err != nil {
			return err
		}
	}
	if s.Username != "" {
		if err := fn(AttrUsername, s.Username); err != nil {
			return err
		}
	}
	for i, r := range s.LookupResources {
		earlier := s.LookupResources[:i]
		if r.ResourceType != "" && !slices.ContainsFunc(earlier, func(e event.LookupResource) bool { return e.ResourceType == r.ResourceType }) {
			if err := fn(AttrResourceType, r.ResourceType); err != nil {
				return err
			}
		}
		if r.ResourceName != "" && !slices.ContainsFunc(earlier, func(e event.LookupResource) bool { return e.ResourceName == r.ResourceName }) {
			if err := fn(AttrResourceName, r.ResourceName); err != nil {
				return err
			}
		}
	}
	if s.EventSource != "" {
		if err := fn(AttrEventSource, s.EventSource); err != nil {
			return err
		}
	}
	if s.AccessKeyID != "" {
		if err := fn(AttrAccessKeyID, s.AccessKeyID); err != nil {
			return err
		}
	}
	return nil
}

// view is what a reader sees: the memtables (read under mu) and the
// segments, each acquired until release.
type view struct {
	mems []*memtable
	segs []*segment
}

// viewLocked snapshots the sources, newest first; the caller holds mu.
func (ix *Index) viewLocked() view {
	v := view{mems: []*memtable{ix.mem}}
	if ix.imm != nil {
		v.mems = append(v.mems, ix.imm)
	}
	for i := len(ix.segs) - 1; i >= 0; i-- {
		ix.segs[i].acquire()
		v.segs = append(v.segs, ix.segs[i])
	}
	return v
}

func (v view) release() {
	for _, sg := range v.segs {
		sg.release()
	}
}

// EventKey names one event for HasEventIDs.
type EventKey struct {
	Account, Region, EventID string
	Time                     int64 // eventTime, Unix seconds; 0: any time
}

// HasEventIDs reports, for each key, whether its partition holds an event
// with that id, and that time when the key has one, among the events
// applied up to and including seq through, which it returns with the
// answer. Events in a quarantined segment are not held. A key with a time
// probes only the segments whose time range for the partition holds it,
// so an import of recent events reads no older segment's bloom filter.
func (ix *Index) HasEventIDs(keys []EventKey) (has []bool, through uint64, err error) {
	err = ix.retryCorrupt(func() error {
		has, through, err = ix.hasEventIDs(keys)
		return err
	})
	return has, through, err
}

func (ix *Index) hasEventIDs(keys []EventKey) (has []bool, through uint64, err error) {
	out := make([]bool, len(keys))
	hashes := make([]uint64, len(keys))
	ix.mu.RLock()
	sw := ix.sweeps
	through = ix.applied
	v := ix.viewLocked()
	for i, k := range keys {
		part := partName(k.Account, k.Region)
		hashes[i] = idHash(part, k.EventID)
		for _, m := range v.mems {
			m.byID(hashes[i], func(r *memRec) bool {
				if r.id == k.EventID && r.part == part && (k.Time == 0 || r.t == k.Time) && !sw.deleted(r.t, r.seq) {
					out[i] = true
				}
				return !out[i]
			})
		}
	}
	ix.mu.RUnlock()
	defer v.release()
	for i, k := range keys {
		if out[i] {
			continue
		}
		part := partName(k.Account, k.Region)
		for _, sg := range v.segs {
			if !sg.mayHold(part, k.Time) {
				continue
			}
			ev, err := sg.eventByID(hashes[i], k.Account, k.Region, k.EventID, k.Time, sw)
			if err != nil {
				return nil, 0, fmt.Errorf("index get: %w", err)
			}
			if ev != nil {
				out[i] = true
				break
			}
		}
	}
	return out, through, nil
}

// eventByID returns the segment's event with that id in that partition,
// at time t unless t is 0, that no sweep of sw deleted, or nil.
func (sg *segment) eventByID(h uint64, account, region, id string, t int64, sw sweeps) (*event.Event, error) {
	seqs, err := sg.ids(h)
	if err != nil {
		return nil, err
	}
	for _, seq := range seqs {
		raw, err := sg.record(seq)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		ev, err := event.Parse(raw)
		if err != nil {
			return nil, sg.corrupt("record %d does not parse: %v", seq, err)
		}
		if et := eventTime(&ev); ev.EventID == id && ev.Account == account && ev.Region == region && (t == 0 || et == t) && !sw.deleted(et, seq) {
			return &ev, nil
		}
	}
	return nil, nil
}

// Query is one lookup. Start and End are inclusive Unix seconds.
type Query struct {
	Account, Region string
	Kind            byte
	Attr            byte // 0: none
	Value           string
	Start, End      int64
	Limit           int
	Cursor          []byte
}

// Hit is one event found.
type Hit struct {
	Seq uint64
	Raw []byte
}

func cursorOf(p pos) []byte {
	c := make([]byte, 1+suffixLen)
	c[0] = cursorV1
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], uint64(p.t))
	copy(c[1:], tb[8-timeLen:])
	binary.BigEndian.PutUint64(c[1+timeLen:], p.s)
	return c
}

func parseCursor(c []byte) (pos, error) {
	if len(c) != 1+suffixLen || c[0] != cursorV1 {
		return pos{}, ErrBadCursor
	}
	var tb [8]byte
	copy(tb[8-timeLen:], c[1:1+timeLen])
	return pos{int64(binary.BigEndian.Uint64(tb[:])), binary.BigEndian.Uint64(c[1+timeLen:])}, nil
}

type cand struct {
	p   pos
	src int // index into mems, then segs
}

// Lookup returns up to q.Limit events, newest first, and a cursor for the
// next page (nil when there is none). A segment found damaged on the way is
// quarantined and the lookup answered from the others.
func (ix *Index) Lookup(q Query) (hits []Hit, next []byte, err error) {
	if q.Limit <= 0 || q.End < q.Start {
		return nil, nil, nil
	}
	upper := pos{q.End + 1, 0}
	if q.Cursor != nil {
		c, err := parseCursor(q.Cursor)
		if err != nil {
			return nil, nil, err
		}
		if q.Attr == AttrEventID {
			return nil, nil, nil // an id matches at most one event: no second page
		}
		if c.less(upper) {
			upper = c
		}
	}
	err = ix.retryCorrupt(func() error {
		hits, next, err = ix.lookup(q, upper)
		return err
	})
	return hits, next, err
}

func (ix *Index) lookup(q Query, upper pos) ([]Hit, []byte, error) {
	part := partName(q.Account, q.Region)
	ix.mu.RLock()
	sw := ix.sweeps
	v := ix.viewLocked()
	defer v.release()
	if q.Attr == AttrEventID {
		ix.mu.RUnlock()
		return ix.lookupID(v, q, sw)
	}
	var k []byte
	if q.Attr == 0 {
		k = appendKey(nil, part, q.Kind, 0, "")
	} else {
		k = appendKey(nil, part, q.Kind, q.Attr, q.Value)
	}
	var cands []cand
	var buf []pos
	for i, m := range v.mems {
		f := m.filter(sw, q.Start)
		buf = m.top(buf[:0], k, &f, upper, q.Limit+1)
		for _, p := range buf {
			cands = append(cands, cand{p, i})
		}
	}
	ix.mu.RUnlock()
	// Segments newest first by their partition's newest event: once
	// q.Limit+1 candidates are in hand, a segment whose events are all
	// older than the last of them cannot change the page, nor can any
	// after it.
	type segSpan struct {
		i  int
		sp timeSpan
	}
	order := make([]segSpan, 0, len(v.segs))
	for i, sg := range v.segs {
		if sp, ok := sg.partSet[part]; ok && sp.min <= upper.t {
			order = append(order, segSpan{i, sp})
		}
	}
	slices.SortStableFunc(order, func(a, b segSpan) int { return cmpI64(b.sp.max, a.sp.max) })
	for _, o := range order {
		if len(cands) > q.Limit {
			slices.SortFunc(cands, func(a, b cand) int { return cmpDesc(a.p, b.p) })
			cands = cands[:q.Limit+1]
			if o.sp.max < cands[q.Limit].p.t {
				break
			}
		}
		i, sg := o.i, v.segs[o.i]
		f := newFilter(sw, q.Start, sg.first, sg.last)
		if o.sp.max < f.lo {
			continue
		}
		e, ok, err := sg.find(k)
		if err != nil {
			return nil, nil, fmt.Errorf("index lookup: %w", err)
		}
		if !ok {
			continue
		}
		if buf, err = sg.top(buf[:0], e, &f, upper, q.Limit+1); err != nil {
			return nil, nil, fmt.Errorf("index lookup: %w", err)
		}
		for _, p := range buf {
			cands = append(cands, cand{p, len(v.mems) + i})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmpDesc(a.p, b.p) })
	var next []byte
	if len(cands) > q.Limit {
		cands = cands[:q.Limit]
		next = cursorOf(cands[q.Limit-1].p)
	}
	hits := make([]Hit, 0, len(cands))
	ix.mu.RLock()
	for _, c := range cands {
		if c.src < len(v.mems) {
			raw, _, err := v.mems[c.src].record(c.p.s)
			if err != nil {
				ix.mu.RUnlock()
				return nil, nil, fmt.Errorf("index lookup: %w", err)
			}
			hits = append(hits, Hit{Seq: c.p.s, Raw: raw})
		} else {
			hits = append(hits, Hit{Seq: c.p.s})
		}
	}
	ix.mu.RUnlock()
	if err := v.fetchRecords(cands, hits); err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	return hits, next, nil
}

// fetchWorkers bounds how many record blocks one lookup reads at once.
const fetchWorkers = 4

// blockFetch is one record block a lookup reads: the hits (indexes into
// its cands) whose records lie in it, and whether the block is missing
// from the block cache.
type blockFetch struct {
	sg   *segment
	i    int
	ref  blockRef
	cold bool
	hits []int
}

// fetchRecords fills hits[k].Raw for each candidate from a segment. The
// records of one block are read together. Blocks in the block cache are
// read in turn; the others, each a read and a decompression, in parallel
// on up to fetchWorkers goroutines (GOMAXPROCS at most): the results of a
// lookup on a large store often lie in as many blocks as there are
// results.
func (v view) fetchRecords(cands []cand, hits []Hit) error {
	var fetches []blockFetch
	var cold []int
	type blockKey struct{ src, i int }
	at := map[blockKey]int{}
	for k, c := range cands {
		if c.src < len(v.mems) {
			continue
		}
		sg := v.segs[c.src-len(v.mems)]
		i, ref, err := sg.findBlock(c.p.s)
		if err != nil {
			return err
		}
		if i < 0 {
			return sg.corrupt("posting names record %d, which is missing", c.p.s)
		}
		f, ok := at[blockKey{c.src, i}]
		if !ok {
			f = len(fetches)
			at[blockKey{c.src, i}] = f
			fetches = append(fetches, blockFetch{sg: sg, i: i, ref: ref, cold: !sg.cached(i)})
			if fetches[f].cold {
				cold = append(cold, f)
			}
		}
		fetches[f].hits = append(fetches[f].hits, k)
	}
	fetch := func(f *blockFetch) error {
		for _, k := range f.hits {
			raw, err := f.sg.recordIn(f.i, f.ref, cands[k].p.s)
			if err != nil {
				return err
			}
			if raw == nil {
				return f.sg.corrupt("posting names record %d, which is missing", cands[k].p.s)
			}
			hits[k].Raw = raw
		}
		return nil
	}
	for f := range fetches {
		if !fetches[f].cold || len(cold) < 2 {
			if err := fetch(&fetches[f]); err != nil {
				return err
			}
		}
	}
	if len(cold) < 2 {
		return nil
	}
	return parallel(len(cold), fetchWorkers, func(i int) error { return fetch(&fetches[cold[i]]) })
}

// parallel calls fn(i) for each i in [0, n) on up to workers goroutines
// (GOMAXPROCS at most), and returns the first error of the lowest-numbered
// goroutine that had one. A goroutine stops at its first error.
func parallel(n, workers int, fn func(i int) error) error {
	workers = min(n, workers, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if errs[w] = fn(i); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (ix *Index) lookupID(v view, q Query, sw sweeps) ([]Hit, []byte, error) {
	part := partName(q.Account, q.Region)
	h := idHash(part, q.Value)
	match := func(ev *event.Event) bool {
		t := eventTime(ev)
		return KindOf(&ev.Summary) == q.Kind && t >= q.Start && t <= q.End
	}
	var hit []Hit
	var err error
	found := false
	ix.mu.RLock()
	for _, m := range v.mems {
		m.byID(h, func(r *memRec) bool {
			if r.id != q.Value || r.part != part || sw.deleted(r.t, r.seq) {
				return true
			}
			found = true
			var raw []byte
			if raw, err = m.raw(r); err != nil {
				return false
			}
			if ev, perr := event.Parse(raw); perr == nil && match(&ev) {
				hit = []Hit{{Seq: r.seq, Raw: raw}}
			}
			return false
		})
		if found {
			break
		}
	}
	ix.mu.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	if found {
		return hit, nil, nil
	}
	for _, sg := range v.segs {
		if _, ok := sg.partSet[part]; !ok {
			continue
		}
		ev, err := sg.eventByID(h, q.Account, q.Region, q.Value, 0, sw)
		if err != nil {
			return nil, nil, fmt.Errorf("index lookup: %w", err)
		}
		if ev != nil {
			if match(ev) {
				return []Hit{{Raw: ev.Raw}}, nil, nil
			}
			return nil, nil, nil
		}
	}
	return nil, nil, nil
}

// Sweep deletes every event applied so far whose time is before cutoff
// (Unix seconds); events applied later are not affected by it. It returns
// how many events it deleted that were not deleted before.
func (ix *Index) Sweep(cutoff int64) (n int, err error) {
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	err = ix.retryCorruptLocked(func() error {
		n, err = ix.sweepLocked(cutoff)
		return err
	})
	return n, err
}

func (ix *Index) sweepLocked(cutoff int64) (int, error) {
	ix.mu.RLock()
	old := ix.sweeps
	nw := old.add(sweep{Seq: ix.applied, Before: cutoff})
	v := ix.viewLocked()
	n := 0
	if !slices.Equal(nw, old) {
		for _, m := range v.mems {
			for _, r := range m.recs {
				if nw.deleted(r.t, r.seq) && !old.deleted(r.t, r.seq) {
					n++
				}
			}
		}
	}
	ix.mu.RUnlock()
	defer v.release()
	if slices.Equal(nw, old) {
		return 0, nil // an earlier sweep deleted all this one would
	}
	var drop []*segment
	for _, sg := range v.segs {
		before, err := sg.countVisible(old, math.MaxInt64)
		if err != nil {
			return 0, fmt.Errorf("index sweep: %w", err)
		}
		after, err := sg.countVisible(nw, math.MaxInt64)
		if err != nil {
			return 0, fmt.Errorf("index sweep: %w", err)
		}
		n += before - after
		if after == 0 {
			drop = append(drop, sg)
		}
	}
	if n == 0 && len(drop) == 0 {
		return 0, nil // it would delete nothing: no need to record it
	}
	nm := ix.man
	nm.Sweeps = nw
	nm.Segments = nil
	for _, name := range ix.man.Segments {
		if !slices.ContainsFunc(drop, func(sg *segment) bool { return segName(sg.num) == name }) {
			nm.Segments = append(nm.Segments, name)
		}
	}
	if err := ix.writeManifest(nm); err != nil {
		return 0, fmt.Errorf("index sweep: %w", err)
	}
	ix.mu.Lock()
	ix.sweeps = nw
	ix.segs = slices.DeleteFunc(slices.Clone(ix.segs), func(sg *segment) bool { return slices.Contains(drop, sg) })
	ix.mu.Unlock()
	for _, sg := range drop {
		ix.retire(sg)
	}
	return n, nil
}

// retire deletes a segment that is no longer listed; readers holding it
// keep reading the open file.
func (ix *Index) retire(sg *segment) {
	if err := os.Remove(sg.path); err != nil {
		ix.log.Error("index: removing an obsolete segment failed", "file", sg.path, "err", err)
	}
	sg.release()
}

// Compact flushes the memtable and merges every segment into one (used by
// benchmarks); segments around a quarantined one's range are merged on
// either side of it.
func (ix *Index) Compact() error {
	if _, err := ix.Sync(); err != nil {
		return err
	}
	for range maxCorruptRetries {
		ix.mu.RLock()
		var runs [][]*segment
		for i, sg := range ix.segs {
			if i == 0 || overlapsEntry(ix.holes, ix.segs[i-1].last+1, sg.first-1) {
				runs = append(runs, nil)
			}
			sg.acquire()
			runs[len(runs)-1] = append(runs[len(runs)-1], sg)
		}
		ix.mu.RUnlock()
		merged := true
		var err error
		for _, run := range runs {
			if len(run) > 1 && err == nil {
				n := ix.QuarantineCount()
				err = ix.merge(run)
				merged = merged && ix.QuarantineCount() == n
			}
			for _, sg := range run {
				sg.release()
			}
		}
		if err != nil || merged {
			return err
		}
	}
	return nil
}

// Close flushes and closes the index. It is safe to call twice.
func (ix *Index) Close() error {
	ix.mu.Lock()
	if ix.opts.ReadOnly {
		for _, sg := range ix.segs {
			sg.release()
		}
		ix.segs = nil
		ix.mu.Unlock()
		return nil
	}
	if ix.closed {
		ix.mu.Unlock()
		return nil
	}
	ix.mu.Unlock()
	_, err := ix.Sync()
	ix.mu.Lock()
	ix.closed = true
	ix.mu.Unlock()
	close(ix.stop)
	ix.wg.Wait()
	ix.mu.Lock()
	for _, sg := range ix.segs {
		sg.release()
	}
	ix.segs = nil
	ix.mu.Unlock()
	ix.codecs.close()
	return err
}
