package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// pos is one posting entry: an event's time (Unix seconds) and WAL sequence
// number. Lists are sorted newest first: by time, then seq, descending.
type pos struct {
	t int64
	s uint64
}

// less orders entries oldest first.
func (a pos) less(b pos) bool { return a.t < b.t || (a.t == b.t && a.s < b.s) }

// cmpDesc sorts newest first.
func cmpDesc(a, b pos) int {
	switch {
	case b.less(a):
		return -1
	case a.less(b):
		return 1
	}
	return 0
}

const (
	chunkEntries = 128
	chunkHdrLen  = 24 // firstTime, firstSeq, chunkEnd, crc
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodePosting appends the list (sorted newest first) to dst: the chunk
// header table, then the chunk data. It returns the number of chunks.
func encodePosting(dst []byte, entries []pos) ([]byte, int) {
	chunks := (len(entries) + chunkEntries - 1) / chunkEntries
	base := len(dst)
	dst = append(dst, make([]byte, chunks*chunkHdrLen)...)
	start := len(dst)
	for c := range chunks {
		ents := entries[c*chunkEntries : min(len(entries), (c+1)*chunkEntries)]
		cstart := len(dst)
		prev := ents[0]
		for _, e := range ents[1:] {
			dst = binary.AppendUvarint(dst, uint64(prev.t-e.t))
			dst = binary.AppendVarint(dst, int64(prev.s-e.s))
			prev = e
		}
		h := dst[base+c*chunkHdrLen:]
		binary.LittleEndian.PutUint64(h[0:], uint64(ents[0].t))
		binary.LittleEndian.PutUint64(h[8:], ents[0].s)
		binary.LittleEndian.PutUint32(h[16:], uint32(len(dst)-start))
		binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(dst[cstart:], castagnoli))
	}
	return dst, chunks
}

var errCorruptPosting = errors.New("corrupt posting list")

// chunkHeader is one decoded chunk header.
type chunkHeader struct {
	first pos
	end   uint32 // offset of the chunk's end within the chunk data
	crc   uint32
}

func parseChunkHeaders(b []byte, chunks int) ([]chunkHeader, error) {
	if len(b) != chunks*chunkHdrLen {
		return nil, errCorruptPosting
	}
	hs := make([]chunkHeader, chunks)
	for i := range hs {
		h := b[i*chunkHdrLen:]
		hs[i] = chunkHeader{
			first: pos{int64(binary.LittleEndian.Uint64(h[0:])), binary.LittleEndian.Uint64(h[8:])},
			end:   binary.LittleEndian.Uint32(h[16:]),
			crc:   binary.LittleEndian.Uint32(h[20:]),
		}
		if i > 0 && hs[i].end < hs[i-1].end {
			return nil, errCorruptPosting
		}
	}
	return hs, nil
}

// decodeChunk appends the chunk's entries to dst. data is the chunk's
// bytes, n the number of entries it holds.
func decodeChunk(dst []pos, h chunkHeader, data []byte, n int) ([]pos, error) {
	if crc32.Checksum(data, castagnoli) != h.crc {
		return dst, fmt.Errorf("%w: chunk checksum mismatch", errCorruptPosting)
	}
	prev := h.first
	dst = append(dst, prev)
	for i := 1; i < n; i++ {
		dt, k := binary.Uvarint(data)
		if k <= 0 {
			return dst, errCorruptPosting
		}
		data = data[k:]
		ds, k := binary.Varint(data)
		if k <= 0 {
			return dst, errCorruptPosting
		}
		data = data[k:]
		prev = pos{prev.t - int64(dt), prev.s - uint64(ds)}
		dst = append(dst, prev)
	}
	if len(data) != 0 {
		return dst, errCorruptPosting
	}
	return dst, nil
}

// chunkLen is the number of entries in chunk c of a list of n entries.
func chunkLen(n, c int) int { return min(chunkEntries, n-c*chunkEntries) }

// topBelow appends to dst, newest first, up to limit entries of the sorted
// (newest first) list that are strictly below upper and that f wants.
func topBelow(dst, list []pos, f *filter, upper pos, limit int) []pos {
	// First index whose entry is below upper.
	i, j := 0, len(list)
	for i < j {
		h := int(uint(i+j) >> 1)
		if !list[h].less(upper) {
			i = h + 1
		} else {
			j = h
		}
	}
	for ; i < len(list) && limit > 0; i++ {
		if list[i].t < f.lo {
			break
		}
		if f.keep(list[i]) {
			dst = append(dst, list[i])
			limit--
		}
	}
	return dst
}
