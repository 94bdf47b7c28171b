package daemon_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// activityRecord is the record a channel stores for an event from outside
// AWS (spec lake.md §7.5), its eventData shaped like §7.2's example, but
// naming an AWS API call (S3 PutObject, a write): nothing but the event
// data stores of its channel may take it for one.
func activityRecord(t *testing.T, i int, at time.Time) event.Event {
	t.Helper()
	ts := at.UTC().Format(event.TimeFormat)
	m := map[string]any{
		"eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
		"eventID": fmt.Sprintf("0a1b2c3d-4e5f-4a6b-8c7d-%012d", i), "eventTime": ts,
		"awsRegion": "us-east-1", "recipientAccountId": testAccount,
		"metadata": map[string]any{"ingestionTime": ts, "channelARN": "arn:aws:cloudtrail:us-east-1:" + testAccount + ":channel/0c000000-0000-4000-8000-00000000000a"},
		"eventData": map[string]any{"version": "1.0", "UID": fmt.Sprintf("req-%d", i),
			"userIdentity": map[string]any{"type": "CustomUserIdentity", "principalId": "alice", "details": map[string]any{"team": "ops"}},
			"eventTime":    ts, "eventName": "PutObject", "eventSource": "s3.amazonaws.com", "userAgent": "myapp/2.1",
			"requestParameters": map[string]any{"bucketName": "aal-bucket", "key": "k"}, "sourceIPAddress": "198.51.100.7",
			"recipientAccountId": testAccount},
	}
	return parsed(t, m)
}

// parsed is the record of the members m as the store takes it.
func parsed(t *testing.T, m map[string]any) event.Event {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// markerRecord is a write management event, which every follower takes: it
// comes after the records from outside AWS, so once a follower has it, it
// has seen them.
func markerRecord(t *testing.T, at time.Time) event.Event {
	t.Helper()
	return parsed(t, map[string]any{
		"eventVersion": "1.11", "eventTime": at.UTC().Format(event.TimeFormat), "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
		"awsRegion": "us-east-1", "eventID": "marker-0000-4000-8000-000000000001", "eventType": "AwsApiCall", "readOnly": false,
		"managementEvent": true, "eventCategory": "Management", "recipientAccountId": testAccount, "requestID": "marker-request",
		"userIdentity": map[string]any{"type": "Root", "accountId": testAccount, "arn": "arn:aws:iam::" + testAccount + ":root"},
	})
}

// TestActivityAuditLogFollowers: records of events from outside AWS in the
// event log reach none of the followers that carry CloudTrail events:
// event history (LookupEvents), a trail logging every management and S3
// data event (its S3 files and its CloudWatch Logs group), EventBridge's
// default bus, and event data stores of CloudTrail events. A store of
// category ActivityAuditLog takes them only from its channels' ranges: the
// records of a channel that names no store land nowhere.
func TestActivityAuditLogFollowers(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Delivery.Interval = config.Duration(300 * time.Millisecond)
		c.Lake.Threads = 1
	})
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	if _, err := s3Client(t, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("aal-bucket")}); err != nil {
		t.Fatal(err)
	}
	cl := logsClient(t, d, testAccount, "us-east-1")
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("CloudTrail/aal")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("all"), S3BucketName: aws.String("aal-bucket"), IsMultiRegionTrail: aws.Bool(true),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:" + testAccount + ":log-group:CloudTrail/aal:*"),
		CloudWatchLogsRoleArn:     aws.String("arn:aws:iam::" + testAccount + ":role/CloudTrail_CloudWatchLogs_Role")}); err != nil {
		t.Fatal(err)
	}
	mgmt := fields(cttypes.AdvancedFieldSelector{Field: aws.String("eventCategory"), Equals: []string{"Management"}})
	s3data := fields(cttypes.AdvancedFieldSelector{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
		cttypes.AdvancedFieldSelector{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}})
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("all"),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{mgmt, s3data}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("all")}); err != nil {
		t.Fatal(err)
	}
	eb := eventsClient(t, d, testAccount, "us-east-1")
	rc, srv := newReceiver(t)
	dest := apiDestination(t, eb, "hook", srv.URL+"/events")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("everything"), State: ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents,
		EventPattern: aws.String(`{"account":["` + testAccount + `"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("everything"), Targets: []ebtypes.Target{
		{Id: aws.String("hook"), Arn: aws.String(dest)}}}); err != nil {
		t.Fatal(err)
	}
	ctStore := edsIn(t, ct, "cloudtrail-events", false, mgmt, s3data)
	aalStore := edsIn(t, ct, "from-outside", false,
		fields(cttypes.AdvancedFieldSelector{Field: aws.String("eventCategory"), Equals: []string{"ActivityAuditLog"}}))

	now := time.Now().UTC()
	var evs []event.Event
	ids := map[string]bool{}
	for i := range 3 {
		ev := activityRecord(t, i, now)
		evs = append(evs, ev)
		ids[ev.EventID] = true
	}
	evs = append(evs, markerRecord(t, now))
	if _, err := d.Store().Append(ctx, evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	isActivity := func(raw []byte) bool {
		var r struct{ EventCategory, EventID string }
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		return r.EventCategory == "ActivityAuditLog" || ids[r.EventID]
	}

	t.Run("event history", func(t *testing.T) {
		waitUntil(t, "the marker in LookupEvents", func() bool {
			out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
				{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateUser")}}})
			return err == nil && len(out.Events) == 1
		})
		for id := range ids {
			out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
				{AttributeKey: cttypes.LookupAttributeKeyEventId, AttributeValue: aws.String(id)}}})
			if err != nil || len(out.Events) != 0 {
				t.Errorf("LookupEvents EventId=%s: %d events, %v; want none", id, len(out.Events), err)
			}
		}
		for _, attr := range []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("PutObject")},
			{AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String("s3.amazonaws.com")},
			{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String("aal-bucket")},
		} {
			// The server's own S3 calls (CreateBucket, the trail's
			// deliveries) are there; the records are not.
			out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{attr}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.Events {
				if isActivity([]byte(aws.ToString(e.CloudTrailEvent))) {
					t.Errorf("LookupEvents %s=%s returns an event from outside AWS: %s", attr.AttributeKey, aws.ToString(attr.AttributeValue), aws.ToString(e.CloudTrailEvent))
				}
			}
		}
	})

	t.Run("trail log files", func(t *testing.T) {
		c := s3Client(t, d, testAccount)
		var recs []json.RawMessage
		waitUntil(t, "the marker in the trail's log files", func() bool {
			recs = deliveredJSON(t, c, "aal-bucket", "AWSLogs/")
			for _, r := range recs {
				if strings.Contains(string(r), "marker-request") {
					return true
				}
			}
			return false
		})
		for _, r := range recs {
			if isActivity(r) {
				t.Errorf("the trail delivered an event from outside AWS: %s", r)
			}
		}
	})

	t.Run("CloudWatch Logs", func(t *testing.T) {
		filter := func(pattern string) int {
			out, err := cl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("CloudTrail/aal"),
				FilterPattern: aws.String(pattern)})
			if err != nil {
				t.Fatal(err)
			}
			return len(out.Events)
		}
		waitUntil(t, "the marker in the log group", func() bool { return filter(`{ $.requestID = "marker-request" }`) == 1 })
		if n := filter(`{ $.eventCategory = "ActivityAuditLog" }`); n != 0 {
			t.Errorf("the log group holds %d events from outside AWS", n)
		}
		if n := filter(`{ $.eventData.eventName = "PutObject" }`); n != 0 {
			t.Errorf("the log group holds %d events from outside AWS", n)
		}
	})

	t.Run("EventBridge", func(t *testing.T) {
		rc.waitFor(t, "the marker", eventName("CreateUser"))
		if n := rc.count(func(m map[string]any) bool {
			d, _ := m["detail"].(map[string]any)
			return d != nil && (d["eventCategory"] == "ActivityAuditLog" || ids[fmt.Sprint(d["eventID"])])
		}); n != 0 {
			t.Errorf("the bus delivered %d events from outside AWS", n)
		}
	})

	t.Run("event data stores", func(t *testing.T) {
		waitUntil(t, "the marker in the store of CloudTrail events", func() bool {
			return len(queryRows(t, ct, "SELECT eventid FROM "+ctStore+" WHERE eventname = 'CreateUser'")) == 1
		})
		if rows := queryRows(t, ct, "SELECT eventid, eventcategory FROM "+ctStore+" WHERE eventcategory = 'ActivityAuditLog' OR eventid LIKE '0a1b2c3d-%' OR eventname = 'PutObject' AND useragent = 'myapp/2.1'"); len(rows) != 0 {
			t.Errorf("the store of CloudTrail events holds %v", rows)
		}
		// The channel names no store: the records land nowhere.
		if rows := queryRows(t, ct, "SELECT eventid FROM "+aalStore); len(rows) != 0 {
			t.Errorf("the ActivityAuditLog store holds %v", rows)
		}
	})
}
