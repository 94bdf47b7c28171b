package cwlogs

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/logfilter"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// MetricSink receives what metric filters emit: per metric, dimensions
// and minute, a statistic set over the contributing events (a CloudWatch
// metric store, adapted by the daemon). PutStatistics returns once the
// values are durable.
type MetricSink interface {
	PutStatistics(account, region string, pts []MetricPoint) error
}

// MetricPoint is one statistic set of a metric in one minute.
type MetricPoint struct {
	Namespace, Name, Unit string
	Dimensions            map[string]string
	Minute                time.Time
	Count, Sum, Min, Max  float64
}

// Options configure an [Engine]. Start from [DefaultOptions].
type Options struct {
	// Metrics receives metric filter emissions; nil drops them.
	Metrics MetricSink
	// Route says which log groups a trail sends an event of the log to;
	// used by Run.
	Route RouteFunc

	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{Now: time.Now, Logger: slog.Default()}
}

// Engine is every account's CloudWatch Logs: groups, streams, events and
// metric filters.
type Engine struct {
	opts Options
	dir  string
	log  *slog.Logger

	mu      sync.RWMutex // guards cat, groups
	cat     *catalogFile
	groups  map[string]*groupState // by group id
	filters map[string][]*compiledFilter

	ck      *fileutil.Checkpoint
	stateMu sync.Mutex                // guards status
	status  map[string]DeliveryStatus // by trail ARN

	met *metrics
}

// groupState is a group's segments and per-stream index.
type groupState struct {
	mu       sync.Mutex
	dir      string
	segs     []*segment
	f        *os.File // the open segment, appended
	streams  map[string]*streamStats
	bytes    int64
	openDay  int64 // UTC day of the open segment's first append
	retained int64 // oldest kept timestamp (ms), from retention
}

type segment struct {
	n            int
	size         int64
	minTs, maxTs int64
	maxIngest    int64
	count        int
}

type streamStats struct {
	first, last, lastIngestion, bytes int64
}

// Open opens (or creates) the engine's directory and indexes every
// segment.
func Open(dir string, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := fileutil.MkdirAll(filepath.Join(dir, "groups"), 0o755); err != nil {
		return nil, fmt.Errorf("cwlogs: %w", err)
	}
	if err := checkFiles(dir); err != nil {
		return nil, err
	}
	cat, err := loadCatalog(dir)
	if err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, dir: dir, log: opts.Logger, cat: cat, groups: map[string]*groupState{},
		filters: map[string][]*compiledFilter{}, status: map[string]DeliveryStatus{}, met: newMetrics(opts.Registerer)}
	if e.ck, err = fileutil.OpenCheckpoint(filepath.Join(dir, StateFile)); err != nil {
		return nil, fmt.Errorf("cwlogs: %w", err)
	}
	known := map[string]bool{}
	for _, g := range cat.Groups {
		known[g.ID] = true
		if _, err := os.Stat(filepath.Join(dir, "groups", g.ID)); err != nil {
			return nil, fmt.Errorf("cwlogs: the directory of log group %s (groups/%s) is missing: its events were deleted or lost; restore it from a backup, or delete the group (aws logs delete-log-group) after moving %s aside", g.Name, g.ID, dir)
		}
		gs, err := openGroup(filepath.Join(dir, "groups", g.ID), e.log)
		if err != nil {
			return nil, err
		}
		e.groups[g.ID] = gs
		e.compileFilters(g)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "groups"))
	for _, en := range ents {
		if !known[en.Name()] {
			e.log.Info("cwlogs: removing the segments of a deleted log group", "dir", en.Name())
			if err := os.RemoveAll(filepath.Join(dir, "groups", en.Name())); err != nil {
				return nil, fmt.Errorf("cwlogs: %w", err)
			}
		}
	}
	return e, nil
}

// openGroup indexes a group's segments, cutting a torn final record.
func openGroup(dir string, log *slog.Logger) (*groupState, error) {
	gs := &groupState{dir: dir, streams: map[string]*streamStats{}}
	ns, err := segmentFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("cwlogs: %w", err)
	}
	if err := checkSequence(dir, ns); err != nil {
		return nil, err
	}
	for i, n := range ns {
		sg := &segment{n: n, minTs: math.MaxInt64, maxTs: math.MinInt64}
		path := segmentPath(dir, n)
		end, err := scanSegment(path, 0, func(off int64, r *record) bool {
			gs.index(sg, r)
			return true
		})
		if errors.Is(err, errTorn) && i == len(ns)-1 {
			log.Warn("cwlogs: a segment ends in a torn record (an append cut by a crash); cutting it off", "file", path, "offset", end)
			if err := os.Truncate(path, end); err != nil {
				return nil, fmt.Errorf("cwlogs: %w", err)
			}
		} else if err != nil {
			return nil, err
		}
		sg.size = end
		gs.segs = append(gs.segs, sg)
	}
	return gs, nil
}

// index adds a record to the segment's range and its stream's stats.
func (gs *groupState) index(sg *segment, r *record) {
	sg.minTs, sg.maxTs = min(sg.minTs, r.Timestamp), max(sg.maxTs, r.Timestamp)
	sg.maxIngest = max(sg.maxIngest, r.Ingestion)
	sg.count++
	st := gs.streams[r.Stream]
	if st == nil {
		st = &streamStats{first: r.Timestamp, last: r.Timestamp}
		gs.streams[r.Stream] = st
	}
	st.first, st.last = min(st.first, r.Timestamp), max(st.last, r.Timestamp)
	st.lastIngestion = max(st.lastIngestion, r.Ingestion)
	n := int64(len(r.Message))
	st.bytes += n
	gs.bytes += n
}

// Close closes the open segments.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, gs := range e.groups {
		gs.mu.Lock()
		if gs.f != nil {
			errs = append(errs, gs.f.Close())
			gs.f = nil
		}
		gs.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (e *Engine) nowMs() int64 { return e.opts.Now().UnixMilli() }

// update changes the catalogue through a copy and writes it.
func (e *Engine) update(fn func(c *catalogFile) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := e.cat.clone()
	if err := fn(next); err != nil {
		return err
	}
	if err := next.save(e.dir); err != nil {
		return err
	}
	e.cat = next
	return nil
}

// CreateGroup creates a log group.
func (e *Engine) CreateGroup(s Scope, name string) error {
	if err := checkGroupName(name); err != nil {
		return err
	}
	id := newGroupID()
	err := e.update(func(c *catalogFile) error {
		if _, g := c.group(s, name); g != nil {
			return errorf(ErrExists, "The specified log group already exists")
		}
		c.Groups = append(c.Groups, &Group{ID: id, Account: s.Account, Region: s.Region, Name: name, Created: e.nowMs()})
		return nil
	})
	if err != nil {
		return err
	}
	gdir := filepath.Join(e.dir, "groups", id)
	if err := fileutil.MkdirAll(gdir, 0o755); err != nil {
		return fmt.Errorf("cwlogs: %w", err)
	}
	// The group's segments are fsynced with their directory: its own
	// entry must be durable too.
	if err := fileutil.SyncDir(filepath.Dir(gdir)); err != nil {
		return fmt.Errorf("cwlogs: %w", err)
	}
	gs, err := openGroup(gdir, e.log)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.groups[id] = gs
	e.mu.Unlock()
	return nil
}

// DeleteGroup deletes a log group with its events.
func (e *Engine) DeleteGroup(s Scope, name string) error {
	var id string
	err := e.update(func(c *catalogFile) error {
		i, g := c.group(s, name)
		if g == nil {
			return groupNotFound()
		}
		id = g.ID
		c.Groups = slices.Delete(c.Groups, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	gs := e.groups[id]
	delete(e.groups, id)
	delete(e.filters, id)
	e.mu.Unlock()
	if gs != nil {
		gs.mu.Lock()
		if gs.f != nil {
			gs.f.Close()
			gs.f = nil
		}
		gs.mu.Unlock()
	}
	if err := os.RemoveAll(filepath.Join(e.dir, "groups", id)); err != nil {
		e.log.Warn("cwlogs: removing a deleted group's segments failed; the next start removes them", "err", err)
	}
	return nil
}

// GroupInfo is a group with its stored bytes.
type GroupInfo struct {
	Group
	StoredBytes int64
}

// Groups lists the scope's groups whose names start with prefix, by name.
func (e *Engine) Groups(s Scope, prefix string) []GroupInfo {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []GroupInfo
	for _, g := range e.cat.Groups {
		if g.Account == s.Account && g.Region == s.Region && strings.HasPrefix(g.Name, prefix) {
			gi := GroupInfo{Group: *g}
			if gs := e.groups[g.ID]; gs != nil {
				gs.mu.Lock()
				gi.StoredBytes = gs.bytes
				gs.mu.Unlock()
			}
			out = append(out, gi)
		}
	}
	slices.SortFunc(out, func(a, b GroupInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// GroupExists reports whether the group exists.
func (e *Engine) GroupExists(s Scope, name string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, g := e.cat.group(s, name)
	return g != nil
}

// SetRetention sets (days > 0) or removes (0) a group's retention.
func (e *Engine) SetRetention(s Scope, name string, days int) error {
	if days != 0 && !slices.Contains(RetentionDays, days) {
		return errorf(ErrInvalid, "1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %v", days, RetentionDays)
	}
	return e.update(func(c *catalogFile) error {
		_, g := c.group(s, name)
		if g == nil {
			return groupNotFound()
		}
		g.RetentionInDays = days
		return nil
	})
}

// CreateStream creates a stream in a group.
func (e *Engine) CreateStream(s Scope, group, name string) error {
	if err := checkStreamName(name); err != nil {
		return err
	}
	return e.update(func(c *catalogFile) error {
		_, g := c.group(s, group)
		if g == nil {
			return groupNotFound()
		}
		if slices.ContainsFunc(g.Streams, func(st Stream) bool { return st.Name == name }) {
			return errorf(ErrExists, "The specified log stream already exists")
		}
		g.Streams = append(g.Streams, Stream{Name: name, Created: e.nowMs()})
		return nil
	})
}

// StreamInfo is a stream with what its events say.
type StreamInfo struct {
	Stream
	FirstEventTimestamp, LastEventTimestamp, LastIngestionTime, StoredBytes int64
	HasEvents                                                               bool
}

// Streams lists a group's streams whose names start with prefix, by name.
func (e *Engine) Streams(s Scope, group, prefix string) ([]StreamInfo, error) {
	e.mu.RLock()
	_, g := e.cat.group(s, group)
	if g == nil {
		e.mu.RUnlock()
		return nil, groupNotFound()
	}
	streams := slices.Clone(g.Streams)
	gs := e.groups[g.ID]
	e.mu.RUnlock()
	var out []StreamInfo
	gs.mu.Lock()
	for _, st := range streams {
		if !strings.HasPrefix(st.Name, prefix) {
			continue
		}
		si := StreamInfo{Stream: st}
		if ss := gs.streams[st.Name]; ss != nil {
			si.FirstEventTimestamp, si.LastEventTimestamp, si.LastIngestionTime, si.StoredBytes, si.HasEvents = ss.first, ss.last, ss.lastIngestion, ss.bytes, true
		}
		out = append(out, si)
	}
	gs.mu.Unlock()
	slices.SortFunc(out, func(a, b StreamInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutMetricFilter creates or replaces a metric filter.
func (e *Engine) PutMetricFilter(s Scope, group string, f MetricFilter) error {
	if !filterNameRE.MatchString(f.FilterName) {
		return errorf(ErrInvalid, "1 validation error detected: Value '%s' at 'filterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", f.FilterName)
	}
	if len(f.FilterPattern) > 1024 {
		return errorf(ErrInvalid, "1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	if _, err := compileFilter(f); err != nil {
		return err
	}
	f.CreationTime = e.nowMs()
	var g *Group
	err := e.update(func(c *catalogFile) error {
		_, g = c.group(s, group)
		if g == nil {
			return groupNotFound()
		}
		if i := filterIndex(g, f.FilterName); i >= 0 {
			g.MetricFilters[i] = f
		} else {
			if len(g.MetricFilters) >= MaxMetricFilters {
				return errorf(ErrLimit, "Resource limit exceeded.")
			}
			g.MetricFilters = append(g.MetricFilters, f)
		}
		return nil
	})
	if err == nil {
		e.mu.Lock()
		e.compileFiltersLocked(g)
		e.mu.Unlock()
	}
	return err
}

// DeleteMetricFilter deletes a metric filter.
func (e *Engine) DeleteMetricFilter(s Scope, group, name string) error {
	var g *Group
	err := e.update(func(c *catalogFile) error {
		_, g = c.group(s, group)
		if g == nil {
			return groupNotFound()
		}
		i := filterIndex(g, name)
		if i < 0 {
			return errorf(ErrNotFound, "The specified resource does not exist.")
		}
		g.MetricFilters = slices.Delete(g.MetricFilters, i, i+1)
		return nil
	})
	if err == nil {
		e.mu.Lock()
		e.compileFiltersLocked(g)
		e.mu.Unlock()
	}
	return err
}

// FilterInfo is a metric filter with its group's name.
type FilterInfo struct {
	MetricFilter
	LogGroupName string
}

// MetricFilters lists metric filters of a group (or of every group of the
// scope when group is ""), by group and name.
func (e *Engine) MetricFilters(s Scope, group, prefix, metricName, namespace string) ([]FilterInfo, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if group != "" {
		if _, g := e.cat.group(s, group); g == nil {
			return nil, groupNotFound()
		}
	}
	var out []FilterInfo
	for _, g := range e.cat.Groups {
		if g.Account != s.Account || g.Region != s.Region || group != "" && g.Name != group {
			continue
		}
		for _, f := range g.MetricFilters {
			mt := f.MetricTransformations[0]
			if !strings.HasPrefix(f.FilterName, prefix) || metricName != "" && mt.MetricName != metricName || namespace != "" && mt.MetricNamespace != namespace {
				continue
			}
			out = append(out, FilterInfo{MetricFilter: f, LogGroupName: g.Name})
		}
	}
	slices.SortFunc(out, func(a, b FilterInfo) int {
		return cmpOr(strings.Compare(a.LogGroupName, b.LogGroupName), strings.Compare(a.FilterName, b.FilterName))
	})
	return out, nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func (e *Engine) compileFilters(g *Group) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.compileFiltersLocked(g)
}

func (e *Engine) compileFiltersLocked(g *Group) {
	var cs []*compiledFilter
	for _, f := range g.MetricFilters {
		c, err := compileFilter(f)
		if err != nil {
			e.log.Error("cwlogs: a stored metric filter no longer compiles; it is skipped", "group", g.Name, "filter", f.FilterName, "err", err)
			continue
		}
		cs = append(cs, c)
	}
	e.filters[g.ID] = cs
}

// TestMatch is one TestMetricFilter match.
type TestMatch struct {
	EventNumber     int
	EventMessage    string
	ExtractedValues map[string]string
}

// TestMetricFilter matches messages against a pattern.
func TestMetricFilter(pattern string, messages []string) ([]TestMatch, error) {
	f, err := logfilter.Parse(pattern)
	if err != nil {
		return nil, errorf(ErrInvalid, "Invalid metric filter pattern: %v", err)
	}
	if len(messages) < 1 || len(messages) > 50 {
		return nil, errorf(ErrInvalid, "1 validation error detected: Value at 'logEventMessages' failed to satisfy constraint: Member must have length between 1 and 50")
	}
	out := []TestMatch{}
	for i, m := range messages {
		vals, ok := f.Extract([]byte(m))
		if !ok {
			continue
		}
		if vals == nil {
			vals = map[string]string{}
		}
		out = append(out, TestMatch{EventNumber: i + 1, EventMessage: m, ExtractedValues: vals})
	}
	return out, nil
}

// checkFiles refuses a directory that has lost catalog.json or state.json,
// which Init writes together (docs/format/logs.md).
func checkFiles(dir string) error {
	_, errC := os.Stat(filepath.Join(dir, CatalogFile))
	_, errS := os.Stat(filepath.Join(dir, StateFile))
	switch {
	case errC == nil && errS != nil:
		return fmt.Errorf("cwlogs: %s has lost %s; restore it from a backup, or move %s aside to start CloudWatch Logs over (its log groups are lost)", dir, StateFile, dir)
	case errC != nil && errS == nil:
		return fmt.Errorf("cwlogs: %s has lost %s, the list of log groups; restore it from a backup, or move %s aside to start CloudWatch Logs over (its log groups are lost)", dir, CatalogFile, dir)
	}
	return nil
}

// checkSequence refuses a gap in a group's segment numbers: a deleted
// segment (retention removes only the oldest ones).
func checkSequence(dir string, ns []int) error {
	for i := 1; i < len(ns); i++ {
		if ns[i] != ns[i-1]+1 {
			return fmt.Errorf("cwlogs: %s: segment %d is missing between %d and %d: its events were deleted or lost; restore it from a backup", dir, ns[i-1]+1, ns[i-1], ns[i])
		}
	}
	return nil
}
