package eventbus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Files of the outbox (docs/format/eventbus.md).
const (
	OutboxFile     = "outbox.log"
	DeadLetterFile = "deadletter.log"
)

// delivery is one event on its way to one target.
type delivery struct {
	ID     string    `json:"id"`
	Rule   string    `json:"rule"`   // rule ARN
	Target string    `json:"target"` // target Id
	ARN    string    `json:"arn"`    // target ARN
	Input  string    `json:"input"`  // the body to send
	Time   time.Time `json:"time"`   // when the event was matched
}

// outbox is the durable record of deliveries not yet done.
type outbox struct {
	mu       sync.Mutex
	dir      string
	f        *os.File
	pending  map[string]*delivery
	order    []string // ids in the order added, pruned on compaction
	done     int      // done lines in the file
	lines    int
	dirty    bool  // done lines written since the last fsync
	fileSize int64 // bytes of whole lines in the file
	log      *slog.Logger
}

// compactMin is the number of done deliveries from which the outbox is
// rewritten, once they are more than half of it.
const compactMin = 1000

func openOutbox(dir string, log *slog.Logger) (*outbox, error) {
	o, good, torn, err := readOutbox(dir, log)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, OutboxFile)
	if torn > 0 {
		log.Warn("eventbus: the outbox ends in a torn line (a write cut by a crash); cutting it off", "file", path, "bytes", torn)
	}
	if o.f, err = fileutil.OpenFile(path, os.O_WRONLY, 0o600); err != nil {
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	if err := o.f.Truncate(int64(good)); err != nil {
		return nil, fmt.Errorf("eventbus: cut the outbox's torn line: %w", err)
	}
	if _, err := o.f.Seek(int64(good), io.SeekStart); err != nil {
		return nil, fmt.Errorf("eventbus: %w", err)
	}
	o.fileSize = int64(good)
	return o, nil
}

// readOutbox replays the outbox file without changing it: good is the
// length of its whole lines, torn the length of a final line without its
// newline.
func readOutbox(dir string, log *slog.Logger) (o *outbox, good, torn int, err error) {
	o = &outbox{dir: dir, pending: map[string]*delivery{}, log: log}
	path := filepath.Join(dir, OutboxFile)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, 0, 0, fmt.Errorf("eventbus: %w", err)
	}
	for n := 1; good < len(b); n++ {
		rest := b[good:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return o, good, len(rest), nil
		}
		if err := o.apply(rest[:i]); err != nil {
			return nil, 0, 0, fmt.Errorf("eventbus: %s line %d: %w; moving the file aside loses the deliveries it holds", path, n, err)
		}
		good += i + 1
	}
	return o, good, 0, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frame appends one outbox line: the CRC-32C of the JSON in 8 hex digits,
// a space, the JSON and a newline.
func frame(b, js []byte) []byte {
	b = fmt.Appendf(b, "%08x ", crc32.Checksum(js, castagnoli))
	b = append(b, js...)
	return append(b, '\n')
}

// unframe checks a line's CRC and returns its JSON.
func unframe(line []byte) ([]byte, error) {
	sum, js, ok := bytes.Cut(line, []byte{' '})
	if !ok || len(sum) != 8 {
		return nil, errors.New("no checksum")
	}
	var want uint32
	if _, err := fmt.Sscanf(string(sum), "%08x", &want); err != nil || crc32.Checksum(js, castagnoli) != want {
		return nil, errors.New("checksum mismatch")
	}
	return js, nil
}

// apply replays one line.
func (o *outbox) apply(line []byte) error {
	line, err := unframe(line)
	if err != nil {
		return err
	}
	var l struct {
		Op string `json:"op"`
		delivery
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	o.lines++
	switch l.Op {
	case "add":
		if _, dup := o.pending[l.ID]; !dup {
			d := l.delivery
			o.pending[d.ID] = &d
			o.order = append(o.order, d.ID)
		}
	case "done":
		delete(o.pending, l.ID)
		o.done++
	default:
		return fmt.Errorf("unknown op %q", l.Op)
	}
	return nil
}

// add writes the deliveries not already pending and fsyncs; it returns
// those it added.
func (o *outbox) add(ds []*delivery) ([]*delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var buf bytes.Buffer
	var added []*delivery
	for _, d := range ds {
		if _, dup := o.pending[d.ID]; dup {
			continue
		}
		line, err := json.Marshal(struct {
			Op string `json:"op"`
			*delivery
		}{"add", d})
		if err != nil {
			return nil, fmt.Errorf("eventbus: encode delivery: %w", err)
		}
		buf.Write(frame(nil, line))
		added = append(added, d)
	}
	if len(added) == 0 {
		return nil, nil
	}
	if err := o.write(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("eventbus: write outbox: %w", err)
	}
	if err := o.f.Sync(); err != nil {
		return nil, fmt.Errorf("eventbus: sync outbox: %w", err)
	}
	o.dirty = false
	for _, d := range added {
		o.pending[d.ID] = d
		o.order = append(o.order, d.ID)
	}
	o.lines += len(added)
	return added, nil
}

// finish records that a delivery is done. The line is synced with the
// next add or compaction: losing it sends the delivery again.
func (o *outbox) finish(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.pending[id]; !ok {
		return
	}
	line, _ := json.Marshal(struct {
		Op string `json:"op"`
		ID string `json:"id"`
	}{"done", id})
	if err := o.write(frame(nil, line)); err != nil {
		o.log.Warn("eventbus: recording a done delivery failed; it will be sent again after a restart", "id", id, "err", err)
		return
	}
	delete(o.pending, id)
	o.done++
	o.lines++
	o.dirty = true
	if o.done >= compactMin && o.done*2 > o.lines-o.done {
		if err := o.compactLocked(); err != nil {
			o.log.Warn("eventbus: rewriting the outbox failed; it keeps growing until a rewrite succeeds", "err", err)
		}
	}
}

// compactLocked rewrites the outbox with only the pending deliveries.
func (o *outbox) compactLocked() error {
	var buf bytes.Buffer
	order := o.order[:0:0]
	for _, id := range o.order {
		d, ok := o.pending[id]
		if !ok {
			continue
		}
		line, err := json.Marshal(struct {
			Op string `json:"op"`
			*delivery
		}{"add", d})
		if err != nil {
			return err
		}
		buf.Write(frame(nil, line))
		order = append(order, id)
	}
	path := filepath.Join(o.dir, OutboxFile)
	if err := fileutil.WriteFileAtomic(path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	o.f.Close()
	o.f, o.order, o.done, o.lines, o.dirty, o.fileSize = f, order, 0, len(order), false, int64(buf.Len())
	return nil
}

// write appends whole lines; a failed write (a full disk) is cut back, so
// the file never holds half a line before later ones.
func (o *outbox) write(b []byte) error {
	if _, err := o.f.Write(b); err != nil {
		if terr := o.f.Truncate(o.fileSize); terr != nil {
			return errors.Join(err, terr)
		}
		_, serr := o.f.Seek(o.fileSize, io.SeekStart)
		return errors.Join(err, serr)
	}
	o.fileSize += int64(len(b))
	return nil
}

// pendingList returns the pending deliveries in the order they were added.
func (o *outbox) pendingList() []*delivery {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*delivery, 0, len(o.pending))
	for _, id := range o.order {
		if d, ok := o.pending[id]; ok {
			out = append(out, d)
		}
	}
	return out
}

// size returns the number of pending deliveries.
func (o *outbox) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

func (o *outbox) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var err error
	if o.dirty {
		err = o.f.Sync()
	}
	return errors.Join(err, o.f.Close())
}

// deadLetter is one line of the dead-letter log.
type deadLetter struct {
	*delivery
	Failed   time.Time `json:"failed"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
}

// DeadLetters reads the dead-letter log, oldest first.
func DeadLetters(dir string) ([]DeadLetterEntry, error) {
	f, err := os.Open(filepath.Join(dir, DeadLetterFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []DeadLetterEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var d DeadLetterEntry
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			continue // a torn last line
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// DeadLetterEntry is a delivery given up on.
type DeadLetterEntry struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Target   string    `json:"target"`
	ARN      string    `json:"arn"`
	Input    string    `json:"input"`
	Time     time.Time `json:"time"`
	Failed   time.Time `json:"failed"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
}

// writeDeadLetter appends a delivery to the dead-letter log and syncs it.
func (o *outbox) writeDeadLetter(d *delivery, attempts int, failed time.Time, cause error) error {
	line, err := json.Marshal(deadLetter{delivery: d, Failed: failed.UTC(), Attempts: attempts, Error: cause.Error()})
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return fileutil.AppendSync(filepath.Join(o.dir, DeadLetterFile), append(line, '\n'), 0o600)
}
