package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/federation"
)

// fedRun is the publisher of federated event data stores and its
// goroutine.
type fedRun struct {
	p      *federation.Publisher
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// openFederation opens the publisher of federated stores (with the Lake:
// it publishes the Lake's files) into the buckets trails deliver to.
func (d *Daemon) openFederation() error {
	if d.lake == nil {
		return nil
	}
	fo := federation.DefaultOptions()
	fo.Catalog = fedCatalog{d.trails}
	fo.Source = fedSource{d.lake}
	fo.Objects = d.objects
	c := d.cfg.Lake.Federation
	if c.Bucket != "" {
		fo.Bucket = c.Bucket
	}
	if c.Prefix != "" {
		fo.Prefix = c.Prefix
	}
	if c.Grace > 0 {
		fo.Grace = time.Duration(c.Grace)
	}
	fo.Endpoint = func() string {
		if e := d.cfg.Buckets.Endpoint; e != "" {
			return e
		}
		if d.ln == nil {
			return ""
		}
		return d.publicURL()
	}
	fo.Logger = d.log
	p, err := federation.Open(d.dir.Path(datadir.LakeDir), fo)
	if err != nil {
		return err
	}
	d.fed = &fedRun{p: p}
	return nil
}

// Federation gives tests the publisher of federated stores (nil without
// the Lake).
func (d *Daemon) Federation() *federation.Publisher {
	if d.fed == nil {
		return nil
	}
	return d.fed.p
}

func (f *fedRun) start() {
	if f == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.wg.Go(func() { _ = f.p.Run(ctx) })
}

func (f *fedRun) stop() {
	if f == nil || f.cancel == nil {
		return
	}
	f.cancel()
	f.wg.Wait()
	f.cancel = nil
}

// Wake makes the publisher look at the stores now.
func (f *fedRun) Wake() { f.p.Wake() }

// fedCatalog is the event data store catalogue as the publisher reads
// and changes it.
type fedCatalog struct{ c *catalog.Catalog }

var _ federation.Catalog = fedCatalog{}

func (fc fedCatalog) Federated() []federation.Store {
	var out []federation.Store
	for _, s := range fc.c.AllDataStores() {
		if s.FederationStatus != "" && s.FederationStatus != catalog.FederationDisabled {
			out = append(out, federation.Store{ID: s.ID, Account: s.Account, ARN: s.ARN(), Status: s.FederationStatus, Category: s.Category()})
		}
	}
	return out
}

// errFederationMoved: the status is no longer the one the publisher saw.
var errFederationMoved = errors.New("federation status changed meanwhile")

// SetFederationStatus moves the store's FederationStatus; DISABLED also
// forgets the federation role.
func (fc fedCatalog) SetFederationStatus(id, from, to string) error {
	_, err := fc.c.UpdateDataStore(id, nil, func(d *catalog.DataStore) error {
		if d.FederationStatus != from {
			return errFederationMoved
		}
		d.FederationStatus = to
		if to == catalog.FederationDisabled {
			d.FederationRoleArn = ""
		}
		return nil
	})
	if errors.Is(err, errFederationMoved) || errors.Is(err, catalog.ErrDataStoreNotFound) {
		return nil
	}
	return err
}

// fedSource hands the publisher the Lake's files of a store.
type fedSource struct{ e *lake.Engine }

func (s fedSource) Hold(id string) (federation.Held, error) {
	h, err := s.e.HoldFiles(id)
	if err != nil {
		return federation.Held{}, err
	}
	files := make([]federation.File, len(h.Files))
	for i, f := range h.Files {
		files[i] = federation.File{Name: f.Name, Day: f.Day, Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256}
	}
	return federation.Held{Generation: h.Generation, Dir: h.Dir, Files: files, Release: h.Release}, nil
}

// checkFederation adds the publisher's checkpoint to the Lake's fsck
// report: a checkpoint that does not parse stops the server.
func checkFederation(root string, st *followerState) {
	n, err := federation.CheckCheckpoint(filepath.Join(root, datadir.LakeDir))
	if err != nil {
		st.problems = append(st.problems, err.Error())
		return
	}
	if n > 0 {
		st.lines = append(st.lines, fmt.Sprintf("lake: %d federated event data stores published (%s)", n, federation.CheckpointName))
	}
}
