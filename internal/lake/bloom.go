package lake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/cespare/xxhash/v2"
)

// bloom is a Bloom filter of the eventids of one Lake file, kept beside it
// (NAME.parquet.bloom; docs/format/lake.md): a query for given eventids
// skips the files whose filter excludes them all.
type bloom struct {
	k    uint32
	bits []uint64
}

const (
	bloomMagic      = "OTBLOOM1"
	bloomBitsPerKey = 8 // about 2% false positives with 6 hashes (10 and 7 before revision 2: 1%)
	bloomHashes     = 6
)

// newBloom returns a filter sized for n keys.
func newBloom(n int) *bloom {
	m := max(64, n*bloomBitsPerKey)
	return &bloom{k: bloomHashes, bits: make([]uint64, (m+63)/64)}
}

func (b *bloom) positions(key string, fn func(bit uint64) bool) bool {
	h := xxhash.Sum64String(key)
	h1, h2 := uint32(h), uint32(h>>32)
	m := uint64(len(b.bits) * 64)
	for i := uint32(0); i < b.k; i++ {
		if !fn(uint64(h1+i*h2) % m) {
			return false
		}
	}
	return true
}

func (b *bloom) add(key string) {
	b.positions(key, func(bit uint64) bool {
		b.bits[bit/64] |= 1 << (bit % 64)
		return true
	})
}

// mayContain reports whether key may be in the set (false: surely not).
func (b *bloom) mayContain(key string) bool {
	return b.positions(key, func(bit uint64) bool { return b.bits[bit/64]&(1<<(bit%64)) != 0 })
}

// marshal encodes the filter: magic, k (uint32), word count (uint32), the
// words (little endian), CRC-32C of everything before it.
func (b *bloom) marshal() []byte {
	out := make([]byte, 0, 16+8*len(b.bits)+4)
	out = append(out, bloomMagic...)
	out = binary.LittleEndian.AppendUint32(out, b.k)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b.bits)))
	for _, w := range b.bits {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, crc32.MakeTable(crc32.Castagnoli)))
}

var errBadBloom = errors.New("lake: damaged eventid filter")

// unmarshalBloom decodes a filter; a damaged one is errBadBloom.
func unmarshalBloom(p []byte) (*bloom, error) {
	if len(p) < 20 || string(p[:8]) != bloomMagic {
		return nil, errBadBloom
	}
	body, sum := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		return nil, errBadBloom
	}
	k, n := binary.LittleEndian.Uint32(p[8:]), binary.LittleEndian.Uint32(p[12:])
	if k == 0 || k > 32 || uint64(len(body)) != 16+8*uint64(n) || n == 0 || n > math.MaxInt32/8 {
		return nil, fmt.Errorf("%w: bad header", errBadBloom)
	}
	b := &bloom{k: k, bits: make([]uint64, n)}
	for i := range b.bits {
		b.bits[i] = binary.LittleEndian.Uint64(body[16+8*i:])
	}
	return b, nil
}
