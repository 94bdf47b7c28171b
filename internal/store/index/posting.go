package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
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
	var e postingEnc
	e.reset(len(entries))
	for _, x := range entries {
		e.add(x)
	}
	e.done()
	return append(append(dst, e.hdrs...), e.data...), len(e.hdrs) / chunkHdrLen
}

// postingEnc encodes a posting list of a known number of entries, given
// newest first: the chunk header table in hdrs, the chunk data appended to
// data. Its user may write data out and empty it (see flushable) as it
// grows.
type postingEnc struct {
	n       int    // entries the list has
	added   int    // entries added so far
	hdrs    []byte // the chunk header table
	data    []byte // chunk data
	dataLen int64  // chunk data encoded so far, in data or not
	cstart  int    // where the current chunk starts in data
	first   pos    // the list's first (newest) entry
	prev    pos
}

// reset starts a list of n entries, keeping the buffers.
func (e *postingEnc) reset(n int) {
	chunks := (n + chunkEntries - 1) / chunkEntries
	*e = postingEnc{n: n, hdrs: slices.Grow(e.hdrs[:0], chunks*chunkHdrLen)[:chunks*chunkHdrLen], data: e.data[:0]}
}

// add appends the next entry; entries beyond n are only counted.
func (e *postingEnc) add(x pos) {
	i := e.added
	e.added++
	if i >= e.n {
		return
	}
	if i%chunkEntries == 0 {
		if i > 0 {
			e.endChunk(i/chunkEntries - 1)
		} else {
			e.first = x
		}
		h := e.hdrs[(i/chunkEntries)*chunkHdrLen:]
		binary.LittleEndian.PutUint64(h[0:], uint64(x.t))
		binary.LittleEndian.PutUint64(h[8:], x.s)
	} else {
		start := len(e.data)
		e.data = binary.AppendUvarint(e.data, uint64(e.prev.t-x.t))
		e.data = binary.AppendVarint(e.data, int64(e.prev.s-x.s))
		e.dataLen += int64(len(e.data) - start)
	}
	e.prev = x
}

// endChunk completes chunk c's header: its end and its data's checksum.
func (e *postingEnc) endChunk(c int) {
	h := e.hdrs[c*chunkHdrLen:]
	binary.LittleEndian.PutUint32(h[16:], uint32(e.dataLen))
	binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(e.data[e.cstart:], castagnoli))
	e.cstart = len(e.data)
}

// flushable reports whether data holds only complete chunks (the last
// entry added began a chunk), so it may be written out and emptied with
// drain.
func (e *postingEnc) flushable() bool { return e.added <= e.n && (e.added-1)%chunkEntries == 0 }

// drain empties data once it is written out.
func (e *postingEnc) drain() { e.data, e.cstart = e.data[:0], 0 }

// done completes the last chunk once every entry is added.
func (e *postingEnc) done() {
	if c := len(e.hdrs) / chunkHdrLen; c > 0 {
		e.endChunk(c - 1)
	}
}

var errCorruptPosting = errors.New("corrupt posting list")

// chunkHeader is one decoded chunk header.
type chunkHeader struct {
	first pos
	end   uint32 // offset of the chunk's end within the chunk data
	crc   uint32
}

func parseChunkHeaders(b []byte, chunks int) ([]chunkHeader, error) {
	return parseChunkHeadersInto(nil, b, chunks)
}

// parseChunkHeadersInto is parseChunkHeaders into dst's array when it is
// long enough.
func parseChunkHeadersInto(dst []chunkHeader, b []byte, chunks int) ([]chunkHeader, error) {
	if len(b) != chunks*chunkHdrLen {
		return nil, errCorruptPosting
	}
	hs := dst[:0]
	if cap(hs) < chunks {
		hs = make([]chunkHeader, chunks)
	}
	hs = hs[:chunks]
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
