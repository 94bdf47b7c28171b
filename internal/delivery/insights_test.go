package delivery_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/layout"
)

func mkInsight(t *testing.T, i int, region, typ string) event.Event {
	t.Helper()
	b, _ := json.Marshal(map[string]any{
		"eventVersion": "1.11", "eventTime": event.FormatTime(base), "awsRegion": region,
		"eventID": fmt.Sprintf("in-%s-%06d", region, i), "eventType": "AwsCloudTrailInsight", "recipientAccountId": acct,
		"sharedEventID": "shared-1", "eventCategory": "Insight",
		"insightDetails": map[string]any{"state": "Start", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "insightType": typ,
			"insightContext": map[string]any{"statistics": map[string]any{"baseline": map[string]any{"average": 1}, "insight": map[string]any{"average": 9},
				"insightDuration": 2, "baselineDuration": 10080}}},
	})
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Insights records go to the trails that have their type on, as
// CloudTrail-Insight files of their own, with no notification (and, per
// insights.md §6, in no digest); other trails never get them.
func TestDeliveryInsightsFiles(t *testing.T) {
	h := newHarness(t, nil)
	topic := "arn:aws:sns:us-east-1:" + acct + ":files"
	h.addTrail("Ins", "us-east-1", func(tr *catalog.Trail) {
		tr.IsMultiRegionTrail, tr.SnsTopicARN, tr.S3KeyPrefix = true, topic, "pre"
		tr.InsightSelectors = []catalog.InsightSelector{{InsightType: "ApiCallRateInsight"}}
	})
	h.addTrail("Plain", "us-east-1", nil)
	h.addTrail("Errors", "us-east-1", func(tr *catalog.Trail) {
		tr.InsightSelectors = []catalog.InsightSelector{{InsightType: "ApiErrorRateInsight"}}
	})
	h.addTrail("Stopped", "us-east-1", func(tr *catalog.Trail) {
		tr.Logging = false
		tr.InsightSelectors = []catalog.InsightSelector{{InsightType: "ApiCallRateInsight"}}
	})
	h.append(mkEvent(t, 1, acct, "us-east-1"), mkInsight(t, 1, "us-east-1", "ApiCallRateInsight"),
		mkInsight(t, 2, "us-west-2", "ApiCallRateInsight"), mkEvent(t, 2, acct, "us-east-1"))
	h.waitDelivered()
	got := map[string][]string{} // bucket and service/region -> event ids
	for path, body := range h.objs.snapshot() {
		bucket, key, _ := strings.Cut(path, "/")
		k, err := layout.ParseLogKey(strings.TrimPrefix(key, "pre/"))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(gunzip(t, body), &doc); err != nil {
			t.Fatal(err)
		}
		svc := "CloudTrail"
		if k.Insight {
			svc = "CloudTrail-Insight"
			if !strings.HasPrefix(key, "pre/AWSLogs/"+acct+"/CloudTrail-Insight/"+k.Region+"/") {
				t.Errorf("Insights file key %s", key)
			}
		}
		for _, r := range doc.Records {
			ev, err := event.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			got[bucket+" "+svc+" "+k.Region] = append(got[bucket+" "+svc+" "+k.Region], ev.EventID)
		}
	}
	want := map[string][]string{
		"bucket-ins CloudTrail us-east-1":         {"ev-" + acct + "-us-east-1-000001", "ev-" + acct + "-us-east-1-000002"},
		"bucket-ins CloudTrail-Insight us-east-1": {"in-us-east-1-000001"},
		"bucket-ins CloudTrail-Insight us-west-2": {"in-us-west-2-000002"},
		"bucket-plain CloudTrail us-east-1":       {"ev-" + acct + "-us-east-1-000001", "ev-" + acct + "-us-east-1-000002"},
		"bucket-errors CloudTrail us-east-1":      {"ev-" + acct + "-us-east-1-000001", "ev-" + acct + "-us-east-1-000002"},
	}
	if len(got) != len(want) {
		t.Errorf("files: %v", got)
	}
	for k, ids := range want {
		if strings.Join(got[k], ",") != strings.Join(ids, ",") {
			t.Errorf("%s: %v, want %v", k, got[k], ids)
		}
	}
	h.pub.mu.Lock()
	defer h.pub.mu.Unlock()
	if len(h.pub.msgs) != 1 || strings.Contains(h.pub.msgs[0], "CloudTrail-Insight") {
		t.Errorf("notifications: %v, want one, for the log file", h.pub.msgs)
	}
}
