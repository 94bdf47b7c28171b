package insights

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// EnabledFunc reports whether a logging trail of account has Insights of
// type typ on events of category (Management or Data) in region: only
// then are records written (decision §59).
type EnabledFunc func(account, region, typ, category string) bool

// detector is the counting and the Start/End rule, without I/O: the
// engine feeds it events and the clock and persists it. Times are in
// minutes (and hours, days) since the Unix epoch, UTC.
type detector struct {
	opts  *Options
	parts map[partKey]*partition
	// late and dropped count events for closed minutes and anomalies
	// beyond MaxOpen (metrics).
	late, dropped uint64
	// closed, when set, receives each series' count of each minute it
	// closes (ListInsightsMetricData).
	closed func(p *partition, s *series, m int64, n float64)
	// limit is the threshold the last evaluate found the minute above,
	// +Inf when it was not: what the minute enters the baseline at.
	limit float64
}

type partKey struct{ account, region string }

type partition struct {
	Account, Region string
	Since           int64 // first minute counted
	Clock           int64 // newest eventTime seen, Unix seconds
	Closed          int64 // minutes before it are judged
	// Live says the wall clock judged it last: it goes on doing so
	// through a silence, so missing calls are seen (decision §83).
	Live   bool
	open   map[int64]map[*series]*minuteAgg
	series map[string]*series
	active map[*series]struct{} // with a streak or an anomaly
	nOpen  int                  // anomalies open
}

// minuteAgg is one series' count in one minute, with its attributions.
type minuteAgg struct {
	N float64
	A attrs
}

type series struct {
	Cat, Type, Source, Name, Error string
	Hours                          []hourAgg
	Days                           []dayAttrs
	Streak                         *streak
	Anomaly                        *anomaly
	// Last is the last closed minute with a count (0: none known).
	Last int64
	// Gaps are the hours a drop anomaly was open in, ascending, within
	// the baseline window: the drop rule's expectations leave them out.
	Gaps []int64
	// Held is set while an anomaly MaxOpen kept from being raised goes
	// on: it is counted once, and raised never.
	Held bool
}

func (s *series) key() string { return seriesKey(s.Cat, s.Type, s.Source, s.Name, s.Error) }

func seriesKey(cat, typ, source, name, errCode string) string {
	return cat + "|" + typ + "|" + source + "|" + name + "|" + errCode
}

// hourAgg is one hour of a series: the sum of its minute counts and of
// their squares. JSON [hour, sum, sumSquares].
type hourAgg struct {
	H     int64
	S, Sq float64
}

type dayAttrs struct {
	D int64 `json:"d"`
	A attrs `json:"a"`
}

// baseline is what a series looked like before a minute.
type baseline struct {
	Mean      float64 `json:"mean"`
	Expected  float64 `json:"expected"`
	Sigma     float64 `json:"sigma"`
	Threshold float64 `json:"threshold"`
	Minutes   int64   `json:"baseMinutes"`
	Attr      attrs   `json:"baseAttr"`
}

// streak is minutes above the threshold not yet confirmed as a Start.
type streak struct {
	Start int64     `json:"start"`
	N     []float64 `json:"n"`
	A     attrs     `json:"a"`
	baseline
}

// anomaly is an open anomaly: its Start is decided.
type anomaly struct {
	Shared  string  `json:"shared"`
	Emitted bool    `json:"emitted"`
	Start   int64   `json:"start"`
	First   float64 `json:"first"`
	Total   float64 `json:"total"`
	Last    int64   `json:"last"`
	Normal  int     `json:"normal"`
	TailN   float64 `json:"tailN"`
	TailA   attrs   `json:"tailA"`
	A       attrs   `json:"a"`
	// Drop marks an anomaly of calls missing (decision §83): Total and A
	// count from Start, Last is the last minute judged, Threshold is the
	// window's low threshold when the Start was decided.
	Drop bool `json:"drop,omitempty"`
	baseline
}

func newDetector(opts *Options) *detector {
	return &detector{opts: opts, parts: map[partKey]*partition{}}
}

func newPartition(account, region string, since int64) *partition {
	return &partition{Account: account, Region: region, Since: since, Closed: since,
		open: map[int64]map[*series]*minuteAgg{}, series: map[string]*series{}, active: map[*series]struct{}{}}
}

var (
	pathARN   = event.MustPath("userIdentity.arn")
	pathAgent = event.MustPath("userAgent")
)

// add counts one event (decision §59).
func (d *detector) add(ev *event.Event) {
	var call bool
	switch ev.Category {
	case event.CategoryMgmt:
		call = ev.ReadOnly != nil && !*ev.ReadOnly
	case event.CategoryData:
		call = true
	default:
		return
	}
	failed := ev.ErrorCode != ""
	if !call && !failed {
		return
	}
	sec := ev.EventTime.Unix()
	p, ok := d.partitionAt(ev.Account, ev.Region, sec)
	if !ok {
		return
	}
	m := floorDiv(sec, 60)
	arn, _ := pathARN.Str(ev.Raw)
	agent, _ := pathAgent.Str(ev.Raw)
	code := ev.ErrorCode
	if code == "" {
		code = "null"
	}
	if call {
		p.count(m, ev.Category, CallRate, ev.EventSource, ev.EventName, "", arn, agent, code, 1)
	}
	if failed {
		p.count(m, ev.Category, ErrorRate, ev.EventSource, ev.EventName, ev.ErrorCode, arn, agent, code, 1)
	}
}

// partitionAt returns the partition of account and region, created if
// new, with its clock moved to sec; false when sec's minute is closed
// (the event is late, and counted as such).
func (d *detector) partitionAt(account, region string, sec int64) (*partition, bool) {
	m := floorDiv(sec, 60)
	k := partKey{account, region}
	p := d.parts[k]
	if p == nil {
		p = newPartition(account, region, m)
		d.parts[k] = p
	}
	p.Clock = max(p.Clock, sec)
	if m < p.Closed {
		d.late++
		return nil, false
	}
	return p, true
}

func (p *partition) count(m int64, cat, typ, source, name, errCode, arn, agent, code string, n float64) {
	k := seriesKey(cat, typ, source, name, errCode)
	s := p.series[k]
	if s == nil {
		s = &series{Cat: cat, Type: typ, Source: source, Name: name, Error: errCode}
		p.series[k] = s
	}
	mm := p.open[m]
	if mm == nil {
		mm = map[*series]*minuteAgg{}
		p.open[m] = mm
	}
	a := mm[s]
	if a == nil {
		a = &minuteAgg{}
		mm[s] = a
	}
	a.N += n
	a.A.add(arn, agent, code, n)
}

// advance judges every minute that is closed at wall-clock time now, and
// returns the records decided, in a deterministic order. live says the
// engine has read the whole log, so the wall clock may close minutes of a
// partition whose newest event is recent (decision §60).
func (d *detector) advance(now time.Time, live bool, enabled EnabledFunc) []Record {
	keys := make([]partKey, 0, len(d.parts))
	for k := range d.parts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b partKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.region, b.region))
	})
	var out []Record
	grace, reorder := int64(d.opts.Grace/time.Second), int64(d.opts.Reorder/time.Second)
	for _, k := range keys {
		p := d.parts[k]
		t := p.Clock - reorder
		wallClock := false
		if wall := now.Unix(); live && (wall-p.Clock <= int64(d.opts.LiveWindow/time.Second) ||
			p.Live && d.opts.DropWindow > 0 && wall-p.Clock <= int64(d.opts.BaselineWindow/time.Second)) {
			t = max(t, wall-grace)
			wallClock = true
		}
		p.Live = wallClock
		out = append(out, d.close(p, floorDiv(t, 60), enabled)...)
		if wallClock && d.opts.Early {
			out = append(out, d.early(p, enabled)...)
		}
	}
	return out
}

// early confirms the Starts that the first open minute completes before
// it closes: a series whose streak of closed minutes needs only this
// minute, and whose count in it is already above the streak's threshold,
// is above whatever comes before the minute closes, since counts only
// grow (decision §82). Only live partitions, judged by the wall clock,
// are judged early: offline replays stay independent of batch sizes.
func (d *detector) early(p *partition, enabled EnabledFunc) []Record {
	m := p.Closed
	mm := p.open[m]
	if len(mm) == 0 || len(p.active) == 0 {
		return nil
	}
	var todo []*series
	for s := range p.active {
		st := s.Streak
		if st == nil || s.Anomaly != nil || st.Start+int64(len(st.N)) != m || len(st.N)+1 < d.opts.StartMinutes {
			continue
		}
		if agg := mm[s]; agg != nil && agg.N > st.Threshold {
			todo = append(todo, s)
		}
	}
	slices.SortFunc(todo, func(a, b *series) int { return cmp.Compare(a.key(), b.key()) })
	var out []Record
	for _, s := range todo {
		if r, ok := d.raise(p, s, m, mm[s].N, enabled); ok {
			out = append(out, r)
		}
	}
	return out
}

// close judges the minutes of p before target.
func (d *detector) close(p *partition, target int64, enabled EnabledFunc) []Record {
	if target <= p.Closed {
		return nil
	}
	var minutes []int64
	for m := range p.open {
		if m < target {
			minutes = append(minutes, m)
		}
	}
	slices.Sort(minutes)
	var out []Record
	cur := p.Closed
	// Missing calls are looked for in every closed minute (decision §83),
	// until a baseline window passes without a call in the partition.
	horizon := int64(math.MinInt64)
	if d.opts.DropWindow > 0 {
		for _, s := range p.series {
			horizon = max(horizon, s.Last)
		}
		horizon += int64(d.opts.BaselineWindow / time.Minute)
	}
	for _, m := range append(minutes, target) {
		// The quiet minutes before m matter only to series with a streak
		// or an anomaly, and only until those end, and to the drop rule.
		for q := cur; q < m && (len(p.active) > 0 || q <= horizon); q++ {
			out = append(out, d.judge(p, q, nil, enabled)...)
			if q <= horizon {
				out = append(out, d.drops(p, q, nil, enabled)...)
			}
		}
		if m == target {
			break
		}
		out = append(out, d.judge(p, m, p.open[m], enabled)...)
		if d.opts.DropWindow > 0 {
			horizon = max(horizon, m+int64(d.opts.BaselineWindow/time.Minute))
			out = append(out, d.drops(p, m, p.open[m], enabled)...)
		}
		delete(p.open, m)
		cur = m + 1
	}
	oldHour := floorDiv(p.Closed, 60)
	p.Closed = target
	if floorDiv(target, 60) != oldHour {
		d.prune(p)
	}
	return out
}

// judge closes minute m of p: each series with events in it or a streak
// or anomaly open is judged against its baseline, then the minute joins
// the baselines.
func (d *detector) judge(p *partition, m int64, aggs map[*series]*minuteAgg, enabled EnabledFunc) []Record {
	todo := make([]*series, 0, len(aggs)+len(p.active))
	for s := range aggs {
		todo = append(todo, s)
	}
	for s := range p.active {
		if aggs[s] == nil {
			todo = append(todo, s)
		}
	}
	slices.SortFunc(todo, func(a, b *series) int { return cmp.Compare(a.key(), b.key()) })
	var out []Record
	for _, s := range todo {
		agg := aggs[s]
		r, ok := d.evaluate(p, s, m, agg, enabled)
		if ok {
			out = append(out, r)
		}
		if s.Streak != nil || s.Anomaly != nil || s.Held {
			p.active[s] = struct{}{}
		} else {
			delete(p.active, s)
		}
		if agg != nil {
			s.Last = m
			// An unusual minute enters the baseline at the threshold's
			// level, so an anomaly barely raises the baselines after it
			// (decision §61).
			d.remember(s, m, min(agg.N, d.limit), &agg.A)
			if d.closed != nil {
				d.closed(p, s, m, agg.N)
			}
		}
	}
	return out
}

// evaluate applies the Start/End rule (decision §62) to minute m of s.
func (d *detector) evaluate(p *partition, s *series, m int64, agg *minuteAgg, enabled EnabledFunc) (Record, bool) {
	o := d.opts
	d.limit = math.Inf(1)
	var c float64
	var aa *attrs
	if agg != nil {
		c, aa = agg.N, &agg.A
	}
	if a := s.Anomaly; a != nil && a.Drop {
		return Record{}, false // the drop rule follows it
	}
	if a := s.Anomaly; a != nil {
		if c > a.Threshold {
			d.limit = a.Threshold
			a.Total += a.TailN + c
			a.A.merge(&a.TailA)
			a.A.merge(aa)
			a.TailN, a.TailA, a.Normal, a.Last = 0, attrs{}, 0, m
			return Record{}, false
		}
		a.Normal++
		a.TailN += c
		a.TailA.merge(aa)
		if a.Normal < o.EndMinutes {
			return Record{}, false
		}
		s.Anomaly = nil
		p.nOpen--
		if !a.Emitted {
			return Record{}, false
		}
		end := a.Last + 1
		n := end - a.Start
		return d.record(p, s, "End", a.Shared, end, a.Total/float64(n), n, &a.A, n, &a.baseline), true
	}
	if st := s.Streak; st != nil {
		if c > st.Threshold {
			d.limit = st.Threshold
			st.N = append(st.N, c)
			st.A.merge(aa)
			return d.confirm(p, s, m, enabled)
		}
		s.Streak = nil
	}
	if c == 0 || m-p.Since < int64(o.WarmUp/time.Minute) {
		s.Held = false
		return Record{}, false
	}
	b, ok := d.baseline(p, s, m)
	if !ok || c <= b.Threshold {
		s.Held = false
		return Record{}, false
	}
	d.limit = b.Threshold
	if s.Held {
		return Record{}, false
	}
	s.Streak = &streak{Start: m, N: []float64{c}, A: aa.clone(), baseline: b}
	return d.confirm(p, s, m, enabled)
}

// confirm raises the Start once the streak is long enough.
func (d *detector) confirm(p *partition, s *series, m int64, enabled EnabledFunc) (Record, bool) {
	if len(s.Streak.N) < d.opts.StartMinutes {
		return Record{}, false
	}
	return d.raise(p, s, m, -1, enabled)
}

// raise turns s's streak, whose last minute is m, into an anomaly and
// returns its Start. open is m's count so far when m is still open
// (early), -1 when m is closed and in the streak: an open minute joins
// the anomaly's total when it closes, and the Start's attributions are
// those of the closed minutes (decision §82).
func (d *detector) raise(p *partition, s *series, m int64, open float64, enabled EnabledFunc) (Record, bool) {
	st := s.Streak
	s.Streak = nil
	if p.nOpen >= d.opts.MaxOpen {
		d.dropped++
		s.Held = true
		return Record{}, false
	}
	var total float64
	for _, n := range st.N {
		total += n
	}
	last := m
	if open >= 0 {
		last = m - 1
	}
	a := &anomaly{Shared: d.opts.NewID(), Start: st.Start, First: st.N[0], Total: total, Last: last, A: st.A, baseline: st.baseline}
	a.Emitted = enabled != nil && enabled(p.Account, p.Region, s.Type, s.Cat)
	s.Anomaly = a
	p.nOpen++
	if !a.Emitted {
		return Record{}, false
	}
	return d.record(p, s, "Start", a.Shared, a.Start, a.First, m-a.Start+1, &a.A, int64(len(st.N)), &a.baseline), true
}

// record builds a record; periodMinutes are the minutes period's
// attributions were counted in.
func (d *detector) record(p *partition, s *series, state, shared string, at int64, avg float64, minutes int64, period *attrs, periodMinutes int64, b *baseline) Record {
	r := &record{
		EventVersion: "1.11", EventTime: minuteTime(at), AWSRegion: p.Region, EventID: d.opts.NewID(),
		EventType: event.TypeInsight, RecipientAccountID: p.Account, SharedEventID: shared, EventCategory: event.CategoryInsight,
		InsightDetails: details{
			State: state, EventSource: s.Source, EventName: s.Name, InsightType: s.Type, ErrorCode: s.Error,
			InsightContext: insightContext{
				Statistics: statistics{Baseline: average{round(b.Mean)}, Insight: average{round(avg)},
					InsightDuration: minutes, BaselineDuration: b.Minutes},
				Attributions: buildAttributions(s.Type, period, periodMinutes, &b.Attr, b.Minutes),
			},
		},
	}
	return Record{Account: p.Account, Region: p.Region, Category: s.Cat, EventID: r.EventID, Raw: marshalRecord(r)}
}

// drops applies the drop rule (decision §83) to closed minute m of p,
// whose counts are aggs: it raises the Start of a call-rate series whose
// calls fell short, follows the drops open, and ends them.
func (d *detector) drops(p *partition, m int64, aggs map[*series]*minuteAgg, enabled EnabledFunc) []Record {
	if m-p.Since < int64(d.opts.WarmUp/time.Minute) {
		return nil
	}
	type change struct {
		s   *series
		w   dropWindow
		end bool
	}
	var changes []change
	for _, s := range p.series {
		if s.Type != CallRate || s.Streak != nil || s.Anomaly != nil && !s.Anomaly.Drop {
			continue
		}
		w := d.dropWindow(p, s, m)
		a := s.Anomaly
		switch {
		case a != nil && (w.short || !w.judged && w.exp >= d.opts.DropMin/d.opts.DropRatio):
			// Open while short, and while the window cannot be judged
			// (too few earlier days like its hours, or a low expectation)
			// until the baseline itself no longer expects calls.
			if agg := aggs[s]; agg != nil {
				a.Total += agg.N
				a.A.merge(&agg.A)
			}
			a.Last = m
			s.gap(floorDiv(m, 60))
		case a != nil:
			changes = append(changes, change{s: s, end: true})
		case w.short:
			changes = append(changes, change{s: s, w: w})
		}
	}
	slices.SortFunc(changes, func(a, b change) int { return cmp.Compare(a.s.key(), b.s.key()) })
	var out []Record
	for _, c := range changes {
		s := c.s
		if c.end {
			a := s.Anomaly
			s.Anomaly = nil
			p.nOpen--
			if a.Emitted {
				n := m - a.Start
				out = append(out, d.record(p, s, "End", a.Shared, m, a.Total/float64(n), n, &a.A, n, &a.baseline))
			}
			continue
		}
		// The drop is dated from the minute after the last call, or from
		// the window's start when the minute judged has calls.
		start, total := c.w.from, c.w.sum
		if s.Last > 0 && s.Last < m {
			start, total = s.Last+1, 0
		}
		b, ok := d.baseline(p, s, start)
		if !ok {
			continue
		}
		b.Threshold = c.w.low
		a := &anomaly{Shared: d.opts.NewID(), Drop: true, Start: start, Total: total, Last: m, baseline: b}
		if p.nOpen >= d.opts.MaxOpen {
			d.dropped++ // followed, never raised
		} else {
			a.Emitted = enabled != nil && enabled(p.Account, p.Region, s.Type, s.Cat)
		}
		s.Anomaly = a
		p.nOpen++
		for h := floorDiv(start, 60); h <= floorDiv(m, 60); h++ {
			s.gap(h)
		}
		if a.Emitted {
			n := m - start + 1
			out = append(out, d.record(p, s, "Start", a.Shared, start, total/float64(n), n, &attrs{}, n, &a.baseline))
		}
	}
	return out
}

// dropWindow is what the drop rule sees at a minute: the calls of the
// window (the DropWindow's whole hours before the minute's hour, and that
// hour up to the minute), the low threshold they are compared with, and
// whether they fall short.
type dropWindow struct {
	from          int64 // the window's first minute
	sum, exp, low float64
	// judged says the baseline expects enough for a drop to be told from
	// chance (low above 0); short that the calls fell short.
	judged, short bool
}

// dropWindow measures s's window ending at closed minute m (decision
// §83). Each hour of the window is expected to hold the mean of the same
// hour of the day on the baseline window's earlier days of the same kind
// (weekday or weekend) outside drop anomalies, which must number at least
// two, and to vary as
// much as those hours' sums do, or as a Poisson count, whichever is more;
// the current hour pro rata. The window falls short when its sum is below
// low = min(E/DropRatio, E − DropK·σ) and the current hour's so far is
// below its own expectation divided by DropRatio; a window expecting
// fewer than DropMin calls, or whose low is not above zero, expects too
// little for a drop to be told from chance.
func (d *detector) dropWindow(p *partition, s *series, m int64) dropWindow {
	o := d.opts
	now := floorDiv(m, 60)
	first := now - int64(o.DropWindow/time.Hour)
	w := dropWindow{from: first * 60}
	if w.from <= p.Since {
		return w
	}
	oldest := max(ceilDiv(p.Since, 60), ceilDiv(m-int64(o.BaselineWindow/time.Minute), 60))
	var exp, v, hour, hourExp float64
	for h := first; h <= now; h++ {
		var n, sum, sq float64
		for l := h - 24; l >= oldest; l -= 24 {
			if _, gap := slices.BinarySearch(s.Gaps, l); !gap && weekend(l) == weekend(h) {
				x := s.hourSum(l)
				n++
				sum += x
				sq += x * x
			}
		}
		if n < 2 {
			return w
		}
		mean := sum / n
		frac := 1.0
		if h == now {
			frac = float64(m-now*60+1) / 60
			hour, hourExp = s.hourSum(h), frac*mean
		}
		exp += frac * mean
		v += frac * max(0, sq/n-mean*mean)
		w.sum += s.hourSum(h)
	}
	w.exp = exp
	if exp < max(o.DropMin, 1e-9) {
		return w
	}
	w.low = min(exp/o.DropRatio, exp-o.DropK*math.Sqrt(max(exp, v)))
	w.judged = w.low > 0
	w.short = w.judged && w.sum < w.low && hour < hourExp/o.DropRatio
	return w
}

// gap adds hour h to s's gaps.
func (s *series) gap(h int64) {
	if k := len(s.Gaps); k == 0 || s.Gaps[k-1] < h {
		s.Gaps = append(s.Gaps, h)
	}
}

// hourSum is s's sum of hour h (0 when it had no calls).
func (s *series) hourSum(h int64) float64 {
	i, ok := slices.BinarySearchFunc(s.Hours, h, func(a hourAgg, h int64) int { return cmp.Compare(a.H, h) })
	if !ok {
		return 0
	}
	return s.Hours[i].S
}

// baseline returns s's baseline before minute m (decisions §61–§62):
// the mean per minute over the window, which the records report, and
// what the threshold compares with: the expected count for m's hour of
// the day on the same kind of day, weekday or weekend (the mean of those
// hours in the window), and the spread of those hours' minutes around it.
// A daily or weekly cycle thus widens neither the threshold at night nor
// hides a burst at noon, and a busy hour's larger noise raises its own
// threshold only. Until the window holds m's hour of the day, the plain
// mean and spread stand in.
func (d *detector) baseline(p *partition, s *series, m int64) (baseline, bool) {
	o := d.opts
	ws := max(p.Since, ceilDiv(m-int64(o.BaselineWindow/time.Minute), 60)*60)
	n := m - ws
	if n <= 0 {
		return baseline{}, false
	}
	firstHour, lastHour := floorDiv(ws, 60), floorDiv(m-1, 60)
	minutesIn := func(h int64) float64 { return float64(min(h*60+60, m) - max(h*60, ws)) }
	var sum, sq float64
	for _, h := range s.Hours {
		if h.H >= firstHour {
			sum += h.S
			sq += h.Sq
		}
	}
	mean := sum / float64(n)
	sigma := math.Sqrt(max(0, sq/float64(n)-mean*mean))
	b := baseline{Mean: mean, Sigma: sigma, Expected: mean, Minutes: n}
	// The hours like m's: the same hour of the day on earlier days of the
	// same kind (weekday or weekend, UTC) when the window holds an hour
	// of those, else on any earlier day. m's own hour is left out, so a
	// slow ramp cannot teach its own baseline.
	now := floorDiv(m, 60)
	like := func(h int64) bool { return h != now && hourOfDay(h) == hourOfDay(now) && weekend(h) == weekend(now) }
	var likeMin float64
	for h := firstHour; h <= lastHour; h++ {
		if like(h) {
			likeMin += minutesIn(h)
		}
	}
	if likeMin < 60 {
		like = func(h int64) bool { return h != now && hourOfDay(h) == hourOfDay(now) }
		likeMin = 0
		for h := firstHour; h <= lastHour; h++ {
			if like(h) {
				likeMin += minutesIn(h)
			}
		}
	}
	if likeMin > 0 {
		var likeSum float64
		for _, h := range s.Hours {
			if h.H >= firstHour && like(h.H) {
				likeSum += h.S
			}
		}
		e := likeSum / likeMin
		// Σ (c − e)² = Σ c² − 2e Σ c + n e², hour by hour; hours without
		// calls are absent from s.Hours and add n e².
		var resid float64
		j := 0
		for h := firstHour; h <= lastHour; h++ {
			if !like(h) {
				continue
			}
			var hs, hq float64
			for j < len(s.Hours) && s.Hours[j].H < h {
				j++
			}
			if j < len(s.Hours) && s.Hours[j].H == h {
				hs, hq = s.Hours[j].S, s.Hours[j].Sq
			}
			resid += hq - 2*e*hs + minutesIn(h)*e*e
		}
		b.Expected, b.Sigma = e, math.Sqrt(max(0, resid/likeMin))
	}
	b.Threshold = max(b.Expected+o.K*b.Sigma, o.Ratio*mean, o.Floor)
	firstDay := floorDiv(ws, 24*60)
	for i := range s.Days {
		if s.Days[i].D >= firstDay {
			b.Attr.merge(&s.Days[i].A)
		}
	}
	return b, true
}

// remember adds minute m's count n and attributions to s's baseline
// history.
func (d *detector) remember(s *series, m int64, n float64, a *attrs) {
	h := floorDiv(m, 60)
	if k := len(s.Hours); k > 0 && s.Hours[k-1].H == h {
		s.Hours[k-1].S += n
		s.Hours[k-1].Sq += n * n
	} else {
		s.Hours = append(s.Hours, hourAgg{H: h, S: n, Sq: n * n})
	}
	day := floorDiv(m, 24*60)
	if k := len(s.Days); k > 0 && s.Days[k-1].D == day {
		s.Days[k-1].A.merge(a)
	} else {
		s.Days = append(s.Days, dayAttrs{D: day, A: a.clone()})
	}
}

// prune drops history older than the baseline window and the series left
// with nothing: memory is bounded by the APIs seen in a window, not by
// events.
func (d *detector) prune(p *partition) {
	win := int64(d.opts.BaselineWindow / time.Minute)
	firstHour := floorDiv(p.Closed-win, 60)
	firstDay := floorDiv(p.Closed-win, 24*60)
	inOpen := map[*series]bool{}
	for _, mm := range p.open {
		for s := range mm {
			inOpen[s] = true
		}
	}
	for k, s := range p.series {
		i := 0
		for i < len(s.Hours) && s.Hours[i].H < firstHour {
			i++
		}
		s.Hours = s.Hours[i:]
		j := 0
		for j < len(s.Days) && s.Days[j].D < firstDay {
			j++
		}
		s.Days = s.Days[j:]
		g := 0
		for g < len(s.Gaps) && s.Gaps[g] < firstHour {
			g++
		}
		s.Gaps = s.Gaps[g:]
		if len(s.Hours) == 0 && s.Streak == nil && s.Anomaly == nil && !s.Held && !inOpen[s] {
			delete(p.series, k)
		}
	}
}

// hourOfDay is the UTC hour of the day of hour h since the epoch.
func hourOfDay(h int64) int64 { return h - floorDiv(h, 24)*24 }

// weekend reports whether hour h since the epoch is on a Saturday or a
// Sunday, UTC (the epoch was a Thursday).
func weekend(h int64) bool {
	dow := (floorDiv(h, 24) + 4) % 7 // 0 is Sunday
	return dow == 0 || dow == 6
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
