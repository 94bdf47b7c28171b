package insights

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// MetricsFile holds the per-minute counts behind ListInsightsMetricData
// (docs/format/insights.md).
const MetricsFile = "metrics.jsonl"

// metricsRetention is how long per-minute counts are kept (the longest
// retention ListInsightsMetricData documents).
const metricsRetention = 90 * 24 * time.Hour

// journal is an append-only file of JSON lines whose first element is a
// minute (metrics.jsonl, data.jsonl): lines are buffered until the next
// commit, then appended and fsynced before the state that counts them.
type journal struct {
	path    string
	f       *os.File
	size    int64 // bytes in the file
	pending []byte
	// compacted is the day of the last compaction.
	compacted int64
}

// openJournal opens the journal at path and cuts what the committed state
// does not account for (what the replay decides again).
func openJournal(path string, committed int64) (*journal, int64, error) {
	j := &journal{path: path}
	f, err := fileutil.OpenFile(j.path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("insights: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("insights: %w", err)
	}
	var cut int64
	size := st.Size()
	if size > committed {
		if err := f.Truncate(committed); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("insights: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("insights: %w", err)
		}
		cut, size = size-committed, committed
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("insights: %w", err)
	}
	j.f, j.size = f, size
	return j, cut, nil
}

// add buffers one series' count for a closed minute.
func (j *journal) add(p *partition, s *series, m int64, n float64) {
	b, _ := json.Marshal([]any{m, n, p.Account, p.Region, s.Cat, s.Type, s.Source, s.Name, s.Error})
	j.addLine(b)
}

// addLine buffers one line (without its newline).
func (j *journal) addLine(b []byte) { j.pending = append(append(j.pending, b...), '\n') }

// flush appends and fsyncs what is buffered; the caller then commits the
// state with j.size.
func (j *journal) flush() error {
	if len(j.pending) == 0 {
		return nil
	}
	if _, err := j.f.Write(j.pending); err != nil {
		// A partial write is cut at the next open (past the committed
		// length); drop it here too, so the file stays whole lines.
		j.f.Truncate(j.size)
		j.f.Seek(j.size, io.SeekStart)
		return fmt.Errorf("insights: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("insights: %w", err)
	}
	j.size += int64(len(j.pending))
	j.pending = j.pending[:0]
	return nil
}

// compact drops lines older than the retention, once a day; call it only
// right after a commit (the file then holds committed lines only).
func (j *journal) compact(now time.Time) (bool, error) {
	day := floorDiv(now.Unix(), 86400)
	if day == j.compacted {
		return false, nil
	}
	j.compacted = day
	cutoff := floorDiv(now.Add(-metricsRetention).Unix(), 60)
	b, err := os.ReadFile(j.path)
	if err != nil {
		return false, fmt.Errorf("insights: %w", err)
	}
	var keep bytes.Buffer
	dropped := false
	for line := range bytes.Lines(b) {
		var head [1]int64
		if err := json.Unmarshal(firstNumber(line), &head[0]); err == nil && head[0] < cutoff {
			dropped = true
			continue
		}
		keep.Write(line)
	}
	if !dropped {
		return false, nil
	}
	if err := fileutil.WriteFileAtomic(j.path, keep.Bytes(), 0o644); err != nil {
		return false, err
	}
	f, err := os.OpenFile(j.path, os.O_RDWR, 0o644)
	if err != nil {
		return true, fmt.Errorf("insights: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return true, fmt.Errorf("insights: %w", err)
	}
	j.f.Close()
	j.f, j.size = f, int64(keep.Len())
	return true, nil
}

// firstNumber returns the first element of a line "[n, …]".
func firstNumber(line []byte) []byte {
	line = bytes.TrimPrefix(line, []byte("["))
	if i := bytes.IndexByte(line, ','); i >= 0 {
		return line[:i]
	}
	return nil
}

func (j *journal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// MetricsQuery selects one series' counts (ListInsightsMetricData).
type MetricsQuery struct {
	Account, Region string
	Category        string // Management, or Data for a trail's data-event Insights
	Type            string
	EventSource     string
	EventName       string
	ErrorCode       string // error rate only
	Start, End      time.Time
	Period          time.Duration
	FillWithZeros   bool
}

// Point is one period's count.
type Point struct {
	Time  time.Time
	Value float64
}

// Metrics returns the counts per period in [q.Start, q.End), ascending,
// limited to the retention of q.Period (decision §66).
func (e *Engine) Metrics(q MetricsQuery) ([]Point, error) {
	e.mu.Lock()
	path := e.jr.path
	e.mu.Unlock()
	per := int64(q.Period / time.Second)
	if per < 60 || per%60 != 0 {
		return nil, fmt.Errorf("insights metrics: period %v is not whole minutes", q.Period)
	}
	keep := map[time.Duration]time.Duration{time.Minute: 15 * 24 * time.Hour, 5 * time.Minute: 63 * 24 * time.Hour}[q.Period]
	if keep == 0 {
		keep = metricsRetention
	}
	start := max(q.Start.Unix(), e.opts.Now().Add(-keep).Unix())
	start = ceilDiv(start, per) * per
	// No minute after now has a count: a later end adds only zeros, so
	// the range stops at now (a far future end would fill without bound).
	end := min(q.End.Unix(), e.opts.Now().Unix())
	sums := map[int64]float64{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		f = nil
	} else if err != nil {
		return nil, fmt.Errorf("insights metrics: %w", err)
	}
	if f != nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l struct {
				m                                         int64
				n                                         float64
				acct, region, cat, typ, source, name, ecd string
			}
			var raw []json.RawMessage
			if json.Unmarshal(sc.Bytes(), &raw) != nil || len(raw) != 9 {
				continue // a line cut by a crash past the committed length
			}
			if json.Unmarshal(raw[0], &l.m) != nil || json.Unmarshal(raw[1], &l.n) != nil {
				continue
			}
			sec := l.m * 60
			if sec < start || sec >= end {
				continue
			}
			for i, dst := range []*string{&l.acct, &l.region, &l.cat, &l.typ, &l.source, &l.name, &l.ecd} {
				json.Unmarshal(raw[2+i], dst)
			}
			if l.acct != q.Account || l.region != q.Region || l.cat != q.Category || l.typ != q.Type ||
				l.source != q.EventSource || l.name != q.EventName || l.ecd != q.ErrorCode {
				continue
			}
			sums[floorDiv(sec, per)*per] += l.n
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("insights metrics: %w", err)
		}
	}
	var out []Point
	if q.FillWithZeros {
		for t := start; t < end; t += per {
			out = append(out, Point{Time: time.Unix(t, 0).UTC(), Value: sums[t]})
		}
		return out, nil
	}
	keys := make([]int64, 0, len(sums))
	for t := range sums {
		keys = append(keys, t)
	}
	slices.Sort(keys)
	for _, t := range keys {
		out = append(out, Point{Time: time.Unix(t, 0).UTC(), Value: sums[t]})
	}
	return out, nil
}
