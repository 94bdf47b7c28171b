package selector

import (
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/event"
)

// Matcher decides whether a trail logs an event. Build it with [Compile];
// it is immutable and safe for concurrent use.
type Matcher struct {
	basic    []basicSel
	advanced []advSel
}

type basicSel struct {
	mgmt          bool
	read, write   bool // ReadWriteType admits read-only / other events
	excludeSource []string
	data          []dataRule
}

type dataRule struct {
	typ   string
	match func(arn string) bool
}

type advSel struct {
	conds   []cond // non-resource conditions, cheapest first
	resType *cond
	resARN  *cond
}

type cond struct {
	field               fieldID
	eq, sw, ew          []string            // Equals, StartsWith, EndsWith
	notEq, notSW, notEW []string            // NotEquals, NotStartsWith, NotEndsWith
	eqSet               map[string]struct{} // eq as a set when long
	positive            bool                // has a positive operator
}

// Compile builds the matcher of s; the zero Set compiles as [Default]. The
// matcher keeps no reference to s.
// Compile does not validate: any input gives a working matcher, but only a
// set accepted by [Set.Validate] has the meaning the package documentation
// gives. Unknown fields compare as absent (the empty string).
func Compile(s Set) *Matcher {
	s = s.Effective()
	m := &Matcher{}
	if s.IsAdvanced() {
		for i := range s.AdvancedEventSelectors {
			m.advanced = append(m.advanced, compileAdvanced(&s.AdvancedEventSelectors[i]))
		}
		return m
	}
	for i := range s.EventSelectors {
		m.basic = append(m.basic, compileBasic(&s.EventSelectors[i]))
	}
	return m
}

func compileBasic(s *EventSelector) basicSel {
	b := basicSel{mgmt: s.IncludesManagementEvents(), excludeSource: slices.Clone(s.ExcludeManagementEventSources)}
	switch s.ReadWriteType {
	case ReadOnly:
		b.read = true
	case WriteOnly:
		b.write = true
	case All, "":
		b.read, b.write = true, true
	}
	for _, d := range s.DataResources {
		vals := slices.Clone(d.Values)
		var match func(string) bool
		switch d.Type {
		case TypeS3Object:
			// Every S3 value is a prefix: all buckets, a bucket, or a key prefix.
			match = func(arn string) bool {
				for _, v := range vals {
					if strings.HasPrefix(arn, v) {
						return true
					}
				}
				return false
			}
		case TypeLambdaFunction, TypeDynamoDBTable:
			var all, exact []string
			for _, v := range vals {
				if allResourcesPrefix(d.Type, v) {
					all = append(all, v+":")
				} else {
					exact = append(exact, v)
				}
			}
			qualified := d.Type == TypeLambdaFunction
			match = func(arn string) bool {
				for _, v := range all {
					if strings.HasPrefix(arn, v) {
						return true
					}
				}
				for _, v := range exact {
					// Function and table ARNs are exact; a Lambda ARN may
					// carry a :version or :alias qualifier.
					if arn == v || qualified && len(arn) > len(v) && arn[len(v)] == ':' && strings.HasPrefix(arn, v) {
						return true
					}
				}
				return false
			}
		default:
			continue
		}
		b.data = append(b.data, dataRule{typ: d.Type, match: match})
	}
	return b
}

func compileAdvanced(s *AdvancedEventSelector) advSel {
	var a advSel
	for i := range s.FieldSelectors {
		f := &s.FieldSelectors[i]
		c := cond{
			field: fieldIDs[f.Field],
			eq:    slices.Clone(f.Equals), sw: slices.Clone(f.StartsWith), ew: slices.Clone(f.EndsWith),
			notEq: slices.Clone(f.NotEquals), notSW: slices.Clone(f.NotStartsWith), notEW: slices.Clone(f.NotEndsWith),
		}
		c.positive = len(c.eq)+len(c.sw)+len(c.ew) > 0
		if len(c.eq) > 8 {
			c.eqSet = make(map[string]struct{}, len(c.eq))
			for _, v := range c.eq {
				c.eqSet[v] = struct{}{}
			}
		}
		switch c.field {
		case fResourceType:
			if a.resType != nil { // a duplicate field: AND the conditions
				a.conds = append(a.conds, c)
				continue
			}
			a.resType = &c
		case fResourceARN:
			if a.resARN != nil {
				a.conds = append(a.conds, c)
				continue
			}
			a.resARN = &c
		default:
			a.conds = append(a.conds, c)
		}
	}
	// Summary fields before raw ones, so the record is parsed only for
	// events that pass every cheap condition.
	slices.SortStableFunc(a.conds, func(x, y cond) int {
		return int(x.field) - int(y.field)
	})
	return a
}

// MatchEvent reports whether the trail logs ev; see [Matcher.Match].
func (m *Matcher) MatchEvent(ev *event.Event) bool {
	f := FieldsOf(ev)
	return m.Match(&f)
}

// Match reports whether the trail logs the event: whether it matches any
// selector. Insights events never match, and neither do records of events
// from outside AWS (ActivityAuditLog), which only the event data stores
// their channels name take, whatever the selectors say.
func (m *Matcher) Match(f *Fields) bool {
	if f.category == event.CategoryInsight || f.category == event.CategoryActivityAuditLog {
		return false
	}
	for i := range m.basic {
		if m.basic[i].match(f) {
			return true
		}
	}
	for i := range m.advanced {
		if m.advanced[i].match(f) {
			return true
		}
	}
	return false
}

func (b *basicSel) match(f *Fields) bool {
	if f.isReadOnly() {
		if !b.read {
			return false
		}
	} else if !b.write {
		return false
	}
	switch f.category {
	case event.CategoryMgmt:
		return b.mgmt && !slices.Contains(b.excludeSource, f.source)
	case event.CategoryData:
		for _, d := range b.data {
			for _, r := range f.resources {
				if r.ResourceType == d.typ && d.match(r.ResourceName) {
					return true
				}
			}
		}
	}
	return false
}

func (a *advSel) match(f *Fields) bool {
	if a.resType != nil || a.resARN != nil {
		if !a.matchResources(f) {
			return false
		}
	}
	for i := range a.conds {
		c := &a.conds[i]
		if c.field == fResourceType || c.field == fResourceARN {
			// A repeated resource field (invalid, see Compile): each
			// condition must hold for some resource.
			ok := false
			for _, r := range resourcesOrEmpty(f) {
				v := r.ResourceType
				if c.field == fResourceARN {
					v = r.ResourceName
				}
				if c.match(v) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
			continue
		}
		if !c.match(f.value(c.field)) {
			return false
		}
	}
	return true
}

var noResource = []event.LookupResource{{}}

func resourcesOrEmpty(f *Fields) []event.LookupResource {
	if len(f.resources) == 0 {
		return noResource
	}
	return f.resources
}

// matchResources reports whether one resource of the event satisfies both
// resources.type and resources.ARN. The ARN of a resource is its ARN, or its
// ARNPrefix when it has none. An event without resources is matched as one
// resource with empty type and ARN.
func (a *advSel) matchResources(f *Fields) bool {
	for _, r := range resourcesOrEmpty(f) {
		if (a.resType == nil || a.resType.match(r.ResourceType)) &&
			(a.resARN == nil || a.resARN.match(r.ResourceName)) {
			return true
		}
	}
	return false
}

// match applies one field condition to a value: some positive operator
// value matches (or there is no positive operator), and no negative one does.
func (c *cond) match(v string) bool {
	if c.positive && !c.matchPositive(v) {
		return false
	}
	for _, x := range c.notEq {
		if v == x {
			return false
		}
	}
	for _, x := range c.notSW {
		if strings.HasPrefix(v, x) {
			return false
		}
	}
	for _, x := range c.notEW {
		if strings.HasSuffix(v, x) {
			return false
		}
	}
	return true
}

func (c *cond) matchPositive(v string) bool {
	if c.eqSet != nil {
		if _, ok := c.eqSet[v]; ok {
			return true
		}
	} else {
		for _, x := range c.eq {
			if v == x {
				return true
			}
		}
	}
	for _, x := range c.sw {
		if strings.HasPrefix(v, x) {
			return true
		}
	}
	for _, x := range c.ew {
		if strings.HasSuffix(v, x) {
			return true
		}
	}
	return false
}
