package logfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/jsonscan"
)

// Format is the JSON shape of a log file, as seen at its first value.
type Format int

// The shapes [NewDecoder] recognises.
const (
	// FormatRecords is AWS's delivery format, {"Records":[record, ...]}.
	FormatRecords Format = iota + 1
	// FormatArray is a JSON array of records.
	FormatArray
	// FormatObject is a file holding one record object.
	FormatObject
	// FormatLines is JSON Lines: one record object per line (more
	// precisely, record objects separated by whitespace).
	FormatLines
)

func (f Format) String() string {
	switch f {
	case FormatRecords:
		return "records"
	case FormatArray:
		return "array"
	case FormatObject:
		return "object"
	case FormatLines:
		return "lines"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Record is one record of a log file, as its raw JSON bytes.
type Record struct {
	// Raw is the record's JSON value exactly as the file has it, without
	// the whitespace around it. It is valid JSON (any value, not only an
	// object: checking that is the caller's business). The decoder never
	// modifies or reuses it, but it may share a backing array (capacity
	// capped) with other records of the same decoder.
	Raw []byte
	// Index is the record's position in the file, from 0. Records that
	// could not be read count too, so a *SyntaxError's Index is the
	// position the bad record had.
	Index int
	// Line is the 1-based line on which the record starts.
	Line int
	// Offset is the byte offset of the record's start in the
	// (decompressed) file.
	Offset int64
}

// ErrNotCloudTrail is returned by [NewDecoder] when the content (after
// gunzip) does not start like a CloudTrail log: an object or an array of
// objects. Callers walking directories skip such files.
var ErrNotCloudTrail = errors.New("not CloudTrail JSON")

// ErrRecordTooLarge is wrapped by a [*SyntaxError] for a record larger than
// [MaxRecordSize].
var ErrRecordTooLarge = errors.New("record too large")

// MaxRecordSize bounds the bytes the decoder buffers for one record (or for
// the members of a {"Records":...} object before its Records array). It is
// far above CloudTrail's own 256 KB limit: records between the two are read
// and left for the caller to refuse.
const MaxRecordSize = 16 << 20

// SyntaxError reports a record that is not well-formed JSON. After one,
// [Decoder.Next] may be called again: in [FormatLines] it resumes at the
// next line that starts a JSON object or array; otherwise the error ends
// the file and Next returns io.EOF.
//
// Offset is where the error is. Line is the line of Offset, except for a
// bad top-level record in FormatLines, where it is the line the record
// starts on: a line cut short is only noticed where the next line does not
// continue it, and the line to fix is the first.
type SyntaxError struct {
	Index  int   // position the bad record has in the file, from 0
	Line   int   // 1-based line (see above)
	Offset int64 // byte offset of the error in the (decompressed) file
	Err    error // what is wrong
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON in record %d at line %d: %v (byte %d)", e.Index, e.Line, e.Err, e.Offset)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// Decoder reads the records of one log file. It is not safe for concurrent
// use. [Decoder.Reset] lets one decoder (and its buffers) read many files;
// the zero Decoder is ready for Reset.
type Decoder struct {
	br  *bufio.Reader
	gz  *gzip.Reader
	src io.Reader

	buf  []byte
	r, w int   // unread bytes are buf[r:w]; steps rescan from r
	base int64 // file offset of buf[0]
	eof  bool  // src is exhausted
	rerr error // sticky read error

	lineAt int64 // file offset up to which newlines are counted
	line   int   // 1-based line number at lineAt

	sc      jsonscan.Scanner
	format  Format
	state   state
	wrapper bool // the array being streamed is a Records member
	index   int
	final   error // what Next returns in stateDone
	slab    []byte
	bufSize int // initial buffer size
}

type state uint8

const (
	stateTop       state = iota // between top-level values
	stateFirstElem              // after '[': an element or ']'
	stateElem                   // after ',': an element
	stateAfterElem              // after an element: ',' or ']'
	stateWrapper                // after the Records array: more members or '}'
	stateDone
)

const (
	initialBuf = 256 << 10
	slabSize   = 64 << 10
)

// NewDecoder sniffs r and returns a decoder for its records. r is read
// through gunzip if it starts with the gzip magic number, whatever the file
// is called. The content must start, after optional whitespace and a UTF-8
// byte order mark, with an object ('{' then a member name or '}') or an
// array ('[' then '{' or ']'); otherwise the error wraps
// [ErrNotCloudTrail]. A malformed gzip header or a read error is returned
// as such.
func NewDecoder(r io.Reader) (*Decoder, error) {
	return newDecoderSize(r, initialBuf)
}

// newDecoderSize lets tests start with a tiny buffer, to exercise refills.
func newDecoderSize(r io.Reader, size int) (*Decoder, error) {
	d := &Decoder{bufSize: size}
	if err := d.Reset(r); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset makes d read a new file, as [NewDecoder] would, keeping its
// buffers.
func (d *Decoder) Reset(r io.Reader) error {
	if d.br == nil {
		d.br = bufio.NewReaderSize(r, 32<<10)
	} else {
		d.br.Reset(r)
	}
	if d.bufSize <= 0 {
		d.bufSize = initialBuf
	}
	if d.buf == nil || len(d.buf) > 4*d.bufSize { // drop a buffer grown for a huge record
		d.buf = make([]byte, max(d.bufSize, 4))
	}
	d.r, d.w, d.base, d.eof, d.rerr = 0, 0, 0, false, nil
	d.lineAt, d.line = 0, 1
	d.format, d.state, d.wrapper, d.index, d.final = 0, stateTop, false, 0, nil

	d.src = d.br
	magic, err := d.br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read: %w", err)
	}
	gzipped := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	if gzipped {
		if d.gz == nil {
			d.gz, err = gzip.NewReader(d.br)
		} else {
			err = d.gz.Reset(d.br)
		}
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		d.src = d.gz
	}
	f, err := d.sniff()
	if err != nil {
		if gzipped && errors.Is(err, ErrNotCloudTrail) {
			return fmt.Errorf("gzip content: %w", err)
		}
		return err
	}
	d.format = f
	return nil
}

// Format reports the file's shape.
func (d *Decoder) Format() Format { return d.format }

// sniff reads the first bytes and decides the format, consuming only the
// byte order mark and leading whitespace.
func (d *Decoder) sniff() (Format, error) {
	for d.w < 3 && !d.eof {
		if err := d.more(); err != nil {
			return 0, d.readErr(err)
		}
	}
	if bytes.HasPrefix(d.buf[:d.w], []byte("\xef\xbb\xbf")) {
		d.r = 3
	}
	if ok, err := d.skipSpace(); err != nil {
		return 0, d.readErr(err)
	} else if !ok {
		if d.base+int64(d.w) == 0 {
			return 0, fmt.Errorf("%w: empty file", ErrNotCloudTrail)
		}
		return 0, fmt.Errorf("%w: only whitespace", ErrNotCloudTrail)
	}
	notCT := func() error {
		return fmt.Errorf("%w: content starts with %q", ErrNotCloudTrail, d.snippet())
	}
	c := d.buf[d.r]
	if c != '{' && c != '[' {
		return 0, notCT()
	}
	j, err := d.peekNonSpace(d.r + 1)
	if err != nil {
		return 0, d.readErr(err)
	}
	if j < 0 {
		return 0, notCT()
	}
	switch c2 := d.buf[j]; {
	case c == '[' && (c2 == '{' || c2 == ']'):
		return FormatArray, nil
	case c == '{' && (c2 == '"' || c2 == '}'):
	default:
		return 0, notCT()
	}

	// An object: a Records wrapper, or a record alone or followed by more.
	isWrapper, n, err := d.objectHead()
	var se *jsonscan.Error
	switch {
	case err == nil && isWrapper, errors.Is(err, errRecordsNotArray):
		return FormatRecords, nil
	case err == nil:
		k, err := d.peekNonSpace(d.r + n)
		if err != nil && !errors.As(err, &se) {
			return 0, d.readErr(err)
		}
		if k < 0 {
			return FormatObject, nil
		}
		// More follows: JSON Lines if it is another value, or if the first
		// object is on a line of its own (a bad second line then does not
		// end the file).
		if c := d.buf[k]; c == '{' || c == '[' ||
			bytes.IndexByte(d.buf[d.r:d.r+n], '\n') < 0 && bytes.IndexByte(d.buf[d.r+n:k], '\n') >= 0 {
			return FormatLines, nil
		}
		return FormatObject, nil
	case !errors.As(err, &se):
		return 0, d.readErr(err)
	}
	// The first object is malformed. If the error is on the line the
	// object starts on, this looks like JSON Lines with a bad first line:
	// read on. Otherwise (a pretty-printed object) the error ends the file.
	if bytes.IndexByte(d.buf[d.r:min(d.r+se.Off, d.w)], '\n') < 0 {
		return FormatLines, nil
	}
	return FormatObject, nil
}

// snippet returns the first bytes at d.r, for error messages.
func (d *Decoder) snippet() string {
	const n = 24
	for d.w-d.r < n && !d.eof && d.rerr == nil {
		if d.more() != nil {
			break
		}
	}
	b := d.buf[d.r:min(d.w, d.r+n)]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (d *Decoder) readErr(err error) error {
	var se *jsonscan.Error
	if errors.As(err, &se) {
		return &SyntaxError{Index: d.index, Line: d.line, Offset: d.base + int64(d.r), Err: se.Err}
	}
	return fmt.Errorf("read: %w", err)
}

// Next returns the next record. At the end of the file it returns io.EOF.
// A malformed record gives a [*SyntaxError], after which Next may be called
// again (see SyntaxError for what follows). Any other error (reading,
// gunzip) is final: Next keeps returning it.
func (d *Decoder) Next() (Record, error) {
	for {
		switch d.state {
		case stateDone:
			return Record{}, d.final
		case stateTop:
			ok, err := d.skipSpace()
			if err != nil {
				return d.fatal(err)
			}
			if !ok {
				d.state, d.final = stateDone, io.EOF
				continue
			}
			switch c := d.buf[d.r]; c {
			case '[':
				d.r++
				d.wrapper, d.state = false, stateFirstElem
			case '{':
				isWrapper, n, err := d.objectHead()
				if err != nil {
					return d.fail(err, true)
				}
				if isWrapper {
					d.r += n
					d.wrapper, d.state = true, stateFirstElem
					continue
				}
				return d.emit(n), nil
			default:
				return d.fail(jsonscan.ErrAt(0, "invalid character %s looking for beginning of value", jsonscan.QuoteChar(c)), true)
			}
		case stateFirstElem, stateElem:
			ok, err := d.skipSpace()
			if err != nil {
				return d.fatal(err)
			}
			if !ok {
				return d.fail(jsonscan.ErrAt(0, "unexpected end of input"), false)
			}
			if d.state == stateFirstElem && d.buf[d.r] == ']' {
				d.r++
				d.endArray()
				continue
			}
			n, err := d.element()
			if err != nil {
				return d.fail(err, false)
			}
			d.state = stateAfterElem
			return d.emit(n), nil
		case stateAfterElem:
			ok, err := d.skipSpace()
			if err != nil {
				return d.fatal(err)
			}
			if !ok {
				return d.fail(jsonscan.ErrAt(0, "unexpected end of input"), false)
			}
			switch c := d.buf[d.r]; c {
			case ',':
				d.r++
				d.state = stateElem
			case ']':
				d.r++
				d.endArray()
			default:
				return d.fail(jsonscan.ErrAt(0, "invalid character %s after array element", jsonscan.QuoteChar(c)), false)
			}
		case stateWrapper:
			ok, err := d.skipSpace()
			if err != nil {
				return d.fatal(err)
			}
			if !ok {
				return d.fail(jsonscan.ErrAt(0, "unexpected end of input"), false)
			}
			switch c := d.buf[d.r]; c {
			case '}':
				d.r++
				d.state = stateTop
			case ',':
				d.r++
				n, err := d.member()
				if err != nil {
					return d.fail(err, false)
				}
				d.r += n
			default:
				return d.fail(jsonscan.ErrAt(0, "invalid character %s after object key:value pair", jsonscan.QuoteChar(c)), false)
			}
		}
	}
}

func (d *Decoder) endArray() {
	if d.wrapper {
		d.state = stateWrapper
	} else {
		d.state = stateTop
	}
}

// emit returns buf[r:r+n] as the next record and consumes it.
func (d *Decoder) emit(n int) Record {
	off := d.base + int64(d.r)
	d.countLines(off)
	rec := Record{Raw: d.copyRaw(d.buf[d.r : d.r+n]), Index: d.index, Line: d.line, Offset: off}
	d.index++
	d.r += n
	return rec
}

// copyRaw copies b into the current slab, so that small records share
// allocations.
func (d *Decoder) copyRaw(b []byte) []byte {
	if len(b) > slabSize/8 {
		return bytes.Clone(b)
	}
	if len(d.slab) < len(b) {
		d.slab = make([]byte, slabSize)
	}
	r := d.slab[:len(b):len(b)]
	copy(r, b)
	d.slab = d.slab[len(b):]
	return r
}

// fatal ends the file with a read error.
func (d *Decoder) fatal(err error) (Record, error) {
	d.state, d.final = stateDone, d.readErr(err)
	return Record{}, d.final
}

// fail reports a scan failure of the step that started at d.r. top says
// whether the step was a top-level value, which JSON Lines can skip.
func (d *Decoder) fail(err error, top bool) (Record, error) {
	var se *jsonscan.Error
	if !errors.As(err, &se) {
		return d.fatal(err)
	}
	start := d.base + int64(d.r)
	d.countLines(start) // keeps lineOf's count short
	off := start + int64(se.Off)
	lines := top && d.format == FormatLines
	line := d.lineOf(off)
	if lines {
		line = d.line
	}
	serr := &SyntaxError{Index: d.index, Line: line, Offset: off, Err: se.Err}
	d.index++
	d.state, d.final = stateDone, io.EOF
	if lines {
		if err := d.resync(); err != nil {
			d.final = d.readErr(err)
		} else {
			d.state = stateTop
		}
	}
	return Record{}, serr
}

// resync skips from the bad value at d.r to the next line that starts,
// after blanks, with '{' or '['.
func (d *Decoder) resync() error {
	i := d.r + 1
	needNL := true
	for {
		if needNL {
			for {
				if j := bytes.IndexByte(d.buf[i:d.w], '\n'); j >= 0 {
					i += j + 1
					break
				}
				d.r = d.w
				if d.eof {
					return nil
				}
				if err := d.more(); err != nil {
					return err
				}
				i = d.r
			}
		}
		// Skip blanks at the start of the line.
		for {
			for i < d.w && (d.buf[i] == ' ' || d.buf[i] == '\t' || d.buf[i] == '\r') {
				i++
			}
			d.r = i
			if i < d.w || d.eof {
				break
			}
			if err := d.more(); err != nil {
				return err
			}
			i = d.r
		}
		if i >= d.w || d.buf[i] == '{' || d.buf[i] == '[' {
			return nil
		}
		// An empty line: look at the next one. Otherwise, skip this line.
		needNL = d.buf[i] != '\n'
		if !needNL {
			i++
		}
	}
}

// skipSpace consumes whitespace and reports whether a byte follows.
func (d *Decoder) skipSpace() (bool, error) {
	for {
		d.r = jsonscan.SkipSpace(d.buf[:d.w], d.r)
		if d.r < d.w {
			return true, nil
		}
		if d.eof {
			return false, nil
		}
		if err := d.more(); err != nil {
			return false, err
		}
	}
}

// peekNonSpace returns the index of the first non-whitespace byte at or
// after buf[from] without consuming anything, or -1 at the end of the file.
func (d *Decoder) peekNonSpace(from int) (int, error) {
	off := from - d.r
	for {
		i := jsonscan.SkipSpace(d.buf[:d.w], d.r+off)
		if i < d.w {
			return i, nil
		}
		if d.eof {
			return -1, nil
		}
		off = i - d.r
		if err := d.more(); err != nil {
			return -1, err
		}
	}
}

// objectHead scans the object at d.r (see objectHead) without consuming
// it, reading more input as needed.
func (d *Decoder) objectHead() (bool, int, error) {
	for {
		w, n, err := objectHead(&d.sc, d.buf[d.r:d.w], d.eof)
		if !errors.Is(err, jsonscan.ErrMore) {
			return w, n, err
		}
		if err := d.more(); err != nil {
			return false, 0, err
		}
	}
}

// element scans the array element at d.r without consuming it.
func (d *Decoder) element() (int, error) {
	depth := 1
	if d.wrapper {
		depth = 2
	}
	for {
		n, err := d.sc.Value(d.buf[d.r:d.w], 0, d.eof, depth)
		if !errors.Is(err, jsonscan.ErrMore) {
			return n, err
		}
		if err := d.more(); err != nil {
			return 0, err
		}
	}
}

// member scans an object member ("name": value) at d.r without consuming
// it.
func (d *Decoder) member() (int, error) {
	for {
		_, i, err := d.sc.ScanKey(d.buf[d.r:d.w], 0, d.eof)
		if err == nil {
			i, err = d.sc.Value(d.buf[d.r:d.w], i, d.eof, 1)
		}
		if !errors.Is(err, jsonscan.ErrMore) {
			return i, err
		}
		if err := d.more(); err != nil {
			return 0, err
		}
	}
}

// objectHead scans the object starting at b[0] up to its Records array. For
// an object with a Records member it returns true and the index just after
// the array's '['; for an object without one, false and the index just
// after the object's '}'.
func objectHead(s *jsonscan.Scanner, b []byte, eof bool) (bool, int, error) {
	i := jsonscan.SkipSpace(b, 1)
	if i >= len(b) {
		return false, i, jsonscan.End(i, eof)
	}
	if b[i] == '}' {
		return false, i + 1, nil
	}
	for {
		name, j, err := s.ScanKey(b, i, eof)
		if err != nil {
			return false, j, err
		}
		i = jsonscan.SkipSpace(b, j)
		if i >= len(b) {
			return false, i, jsonscan.End(i, eof)
		}
		if isRecords(name) {
			if b[i] != '[' {
				return false, i, &jsonscan.Error{Off: i, Err: errRecordsNotArray}
			}
			return true, i + 1, nil
		}
		if i, err = s.Value(b, i, eof, 1); err != nil {
			return false, i, err
		}
		i = jsonscan.SkipSpace(b, i)
		if i >= len(b) {
			return false, i, jsonscan.End(i, eof)
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return false, i + 1, nil
		default:
			return false, i, jsonscan.ErrAt(i, "invalid character %s after object key:value pair", jsonscan.QuoteChar(b[i]))
		}
	}
}

var errRecordsNotArray = errors.New("the Records member is not an array")

// isRecords reports whether a member name, as written, is "Records".
func isRecords(name []byte) bool {
	if string(name) == "Records" {
		return true
	}
	if bytes.IndexByte(name, '\\') < 0 || len(name) > 6*len("Records") {
		return false
	}
	var s string
	q := make([]byte, 0, len(name)+2)
	q = append(append(append(q, '"'), name...), '"')
	return json.Unmarshal(q, &s) == nil && s == "Records"
}

// more reads into the buffer, keeping buf[r:w]. It first moves the unread
// bytes to the front and, if they fill more than half the buffer, doubles
// it; so a step that rescans after each call does at most about twice the
// work of one pass.
func (d *Decoder) more() error {
	if d.rerr != nil {
		return d.rerr
	}
	if d.eof {
		return io.ErrUnexpectedEOF
	}
	if d.w-d.r >= MaxRecordSize {
		return &jsonscan.Error{Off: d.w - d.r, Err: fmt.Errorf("%w: more than %d bytes", ErrRecordTooLarge, MaxRecordSize)}
	}
	if d.r > 0 {
		d.countLines(d.base + int64(d.r))
		d.w = copy(d.buf, d.buf[d.r:d.w])
		d.base += int64(d.r)
		d.r = 0
	}
	if d.w > len(d.buf)/2 {
		nb := make([]byte, 2*len(d.buf))
		copy(nb, d.buf[:d.w])
		d.buf = nb
	}
	w0 := d.w
	for zero := 0; d.w < len(d.buf); {
		n, err := d.src.Read(d.buf[d.w:])
		d.w += n
		if errors.Is(err, io.EOF) {
			d.eof = true
			return nil
		}
		if err != nil {
			d.rerr = err
			if d.w > w0 {
				return nil // hand out what was read first
			}
			return err
		}
		if n == 0 {
			if zero++; zero > 100 {
				d.rerr = io.ErrNoProgress
				return d.rerr
			}
		}
	}
	return nil
}

// countLines advances the line count to file offset off.
func (d *Decoder) countLines(off int64) {
	if off > d.lineAt {
		d.line += bytes.Count(d.buf[d.lineAt-d.base:off-d.base], []byte{'\n'})
		d.lineAt = off
	}
}

// lineOf returns the line of file offset off, which must be buffered.
func (d *Decoder) lineOf(off int64) int {
	if off <= d.lineAt {
		return d.line
	}
	end := min(off-d.base, int64(d.w))
	return d.line + bytes.Count(d.buf[d.lineAt-d.base:end], []byte{'\n'})
}
