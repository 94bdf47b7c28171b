package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store"
)

// lakeStores is the event data store catalogue as the lake engine reads
// it.
type lakeStores struct{ c *catalog.Catalog }

func (s lakeStores) DataStores() []lake.StoreSpec { return specsOf(s.c) }

func (s lakeStores) Purge(id string) error { return s.c.PurgeDataStore(id) }

// specsOf is the engine's view of c's stores and channels.
func specsOf(c *catalog.Catalog) []lake.StoreSpec {
	return storeSpecs(c.AllDataStores(), c.AllChannels())
}

// storeSpecs converts catalogue entries to the engine's view. Stores of
// CloudTrail events ingest from the event log through their selectors;
// Insights stores take the Insights records of the source stores that
// name them as InsightsDestination (decision §80); stores of events from
// outside AWS take the records of the channels chs that deliver or
// delivered to them, in the ranges they did (decision 120).
func storeSpecs(all []catalog.DataStore, chs []catalog.Channel) []lake.StoreSpec {
	channels := channelSources(chs)
	sources := map[string][]lake.InsightSource{} // by destination ARN
	for _, d := range all {
		if len(d.InsightSelectors) == 0 || d.InsightsDestination == "" {
			continue
		}
		src := lake.InsightSource{HomeRegion: d.HomeRegion, MultiRegion: d.MultiRegionEnabled}
		for _, s := range d.InsightSelectors {
			src.Types = append(src.Types, s.InsightType)
		}
		sources[d.InsightsDestination] = append(sources[d.InsightsDestination], src)
	}
	out := make([]lake.StoreSpec, 0, len(all))
	for _, d := range all {
		sp := lake.StoreSpec{
			ID: d.ID, Account: d.Account, HomeRegion: d.HomeRegion, MultiRegion: d.MultiRegionEnabled,
			Selectors: d.AdvancedEventSelectors, Retention: time.Duration(d.RetentionPeriod) * 24 * time.Hour,
			Deleted: d.Status == catalog.StatusPendingDeletion, DeletedAt: d.DeletedAt, Generation: d.Generation,
		}
		for _, ks := range d.ContextKeySelectors {
			if ks.Type == catalog.ContextTypeRequest {
				sp.ContextKeys = append(sp.ContextKeys, ks.Equals...)
			}
		}
		insights := d.Category() == selector.CategoryInsight
		if insights {
			// An Insights store takes records of every region its sources
			// cover, whatever its own regions.
			sp.MultiRegion = true
			sp.InsightsFrom = sources[d.ARN()]
		}
		if d.CloudTrailEvents() || insights {
			for _, r := range d.Ingest {
				sp.Ingest = append(sp.Ingest, lake.Range{From: r.From, To: r.To})
			}
		}
		if d.Category() == selector.CategoryActivityAuditLog {
			sp.Channels = channels[d.ARN()]
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
	lo.WAL = d.store
	// The detector opens after the Lake; it is there once events flow.
	lo.PrincipalTags = d.ids.PrincipalTags
	lo.DataInsight = func(account, eventID string) bool {
		if d.insights == nil {
			return false
		}
		recs, err := d.insights.DataRecords(insights.DataQuery{Account: account, Key: insights.KeyEventID, Value: eventID,
			Types: []string{"ApiCallRateInsight", "ApiErrorRateInsight"}, Start: time.Unix(0, 0), End: time.Now().Add(24 * time.Hour), Limit: 1})
		return err == nil && len(recs) > 0
	}
	lo.Logger = d.log
	{
		c := d.cfg.Lake
		if c.FlushInterval > 0 {
			lo.FlushInterval = time.Duration(c.FlushInterval)
		}
		if c.MaintainInterval > 0 {
			lo.MaintainInterval = time.Duration(c.MaintainInterval)
		}
		if c.CompactFiles > 0 {
			lo.CompactFiles = c.CompactFiles
		}
		if c.QueryTimeout > 0 {
			lo.Queries.Timeout = time.Duration(c.QueryTimeout)
		}
		if c.Threads > 0 {
			lo.Threads = c.Threads
		}
		if c.MemoryLimit != "" {
			lo.MemoryLimit = c.MemoryLimit
		}
	}
	// Query results go to the buckets trails deliver to, signed with the
	// key that signs digests.
	lo.Results.Objects = d.objects
	lo.Results.Signer = resultSigner{d.keys}
	var err error
	if d.lake, err = lake.Open(ctx, d.dir.Path(datadir.LakeDir), lo); err != nil {
		return err
	}
	d.lake.ResumeImports(lakeImports{d}.source)
	d.follow.list = append(d.follow.list, follower{
		name: datadir.LakeFollower,
		checkpoint: func(head uint64) (uint64, error) {
			return d.lake.Init(head)
		},
		behind: func(head uint64) (uint64, error) {
			if anyIngesting(d.trails) {
				return 0, fmt.Errorf("lake: %w", store.ErrFollowerBehind)
			}
			d.log.Info("lake: starting at the newest event; no event data store was ingesting while the log moved on", "to", head)
			return head, d.lake.Reset(head)
		},
		run: func(ctx context.Context, f *store.Follower) error { return d.lake.Run(ctx, f) },
	})
	return nil
}

// resultSigner hands the Lake the key that signs query results' sign
// files: the current key of the set that signs digests, which
// ListPublicKeys serves in every region (docs/format/query-results.md).
type resultSigner struct{ keys *keyring.Keyring }

var _ resultfile.Signer = resultSigner{}

func (s resultSigner) SigningKey() (resultfile.Key, error) {
	k, err := s.keys.Current(delivery.SigningKeySet)
	if err != nil {
		return resultfile.Key{}, fmt.Errorf("signing key: %w", err)
	}
	return resultfile.Key{Fingerprint: k.Fingerprint, Private: k.Private}, nil
}

// anyIngesting reports whether some event data store ingests from the
// log, or some channel delivers to one.
func anyIngesting(c *catalog.Catalog) bool {
	if anyChannelDelivering(c) {
		return true
	}
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
			specs = specsOf(c)
			ingesting = anyIngesting(c)
		}
	}
	r := lake.Check(filepath.Join(root, datadir.LakeDir), specs)
	st.checkpoint = r.Checkpoint
	st.mayStartOver = !ingesting || !r.HasState
	st.problems = append(st.problems, r.Problems...)
	st.lines = append(st.lines, fmt.Sprintf("lake: checkpoint %d, %d event data stores, %d files, %d events, %d bytes", r.Checkpoint, len(specs), r.Files, r.Events, r.Bytes))
	checkFederation(root, &st)
	if len(r.Quarantined) > 0 {
		st.lines = append(st.lines, fmt.Sprintf("lake: %d files in quarantine (their events are in no event data store): %s", len(r.Quarantined), strings.Join(r.Quarantined, ", ")))
	}
	return st
}

// RepairLake repairs the Lake of a stopped server's data directory root
// for `opentrail fsck --repair` (lake.Repair) and returns what it did and
// what it left. It moves no store away unless the event data store
// catalogue opens and exists: a missing or damaged catalogue would make
// every store look unknown, so that is reported in Refused instead.
func RepairLake(root string) (lake.RepairReport, error) {
	dir := filepath.Join(root, datadir.LakeDir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return lake.RepairReport{}, nil
	}
	cdir := filepath.Join(root, datadir.TrailsDir)
	var specs []lake.StoreSpec
	if _, err := os.Stat(filepath.Join(cdir, catalog.DataStoresFileName)); err == nil {
		c, err := catalog.Open(cdir, catalog.DefaultOptions())
		if err != nil {
			return lake.RepairReport{Refused: []string{fmt.Sprintf("%v; the Lake is not repaired while the catalogue does not open", err)}}, nil
		}
		specs = specsOf(c)
	} else if u := lake.UnknownStores(dir, nil); len(u) > 0 {
		return lake.RepairReport{Refused: []string{fmt.Sprintf("%s is missing (%v) but %d event data store directories remain (%s, ...): restore the catalogue from a backup; the repair does not move every store to quarantine", filepath.Join(cdir, catalog.DataStoresFileName), err, len(u), u[0])}}, nil
	}
	return lake.Repair(dir, specs)
}

// lakeCheckpoint is the highest log position the Lake has durably
// processed: its own checkpoint or a store's, whichever is higher.
func lakeCheckpoint(root string) uint64 {
	var specs []lake.StoreSpec
	if c, err := catalog.Open(filepath.Join(root, datadir.TrailsDir), catalog.DefaultOptions()); err == nil {
		specs = specsOf(c)
	}
	return lake.Seen(filepath.Join(root, datadir.LakeDir), specs)
}

// lakeImports is the Lake's import operations with the daemon's buckets
// as their S3 source.
type lakeImports struct{ d *Daemon }

// source returns the Source of an import's S3LocationUri.
func (li lakeImports) source(info imports.Info) (lake.Source, error) {
	rest, ok := strings.CutPrefix(info.S3LocationURI, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return nil, fmt.Errorf("%w: %q is not an S3 URI (s3://bucket/prefix)", imports.ErrInvalidSource, info.S3LocationURI)
	}
	return lake.BucketSource(li.d.objects, bucket, prefix), nil
}

func (li lakeImports) StartImport(ctx context.Context, req imports.Info, retryID string) (imports.Info, error) {
	if retryID != "" {
		old, err := li.d.lake.GetImport(req.Account, retryID)
		if err != nil {
			return imports.Info{}, err
		}
		req = old
	}
	c, ok := li.d.trails.GetDataStore(req.Account, req.Store)
	if !ok || c.Status == catalog.StatusPendingDeletion {
		return imports.Info{}, fmt.Errorf("%w: %s", queries.ErrStoreInactive, req.Store)
	}
	if !c.CloudTrailEvents() {
		return imports.Info{}, fmt.Errorf("%w: event data store %s holds %s events; import trail log files into a store of CloudTrail events", imports.ErrWrongStore, req.Store, c.Category())
	}
	src, err := li.source(req)
	if err != nil {
		return imports.Info{}, err
	}
	if _, err := src.List(ctx); err != nil { // the bucket exists and can be listed
		return imports.Info{}, err
	}
	return li.d.lake.StartImport(req, retryID, src)
}

func (li lakeImports) GetImport(account, id string) (imports.Info, error) {
	return li.d.lake.GetImport(account, id)
}

func (li lakeImports) ListImports(account, store, status string) []imports.Info {
	return li.d.lake.ListImports(account, store, status)
}

func (li lakeImports) StopImport(account, id string) (imports.Info, error) {
	return li.d.lake.StopImport(account, id)
}

func (li lakeImports) HasOngoingImport(store string) bool { return li.d.lake.HasOngoingImport(store) }

// followerNames are the followers this build runs: all of datadir's, but
// the Lake's in a build without DuckDB (no cgo), which serves everything
// else and says why Lake is off.
func followerNames(log *slog.Logger) []string {
	err := lake.Available()
	if err == nil {
		return datadir.Followers
	}
	log.Warn("CloudTrail Lake is off", "why", err)
	var out []string
	for _, n := range datadir.Followers {
		if n != datadir.LakeFollower {
			out = append(out, n)
		}
	}
	return out
}
