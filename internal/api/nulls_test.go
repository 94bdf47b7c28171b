package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// TestNullListElements: the model's lists are dense, so a null element
// (which the SDKs never send, but a hand-built request can) is refused
// with the operation's validation error naming the element, instead of
// being decoded as a zero value: EventSelectors [null, null] used to be
// stored as two default selectors.
func TestNullListElements(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "trl")
	mustCreate(t, c, mkTrail("trl"))
	if _, err := c.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("trl"),
		EventSelectors: []types.EventSelector{{ReadWriteType: types.ReadWriteTypeWriteOnly}}}); err != nil {
		t.Fatal(err)
	}
	before, _ := te.cat.Get(arn)

	tests := []struct {
		name, op, body string
		code, member   string
	}{
		{"two null selectors", "PutEventSelectors", `{"TrailName":"trl","EventSelectors":[null,null]}`,
			"InvalidEventSelectorsException", "EventSelectors[0]"},
		{"null after a selector", "PutEventSelectors", `{"TrailName":"trl","EventSelectors":[{"ReadWriteType":"All"},null]}`,
			"InvalidEventSelectorsException", "EventSelectors[1]"},
		{"null data resource", "PutEventSelectors", `{"TrailName":"trl","EventSelectors":[{"DataResources":[null]}]}`,
			"InvalidEventSelectorsException", "EventSelectors[0].DataResources[0]"},
		{"null data resource value", "PutEventSelectors", `{"TrailName":"trl","EventSelectors":[{"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3",null]}]}]}`,
			"InvalidEventSelectorsException", "EventSelectors[0].DataResources[0].Values[1]"},
		{"null excluded source", "PutEventSelectors", `{"TrailName":"trl","EventSelectors":[{"ExcludeManagementEventSources":[null]}]}`,
			"InvalidEventSelectorsException", "EventSelectors[0].ExcludeManagementEventSources[0]"},
		{"null advanced selector", "PutEventSelectors", `{"TrailName":"trl","AdvancedEventSelectors":[null]}`,
			"InvalidEventSelectorsException", "AdvancedEventSelectors[0]"},
		{"null field selector", "PutEventSelectors", `{"TrailName":"trl","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},null]}]}`,
			"InvalidEventSelectorsException", "AdvancedEventSelectors[0].FieldSelectors[1]"},
		{"null operator value", "PutEventSelectors", `{"TrailName":"trl","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":[null]}]}]}`,
			"InvalidEventSelectorsException", "AdvancedEventSelectors[0].FieldSelectors[0].Equals[0]"},
		{"null Insights selector", "PutInsightSelectors", `{"TrailName":"trl","InsightSelectors":[null]}`,
			"InvalidInsightSelectorsException", "InsightSelectors[0]"},
		{"null Insights category", "PutInsightSelectors", `{"TrailName":"trl","InsightSelectors":[{"InsightType":"ApiCallRateInsight","EventCategories":[null]}]}`,
			"InvalidInsightSelectorsException", "InsightSelectors[0].EventCategories[0]"},
		{"null tag on create", "CreateTrail", `{"Name":"trl2","S3BucketName":"bucket-1","TagsList":[null]}`,
			"InvalidTagParameterException", "TagsList[0]"},
		{"null tag to add", "AddTags", `{"ResourceId":"` + arn + `","TagsList":[{"Key":"k"},null]}`,
			"InvalidTagParameterException", "TagsList[1]"},
		{"null tag to remove", "RemoveTags", `{"ResourceId":"` + arn + `","TagsList":[null]}`,
			"InvalidTagParameterException", "TagsList[0]"},
		{"null resource id", "ListTags", `{"ResourceIdList":["` + arn + `",null]}`,
			"ValidationException", "ResourceIdList[1]"},
		{"null trail name", "DescribeTrails", `{"trailNameList":[null]}`,
			"InvalidTrailNameException", "trailNameList[0]"},
		{"null lookup attribute", "LookupEvents", `{"LookupAttributes":[null]}`,
			"InvalidLookupAttributesException", "LookupAttributes[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := te.post(t, "CloudTrail_20131101."+tt.op, tt.body)
			code, msg := wireErr(t, r)
			if r.Status != http.StatusBadRequest || code != tt.code {
				t.Errorf("%s %s: %d %s %q, want 400 %s", tt.op, tt.body, r.Status, code, msg, tt.code)
			}
			if want := tt.member + " is null: a list cannot hold null elements."; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		})
	}
	if after, _ := te.cat.Get(arn); after.Generation != before.Generation {
		t.Errorf("refused requests changed the trail")
	}
	if n := len(te.cat.List(acct1, "us-east-1")); n != 1 {
		t.Errorf("%d trails, want 1: a refused CreateTrail made one", n)
	}

	// Null members, as opposed to elements, stay absent.
	body := te.rawOK(t, "PutEventSelectors", "us-east-1",
		`{"TrailName":"trl","EventSelectors":[{"ReadWriteType":"ReadOnly","IncludeManagementEvents":null,"DataResources":null}],"AdvancedEventSelectors":null}`)
	if !strings.Contains(string(body), `"ReadWriteType":"ReadOnly"`) {
		t.Errorf("PutEventSelectors with null members: %s", body)
	}
}
