package resultfile

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// DefaultMaxFileBytes is the uncompressed size (header included) at which
// a result file is closed and the next row starts a new one: 64 MiB.
const DefaultMaxFileBytes = 64 << 20

// File is one encoded result file.
type File struct {
	// Name is result_<N>.csv.gz, N counting from 1.
	Name string
	// Body is the gzipped CSV, the object's bytes.
	Body []byte
	// Hash is the lowercase hex SHA-256 of Body (fileHashValue).
	Hash string
	// Rows is how many result rows the file holds (the header aside).
	Rows int
}

// FileName returns the name of the n-th result file (n from 1).
func FileName(n int) string { return "result_" + strconv.Itoa(n) + ".csv.gz" }

// EncodeFiles encodes a query result as result files: CSV in the dialect
// of docs/format/query-results.md, every file starting with the header row
// of columns, a new file begun once a file's CSV reaches maxBytes
// (≤ 0: DefaultMaxFileBytes). A nil cell is NULL. There is always at least
// one file; a result with no rows is the header alone. Every row must have
// one cell per column.
func EncodeFiles(columns []string, rows [][]*string, maxBytes int) ([]File, error) {
	if len(columns) == 0 {
		return nil, fmt.Errorf("%w: a result needs at least one column", ErrInvalid)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	header := make([]*string, len(columns))
	for i := range columns {
		header[i] = &columns[i]
	}
	headerCSV := AppendRecord(nil, header)
	var (
		files []File
		enc   fileEncoder
		rec   []byte
	)
	enc.start(headerCSV)
	for i, r := range rows {
		if len(r) != len(columns) {
			return nil, fmt.Errorf("%w: row %d has %d cells for %d columns", ErrInvalid, i+1, len(r), len(columns))
		}
		rec = AppendRecord(rec[:0], r)
		if err := enc.write(rec); err != nil {
			return nil, err
		}
		enc.rows++
		if enc.size >= maxBytes {
			f, err := enc.finish(len(files) + 1)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
			enc.start(headerCSV)
		}
	}
	if enc.rows > 0 || len(files) == 0 {
		f, err := enc.finish(len(files) + 1)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// fileEncoder gzips one result file as its records come.
type fileEncoder struct {
	buf  bytes.Buffer
	zw   *gzip.Writer
	size int // uncompressed bytes written
	rows int // result rows written (the header aside)
}

func (e *fileEncoder) start(header []byte) {
	e.buf = bytes.Buffer{}
	if e.zw == nil {
		// A zero gzip.Header: no name, no modification time, so the same
		// rows always make the same bytes (a repeated delivery compares
		// equal).
		e.zw = gzip.NewWriter(&e.buf)
	} else {
		e.zw.Reset(&e.buf)
	}
	e.size, e.rows = 0, 0
	_ = e.write(header) // a bytes.Buffer does not fail
}

// write adds CSV bytes (a record or the header) to the file.
func (e *fileEncoder) write(rec []byte) error {
	if _, err := e.zw.Write(rec); err != nil {
		return fmt.Errorf("resultfile: gzip: %w", err)
	}
	e.size += len(rec)
	return nil
}

func (e *fileEncoder) finish(n int) (File, error) {
	if err := e.zw.Close(); err != nil {
		return File{}, fmt.Errorf("resultfile: gzip: %w", err)
	}
	body := bytes.Clone(e.buf.Bytes())
	sum := sha256.Sum256(body)
	return File{Name: FileName(n), Body: body, Hash: hex.EncodeToString(sum[:]), Rows: e.rows}, nil
}

// AppendRecord appends one CSV record (RFC 4180, CRLF-terminated) of
// cells to b. A nil cell is NULL: an empty, unquoted field. A value is
// quoted, its quotes doubled, when it is empty or holds a comma, a quote,
// CR or LF. A record whose only cell is NULL is written as "" so that it is
// not a blank line, which CSV readers skip.
func AppendRecord(b []byte, cells []*string) []byte {
	if len(cells) == 1 && cells[0] == nil {
		return append(b, `""`+"\r\n"...)
	}
	for i, c := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		if c == nil {
			continue
		}
		s := *c
		if s != "" && !strings.ContainsAny(s, ",\"\r\n") {
			b = append(b, s...)
			continue
		}
		b = append(b, '"')
		for {
			j := strings.IndexByte(s, '"')
			if j < 0 {
				break
			}
			b = append(b, s[:j+1]...)
			b = append(b, '"')
			s = s[j+1:]
		}
		b = append(b, s...)
		b = append(b, '"')
	}
	return append(b, '\r', '\n')
}
