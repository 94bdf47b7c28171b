package api

import (
	"context"
	"strings"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
)

// Tags of trails, event data stores, channels and dashboards
// (operations.md §2.6, §3.7).

const (
	maxTagsPerResource = 50
	maxListTagsIDs     = 20
)

type tagIn struct {
	Key   *string `json:"Key,omitempty"`
	Value *string `json:"Value,omitempty"`
}

// checkTags validates a TagsList; withValues false is RemoveTags, where
// only keys matter.
func checkTags(in []tagIn, withValues bool) ([]catalog.Tag, error) {
	out := make([]catalog.Tag, 0, len(in))
	seen := map[string]bool{}
	if len(in) > 200 {
		return nil, invalid(codeInvalidTag, "TagsList has %d tags; at most 200 are allowed per request.", len(in))
	}
	for i, t := range in {
		if t.Key == nil || len(*t.Key) < 1 || len(*t.Key) > 128 {
			return nil, invalid(codeInvalidTag, "TagsList[%d].Key must be 1 to 128 characters.", i)
		}
		if strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
			return nil, invalid(codeInvalidTag, "TagsList[%d].Key %q uses the reserved prefix aws:.", i, *t.Key)
		}
		if seen[*t.Key] {
			return nil, invalid(codeInvalidTag, "TagsList has the key %q more than once.", *t.Key)
		}
		seen[*t.Key] = true
		if withValues && t.Value != nil && (len(*t.Value) < 1 || len(*t.Value) > 256) {
			return nil, invalid(codeInvalidTag, "TagsList[%d].Value is %d characters; it must be 1 to 256 (leave Value out for a key without a value).", i, len(*t.Value))
		}
		out = append(out, catalog.Tag{Key: *t.Key, Value: t.Value})
	}
	return out, nil
}

// tagged is a resource the tag operations work on: a trail, an event
// data store, a channel or a dashboard of the caller's.
type tagged struct {
	arn       string
	tags      []catalog.Tag
	storeID   string // the event data store's id; "" for a trail
	channelID string // the channel's id; "" for a trail, a store or a dashboard
	// dashboard is the dashboard's name; "" for a trail, a store or a
	// channel.
	dashboard string
}

// tagTarget resolves a ResourceId to a trail, an event data store, a
// channel or a dashboard the caller owns. homeOnly (AddTags, RemoveTags) requires the caller to be
// in a multi-region trail's home region.
func (h *Handler) tagTarget(caller identity.Caller, id *string, homeOnly bool) (tagged, error) {
	if id == nil || *id == "" {
		return tagged{}, invalid(codeResourceNotFound, "ResourceId is required: give the ARN of a trail or an event data store.")
	}
	p := strings.SplitN(*id, ":", 6)
	if len(p) != 6 || p[0] != "arn" {
		return tagged{}, invalid(codeARNInvalid, "ResourceId %q is not an ARN.", *id)
	}
	if p[2] != "cloudtrail" {
		return tagged{}, invalid(codeResourceUnsupported, "Tagging %s resources through CloudTrail is not supported: %s.", p[2], *id)
	}
	switch {
	case strings.HasPrefix(p[5], "trail/"):
	case strings.HasPrefix(p[5], "eventdatastore/"):
		return h.tagStore(caller, id)
	case strings.HasPrefix(p[5], "channel/"):
		return h.tagChannel(caller, id)
	case strings.HasPrefix(p[5], "dashboard/"):
		return h.tagDashboard(caller, id)
	default:
		return tagged{}, invalid(codeResourceUnsupported, "Resource %s cannot be tagged; tag trails, event data stores, channels or dashboards.", *id)
	}
	if h.opts.Trails == nil {
		return tagged{}, h.trailErr(caller, id, catalog.ErrNotFound)
	}
	// A missing trail is ResourceNotFoundException here (the catalogue's
	// tagOps row).
	t, err := h.findTrail(caller, id, "ResourceId", false)
	if err != nil {
		return tagged{}, err
	}
	if homeOnly && t.IsMultiRegionTrail && t.HomeRegion != caller.Region {
		return tagged{}, invalid(codeInvalidHomeRegion, "Tags of multi-region trail %s can be changed only in its home region, %s.", t.ARN(), t.HomeRegion)
	}
	return tagged{arn: t.ARN(), tags: t.Tags}, nil
}

// tagStore resolves the ARN of an event data store of the caller's, in
// the caller's region, that is not pending deletion.
func (h *Handler) tagStore(caller identity.Caller, id *string) (tagged, error) {
	if !storeARN(*id) {
		return tagged{}, invalid(codeEDSARNInvalid, "Invalid event data store ARN: %s. Expected arn:<partition>:cloudtrail:<region>:<12-digit account>:eventdatastore/<id>.", clip(*id))
	}
	if h.opts.DataStores == nil {
		return tagged{}, h.storeErr(caller, id, catalog.ErrDataStoreNotFound)
	}
	d, err := h.findStore(caller, id)
	if err != nil {
		return tagged{}, err
	}
	if d.Status == catalog.StatusPendingDeletion {
		return tagged{}, errStoreInactive(&d)
	}
	return tagged{arn: d.ARN(), tags: d.Tags, storeID: d.ID}, nil
}

func errStoreInactive(d *catalog.DataStore) error {
	return invalid(codeEDSInactive, "Event data store %s is pending deletion; restore it (RestoreEventDataStore) first.", d.ARN())
}

// updateTags applies fn to the tags of r under its catalogue's lock.
func (h *Handler) updateTags(caller identity.Caller, id *string, r tagged, fn func(arn string, tags *[]catalog.Tag) error) error {
	if r.channelID != "" {
		return h.updateChannelTags(caller, id, r.channelID, fn)
	}
	if r.dashboard != "" {
		_, err := h.opts.Dashboards.UpdateTags(caller.AccountID, caller.Region, r.dashboard, fn)
		return err
	}
	if r.storeID == "" {
		_, err := h.opts.Trails.Update(r.arn, func(cur *catalog.Trail) error { return fn(cur.ARN(), &cur.Tags) })
		return h.trailErr(caller, id, err)
	}
	_, err := h.opts.DataStores.UpdateDataStore(r.storeID, h.opts.LogHead, func(cur *catalog.DataStore) error {
		if cur.Status == catalog.StatusPendingDeletion {
			return errStoreInactive(cur)
		}
		return fn(cur.ARN(), &cur.Tags)
	})
	return h.storeErr(caller, id, err)
}

type tagsInput struct {
	ResourceID *string `json:"ResourceId,omitempty"`
	TagsList   []tagIn `json:"TagsList,omitempty"`
}

func (h *Handler) addTags(_ context.Context, caller identity.Caller, in *tagsInput) (*empty, error) {
	r, err := h.tagTarget(caller, in.ResourceID, true)
	if err != nil {
		return nil, err
	}
	add, err := checkTags(in.TagsList, true)
	if err != nil {
		return nil, err
	}
	return nil, h.updateTags(caller, in.ResourceID, r, func(arn string, tags *[]catalog.Tag) error {
		for _, a := range add {
			replaced := false
			for i := range *tags {
				if (*tags)[i].Key == a.Key {
					(*tags)[i], replaced = a, true
				}
			}
			if !replaced {
				*tags = append(*tags, a)
			}
		}
		if len(*tags) > maxTagsPerResource {
			return invalid(codeTagsLimit, "Adding these tags would give %s %d tags; at most %d are allowed.", arn, len(*tags), maxTagsPerResource)
		}
		return nil
	})
}

func (h *Handler) removeTags(_ context.Context, caller identity.Caller, in *tagsInput) (*empty, error) {
	r, err := h.tagTarget(caller, in.ResourceID, true)
	if err != nil {
		return nil, err
	}
	rm, err := checkTags(in.TagsList, false)
	if err != nil {
		return nil, err
	}
	return nil, h.updateTags(caller, in.ResourceID, r, func(_ string, tags *[]catalog.Tag) error {
		kept := (*tags)[:0:0]
		for _, tag := range *tags {
			drop := false
			for _, r := range rm {
				drop = drop || r.Key == tag.Key
			}
			if !drop {
				kept = append(kept, tag)
			}
		}
		*tags = kept
		return nil
	})
}

type listTagsInput struct {
	ResourceIDList []string `json:"ResourceIdList,omitempty"`
	NextToken      *string  `json:"NextToken,omitempty"`
}

type resourceTag struct {
	ResourceID string        `json:"ResourceId"`
	TagsList   []catalog.Tag `json:"TagsList"`
}

type listTagsOutput struct {
	ResourceTagList []resourceTag `json:"ResourceTagList"`
}

func (h *Handler) listTags(_ context.Context, caller identity.Caller, in *listTagsInput) (*listTagsOutput, error) {
	// ListTags declares neither InvalidParameterException nor
	// InvalidParameterCombinationException: ValidationException
	// (protocol.md §2.5, rule 4).
	if len(in.ResourceIDList) == 0 {
		return nil, invalid(codeValidation, "ResourceIdList is required: give 1 to %d resource ARNs.", maxListTagsIDs)
	}
	if len(in.ResourceIDList) > maxListTagsIDs {
		return nil, invalid(codeValidation, "ResourceIdList has %d ARNs; at most %d are allowed.", len(in.ResourceIDList), maxListTagsIDs)
	}
	if in.NextToken != nil && *in.NextToken != "" {
		return nil, invalid("InvalidTokenException", "ListTags returns every tag on one page; NextToken is not valid here.")
	}
	out := &listTagsOutput{ResourceTagList: []resourceTag{}}
	for _, id := range in.ResourceIDList {
		r, err := h.tagTarget(caller, &id, false)
		if err != nil {
			return nil, err
		}
		out.ResourceTagList = append(out.ResourceTagList, resourceTag{ResourceID: id, TagsList: nonNil(r.tags)})
	}
	return out, nil
}
