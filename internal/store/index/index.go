// Package index keeps event history: every event's record plus the lookup
// keys LookupEvents scans, in a Pebble key-value store. It is a follower of
// the WAL: [Index.Apply] takes records in sequence order and stores its
// checkpoint in the same atomic batch. The key scheme is documented in
// docs/format/index.md.
package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable/block"

	"github.com/opentrail/opentrail/internal/event"
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
)

var (
	keyCheckpoint = []byte("mcheckpoint")
	keyNextPID    = []byte("mnextpid")
)

// ErrBadCursor means a cursor was not made by this package.
var ErrBadCursor = errors.New("index: malformed cursor")

// Options configure the index.
type Options struct {
	CacheSize int64 // block cache bytes
	Logger    *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options { return Options{CacheSize: 512 << 20, Logger: slog.Default()} }

// Index is the event-history store.
type Index struct {
	db     *pebble.DB
	log    *slog.Logger
	mu     sync.RWMutex // guards pids
	pids   map[string]uint32
	next   uint32
	ckpt   uint64
	closed bool
}

// Open opens or creates the index in dir.
func Open(dir string, opts Options) (*Index, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultOptions().CacheSize
	}
	cache := pebble.NewCache(opts.CacheSize)
	po := &pebble.Options{
		Cache:                      cache,
		MemTableSize:               64 << 20,
		L0CompactionThreshold:      4,
		L0StopWritesThreshold:      1000,
		LBaseMaxBytes:              256 << 20,
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		Logger:                     quietLogger{opts.Logger},
		// The newest format: its tables support zstd and columnar blocks.
		FormatMajorVersion: pebble.FormatNewest,
		// OpenTrail's WAL is the source of truth and the index records its
		// checkpoint with the keys, so a lost memtable is replayed from the
		// WAL; Pebble's own log would only double the writes.
		DisableWAL: true,
	}
	// Records (about 1 KB each) go to blob files at flush time and are not
	// rewritten by every compaction; only the small keys are.
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: 256, MaxBlobReferenceDepth: 10, RewriteMinimumAge: 5 * time.Minute, TargetGarbageRatio: 0.2}
	}
	po.EnsureDefaults()
	for i := range po.Levels {
		po.Levels[i].BlockSize = 32 << 10
		po.Levels[i].IndexBlockSize = 256 << 10
		// Import dedupe probes an eventID per event, almost always absent:
		// a bloom filter answers those without reading a data block.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// Keys are rewritten by every compaction on their way down, so the upper
	// levels compress key blocks cheaply and only the bottom levels use zstd.
	// Records are written once, to blob files at flush time (value
	// separation, below), and never rewritten, so their value blocks get
	// zstd level 3 from the start.
	upper := *block.FastestCompression
	upper.Name = "opentrail-upper"
	upper.ValueBlocks = block.GoodCompression.ValueBlocks
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings {
		cs := pebble.DBCompressionSettings{Name: "opentrail"}
		for i := range cs.Levels {
			switch {
			case i < len(cs.Levels)-2:
				cs.Levels[i] = &upper
			case i == len(cs.Levels)-2:
				cs.Levels[i] = block.BalancedCompression
			default:
				cs.Levels[i] = block.GoodCompression
			}
		}
		return cs
	})
	db, err := pebble.Open(dir, po)
	cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	ix := &Index{db: db, log: opts.Logger, pids: map[string]uint32{}, next: 1}
	if err := ix.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open index: %w", err)
	}
	return ix, nil
}

func (ix *Index) load() error {
	if v, closer, err := ix.db.Get(keyCheckpoint); err == nil {
		ix.ckpt = binary.BigEndian.Uint64(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	if v, closer, err := ix.db.Get(keyNextPID); err == nil {
		ix.next = binary.BigEndian.Uint32(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte("p"), UpperBound: []byte("q")})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		ix.pids[string(it.Key()[1:])] = binary.BigEndian.Uint32(it.Value())
	}
	return it.Close()
}

// Checkpoint is the sequence number of the last WAL record applied.
func (ix *Index) Checkpoint() uint64 { return ix.ckpt }

// Item is one WAL record to apply.
type Item struct {
	Seq   uint64
	Event *event.Event
}

func partitionName(account, region string) string { return account + "/" + region }

func (ix *Index) pid(account, region string) (uint32, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	p, ok := ix.pids[partitionName(account, region)]
	return p, ok
}

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

// Apply stores items, which must continue the sequence from Checkpoint, in
// one atomic batch together with the new checkpoint. It is not durable
// until Sync: a crash loses applied batches back to the last Sync (the
// checkpoint goes back with them), and the store replays them from the WAL.
func (ix *Index) Apply(items []Item) error {
	if len(items) == 0 {
		return nil
	}
	b := ix.db.NewBatch()
	defer b.Close()
	var newPIDs map[string]uint32
	// Keys are collected, sorted and then written: the memtable's skiplist
	// inserts keys that arrive in order far more cheaply.
	kvs := make([]kv, 0, len(items)*9)
	for _, it := range items {
		ev := it.Event
		name := partitionName(ev.Account, ev.Region)
		ix.mu.RLock()
		p, ok := ix.pids[name]
		ix.mu.RUnlock()
		if !ok {
			if p, ok = newPIDs[name]; !ok {
				p = ix.next
				ix.next++
				if newPIDs == nil {
					newPIDs = map[string]uint32{}
				}
				newPIDs[name] = p
				var v [4]byte
				binary.BigEndian.PutUint32(v[:], p)
				kvs = append(kvs, kv{append([]byte("p"), name...), bytes.Clone(v[:])})
			}
		}
		kind := KindOf(&ev.Summary)
		var suffix [suffixLen]byte
		putSuffix(suffix[:], ev.EventTime, it.Seq)
		kvs = append(kvs, kv{recordKey(nil, p, kind, suffix[:]), ev.Raw})
		var ev14 [1 + suffixLen]byte
		ev14[0] = kind
		copy(ev14[1:], suffix[:])
		kvs = append(kvs, kv{eventIDKey(nil, p, ev.EventID), bytes.Clone(ev14[:])})
		if kind == KindOther {
			continue
		}
		_ = forEachAttr(&ev.Summary, func(attr byte, value string) error {
			k := attrKey(make([]byte, 0, 24+len(value)), p, kind, attr, value)
			kvs = append(kvs, kv{append(k, suffix[:]...), nil})
			return nil
		})
	}
	// Stable: for equal keys (an eventID twice in one batch) the later
	// event still wins, as it would unsorted.
	slices.SortStableFunc(kvs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	for _, e := range kvs {
		if err := b.Set(e.k, e.v, nil); err != nil {
			return fmt.Errorf("index apply: %w", err)
		}
	}
	last := items[len(items)-1].Seq
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], last)
	if err := b.Set(keyCheckpoint, v[:], nil); err != nil {
		return fmt.Errorf("index apply: %w", err)
	}
	if newPIDs != nil {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], ix.next)
		if err := b.Set(keyNextPID, n[:], nil); err != nil {
			return fmt.Errorf("index apply: %w", err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("index apply: %w", err)
	}
	if newPIDs != nil {
		ix.mu.Lock()
		for k, v := range newPIDs {
			ix.pids[k] = v
		}
		ix.mu.Unlock()
	}
	ix.ckpt = last
	return nil
}

type kv struct{ k, v []byte }

// Sync makes everything applied so far durable (it flushes the memtable)
// and returns the checkpoint that is now durable.
func (ix *Index) Sync() (uint64, error) {
	ck := ix.ckpt
	if err := ix.db.Flush(); err != nil {
		return 0, fmt.Errorf("index sync: %w", err)
	}
	return ck, nil
}

// forEachAttr calls fn for every lookup key the event is indexed under
// (EventId excluded: it has its own key).
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
	var seen []string
	for _, r := range s.Resources {
		if r.ResourceType != "" && !slices.Contains(seen, "t"+r.ResourceType) {
			seen = append(seen, "t"+r.ResourceType)
			if err := fn(AttrResourceType, r.ResourceType); err != nil {
				return err
			}
		}
		if r.ResourceName != "" && !slices.Contains(seen, "n"+r.ResourceName) {
			seen = append(seen, "n"+r.ResourceName)
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

func putSuffix(dst []byte, t time.Time, seq uint64) {
	sec := t.Unix()
	if sec < 0 {
		sec = 0
	}
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], uint64(sec))
	copy(dst[:timeLen], tb[8-timeLen:])
	binary.BigEndian.PutUint64(dst[timeLen:], seq)
}

func timeBytes(dst []byte, sec int64) []byte {
	if sec < 0 {
		sec = 0
	}
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], uint64(sec))
	return append(dst, tb[8-timeLen:]...)
}

func appendPID(dst []byte, p uint32) []byte { return binary.BigEndian.AppendUint32(dst, p) }

func recordKey(dst []byte, p uint32, kind byte, suffix []byte) []byte {
	dst = append(dst, 'r')
	dst = appendPID(dst, p)
	dst = append(dst, kind)
	return append(dst, suffix...)
}

func eventIDKey(dst []byte, p uint32, id string) []byte {
	dst = append(dst, 'e')
	dst = appendPID(dst, p)
	return append(dst, id...)
}

func attrKey(dst []byte, p uint32, kind, attr byte, value string) []byte {
	dst = append(dst, 'x')
	dst = appendPID(dst, p)
	dst = append(dst, kind, attr)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// EventKey names one event for HasEventIDs.
type EventKey struct{ Account, Region, EventID string }

// HasEventIDs reports, for each key, whether its partition holds an event
// with that id. One iterator serves the whole batch, probed in key order,
// which is far cheaper than a Get per key during bulk imports.
func (ix *Index) HasEventIDs(keys []EventKey) ([]bool, error) {
	out := make([]bool, len(keys))
	type probe struct {
		key []byte
		i   int
	}
	probes := make([]probe, 0, len(keys))
	for i, k := range keys {
		p, ok := ix.pid(k.Account, k.Region)
		if !ok {
			continue
		}
		probes = append(probes, probe{eventIDKey(nil, p, k.EventID), i})
	}
	if len(probes) == 0 {
		return out, nil
	}
	slices.SortFunc(probes, func(a, b probe) int { return bytes.Compare(a.key, b.key) })
	// Pebble skips bottom-level filters unless asked; almost every probe
	// misses, so the filters save a block read per probe there too.
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte("e"), UpperBound: []byte("f"), UseL6Filters: true})
	if err != nil {
		return nil, fmt.Errorf("index get: %w", err)
	}
	for _, pr := range probes {
		if it.SeekPrefixGE(pr.key) && bytes.Equal(it.Key(), pr.key) {
			out[pr.i] = true
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("index get: %w", err)
	}
	return out, nil
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
	sfx [suffixLen]byte
}

func (h *Hit) suffix() []byte { return h.sfx[:] }

// Lookup returns up to q.Limit events, newest first, and a cursor for the
// next page (nil when there is none).
func (ix *Index) Lookup(q Query) ([]Hit, []byte, error) {
	p, ok := ix.pid(q.Account, q.Region)
	if !ok || q.Limit <= 0 || q.End < q.Start {
		return nil, nil, nil
	}
	var after []byte // exclusive upper bound suffix from the cursor
	if q.Cursor != nil {
		if len(q.Cursor) != 1+suffixLen || q.Cursor[0] != cursorV1 {
			return nil, nil, ErrBadCursor
		}
		after = q.Cursor[1:]
	}
	if q.Attr == AttrEventID {
		return ix.lookupID(p, q, after)
	}
	var prefix []byte
	if q.Attr == 0 {
		prefix = append([]byte{'r'}, appendPID(nil, p)...)
		prefix = append(prefix, q.Kind)
	} else {
		prefix = attrKey(nil, p, q.Kind, q.Attr, q.Value)
	}
	lower := timeBytes(bytes.Clone(prefix), q.Start)
	upper := timeBytes(bytes.Clone(prefix), q.End+1)
	if after != nil {
		c := append(bytes.Clone(prefix), after...)
		if bytes.Compare(c, upper) < 0 {
			upper = c
		}
	}
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	defer it.Close()
	var hits []Hit
	var next []byte
	rkey := make([]byte, 0, 32)
	for ok := it.Last(); ok; ok = it.Prev() {
		k := it.Key()
		suffix := k[len(k)-suffixLen:]
		if len(hits) == q.Limit {
			next = append([]byte{cursorV1}, hits[len(hits)-1].suffix()...)
			break
		}
		var raw []byte
		if q.Attr == 0 {
			raw = bytes.Clone(it.Value())
		} else {
			rkey = recordKey(rkey[:0], p, q.Kind, suffix)
			v, closer, err := ix.db.Get(rkey)
			if errors.Is(err, pebble.ErrNotFound) {
				continue // swept between the scan and the get
			}
			if err != nil {
				return nil, nil, fmt.Errorf("index lookup: %w", err)
			}
			raw = bytes.Clone(v)
			closer.Close()
		}
		hits = append(hits, Hit{Seq: binary.BigEndian.Uint64(suffix[timeLen:]), Raw: raw, sfx: [suffixLen]byte(suffix)})
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	return hits, next, nil
}

func (ix *Index) lookupID(p uint32, q Query, after []byte) ([]Hit, []byte, error) {
	if after != nil {
		return nil, nil, nil // an id matches at most one event: no second page
	}
	v, closer, err := ix.db.Get(eventIDKey(nil, p, q.Value))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	loc := bytes.Clone(v)
	closer.Close()
	if len(loc) != 1+suffixLen || loc[0] != q.Kind {
		return nil, nil, nil
	}
	var tb [8]byte
	copy(tb[8-timeLen:], loc[1:1+timeLen])
	sec := int64(binary.BigEndian.Uint64(tb[:]))
	if sec < q.Start || sec > q.End {
		return nil, nil, nil
	}
	raw, closer, err := ix.db.Get(recordKey(nil, p, q.Kind, loc[1:]))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("index lookup: %w", err)
	}
	h := Hit{Seq: binary.BigEndian.Uint64(loc[1+timeLen:]), Raw: bytes.Clone(raw), sfx: [suffixLen]byte(loc[1:])}
	closer.Close()
	return []Hit{h}, nil, nil
}

// Sweep deletes every event older than cutoff (Unix seconds, exclusive),
// with its lookup keys. It returns how many events it deleted.
func (ix *Index) Sweep(cutoff int64) (int, error) {
	ix.mu.RLock()
	pids := make([]uint32, 0, len(ix.pids))
	for _, p := range ix.pids {
		pids = append(pids, p)
	}
	ix.mu.RUnlock()
	total := 0
	for _, p := range pids {
		for _, kind := range []byte{KindManagement, KindInsight, KindOther} {
			n, err := ix.sweepRange(p, kind, cutoff)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

func (ix *Index) sweepRange(p uint32, kind byte, cutoff int64) (int, error) {
	prefix := append([]byte{'r'}, appendPID(nil, p)...)
	prefix = append(prefix, kind)
	upper := timeBytes(bytes.Clone(prefix), cutoff)
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return 0, fmt.Errorf("index sweep: %w", err)
	}
	defer it.Close()
	b := ix.db.NewBatch()
	defer func() { b.Close() }()
	n := 0
	var key []byte
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		suffix := bytes.Clone(k[len(k)-suffixLen:])
		if err := b.Delete(k, nil); err != nil {
			return n, fmt.Errorf("index sweep: %w", err)
		}
		ev, err := event.Parse(it.Value())
		if err == nil {
			key = eventIDKey(key[:0], p, ev.EventID)
			_ = b.Delete(key, nil)
			if kind != KindOther {
				_ = forEachAttr(&ev.Summary, func(attr byte, value string) error {
					key = attrKey(key[:0], p, kind, attr, value)
					key = append(key, suffix...)
					return b.Delete(key, nil)
				})
			}
		}
		n++
		if b.Count() > 10000 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return n, fmt.Errorf("index sweep: %w", err)
			}
			b.Close()
			b = ix.db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return n, fmt.Errorf("index sweep: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return n, fmt.Errorf("index sweep: %w", err)
	}
	return n, nil
}

// Compact compacts the whole key space (used by benchmarks and fsck).
func (ix *Index) Compact() error {
	return ix.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true)
}

// Close flushes and closes the index. It is safe to call twice.
func (ix *Index) Close() error {
	if ix.closed {
		return nil
	}
	ix.closed = true
	_, err := ix.Sync()
	return errors.Join(err, ix.db.Close())
}

type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any) {
	q.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
