package cwlogs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/logfilter"
)

// pos is a record's place in a group: segment number and offset.
type pos struct {
	seg int
	off int64
}

func (p pos) less(q pos) bool { return p.seg < q.seg || p.seg == q.seg && p.off < q.off }

func (p pos) String() string { return fmt.Sprintf("%d/%d", p.seg, p.off) }

func parsePos(s string) (pos, bool) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return pos{}, false
	}
	seg, err1 := strconv.Atoi(a)
	off, err2 := strconv.ParseInt(b, 10, 64)
	return pos{seg, off}, err1 == nil && err2 == nil && seg >= 0 && off >= 0
}

// OutputEvent is an event as GetLogEvents and FilterLogEvents return it.
type OutputEvent struct {
	Stream    string
	Timestamp int64
	Ingestion int64
	Message   string
	EventID   string
	at        pos
}

// eventID formats a record's position as digits (docs/format/logs.md).
func eventID(p pos) string { return fmt.Sprintf("%010d%012d", p.seg, p.off) }

// scan calls fn for each kept record of the group after `after` (or from
// the start when after is nil) within [start, end] timestamps, in order;
// fn returns false to stop. Segments outside the range are skipped.
func (e *Engine) scan(gs *groupState, retained int64, after *pos, start, end int64, fn func(p pos, r *record) bool) error {
	gs.mu.Lock()
	segs := make([]segment, len(gs.segs))
	for i, sg := range gs.segs {
		segs[i] = *sg
	}
	gs.mu.Unlock()
	for _, sg := range segs {
		if after != nil && sg.n < after.seg || sg.count == 0 || sg.maxTs < start || sg.minTs > end || sg.maxTs < retained {
			continue
		}
		from := int64(0)
		stop := false
		_, err := scanSegment(segmentPath(gs.dir, sg.n), from, func(off int64, r *record) bool {
			if off >= sg.size {
				return false // appended after the snapshot
			}
			p := pos{sg.n, off}
			if after != nil && !after.less(p) {
				return true
			}
			if r.Timestamp < start || r.Timestamp > end || r.Timestamp < retained {
				return true
			}
			if !fn(p, r) {
				stop = true
				return false
			}
			return true
		})
		if err != nil && err != errTorn {
			return err
		}
		if stop {
			return nil
		}
	}
	return nil
}

// lookup returns the group's state and oldest kept timestamp.
func (e *Engine) lookup(s Scope, group string) (*Group, *groupState, int64, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, g := e.cat.group(s, group)
	if g == nil {
		return nil, nil, 0, groupNotFound()
	}
	retained := int64(0)
	if g.RetentionInDays > 0 {
		retained = e.opts.Now().Add(-time.Duration(g.RetentionInDays) * 24 * time.Hour).UnixMilli()
	}
	gc := *g
	return &gc, e.groups[g.ID], retained, nil
}

// GetQuery is GetLogEvents' input.
type GetQuery struct {
	Group, Stream string
	Start, End    *int64
	Token         string
	Limit         int
	StartFromHead bool
}

// GetResult is GetLogEvents' output.
type GetResult struct {
	Events                  []OutputEvent
	ForwardToken, BackToken string
}

const maxPageBytes = 1 << 20

// GetLogEvents reads one stream forward (from its head, or after a
// forward token) or backward (its newest events, or before a backward
// token), as the API does.
func (e *Engine) GetLogEvents(s Scope, q GetQuery) (GetResult, error) {
	g, gs, retained, err := e.lookup(s, q.Group)
	if err != nil {
		return GetResult{}, err
	}
	if !slices.ContainsFunc(g.Streams, func(st Stream) bool { return st.Name == q.Stream }) {
		return GetResult{}, errorf(ErrNotFound, "The specified log stream does not exist.")
	}
	limit := q.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	start, end := int64(-1<<62), int64(1<<62)
	if q.Start != nil {
		start = *q.Start
	}
	if q.End != nil {
		end = *q.End - 1 // endTime is exclusive for GetLogEvents
	}
	forward := q.StartFromHead
	var after, before *pos
	if q.Token != "" {
		dir, rest := q.Token[:min(2, len(q.Token))], q.Token[min(2, len(q.Token)):]
		p, ok := parsePos(rest)
		if !ok || dir != "f/" && dir != "b/" {
			return GetResult{}, errorf(ErrInvalid, "The specified nextToken is invalid.")
		}
		forward = dir == "f/"
		if forward {
			after = &p
		} else {
			before = &p
		}
	}
	var evs []OutputEvent
	bytes := 0
	err = e.scan(gs, retained, after, start, end, func(p pos, r *record) bool {
		if r.Stream != q.Stream {
			return true
		}
		if before != nil && !p.less(*before) {
			return false
		}
		evs = append(evs, OutputEvent{Stream: r.Stream, Timestamp: r.Timestamp, Ingestion: r.Ingestion, Message: r.Message, at: p})
		bytes += len(r.Message) + EventOverhead
		if forward && (len(evs) >= limit || bytes >= maxPageBytes) {
			return false
		}
		if !forward && len(evs) > limit {
			bytes -= len(evs[0].Message) + EventOverhead
			evs = evs[1:]
		}
		return true
	})
	if err != nil {
		return GetResult{}, err
	}
	var res GetResult
	res.Events = evs
	switch {
	case len(evs) > 0:
		res.ForwardToken = "f/" + evs[len(evs)-1].at.String()
		res.BackToken = "b/" + evs[0].at.String()
	case q.Token != "":
		res.ForwardToken, res.BackToken = q.Token, q.Token
	default:
		res.ForwardToken, res.BackToken = "f/0/0", "b/0/0"
	}
	if res.Events == nil {
		res.Events = []OutputEvent{}
	}
	return res, nil
}

// FilterQuery is FilterLogEvents' input.
type FilterQuery struct {
	Group        string
	Streams      []string
	StreamPrefix string
	Start, End   *int64
	Pattern      string
	Token        string
	Limit        int
}

// scanBudget bounds the records one FilterLogEvents page reads: a page
// may come back short or empty, with a token to go on.
const scanBudget = 200000

// FilterLogEvents searches a group's events.
func (e *Engine) FilterLogEvents(s Scope, q FilterQuery) ([]OutputEvent, string, error) {
	if len(q.Streams) > 0 && q.StreamPrefix != "" {
		return nil, "", errorf(ErrInvalid, "Cannot specify both logStreamNames and logStreamNamePrefix.")
	}
	f, err := logfilter.Parse(q.Pattern)
	if err != nil {
		return nil, "", errorf(ErrInvalid, "Invalid filter pattern: %v", err)
	}
	_, gs, retained, err := e.lookup(s, q.Group)
	if err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	start, end := int64(-1<<62), int64(1<<62)
	if q.Start != nil {
		start = *q.Start
	}
	if q.End != nil {
		end = *q.End
	}
	var after *pos
	if q.Token != "" {
		p, ok := parsePos(q.Token)
		if !ok {
			return nil, "", errorf(ErrInvalid, "The specified nextToken is invalid.")
		}
		after = &p
	}
	var out []OutputEvent
	bytes, scanned := 0, 0
	var last pos
	more := false
	err = e.scan(gs, retained, after, start, end, func(p pos, r *record) bool {
		if len(out) >= limit || bytes >= maxPageBytes || scanned >= scanBudget {
			more = true
			return false
		}
		scanned++
		last = p
		if len(q.Streams) > 0 && !slices.Contains(q.Streams, r.Stream) || !strings.HasPrefix(r.Stream, q.StreamPrefix) {
			return true
		}
		if !f.Match([]byte(r.Message)) {
			return true
		}
		out = append(out, OutputEvent{Stream: r.Stream, Timestamp: r.Timestamp, Ingestion: r.Ingestion, Message: r.Message, EventID: eventID(p), at: p})
		bytes += len(r.Message) + EventOverhead
		return true
	})
	if err != nil {
		return nil, "", err
	}
	slices.SortStableFunc(out, func(a, b OutputEvent) int {
		if a.Timestamp != b.Timestamp {
			return cmpInt(a.Timestamp, b.Timestamp)
		}
		return cmpInt(a.Ingestion, b.Ingestion)
	})
	if out == nil {
		out = []OutputEvent{}
	}
	token := ""
	if more {
		token = last.String()
	}
	return out, token, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
