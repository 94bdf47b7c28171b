// Package catalog owns OpenTrail's trail, event data store and channel
// definitions. Trails (each trail's settings, event and Insights
// selectors, tags and logging state) are kept in one JSON file,
// DIR/trails.json (docs/format/trails.md); CloudTrail Lake event data
// stores (settings, selectors, tags, status and the ranges of the event
// log each ingests) in another, DIR/eventdatastores.json
// (docs/format/eventdatastores.md); CloudTrail Lake channels (source,
// destination stores with the ranges of the log each takes from the
// channel, tags, resource policy) in a third, DIR/channels.json, and their
// ingestion statuses in DIR/channelstatus.json (docs/format/channels.md).
// Every change replaces its file atomically.
//
// The catalog enforces what needs the whole set at once: unique names per
// account and home region, the per-region quotas of trails and of event
// data stores, the restore window of deleted stores, and each store's
// ingest ranges, which follow its status and the event log's head.
// Field-level validation (names, buckets, selectors, status rules) belongs
// to the API, which reports it with CloudTrail's error codes. Trail delivery
// reads [Catalog.All] to learn which trails log what; the Lake engine
// reads [Catalog.AllDataStores] to learn which stores ingest what, and
// removes a deleted store with [Catalog.PurgeDataStore] once it has
// deleted its files.
package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// FileName is the catalog's file inside its directory.
const FileName = "trails.json"

// Sentinel errors.
var (
	// ErrExists: a trail with this name already exists in the account and
	// home region (TrailAlreadyExistsException).
	ErrExists = errors.New("catalog: trail already exists")
	// ErrNotFound: no trail has this ARN (TrailNotFoundException).
	ErrNotFound = errors.New("catalog: trail not found")
	// ErrLimit: the region already shows the maximum number of trails
	// (MaximumNumberOfTrailsExceededException).
	ErrLimit = errors.New("catalog: too many trails in the region")
)

// LimitError is ErrLimit, ErrDataStoreLimit when Stores is set, or
// ErrChannelLimit when Channels is set, with the region that is full and
// the quota.
type LimitError struct {
	Region string
	Max    int
	// Stores marks the event data store quota, Channels the channel
	// quota; otherwise it is the trail quota.
	Stores   bool
	Channels bool
}

func (e *LimitError) Error() string {
	what := "trails"
	switch {
	case e.Stores:
		what = "event data stores"
	case e.Channels:
		what = "channels"
	}
	return fmt.Sprintf("catalog: %s already has %d %s, the most allowed", e.Region, e.Max, what)
}

// Is makes errors.Is(err, ErrLimit) true, or errors.Is(err,
// ErrDataStoreLimit) when Stores is set, or errors.Is(err,
// ErrChannelLimit) when Channels is set.
func (e *LimitError) Is(target error) bool {
	switch {
	case e.Stores:
		return target == ErrDataStoreLimit
	case e.Channels:
		return target == ErrChannelLimit
	}
	return target == ErrLimit
}

// Trail is one trail.
type Trail struct {
	Name       string `json:"name"`
	Account    string `json:"account"`
	HomeRegion string `json:"homeRegion"`

	S3BucketName               string `json:"s3BucketName"`
	S3KeyPrefix                string `json:"s3KeyPrefix,omitempty"` // without a trailing "/"
	SnsTopicARN                string `json:"snsTopicArn,omitempty"`
	IncludeGlobalServiceEvents bool   `json:"includeGlobalServiceEvents"`
	IsMultiRegionTrail         bool   `json:"isMultiRegionTrail"`
	LogFileValidationEnabled   bool   `json:"logFileValidationEnabled"`
	CloudWatchLogsLogGroupArn  string `json:"cloudWatchLogsLogGroupArn,omitempty"`
	CloudWatchLogsRoleArn      string `json:"cloudWatchLogsRoleArn,omitempty"`
	KmsKeyID                   string `json:"kmsKeyId,omitempty"`
	IsOrganizationTrail        bool   `json:"isOrganizationTrail"`

	// Selectors are the event selectors; the zero Set means the default
	// (all management events).
	Selectors        selector.Set      `json:"selectors"`
	InsightSelectors []InsightSelector `json:"insightSelectors,omitempty"`
	Tags             []Tag             `json:"tags,omitempty"`

	Logging          bool      `json:"logging"`
	StartLoggingTime time.Time `json:"startLoggingTime,omitzero"`
	StopLoggingTime  time.Time `json:"stopLoggingTime,omitzero"`
	CreatedTime      time.Time `json:"createdTime"`
	// ValidationSince is when log file validation was last turned on.
	ValidationSince time.Time `json:"validationSince,omitzero"`
	// StopRequestID is the request id of the StopLogging call that stopped
	// the trail: delivery still records that one call's event.
	StopRequestID string `json:"stopRequestId,omitempty"`
	// Generation increases with every change; followers use it to notice
	// that a trail changed.
	Generation uint64 `json:"generation"`
}

// InsightSelector is one Insights type a trail logs.
type InsightSelector struct {
	InsightType     string   `json:"InsightType"`
	EventCategories []string `json:"EventCategories,omitempty"`
}

// Tag is a resource tag; Value nil is a key without a value.
type Tag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

// ARN returns the trail's ARN.
func (t *Trail) ARN() string { return ARN(t.HomeRegion, t.Account, t.Name) }

// ARN builds a trail ARN.
func ARN(region, account, name string) string {
	return "arn:aws:cloudtrail:" + region + ":" + account + ":trail/" + name
}

// VisibleIn reports whether the trail shows in region: its home region,
// and every region for a multi-region trail (as a shadow trail).
func (t *Trail) VisibleIn(region string) bool {
	return t.HomeRegion == region || t.IsMultiRegionTrail
}

// Covers reports whether the trail records events of region.
func (t *Trail) Covers(region string) bool { return t.VisibleIn(region) }

// DigestEpoch identifies the trail's current digest chain: it changes
// when logging starts or validation is turned on, the two events that
// start a new chain. Files staged in one epoch belong to its chain only.
func (t *Trail) DigestEpoch() time.Time {
	if t.ValidationSince.After(t.StartLoggingTime) {
		return t.ValidationSince
	}
	return t.StartLoggingTime
}

// Clone returns an exact deep copy: every slice and pointer is copied,
// nil and empty slices stay as they are, and nothing is normalized (no
// selector default is filled in), so the copy equals t field by field and
// shares no memory with it.
func (t Trail) Clone() Trail {
	t.Selectors = t.Selectors.Clone()
	t.InsightSelectors = cloneInsightSelectors(t.InsightSelectors)
	t.Tags = cloneTags(t.Tags)
	return t
}

// cloneInsightSelectors deep-copies sel; nil stays nil.
func cloneInsightSelectors(sel []InsightSelector) []InsightSelector {
	sel = slices.Clone(sel)
	for i := range sel {
		sel[i].EventCategories = slices.Clone(sel[i].EventCategories)
	}
	return sel
}

// HasInsight reports whether sel has Insights of type typ on category
// (Management or Data; no EventCategories means Management).
func HasInsight(sel []InsightSelector, typ, category string) bool {
	for _, s := range sel {
		cats := s.EventCategories
		if len(cats) == 0 {
			cats = []string{"Management"}
		}
		if s.InsightType == typ && slices.Contains(cats, category) {
			return true
		}
	}
	return false
}

// cloneTags deep-copies tags; nil stays nil.
func cloneTags(tags []Tag) []Tag {
	tags = slices.Clone(tags)
	for i, tag := range tags {
		if tag.Value != nil {
			v := *tag.Value
			tags[i].Value = &v
		}
	}
	return tags
}

// file is the JSON document.
type file struct {
	Version int     `json:"version"`
	Trails  []Trail `json:"trails"`
}

// Catalog holds the trails and the event data stores. It is safe for
// concurrent use.
type Catalog struct {
	path       string
	storesPath string
	maxTrail   int
	maxStores  int
	now        func() time.Time
	// Channels (channels.go) and their ingestion statuses
	// (channelstatus.go).
	channelsPath string
	maxChannels  int
	ingest       *ingestion

	mu       sync.RWMutex
	trails   map[string]*Trail     // by ARN
	stores   map[string]*DataStore // by id
	channels map[string]*Channel   // by id
	gen      uint64
}

// Options configure a Catalog.
type Options struct {
	// MaxTrailsPerRegion is the trail quota per account and region (AWS:
	// 5). A multi-region trail counts in every region.
	MaxTrailsPerRegion int
	// MaxDataStoresPerRegion is the event data store quota per account
	// and region (AWS: 10). A store counts in its home region only;
	// stores pending deletion do not count.
	MaxDataStoresPerRegion int
	// MaxChannelsPerRegion is the channel quota per account and region
	// (AWS: 25); deleted channels do not count.
	MaxChannelsPerRegion int
	// Now is the clock the restore window of deleted event data stores is
	// measured with; nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns AWS's quotas and the real clock.
func DefaultOptions() Options {
	return Options{MaxTrailsPerRegion: 5, MaxDataStoresPerRegion: 10, MaxChannelsPerRegion: 25, Now: time.Now}
}

// Open loads DIR/trails.json and DIR/eventdatastores.json; a missing file
// holds nothing. A file that does not parse, or an event data store entry
// that breaks the rules of its format, is refused with an error naming the
// file.
func Open(dir string, opts Options) (*Catalog, error) {
	d := DefaultOptions()
	if opts.MaxTrailsPerRegion <= 0 {
		opts.MaxTrailsPerRegion = d.MaxTrailsPerRegion
	}
	if opts.MaxDataStoresPerRegion <= 0 {
		opts.MaxDataStoresPerRegion = d.MaxDataStoresPerRegion
	}
	if opts.MaxChannelsPerRegion <= 0 {
		opts.MaxChannelsPerRegion = d.MaxChannelsPerRegion
	}
	if opts.Now == nil {
		opts.Now = d.Now
	}
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	c := &Catalog{
		path: filepath.Join(dir, FileName), maxTrail: opts.MaxTrailsPerRegion, maxStores: opts.MaxDataStoresPerRegion,
		maxChannels: opts.MaxChannelsPerRegion,
		now:         opts.Now, trails: map[string]*Trail{}, stores: map[string]*DataStore{},
	}
	if err := c.loadTrails(); err != nil {
		return nil, err
	}
	if err := c.loadDataStores(dir); err != nil {
		return nil, err
	}
	if err := c.loadChannels(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// loadTrails reads DIR/trails.json into c; a missing file is no trails.
func (c *Catalog) loadTrails() error {
	b, err := os.ReadFile(c.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("open catalog: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("open catalog: %s is damaged (%v); restore it from a backup or remove it to start without trails", c.path, err)
	}
	for i := range f.Trails {
		t := f.Trails[i]
		c.trails[t.ARN()] = &t
		c.gen = max(c.gen, t.Generation)
	}
	return nil
}

// Get returns the trail with this ARN.
func (c *Catalog) Get(arn string) (Trail, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.trails[arn]
	if !ok {
		return Trail{}, false
	}
	return t.Clone(), true
}

// List returns the account's trails visible in region ("" for every
// region), sorted by ARN.
func (c *Catalog) List(account, region string) []Trail {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Trail
	for _, t := range c.trails {
		if t.Account == account && (region == "" || t.VisibleIn(region)) {
			out = append(out, t.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Trail) int { return strings.Compare(a.ARN(), b.ARN()) })
	return out
}

// All returns every trail of every account, sorted by ARN.
func (c *Catalog) All() []Trail {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Trail, 0, len(c.trails))
	for _, t := range c.trails {
		out = append(out, t.Clone())
	}
	slices.SortFunc(out, func(a, b Trail) int { return strings.Compare(a.ARN(), b.ARN()) })
	return out
}

// Create adds t; it fails with ErrExists or ErrLimit.
func (c *Catalog) Create(t Trail) (Trail, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	arn := t.ARN()
	if _, ok := c.trails[arn]; ok {
		return Trail{}, fmt.Errorf("%w: %s", ErrExists, arn)
	}
	if err := c.checkLimitLocked(&t, ""); err != nil {
		return Trail{}, err
	}
	c.gen++
	t.Generation = c.gen
	t, err := persisted(t)
	if err != nil {
		return Trail{}, err
	}
	c.trails[arn] = &t
	if err := c.saveLocked(); err != nil {
		delete(c.trails, arn)
		return Trail{}, err
	}
	return t.Clone(), nil
}

// checkLimitLocked fails when adding t (or changing the trail skip into
// t) would make some region show more than the quota.
func (c *Catalog) checkLimitLocked(t *Trail, skip string) error {
	regions := map[string]bool{t.HomeRegion: true}
	if t.IsMultiRegionTrail {
		for _, o := range c.trails {
			if o.Account == t.Account {
				regions[o.HomeRegion] = true
			}
		}
	}
	for r := range regions {
		n := 1
		for arn, o := range c.trails {
			if arn != skip && o.Account == t.Account && o.VisibleIn(r) {
				n++
			}
		}
		if n > c.maxTrail {
			return &LimitError{Region: r, Max: c.maxTrail}
		}
	}
	return nil
}

// Update applies fn to a copy of the trail and stores the result; an error
// from fn leaves the trail unchanged and is returned as is.
func (c *Catalog) Update(arn string, fn func(*Trail) error) (Trail, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.trails[arn]
	if !ok {
		return Trail{}, fmt.Errorf("%w: %s", ErrNotFound, arn)
	}
	t := old.Clone()
	if err := fn(&t); err != nil {
		return Trail{}, err
	}
	if t.ARN() != arn {
		return Trail{}, fmt.Errorf("catalog: update may not change the trail's identity (%s to %s)", arn, t.ARN())
	}
	if t.IsMultiRegionTrail && !old.IsMultiRegionTrail {
		if err := c.checkLimitLocked(&t, arn); err != nil {
			return Trail{}, err
		}
	}
	c.gen++
	t.Generation = c.gen
	t, err := persisted(t)
	if err != nil {
		return Trail{}, err
	}
	c.trails[arn] = &t
	if err := c.saveLocked(); err != nil {
		c.trails[arn] = old
		return Trail{}, err
	}
	return t.Clone(), nil
}

// persisted returns t as trails.json holds it and Open reads it back: the
// JSON encoding fills in selector defaults and drops empty lists. The
// catalog keeps every trail (and every event data store) in this form, so
// it reads the same before and after a restart; [Trail.Clone] copies it
// exactly.
func persisted(t Trail) (Trail, error) {
	out, err := roundTrip(t)
	if err != nil {
		return Trail{}, fmt.Errorf("catalog: trail %s: %w", t.ARN(), err)
	}
	return out, nil
}

// roundTrip returns v encoded to JSON and decoded again.
func roundTrip[T any](v T) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, fmt.Errorf("encode: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("decode: %w", err)
	}
	return out, nil
}

// Delete removes the trail.
func (c *Catalog) Delete(arn string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.trails[arn]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, arn)
	}
	delete(c.trails, arn)
	if err := c.saveLocked(); err != nil {
		c.trails[arn] = old
		return err
	}
	c.gen++
	return nil
}

// Generation changes whenever a trail is created, changed or deleted;
// followers compare it to skip re-reading an unchanged catalogue.
func (c *Catalog) Generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *Catalog) saveLocked() error {
	f := file{Version: 1, Trails: make([]Trail, 0, len(c.trails))}
	for _, t := range c.trails {
		f.Trails = append(f.Trails, *t)
	}
	slices.SortFunc(f.Trails, func(a, b Trail) int { return strings.Compare(a.ARN(), b.ARN()) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	if err := fileutil.WriteFileAtomic(c.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save catalog: %w", err)
	}
	return nil
}
