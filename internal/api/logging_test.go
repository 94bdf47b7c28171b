package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/google/go-cmp/cmp"
)

// TestTrailStatusNeverLogged: a trail that never logged or delivered
// anything sends the legacy string members as "", as AWS does, and leaves
// out every timestamp and error member. Which member is which comes from
// the botocore model.
func TestTrailStatusNeverLogged(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	te.del.do(func() { te.del.never = true })
	mustCreate(t, te.c1(), mkTrail("quiet"))

	out, err := te.c1().GetTrailStatus(t.Context(), &cloudtrail.GetTrailStatusInput{Name: aws.String("quiet")})
	if err != nil {
		t.Fatal(err)
	}
	empty := aws.String("")
	want := &cloudtrail.GetTrailStatusOutput{
		IsLogging:                 aws.Bool(false),
		LatestDeliveryAttemptTime: empty, LatestDeliveryAttemptSucceeded: empty,
		LatestNotificationAttemptTime: empty, LatestNotificationAttemptSucceeded: empty,
		TimeLoggingStarted: empty, TimeLoggingStopped: empty,
	}
	if diff := cmp.Diff(want, out, sdkCmp); diff != "" {
		t.Errorf("GetTrailStatus (-want +got):\n%s", diff)
	}

	body := te.rawOK(t, "GetTrailStatus", "us-east-1", `{"Name":"quiet"}`)
	jsonEqual(t, "GetTrailStatus", body, `{"IsLogging":false,
		"LatestDeliveryAttemptTime":"","LatestDeliveryAttemptSucceeded":"",
		"LatestNotificationAttemptTime":"","LatestNotificationAttemptSucceeded":"",
		"TimeLoggingStarted":"","TimeLoggingStopped":""}`)

	// Against the model: a string member is sent as "" unless it holds an
	// error (sent only when there is one); a timestamp member is absent.
	m := loadModel(t)
	shape := m.Shapes[m.Operations["GetTrailStatus"].Output.Shape]
	if len(shape.Members) == 0 {
		t.Fatal("the model's GetTrailStatus output has no members")
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for name, mem := range shape.Members {
		v, sent := got[name]
		switch typ := m.Shapes[mem.Shape].Type; {
		case typ == "boolean":
			if v != false {
				t.Errorf("%s (boolean) = %v, want false", name, v)
			}
		case typ == "timestamp", typ == "string" && strings.HasSuffix(name, "Error"):
			if sent {
				t.Errorf("%s (%s) is sent as %v; want it left out", name, typ, v)
			}
		case typ == "string":
			if v != "" {
				t.Errorf(`%s (string) = %#v, want ""`, name, v)
			}
		default:
			t.Errorf("%s has model type %s, which this test does not know", name, typ)
		}
	}
	for name := range got {
		if _, ok := shape.Members[name]; !ok {
			t.Errorf("%s is not a member of the model's GetTrailStatus output", name)
		}
	}
}
