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
	n := uint64(len(b) / 8)
	i := (uint64(uint32(h>>32)) * n) >> 32
	return b[i*8 : i*8+8]
}

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
