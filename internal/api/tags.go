package api

import (
	"context"
	"strings"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
)

// Tags (operations.md §2.6, §3.7).

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

// tagTarget resolves a ResourceId to a trail the caller owns.
func (h *Handler) tagTarget(caller identity.Caller, id *string, homeOnly bool) (catalog.Trail, error) {
	if id == nil || *id == "" {
		return catalog.Trail{}, invalid(codeResourceNotFound, "ResourceId is required: give the ARN of a trail.")
	}
	p := strings.SplitN(*id, ":", 6)
	if len(p) != 6 || p[0] != "arn" {
		return catalog.Trail{}, invalid(codeARNInvalid, "ResourceId %q is not an ARN.", *id)
	}
	if p[2] != "cloudtrail" {
		return catalog.Trail{}, invalid(codeResourceUnsupported, "Tagging %s resources through CloudTrail is not supported: %s.", p[2], *id)
	}
	switch {
	case strings.HasPrefix(p[5], "trail/"):
	case strings.HasPrefix(p[5], "eventdatastore/"):
		return catalog.Trail{}, invalid("EventDataStoreNotFoundException", "Event data store %s was not found.", *id)
	case strings.HasPrefix(p[5], "channel/"):
		return catalog.Trail{}, invalid("ChannelNotFoundException", "Channel %s was not found.", *id)
	case strings.HasPrefix(p[5], "dashboard/"):
		return catalog.Trail{}, invalid(codeResourceNotFound, "Dashboard %s was not found.", *id)
	default:
		return catalog.Trail{}, invalid(codeResourceUnsupported, "Resource %s cannot be tagged; tag trails, event data stores, channels or dashboards.", *id)
	}
	// A missing trail is ResourceNotFoundException here (the catalogue's
	// tagOps row).
	t, err := h.findTrail(caller, id, "ResourceId", false)
	if err != nil {
		return catalog.Trail{}, err
	}
	if homeOnly && t.IsMultiRegionTrail && t.HomeRegion != caller.Region {
		return catalog.Trail{}, invalid(codeInvalidHomeRegion, "Tags of multi-region trail %s can be changed only in its home region, %s.", t.ARN(), t.HomeRegion)
	}
	return t, nil
}

type tagsInput struct {
	ResourceID *string `json:"ResourceId,omitempty"`
	TagsList   []tagIn `json:"TagsList,omitempty"`
}

func (h *Handler) addTags(_ context.Context, caller identity.Caller, in *tagsInput) (*empty, error) {
	t, err := h.tagTarget(caller, in.ResourceID, true)
	if err != nil {
		return nil, err
	}
	add, err := checkTags(in.TagsList, true)
	if err != nil {
		return nil, err
	}
	_, err = h.opts.Trails.Update(t.ARN(), func(cur *catalog.Trail) error {
		for _, a := range add {
			replaced := false
			for i := range cur.Tags {
				if cur.Tags[i].Key == a.Key {
					cur.Tags[i], replaced = a, true
				}
			}
			if !replaced {
				cur.Tags = append(cur.Tags, a)
			}
		}
		if len(cur.Tags) > maxTagsPerResource {
			return invalid(codeTagsLimit, "Adding these tags would give %s %d tags; at most %d are allowed.", cur.ARN(), len(cur.Tags), maxTagsPerResource)
		}
		return nil
	})
	return nil, h.trailErr(caller, in.ResourceID, err)
}

func (h *Handler) removeTags(_ context.Context, caller identity.Caller, in *tagsInput) (*empty, error) {
	t, err := h.tagTarget(caller, in.ResourceID, true)
	if err != nil {
		return nil, err
	}
	rm, err := checkTags(in.TagsList, false)
	if err != nil {
		return nil, err
	}
	_, err = h.opts.Trails.Update(t.ARN(), func(cur *catalog.Trail) error {
		kept := cur.Tags[:0:0]
		for _, tag := range cur.Tags {
			drop := false
			for _, r := range rm {
				drop = drop || r.Key == tag.Key
			}
			if !drop {
				kept = append(kept, tag)
			}
		}
		cur.Tags = kept
		return nil
	})
	return nil, h.trailErr(caller, in.ResourceID, err)
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
		t, err := h.tagTarget(caller, &id, false)
		if err != nil {
			return nil, err
		}
		out.ResourceTagList = append(out.ResourceTagList, resourceTag{ResourceID: id, TagsList: nonNil(t.Tags)})
	}
	return out, nil
}
