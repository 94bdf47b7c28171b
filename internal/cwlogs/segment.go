package cwlogs

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Segment files (docs/format/logs.md).

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	recordHeader   = 8
	maxRecordBytes = 2 << 20
	// SegmentBytes is the size at which a segment is sealed.
	SegmentBytes = 64 << 20
)

// record is one stored log event.
type record struct {
	Stream    string `json:"s"`
	Timestamp int64  `json:"t"`
	Ingestion int64  `json:"i"`
	Message   string `json:"m"`
}

// appendRecord frames r onto b.
func appendRecord(b []byte, r *record) ([]byte, error) {
	p, err := json.Marshal(r)
	if err != nil {
		return b, err
	}
	var h [recordHeader]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(p)))
	binary.BigEndian.PutUint32(h[4:8], crc32.Checksum(p, castagnoli))
	b = append(b, h[:]...)
	return append(b, p...), nil
}

// CorruptError is a damaged record: its segment file and offset.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("cwlogs: %s: damaged record at offset %d (%s); `opentrail fsck` reports it", e.File, e.Offset, e.Reason)
}

// errTorn marks a final record cut short.
var errTorn = errors.New("torn record")

// scanSegment calls fn for each record of a segment file with its offset.
// It returns the length of the whole records; a final record cut short
// stops the scan with errTorn, a damaged one with a *CorruptError.
func scanSegment(path string, from int64, fn func(off int64, r *record) bool) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0, err
	}
	rd := bufio.NewReaderSize(f, 256<<10)
	off := from
	var h [recordHeader]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(rd, h[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return off, nil
			}
			return off, errTorn
		}
		n := binary.BigEndian.Uint32(h[0:4])
		if n == 0 || n > maxRecordBytes {
			return off, &CorruptError{File: path, Offset: off, Reason: fmt.Sprintf("length %d", n)}
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(rd, buf); err != nil {
			return off, errTorn
		}
		if crc32.Checksum(buf, castagnoli) != binary.BigEndian.Uint32(h[4:8]) {
			return off, &CorruptError{File: path, Offset: off, Reason: "checksum mismatch"}
		}
		var r record
		if err := json.Unmarshal(buf, &r); err != nil {
			return off, &CorruptError{File: path, Offset: off, Reason: err.Error()}
		}
		if !fn(off, &r) {
			return off, nil
		}
		off += recordHeader + int64(n)
	}
}

// segmentFiles lists a group directory's segment numbers in order.
func segmentFiles(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil || n < 1 {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func segmentPath(dir string, n int) string {
	return filepath.Join(dir, strconv.Itoa(n)+".seg")
}
