package catalog

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// DataStoresFileName is the event data store catalogue's file inside the
// catalog's directory (docs/format/eventdatastores.md).
const DataStoresFileName = "eventdatastores.json"

// Statuses of an event data store (lake.md §2.2). OpenTrail skips the
// transient ones (CREATED, STARTING_INGESTION, STOPPING_INGESTION): a
// change of status takes effect at once.
const (
	StatusEnabled          = "ENABLED"
	StatusStoppedIngestion = "STOPPED_INGESTION"
	StatusPendingDeletion  = "PENDING_DELETION"
)

// Billing modes.
const (
	BillingExtendable = "EXTENDABLE_RETENTION_PRICING"
	BillingFixed      = "FIXED_RETENTION_PRICING"
)

// Default retention periods, in days, of the billing modes.
const (
	DefaultRetentionExtendable = 366
	DefaultRetentionFixed      = 2557
)

// FederationDisabled is the FederationStatus of a store without Lake
// query federation.
const FederationDisabled = "DISABLED"

// The other FederationStatus values: EnableFederation sets ENABLING, the
// publisher ENABLED once the store is published; DisableFederation sets
// DISABLING, the publisher DISABLED once the published copy is gone
// (docs/format/federation.md).
const (
	FederationEnabling  = "ENABLING"
	FederationEnabled   = "ENABLED"
	FederationDisabling = "DISABLING"
)

// DataStoreRestoreWindow is how long a deleted store stays in
// PENDING_DELETION and can be restored. After it the store is gone for
// the API; the Lake engine deletes its files and then [Catalog.PurgeDataStore]
// removes the entry.
const DataStoreRestoreWindow = 7 * 24 * time.Hour

// Sentinel errors of event data stores.
var (
	// ErrDataStoreExists: a store with this name already exists in the
	// account and home region (EventDataStoreAlreadyExistsException).
	ErrDataStoreExists = errors.New("catalog: event data store already exists")
	// ErrDataStoreNotFound: no store has this id, or its restore window is
	// over (EventDataStoreNotFoundException).
	ErrDataStoreNotFound = errors.New("catalog: event data store not found")
	// ErrDataStoreLimit: the region already holds the most event data
	// stores the quota allows (EventDataStoreMaxLimitExceededException);
	// returned as a *LimitError with Stores set.
	ErrDataStoreLimit = errors.New("catalog: too many event data stores in the region")
)

// SeqRange is a range of event-log sequence numbers a store ingests: From
// is the first, To the last; To 0 means the store still ingests.
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// DataStore is one CloudTrail Lake event data store.
type DataStore struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Account    string `json:"account"`
	HomeRegion string `json:"homeRegion"`

	// AdvancedEventSelectors decide what the store holds; a store created
	// without any holds selector.DefaultDataStore.
	AdvancedEventSelectors       []selector.AdvancedEventSelector `json:"advancedEventSelectors"`
	MultiRegionEnabled           bool                             `json:"multiRegionEnabled"`
	OrganizationEnabled          bool                             `json:"organizationEnabled"`
	TerminationProtectionEnabled bool                             `json:"terminationProtectionEnabled"`
	RetentionPeriod              int                              `json:"retentionPeriod"` // days
	BillingMode                  string                           `json:"billingMode"`
	KmsKeyID                     string                           `json:"kmsKeyId,omitempty"`

	Status string `json:"status"`
	// RestoreStatus is, while the store is PENDING_DELETION, the status
	// RestoreEventDataStore returns it to.
	RestoreStatus    string    `json:"restoreStatus,omitempty"`
	CreatedTimestamp time.Time `json:"createdTimestamp"`
	UpdatedTimestamp time.Time `json:"updatedTimestamp"`
	// DeletedAt is when the store entered PENDING_DELETION.
	DeletedAt time.Time `json:"deletedAt,omitzero"`

	// InsightSelectors are the Insights a store of CloudTrail events has
	// on (PutInsightSelectors with EventDataStore), and
	// InsightsDestination the ARN of the store of category Insight its
	// Insights records go to; both empty when Insights are off
	// (decision §80).
	InsightSelectors    []InsightSelector `json:"insightSelectors,omitempty"`
	InsightsDestination string            `json:"insightsDestination,omitempty"`

	FederationStatus  string `json:"federationStatus"`
	FederationRoleArn string `json:"federationRoleArn,omitempty"`
	Tags              []Tag  `json:"tags,omitempty"`

	// MaxEventSize and ContextKeySelectors are the store's event
	// configuration (PutEventConfiguration): MaxEventSizeStandard when
	// empty, and no enrichment when ContextKeySelectors is empty.
	MaxEventSize        string               `json:"maxEventSize,omitempty"`
	ContextKeySelectors []ContextKeySelector `json:"contextKeySelectors,omitempty"`

	// Ingest lists the ranges of event-log sequence numbers the store
	// ingests, oldest first; only the last may be open (To 0), and it is
	// open exactly while the store is ENABLED. The catalog keeps it: a
	// change to ENABLED opens a range at the log's head + 1, a change away
	// from it closes the open range at the head.
	Ingest []SeqRange `json:"ingest,omitempty"`

	// Generation increases with every change.
	Generation uint64 `json:"generation"`
}

// ARN returns the store's ARN.
func (d *DataStore) ARN() string { return DataStoreARN(d.HomeRegion, d.Account, d.ID) }

// DataStoreARN builds an event data store ARN.
func DataStoreARN(region, account, id string) string {
	return "arn:aws:cloudtrail:" + region + ":" + account + ":eventdatastore/" + id
}

// Covers reports whether the store takes events of region: its home
// region, and every region when it is multi-region.
func (d *DataStore) Covers(region string) bool {
	return d.HomeRegion == region || d.MultiRegionEnabled
}

// Ingests reports whether seq lies in one of the store's Ingest ranges.
func (d *DataStore) Ingests(seq uint64) bool {
	for _, r := range d.Ingest {
		if seq >= r.From && (r.To == 0 || seq <= r.To) {
			return true
		}
	}
	return false
}

// Category returns the eventCategory the store's selectors select
// (selector.StoreCategory): Management, Data or NetworkActivity for a
// store of CloudTrail events (whose selectors may combine the three; this
// is the first selector's), or Insight, ConfigurationItem, Evidence or
// ActivityAuditLog. "" when the store has no selectors, which means
// management events.
func (d *DataStore) Category() string { return selector.StoreCategory(d.AdvancedEventSelectors) }

// CloudTrailEvents reports whether the store holds CloudTrail events
// (management, data or network activity events), the kind of store that
// ingests from the event log through its selectors.
func (d *DataStore) CloudTrailEvents() bool {
	c := d.Category()
	return c == "" || selector.CloudTrailCategory(c)
}

// Expired reports whether the store has been PENDING_DELETION for the
// whole restore window at now: it can no longer be restored, and it is
// gone for the API.
func (d *DataStore) Expired(now time.Time) bool {
	return d.Status == StatusPendingDeletion && !now.Before(d.DeletedAt.Add(DataStoreRestoreWindow))
}

// Clone returns an exact deep copy of d (see [Trail.Clone]).
func (d DataStore) Clone() DataStore {
	d.AdvancedEventSelectors = selector.Set{AdvancedEventSelectors: d.AdvancedEventSelectors}.Clone().AdvancedEventSelectors
	d.Tags = cloneTags(d.Tags)
	d.Ingest = slices.Clone(d.Ingest)
	d.InsightSelectors = cloneInsightSelectors(d.InsightSelectors)
	d.ContextKeySelectors = cloneContextKeySelectors(d.ContextKeySelectors)
	return d
}

// dataStoresFile is the JSON document.
type dataStoresFile struct {
	Version    int         `json:"version"`
	DataStores []DataStore `json:"eventDataStores"`
}

// loadDataStores reads DIR/eventdatastores.json into c; a missing file is
// no stores.
func (c *Catalog) loadDataStores(dir string) error {
	c.storesPath = filepath.Join(dir, DataStoresFileName)
	gen, err := loadEntries(c.storesPath, "eventDataStores", "every event data store", checkDataStoreEntry,
		func(d *DataStore) (string, uint64) { return d.ID, d.Generation }, c.stores)
	c.gen = max(c.gen, gen)
	return err
}

// loadEntries reads the JSON file at path, whose entries are the list
// named list, into into by id: each entry must pass check and have an id
// of its own. It returns the highest generation. A missing file is no
// entries; one that does not parse or breaks a rule is refused, naming
// the file, the entry and what removing the file forgets.
func loadEntries[T any](path, list, forgets string, check func(*T) error, key func(*T) (id string, gen uint64), into map[string]*T) (uint64, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("open catalog: %w", err)
	}
	damaged := func(why string) error {
		return fmt.Errorf("open catalog: %s is damaged (%s); restore it from a backup (removing it forgets %s)", path, why, forgets)
	}
	var doc map[string]json.RawMessage
	var entries []T
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, damaged(err.Error())
	}
	if raw, ok := doc[list]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil {
			return 0, damaged(err.Error())
		}
	}
	var maxGen uint64
	for i := range entries {
		e := &entries[i]
		if err := check(e); err != nil {
			return 0, damaged(fmt.Sprintf("%s[%d]: %v", list, i, err))
		}
		id, gen := key(e)
		if _, dup := into[id]; dup {
			return 0, damaged(fmt.Sprintf("%s[%d]: the id %s appears more than once", list, i, id))
		}
		into[id] = e
		maxGen = max(maxGen, gen)
	}
	return maxGen, nil
}

// checkDataStoreEntry checks the rules of docs/format/eventdatastores.md
// that the rest of OpenTrail relies on.
func checkDataStoreEntry(d *DataStore) error {
	if !validStoreID(d.ID) {
		return fmt.Errorf("id %q is not 1 to 64 letters, digits and hyphens", d.ID)
	}
	if !event.ValidAccountID(d.Account) {
		return fmt.Errorf("store %s: account %q is not a 12-digit account id", d.ID, d.Account)
	}
	if !event.ValidRegion(d.HomeRegion) {
		return fmt.Errorf("store %s: homeRegion %q is not a region name", d.ID, d.HomeRegion)
	}
	if d.Name == "" {
		return fmt.Errorf("store %s has no name", d.ID)
	}
	switch d.Status {
	case StatusEnabled, StatusStoppedIngestion, StatusPendingDeletion:
	default:
		return fmt.Errorf("store %s: unknown status %q (want %s, %s or %s)", d.ID, d.Status, StatusEnabled, StatusStoppedIngestion, StatusPendingDeletion)
	}
	if err := checkEventConfiguration(d); err != nil {
		return fmt.Errorf("store %s: %w", d.ID, err)
	}
	if err := checkRanges(d.Ingest); err != nil {
		return fmt.Errorf("store %s: %w", d.ID, err)
	}
	if open := ingestOpen(d); open != (d.Status == StatusEnabled) {
		if open {
			return fmt.Errorf("store %s is %s but its last ingest range is open", d.ID, d.Status)
		}
		return fmt.Errorf("store %s is ENABLED but has no open ingest range", d.ID)
	}
	return nil
}

// validStoreID accepts the ids OpenTrail makes (lowercase UUIDs) and the
// like of AWS's examples: 1 to 64 letters, digits and hyphens, nothing
// that could name a path outside a directory.
func validStoreID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func ingestOpen(d *DataStore) bool {
	return len(d.Ingest) > 0 && d.Ingest[len(d.Ingest)-1].To == 0
}

// newStoreID returns a random lowercase UUID v4.
func newStoreID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// CreateDataStore adds d under a new random id and returns it as stored.
// It fills in what d leaves empty: the default selectors
// (selector.DefaultDataStore), the billing mode (extendable) and its
// default retention, FederationStatus DISABLED, and the creation and
// update times (the catalog's clock). d.Status must be
// ENABLED or STOPPED_INGESTION; an ENABLED store ingests from head()+1 on.
// It fails with ErrDataStoreExists (the name is taken in the account and
// region) or a *LimitError.
func (c *Catalog) CreateDataStore(d DataStore, head func() uint64) (DataStore, error) {
	if d.Status != StatusEnabled && d.Status != StatusStoppedIngestion {
		return DataStore{}, fmt.Errorf("catalog: a new event data store must be %s or %s, not %q", StatusEnabled, StatusStoppedIngestion, d.Status)
	}
	if len(d.AdvancedEventSelectors) == 0 {
		d.AdvancedEventSelectors = selector.DefaultDataStore()
	}
	if d.BillingMode == "" {
		d.BillingMode = BillingExtendable
	}
	if d.RetentionPeriod == 0 {
		d.RetentionPeriod = DefaultRetentionExtendable
		if d.BillingMode == BillingFixed {
			d.RetentionPeriod = DefaultRetentionFixed
		}
	}
	if d.FederationStatus == "" {
		d.FederationStatus = FederationDisabled
	}
	d.Ingest, d.RestoreStatus, d.DeletedAt = nil, "", time.Time{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.CreatedTimestamp.IsZero() {
		d.CreatedTimestamp = c.now().UTC()
	}
	if d.UpdatedTimestamp.IsZero() {
		d.UpdatedTimestamp = d.CreatedTimestamp
	}
	d.ID = newStoreID()
	for c.stores[d.ID] != nil {
		d.ID = newStoreID()
	}
	if err := c.checkNameLocked(&d); err != nil {
		return DataStore{}, err
	}
	if err := c.checkStoreLimitLocked(&d); err != nil {
		return DataStore{}, err
	}
	return c.putStoreLocked(d, nil, head)
}

// GetDataStore returns the account's store named by idOrARN: its id, or
// its ARN (arn:aws:cloudtrail:HOME:ACCOUNT:eventdatastore/ID, which must
// name the store's home region and account). A store of another account,
// and one whose restore window is over, is not found.
func (c *Catalog) GetDataStore(account, idOrARN string) (DataStore, bool) {
	id, region := idOrARN, ""
	if strings.HasPrefix(idOrARN, "arn:") {
		p := strings.SplitN(idOrARN, ":", 6)
		if len(p) != 6 || p[1] != "aws" || p[2] != "cloudtrail" || p[4] != account || !strings.HasPrefix(p[5], "eventdatastore/") {
			return DataStore{}, false
		}
		id, region = strings.TrimPrefix(p[5], "eventdatastore/"), p[3]
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	d, ok := c.stores[id]
	if !ok || d.Account != account || region != "" && d.HomeRegion != region || d.Expired(c.now()) {
		return DataStore{}, false
	}
	return d.Clone(), true
}

// ListDataStores returns the account's stores whose home region is region
// ("" for every region), PENDING_DELETION ones included but not those
// whose restore window is over, sorted by id. A multi-region store is
// listed in its home region only (docs/design/decisions.md).
func (c *Catalog) ListDataStores(account, region string) []DataStore {
	c.mu.RLock()
	defer c.mu.RUnlock()
	now := c.now()
	var out []DataStore
	for _, d := range c.stores {
		if d.Account == account && (region == "" || d.HomeRegion == region) && !d.Expired(now) {
			out = append(out, d.Clone())
		}
	}
	slices.SortFunc(out, func(a, b DataStore) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// AllDataStores returns every store of every account, in any status
// (those whose restore window is over included, until they are purged),
// sorted by id.
func (c *Catalog) AllDataStores() []DataStore {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]DataStore, 0, len(c.stores))
	for _, d := range c.stores {
		out = append(out, d.Clone())
	}
	slices.SortFunc(out, func(a, b DataStore) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// UpdateDataStore applies fn to a copy of the store with this id and
// stores the result; an error from fn leaves the store unchanged and is
// returned as is. fn may not change the id, account or home region. The
// catalog then enforces what needs every store: a new name must be free
// (ErrDataStoreExists), a store leaving PENDING_DELETION must fit the
// quota (*LimitError), and Ingest follows the status (head is
// read when a range opens or closes). A store whose restore window is
// over cannot change (ErrDataStoreNotFound), nor can a store a live
// channel delivers to be deleted (ErrStoreHasChannel).
func (c *Catalog) UpdateDataStore(id string, head func() uint64, fn func(*DataStore) error) (DataStore, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.stores[id]
	if !ok || old.Expired(c.now()) {
		return DataStore{}, fmt.Errorf("%w: %s", ErrDataStoreNotFound, id)
	}
	d := old.Clone()
	if err := fn(&d); err != nil {
		return DataStore{}, err
	}
	if d.ID != old.ID || d.Account != old.Account || d.HomeRegion != old.HomeRegion {
		return DataStore{}, fmt.Errorf("catalog: update may not change the event data store's identity (%s to %s)", old.ARN(), d.ARN())
	}
	switch d.Status {
	case StatusEnabled, StatusStoppedIngestion, StatusPendingDeletion:
	default:
		return DataStore{}, fmt.Errorf("catalog: event data store %s: unknown status %q", id, d.Status)
	}
	if d.Name != old.Name {
		if err := c.checkNameLocked(&d); err != nil {
			return DataStore{}, err
		}
	}
	if d.Status == StatusPendingDeletion && old.Status != StatusPendingDeletion {
		if chs := c.channelsToLocked(old.ARN()); len(chs) > 0 {
			return DataStore{}, fmt.Errorf("event data store %s: %w: %s", id, ErrStoreHasChannel, strings.Join(chs, ", "))
		}
	}
	if old.Status == StatusPendingDeletion && d.Status != StatusPendingDeletion {
		if err := c.checkStoreLimitLocked(&d); err != nil {
			return DataStore{}, err
		}
	}
	return c.putStoreLocked(d, old, head)
}

// PurgeDataStore removes the store with this id for good. Only a store
// whose restore window is over may go: the Lake engine calls it once it
// has deleted the store's files.
func (c *Catalog) PurgeDataStore(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.stores[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", ErrDataStoreNotFound, id)
	case d.Status != StatusPendingDeletion:
		return fmt.Errorf("catalog: event data store %s is %s, not %s: it cannot be purged", id, d.Status, StatusPendingDeletion)
	case !d.Expired(c.now()):
		return fmt.Errorf("catalog: event data store %s can still be restored until %s: it cannot be purged yet",
			id, d.DeletedAt.Add(DataStoreRestoreWindow).UTC().Format(time.RFC3339))
	}
	delete(c.stores, id)
	if err := c.saveDataStoresLocked(); err != nil {
		c.stores[id] = d
		return err
	}
	c.gen++
	return nil
}

// DataStoreGeneration changes whenever an event data store is created,
// changed or purged (it is the counter trails share, so it also changes
// with them); the Lake engine compares it to skip re-reading an unchanged
// catalogue.
func (c *Catalog) DataStoreGeneration() uint64 { return c.Generation() }

// checkNameLocked fails when another live store of d's account and home
// region has d's name.
func (c *Catalog) checkNameLocked(d *DataStore) error {
	now := c.now()
	for _, o := range c.stores {
		if o.ID != d.ID && o.Account == d.Account && o.HomeRegion == d.HomeRegion && o.Name == d.Name && !o.Expired(now) {
			return fmt.Errorf("%w: %s in %s", ErrDataStoreExists, d.Name, d.HomeRegion)
		}
	}
	return nil
}

// checkStoreLimitLocked fails when d's home region already holds the
// most stores the quota allows; stores pending deletion do not count.
func (c *Catalog) checkStoreLimitLocked(d *DataStore) error {
	n := 1
	for _, o := range c.stores {
		if o.ID != d.ID && o.Account == d.Account && o.HomeRegion == d.HomeRegion && o.Status != StatusPendingDeletion {
			n++
		}
	}
	if n > c.maxStores {
		return &LimitError{Region: d.HomeRegion, Max: c.maxStores, Stores: true}
	}
	return nil
}

// putStoreLocked brings d's Ingest in line with its status, stores d
// (replacing old, nil for a new store) and saves the file.
func (c *Catalog) putStoreLocked(d DataStore, old *DataStore, head func() uint64) (DataStore, error) {
	if err := syncIngest(&d, head); err != nil {
		return DataStore{}, err
	}
	c.gen++
	d.Generation = c.gen
	d, err := roundTrip(d)
	if err != nil {
		return DataStore{}, fmt.Errorf("catalog: event data store %s: %w", d.ID, err)
	}
	c.stores[d.ID] = &d
	if err := c.saveDataStoresLocked(); err != nil {
		if old != nil {
			c.stores[d.ID] = old
		} else {
			delete(c.stores, d.ID)
		}
		return DataStore{}, err
	}
	return d.Clone(), nil
}

// syncIngest opens a range at head()+1 when d is ENABLED without an open
// one, and closes the open range at head() when d is not ENABLED; a range
// no event was appended in is dropped.
func syncIngest(d *DataStore, head func() uint64) error {
	open := ingestOpen(d)
	if open == (d.Status == StatusEnabled) {
		return nil
	}
	if head == nil {
		return fmt.Errorf("catalog: event data store %s: the event log's head is needed to start or stop ingestion", d.ID)
	}
	h := head()
	if !open {
		d.Ingest = append(d.Ingest, SeqRange{From: h + 1})
		return nil
	}
	last := &d.Ingest[len(d.Ingest)-1]
	if h < last.From {
		d.Ingest = d.Ingest[:len(d.Ingest)-1]
	} else {
		last.To = h
	}
	return nil
}

func (c *Catalog) saveDataStoresLocked() error {
	f := dataStoresFile{Version: 1, DataStores: make([]DataStore, 0, len(c.stores))}
	for _, d := range c.stores {
		f.DataStores = append(f.DataStores, *d)
	}
	slices.SortFunc(f.DataStores, func(a, b DataStore) int { return strings.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save event data stores: %w", err)
	}
	if err := fileutil.WriteFileAtomic(c.storesPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save event data stores: %w", err)
	}
	return nil
}
