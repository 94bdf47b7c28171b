package lake

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// A query's result rows are kept on disk, never all in memory
// (docs/format/lake.md, "Query results"): QUERY-ID.rows.gz is a gzip
// stream of one member per resultChunk rows, each row a JSON array of
// strings or null on a line, and QUERY-ID.rows.idx holds the byte offset
// of every member (little-endian uint64s), so a page is read from the
// member that holds its first row.

// resultChunk is how many rows one gzip member holds.
const resultChunk = 1000

// resultWriter streams rows to a query's results file.
type resultWriter struct {
	path  string
	f     *os.File
	cw    *countingWriter
	zw    *gzip.Writer
	bw    *bufio.Writer
	rows  int64
	index []uint64
}

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

func newResultWriter(path string) (*resultWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	cw := &countingWriter{w: f}
	return &resultWriter{path: path, f: f, cw: cw}, nil
}

// add appends one row.
func (w *resultWriter) add(row []*string) error {
	if w.rows%resultChunk == 0 {
		if err := w.endMember(); err != nil {
			return err
		}
		w.index = append(w.index, w.cw.n)
		w.zw = gzip.NewWriter(w.cw)
		w.bw = bufio.NewWriter(w.zw)
	}
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	w.bw.Write(b)
	if err := w.bw.WriteByte('\n'); err != nil {
		return err
	}
	w.rows++
	return nil
}

func (w *resultWriter) endMember() error {
	if w.zw == nil {
		return nil
	}
	err := errors.Join(w.bw.Flush(), w.zw.Close())
	w.zw, w.bw = nil, nil
	return err
}

// close makes the file and its index durable under their names.
func (w *resultWriter) close() error {
	err := errors.Join(w.endMember(), w.f.Sync(), w.f.Close())
	if err == nil {
		err = os.Rename(w.path+".tmp", w.path)
	}
	if err == nil {
		idx := make([]byte, 0, 8*len(w.index))
		for _, o := range w.index {
			idx = binary.LittleEndian.AppendUint64(idx, o)
		}
		err = os.WriteFile(indexPath(w.path), idx, 0o644)
	}
	if err != nil {
		w.abort()
	}
	return err
}

// abort removes what was written.
func (w *resultWriter) abort() {
	w.f.Close()
	os.Remove(w.path + ".tmp")
}

func indexPath(rowsPath string) string { return rowsPath[:len(rowsPath)-len(".gz")] + ".idx" }

// readResults returns up to limit rows of the results file path from
// offset (limit < 0: all of them).
func readResults(path string, offset int64, limit int) ([][]*string, error) {
	idx, err := os.ReadFile(indexPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no rows were kept
	}
	if err != nil {
		return nil, err
	}
	member := offset / resultChunk
	if member >= int64(len(idx)/8) {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(int64(binary.LittleEndian.Uint64(idx[8*member:])), io.SeekStart); err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("results file %s: %w", path, err)
	}
	dec := json.NewDecoder(zr)
	for skip := offset % resultChunk; skip > 0; skip-- {
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("results file %s: %w", path, err)
		}
	}
	var out [][]*string
	for limit < 0 || len(out) < limit {
		var r []*string
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("results file %s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, nil
}
