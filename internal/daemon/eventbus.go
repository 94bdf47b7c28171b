package daemon

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/cwlogs"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/eventbus"
	"github.com/opentrail/opentrail/internal/eventsapi"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
	"github.com/opentrail/opentrail/internal/logsapi"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store"
)

// openEventBus opens the EventBridge engine and registers it as a
// follower of the event log.
func (d *Daemon) openEventBus(reg prometheus.Registerer) error {
	o := eventbus.DefaultOptions()
	o.Logger = d.log
	o.Registerer = reg
	if !d.cfg.EventBridge.WithoutTrail {
		o.Admit = d.gate.admit
	}
	if d.topics != nil {
		o.Topics = d.topics
	}
	var err error
	if d.eventbus, err = eventbus.Open(d.dir.Path(datadir.EventBusDir), o); err != nil {
		return err
	}
	d.follow.list = append(d.follow.list, follower{
		name:       datadir.EventBusFollower,
		checkpoint: resumeFrom(d.eventbus),
		behind: func(head uint64) (uint64, error) {
			// The log moved on without the bus: an import, whose
			// historical events EventBridge does not carry.
			d.log.Info("eventbus: starting at the newest event; the events in between were imported, not recorded live", "to", head)
			return head, d.eventbus.Init(head)
		},
		run: func(ctx context.Context, f *store.Follower) error {
			return d.eventbus.Run(ctx, f)
		},
	})
	return nil
}

// trailGate admits to the default bus the events a logging trail of the
// account records in their Region (alerts.md §3.1, decision 67): data
// events only when the trail's selectors take them, Insights events only
// when it has Insights on.
type trailGate struct {
	c *catalog.Catalog

	mu     sync.Mutex
	gen    uint64
	loaded bool
	trails []gateTrail
}

type gateTrail struct {
	t catalog.Trail
	m *selector.Matcher
}

func newTrailGate(c *catalog.Catalog) *trailGate { return &trailGate{c: c} }

func (g *trailGate) current() []gateTrail {
	gen := g.c.Generation()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.loaded || gen != g.gen {
		g.trails = g.trails[:0]
		for _, t := range g.c.All() {
			if t.Logging {
				g.trails = append(g.trails, gateTrail{t: t, m: selector.Compile(t.Selectors.Effective())})
			}
		}
		g.gen, g.loaded = gen, true
	}
	return g.trails
}

// recorders calls fn for each logging trail that records ev, until fn
// returns false.
func (g *trailGate) recorders(ev *event.Event, fn func(t *catalog.Trail) bool) {
	for _, gt := range g.current() {
		t := &gt.t
		if t.Account != ev.Account || !t.Covers(ev.Region) {
			continue
		}
		if ev.Insight() && len(t.InsightSelectors) == 0 || !ev.Insight() && !gt.m.MatchEvent(ev) {
			continue
		}
		if !fn(t) {
			return
		}
	}
}

// admit reports whether a logging trail records ev.
func (g *trailGate) admit(ev *event.Event) bool {
	found := false
	g.recorders(ev, func(*catalog.Trail) bool { found = true; return false })
	return found
}

// logGroups returns the log groups the trails that record ev send it to.
func (g *trailGate) logGroups(ev *event.Event) []cwlogs.Destination {
	var out []cwlogs.Destination
	g.recorders(ev, func(t *catalog.Trail) bool {
		if t.CloudWatchLogsLogGroupArn != "" {
			out = append(out, cwlogs.Destination{TrailARN: t.ARN(), GroupARN: t.CloudWatchLogsLogGroupArn})
		}
		return true
	})
	return out
}

// eventBusCheckpoint reads the engine's durable checkpoint.
func eventBusCheckpoint(root string) uint64 {
	return eventbus.Check(filepath.Join(root, datadir.EventBusDir)).Checkpoint
}

// checkEventBus reads the engine's state without changing it.
func checkEventBus(root string) followerState {
	r := eventbus.Check(filepath.Join(root, datadir.EventBusDir))
	st := followerState{checkpoint: r.Checkpoint, problems: r.Problems, mayStartOver: true}
	st.lines = append(st.lines, fmt.Sprintf("eventbridge: checkpoint %d, %d rules, %d deliveries pending, %d in the dead-letter log",
		r.Checkpoint, r.Rules, r.Pending, r.DeadLetters))
	return st
}

// alertServices puts the JSON alerting services (EventBridge, CloudWatch
// Logs) in front of the cloudtrail API: requests whose X-Amz-Target is
// theirs go to them.
func (d *Daemon) alertServices(ct http.Handler, auth *identity.Authenticator, cfg config.Config) (http.Handler, error) {
	o := jsonsvc.Options{Auth: auth, Events: d.store, Regions: cfg.Regions, Logger: d.log}
	if cfg.MaxRequestBytes > 0 {
		o.MaxBodyBytes = cfg.MaxRequestBytes
	}
	events, err := eventsapi.New(d.eventbus, o)
	if err != nil {
		return nil, err
	}
	logs, err := logsapi.New(d.logs, o)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch target := r.Header.Get("X-Amz-Target"); {
		case events.Serves(target):
			events.ServeHTTP(w, r)
		case logs.Serves(target):
			logs.ServeHTTP(w, r)
		default:
			ct.ServeHTTP(w, r)
		}
	}), nil
}
