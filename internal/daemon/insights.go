package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/api"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/store"
)

// insightsOptions turns the config's insights block into the detector's
// options.
func insightsOptions(c config.Insights) insights.Options {
	o := insights.DefaultOptions()
	if c.BaselineWindow > 0 {
		o.BaselineWindow = time.Duration(c.BaselineWindow)
	}
	if c.WarmUp != nil {
		o.WarmUp = time.Duration(*c.WarmUp)
	}
	if c.Grace > 0 {
		o.Grace = time.Duration(c.Grace)
	}
	if c.Reorder > 0 {
		o.Reorder = time.Duration(c.Reorder)
	}
	if c.K > 0 {
		o.K = c.K
	}
	if c.Ratio > 0 {
		o.Ratio = c.Ratio
	}
	if c.Floor > 0 {
		o.Floor = c.Floor
	}
	if c.StartMinutes > 0 {
		o.StartMinutes = c.StartMinutes
	}
	if c.EndMinutes > 0 {
		o.EndMinutes = c.EndMinutes
	}
	if c.MaxOpen > 0 {
		o.MaxOpen = c.MaxOpen
	}
	if c.Early != nil {
		o.Early = *c.Early
	}
	if c.DropWindow != nil {
		o.DropWindow = time.Duration(*c.DropWindow)
	}
	if c.DropRatio > 0 {
		o.DropRatio = c.DropRatio
	}
	if c.DropK > 0 {
		o.DropK = c.DropK
	}
	if c.DropMin > 0 {
		o.DropMin = c.DropMin
	}
	return o
}

// openInsights opens the Insights detector and registers it as a
// follower of the event log; its records go back into the log.
func (d *Daemon) openInsights(reg prometheus.Registerer) error {
	o := insightsOptions(d.cfg.Insights)
	o.Logger = d.log
	o.Registerer = reg
	var err error
	if d.insights, err = insights.Open(d.dir.Path(datadir.InsightsDir), o); err != nil {
		return err
	}
	d.follow.list = append(d.follow.list, follower{
		name:       datadir.InsightsFollower,
		checkpoint: resumeFrom(d.insights),
		behind: func(head uint64) (uint64, error) {
			if anyInsights(d.trails) {
				return 0, fmt.Errorf("insights: %w", store.ErrFollowerBehind)
			}
			// The WAL moved on without the detector (an import with no
			// trail asking for Insights): the baselines miss that stretch.
			d.log.Info("insights: starting at the newest event; no trail had Insights on while the log moved on", "to", head)
			return head, d.insights.Init(head)
		},
		run: func(ctx context.Context, f *store.Follower) error {
			return d.insights.Run(ctx, insights.Deps{
				Log:     f,
				Enabled: insightsEnabled(d.trails),
				Append: func(ctx context.Context, evs []event.Event) error {
					_, err := d.store.Append(ctx, evs, store.AppendOptions{})
					return err
				},
			})
		},
	})
	return nil
}

// insightsEnabled says whether a logging trail of the account covering the
// region has Insights of the type on the category (decision §59), or an
// ingesting event data store of the account covering the region has them
// on management events with a destination store that takes them
// (decision §80).
func insightsEnabled(c *catalog.Catalog) insights.EnabledFunc {
	return func(account, region, typ, category string) bool {
		for _, t := range c.All() {
			if t.Logging && t.Account == account && t.Covers(region) && catalog.HasInsight(t.InsightSelectors, typ, category) {
				return true
			}
		}
		if category != "Management" {
			return false
		}
		for _, d := range insightSources(c) {
			if d.Account == account && d.Covers(region) && catalog.HasInsight(d.InsightSelectors, typ, category) {
				return true
			}
		}
		return false
	}
}

// insightSources returns the event data stores that raise Insights now:
// ingesting, with Insights on, and with a destination store that exists
// and is not pending deletion.
func insightSources(c *catalog.Catalog) []catalog.DataStore {
	var out []catalog.DataStore
	all := c.AllDataStores()
	for _, d := range all {
		if d.Status != catalog.StatusEnabled || len(d.InsightSelectors) == 0 {
			continue
		}
		for _, dst := range all {
			if dst.ARN() == d.InsightsDestination && dst.Status != catalog.StatusPendingDeletion {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// anyInsights reports whether a logging trail or an event data store has
// Insights on.
func anyInsights(c *catalog.Catalog) bool {
	for _, t := range c.All() {
		if t.Logging && len(t.InsightSelectors) > 0 {
			return true
		}
	}
	return len(insightSources(c)) > 0
}

// insightsCheckpoint reads the detector's durable checkpoint.
func insightsCheckpoint(root string) uint64 {
	return insights.StateCheckpoint(filepath.Join(root, datadir.InsightsDir))
}

// checkInsights reads the detector's state without changing it.
func checkInsights(root string) followerState {
	r := insights.Check(filepath.Join(root, datadir.InsightsDir))
	st := followerState{checkpoint: r.Checkpoint, problems: r.Problems}
	// Without a state the detector starts at the newest event; with no
	// trail asking for Insights it may start over there too.
	st.mayStartOver = !r.HasState
	if c, err := catalog.Open(filepath.Join(root, datadir.TrailsDir), catalog.DefaultOptions()); err == nil && !anyInsights(c) {
		st.mayStartOver = true
	}
	st.lines = append(st.lines, fmt.Sprintf("insights: checkpoint %d, %d accounts and regions, %d series, %d anomalies open, %d records waiting, %d records on data events",
		r.Checkpoint, r.Partitions, r.Series, r.Open, r.Outbox, r.DataRecords))
	return st
}

// insightsMetrics adapts the detector to the API's InsightsMetrics.
type insightsMetrics struct{ e *insights.Engine }

var _ api.InsightsMetrics = insightsMetrics{}

func (m insightsMetrics) Metrics(q api.MetricsQuery) ([]api.MetricPoint, error) {
	pts, err := m.e.Metrics(insights.MetricsQuery{Account: q.Account, Region: q.Region, Category: q.Category, Type: q.InsightType,
		EventSource: q.EventSource, EventName: q.Name, ErrorCode: q.ErrorCode, Start: q.Start, End: q.End, Period: q.Period,
		FillWithZeros: q.FillWithZeros})
	if err != nil {
		return nil, err
	}
	out := make([]api.MetricPoint, len(pts))
	for i, p := range pts {
		out[i] = api.MetricPoint{Time: p.Time, Value: p.Value}
	}
	return out, nil
}

// Insights gives tests access to the detector.
func (d *Daemon) Insights() *insights.Engine { return d.insights }
