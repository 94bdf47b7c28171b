package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/store"
)

// LakeImportOptions configure [ImportLake].
type LakeImportOptions struct {
	// Store names the event data store: its name or id. A name no store
	// has creates one (CreateEventDataStore's defaults, but keeping events
	// for 3653 days, the longest, so old logs are not skipped).
	Store string
	// Account owns the store; "" is the data directory's first account
	// (created if there is none).
	Account string
	// Region is the store's home region when it is created.
	Region   string
	Progress io.Writer // progress bar or lines; nil for none
	Logger   *slog.Logger
}

// LakeImportResult says what ImportLake did.
type LakeImportResult struct {
	Store   catalog.DataStore
	Created bool
	Import  imports.Info
}

// ImportLake imports the log files under paths straight into a Lake event
// data store of the open, stopped data directory dir (`opentrail import
// --event-data-store`): the forensic path from an AWSLogs/ download to
// Lake SQL without a bucket.
func ImportLake(ctx context.Context, dir *datadir.Dir, paths []string, o LakeImportOptions) (res LakeImportResult, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	LimitGoMemory(o.Logger)
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	ids, err := identity.Open(dir.Root())
	if err != nil {
		return res, err
	}
	account := o.Account
	if account, _, err = ids.CreateDefault(account); err != nil {
		return res, err
	}
	c, err := catalog.Open(dir.Path(datadir.TrailsDir), catalog.DefaultOptions())
	if err != nil {
		return res, err
	}
	ds, ok := c.GetDataStore(account, o.Store)
	if !ok {
		for _, s := range c.ListDataStores(account, "") {
			if s.Name == o.Store {
				ds, ok = s, true
				break
			}
		}
	}
	if ok && ds.Status == catalog.StatusPendingDeletion {
		return res, fmt.Errorf("event data store %s (%s) is pending deletion; restore it first (aws cloudtrail restore-event-data-store)", ds.Name, ds.ID)
	}
	if ok && !ds.CloudTrailEvents() {
		return res, fmt.Errorf("event data store %s (%s) holds %s events, not trail events", ds.Name, ds.ID, ds.Category())
	}
	if !ok {
		head, err := logHead(dir.Root())
		if err != nil {
			return res, err
		}
		ds, err = c.CreateDataStore(catalog.DataStore{Name: o.Store, Account: account, HomeRegion: o.Region,
			MultiRegionEnabled: true, TerminationProtectionEnabled: true, RetentionPeriod: maxRetentionDays,
			Status: catalog.StatusEnabled}, func() uint64 { return head })
		if err != nil {
			return res, fmt.Errorf("create event data store %q: %w", o.Store, err)
		}
		res.Created = true
	}
	res.Store = ds
	lo := lake.DefaultOptions()
	lo.Stores = lakeStores{c}
	lo.Logger = o.Logger
	eng, err := lake.Open(ctx, dir.Path(datadir.LakeDir), lo)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, eng.Close()) }()
	var bar *importer.Bar
	var last struct {
		files  int
		bytes  int64
		events int64
	}
	progress := func(files, totalFiles int, bytes, totalBytes, events int64) {
		if bar == nil && o.Progress != nil {
			bar = importer.NewBar(o.Progress, totalBytes, totalFiles)
		}
		last.files, last.bytes, last.events = files, bytes, events
		if bar != nil {
			bar.Update(bytes, files, events)
		}
	}
	info := imports.Info{Account: account, Region: ds.HomeRegion, Store: ds.ID, StoreARN: ds.ARN(),
		S3LocationURI: filepath.Join(paths...)}
	res.Import, err = eng.ImportNow(ctx, info, multiSource(paths), progress)
	if bar != nil {
		bar.Finish(last.bytes, last.files, last.events)
	}
	return res, err
}

// logHead returns the event log's head in a stopped data directory.
func logHead(root string) (uint64, error) {
	so := store.DefaultOptions()
	so.Followers = datadir.Followers // keep everything: nothing follows here
	so.Seen = Seen(root)
	so.Logger = slog.New(slog.DiscardHandler)
	s, err := store.Open(filepath.Join(root, datadir.EventsDir), so)
	if err != nil {
		return 0, err
	}
	head := s.Head()
	return head, s.Close()
}

// multiSource is a Source over several local paths, in the order given.
type multiSource []string

func (m multiSource) List(ctx context.Context) ([]lake.SourceFile, error) {
	var out []lake.SourceFile
	for _, p := range m {
		fs, err := lake.DirSource(p).List(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

func (m multiSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return lake.DirSource(name).Open(ctx, name)
}

// maxRetentionDays is the longest retention of an event data store (10
// years, the extendable billing mode's limit).
const maxRetentionDays = 3653
