package index

import (
	"bytes"
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

const (
	// dictTarget is the size of the record dictionaries the index makes.
	dictTarget = 128 << 10
	// dictMax is the largest record dictionary a segment may carry.
	dictMax = 1 << 20
	// decodeLimit is the most one zstd frame may decode to (a corrupt
	// frame header can claim that much, and the decoder allocates it
	// before it fails).
	decodeLimit = 64 << 20
)

// dictID is the zstd dictionary ID of a record dictionary's bytes
// (docs/format/index.md): in [32768, 2^31), outside the ranges zstd
// reserves.
func dictID(content []byte) uint32 {
	return uint32(32768 + xxhash.Sum64(content)%(1<<31-32768))
}

// codec compresses and decompresses record blocks with one record
// dictionary, or none (dict nil). Its encoders are made on first use: a
// codec that only reads segments needs none.
type codec struct {
	dict []byte
	id   uint32
	dec  *zstd.Decoder

	once     sync.Once
	mem, bg  *zstd.Encoder // memtables (under the index's lock); flushes and merges
	encErr   error
	decLimit uint64
}

// encoders returns the codec's two encoders: mem for memtables, which
// compress blocks under the index's lock and must not wait for a merge's
// compression, and bg for flushes and merges.
func (c *codec) encoders() (mem, bg *zstd.Encoder, err error) {
	c.once.Do(func() {
		if c.mem, c.encErr = newEncoder(c.dict, c.id); c.encErr == nil {
			c.bg, c.encErr = newEncoder(c.dict, c.id)
		}
	})
	return c.mem, c.bg, c.encErr
}

// encoderWindow is the encoders' window: a block and the dictionary
// before it fit. An encoder keeps a history buffer of about its window
// (zstd's default, 8 MiB, cost 8 MiB an encoder, and the index has up to
// five).
const encoderWindow = 256 << 10

// newEncoder returns a zstd encoder for record blocks with the record
// dictionary dict (none: nil), or for directory blocks.
func newEncoder(dict []byte, id uint32) (*zstd.Encoder, error) {
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true),
		zstd.WithWindowSize(encoderWindow)}
	if dict != nil {
		opts = append(opts, zstd.WithEncoderDictRaw(id, dict))
	}
	return zstd.NewWriter(nil, opts...)
}

// codecs hands out one codec per record dictionary, so the segments and
// memtables that share a dictionary share its decoder. A process sees few
// dictionaries: the index makes a new one only while its current one is
// short (docs/format/index.md).
type codecs struct {
	concurrency int
	mu          sync.Mutex
	byDict      map[string]*codec
}

// newCodecs returns a set of codecs whose decoders run concurrency
// decodes at once (0: GOMAXPROCS, and one more for the background scrub,
// so that it never holds a decoder a lookup waits for).
func newCodecs(concurrency int) *codecs {
	if concurrency == 0 {
		concurrency = runtime.GOMAXPROCS(0) + 1
	}
	return &codecs{concurrency: concurrency, byDict: map[string]*codec{}}
}

// plain is the codec without a dictionary.
func (cs *codecs) plain() (*codec, error) { return cs.get(nil) }

// get returns the codec of the record dictionary dict (nil: none).
func (cs *codecs) get(dict []byte) (*codec, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.byDict[string(dict)]; c != nil {
		return c, nil
	}
	c := &codec{}
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(cs.concurrency), zstd.WithDecoderMaxMemory(decodeLimit)}
	if dict != nil {
		c.dict, c.id = bytes.Clone(dict), dictID(dict)
		opts = append(opts, zstd.WithDecoderDictRaw(c.id, c.dict))
	}
	dec, err := zstd.NewReader(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	c.dec = dec
	cs.byDict[string(dict)] = c
	return c, nil
}

// close releases the decoders.
func (cs *codecs) close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.byDict {
		c.dec.Close()
	}
	cs.byDict = map[string]*codec{}
}

// wantDict reports whether a flush of m should make a new record
// dictionary, the current one being cur (nil: none): when there is none,
// or when m's records would make one at least twice as long.
func wantDict(cur []byte, m *memtable) bool {
	if len(cur) >= dictTarget/2 {
		return false
	}
	return m.bytes >= 2*int64(max(len(cur), 1))
}

// buildDict makes a record dictionary of at most target bytes from m's
// records (docs/format/index.md): one record per EventName value, the most
// frequent first, then records at even intervals, laid out in reverse so
// the most frequent sit at the end. It returns nil when m has no records.
func buildDict(m *memtable, target int) ([]byte, error) {
	type name struct {
		value string
		n     int
		rec   uint32 // its newest record
	}
	byValue := map[string]*name{}
	for k, p := range m.post {
		kk, err := parseKey([]byte(k))
		if err != nil || kk.attr != AttrEventName || len(p.idx) == 0 {
			continue
		}
		nm := byValue[kk.value]
		if nm == nil {
			nm = &name{value: kk.value}
			byValue[kk.value] = nm
		}
		nm.n += len(p.idx)
		nm.rec = max(nm.rec, p.idx[len(p.idx)-1])
	}
	names := make([]*name, 0, len(byValue))
	for _, nm := range byValue {
		names = append(names, nm)
	}
	slices.SortFunc(names, func(a, b *name) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.value, b.value)
	})
	var picked [][]byte
	used := map[uint32]bool{}
	size := 0
	take := func(i uint32) error {
		if used[i] || size+int(m.recs[i].n) > target {
			return nil
		}
		raw, err := m.raw(&m.recs[i])
		if err != nil {
			return err
		}
		used[i] = true
		size += len(raw)
		picked = append(picked, raw)
		return nil
	}
	for _, nm := range names {
		if err := take(nm.rec); err != nil {
			return nil, err
		}
	}
	if n := len(m.recs); n > 0 && size < target {
		// Records at even intervals over the memtable, as many as would
		// fill what is left if they had the average size.
		avg := max(m.bytes/int64(n), 1)
		want := min(int64(target-size)/avg+1, int64(n))
		for k := int64(0); k < want && size < target; k++ {
			if err := take(uint32(k * int64(n) / want)); err != nil {
				return nil, err
			}
		}
	}
	if size == 0 {
		return nil, nil
	}
	out := make([]byte, 0, size)
	for i := len(picked) - 1; i >= 0; i-- {
		out = append(out, picked[i]...)
	}
	return out, nil
}
