package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/selector"
)

// CloudTrail Lake event data stores (lake.md §1–§2, operations.md §1 and
// §3.6): CreateEventDataStore, GetEventDataStore, UpdateEventDataStore,
// DeleteEventDataStore, RestoreEventDataStore, ListEventDataStores,
// StartEventDataStoreIngestion and StopEventDataStoreIngestion. The
// stores' events are the Lake engine's; these operations keep the
// catalogue it reads.

// DataStoreCatalog is the event data store catalogue (a *catalog.Catalog).
//
// UpdateDataStore MUST run fn under the catalogue's lock, so the checks
// fn makes on the store's current state hold when the change is stored,
// and MUST return fn's error as is. head is the event log's head, read
// when ingestion starts or stops.
type DataStoreCatalog interface {
	CreateDataStore(d catalog.DataStore, head func() uint64) (catalog.DataStore, error)
	GetDataStore(account, idOrARN string) (catalog.DataStore, bool)
	ListDataStores(account, region string) []catalog.DataStore
	UpdateDataStore(id string, head func() uint64, fn func(*catalog.DataStore) error) (catalog.DataStore, error)
}

var _ DataStoreCatalog = (*catalog.Catalog)(nil)

// The other event data store codes (codeEDSNotFound, codeEDSInactive,
// codeEDSARNInvalid) are in queries.go.
const (
	codeEDSStatus   = "InvalidEventDataStoreStatusException"
	codeEDSCategory = "InvalidEventDataStoreCategoryException"

	// statusCreated is what CreateEventDataStore reports, as AWS's
	// examples show; the store is ENABLED or STOPPED_INGESTION from then
	// on (docs/design/decisions.md).
	statusCreated = "CREATED"

	minRetentionDays            = 7
	maxRetentionExtendable      = 3653
	maxRetentionFixed           = 2557
	maxListDataStoresResults    = 1000
	storeRefMinLen, storeRefMax = 3, 256
	maxStoreKMSKeyLen           = 350
)

// dataStoreOut is the response of Create, Get, Update and Restore.
// TagsList is CreateEventDataStore's only; the federation members are
// GetEventDataStore's and UpdateEventDataStore's.
type dataStoreOut struct {
	EventDataStoreArn            string                           `json:"EventDataStoreArn"`
	Name                         string                           `json:"Name"`
	Status                       string                           `json:"Status"`
	AdvancedEventSelectors       []selector.AdvancedEventSelector `json:"AdvancedEventSelectors"`
	MultiRegionEnabled           bool                             `json:"MultiRegionEnabled"`
	OrganizationEnabled          bool                             `json:"OrganizationEnabled"`
	RetentionPeriod              int                              `json:"RetentionPeriod"`
	TerminationProtectionEnabled bool                             `json:"TerminationProtectionEnabled"`
	TagsList                     []catalog.Tag                    `json:"TagsList,omitempty"`
	CreatedTimestamp             awsjson.Time                     `json:"CreatedTimestamp"`
	UpdatedTimestamp             awsjson.Time                     `json:"UpdatedTimestamp"`
	KmsKeyID                     string                           `json:"KmsKeyId,omitempty"`
	BillingMode                  string                           `json:"BillingMode"`
	FederationStatus             string                           `json:"FederationStatus,omitempty"`
	FederationRoleArn            string                           `json:"FederationRoleArn,omitempty"`
}

// describeStore renders d; federation adds FederationStatus and
// FederationRoleArn.
func describeStore(d *catalog.DataStore, federation bool) *dataStoreOut {
	o := &dataStoreOut{
		EventDataStoreArn: d.ARN(), Name: d.Name, Status: d.Status,
		AdvancedEventSelectors: nonNil(d.AdvancedEventSelectors),
		MultiRegionEnabled:     d.MultiRegionEnabled, OrganizationEnabled: d.OrganizationEnabled,
		RetentionPeriod: d.RetentionPeriod, TerminationProtectionEnabled: d.TerminationProtectionEnabled,
		CreatedTimestamp: awsjson.Time{Time: d.CreatedTimestamp}, UpdatedTimestamp: awsjson.Time{Time: d.UpdatedTimestamp},
		KmsKeyID: d.KmsKeyID, BillingMode: d.BillingMode,
	}
	if federation {
		o.FederationStatus, o.FederationRoleArn = d.FederationStatus, d.FederationRoleArn
		if o.FederationStatus == "" {
			o.FederationStatus = catalog.FederationDisabled
		}
	}
	return o
}

// --- references, names and settings ---

// checkStoreRef validates an EventDataStore member: an event data store
// ARN or the bare id, 3 to 256 characters of [a-zA-Z0-9._/\-:].
func checkStoreRef(member string, in *string) (string, error) {
	if in == nil || *in == "" {
		return "", invalid(codeInvalidParameter, "%s is required: give the ARN or the ID of an event data store.", member)
	}
	s := *in
	if n := len(s); n < storeRefMinLen || n > storeRefMax {
		return "", invalid(codeEDSARNInvalid, "%s %q is not a valid event data store ARN or ID: it must be %d to %d characters long.", member, clip(s), storeRefMinLen, storeRefMax)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnumByte(c) && !strings.ContainsRune("._/-:", rune(c)) {
			return "", invalid(codeEDSARNInvalid, "%s %q is not a valid event data store ARN or ID: it may contain only letters, digits and . _ / - :.", member, clip(s))
		}
	}
	if strings.HasPrefix(s, "arn:") && !storeARN(s) {
		return "", invalid(codeEDSARNInvalid, "Invalid event data store ARN: %s. Expected arn:<partition>:cloudtrail:<region>:<12-digit account>:eventdatastore/<id>.", clip(s))
	}
	return s, nil
}

// storeARN reports whether s is a well-formed event data store ARN.
func storeARN(s string) bool {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "cloudtrail" || !event.ValidRegion(p[3]) || !event.ValidAccountID(p[4]) {
		return false
	}
	id, ok := strings.CutPrefix(p[5], "eventdatastore/")
	return ok && id != "" && !strings.ContainsAny(id, "/:")
}

// findStore resolves an EventDataStore member to a store of the caller's
// account in the caller's region. Any other store, of another account or
// region, is not found: an event data store is a regional resource.
func (h *Handler) findStore(caller identity.Caller, in *string) (catalog.DataStore, error) {
	ref, err := checkStoreRef("EventDataStore", in)
	if err != nil {
		return catalog.DataStore{}, err
	}
	d, ok := h.opts.DataStores.GetDataStore(caller.AccountID, ref)
	if !ok || d.HomeRegion != caller.Region {
		return catalog.DataStore{}, h.storeErr(caller, in, catalog.ErrDataStoreNotFound)
	}
	return d, nil
}

// storeErr gives err, a catalog error about the store the request named
// by in, the context the catalogue words its message with; nil stays nil.
func (h *Handler) storeErr(caller identity.Caller, in *string, err error) error {
	if err == nil {
		return nil
	}
	return &storeError{Store: deref(in), Account: caller.AccountID, Region: caller.Region, Err: err}
}

// changeStore resolves in and applies fn to the store under the
// catalogue's lock, stamping UpdatedTimestamp.
func (h *Handler) changeStore(caller identity.Caller, in *string, fn func(*catalog.DataStore) error) (catalog.DataStore, error) {
	d, err := h.findStore(caller, in)
	if err != nil {
		return catalog.DataStore{}, err
	}
	now := h.now().UTC()
	out, err := h.opts.DataStores.UpdateDataStore(d.ID, h.opts.LogHead, func(cur *catalog.DataStore) error {
		if err := fn(cur); err != nil {
			return err
		}
		cur.UpdatedTimestamp = now
		return nil
	})
	if err != nil {
		return catalog.DataStore{}, h.storeErr(caller, in, err)
	}
	return out, nil
}

// checkStoreName enforces 3 to 128 characters of [a-zA-Z0-9._-].
func checkStoreName(name string) error {
	if n := len(name); n < 3 || n > 128 {
		return invalid(codeInvalidParameter, "The event data store name %q is %d characters long; it must be 3 to 128.", clip(name), n)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnumByte(c) && c != '.' && c != '_' && c != '-' {
			return invalid(codeInvalidParameter, "The event data store name %q may contain only letters, digits, periods (.), hyphens (-) and underscores (_).", clip(name))
		}
	}
	return nil
}

// checkBillingMode validates a BillingMode member.
func checkBillingMode(mode string) error {
	if mode != catalog.BillingExtendable && mode != catalog.BillingFixed {
		return invalid(codeInvalidParameter, "BillingMode %q is not valid; use %s or %s.", clip(mode), catalog.BillingExtendable, catalog.BillingFixed)
	}
	return nil
}

// checkRetention requires 7 to 3653 days with extendable billing and 7 to
// 2557 with fixed billing.
func checkRetention(days int64, billing string) error {
	maxDays := int64(maxRetentionExtendable)
	if billing == catalog.BillingFixed {
		maxDays = maxRetentionFixed
	}
	if days < minRetentionDays || days > maxDays {
		return invalid(codeInvalidParameter, "RetentionPeriod %d is not valid: with %s it must be %d to %d days.", days, billing, minRetentionDays, maxDays)
	}
	return nil
}

// checkStoreKMS validates a KmsKeyId. OpenTrail has no KMS, so a
// well-formed key is refused as not found (docs/design/decisions.md), as
// for trails; current is the store's key, which cannot change once set.
func checkStoreKMS(key, current string) error {
	if len(key) < 1 || len(key) > maxStoreKMSKeyLen || !validKMSKeyID(key) {
		return invalid(codeInvalidKmsKey, "KmsKeyId %q is not a key id, key ARN, alias name or alias ARN of 1 to %d characters.", clip(key), maxStoreKMSKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !isAlnumByte(c) && !strings.ContainsRune("._/-:", rune(c)) {
			return invalid(codeInvalidKmsKey, "KmsKeyId %q may contain only letters, digits and . _ / - :.", clip(key))
		}
	}
	switch {
	case current == key:
		return nil
	case current != "":
		return invalid(codeInvalidParameter, "The KMS key of an event data store cannot be changed or removed once set; this store uses %s.", current)
	}
	return invalid("KmsKeyNotFoundException", "KMS key %s was not found: OpenTrail has no KMS, so it cannot encrypt an event data store with a KMS key. Leave KmsKeyId out.", clip(key))
}

// checkOrganization refuses organization stores: OpenTrail has no
// Organizations.
func checkOrganization(enabled *bool) error {
	if enabled != nil && *enabled {
		return invalid("OrganizationsNotInUseException", "This account is not a member of an organization: OpenTrail does not support organization event data stores.")
	}
	return nil
}

// ingestible reports whether Start/StopEventDataStoreIngestion apply to a
// store of category: CloudTrail events and Config configuration items.
func ingestible(category string) bool {
	return category == "" || selector.CloudTrailCategory(category) || category == selector.CategoryConfigurationItem
}

// storeKind names the kind of store a category makes, for messages.
func storeKind(category string) string {
	switch {
	case category == "" || selector.CloudTrailCategory(category):
		return "CloudTrail events (Management, Data, NetworkActivity)"
	case category == selector.CategoryActivityAuditLog:
		return "events from outside AWS (ActivityAuditLog)"
	}
	return category
}

// --- CreateEventDataStore ---

type createDataStoreInput struct {
	Name                         *string                          `json:"Name,omitempty"`
	AdvancedEventSelectors       []selector.AdvancedEventSelector `json:"AdvancedEventSelectors,omitempty"`
	MultiRegionEnabled           *bool                            `json:"MultiRegionEnabled,omitempty"`
	OrganizationEnabled          *bool                            `json:"OrganizationEnabled,omitempty"`
	RetentionPeriod              *int64                           `json:"RetentionPeriod,omitempty"`
	TerminationProtectionEnabled *bool                            `json:"TerminationProtectionEnabled,omitempty"`
	TagsList                     []tagIn                          `json:"TagsList,omitempty"`
	KmsKeyID                     *string                          `json:"KmsKeyId,omitempty"`
	StartIngestion               *bool                            `json:"StartIngestion,omitempty"`
	BillingMode                  *string                          `json:"BillingMode,omitempty"`
}

func (h *Handler) createDataStore(_ context.Context, caller identity.Caller, in *createDataStoreInput) (*dataStoreOut, error) {
	if in.Name == nil {
		return nil, invalid(codeInvalidParameter, "Name is required.")
	}
	if err := checkStoreName(*in.Name); err != nil {
		return nil, err
	}
	now := h.now().UTC()
	d := catalog.DataStore{
		Name: *in.Name, Account: caller.AccountID, HomeRegion: caller.Region,
		MultiRegionEnabled: true, TerminationProtectionEnabled: true,
		BillingMode: catalog.BillingExtendable, Status: catalog.StatusEnabled,
		CreatedTimestamp: now, UpdatedTimestamp: now,
	}
	if in.BillingMode != nil {
		if err := checkBillingMode(*in.BillingMode); err != nil {
			return nil, err
		}
		d.BillingMode = *in.BillingMode
	}
	if in.RetentionPeriod != nil {
		if err := checkRetention(*in.RetentionPeriod, d.BillingMode); err != nil {
			return nil, err
		}
		d.RetentionPeriod = int(*in.RetentionPeriod)
	}
	if in.AdvancedEventSelectors != nil {
		if err := selector.ValidateDataStore(in.AdvancedEventSelectors); err != nil {
			return nil, err
		}
		d.AdvancedEventSelectors = in.AdvancedEventSelectors
	}
	if err := checkOrganization(in.OrganizationEnabled); err != nil {
		return nil, err
	}
	if in.KmsKeyID != nil {
		if err := checkStoreKMS(*in.KmsKeyID, ""); err != nil {
			return nil, err
		}
	}
	tags, err := checkTags(in.TagsList, true)
	if err != nil {
		return nil, err
	}
	// CreateEventDataStore declares no TagsLimitExceededException.
	if len(tags) > maxTagsPerResource {
		return nil, invalid(codeInvalidTag, "An event data store can have at most %d tags; the request has %d.", maxTagsPerResource, len(tags))
	}
	d.Tags = tags
	if in.MultiRegionEnabled != nil {
		d.MultiRegionEnabled = *in.MultiRegionEnabled
	}
	if in.TerminationProtectionEnabled != nil {
		d.TerminationProtectionEnabled = *in.TerminationProtectionEnabled
	}
	if in.StartIngestion != nil && !*in.StartIngestion {
		if c := selector.StoreCategory(d.AdvancedEventSelectors); !ingestible(c) {
			return nil, invalid(codeInvalidParameter, "StartIngestion false applies only to event data stores of CloudTrail events or Config configuration items; a store of %s takes its events as they arrive. Leave StartIngestion out.", storeKind(c))
		}
		d.Status = catalog.StatusStoppedIngestion
	}
	created, err := h.opts.DataStores.CreateDataStore(d, h.opts.LogHead)
	if err != nil {
		return nil, h.storeErr(caller, in.Name, err)
	}
	out := describeStore(&created, false)
	out.Status, out.TagsList = statusCreated, created.Tags
	return out, nil
}

// --- GetEventDataStore ---

type storeInput struct {
	EventDataStore *string `json:"EventDataStore,omitempty"`
}

func (h *Handler) getDataStore(_ context.Context, caller identity.Caller, in *storeInput) (*dataStoreOut, error) {
	d, err := h.findStore(caller, in.EventDataStore)
	if err != nil {
		return nil, err
	}
	return describeStore(&d, true), nil
}

// --- ListEventDataStores ---

type listDataStoresInput struct {
	NextToken  *string `json:"NextToken,omitempty"`
	MaxResults *int64  `json:"MaxResults,omitempty"`
}

// dataStoreInfo is an entry of ListEventDataStores: the list shape's
// other members are deprecated, and AWS leaves them out (lake.md §2.2).
type dataStoreInfo struct {
	EventDataStoreArn string `json:"EventDataStoreArn"`
	Name              string `json:"Name"`
}

type listDataStoresOutput struct {
	EventDataStores []dataStoreInfo `json:"EventDataStores"`
	NextToken       string          `json:"NextToken,omitempty"`
}

func (h *Handler) listDataStores(_ context.Context, caller identity.Caller, in *listDataStoresInput) (*listDataStoresOutput, error) {
	page, next, err := pageByID(h, caller, "ListEventDataStores", h.opts.DataStores.ListDataStores(caller.AccountID, caller.Region),
		func(d catalog.DataStore) string { return d.ID }, in.MaxResults, in.NextToken, maxListDataStoresResults, codeInvalidMaxResults)
	if err != nil {
		return nil, err
	}
	out := &listDataStoresOutput{EventDataStores: []dataStoreInfo{}, NextToken: next}
	for _, d := range page {
		out.EventDataStores = append(out.EventDataStores, dataStoreInfo{EventDataStoreArn: d.ARN(), Name: d.Name})
	}
	return out, nil
}

// pageByID cuts one page of a list operation out of items, sorted by id:
// those after the id the NextToken carries (a token of op, for the
// caller's account and region), at most MaxResults of them (1 to max, or
// max; otherwise an error of code badMax). next is the token of the page
// after, "" on the last.
func pageByID[T any](h *Handler, caller identity.Caller, op string, items []T, id func(T) string, maxResults *int64, token *string, maxN int, badMax string) (page []T, next string, err error) {
	limit := maxN
	if m := maxResults; m != nil {
		if *m < 1 || *m > int64(maxN) {
			return nil, "", invalid(badMax, "MaxResults must be between 1 and %d; the request has %d.", maxN, *m)
		}
		limit = int(*m)
	}
	scope := tokenScope{op: op, account: caller.AccountID, region: caller.Region}
	after := ""
	if token != nil {
		cur, err := h.tokens.open(scope, *token)
		if err != nil {
			return nil, "", err
		}
		after = string(cur)
	}
	for _, it := range items {
		if id(it) <= after {
			continue
		}
		if len(page) == limit {
			return page, h.tokens.seal(scope, []byte(after)), nil
		}
		page = append(page, it)
		after = id(it)
	}
	return page, "", nil
}

// --- UpdateEventDataStore ---

type updateDataStoreInput struct {
	EventDataStore               *string                          `json:"EventDataStore,omitempty"`
	Name                         *string                          `json:"Name,omitempty"`
	AdvancedEventSelectors       []selector.AdvancedEventSelector `json:"AdvancedEventSelectors,omitempty"`
	MultiRegionEnabled           *bool                            `json:"MultiRegionEnabled,omitempty"`
	OrganizationEnabled          *bool                            `json:"OrganizationEnabled,omitempty"`
	RetentionPeriod              *int64                           `json:"RetentionPeriod,omitempty"`
	TerminationProtectionEnabled *bool                            `json:"TerminationProtectionEnabled,omitempty"`
	KmsKeyID                     *string                          `json:"KmsKeyId,omitempty"`
	BillingMode                  *string                          `json:"BillingMode,omitempty"`
}

func (h *Handler) updateDataStore(_ context.Context, caller identity.Caller, in *updateDataStoreInput) (*dataStoreOut, error) {
	if _, err := checkStoreRef("EventDataStore", in.EventDataStore); err != nil {
		return nil, err
	}
	if in.Name == nil && in.AdvancedEventSelectors == nil && in.MultiRegionEnabled == nil && in.OrganizationEnabled == nil &&
		in.RetentionPeriod == nil && in.TerminationProtectionEnabled == nil && in.KmsKeyID == nil && in.BillingMode == nil {
		return nil, invalid(codeInvalidParameter, "Specify at least one setting to change: Name, AdvancedEventSelectors, MultiRegionEnabled, OrganizationEnabled, RetentionPeriod, TerminationProtectionEnabled, KmsKeyId or BillingMode.")
	}
	if in.Name != nil {
		if err := checkStoreName(*in.Name); err != nil {
			return nil, err
		}
	}
	if in.BillingMode != nil {
		if err := checkBillingMode(*in.BillingMode); err != nil {
			return nil, err
		}
	}
	if in.AdvancedEventSelectors != nil {
		if err := selector.ValidateDataStore(in.AdvancedEventSelectors); err != nil {
			return nil, err
		}
	}
	if err := checkOrganization(in.OrganizationEnabled); err != nil {
		return nil, err
	}
	// The channels delivering to the store, read before changeStore takes
	// the catalogue's lock.
	var channelsTo []string
	if in.MultiRegionEnabled != nil && *in.MultiRegionEnabled && h.opts.Channels != nil {
		if d, err := h.findStore(caller, in.EventDataStore); err == nil {
			channelsTo = h.opts.Channels.ChannelsDeliveringTo(d.ARN())
		}
	}
	updated, err := h.changeStore(caller, in.EventDataStore, func(d *catalog.DataStore) error {
		if d.Status == catalog.StatusPendingDeletion {
			return invalid(codeEDSInactive, "Event data store %s is pending deletion; restore it (RestoreEventDataStore) before changing it.", d.ARN())
		}
		if in.Name != nil {
			d.Name = *in.Name
		}
		if b := in.BillingMode; b != nil {
			if d.BillingMode == catalog.BillingExtendable && *b == catalog.BillingFixed {
				return invalid(codeInvalidParameter, "The billing mode cannot change from %s to %s. Stop ingestion on this event data store and create a new one with %s instead.",
					catalog.BillingExtendable, catalog.BillingFixed, catalog.BillingFixed)
			}
			d.BillingMode = *b
		}
		if in.RetentionPeriod != nil {
			if err := checkRetention(*in.RetentionPeriod, d.BillingMode); err != nil {
				return err
			}
			d.RetentionPeriod = int(*in.RetentionPeriod)
		}
		if sel := in.AdvancedEventSelectors; sel != nil {
			from, to := d.Category(), selector.StoreCategory(sel)
			if storeKind(from) != storeKind(to) {
				return &selector.Error{Path: "AdvancedEventSelectors", Message: "An event data store for " + storeKind(from) +
					" cannot be changed into one for " + storeKind(to) + ": each kind of event has a schema of its own. Create another event data store."}
			}
			d.AdvancedEventSelectors = sel
		}
		if in.KmsKeyID != nil {
			if err := checkStoreKMS(*in.KmsKeyID, d.KmsKeyID); err != nil {
				return err
			}
		}
		if in.MultiRegionEnabled != nil {
			if *in.MultiRegionEnabled && !d.MultiRegionEnabled && len(channelsTo) > 0 {
				return invalid(codeInvalidParameter, "Event data store %s cannot become multi-Region while channel %s delivers to it: a channel's destinations are single-Region stores.", d.ARN(), strings.Join(channelsTo, ", "))
			}
			d.MultiRegionEnabled = *in.MultiRegionEnabled
		}
		if in.OrganizationEnabled != nil {
			d.OrganizationEnabled = *in.OrganizationEnabled
		}
		if in.TerminationProtectionEnabled != nil {
			d.TerminationProtectionEnabled = *in.TerminationProtectionEnabled
		}
		return nil
	})
	if errors.Is(err, catalog.ErrDataStoreExists) {
		// The message names the name that is taken.
		return nil, h.storeErr(caller, in.Name, catalog.ErrDataStoreExists)
	}
	if err != nil {
		return nil, err
	}
	return describeStore(&updated, true), nil
}

// --- DeleteEventDataStore, RestoreEventDataStore ---

func (h *Handler) deleteDataStore(_ context.Context, caller identity.Caller, in *storeInput) (*empty, error) {
	now := h.now().UTC()
	// Checked before changeStore, which holds the catalogue's lock; the
	// catalogue checks again under it (catalog.ErrStoreHasChannel).
	if d, err := h.findStore(caller, in.EventDataStore); err == nil && d.Status != catalog.StatusPendingDeletion {
		if err := h.errStoreHasChannels(&d); err != nil {
			return nil, err
		}
	}
	_, err := h.changeStore(caller, in.EventDataStore, func(d *catalog.DataStore) error {
		switch {
		case d.Status == catalog.StatusPendingDeletion:
			return invalid(codeEDSInactive, "Event data store %s is already pending deletion.", d.ARN())
		case d.TerminationProtectionEnabled:
			return invalid("EventDataStoreTerminationProtectedException", "Event data store %s cannot be deleted because termination protection is enabled for it. Turn it off first (UpdateEventDataStore with TerminationProtectionEnabled false).", d.ARN())
		case d.FederationStatus != "" && d.FederationStatus != catalog.FederationDisabled:
			return invalid("EventDataStoreFederationEnabledException", "Event data store %s cannot be deleted because Lake query federation is %s for it. Disable federation first.", d.ARN(), d.FederationStatus)
		case h.opts.Imports != nil && h.opts.Imports.HasOngoingImport(d.ID):
			return invalid("EventDataStoreHasOngoingImportException", "Event data store %s cannot be deleted while an import into it is in progress; stop it (StopImport) or wait for it to finish.", d.ARN())
		}
		d.RestoreStatus, d.Status, d.DeletedAt = d.Status, catalog.StatusPendingDeletion, now
		return nil
	})
	return nil, err
}

func (h *Handler) restoreDataStore(_ context.Context, caller identity.Caller, in *storeInput) (*dataStoreOut, error) {
	restored, err := h.changeStore(caller, in.EventDataStore, func(d *catalog.DataStore) error {
		if d.Status != catalog.StatusPendingDeletion {
			return invalid(codeEDSStatus, "Event data store %s is %s: only a store pending deletion can be restored.", d.ARN(), d.Status)
		}
		d.Status = d.RestoreStatus
		if d.Status == "" {
			d.Status = catalog.StatusEnabled
		}
		d.RestoreStatus, d.DeletedAt = "", time.Time{}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return describeStore(&restored, false), nil
}

// --- StartEventDataStoreIngestion, StopEventDataStoreIngestion ---

func (h *Handler) startIngestion(_ context.Context, caller identity.Caller, in *storeInput) (*empty, error) {
	return nil, h.setIngestion(caller, in.EventDataStore, catalog.StatusStoppedIngestion, catalog.StatusEnabled)
}

func (h *Handler) stopIngestion(_ context.Context, caller identity.Caller, in *storeInput) (*empty, error) {
	return nil, h.setIngestion(caller, in.EventDataStore, catalog.StatusEnabled, catalog.StatusStoppedIngestion)
}

// setIngestion moves a store of CloudTrail events or configuration items
// from status from to status to; the catalogue opens or closes its ingest
// range.
func (h *Handler) setIngestion(caller identity.Caller, in *string, from, to string) error {
	_, err := h.changeStore(caller, in, func(d *catalog.DataStore) error {
		if c := d.Category(); !ingestible(c) {
			return invalid(codeEDSCategory, "Event data store %s holds %s events: only stores of Management, Data, NetworkActivity or ConfigurationItem events start and stop ingestion.", d.ARN(), c)
		}
		if d.Status != from {
			return invalid(codeEDSStatus, "Event data store %s is %s; it must be %s to change to %s.", d.ARN(), d.Status, from, to)
		}
		d.Status = to
		return nil
	})
	return err
}
