package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// seed stores n management events in testAccount/us-east-1 plus a few that
// LookupEvents must never return, and returns them by index.
func seed(t *testing.T, st *store.Store, n int, now time.Time) []event.Event {
	t.Helper()
	var evs []event.Event
	mk := func(i int, mut func(m map[string]any)) event.Event {
		m := map[string]any{
			"eventVersion": "1.09",
			"userIdentity": map[string]any{"type": "IAMUser", "userName": fmt.Sprintf("alice%d", i%3), "accountId": testAccount,
				"arn": "arn:aws:iam::" + testAccount + ":user/x", "accessKeyId": fmt.Sprintf("AKIAKEY%d", i%4)},
			"eventTime":          event.FormatTime(now.Add(-time.Duration(n-i) * time.Minute)),
			"eventSource":        []string{"ec2.amazonaws.com", "iam.amazonaws.com"}[i%2],
			"eventName":          fmt.Sprintf("Call%d", i%5),
			"awsRegion":          "us-east-1",
			"eventID":            fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"readOnly":           i%3 == 0,
			"eventType":          "AwsApiCall",
			"managementEvent":    true,
			"recipientAccountId": testAccount,
			"eventCategory":      "Management",
			"resources":          []any{map[string]any{"ARN": fmt.Sprintf("arn:aws:ec2:us-east-1:%s:instance/i-%d", testAccount, i%6), "accountId": testAccount, "type": "AWS::EC2::Instance"}},
		}
		if mut != nil {
			mut(m)
		}
		b, _ := json.Marshal(m)
		ev, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	for i := range n {
		evs = append(evs, mk(i, nil))
	}
	at := func(m map[string]any) { m["eventTime"] = seedOthersTime(now, n) }
	others := []event.Event{
		mk(1000, func(m map[string]any) { at(m); m["managementEvent"] = false; m["eventCategory"] = "Data" }),
		mk(1001, func(m map[string]any) { at(m); m["recipientAccountId"] = "999988887777" }),
		mk(1002, func(m map[string]any) { at(m); m["awsRegion"] = "eu-west-1" }),
		mk(1003, func(m map[string]any) {
			at(m)
			m["eventType"] = "AwsCloudTrailInsight"
			m["eventCategory"] = "Insight"
			m["insightDetails"] = map[string]any{"eventName": "Call1", "eventSource": "ec2.amazonaws.com", "state": "Start"}
		}),
	}
	if _, err := st.Append(context.Background(), append(slices.Clone(evs), others...), store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	return evs
}

// seedOthersTime is when the events LookupEvents must not mix in happened:
// inside the seeded range.
func seedOthersTime(now time.Time, n int) string {
	return event.FormatTime(now.Add(-time.Duration(n/2) * time.Minute))
}

func TestLookupEventsSystem(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	evs := seed(t, d.Store(), 120, now)
	ct := rootClient(t, d, testAccount, "us-east-1")
	before := now.Add(-time.Second) // excludes the self-recorded calls below

	all := func(in *cloudtrail.LookupEventsInput) []string {
		t.Helper()
		in.EndTime = aws.Time(before)
		var ids []string
		p := cloudtrail.NewLookupEventsPaginator(ct, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				ids = append(ids, aws.ToString(e.EventId))
			}
		}
		return ids
	}
	want := func(pred func(i int, ev event.Event) bool) []string {
		var ids []string
		for i := len(evs) - 1; i >= 0; i-- {
			if pred(i, evs[i]) {
				ids = append(ids, evs[i].EventID)
			}
		}
		return ids
	}
	attr := func(k cttypes.LookupAttributeKey, v string) *cloudtrail.LookupEventsInput {
		return &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(9), LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}}
	}
	cases := []struct {
		name string
		in   *cloudtrail.LookupEventsInput
		pred func(int, event.Event) bool
	}{
		{"no attribute", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(13)}, func(int, event.Event) bool { return true }},
		{"EventId", attr(cttypes.LookupAttributeKeyEventId, evs[42].EventID), func(i int, _ event.Event) bool { return i == 42 }},
		{"EventName", attr(cttypes.LookupAttributeKeyEventName, "Call2"), func(i int, _ event.Event) bool { return i%5 == 2 }},
		{"ReadOnly true", attr(cttypes.LookupAttributeKeyReadOnly, "true"), func(i int, _ event.Event) bool { return i%3 == 0 }},
		{"ReadOnly false", attr(cttypes.LookupAttributeKeyReadOnly, "false"), func(i int, _ event.Event) bool { return i%3 != 0 }},
		{"Username", attr(cttypes.LookupAttributeKeyUsername, "alice1"), func(i int, _ event.Event) bool { return i%3 == 1 }},
		{"ResourceType", attr(cttypes.LookupAttributeKeyResourceType, "AWS::EC2::Instance"), func(int, event.Event) bool { return true }},
		{"ResourceName", attr(cttypes.LookupAttributeKeyResourceName, "arn:aws:ec2:us-east-1:"+testAccount+":instance/i-4"), func(i int, _ event.Event) bool { return i%6 == 4 }},
		{"EventSource", attr(cttypes.LookupAttributeKeyEventSource, "iam.amazonaws.com"), func(i int, _ event.Event) bool { return i%2 == 1 }},
		{"AccessKeyId", attr(cttypes.LookupAttributeKeyAccessKeyId, "AKIAKEY3"), func(i int, _ event.Event) bool { return i%4 == 3 }},
		{"no match", attr(cttypes.LookupAttributeKeyEventName, "Nope"), func(int, event.Event) bool { return false }},
		{"time range inclusive", &cloudtrail.LookupEventsInput{
			StartTime: aws.Time(now.Add(-100 * time.Minute)), MaxResults: aws.Int32(7),
		}, func(i int, _ event.Event) bool { return i >= 20 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, wantIDs := all(c.in), want(c.pred)
			if !slices.Equal(got, wantIDs) {
				t.Fatalf("got %d events %v\nwant %d %v", len(got), got, len(wantIDs), wantIDs)
			}
		})
	}
	t.Run("end time inclusive", func(t *testing.T) {
		end := now.Add(-110 * time.Minute) // event 10's time exactly
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(end), EndTime: aws.Time(end)})
		if err != nil || len(out.Events) != 1 || aws.ToString(out.Events[0].EventId) != evs[10].EventID {
			t.Fatalf("got %+v, %v", out, err)
		}
	})
	t.Run("Event fields", func(t *testing.T) {
		out, err := ct.LookupEvents(ctx, attr(cttypes.LookupAttributeKeyEventId, evs[7].EventID))
		if err != nil || len(out.Events) != 1 {
			t.Fatal(out, err)
		}
		e := out.Events[0]
		if aws.ToString(e.EventName) != "Call2" || aws.ToString(e.ReadOnly) != "false" || aws.ToString(e.Username) != "alice1" ||
			aws.ToString(e.AccessKeyId) != "AKIAKEY3" || aws.ToString(e.EventSource) != "iam.amazonaws.com" ||
			!e.EventTime.Equal(evs[7].EventTime) || aws.ToString(e.CloudTrailEvent) != string(evs[7].Raw) ||
			len(e.Resources) != 1 || aws.ToString(e.Resources[0].ResourceType) != "AWS::EC2::Instance" {
			t.Fatalf("event = %+v", e)
		}
	})
	t.Run("insight category", func(t *testing.T) {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight, EndTime: aws.Time(before)})
		if err != nil || len(out.Events) != 1 || aws.ToString(out.Events[0].EventName) != "Call1" {
			t.Fatalf("insight lookup = %+v, %v", out, err)
		}
		_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight,
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("x")}}})
		if apiCode(err) != "InvalidLookupAttributesException" {
			t.Fatalf("Username with insight: %v", err)
		}
	})
	t.Run("validation errors", func(t *testing.T) {
		two := []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("a")},
			{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String("b")},
		}
		long := make([]byte, 1001)
		for i := range long {
			long[i] = '_' // counts double: 2002 > 2000
		}
		for _, c := range []struct {
			name string
			in   *cloudtrail.LookupEventsInput
			code string
		}{
			{"two attributes", &cloudtrail.LookupEventsInput{LookupAttributes: two}, "InvalidLookupAttributesException"},
			{"bad key", attr("Colour", "x"), "InvalidLookupAttributesException"},
			{"empty value", attr(cttypes.LookupAttributeKeyEventName, ""), "InvalidLookupAttributesException"},
			{"long value", attr(cttypes.LookupAttributeKeyEventName, string(long)), "InvalidLookupAttributesException"},
			{"bad ReadOnly", attr(cttypes.LookupAttributeKeyReadOnly, "yes"), "InvalidLookupAttributesException"},
			{"start after end", &cloudtrail.LookupEventsInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour))}, "InvalidTimeRangeException"},
			{"MaxResults 0", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
			{"MaxResults 51", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
			{"bad category", &cloudtrail.LookupEventsInput{EventCategory: "management"}, "InvalidEventCategoryException"},
			{"bad token", &cloudtrail.LookupEventsInput{NextToken: aws.String("bm90LWEtdG9rZW4")}, "InvalidNextTokenException"},
		} {
			if _, err := ct.LookupEvents(ctx, c.in); apiCode(err) != c.code {
				t.Errorf("%s: got %v, want %s", c.name, err, c.code)
			}
		}
	})
	t.Run("token reused with other parameters", func(t *testing.T) {
		out, err := ct.LookupEvents(ctx, attr(cttypes.LookupAttributeKeyEventName, "Call2"))
		if err != nil || out.NextToken == nil {
			t.Fatal(err)
		}
		in := attr(cttypes.LookupAttributeKeyEventName, "Call3")
		in.NextToken = out.NextToken
		if _, err := ct.LookupEvents(ctx, in); apiCode(err) != "InvalidNextTokenException" {
			t.Fatalf("got %v", err)
		}
		in = attr(cttypes.LookupAttributeKeyEventName, "Call2")
		in.MaxResults = aws.Int32(10)
		in.NextToken = out.NextToken
		if _, err := ct.LookupEvents(ctx, in); apiCode(err) != "InvalidNextTokenException" {
			t.Fatalf("changed MaxResults: got %v", err)
		}
	})
}
