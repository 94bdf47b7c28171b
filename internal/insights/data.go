package insights

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// DataFile indexes the Insights records raised on data events, for
// ListInsightsData: a record does not say which category it was raised on
// (docs/format/insights.md, decision §81).
const DataFile = "data.jsonl"

// maxDataLine bounds one data.jsonl line: a record with every attribution
// at its longest is well under it.
const maxDataLine = 4 << 20

// dataEntry is one line of data.jsonl.
type dataEntry struct {
	Minute                      int64
	Account, Region             string
	Type, Source, Name, EventID string
	Record                      json.RawMessage
}

// dataLine is r's line in data.jsonl (without its newline).
func dataLine(r Record) ([]byte, error) {
	var h struct {
		EventTime      string `json:"eventTime"`
		InsightDetails struct {
			InsightType string `json:"insightType"`
			EventSource string `json:"eventSource"`
			EventName   string `json:"eventName"`
		} `json:"insightDetails"`
	}
	if err := json.Unmarshal(r.Raw, &h); err != nil {
		return nil, fmt.Errorf("insights record %s: %w", r.EventID, err)
	}
	t, err := time.Parse(time.RFC3339, h.EventTime)
	if err != nil {
		return nil, fmt.Errorf("insights record %s: eventTime: %w", r.EventID, err)
	}
	d := h.InsightDetails
	return json.Marshal([]any{floorDiv(t.Unix(), 60), r.Account, r.Region, d.InsightType, d.EventSource, d.EventName,
		r.EventID, json.RawMessage(r.Raw)})
}

// parseDataLine reads one line of data.jsonl.
func parseDataLine(b []byte) (dataEntry, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return dataEntry{}, err
	}
	if len(raw) != 8 {
		return dataEntry{}, fmt.Errorf("%d elements, want 8", len(raw))
	}
	var e dataEntry
	if err := json.Unmarshal(raw[0], &e.Minute); err != nil {
		return dataEntry{}, fmt.Errorf("minute: %w", err)
	}
	for i, dst := range []*string{&e.Account, &e.Region, &e.Type, &e.Source, &e.Name, &e.EventID} {
		if err := json.Unmarshal(raw[1+i], dst); err != nil {
			return dataEntry{}, fmt.Errorf("element %d: %w", 1+i, err)
		}
	}
	if e.Account == "" || e.Region == "" || e.EventID == "" {
		return dataEntry{}, errors.New("no account, region or eventId")
	}
	e.Record = raw[7]
	return e, nil
}

// readData calls fn with each line of the first n bytes of path, and its
// number; a missing file has no lines.
func readData(path string, n int64, fn func(no int, line []byte) error) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("insights: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, n))
	sc.Buffer(make([]byte, 64<<10), maxDataLine)
	no := 0
	for sc.Scan() {
		no++
		if err := fn(no, sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("insights: %s line %d: %w", path, no+1, err)
	}
	return nil
}

// DataQuery selects Insights records raised on data events
// (ListInsightsData).
type DataQuery struct {
	Account string
	// Regions are the regions to list; nil lists every region.
	Regions []string
	// Types are the Insights types to list.
	Types []string
	// Key is "", EventId, EventName or EventSource (insightDetails'), and
	// Value what it must equal.
	Key, Value string
	// Start and End bound eventTime, both inclusive.
	Start, End time.Time
	// AfterTime and AfterID, when AfterID is set, continue after that
	// record in the answer's order.
	AfterTime time.Time
	AfterID   string
	// Limit is the most records returned.
	Limit int
}

// Data dimension keys (DataQuery.Key).
const (
	KeyEventID     = "EventId"
	KeyEventName   = "EventName"
	KeyEventSource = "EventSource"
)

// DataRecords returns the committed Insights records raised on data events
// that q selects, newest first (eventTime, then eventID, descending), at
// most q.Limit.
func (e *Engine) DataRecords(q DataQuery) ([]event.Event, error) {
	e.mu.Lock()
	path, n := e.dj.path, e.dataCommitted
	e.mu.Unlock()
	startMin, endMin := ceilDiv(q.Start.Unix(), 60), floorDiv(q.End.Unix(), 60)
	afterMin := floorDiv(q.AfterTime.Unix(), 60)
	var hits []dataEntry
	err := readData(path, n, func(_ int, line []byte) error {
		d, err := parseDataLine(line)
		if err != nil {
			return nil // fsck reports it; the other records still answer
		}
		if d.Minute < startMin || d.Minute > endMin || d.Account != q.Account || !slices.Contains(q.Types, d.Type) ||
			(q.Regions != nil && !slices.Contains(q.Regions, d.Region)) {
			return nil
		}
		if q.AfterID != "" && (d.Minute > afterMin || d.Minute == afterMin && d.EventID >= q.AfterID) {
			return nil
		}
		switch q.Key {
		case KeyEventID:
			if d.EventID != q.Value {
				return nil
			}
		case KeyEventName:
			if d.Name != q.Value {
				return nil
			}
		case KeyEventSource:
			if d.Source != q.Value {
				return nil
			}
		}
		hits = append(hits, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(hits, func(a, b dataEntry) int {
		return cmp.Or(cmp.Compare(b.Minute, a.Minute), cmp.Compare(b.EventID, a.EventID))
	})
	if len(hits) > q.Limit {
		hits = hits[:max(q.Limit, 0)]
	}
	out := make([]event.Event, 0, len(hits))
	for _, d := range hits {
		ev, err := event.Parse(d.Record)
		if err != nil {
			return nil, fmt.Errorf("insights: %s record %s: %w", path, d.EventID, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// checkData reads the committed lines of data.jsonl for fsck: it returns
// how many there are and what is wrong.
func checkData(path string, committed *int64) (int, []string) {
	var problems []string
	st, err := os.Stat(path)
	var size int64
	switch {
	case err == nil:
		size = st.Size()
	case !errors.Is(err, fs.ErrNotExist):
		return 0, []string{fmt.Sprintf("insights: %v", err)}
	}
	n := size
	if committed != nil {
		if size < *committed {
			problems = append(problems, fmt.Sprintf("insights: %s holds %d bytes, fewer than the %d the state accounts for: records of Insights on data events were lost (ListInsightsData misses them; event history still has them)",
				path, size, *committed))
		}
		n = min(size, *committed)
	}
	lines := 0
	err = readData(path, n, func(no int, line []byte) error {
		lines++
		d, err := parseDataLine(line)
		if err == nil {
			var ev event.Event
			if ev, err = event.Parse(d.Record); err == nil && !ev.Insight() {
				err = errors.New("the record is not an Insights event")
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("insights: %s line %d: %v (ListInsightsData skips it)", path, no, err))
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return lines, problems
}
