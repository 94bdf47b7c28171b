package cwlogs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Destination is a trail's CloudWatch Logs log group for one event.
type Destination struct {
	TrailARN string
	GroupARN string
}

// RouteFunc returns where the trails send an event (alerts.md §4.1).
type RouteFunc func(ev *event.Event) []Destination

// DeliveryStatus is what GetTrailStatus reports of a trail's CloudWatch
// Logs delivery.
type DeliveryStatus struct {
	LatestDeliveryTime time.Time
	LatestError        string
}

// StateFile is the delivery checkpoint's file name.
const StateFile = "state.json"

func (e *Engine) saveState(seq uint64) error {
	if err := e.ck.Save(seq); err != nil {
		return fmt.Errorf("cwlogs: %w", err)
	}
	return nil
}

// Checkpoint returns the delivery checkpoint and whether there is one.
func (e *Engine) Checkpoint() (uint64, bool) { return e.ck.Get() }

// Init starts delivery at head (a new data directory): it writes the
// catalogue and the checkpoint, which are there together from then on.
func (e *Engine) Init(head uint64) error {
	e.mu.Lock()
	err := e.cat.save(e.dir)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.saveState(head)
}

// Status returns a trail's delivery status.
func (e *Engine) Status(trailARN string) DeliveryStatus {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	return e.status[trailARN]
}

// StreamName is the stream a trail writes an event of account and region
// to (alerts.md §4.1).
func StreamName(account, region string) string { return account + "_CloudTrail_" + region }

// Run follows the log until ctx ends, appending what trails send to their
// log groups (one record per event, compact JSON, timestamp = eventTime),
// and runs retention. A failed write is
// retried (store.Follower.Loop); at shutdown it finishes what the log
// holds.
func (e *Engine) Run(ctx context.Context, f *store.Follower) error {
	var swept time.Time
	return f.Loop(ctx, store.Loop{Name: "cwlogs", Batch: 1024, Now: e.opts.Now, Log: e.log,
		Apply: func(entries []store.Entry) error {
			if e.opts.Route == nil {
				return nil
			}
			return e.deliver(entries)
		},
		Save: e.saveState,
		Round: func(now time.Time) {
			if now.Sub(swept) >= time.Minute {
				e.sweep()
				swept = now
			}
		},
	})
}

type batchKey struct {
	Scope
	group, stream string
}

// deliver appends a batch of the log's events to the trails' groups. A
// group that does not exist is skipped (and shown in the trail's status);
// any other failure is returned, for the batch to be retried.
func (e *Engine) deliver(entries []store.Entry) error {
	batches := map[batchKey][]InputEvent{}
	trails := map[batchKey][]string{}
	for _, en := range entries {
		ev := en.Event
		if len(ev.Raw) > 256*1024 {
			continue
		}
		for _, d := range e.opts.Route(ev) {
			region, account, name, ok := ParseGroupARN(d.GroupARN)
			if !ok {
				continue
			}
			k := batchKey{Scope{account, region}, name, StreamName(ev.Account, ev.Region)}
			batches[k] = append(batches[k], InputEvent{Timestamp: ev.EventTime.UnixMilli(), Message: string(ev.Raw)})
			trails[k] = appendUnique(trails[k], d.TrailARN)
		}
	}
	now := e.opts.Now()
	var failed error
	for k, evs := range batches {
		err := e.ensureStream(k.Scope, k.group, k.stream)
		if err == nil {
			err = e.appendEvents(k.Scope, k.group, k.stream, evs)
		}
		e.stateMu.Lock()
		for _, t := range trails[k] {
			st := e.status[t]
			if err != nil {
				st.LatestError = errorCode(err)
			} else {
				st.LatestDeliveryTime, st.LatestError = now, ""
			}
			e.status[t] = st
		}
		e.stateMu.Unlock()
		switch {
		case errors.Is(err, ErrNotFound):
			e.met.deliveryErrors.Inc()
			e.log.Warn("cwlogs: a trail's log group does not exist; its events are skipped", "group", k.group, "events", len(evs))
		case err != nil:
			failed = errors.Join(failed, err)
		}
	}
	return failed
}

func errorCode(err error) string {
	if errors.Is(err, ErrNotFound) {
		return "LogGroupNotFound"
	}
	return "InternalFailure"
}

func appendUnique(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// ensureStream creates a trail's stream on first use.
func (e *Engine) ensureStream(s Scope, group, stream string) error {
	e.mu.RLock()
	_, g := e.cat.group(s, group)
	exists := false
	if g != nil {
		for _, st := range g.Streams {
			exists = exists || st.Name == stream
		}
	}
	e.mu.RUnlock()
	if g == nil {
		return groupNotFound()
	}
	if exists {
		return nil
	}
	if err := e.CreateStream(s, group, stream); err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	return nil
}

// sweep drops sealed segments past their group's retention.
func (e *Engine) sweep() {
	e.mu.RLock()
	type job struct {
		gs     *groupState
		cutoff int64
	}
	var jobs []job
	for _, g := range e.cat.Groups {
		if g.RetentionInDays > 0 {
			jobs = append(jobs, job{e.groups[g.ID], e.opts.Now().Add(-time.Duration(g.RetentionInDays) * 24 * time.Hour).UnixMilli()})
		}
	}
	e.mu.RUnlock()
	for _, j := range jobs {
		j.gs.mu.Lock()
		keep := j.gs.segs[:0]
		for i, sg := range j.gs.segs {
			sealed := i < len(j.gs.segs)-1
			if sealed && sg.count > 0 && sg.maxTs < j.cutoff {
				if err := os.Remove(segmentPath(j.gs.dir, sg.n)); err != nil {
					e.log.Warn("cwlogs: removing an expired segment failed", "err", err)
					keep = append(keep, sg)
					continue
				}
				e.met.expired.Add(float64(sg.count))
				continue
			}
			keep = append(keep, sg)
		}
		j.gs.segs = keep
		j.gs.mu.Unlock()
	}
}

type metrics struct {
	events, expired, emitErrors, deliveryErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events:         prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_logs_events_total", Help: "Log events stored in CloudWatch Logs log groups."}),
		expired:        prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_logs_expired_events_total", Help: "Log events removed by retention."}),
		emitErrors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_logs_metric_emit_errors_total", Help: "Metric filter emissions the metric store refused."}),
		deliveryErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "opentrail_logs_trail_delivery_errors_total", Help: "Batches of trail events that could not be delivered to their log group."}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.expired, m.emitErrors, m.deliveryErrors)
	}
	return m
}

// CheckReport is what [Check] finds.
type CheckReport struct {
	Checkpoint     uint64
	HasState       bool
	Groups, Events int
	Problems       []string
}

// Check reads the engine's directory without changing it.
func Check(dir string) CheckReport {
	var r CheckReport
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return r
	}
	if err := checkFiles(dir); err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	cat, err := loadCatalog(dir)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r
	}
	if ck, err := fileutil.OpenCheckpoint(filepath.Join(dir, StateFile)); err != nil {
		r.Problems = append(r.Problems, "cwlogs: "+err.Error())
	} else {
		r.Checkpoint, r.HasState = ck.Get()
	}
	r.Groups = len(cat.Groups)
	for _, g := range cat.Groups {
		gdir := filepath.Join(dir, "groups", g.ID)
		if _, err := os.Stat(gdir); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("log group %s: its directory groups/%s is missing", g.Name, g.ID))
			continue
		}
		ns, err := segmentFiles(gdir)
		if err == nil {
			err = checkSequence(gdir, ns)
		}
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
			continue
		}
		for i, n := range ns {
			_, err := scanSegment(segmentPath(gdir, n), 0, func(int64, *record) bool { r.Events++; return true })
			if err != nil && !(errors.Is(err, errTorn) && i == len(ns)-1) {
				r.Problems = append(r.Problems, fmt.Sprintf("log group %s: %v", g.Name, err))
			}
		}
	}
	return r
}
