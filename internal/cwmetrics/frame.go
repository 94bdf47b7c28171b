package cwmetrics

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// maxFrame bounds a frame's payload (docs/format/cloudwatch.md).
const maxFrame = 16 << 20

const frameHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptionError is a damaged frame: Open refuses the directory and Check
// reports it. Nothing is cut automatically; move the file aside (its data
// is lost) or restore it from a backup.
type CorruptionError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("cloudwatch: %s: damaged record at offset %d: %s (move the file aside, losing its data, or restore it from a backup)", e.File, e.Offset, e.Reason)
}

// appendFrame appends one frame holding payload to buf.
func appendFrame(buf, payload []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
	return append(append(buf, h[:]...), payload...)
}

// readFrames calls visit with each frame's payload and offset. It returns
// the length of the intact prefix: less than len(data) when the file ends
// in a torn tail (an incomplete frame, or zero bytes). A damaged frame, or
// an error from visit, is a *CorruptionError.
func readFrames(name string, data []byte, visit func(off int64, payload []byte) error) (int64, error) {
	off := 0
	for off < len(data) {
		rest := data[off:]
		if allZero(rest) {
			return int64(off), nil
		}
		if len(rest) < frameHeader {
			return int64(off), nil
		}
		n := binary.LittleEndian.Uint32(rest[0:])
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n == 0 || n > maxFrame {
			return int64(off), &CorruptionError{File: name, Offset: int64(off), Reason: fmt.Sprintf("record length %d", n)}
		}
		if uint64(len(rest)-frameHeader) < uint64(n) {
			return int64(off), nil // torn: runs past the end
		}
		payload := rest[frameHeader : frameHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != sum {
			return int64(off), &CorruptionError{File: name, Offset: int64(off), Reason: "checksum mismatch"}
		}
		if err := visit(int64(off), payload); err != nil {
			return int64(off), &CorruptionError{File: name, Offset: int64(off), Reason: err.Error()}
		}
		off += frameHeader + int(n)
	}
	return int64(off), nil
}

func allZero(b []byte) bool {
	return len(bytes.TrimLeft(b, "\x00")) == 0
}

// logFile is an append-only file of frames.
type logFile struct {
	f    *os.File
	path string
	size int64
}

// openLog reads the file at path (creating it when missing), passes every
// frame to visit, cuts a torn tail and returns the file ready to append.
// cut is the number of bytes cut.
func openLog(path string, visit func(off int64, payload []byte) error) (l *logFile, cut int64, err error) {
	f, err := fileutil.OpenFile(path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	good, err := readFrames(path, data, visit)
	if err != nil {
		return nil, 0, err
	}
	if good < int64(len(data)) {
		cut = int64(len(data)) - good
		if err := f.Truncate(good); err != nil {
			return nil, 0, fmt.Errorf("cut the torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, 0, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return nil, 0, err
	}
	return &logFile{f: f, path: path, size: good}, cut, nil
}

// write appends frames (already framed bytes) and fsyncs. On a failed
// write the file is cut back to its previous size so a retry does not
// leave a partial frame in the middle.
func (l *logFile) write(frames []byte) error {
	if len(frames) == 0 {
		return nil
	}
	if _, err := l.f.Write(frames); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", l.path, err), l.rollback())
	}
	if err := l.f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync %s: %w", l.path, err), l.rollback())
	}
	l.size += int64(len(frames))
	return nil
}

func (l *logFile) rollback() error {
	if err := l.f.Truncate(l.size); err != nil {
		return fmt.Errorf("roll back %s: %w", l.path, err)
	}
	_, err := l.f.Seek(l.size, io.SeekStart)
	return err
}

func (l *logFile) Close() error { return l.f.Close() }
