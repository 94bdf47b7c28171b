package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/store"
)

// lakeStores is the event data store catalogue as the lake engine reads
// it.
type lakeStores struct{ c *catalog.Catalog }

func (s lakeStores) DataStores() []lake.StoreSpec { return storeSpecs(s.c.AllDataStores()) }

func (s lakeStores) Purge(id string) error { return s.c.PurgeDataStore(id) }

// storeSpecs converts catalogue entries to the engine's view. Only stores
// of CloudTrail events ingest from the event log; the others (Insights,
// events from outside AWS) get their events from elsewhere.
func storeSpecs(all []catalog.DataStore) []lake.StoreSpec {
	out := make([]lake.StoreSpec, 0, len(all))
	for _, d := range all {
		sp := lake.StoreSpec{
			ID: d.ID, Account: d.Account, HomeRegion: d.HomeRegion, MultiRegion: d.MultiRegionEnabled,
			Selectors: d.AdvancedEventSelectors, Retention: time.Duration(d.RetentionPeriod) * 24 * time.Hour,
			Deleted: d.Status == catalog.StatusPendingDeletion, DeletedAt: d.DeletedAt, Generation: d.Generation,
		}
		if d.CloudTrailEvents() {
			for _, r := range d.Ingest {
				sp.Ingest = append(sp.Ingest, lake.Range{From: r.From, To: r.To})
			}
		}
		out = append(out, sp)
	}
	return out
}

// openLake opens the Lake engine and registers it as a follower of the
// event log.
func (d *Daemon) openLake(ctx context.Context) error {
	lo := lake.DefaultOptions()
	lo.Stores = lakeStores{d.trails}
	lo.Logger = d.log
	lo.Queries.Translate = translate
	lo.Queries.Macros = macros()
	var err error
	if d.lake, err = lake.Open(ctx, d.dir.Path(datadir.LakeDir), lo); err != nil {
		return err
	}
	d.follow.list = append(d.follow.list, follower{
		name: datadir.LakeFollower,
		checkpoint: func(head uint64) (uint64, error) {
			if d.lake.HasState() {
				return d.lake.Checkpoint(), nil
			}
			return head, d.lake.Init(head)
		},
		behind: func(head uint64) (uint64, error) {
			if anyIngesting(d.trails) {
				return 0, fmt.Errorf("lake: %w", store.ErrFollowerBehind)
			}
			d.log.Info("lake: starting at the newest event; no event data store was ingesting while the log moved on", "to", head)
			return head, d.lake.Init(head)
		},
		run: func(ctx context.Context, f *store.Follower) error { return d.lake.Run(ctx, f) },
	})
	return nil
}

// anyIngesting reports whether some event data store ingests from the log.
func anyIngesting(c *catalog.Catalog) bool {
	for _, s := range c.AllDataStores() {
		if s.CloudTrailEvents() && s.Status == catalog.StatusEnabled {
			return true
		}
	}
	return false
}

// Lake gives tests access to the Lake engine.
func (d *Daemon) Lake() *lake.Engine { return d.lake }

// checkLake reads the lake's state and every store's MANIFEST and files
// without changing them.
func checkLake(root string) followerState {
	var st followerState
	var specs []lake.StoreSpec
	ingesting := false
	if _, err := os.Stat(filepath.Join(root, datadir.TrailsDir)); err == nil {
		c, err := catalog.Open(filepath.Join(root, datadir.TrailsDir), catalog.DefaultOptions())
		if err != nil {
			st.problems = append(st.problems, err.Error())
		} else {
			specs = storeSpecs(c.AllDataStores())
			ingesting = anyIngesting(c)
		}
	}
	r := lake.Check(filepath.Join(root, datadir.LakeDir), specs)
	st.checkpoint = r.Checkpoint
	st.mayStartOver = !ingesting || !r.HasState
	st.problems = append(st.problems, r.Problems...)
	st.lines = append(st.lines, fmt.Sprintf("lake: checkpoint %d, %d event data stores, %d files, %d events, %d bytes", r.Checkpoint, len(specs), r.Files, r.Events, r.Bytes))
	return st
}

func lakeCheckpoint(root string) uint64 {
	return lake.Check(filepath.Join(root, datadir.LakeDir), nil).Checkpoint
}

// translate and macros are the Lake SQL dialect (package lake/dialect).
var (
	translate lake.Translator
	macros    = func() []string { return nil }
)
