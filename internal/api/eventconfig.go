package api

import (
	"context"
	"strings"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
)

// PutEventConfiguration and GetEventConfiguration (operations.md §3;
// docs/design/decisions.md "Event configuration"): an event data store's
// MaxEventSize and context key selectors, and a trail's aggregation, which
// OpenTrail does not have.

type contextKeySelector struct {
	Type   string   `json:"Type"`
	Equals []string `json:"Equals"`
}

type aggregationConfiguration struct {
	Templates     []string `json:"Templates"`
	EventCategory string   `json:"EventCategory"`
}

type eventConfigurationInput struct {
	TrailName                 *string                    `json:"TrailName"`
	EventDataStore            *string                    `json:"EventDataStore"`
	MaxEventSize              *string                    `json:"MaxEventSize"`
	ContextKeySelectors       []contextKeySelector       `json:"ContextKeySelectors"`
	AggregationConfigurations []aggregationConfiguration `json:"AggregationConfigurations"`
}

type eventConfigurationOutput struct {
	TrailARN                  string                     `json:"TrailARN,omitempty"`
	EventDataStoreArn         string                     `json:"EventDataStoreArn,omitempty"`
	MaxEventSize              string                     `json:"MaxEventSize,omitempty"`
	ContextKeySelectors       []contextKeySelector       `json:"ContextKeySelectors,omitempty"`
	AggregationConfigurations []aggregationConfiguration `json:"AggregationConfigurations,omitempty"`
}

// Limits of context key selectors (the model's).
const (
	maxContextKeySelectors = 2
	maxContextKeys         = 50
	maxContextKeyLen       = 128
)

func (h *Handler) getEventConfiguration(_ context.Context, caller identity.Caller, in *eventConfigurationInput) (*eventConfigurationOutput, error) {
	if err := checkConfigTarget(in); err != nil {
		return nil, err
	}
	if in.TrailName != nil {
		t, err := h.findTrail(caller, in.TrailName, "TrailName", false)
		if err != nil {
			return nil, err
		}
		// No trail has aggregation: PutEventConfiguration refuses it.
		return &eventConfigurationOutput{TrailARN: t.ARN(), AggregationConfigurations: []aggregationConfiguration{}}, nil
	}
	d, err := h.findStore(caller, in.EventDataStore)
	if err != nil {
		return nil, err
	}
	if err := checkConfigurable(&d); err != nil {
		return nil, err
	}
	return storeEventConfiguration(&d), nil
}

func (h *Handler) putEventConfiguration(_ context.Context, caller identity.Caller, in *eventConfigurationInput) (*eventConfigurationOutput, error) {
	if err := checkConfigTarget(in); err != nil {
		return nil, err
	}
	if in.TrailName != nil {
		if in.MaxEventSize != nil || in.ContextKeySelectors != nil {
			return nil, invalid(codeInvalidParamCombo, "MaxEventSize and ContextKeySelectors configure an event data store; with TrailName give AggregationConfigurations.")
		}
		if _, err := h.findTrail(caller, in.TrailName, "TrailName", true); err != nil {
			return nil, err
		}
		if len(in.AggregationConfigurations) == 0 {
			return nil, invalid(codeInvalidParameter, "AggregationConfigurations is required with TrailName.")
		}
		return nil, invalid(codeUnsupported, "OpenTrail does not aggregate data events: AggregationConfigurations cannot be set. Trails deliver every selected data event; summarise them with CloudTrail Lake queries instead.")
	}
	if in.AggregationConfigurations != nil {
		return nil, invalid(codeInvalidParamCombo, "AggregationConfigurations configure a trail; with EventDataStore give MaxEventSize and ContextKeySelectors.")
	}
	size := catalog.MaxEventSizeStandard
	if in.MaxEventSize != nil {
		size = *in.MaxEventSize
	}
	if size != catalog.MaxEventSizeStandard && size != catalog.MaxEventSizeLarge {
		return nil, invalid(codeInvalidParameter, "MaxEventSize %q is not valid; use %s or %s.", clip(size), catalog.MaxEventSizeStandard, catalog.MaxEventSizeLarge)
	}
	sel, err := checkContextKeySelectors(in.ContextKeySelectors)
	if err != nil {
		return nil, err
	}
	if len(sel) > 0 && size != catalog.MaxEventSizeLarge {
		return nil, invalid(codeInvalidParameter, "Context key selectors need MaxEventSize %s: enriched events may be larger than 256 KB.", catalog.MaxEventSizeLarge)
	}
	d, err := h.changeStore(caller, in.EventDataStore, func(d *catalog.DataStore) error {
		if d.Status == catalog.StatusPendingDeletion {
			return invalid(codeEDSInactive, "Event data store %s is pending deletion; restore it before changing its event configuration.", d.ARN())
		}
		if err := checkConfigurable(d); err != nil {
			return err
		}
		d.MaxEventSize = size
		d.ContextKeySelectors = sel
		return nil
	})
	if err != nil {
		return nil, err
	}
	return storeEventConfiguration(&d), nil
}

// checkConfigTarget requires exactly one of TrailName and EventDataStore.
func checkConfigTarget(in *eventConfigurationInput) error {
	switch {
	case in.TrailName != nil && in.EventDataStore != nil:
		return invalid(codeInvalidParamCombo, "Specify TrailName or EventDataStore, not both.")
	case in.TrailName == nil && in.EventDataStore == nil:
		return invalid(codeInvalidParamCombo, "Specify TrailName or EventDataStore.")
	}
	return nil
}

// checkConfigurable allows stores of CloudTrail events only: enrichment
// and the event size apply to management and data events.
func checkConfigurable(d *catalog.DataStore) error {
	if !d.CloudTrailEvents() {
		return invalid(codeEDSCategory, "Event data store %s holds %s events: event configuration applies only to stores of CloudTrail management, data or network activity events.", d.ARN(), d.Category())
	}
	return nil
}

// checkContextKeySelectors validates the selectors and returns them with
// keys in their canonical spelling. OpenTrail fills RequestContext keys it
// can take from the request as recorded, and principal tags from the
// identity configuration; it holds no resource tags, so TagContext is
// refused (decision 161).
func checkContextKeySelectors(in []contextKeySelector) ([]catalog.ContextKeySelector, error) {
	if len(in) > maxContextKeySelectors {
		return nil, invalid(codeInvalidParameter, "ContextKeySelectors has %d selectors; at most %d are allowed.", len(in), maxContextKeySelectors)
	}
	var out []catalog.ContextKeySelector
	seen := map[string]bool{}
	for i, s := range in {
		switch s.Type {
		case catalog.ContextTypeRequest:
		case catalog.ContextTypeTag:
			return nil, invalid(codeInvalidParameter, "ContextKeySelectors[%d]: OpenTrail cannot add TagContext: it holds no tags of the resources events name. Use RequestContext, which includes principal tags (aws:PrincipalTag/KEY) from the identity configuration.", i)
		default:
			return nil, invalid(codeInvalidParameter, "ContextKeySelectors[%d].Type %q is not valid; use %s or %s.", i, clip(s.Type), catalog.ContextTypeRequest, catalog.ContextTypeTag)
		}
		if seen[s.Type] {
			return nil, invalid(codeInvalidParameter, "ContextKeySelectors has two selectors of type %s; list all keys in one.", s.Type)
		}
		seen[s.Type] = true
		if n := len(s.Equals); n < 1 || n > maxContextKeys {
			return nil, invalid(codeInvalidParameter, "ContextKeySelectors[%d].Equals has %d keys; give 1 to %d.", i, n, maxContextKeys)
		}
		keys := make([]string, 0, len(s.Equals))
		for j, k := range s.Equals {
			if n := len(k); n < 1 || n > maxContextKeyLen {
				return nil, invalid(codeInvalidParameter, "ContextKeySelectors[%d].Equals[%d] is %d characters long; keys are 1 to %d.", i, j, n, maxContextKeyLen)
			}
			c, ok := event.CanonicalContextKey(k)
			if !ok {
				return nil, invalid(codeInvalidParameter, "ContextKeySelectors[%d].Equals[%d]: OpenTrail cannot add %q. It adds %s, and aws:PrincipalTag/KEY.", i, j, clip(k), strings.Join(event.RequestContextKeys(), ", "))
			}
			keys = append(keys, c)
		}
		out = append(out, catalog.ContextKeySelector{Type: s.Type, Equals: keys})
	}
	return out, nil
}

// storeEventConfiguration renders a store's event configuration.
func storeEventConfiguration(d *catalog.DataStore) *eventConfigurationOutput {
	out := &eventConfigurationOutput{EventDataStoreArn: d.ARN(), MaxEventSize: d.EventSize(), ContextKeySelectors: []contextKeySelector{}}
	for _, s := range d.ContextKeySelectors {
		out.ContextKeySelectors = append(out.ContextKeySelectors, contextKeySelector{Type: s.Type, Equals: s.Equals})
	}
	return out
}
