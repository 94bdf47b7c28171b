package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Record framing (docs/format/wal.md): len u32, crc u32, seq u64, payload.
const (
	payloadV1  = 1 // an event
	payloadGap = 2 // a gap record written by Repair
	minPayload = 3 // version, alen, rlen
	gapFixed   = 1 + 8 + 8 + 8 + 8 + 1
	// seqWindow bounds how far past the last good record a record found
	// by resyncing may be numbered (docs/format/wal.md, "Telling them
	// apart").
	seqWindow = 1 << 32
)

// Gap is a run of sequence numbers that a repair recorded as lost. Readers
// skip it; it is reported by [Check].
type Gap struct {
	First, Last uint64
	// Segment is the path of the segment holding the gap record.
	Segment string
	// Time is when the repair ran.
	Time time.Time
	// Offset and Bytes locate the dropped bytes in the original segment,
	// which was kept as Quarantine (relative to the WAL directory; empty
	// when no bytes were dropped, as for a missing segment).
	Offset, Bytes int64
	Quarantine    string
}

func (g Gap) String() string {
	s := fmt.Sprintf("records %d to %d were lost and recorded by a repair on %s", g.First, g.Last, g.Time.UTC().Format(time.RFC3339))
	if g.Quarantine != "" {
		s += fmt.Sprintf("; %d bytes from offset %d kept in %s", g.Bytes, g.Offset, g.Quarantine)
	}
	return s
}

// errTorn marks a short, torn or corrupt record; a clean end of data is
// io.EOF.
var errTorn = errors.New("torn or corrupt record")

// frame fills the header of buf, whose payload starts at headerSize.
func frame(buf []byte, seq uint64) {
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(buf)-headerSize))
	binary.LittleEndian.PutUint64(buf[8:], seq)
	binary.LittleEndian.PutUint32(buf[4:], crc32.Update(0, castagnoli, buf[8:]))
}

// appendGapRecord appends a framed gap record to dst.
func appendGapRecord(dst []byte, g Gap) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	dst = append(dst, payloadGap)
	dst = binary.LittleEndian.AppendUint64(dst, g.Last)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(g.Time.Unix()))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(g.Offset))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(g.Bytes))
	q := g.Quarantine
	if len(q) > 255 {
		q = q[:255]
	}
	dst = append(dst, byte(len(q)))
	dst = append(dst, q...)
	frame(dst[start:], g.First)
	return dst
}

// header is a record header whose length fits the limits.
type header struct {
	n   int
	crc uint32
	seq uint64
}

func parseHeader(h []byte) (header, error) {
	n := binary.LittleEndian.Uint32(h[0:])
	if n > maxPayload || n < minPayload {
		return header{}, fmt.Errorf("bad length %d: %w", n, errTorn)
	}
	return header{n: int(n), crc: binary.LittleEndian.Uint32(h[4:]), seq: binary.LittleEndian.Uint64(h[8:])}, nil
}

// decoded is one record: an event, or a gap record when gap is set.
type decoded struct {
	rec Record
	gap *Gap
}

// last is the last sequence number the record accounts for.
func (d decoded) last() uint64 {
	if d.gap != nil {
		return d.gap.Last
	}
	return d.rec.Seq
}

// decodeBody checks the CRC and decodes the payload of a record whose
// header h (the raw 16 bytes) parsed as hd. With own set, an event
// record's partition and JSON are copied out of p into the Record; without
// it they are only checked, and the Record holds just the seq (a check
// that keeps nothing allocates nothing per record).
func decodeBody(h []byte, hd header, p []byte, own bool) (decoded, error) {
	c := crc32.Update(0, castagnoli, h[8:headerSize])
	if crc32.Update(c, castagnoli, p) != hd.crc {
		return decoded{}, fmt.Errorf("crc mismatch: %w", errTorn)
	}
	switch p[0] {
	case payloadV1:
		rec, err := decodePayload(hd.seq, p, own)
		if err != nil {
			return decoded{}, fmt.Errorf("%v: %w", err, errTorn)
		}
		return decoded{rec: rec}, nil
	case payloadGap:
		if len(p) < gapFixed || len(p) != gapFixed+int(p[gapFixed-1]) {
			return decoded{}, fmt.Errorf("bad gap record: %w", errTorn)
		}
		g := Gap{
			First:      hd.seq,
			Last:       binary.LittleEndian.Uint64(p[1:]),
			Time:       time.Unix(int64(binary.LittleEndian.Uint64(p[9:])), 0).UTC(),
			Offset:     int64(binary.LittleEndian.Uint64(p[17:])),
			Bytes:      int64(binary.LittleEndian.Uint64(p[25:])),
			Quarantine: string(p[gapFixed:]),
		}
		if g.Last < g.First || g.Last >= 1<<62 || g.Offset < 0 || g.Bytes < 0 {
			return decoded{}, fmt.Errorf("bad gap record %d..%d: %w", g.First, g.Last, errTorn)
		}
		return decoded{rec: Record{Seq: hd.seq}, gap: &g}, nil
	default:
		return decoded{}, fmt.Errorf("unknown payload version %d: %w", p[0], errTorn)
	}
}

// decodeAt decodes the record at the start of b if its seq lies in
// [lo, hi]. It returns the record and its size in bytes; own is as for
// decodeBody.
func decodeAt(b []byte, lo, hi uint64, own bool) (decoded, int, error) {
	if len(b) < headerSize {
		return decoded{}, 0, fmt.Errorf("short header: %w", errTorn)
	}
	hd, err := parseHeader(b)
	if err != nil {
		return decoded{}, 0, err
	}
	if hd.seq < lo || hd.seq > hi {
		if lo == hi {
			return decoded{}, 0, fmt.Errorf("seq %d, want %d: %w", hd.seq, lo, errTorn)
		}
		return decoded{}, 0, fmt.Errorf("seq %d outside %d..%d: %w", hd.seq, lo, hi, errTorn)
	}
	if len(b)-headerSize < hd.n {
		return decoded{}, 0, fmt.Errorf("short payload: %w", errTorn)
	}
	d, err := decodeBody(b[:headerSize], hd, b[headerSize:headerSize+hd.n], own)
	if err != nil {
		return decoded{}, 0, err
	}
	return d, headerSize + hd.n, nil
}

// decodePayload decodes an event payload; without own it checks the
// lengths and returns only the seq.
func decodePayload(seq uint64, p []byte, own bool) (Record, error) {
	if p[0] != payloadV1 {
		return Record{}, fmt.Errorf("unknown payload version %d", p[0])
	}
	p = p[1:]
	al := int(p[0])
	if len(p) < 1+al+1 {
		return Record{}, errors.New("short payload")
	}
	rl := int(p[1+al])
	if len(p) < 1+al+1+rl {
		return Record{}, errors.New("short payload")
	}
	if !own {
		return Record{Seq: seq}, nil
	}
	acct := string(p[1 : 1+al])
	region := string(p[1+al+1 : 1+al+1+rl])
	raw := append([]byte(nil), p[1+al+1+rl:]...)
	return Record{Seq: seq, Entry: Entry{Account: acct, Region: region, Raw: raw}}, nil
}
