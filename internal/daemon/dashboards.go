package daemon

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake/dashboards"
)

// openDashboards opens CloudTrail Lake's dashboards over the Lake engine.
func (d *Daemon) openDashboards() error {
	o := dashboards.DefaultOptions()
	o.Lake = d.lake
	o.Stores = func(account, region string) []string { return eventStores(d.trails.AllDataStores(), account, region) }
	o.Logger = d.log
	e, err := dashboards.Open(filepath.Join(d.dir.Path(datadir.LakeDir), dashboards.FileName), o)
	if err != nil {
		return err
	}
	d.dash = e
	return nil
}

// eventStores returns the ids of the account's active event data stores
// of CloudTrail events in region, sorted: what the Highlights dashboard
// reads when its schedule refreshes it (decision 133).
func eventStores(all []catalog.DataStore, account, region string) []string {
	var ids []string
	for _, s := range all {
		if s.Account == account && s.HomeRegion == region && s.CloudTrailEvents() && s.Status != catalog.StatusPendingDeletion {
			ids = append(ids, s.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// startDashboards runs the refresh scheduler until Close.
func (d *Daemon) startDashboards() {
	if d.dash == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.dashStop = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		if err := d.dash.Run(ctx); err != nil {
			d.log.Error("dashboards: the refresh scheduler stopped", "err", err)
		}
	}()
}

func (d *Daemon) stopDashboards() {
	if d.dashStop != nil {
		d.dashStop()
		d.dashStop = nil
	}
}

// Dashboards gives tests access to the dashboards engine (nil without
// the Lake).
func (d *Daemon) Dashboards() *dashboards.Engine { return d.dash }

// checkDashboards reads the dashboards file as serve does.
func checkDashboards(root string, r *Report) {
	path := filepath.Join(root, datadir.LakeDir, dashboards.FileName)
	n, err := dashboards.Check(path)
	if err != nil {
		r.problem("%v", err)
		return
	}
	r.line("dashboards: %d", n)
}
