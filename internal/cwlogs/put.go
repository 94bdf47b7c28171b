package cwlogs

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/logfilter"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// InputEvent is one PutLogEvents event.
type InputEvent struct {
	Timestamp int64
	Message   string
}

// Rejected is PutLogEvents' rejectedLogEventsInfo; -1 means unset.
type Rejected struct {
	TooNewStart, TooOldEnd, ExpiredEnd int
}

// Limits of PutLogEvents (alerts.md §4.1).
const (
	MaxBatchEvents = 10000
	MaxBatchBytes  = 1048576
	EventOverhead  = 26
	MaxEventBytes  = 1048576 - EventOverhead
	maxAge         = 14 * 24 * time.Hour
	maxAhead       = 2 * time.Hour
)

// PutLogEvents appends events to a stream (created on first use only by
// CreateLogStream: a missing stream is ResourceNotFoundException). Events
// too old or too new are reported, not stored.
func (e *Engine) PutLogEvents(s Scope, group, stream string, evs []InputEvent) (Rejected, error) {
	rej := Rejected{-1, -1, -1}
	if len(evs) == 0 || len(evs) > MaxBatchEvents {
		return rej, errorf(ErrInvalid, "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and 10000")
	}
	size := 0
	for _, ev := range evs {
		if len(ev.Message) > MaxEventBytes {
			return rej, errorf(ErrInvalid, "Log event too large: %d bytes exceeds the limit of %d bytes.", len(ev.Message), MaxEventBytes)
		}
		size += len(ev.Message) + EventOverhead
	}
	if size > MaxBatchBytes {
		return rej, errorf(ErrInvalid, "Upload too large: %d bytes exceeds limit of %d", size, MaxBatchBytes)
	}
	sorted := slices.Clone(evs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Timestamp < sorted[j].Timestamp })
	if sorted[len(sorted)-1].Timestamp-sorted[0].Timestamp > int64(24*time.Hour/time.Millisecond) {
		return rej, errorf(ErrInvalid, "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	e.mu.RLock()
	_, g := e.cat.group(s, group)
	var ok bool
	if g != nil {
		ok = slices.ContainsFunc(g.Streams, func(st Stream) bool { return st.Name == stream })
	}
	e.mu.RUnlock()
	if g == nil {
		return rej, groupNotFound()
	}
	if !ok {
		return rej, errorf(ErrNotFound, "The specified log stream does not exist.")
	}
	now := e.opts.Now()
	var keep []InputEvent
	for i, ev := range sorted {
		t := time.UnixMilli(ev.Timestamp)
		switch {
		case now.Sub(t) > maxAge:
			rej.TooOldEnd = i + 1
		case g.RetentionInDays > 0 && now.Sub(t) > time.Duration(g.RetentionInDays)*24*time.Hour:
			rej.ExpiredEnd = i + 1
		case t.Sub(now) > maxAhead:
			if rej.TooNewStart < 0 {
				rej.TooNewStart = i
			}
		default:
			keep = append(keep, ev)
		}
	}
	return rej, e.appendEvents(s, g.Name, stream, keep)
}

// appendEvents stores events in a stream and applies the group's metric
// filters to them.
func (e *Engine) appendEvents(s Scope, group, stream string, evs []InputEvent) error {
	if len(evs) == 0 {
		return nil
	}
	e.mu.RLock()
	_, g := e.cat.group(s, group)
	if g == nil {
		e.mu.RUnlock()
		return groupNotFound()
	}
	gs, filters := e.groups[g.ID], e.filters[g.ID]
	e.mu.RUnlock()
	ingest := e.nowMs()
	if err := gs.append(stream, evs, ingest, e.opts.Now()); err != nil {
		return err
	}
	e.met.events.Add(float64(len(evs)))
	if len(filters) > 0 {
		e.emit(s, filters, evs)
	}
	return nil
}

// append writes the records and syncs them.
func (gs *groupState) append(stream string, evs []InputEvent, ingest int64, now time.Time) error {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	day := now.UTC().Unix() / 86400
	if gs.f == nil || gs.cur().size >= SegmentBytes || day != gs.openDay {
		if err := gs.roll(day); err != nil {
			return err
		}
	}
	var buf []byte
	recs := make([]record, len(evs))
	for i, ev := range evs {
		recs[i] = record{Stream: stream, Timestamp: ev.Timestamp, Ingestion: ingest, Message: ev.Message}
		var err error
		if buf, err = appendRecord(buf, &recs[i]); err != nil {
			return fmt.Errorf("cwlogs: encode event: %w", err)
		}
	}
	if _, err := gs.f.Write(buf); err != nil {
		// Cut a partial write back (a full disk), so no half record
		// sits before later ones.
		return errors.Join(fmt.Errorf("cwlogs: append: %w", err), gs.f.Truncate(gs.cur().size))
	}
	if err := gs.f.Sync(); err != nil {
		return fmt.Errorf("cwlogs: sync: %w", err)
	}
	sg := gs.cur()
	for i := range recs {
		gs.index(sg, &recs[i])
	}
	sg.size += int64(len(buf))
	return nil
}

func (gs *groupState) cur() *segment { return gs.segs[len(gs.segs)-1] }

// roll seals the open segment (if any) and opens the next.
func (gs *groupState) roll(day int64) error {
	if gs.f != nil {
		if err := gs.f.Close(); err != nil {
			return fmt.Errorf("cwlogs: seal segment: %w", err)
		}
		gs.f = nil
	}
	n := 1
	if len(gs.segs) > 0 {
		last := gs.cur()
		n = last.n + 1
		if gs.f == nil && gs.openDay == 0 && last.size < SegmentBytes && (last.count == 0 || last.maxIngest/86400000 == day) {
			// After a restart: keep appending to the newest segment if
			// it is of today.
			n = last.n
		}
	}
	f, err := fileutil.OpenAppend(segmentPath(gs.dir, n), 0o644)
	if err != nil {
		return fmt.Errorf("cwlogs: %w", err)
	}
	if len(gs.segs) == 0 || gs.cur().n != n {
		gs.segs = append(gs.segs, &segment{n: n, minTs: math.MaxInt64, maxTs: math.MinInt64})
	}
	gs.f, gs.openDay = f, day
	return nil
}

// emit applies metric filters and sends the statistic sets.
func (e *Engine) emit(s Scope, filters []*compiledFilter, evs []InputEvent) {
	type key struct {
		ns, name, unit, dims string
		minute               int64
	}
	acc := map[key]*MetricPoint{}
	for i := range evs {
		le := logfilter.NewEvent([]byte(evs[i].Message))
		minute := time.UnixMilli(evs[i].Timestamp).UTC().Truncate(time.Minute)
		for _, f := range filters {
			em, ok := f.tr.Apply(le)
			if !ok {
				continue
			}
			k := key{f.mt.MetricNamespace, f.mt.MetricName, f.mt.Unit, dimsKey(em.Dimensions), minute.Unix()}
			p := acc[k]
			if p == nil {
				p = &MetricPoint{Namespace: k.ns, Name: k.name, Unit: k.unit, Dimensions: em.Dimensions, Minute: minute,
					Min: em.Value, Max: em.Value}
				acc[k] = p
			}
			p.Count++
			p.Sum += em.Value
			p.Min, p.Max = min(p.Min, em.Value), max(p.Max, em.Value)
		}
	}
	if len(acc) == 0 || e.opts.Metrics == nil {
		return
	}
	pts := make([]MetricPoint, 0, len(acc))
	for _, p := range acc {
		pts = append(pts, *p)
	}
	if err := e.opts.Metrics.PutStatistics(s.Account, s.Region, pts); err != nil {
		e.met.emitErrors.Inc()
		e.log.Warn("cwlogs: sending metric filter values failed; they are lost", "err", err)
	}
}

func dimsKey(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(d[k]))
	}
	return b.String()
}
