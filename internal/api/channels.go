package api

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/channelpolicy"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/selector"
)

// CloudTrail Lake channels (lake.md §7.1): CreateChannel, GetChannel,
// UpdateChannel, DeleteChannel, ListChannels, and the resource policies
// of channels (PutResourcePolicy, GetResourcePolicy,
// DeleteResourcePolicy), which let other accounts call PutAuditEvents.
// The events themselves arrive through the cloudtrail-data service
// (internal/auditapi).

// ChannelCatalog is the channel catalogue (a *catalog.Catalog).
//
// UpdateChannel MUST run fn under the catalogue's lock and return fn's
// error as is; fn sets *dests to change the destinations. head is the
// event log's head, read when a destination is added or removed.
type ChannelCatalog interface {
	CreateChannel(ch catalog.Channel, dests []string, head func() uint64) (catalog.Channel, error)
	GetChannel(account, idOrARN string) (catalog.Channel, bool)
	ListChannels(account, region string) []catalog.Channel
	UpdateChannel(id string, head func() uint64, fn func(ch *catalog.Channel, dests *[]string) error) (catalog.Channel, error)
	DeleteChannel(id string, head func() uint64) error
	ChannelsDeliveringTo(storeARN string) []string
	ChannelIngestion(arn string) catalog.Ingestion
}

var _ ChannelCatalog = (*catalog.Catalog)(nil)

const (
	codeChannelARNInvalid  = "ChannelARNInvalidException"
	codeChannelNotFound    = "ChannelNotFoundException"
	codeResourceARNInvalid = "ResourceARNNotValidException"
	codePolicyNotValid     = "ResourcePolicyNotValidException"
	codePolicyNotFound     = "ResourcePolicyNotFoundException"

	maxChannelDestinations = 200
	maxResourcePolicyLen   = 8192
	maxListChannelsResults = 1000
)

// policyOps are the resource policy operations: a missing channel is
// ResourceNotFoundException there.
var policyOps = []string{"PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"}

// channelError is a catalog condition (catalog.ErrChannelNotFound,
// ErrChannelExists, ErrChannelLimit) about the channel a request named:
// as the client gave it (its ARN, ID or, for a new channel, its name),
// and the caller's account and region.
type channelError struct {
	Channel string
	Account string
	Region  string
	Err     error
}

func (e *channelError) Error() string { return "channel " + e.Channel + ": " + e.Err.Error() }
func (e *channelError) Unwrap() error { return e.Err }

func (h *Handler) channelErr(caller identity.Caller, in *string, err error) error {
	if err == nil {
		return nil
	}
	return &channelError{Channel: deref(in), Account: caller.AccountID, Region: caller.Region, Err: err}
}

type destinationIO struct {
	Type     *string `json:"Type,omitempty"`
	Location *string `json:"Location,omitempty"`
}

type ingestionStatusOut struct {
	LatestIngestionSuccessTime    *awsjson.Time `json:"LatestIngestionSuccessTime,omitempty"`
	LatestIngestionSuccessEventID string        `json:"LatestIngestionSuccessEventID,omitempty"`
	LatestIngestionErrorCode      string        `json:"LatestIngestionErrorCode,omitempty"`
	LatestIngestionAttemptTime    *awsjson.Time `json:"LatestIngestionAttemptTime,omitempty"`
	LatestIngestionAttemptEventID string        `json:"LatestIngestionAttemptEventID,omitempty"`
}

// channelOut is the response of Create, Get and Update: Tags is
// CreateChannel's only, IngestionStatus GetChannel's.
type channelOut struct {
	ChannelArn      string              `json:"ChannelArn"`
	Name            string              `json:"Name"`
	Source          string              `json:"Source"`
	Destinations    []destinationIO     `json:"Destinations"`
	Tags            []catalog.Tag       `json:"Tags,omitempty"`
	IngestionStatus *ingestionStatusOut `json:"IngestionStatus,omitempty"`
}

func describeChannel(ch *catalog.Channel) *channelOut {
	o := &channelOut{ChannelArn: ch.ARN(), Name: ch.Name, Source: ch.Source, Destinations: []destinationIO{}}
	for _, arn := range ch.CurrentDestinations() {
		o.Destinations = append(o.Destinations, destinationIO{Type: ptr(catalog.DestinationEventDataStore), Location: ptr(arn)})
	}
	return o
}

func ptr[T any](v T) *T { return &v }

// --- references, names, sources, destinations ---

// checkChannelRef validates a Channel member: a channel ARN or its id, 3
// to 256 characters of [a-zA-Z0-9._/\-:].
func checkChannelRef(member string, in *string) (string, error) {
	if in == nil || *in == "" {
		return "", invalid(codeChannelARNInvalid, "%s is required: give the ARN or the ID of a channel.", member)
	}
	s := *in
	ok := len(s) >= 3 && len(s) <= 256
	for i := 0; ok && i < len(s); i++ {
		ok = isAlnumByte(s[i]) || strings.IndexByte("._/-:", s[i]) >= 0
	}
	if ok && strings.HasPrefix(s, "arn:") {
		ok = channelARN(s)
	}
	if !ok {
		return "", invalid(codeChannelARNInvalid, "%s %q is not a channel ARN or ID. Expected arn:aws:cloudtrail:<region>:<12-digit account>:channel/<id>, or the id alone.", member, clip(s))
	}
	return s, nil
}

// channelARN reports whether s is a well-formed channel ARN.
func channelARN(s string) bool {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "cloudtrail" || !event.ValidRegion(p[3]) || !event.ValidAccountID(p[4]) {
		return false
	}
	id, ok := strings.CutPrefix(p[5], "channel/")
	return ok && id != "" && !strings.ContainsAny(id, "/:")
}

// findChannel resolves a Channel member to a channel of the caller's
// account in the caller's region.
func (h *Handler) findChannel(caller identity.Caller, member string, in *string) (catalog.Channel, error) {
	ref, err := checkChannelRef(member, in)
	if err != nil {
		return catalog.Channel{}, err
	}
	ch, ok := h.opts.Channels.GetChannel(caller.AccountID, ref)
	if !ok || ch.HomeRegion != caller.Region {
		return catalog.Channel{}, h.channelErr(caller, in, catalog.ErrChannelNotFound)
	}
	return ch, nil
}

// checkChannelName enforces 3 to 128 characters of [a-zA-Z0-9._-].
func checkChannelName(name string) error {
	ok := len(name) >= 3 && len(name) <= 128
	for i := 0; ok && i < len(name); i++ {
		ok = isAlnumByte(name[i]) || strings.IndexByte("._-", name[i]) >= 0
	}
	if !ok {
		return invalid(codeInvalidParameter, "The channel name %q is not valid: it must be 3 to 128 letters, digits, periods (.), hyphens (-) and underscores (_).", clip(name))
	}
	return nil
}

// checkSource accepts Custom, the one source OpenTrail has.
func checkSource(in *string) error {
	switch {
	case in == nil || *in == "":
		return invalid(codeInvalidParameter, "Source is required: give Custom, for events of your own applications.")
	case len(*in) > 256:
		return invalid("InvalidSourceException", "Source is %d characters long; it must be 1 to 256.", len(*in))
	case *in != catalog.SourceCustom:
		return invalid("InvalidSourceException", "Source %q is not available: OpenTrail supports Custom channels (events of your own applications, sent with cloudtrail-data PutAuditEvents), not partner sources.", clip(*in))
	}
	return nil
}

// checkDestinations validates a Destinations member: 1 to 200 distinct
// event data stores of the caller's account and region, live, of
// category ActivityAuditLog, single-Region. It returns their ARNs.
func (h *Handler) checkDestinations(caller identity.Caller, in []destinationIO) ([]string, error) {
	if len(in) < 1 || len(in) > maxChannelDestinations {
		return nil, invalid(codeInvalidParameter, "Destinations has %d entries; a channel has 1 to %d event data stores.", len(in), maxChannelDestinations)
	}
	var arns []string
	for i, d := range in {
		switch {
		case d.Type == nil:
			return nil, invalid(codeInvalidParameter, "Destinations[%d].Type is required: EVENT_DATA_STORE.", i)
		case *d.Type == "AWS_SERVICE":
			return nil, invalid(codeInvalidParameter, "Destinations[%d].Type AWS_SERVICE is for service-linked channels, which AWS services create; a channel you create delivers to EVENT_DATA_STORE destinations.", i)
		case *d.Type != catalog.DestinationEventDataStore:
			return nil, invalid(codeInvalidParameter, "Destinations[%d].Type %q is not valid; use EVENT_DATA_STORE.", i, clip(*d.Type))
		}
		member := "Destinations[" + strconv.Itoa(i) + "].Location"
		ref, err := checkStoreRef(member, d.Location)
		if err != nil {
			return nil, err
		}
		st, ok := h.opts.DataStores.GetDataStore(caller.AccountID, ref)
		if !ok || st.HomeRegion != caller.Region {
			return nil, h.storeErr(caller, d.Location, catalog.ErrDataStoreNotFound)
		}
		switch c := st.Category(); {
		case st.Status == catalog.StatusPendingDeletion:
			return nil, invalid(codeEDSInactive, "Event data store %s is pending deletion; restore it (RestoreEventDataStore) before a channel delivers to it.", st.ARN())
		case c != selector.CategoryActivityAuditLog:
			return nil, invalid(codeEDSCategory, "Event data store %s holds %s; a channel delivers only to stores of events from outside AWS. Create one with the advanced event selector eventCategory = ActivityAuditLog.", st.ARN(), storeKind(c))
		case st.MultiRegionEnabled:
			return nil, invalid(codeEDSCategory, "Event data store %s is multi-Region; a channel delivers only to single-Region stores. Turn it off (UpdateEventDataStore with MultiRegionEnabled false) or create the store with --no-multi-region-enabled.", st.ARN())
		case st.OrganizationEnabled:
			return nil, invalid(codeEDSCategory, "Event data store %s is an organization store; a channel delivers only to stores of one account.", st.ARN())
		}
		if slices.Contains(arns, st.ARN()) {
			return nil, invalid(codeInvalidParameter, "Destinations names event data store %s more than once.", st.ARN())
		}
		arns = append(arns, st.ARN())
	}
	return arns, nil
}

// --- CreateChannel ---

type createChannelInput struct {
	Name         *string         `json:"Name,omitempty"`
	Source       *string         `json:"Source,omitempty"`
	Destinations []destinationIO `json:"Destinations,omitempty"`
	Tags         []tagIn         `json:"Tags,omitempty"`
}

func (h *Handler) createChannel(_ context.Context, caller identity.Caller, in *createChannelInput) (*channelOut, error) {
	if in.Name == nil {
		return nil, invalid(codeInvalidParameter, "Name is required.")
	}
	if err := checkChannelName(*in.Name); err != nil {
		return nil, err
	}
	if err := checkSource(in.Source); err != nil {
		return nil, err
	}
	dests, err := h.checkDestinations(caller, in.Destinations)
	if err != nil {
		return nil, err
	}
	tags, err := checkTags(in.Tags, true)
	if err != nil {
		return nil, err
	}
	if len(tags) > maxTagsPerResource {
		return nil, invalid(codeTagsLimit, "A channel can have at most %d tags; the request has %d.", maxTagsPerResource, len(tags))
	}
	ch := catalog.Channel{Name: *in.Name, Account: caller.AccountID, HomeRegion: caller.Region, Source: catalog.SourceCustom,
		CreatedTimestamp: h.now().UTC(), Tags: tags}
	created, err := h.opts.Channels.CreateChannel(ch, dests, h.opts.LogHead)
	if err != nil {
		return nil, h.channelErr(caller, in.Name, err)
	}
	out := describeChannel(&created)
	out.Tags = created.Tags
	return out, nil
}

// --- GetChannel ---

type channelInput struct {
	Channel *string `json:"Channel,omitempty"`
}

func (h *Handler) getChannel(_ context.Context, caller identity.Caller, in *channelInput) (*channelOut, error) {
	ch, err := h.findChannel(caller, "Channel", in.Channel)
	if err != nil {
		return nil, err
	}
	out := describeChannel(&ch)
	st := h.opts.Channels.ChannelIngestion(ch.ARN())
	out.IngestionStatus = &ingestionStatusOut{
		LatestIngestionSuccessEventID: st.LatestIngestionSuccessEventID,
		LatestIngestionErrorCode:      st.LatestIngestionErrorCode,
		LatestIngestionAttemptEventID: st.LatestIngestionAttemptEventID,
	}
	if !st.LatestIngestionSuccessTime.IsZero() {
		out.IngestionStatus.LatestIngestionSuccessTime = &awsjson.Time{Time: st.LatestIngestionSuccessTime}
	}
	if !st.LatestIngestionAttemptTime.IsZero() {
		out.IngestionStatus.LatestIngestionAttemptTime = &awsjson.Time{Time: st.LatestIngestionAttemptTime}
	}
	return out, nil
}

// --- UpdateChannel ---

type updateChannelInput struct {
	Channel      *string         `json:"Channel,omitempty"`
	Destinations []destinationIO `json:"Destinations,omitempty"`
	Name         *string         `json:"Name,omitempty"`
}

func (h *Handler) updateChannel(_ context.Context, caller identity.Caller, in *updateChannelInput) (*channelOut, error) {
	ch, err := h.findChannel(caller, "Channel", in.Channel)
	if err != nil {
		return nil, err
	}
	if in.Name != nil {
		if err := checkChannelName(*in.Name); err != nil {
			return nil, err
		}
	}
	var dests []string
	if in.Destinations != nil {
		if dests, err = h.checkDestinations(caller, in.Destinations); err != nil {
			return nil, err
		}
	}
	updated, err := h.opts.Channels.UpdateChannel(ch.ID, h.opts.LogHead, func(cur *catalog.Channel, d *[]string) error {
		if in.Name != nil {
			cur.Name = *in.Name
		}
		*d = dests
		return nil
	})
	if errors.Is(err, catalog.ErrChannelExists) {
		// The message names the name that is taken.
		return nil, h.channelErr(caller, in.Name, err)
	}
	if err != nil {
		return nil, h.channelErr(caller, in.Channel, err)
	}
	return describeChannel(&updated), nil
}

// --- DeleteChannel ---

func (h *Handler) deleteChannel(_ context.Context, caller identity.Caller, in *channelInput) (*empty, error) {
	ch, err := h.findChannel(caller, "Channel", in.Channel)
	if err != nil {
		return nil, err
	}
	return nil, h.channelErr(caller, in.Channel, h.opts.Channels.DeleteChannel(ch.ID, h.opts.LogHead))
}

// --- ListChannels ---

type listChannelsInput struct {
	MaxResults *int64  `json:"MaxResults,omitempty"`
	NextToken  *string `json:"NextToken,omitempty"`
}

type channelInfo struct {
	ChannelArn string `json:"ChannelArn"`
	Name       string `json:"Name"`
}

type listChannelsOutput struct {
	Channels  []channelInfo `json:"Channels"`
	NextToken string        `json:"NextToken,omitempty"`
}

func (h *Handler) listChannels(_ context.Context, caller identity.Caller, in *listChannelsInput) (*listChannelsOutput, error) {
	// ListChannels declares no InvalidParameterException (protocol.md
	// §2.5, rule 4).
	page, next, err := pageByID(h, caller, "ListChannels", h.opts.Channels.ListChannels(caller.AccountID, caller.Region),
		func(ch catalog.Channel) string { return ch.ID }, in.MaxResults, in.NextToken, maxListChannelsResults, codeValidation)
	if err != nil {
		return nil, err
	}
	out := &listChannelsOutput{Channels: []channelInfo{}, NextToken: next}
	for _, ch := range page {
		out.Channels = append(out.Channels, channelInfo{ChannelArn: ch.ARN(), Name: ch.Name})
	}
	return out, nil
}

// --- resource policies ---

type resourcePolicyInput struct {
	ResourceArn    *string `json:"ResourceArn,omitempty"`
	ResourcePolicy *string `json:"ResourcePolicy,omitempty"`
}

type resourcePolicyOutput struct {
	ResourceArn    string `json:"ResourceArn"`
	ResourcePolicy string `json:"ResourcePolicy,omitempty"`
}

// policyChannel resolves a ResourceArn to a channel of the caller's.
// OpenTrail has resource policies on channels only.
func (h *Handler) policyChannel(caller identity.Caller, in *string) (catalog.Channel, error) {
	if in == nil || *in == "" {
		return catalog.Channel{}, invalid(codeResourceARNInvalid, "ResourceArn is required: give the ARN of a channel.")
	}
	s := *in
	ok := len(s) >= 3 && len(s) <= 256
	for i := 0; ok && i < len(s); i++ {
		ok = isAlnumByte(s[i]) || strings.IndexByte("._/-:", s[i]) >= 0
	}
	p := strings.SplitN(s, ":", 6)
	if !ok || len(p) != 6 || p[0] != "arn" {
		return catalog.Channel{}, invalid(codeResourceARNInvalid, "ResourceArn %q is not an ARN. A channel's is arn:aws:cloudtrail:<region>:<12-digit account>:channel/<id>.", clip(s))
	}
	kind, _, _ := strings.Cut(p[5], "/")
	switch {
	case p[2] == "cloudtrail" && (kind == "eventdatastore" || kind == "dashboard"):
		return catalog.Channel{}, invalid(codeResourceUnsupported, "OpenTrail supports resource-based policies on channels only (to let other accounts send events with PutAuditEvents); %s %s cannot have one.", kind, clip(s))
	case p[2] != "cloudtrail" || kind != "channel":
		return catalog.Channel{}, invalid(codeResourceUnsupported, "Resource %s cannot have a CloudTrail resource-based policy; give the ARN of a channel.", clip(s))
	case !channelARN(s):
		return catalog.Channel{}, invalid(codeResourceARNInvalid, "ResourceArn %q is not a valid channel ARN (arn:aws:cloudtrail:<region>:<12-digit account>:channel/<id>).", clip(s))
	}
	ch, found := h.opts.Channels.GetChannel(caller.AccountID, s)
	if !found || ch.HomeRegion != caller.Region {
		return catalog.Channel{}, h.channelErr(caller, in, catalog.ErrChannelNotFound)
	}
	return ch, nil
}

func (h *Handler) putResourcePolicy(_ context.Context, caller identity.Caller, in *resourcePolicyInput) (*resourcePolicyOutput, error) {
	ch, err := h.policyChannel(caller, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if in.ResourcePolicy == nil || len(*in.ResourcePolicy) < 1 || len(*in.ResourcePolicy) > maxResourcePolicyLen {
		return nil, invalid(codePolicyNotValid, "ResourcePolicy must be 1 to %d characters of JSON text.", maxResourcePolicyLen)
	}
	if _, err := channelpolicy.Parse(*in.ResourcePolicy, ch.ARN()); err != nil {
		var pe *channelpolicy.Error
		if errors.As(err, &pe) {
			return nil, invalid(codePolicyNotValid, "The resource policy is not valid for a channel: %s.", pe.Message)
		}
		return nil, err
	}
	updated, err := h.opts.Channels.UpdateChannel(ch.ID, h.opts.LogHead, func(cur *catalog.Channel, _ *[]string) error {
		cur.ResourcePolicy = *in.ResourcePolicy
		return nil
	})
	if err != nil {
		return nil, h.channelErr(caller, in.ResourceArn, err)
	}
	return &resourcePolicyOutput{ResourceArn: updated.ARN(), ResourcePolicy: updated.ResourcePolicy}, nil
}

func (h *Handler) getResourcePolicy(_ context.Context, caller identity.Caller, in *resourcePolicyInput) (*resourcePolicyOutput, error) {
	ch, err := h.policyChannel(caller, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if ch.ResourcePolicy == "" {
		return nil, errNoPolicy(&ch)
	}
	return &resourcePolicyOutput{ResourceArn: ch.ARN(), ResourcePolicy: ch.ResourcePolicy}, nil
}

func (h *Handler) deleteResourcePolicy(_ context.Context, caller identity.Caller, in *resourcePolicyInput) (*empty, error) {
	ch, err := h.policyChannel(caller, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	_, err = h.opts.Channels.UpdateChannel(ch.ID, h.opts.LogHead, func(cur *catalog.Channel, _ *[]string) error {
		if cur.ResourcePolicy == "" {
			return errNoPolicy(cur)
		}
		cur.ResourcePolicy = ""
		return nil
	})
	return nil, h.channelErr(caller, in.ResourceArn, err)
}

func errNoPolicy(ch *catalog.Channel) error {
	return invalid(codePolicyNotFound, "Channel %s has no resource policy.", ch.ARN())
}

// --- tags on channels (tags.go) ---

// tagChannel resolves the ARN of a channel of the caller's, in the
// caller's region.
func (h *Handler) tagChannel(caller identity.Caller, id *string) (tagged, error) {
	if !channelARN(*id) {
		return tagged{}, invalid(codeChannelARNInvalid, "Invalid channel ARN: %s. Expected arn:aws:cloudtrail:<region>:<12-digit account>:channel/<id>.", clip(*id))
	}
	if h.opts.Channels == nil {
		return tagged{}, h.channelErr(caller, id, catalog.ErrChannelNotFound)
	}
	ch, err := h.findChannel(caller, "ResourceId", id)
	if err != nil {
		return tagged{}, err
	}
	return tagged{arn: ch.ARN(), tags: ch.Tags, channelID: ch.ID}, nil
}

// updateChannelTags applies fn to the tags of the channel with this id.
func (h *Handler) updateChannelTags(caller identity.Caller, in *string, id string, fn func(arn string, tags *[]catalog.Tag) error) error {
	_, err := h.opts.Channels.UpdateChannel(id, h.opts.LogHead, func(cur *catalog.Channel, _ *[]string) error {
		return fn(cur.ARN(), &cur.Tags)
	})
	return h.channelErr(caller, in, err)
}

// --- DeleteEventDataStore (datastores.go) ---

// errStoreHasChannels refuses to delete a store channels deliver to.
func (h *Handler) errStoreHasChannels(d *catalog.DataStore) error {
	if h.opts.Channels == nil {
		return nil
	}
	if chs := h.opts.Channels.ChannelsDeliveringTo(d.ARN()); len(chs) > 0 {
		return invalid("ChannelExistsForEDSException", "Event data store %s cannot be deleted while channel %s delivers to it; delete the channel (DeleteChannel) or remove the store from its destinations (UpdateChannel) first.",
			d.ARN(), strings.Join(chs, ", "))
	}
	return nil
}
