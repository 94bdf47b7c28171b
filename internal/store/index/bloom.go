package index

import "math/bits"

// bloom is a blocked bloom filter: each key sets 7 bits within one 512-bit
// block (one cache line), about 10 bits per key.
type bloom []uint64

const bloomProbes = 7

func newBloom(keys int) bloom {
	blocks := max(1, (keys*10+511)/512)
	return make(bloom, blocks*8)
}

func (b bloom) block(h uint64) []uint64 {
	i := bloomBlock(h, len(b)/8)
	return b[i*8 : i*8+8]
}

// bloomBlock is the index of the block of n that hash h uses: monotonic in
// h, so the eventID table, sorted by hash, fills a filter block by block.
func bloomBlock(h uint64, n int) int { return int((uint64(uint32(h>>32)) * uint64(n)) >> 32) }

func bloomBits(h uint64) uint64 { return bits.RotateLeft64(h, 21) * 0x9e3779b97f4a7c15 }

func (b bloom) add(h uint64) {
	blk := b.block(h)
	x := bloomBits(h)
	for range bloomProbes {
		bit := x & 511
		blk[bit>>6] |= 1 << (bit & 63)
		x >>= 9
	}
}

func (b bloom) mayContain(h uint64) bool {
	if len(b) == 0 {
		return false
	}
	blk := b.block(h)
	x := bloomBits(h)
	for range bloomProbes {
		bit := x & 511
		if blk[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
		x >>= 9
	}
	return true
}

// bloomBlockHas is mayContain on one block stored as 8 little-endian
// words (64 bytes), as a segment's meta section holds it.
func bloomBlockHas(blk []byte, h uint64) bool {
	x := bloomBits(h)
	for range bloomProbes {
		bit := x & 511
		if blk[bit>>3]&(1<<(bit&7)) == 0 {
			return false
		}
		x >>= 9
	}
	return true
}
