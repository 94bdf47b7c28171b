package catalog

import (
	"fmt"
	"slices"
)

// Maximum event sizes of an event data store (PutEventConfiguration).
const (
	MaxEventSizeStandard = "Standard"
	MaxEventSizeLarge    = "Large"
)

// Types of context key selectors.
const (
	ContextTypeRequest = "RequestContext"
	ContextTypeTag     = "TagContext"
)

// ContextKeySelector selects what an enriched event's eventContext holds:
// the IAM global condition keys (RequestContext) or resource tag keys
// (TagContext) listed in Equals.
type ContextKeySelector struct {
	Type   string   `json:"Type"`
	Equals []string `json:"Equals"`
}

func cloneContextKeySelectors(in []ContextKeySelector) []ContextKeySelector {
	if in == nil {
		return nil
	}
	out := make([]ContextKeySelector, len(in))
	for i, s := range in {
		out[i] = ContextKeySelector{Type: s.Type, Equals: slices.Clone(s.Equals)}
	}
	return out
}

// EventSize is the store's MaxEventSize, Standard when unset.
func (d *DataStore) EventSize() string {
	if d.MaxEventSize == "" {
		return MaxEventSizeStandard
	}
	return d.MaxEventSize
}

// checkEventConfiguration checks what the Lake engine relies on: a known
// MaxEventSize, selectors of a known type with keys, and enrichment only
// with Large events (docs/format/eventdatastores.md).
func checkEventConfiguration(d *DataStore) error {
	switch d.MaxEventSize {
	case "", MaxEventSizeStandard, MaxEventSizeLarge:
	default:
		return fmt.Errorf("maxEventSize %q is not %s or %s", d.MaxEventSize, MaxEventSizeStandard, MaxEventSizeLarge)
	}
	if len(d.ContextKeySelectors) > 0 && d.MaxEventSize != MaxEventSizeLarge {
		return fmt.Errorf("contextKeySelectors need maxEventSize %s", MaxEventSizeLarge)
	}
	for i, s := range d.ContextKeySelectors {
		if s.Type != ContextTypeRequest && s.Type != ContextTypeTag {
			return fmt.Errorf("contextKeySelectors[%d]: type %q is not %s or %s", i, s.Type, ContextTypeRequest, ContextTypeTag)
		}
		if len(s.Equals) == 0 {
			return fmt.Errorf("contextKeySelectors[%d] has no keys", i)
		}
	}
	return nil
}
