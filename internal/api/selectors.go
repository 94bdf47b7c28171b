package api

import (
	"context"
	"slices"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/selector"
)

// Event selectors and Insights selectors of trails (operations.md §2.4,
// §2.5, §3.3–§3.5).

func isDefaultSelectors(s selector.Set) bool {
	e, d := s.Effective(), selector.Default()
	if e.IsAdvanced() || len(e.EventSelectors) != 1 {
		return false
	}
	a, b := e.EventSelectors[0], d.EventSelectors[0]
	return a.ReadWriteType == b.ReadWriteType && ptrEq(a.IncludeManagementEvents, b.IncludeManagementEvents) &&
		len(a.DataResources) == 0 && len(a.ExcludeManagementEventSources) == 0
}

func ptrEq[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// --- event selectors ---

type putEventSelectorsInput struct {
	TrailName              *string                          `json:"TrailName,omitempty"`
	EventSelectors         []selector.EventSelector         `json:"EventSelectors,omitempty"`
	AdvancedEventSelectors []selector.AdvancedEventSelector `json:"AdvancedEventSelectors,omitempty"`
}

type eventSelectorsOutput struct {
	TrailARN               string                           `json:"TrailARN"`
	EventSelectors         []selector.EventSelector         `json:"EventSelectors,omitempty"`
	AdvancedEventSelectors []selector.AdvancedEventSelector `json:"AdvancedEventSelectors,omitempty"`
}

func selectorsOut(arn string, s selector.Set) *eventSelectorsOutput {
	e := s.Effective()
	return &eventSelectorsOutput{TrailARN: arn, EventSelectors: e.EventSelectors, AdvancedEventSelectors: e.AdvancedEventSelectors}
}

func (h *Handler) putEventSelectors(ctx context.Context, caller identity.Caller, in *putEventSelectorsInput) (*eventSelectorsOutput, error) {
	t, err := h.findTrail(caller, in.TrailName, "TrailName", true)
	if err != nil {
		return nil, err
	}
	set := selector.Set{EventSelectors: in.EventSelectors, AdvancedEventSelectors: in.AdvancedEventSelectors}
	if set.IsZero() {
		return nil, invalid(codeInvalidSelectors, "Specify EventSelectors or AdvancedEventSelectors (one of the two, with at least one selector).")
	}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	if err := h.flushDelivery(ctx); err != nil {
		return nil, err
	}
	updated, err := h.opts.Trails.Update(t.ARN(), func(cur *catalog.Trail) error {
		cur.Selectors = set
		return nil
	})
	if err != nil {
		return nil, h.trailErr(caller, in.TrailName, err)
	}
	return selectorsOut(updated.ARN(), updated.Selectors), nil
}

type trailNameInput struct {
	TrailName *string `json:"TrailName,omitempty"`
}

func (h *Handler) getEventSelectors(_ context.Context, caller identity.Caller, in *trailNameInput) (*eventSelectorsOutput, error) {
	t, err := h.findTrail(caller, in.TrailName, "TrailName", false)
	if err != nil {
		return nil, err
	}
	return selectorsOut(t.ARN(), t.Selectors), nil
}

// --- Insights selectors ---

type insightSelectorsInput struct {
	TrailName           *string                   `json:"TrailName,omitempty"`
	EventDataStore      *string                   `json:"EventDataStore,omitempty"`
	InsightsDestination *string                   `json:"InsightsDestination,omitempty"`
	InsightSelectors    []catalog.InsightSelector `json:"InsightSelectors"`
}

type insightSelectorsOutput struct {
	TrailARN            string                    `json:"TrailARN,omitempty"`
	InsightSelectors    []catalog.InsightSelector `json:"InsightSelectors"`
	EventDataStoreArn   string                    `json:"EventDataStoreArn,omitempty"`
	InsightsDestination string                    `json:"InsightsDestination,omitempty"`
}

func (h *Handler) putInsightSelectors(ctx context.Context, caller identity.Caller, in *insightSelectorsInput) (*insightSelectorsOutput, error) {
	if in.EventDataStore != nil || in.InsightsDestination != nil {
		if in.TrailName != nil {
			return nil, invalid(codeInvalidParamCombo, "Specify TrailName, or EventDataStore with InsightsDestination, not both.")
		}
		return h.putStoreInsightSelectors(caller, in)
	}
	if in.InsightSelectors == nil {
		return nil, invalid(codeInvalidParameter, "InsightSelectors is required (an empty list turns Insights off).")
	}
	t, err := h.findTrail(caller, in.TrailName, "TrailName", true)
	if err != nil {
		return nil, err
	}
	sel, err := checkInsightSelectors(in.InsightSelectors, t.Selectors)
	if err != nil {
		return nil, err
	}
	// Insights files go to the trail's bucket: turning them on checks it
	// as CreateTrail does (the model's S3BucketDoesNotExistException and
	// InsufficientS3BucketPolicyException).
	if len(sel) > 0 {
		if err := h.checkBucket(ctx, caller, t.S3BucketName); err != nil {
			return nil, err
		}
	}
	updated, err := h.opts.Trails.Update(t.ARN(), func(cur *catalog.Trail) error {
		cur.InsightSelectors = sel
		return nil
	})
	if err != nil {
		return nil, h.trailErr(caller, in.TrailName, err)
	}
	return &insightSelectorsOutput{TrailARN: updated.ARN(), InsightSelectors: nonNil(updated.InsightSelectors)}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// checkInsightSelectors validates the Insights types and categories and
// their prerequisites on the trail's event selectors (operations.md §2.5).
func checkInsightSelectors(in []catalog.InsightSelector, events selector.Set) ([]catalog.InsightSelector, error) {
	seen := map[string]bool{}
	out := make([]catalog.InsightSelector, 0, len(in))
	for i, s := range in {
		switch s.InsightType {
		case "ApiCallRateInsight", "ApiErrorRateInsight":
		default:
			return nil, invalid(codeInvalidInsights, "InsightSelectors[%d].InsightType %q is not valid; use ApiCallRateInsight or ApiErrorRateInsight.", i, s.InsightType)
		}
		if seen[s.InsightType] {
			return nil, invalid(codeInvalidInsights, "InsightType %s appears more than once.", s.InsightType)
		}
		seen[s.InsightType] = true
		cats := slices.Clone(s.EventCategories)
		for _, c := range cats {
			if c != "Management" && c != "Data" {
				return nil, invalid(codeInvalidInsights, "InsightSelectors[%d].EventCategories: %q is not valid; use Management or Data.", i, c)
			}
		}
		if len(cats) == 0 {
			cats = []string{"Management"}
		}
		for _, c := range cats {
			if !logsFor(events, s.InsightType, c) {
				return nil, invalid(codeInvalidInsights, "%s on %s events needs the trail to log %s; change its event selectors first.",
					s.InsightType, c, map[string]string{
						"ApiCallRateInsight/Management": "write management events", "ApiErrorRateInsight/Management": "management events",
						"ApiCallRateInsight/Data": "data events", "ApiErrorRateInsight/Data": "data events",
					}[s.InsightType+"/"+c])
			}
		}
		out = append(out, catalog.InsightSelector{InsightType: s.InsightType, EventCategories: s.EventCategories})
	}
	return out, nil
}

// logsFor reports whether selectors log what an Insights type needs.
func logsFor(set selector.Set, typ, category string) bool {
	e := set.Effective()
	if e.IsAdvanced() {
		for _, a := range e.AdvancedEventSelectors {
			cat, readOnlyTrue := "", false
			for _, f := range a.FieldSelectors {
				switch f.Field {
				case "eventCategory":
					if len(f.Equals) > 0 {
						cat = f.Equals[0]
					}
				case "readOnly":
					readOnlyTrue = slices.Equal(f.Equals, []string{"true"})
				}
			}
			if cat == category && (typ != "ApiCallRateInsight" || category != "Management" || !readOnlyTrue) {
				return true
			}
		}
		return false
	}
	for _, s := range e.EventSelectors {
		rw := s.ReadWriteType
		if category == "Management" {
			if s.IncludeManagementEvents != nil && !*s.IncludeManagementEvents {
				continue
			}
			if typ == "ApiCallRateInsight" && rw == "ReadOnly" {
				continue
			}
			return true
		}
		if len(s.DataResources) > 0 {
			return true
		}
	}
	return false
}

func (h *Handler) getInsightSelectors(_ context.Context, caller identity.Caller, in *insightSelectorsInput) (*insightSelectorsOutput, error) {
	if in.EventDataStore != nil {
		if in.TrailName != nil {
			return nil, invalid(codeInvalidParamCombo, "Specify TrailName or EventDataStore, not both.")
		}
		return h.getStoreInsightSelectors(caller, in)
	}
	t, err := h.findTrail(caller, in.TrailName, "TrailName", false)
	if err != nil {
		return nil, err
	}
	if len(t.InsightSelectors) == 0 {
		return nil, invalid("InsightNotEnabledException", "Trail %s does not have Insights enabled.", t.ARN())
	}
	return &insightSelectorsOutput{TrailARN: t.ARN(), InsightSelectors: t.InsightSelectors}, nil
}

// --- Insights on event data stores (decision §80) ---

// insightStore resolves member, an EventDataStore or InsightsDestination
// of PutInsightSelectors or GetInsightSelectors, to a store of the
// caller's account and region. The model gives these operations no
// EventDataStoreNotFoundException: a store that is not there is an
// InvalidParameterException naming it.
func (h *Handler) insightStore(caller identity.Caller, member string, in *string) (catalog.DataStore, error) {
	ref, err := checkStoreRef(member, in)
	if err != nil {
		return catalog.DataStore{}, err
	}
	d, ok := h.opts.DataStores.GetDataStore(caller.AccountID, ref)
	if !ok || d.HomeRegion != caller.Region {
		return catalog.DataStore{}, invalid(codeInvalidParameter, "%s %s: no such event data store in account %s in %s.", member, clip(ref), caller.AccountID, caller.Region)
	}
	if d.Status == catalog.StatusPendingDeletion {
		return catalog.DataStore{}, invalid(codeInvalidParameter, "%s %s is pending deletion; restore it first (RestoreEventDataStore).", member, d.ARN())
	}
	return d, nil
}

// putStoreInsightSelectors turns Insights on (or off, with an empty list)
// for a source store of CloudTrail events that logs management events,
// its records going to a destination store of category Insight of the
// same account (spec insights.md §1).
func (h *Handler) putStoreInsightSelectors(caller identity.Caller, in *insightSelectorsInput) (*insightSelectorsOutput, error) {
	if in.EventDataStore == nil || in.InsightsDestination == nil {
		return nil, invalid(codeInvalidParamCombo, "To change Insights on an event data store, give both EventDataStore (the source) and InsightsDestination (the store of category Insight that receives them).")
	}
	if in.InsightSelectors == nil {
		return nil, invalid(codeInvalidParameter, "InsightSelectors is required (an empty list turns Insights off).")
	}
	if h.opts.DataStores == nil {
		return nil, errUnsupported("PutInsightSelectors for event data stores")
	}
	src, err := h.insightStore(caller, "EventDataStore", in.EventDataStore)
	if err != nil {
		return nil, err
	}
	dst, err := h.insightStore(caller, "InsightsDestination", in.InsightsDestination)
	if err != nil {
		return nil, err
	}
	if !src.CloudTrailEvents() {
		return nil, invalid(codeInvalidParameter, "EventDataStore %s holds %s events; Insights need a source store of CloudTrail management events.", src.ARN(), src.Category())
	}
	if dst.Category() != selector.CategoryInsight {
		return nil, invalid(codeInvalidParameter, "InsightsDestination %s is not an Insights store: create it with the advanced event selector eventCategory = Insight.", dst.ARN())
	}
	for i, s := range in.InsightSelectors {
		for _, c := range s.EventCategories {
			if c == "Data" {
				return nil, invalid(codeInvalidInsights, "InsightSelectors[%d].EventCategories: Insights on data events are not supported on event data stores; use Management.", i)
			}
		}
	}
	set := selector.Default()
	if len(src.AdvancedEventSelectors) > 0 {
		set = selector.Advanced(src.AdvancedEventSelectors)
	}
	sel, err := checkInsightSelectors(in.InsightSelectors, set)
	if err != nil {
		return nil, err
	}
	out, err := h.changeStore(caller, in.EventDataStore, func(cur *catalog.DataStore) error {
		cur.InsightSelectors = sel
		cur.InsightsDestination = dst.ARN()
		if len(sel) == 0 {
			cur.InsightSelectors, cur.InsightsDestination = nil, ""
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &insightSelectorsOutput{EventDataStoreArn: out.ARN(), InsightsDestination: dst.ARN(), InsightSelectors: nonNil(out.InsightSelectors)}, nil
}

// getStoreInsightSelectors answers GetInsightSelectors for a source store.
func (h *Handler) getStoreInsightSelectors(caller identity.Caller, in *insightSelectorsInput) (*insightSelectorsOutput, error) {
	if h.opts.DataStores == nil {
		return nil, errUnsupported("GetInsightSelectors for event data stores")
	}
	d, err := h.insightStore(caller, "EventDataStore", in.EventDataStore)
	if err != nil {
		return nil, err
	}
	if len(d.InsightSelectors) == 0 {
		return nil, invalid("InsightNotEnabledException", "Event data store %s does not have Insights enabled.", d.ARN())
	}
	return &insightSelectorsOutput{EventDataStoreArn: d.ARN(), InsightsDestination: d.InsightsDestination, InsightSelectors: d.InsightSelectors}, nil
}
