package wal

import (
	"encoding/binary"
	"fmt"
)

type pieceKind uint8

const (
	pieceRecord pieceKind = iota
	pieceGap
	pieceDamage
)

// piece is a byte range of a segment: a valid record, a gap record, or
// damage.
type piece struct {
	kind     pieceKind
	off, end int64
	// first and last are the record's seq, the gap's range, or for damage
	// the sequence numbers lost in it (none when first > last; unknown for
	// a tail).
	first, last uint64
	// tail marks damage that runs to the end of the file with no valid
	// record after it; zero, a tail of zero bytes only.
	tail, zero bool
	err        error // damage: what is wrong with the bytes at off
}

// lost reports the sequence numbers a damage piece accounts for.
func (p piece) lost() (first, last uint64, ok bool) {
	if p.kind != pieceDamage || p.tail || p.first > p.last {
		return 0, 0, false
	}
	return p.first, p.last, true
}

// parsed is a whole segment read from its bytes.
type parsed struct {
	pieces   []piece
	badMagic bool
	next     uint64 // seq after the last valid record or gap record
	records  int
	gaps     []Gap
}

// damaged returns the damage pieces.
func (p *parsed) damaged() []piece {
	var out []piece
	for _, pc := range p.pieces {
		if pc.kind == pieceDamage {
			out = append(out, pc)
		}
	}
	return out
}

// parseSegment reads the bytes of segment path, whose first record is
// first; no record may have a seq above limit. At each bad record it
// resyncs: it looks for the next valid record (docs/format/wal.md,
// "Telling them apart") and marks the bytes in between as damage. visit, if
// set, gets every event record in order.
func parseSegment(b []byte, path string, first, limit uint64, visit func(Record)) parsed {
	p := parsed{next: first}
	expect := first
	var off int64
	if len(b) >= len(magic) && string(b[:len(magic)]) == magic {
		off = int64(len(magic))
	} else {
		p.badMagic = true
	}
	if p.badMagic {
		// Resync from the start: records may still follow a damaged
		// header.
		o, d, ok := resync(b, 0, expect, limit)
		pc := piece{kind: pieceDamage, off: 0, end: int64(len(b)), first: expect, tail: true, err: fmt.Errorf("bad segment header")}
		if ok {
			pc.end, pc.tail, pc.last = o, false, d.rec.Seq-1
			expect = d.rec.Seq
		}
		p.pieces = append(p.pieces, pc)
		off = pc.end
	}
	for off < int64(len(b)) {
		d, n, err := decodeAt(b[off:], expect, expect, visit != nil)
		if err == nil && d.last() <= limit {
			p.add(d, path, off, int64(n), visit)
			off += int64(n)
			expect = d.last() + 1
			continue
		}
		if err == nil {
			err = fmt.Errorf("gap to %d runs past %d: %w", d.last(), limit, errTorn)
		}
		pc := piece{kind: pieceDamage, off: off, end: int64(len(b)), first: expect, tail: true, err: err}
		if nonZeroLen(b[off:]) == 0 {
			// Zeros to the end (an active segment's preallocated
			// space): no record can follow.
			pc.zero, pc.err = true, fmt.Errorf("zeros to the end: %w", errTorn)
			p.pieces = append(p.pieces, pc)
			break
		}
		o, d2, ok := resync(b, off, expect, limit)
		if ok {
			pc.end, pc.tail, pc.last = o, false, d2.rec.Seq-1
			expect = d2.rec.Seq
		}
		p.pieces = append(p.pieces, pc)
		off = pc.end
	}
	p.next = expect
	return p
}

func (p *parsed) add(d decoded, path string, off, n int64, visit func(Record)) {
	if d.gap != nil {
		g := *d.gap
		g.Segment = path
		p.gaps = append(p.gaps, g)
		p.pieces = append(p.pieces, piece{kind: pieceGap, off: off, end: off + n, first: g.First, last: g.Last})
		return
	}
	p.records++
	p.pieces = append(p.pieces, piece{kind: pieceRecord, off: off, end: off + n, first: d.rec.Seq, last: d.rec.Seq})
	if visit != nil {
		visit(d.rec)
	}
}

// resync returns the first offset at or after from holding a valid record
// numbered from lo to min(limit, lo-1+seqWindow). It checks the cheap
// header fields first, so scanning garbage or zeros costs little.
func resync(b []byte, from int64, lo, limit uint64) (int64, decoded, bool) {
	hi := lo - 1 + seqWindow
	if hi < lo { // overflow
		hi = ^uint64(0)
	}
	hi = min(hi, limit)
	if hi < lo {
		return 0, decoded{}, false
	}
	for o := from; o+headerSize <= int64(len(b)); o++ {
		n := binary.LittleEndian.Uint32(b[o:])
		if n < minPayload || n > maxPayload || o+headerSize+int64(n) > int64(len(b)) {
			continue
		}
		if seq := binary.LittleEndian.Uint64(b[o+8:]); seq < lo || seq > hi {
			continue
		}
		d, _, err := decodeAt(b[o:], lo, hi, false)
		if err == nil && d.last() <= limit {
			return o, d, true
		}
	}
	return 0, decoded{}, false
}
