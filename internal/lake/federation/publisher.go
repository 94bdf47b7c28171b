package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Federation statuses (the model's FederationStatus).
const (
	StatusEnabling  = "ENABLING"
	StatusEnabled   = "ENABLED"
	StatusDisabling = "DISABLING"
	StatusDisabled  = "DISABLED"
)

// Store is a federated event data store as the publisher needs it.
type Store struct {
	ID, Account, ARN string
	// Status is its FederationStatus: ENABLING, ENABLED or DISABLING.
	Status string
	// Category is the kind of events it holds (its eventCategory
	// selector; "" for CloudTrail events), for Options.Columns.
	Category string
}

// Catalog is the event data store catalogue as the publisher reads and
// changes it.
type Catalog interface {
	// Federated returns every store whose FederationStatus is not
	// DISABLED.
	Federated() []Store
	// SetFederationStatus changes store id's FederationStatus to to if it
	// is from, and does nothing otherwise (a request changed it
	// meanwhile); it returns an error only when the change could not be
	// stored.
	SetFederationStatus(id, from, to string) error
}

// File is one Parquet file of a store, as its MANIFEST lists it.
type File struct {
	Name   string // path under the store's directory: day=YYYY-MM-DD/NAME.parquet
	Day    string
	Rows   int64
	Bytes  int64
	SHA256 string
}

// Held is a store's file list at one MANIFEST generation; no file it lists
// is deleted before Release is called.
type Held struct {
	Generation uint64
	Dir        string // a file is Dir/File.Name
	Files      []File
	Release    func()
}

// Source gives the publisher a store's files (the Lake engine).
type Source interface {
	Hold(id string) (Held, error)
}

// Objects is the object store the published copies go to.
type Objects interface {
	HeadBucket(ctx context.Context, bucket string) (objstore.Bucket, error)
	CreateBucket(ctx context.Context, bucket string, opt objstore.BucketOptions) error
	Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error
	PutFile(ctx context.Context, bucket, key, path string, opt objstore.PutOptions) error
	List(ctx context.Context, bucket, prefix, after string, max int) (objstore.ListPage, error)
	Delete(ctx context.Context, bucket, key string) error
}

// Options configure a Publisher. Start from [DefaultOptions].
type Options struct {
	Catalog Catalog // required
	Source  Source  // required
	Objects Objects // required

	// Bucket and Prefix say where stores are published:
	// s3://Bucket/Prefix/ACCOUNT/STORE-ID/.
	Bucket string
	Prefix string
	// Endpoint returns the S3 endpoint readers reach Bucket at, named in
	// the table definitions' comments; nil or "" names none.
	Endpoint func() string
	// Grace is how long a file the published snapshot no longer lists
	// stays before it is deleted.
	Grace time.Duration
	// Interval is how often the publisher looks for changed stores
	// (Wake makes it look at once).
	Interval time.Duration
	// Columns returns the schema a store's files have; nil is
	// duck.SchemaFor(Store.Category).Columns.
	Columns func(Store) []duck.Column

	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultOptions returns the defaults: bucket opentrail-federation, prefix
// cloudtrail-lake, a 10-minute grace period, a look every 5 seconds.
func DefaultOptions() Options {
	return Options{
		Bucket:   "opentrail-federation",
		Prefix:   "cloudtrail-lake",
		Grace:    10 * time.Minute,
		Interval: 5 * time.Second,
		Now:      time.Now,
		Logger:   slog.Default(),
	}
}

// CheckpointName is the publisher's checkpoint file in the Lake's
// directory.
const CheckpointName = "federation.json"

// checkpoint is federation.json.
type checkpoint struct {
	Version int               `json:"version"`
	Stores  map[string]*entry `json:"stores"`
}

// entry is one store's published copy.
type entry struct {
	Account    string               `json:"account"`
	Bucket     string               `json:"bucket"`
	Prefix     string               `json:"prefix"`
	Generation *uint64              `json:"generation,omitempty"`
	Listed     []string             `json:"listed"`
	Unlisted   map[string]time.Time `json:"unlisted,omitempty"`
}

// ErrCheckpoint means federation.json does not parse.
var ErrCheckpoint = errors.New("federation: checkpoint damaged")

// Publisher keeps the published copies of federated stores current.
type Publisher struct {
	opts Options
	path string
	log  *slog.Logger
	wake chan struct{}

	mu sync.Mutex // one round at a time; guards ck
	ck checkpoint
}

// Open reads the checkpoint in dir (DATA-DIR/lake) and returns a
// publisher; it starts no goroutine (see Run).
func Open(dir string, opts Options) (*Publisher, error) {
	switch {
	case opts.Catalog == nil || opts.Source == nil || opts.Objects == nil:
		return nil, errors.New("federation: Options.Catalog, Source and Objects are required")
	case opts.Bucket == "":
		return nil, errors.New("federation: Options.Bucket is required")
	}
	if err := objstore.CheckBucketName(opts.Bucket); err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	def := DefaultOptions()
	if opts.Grace < 0 {
		opts.Grace = 0
	}
	if opts.Interval <= 0 {
		opts.Interval = def.Interval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Columns == nil {
		opts.Columns = func(st Store) []duck.Column { return duck.SchemaFor(st.Category).Columns() }
	}
	p := &Publisher{opts: opts, path: filepath.Join(dir, CheckpointName), log: opts.Logger, wake: make(chan struct{}, 1)}
	ck, err := readCheckpoint(p.path)
	if err != nil {
		return nil, err
	}
	p.ck = ck
	return p, nil
}

// CheckCheckpoint reads the checkpoint in dir (DATA-DIR/lake) for
// `opentrail fsck`: nil when it is missing or parses, ErrCheckpoint when
// it does not parse. It returns how many stores it records.
func CheckCheckpoint(dir string) (int, error) {
	ck, err := readCheckpoint(filepath.Join(dir, CheckpointName))
	return len(ck.Stores), err
}

// readCheckpoint reads federation.json at path; a missing file is an
// empty checkpoint, one that does not parse is ErrCheckpoint.
func readCheckpoint(path string) (checkpoint, error) {
	ck := checkpoint{Version: 1, Stores: map[string]*entry{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ck, nil
	case err != nil:
		return ck, fmt.Errorf("federation: %w", err)
	}
	if err := json.Unmarshal(b, &ck); err != nil || ck.Version != 1 {
		return ck, fmt.Errorf("%w: %s does not parse (%v); remove it and the publisher publishes every federated store again", ErrCheckpoint, path, err)
	}
	if ck.Stores == nil {
		ck.Stores = map[string]*entry{}
	}
	for id, e := range ck.Stores {
		if e == nil {
			delete(ck.Stores, id)
		} else if e.Unlisted == nil {
			e.Unlisted = map[string]time.Time{}
		}
	}
	return ck, nil
}

func (p *Publisher) saveLocked() error {
	b, err := json.Marshal(p.ck)
	if err != nil {
		return fmt.Errorf("federation: encode checkpoint: %w", err)
	}
	if err := fileutil.WriteFileAtomic(p.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("federation: save checkpoint: %w", err)
	}
	return nil
}

// StorePrefix is the key prefix of a store's published copy (ending in
// "/").
func (p *Publisher) StorePrefix(account, id string) string {
	return storePrefix(p.opts.Prefix, account, id)
}

func storePrefix(prefix, account, id string) string {
	return path.Join(prefix, account, id) + "/"
}

// Location is the s3:// URL of a store's published copy.
func (p *Publisher) Location(account, id string) string {
	return "s3://" + p.opts.Bucket + "/" + p.StorePrefix(account, id)
}

// Wake makes Run look at the stores now (after EnableFederation or
// DisableFederation).
func (p *Publisher) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends: a round at every Interval and at every
// Wake. A round's failures are logged and retried at the next.
func (p *Publisher) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		if err := p.Sync(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "federation: publishing failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-p.wake:
		}
	}
}

// Sync runs one round: it publishes every ENABLING or ENABLED store whose
// MANIFEST changed, deletes retired files whose grace period is over, and
// removes the copies of DISABLING stores (and of stores the checkpoint
// knows that are no longer federated).
func (p *Publisher) Sync(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	fed := map[string]bool{}
	for _, st := range p.opts.Catalog.Federated() {
		fed[st.ID] = true
		var err error
		switch st.Status {
		case StatusEnabling, StatusEnabled:
			err = p.publishLocked(ctx, st)
		case StatusDisabling:
			err = p.removeLocked(ctx, st)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("event data store %s: %w", st.ID, err))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(p.ck.Stores)) {
		if !fed[id] {
			// Federation is off (the catalogue was restored, or a
			// disable's last step was lost): the copy must go.
			if err := p.removeLocked(ctx, Store{ID: id, Account: p.ck.Stores[id].Account}); err != nil {
				errs = append(errs, fmt.Errorf("event data store %s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ensureBucket creates the federation bucket if it does not exist.
func (p *Publisher) ensureBucket(ctx context.Context, owner string) error {
	_, err := p.opts.Objects.HeadBucket(ctx, p.opts.Bucket)
	if errors.Is(err, objstore.ErrNoSuchBucket) {
		err = p.opts.Objects.CreateBucket(ctx, p.opts.Bucket, objstore.BucketOptions{Owner: owner})
		if errors.Is(err, objstore.ErrBucketExists) {
			err = nil
		}
		if err == nil {
			p.log.InfoContext(ctx, "federation: created the bucket federated event data stores are published to", "bucket", p.opts.Bucket)
		}
	}
	if err != nil {
		return fmt.Errorf("federation bucket %s: %w", p.opts.Bucket, err)
	}
	return nil
}

// entryLocked returns the store's checkpoint entry, making it when the
// checkpoint does not know the store: whatever is already under its data/
// prefix is recorded as unlisted, to be retired by the first publish.
func (p *Publisher) entryLocked(ctx context.Context, st Store) (*entry, error) {
	if e := p.ck.Stores[st.ID]; e != nil {
		return e, nil
	}
	e := &entry{Account: st.Account, Bucket: p.opts.Bucket, Prefix: p.StorePrefix(st.Account, st.ID), Unlisted: map[string]time.Time{}}
	keys, err := p.list(ctx, e.Bucket, e.Prefix+dataDir)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		e.Unlisted[k[len(e.Prefix+dataDir):]] = time.Time{}
	}
	p.ck.Stores[st.ID] = e
	return e, p.saveLocked()
}

// list returns every key under prefix.
func (p *Publisher) list(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	after := ""
	for {
		page, err := p.opts.Objects.List(ctx, bucket, prefix, after, 1000)
		if errors.Is(err, objstore.ErrNoSuchBucket) {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if !page.Truncated || len(page.Objects) == 0 {
			return keys, nil
		}
		after = page.Objects[len(page.Objects)-1].Key
	}
}

// Names of the published tree (docs/format/federation.md).
const (
	dataDir      = "data/"
	manifestName = "_manifest.json"
	duckdbName   = "duckdb.sql"
	trinoName    = "trino.sql"
	sparkName    = "spark.sql"
)

// publishLocked publishes the store's current snapshot if its copy is
// older, then deletes the retired files whose grace period is over.
func (p *Publisher) publishLocked(ctx context.Context, st Store) error {
	if err := p.ensureBucket(ctx, st.Account); err != nil {
		return err
	}
	e, err := p.entryLocked(ctx, st)
	if err != nil {
		return err
	}
	held, err := p.opts.Source.Hold(st.ID)
	if err != nil {
		return err
	}
	if e.Generation == nil || *e.Generation != held.Generation {
		err = p.copyLocked(ctx, st, e, held)
	} else {
		held.Release()
	}
	if err != nil {
		return err
	}
	if st.Status == StatusEnabling {
		if err := p.opts.Catalog.SetFederationStatus(st.ID, StatusEnabling, StatusEnabled); err != nil {
			return err
		}
		p.log.InfoContext(ctx, "federation: enabled; the event data store is published", "store", st.ARN, "location", p.Location(st.Account, st.ID))
	}
	return p.retireLocked(ctx, e)
}

// copyLocked uploads the files of held the copy lacks, writes the table
// definitions and the manifest, and records the snapshot. It releases
// held once the files are uploaded.
func (p *Publisher) copyLocked(ctx context.Context, st Store, e *entry, held Held) error {
	released := false
	release := func() {
		if !released {
			released = true
			held.Release()
		}
	}
	defer release()
	var added []File
	for _, f := range held.Files {
		if !slices.Contains(e.Listed, f.Name) {
			added = append(added, f)
			if _, ok := e.Unlisted[f.Name]; !ok {
				e.Unlisted[f.Name] = time.Time{}
			}
		}
	}
	if len(added) > 0 {
		if err := p.saveLocked(); err != nil {
			return err
		}
	}
	for _, f := range added {
		// Files are streamed, never read whole: a compacted file holds up
		// to 2M events (hundreds of MB).
		path := filepath.Join(held.Dir, filepath.FromSlash(f.Name))
		if f.SHA256 != "" {
			sum, err := fileutil.SHA256(path)
			if err != nil {
				return fmt.Errorf("read %s: %w", f.Name, err)
			}
			if sum != f.SHA256 {
				return fmt.Errorf("%s does not have the SHA-256 its MANIFEST records; it is not published until the Lake's scrub rebuilds it", f.Name)
			}
		}
		if err := p.opts.Objects.PutFile(ctx, e.Bucket, e.Prefix+dataDir+f.Name, path, objstore.PutOptions{ContentType: "application/vnd.apache.parquet"}); err != nil {
			return fmt.Errorf("upload %s: %w", f.Name, err)
		}
	}
	release()

	now := p.opts.Now().UTC()
	m := manifest{Version: 1, ARN: st.ARN, Account: st.Account, Generation: held.Generation,
		Published: now, Location: "s3://" + e.Bucket + "/" + e.Prefix + dataDir, Files: []manifestFile{}}
	names := make([]string, len(held.Files))
	urls := make([]string, len(held.Files))
	for i, f := range held.Files {
		key := e.Prefix + dataDir + f.Name
		names[i] = f.Name
		urls[i] = "s3://" + e.Bucket + "/" + key
		m.Files = append(m.Files, manifestFile{Key: key, Day: f.Day, Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256})
	}
	t := Table{Name: TableName(st.ID), ARN: st.ARN, Location: m.Location, Columns: p.opts.Columns(st)}
	if p.opts.Endpoint != nil {
		t.Endpoint = p.opts.Endpoint()
	}
	docs := []struct {
		name string
		body string
		typ  string
	}{
		{duckdbName, t.DuckDB(urls), "application/sql"},
		{trinoName, t.Trino(), "application/sql"},
		{sparkName, t.Spark(), "application/sql"},
	}
	for _, d := range docs {
		if err := p.opts.Objects.Put(ctx, e.Bucket, e.Prefix+d.name, []byte(d.body), objstore.PutOptions{ContentType: d.typ}); err != nil {
			return fmt.Errorf("write %s: %w", d.name, err)
		}
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := p.opts.Objects.Put(ctx, e.Bucket, e.Prefix+manifestName, append(mb, '\n'), objstore.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s: %w", manifestName, err)
	}

	first := e.Generation == nil
	for _, name := range e.Listed {
		if !slices.Contains(names, name) {
			e.Unlisted[name] = now
		}
	}
	for name, since := range e.Unlisted {
		if slices.Contains(names, name) {
			delete(e.Unlisted, name)
		} else if since.IsZero() {
			e.Unlisted[name] = now
		}
	}
	gen := held.Generation
	e.Listed, e.Generation = names, &gen
	if err := p.saveLocked(); err != nil {
		return err
	}
	if first {
		p.log.InfoContext(ctx, "federation: published", "store", st.ARN, "location", p.Location(st.Account, st.ID), "files", len(names), "generation", gen)
	}
	return nil
}

// retireLocked deletes the unlisted files retired for at least the grace
// period.
func (p *Publisher) retireLocked(ctx context.Context, e *entry) error {
	now := p.opts.Now()
	changed := false
	var err error
	for _, name := range slices.Sorted(maps.Keys(e.Unlisted)) {
		since := e.Unlisted[name]
		if since.IsZero() || now.Sub(since) < p.opts.Grace {
			continue
		}
		if err = p.opts.Objects.Delete(ctx, e.Bucket, e.Prefix+dataDir+name); err != nil {
			err = fmt.Errorf("delete retired %s: %w", name, err)
			break
		}
		delete(e.Unlisted, name)
		changed = true
	}
	if changed {
		return errors.Join(err, p.saveLocked())
	}
	return err
}

// removeLocked deletes a store's published copy (the manifest first),
// forgets it, and moves it from DISABLING to DISABLED.
func (p *Publisher) removeLocked(ctx context.Context, st Store) error {
	bucket, prefix := p.opts.Bucket, p.StorePrefix(st.Account, st.ID)
	if e := p.ck.Stores[st.ID]; e != nil {
		bucket, prefix = e.Bucket, e.Prefix
	}
	if err := p.opts.Objects.Delete(ctx, bucket, prefix+manifestName); err != nil && !errors.Is(err, objstore.ErrNoSuchBucket) {
		return fmt.Errorf("delete %s: %w", manifestName, err)
	}
	keys, err := p.list(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := p.opts.Objects.Delete(ctx, bucket, k); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
	}
	if _, ok := p.ck.Stores[st.ID]; ok {
		delete(p.ck.Stores, st.ID)
		if err := p.saveLocked(); err != nil {
			return err
		}
	}
	if st.Status == StatusDisabling {
		if err := p.opts.Catalog.SetFederationStatus(st.ID, StatusDisabling, StatusDisabled); err != nil {
			return err
		}
		p.log.InfoContext(ctx, "federation: disabled; the published copy is removed", "store", st.ARN, "location", "s3://"+bucket+"/"+prefix, "objects", len(keys))
	}
	return nil
}

// manifest is _manifest.json.
type manifest struct {
	Version    int            `json:"version"`
	ARN        string         `json:"eventDataStoreArn"`
	Account    string         `json:"account"`
	Generation uint64         `json:"generation"`
	Published  time.Time      `json:"published"`
	Location   string         `json:"location"`
	Files      []manifestFile `json:"files"`
}

type manifestFile struct {
	Key    string `json:"key"`
	Day    string `json:"day"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}
