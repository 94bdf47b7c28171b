package api

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestEventConfiguration: Put/GetEventConfiguration on an event data store
// through the Go SDK: the default, Large with RequestContext keys (stored
// in their canonical spelling, kept across a reopen of the catalogue), and
// back to Standard.
func TestEventConfiguration(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	ctx := t.Context()
	arn := mustCreateStore(t, c, mkStore("enriched", noProtection)).EventDataStoreArn

	got, err := c.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{EventDataStore: arn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.EventDataStoreArn) != aws.ToString(arn) || got.MaxEventSize != types.MaxEventSizeStandard || len(got.ContextKeySelectors) != 0 {
		t.Errorf("default configuration: %+v", got)
	}

	put, err := c.PutEventConfiguration(ctx, &cloudtrail.PutEventConfigurationInput{
		EventDataStore: aws.String(storeID(aws.ToString(arn))),
		MaxEventSize:   types.MaxEventSizeLarge,
		ContextKeySelectors: []types.ContextKeySelector{{Type: types.TypeRequestContext,
			Equals: []string{"aws:sourceip", "AWS:PrincipalTag/team", "aws:UserAgent"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []types.ContextKeySelector{{Type: types.TypeRequestContext, Equals: []string{"aws:SourceIp", "aws:PrincipalTag/team", "aws:UserAgent"}}}
	if diff := cmp.Diff(want, put.ContextKeySelectors, cmpopts.IgnoreUnexported(types.ContextKeySelector{})); diff != "" || put.MaxEventSize != types.MaxEventSizeLarge {
		t.Errorf("PutEventConfiguration answered %v (-want +got):\n%s", put.MaxEventSize, diff)
	}
	got, err = c.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{EventDataStore: arn})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.ContextKeySelectors, cmpopts.IgnoreUnexported(types.ContextKeySelector{})); diff != "" || got.MaxEventSize != types.MaxEventSizeLarge {
		t.Errorf("GetEventConfiguration: %v (-want +got):\n%s", got.MaxEventSize, diff)
	}
	if d, _ := se.cat.GetDataStore(acct1, aws.ToString(arn)); d.MaxEventSize != "Large" || len(d.ContextKeySelectors) != 1 {
		t.Errorf("catalogue entry: %+v", d)
	}

	if _, err := c.PutEventConfiguration(ctx, &cloudtrail.PutEventConfigurationInput{EventDataStore: arn, MaxEventSize: types.MaxEventSizeStandard}); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{EventDataStore: arn})
	if err != nil || got.MaxEventSize != types.MaxEventSizeStandard || len(got.ContextKeySelectors) != 0 {
		t.Errorf("after Standard: %v %+v", err, got)
	}
}

// TestEventConfigurationErrors: each refusal, with the model's code.
func TestEventConfigurationErrors(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	ctx := t.Context()
	arn := mustCreateStore(t, c, mkStore("cte", noProtection)).EventDataStoreArn
	insights := mustCreateStore(t, c, mkStore("ins", noProtection, withSelectors(category("Insight")))).EventDataStoreArn
	gone := mustCreateStore(t, c, mkStore("gone", noProtection)).EventDataStoreArn
	if _, err := c.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: gone}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("trl"), S3BucketName: aws.String("bucket-1")}); err != nil {
		t.Fatal(err)
	}
	req := func(k types.Type, keys ...string) []types.ContextKeySelector {
		return []types.ContextKeySelector{{Type: k, Equals: keys}}
	}
	for _, tt := range []struct {
		name string
		in   cloudtrail.PutEventConfigurationInput
		code string
		msg  string
	}{
		{"no target", cloudtrail.PutEventConfigurationInput{MaxEventSize: types.MaxEventSizeLarge}, "InvalidParameterCombinationException", "TrailName or EventDataStore"},
		{"both targets", cloudtrail.PutEventConfigurationInput{TrailName: aws.String("trl"), EventDataStore: arn}, "InvalidParameterCombinationException", "not both"},
		{"store members on a trail", cloudtrail.PutEventConfigurationInput{TrailName: aws.String("trl"), MaxEventSize: types.MaxEventSizeLarge}, "InvalidParameterCombinationException", "with TrailName"},
		{"aggregation on a store", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, AggregationConfigurations: []types.AggregationConfiguration{{EventCategory: types.EventCategoryAggregationData, Templates: []types.Template{types.TemplateApiActivity}}}}, "InvalidParameterCombinationException", "configure a trail"},
		{"aggregation", cloudtrail.PutEventConfigurationInput{TrailName: aws.String("trl"), AggregationConfigurations: []types.AggregationConfiguration{{EventCategory: types.EventCategoryAggregationData, Templates: []types.Template{types.TemplateApiActivity}}}}, "UnsupportedOperationException", "does not aggregate"},
		{"unknown trail", cloudtrail.PutEventConfigurationInput{TrailName: aws.String("nope"), AggregationConfigurations: []types.AggregationConfiguration{{EventCategory: types.EventCategoryAggregationData, Templates: []types.Template{types.TemplateApiActivity}}}}, "TrailNotFoundException", ""},
		{"selectors need Large", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, ContextKeySelectors: req(types.TypeRequestContext, "aws:SourceIp")}, "InvalidParameterException", "MaxEventSize Large"},
		{"bad size", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, MaxEventSize: "Huge"}, "InvalidParameterException", "Huge"},
		{"unknown key", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, MaxEventSize: types.MaxEventSizeLarge, ContextKeySelectors: req(types.TypeRequestContext, "aws:SourceIp", "ec2:InstanceType")}, "InvalidParameterException", "cannot add \"ec2:InstanceType\""},
		{"tag context", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, MaxEventSize: types.MaxEventSizeLarge, ContextKeySelectors: req(types.TypeTagContext, "team")}, "InvalidParameterException", "TagContext"},
		{"three selectors", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, MaxEventSize: types.MaxEventSizeLarge, ContextKeySelectors: append(append(req(types.TypeRequestContext, "aws:SourceIp"), req(types.TypeRequestContext, "aws:userid")...), req(types.TypeRequestContext, "aws:UserAgent")...)}, "InvalidParameterException", "at most 2"},
		{"two of a type", cloudtrail.PutEventConfigurationInput{EventDataStore: arn, MaxEventSize: types.MaxEventSizeLarge, ContextKeySelectors: append(req(types.TypeRequestContext, "aws:SourceIp"), req(types.TypeRequestContext, "aws:userid")...)}, "InvalidParameterException", "two selectors"},
		{"insights store", cloudtrail.PutEventConfigurationInput{EventDataStore: insights, MaxEventSize: types.MaxEventSizeLarge}, "InvalidEventDataStoreCategoryException", "Insight"},
		{"pending deletion", cloudtrail.PutEventConfigurationInput{EventDataStore: gone, MaxEventSize: types.MaxEventSizeLarge}, "InactiveEventDataStoreException", "pending deletion"},
		{"malformed store", cloudtrail.PutEventConfigurationInput{EventDataStore: aws.String("x")}, "EventDataStoreARNInvalidException", ""},
		{"unknown store", cloudtrail.PutEventConfigurationInput{EventDataStore: aws.String("00000000-0000-4000-8000-000000000000")}, "EventDataStoreNotFoundException", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutEventConfiguration(ctx, &tt.in)
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	// What the SDK checks before sending, sent by hand.
	for body, msg := range map[string]string{
		`{"EventDataStore":"` + aws.ToString(arn) + `","MaxEventSize":"Large","ContextKeySelectors":[{"Type":"RequestContext","Equals":[]}]}`:      "0 keys",
		`{"EventDataStore":"` + aws.ToString(arn) + `","MaxEventSize":"Large","ContextKeySelectors":[{"Type":"RequestContext","Equals":[""]}]}`:    "0 characters",
		`{"EventDataStore":"` + aws.ToString(arn) + `","MaxEventSize":"Large","ContextKeySelectors":[{"Type":"Other","Equals":["aws:SourceIp"]}]}`: "Type \"Other\"",
	} {
		checkRawError(t, se.rawStore(t, "PutEventConfiguration", body), codeInvalidParameter, msg)
	}
	if _, err := se.c2().GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{EventDataStore: arn}); err == nil {
		t.Error("another account read the store's configuration")
	} else {
		checkAPIError(t, err, "EventDataStoreNotFoundException", "")
	}
	got, err := c.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{TrailName: aws.String("trl")})
	if err != nil || aws.ToString(got.TrailARN) == "" || len(got.AggregationConfigurations) != 0 || got.MaxEventSize != "" {
		t.Errorf("GetEventConfiguration of a trail: %v %+v", err, got)
	}
	_, err = c.GetEventConfiguration(ctx, &cloudtrail.GetEventConfigurationInput{EventDataStore: insights})
	checkAPIError(t, err, "InvalidEventDataStoreCategoryException", "")
}
