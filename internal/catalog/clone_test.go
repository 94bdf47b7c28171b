package catalog_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/selector"
)

func ptr[T any](v T) *T { return &v }

// cloneCases are trails whose selectors, Insights selectors and tags
// tell an exact copy from a normalized one: nil against empty slices,
// unset pointers, defaults left out, empty operator lists.
func cloneCases() []struct {
	name  string
	trail catalog.Trail
} {
	base := func(mod func(*catalog.Trail)) catalog.Trail {
		t := trail("t", "us-east-1", true)
		t.CreatedTime = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
		t.Generation = 7
		mod(&t)
		return t
	}
	sel := func(s selector.Set) catalog.Trail {
		return base(func(t *catalog.Trail) { t.Selectors = s })
	}
	allOps := selector.FieldSelector{Field: "resources.ARN",
		Equals: []string{"a"}, StartsWith: []string{"b", "c"}, EndsWith: []string{"d"},
		NotEquals: []string{"e"}, NotStartsWith: []string{"f"}, NotEndsWith: []string{"g", "h"}}
	emptyOps := selector.FieldSelector{Field: "eventName",
		Equals: []string{}, StartsWith: []string{}, EndsWith: []string{},
		NotEquals: []string{}, NotStartsWith: []string{}, NotEndsWith: []string{}}
	return []struct {
		name  string
		trail catalog.Trail
	}{
		{"zero selectors", sel(selector.Set{})},
		{"empty basic list", sel(selector.Set{EventSelectors: []selector.EventSelector{}})},
		{"empty advanced list", sel(selector.Set{AdvancedEventSelectors: []selector.AdvancedEventSelector{}})},
		{"basic with nothing set", sel(selector.Basic([]selector.EventSelector{{}}))},
		{"basic with defaults filled", sel(selector.Default())},
		{"basic IncludeManagementEvents false", sel(selector.Basic([]selector.EventSelector{
			{ReadWriteType: selector.ReadOnly, IncludeManagementEvents: ptr(false)}}))},
		{"basic nil and empty DataResources", sel(selector.Basic([]selector.EventSelector{
			{DataResources: nil}, {DataResources: []selector.DataResource{}}}))},
		{"basic DataResources nil and empty Values", sel(selector.Basic([]selector.EventSelector{
			{IncludeManagementEvents: ptr(true), DataResources: []selector.DataResource{
				{Type: selector.TypeS3Object, Values: nil},
				{Type: selector.TypeLambdaFunction, Values: []string{}},
				{Type: selector.TypeDynamoDBTable, Values: []string{"arn:aws:dynamodb"}},
			}}}))},
		{"basic exclude sources nil and empty", sel(selector.Basic([]selector.EventSelector{
			{ExcludeManagementEventSources: []string{}},
			{ExcludeManagementEventSources: []string{selector.SourceKMS, selector.SourceRDSData}}}))},
		{"advanced without a name or fields", sel(selector.Advanced([]selector.AdvancedEventSelector{{}}))},
		{"advanced empty fields", sel(selector.Advanced([]selector.AdvancedEventSelector{{Name: "n", FieldSelectors: []selector.FieldSelector{}}}))},
		{"advanced every operator", sel(selector.Advanced([]selector.AdvancedEventSelector{
			{Name: "all", FieldSelectors: []selector.FieldSelector{{Field: "eventCategory", Equals: []string{"Data"}}, allOps}}}))},
		{"advanced empty operator lists", sel(selector.Advanced([]selector.AdvancedEventSelector{
			{FieldSelectors: []selector.FieldSelector{emptyOps, {Field: "readOnly"}}}}))},
		{"both kinds at once", sel(selector.Set{
			EventSelectors:         []selector.EventSelector{{}},
			AdvancedEventSelectors: []selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{allOps}}}})},
		{"insight selectors", base(func(t *catalog.Trail) {
			t.InsightSelectors = []catalog.InsightSelector{
				{InsightType: "ApiCallRateInsight"},
				{InsightType: "ApiErrorRateInsight", EventCategories: []string{}},
				{InsightType: "ApiCallRateInsight", EventCategories: []string{"Management"}},
			}
		})},
		{"empty insight selectors and tags", base(func(t *catalog.Trail) {
			t.InsightSelectors = []catalog.InsightSelector{}
			t.Tags = []catalog.Tag{}
		})},
		{"tags", base(func(t *catalog.Trail) {
			t.Tags = []catalog.Tag{{Key: "no value"}, {Key: "empty", Value: ptr("")}, {Key: "k", Value: ptr("v")}}
		})},
		{"every field", base(func(t *catalog.Trail) {
			t.S3KeyPrefix, t.SnsTopicARN, t.KmsKeyID = "p", "arn:aws:sns:us-east-1:123456789012:t", "k"
			t.CloudWatchLogsLogGroupArn, t.CloudWatchLogsRoleArn = "g", "r"
			t.LogFileValidationEnabled, t.IsOrganizationTrail, t.Logging = true, true, true
			t.StartLoggingTime = t.CreatedTime.Add(time.Second)
			t.StopLoggingTime = t.CreatedTime.Add(2 * time.Second)
			t.ValidationSince = t.CreatedTime.Add(3 * time.Second)
			t.StopRequestID = "req"
			t.Selectors = selector.Advanced([]selector.AdvancedEventSelector{{Name: "x", FieldSelectors: []selector.FieldSelector{allOps}}})
			t.InsightSelectors = []catalog.InsightSelector{{InsightType: "ApiCallRateInsight", EventCategories: []string{"Management"}}}
			t.Tags = []catalog.Tag{{Key: "k", Value: ptr("v")}}
		})},
	}
}

// TestCloneExact: Clone equals the original under cmp with no options,
// which tells nil from empty slices and compares what pointers point to.
func TestCloneExact(t *testing.T) {
	for _, tc := range cloneCases() {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.trail, tc.trail.Clone()); diff != "" {
				t.Errorf("Clone differs from the original (-original +clone):\n%s", diff)
			}
		})
	}
}

// TestCloneSharesNothing: changing every value reachable in the clone,
// through slices and pointers, leaves the original as it was.
func TestCloneSharesNothing(t *testing.T) {
	cases, before := cloneCases(), cloneCases() // before: equal values in other memory
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clone := tc.trail.Clone()
			mutate(reflect.ValueOf(&clone).Elem())
			if diff := cmp.Diff(before[i].trail, tc.trail); diff != "" {
				t.Errorf("changing the clone changed the original (-before +after):\n%s", diff)
			}
		})
	}
}

// TestClonePropertyRandom fills every field of random trails by
// reflection, so a field added to Trail or to the selector types is
// covered without a new case: the clone must equal the original, and
// changing it must not change the original.
func TestClonePropertyRandom(t *testing.T) {
	checkCloneRandom(t, catalog.Trail.Clone)
}

// checkCloneRandom checks clone on 200 values of T whose every field is
// filled from a seed: the clone must equal the original, and changing it
// must not change the original.
func checkCloneRandom[T any](t *testing.T, clone func(T) T) {
	t.Helper()
	for seed := range uint64(200) {
		orig := random[T](seed)
		c := clone(orig)
		if diff := cmp.Diff(orig, c); diff != "" {
			t.Fatalf("seed %d: Clone differs (-original +clone):\n%s", seed, diff)
		}
		mutate(reflect.ValueOf(&c).Elem())
		if diff := cmp.Diff(random[T](seed), orig); diff != "" {
			t.Fatalf("seed %d: changing the clone changed the original (-before +after):\n%s", seed, diff)
		}
	}
}

// random is a T whose every field is filled from seed: slices nil, empty
// or of one to three elements, pointers nil or set.
func random[T any](seed uint64) T {
	r := rand.New(rand.NewPCG(seed, 1))
	var v T
	fill(r, reflect.ValueOf(&v).Elem())
	return v
}

var timeType = reflect.TypeFor[time.Time]()

func fill(r *rand.Rand, v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(2e9), r.Int64N(1e9)).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", r.IntN(1000)))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(r.Int64N(1000))
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(r.Uint64N(1000))
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			return // nil
		}
		p := reflect.New(v.Type().Elem())
		fill(r, p.Elem())
		v.Set(p)
	case reflect.Slice:
		n := r.IntN(5) - 1 // -1: nil
		if n < 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i))
		}
	default:
		panic(fmt.Sprintf("fill: no rule for %s (a new field kind in Trail or DataStore: teach this test and Clone)", v.Type()))
	}
}

// mutate changes every value reachable from v in place: through pointers
// and slice elements, never replacing a pointer or a slice header, so any
// memory the clone shares with the original shows in the original.
func mutate(v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Hour)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(v.Uint() + 1)
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			mutate(v.Field(i))
		}
	default:
		panic(fmt.Sprintf("mutate: no rule for %s", v.Type()))
	}
}

// TestStoredAsPersisted: the catalog keeps a trail as trails.json holds
// it, so Get answers the same before and after a reopen, exactly, even
// for trails whose selectors, Insights selectors and tags the encoding
// normalizes.
func TestStoredAsPersisted(t *testing.T) {
	dir := t.TempDir()
	opts := catalog.DefaultOptions()
	opts.MaxTrailsPerRegion = 100
	c, err := catalog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for i, tc := range cloneCases() {
		tr := tc.trail
		tr.Name = fmt.Sprintf("t%d", i)
		if tr.Selectors.IsAdvanced() && len(tr.Selectors.EventSelectors) > 0 {
			continue // both kinds: never stored
		}
		created, err := c.Create(tr)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		updated, err := c.Update(created.ARN(), func(u *catalog.Trail) error {
			u.Selectors, u.Tags, u.InsightSelectors = tr.Selectors, tr.Tags, tr.InsightSelectors
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got, _ := c.Get(created.ARN()); !cmp.Equal(got, updated) {
			t.Errorf("%s: Get differs from what Update returned:\n%s", tc.name, cmp.Diff(updated, got))
		}
		arns = append(arns, created.ARN())
	}
	c2, err := catalog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(arns) < len(cloneCases())-1 {
		t.Fatalf("only %d trails stored", len(arns))
	}
	for _, arn := range arns {
		before, _ := c.Get(arn)
		after, _ := c2.Get(arn)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("%s after reopen (-before +after):\n%s", arn, diff)
		}
	}
}
