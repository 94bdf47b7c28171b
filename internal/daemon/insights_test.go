package daemon_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

// burstTraffic is three hours of 8 to 12 RunInstances calls a minute in
// us-west-2, ending a minute before now, with 60 more a minute from 20 to
// 10 minutes before now. The region has no other events: the API calls
// of the test, in us-east-1, would make the detector's clock of the
// region now, and older events late.
func burstTraffic(t *testing.T, now time.Time) []event.Event {
	t.Helper()
	start := now.Truncate(time.Minute).Add(-3 * time.Hour)
	var evs []event.Event
	i := 0
	for m := start; m.Before(now.Add(-time.Minute)); m = m.Add(time.Minute) {
		n := 8 + 2*(i%3)
		if left := now.Sub(m); left <= 20*time.Minute && left > 10*time.Minute {
			n += 60
		}
		for j := range n {
			i++
			rec := map[string]any{
				"eventVersion": "1.11", "eventTime": event.FormatTime(m.Add(time.Duration(j%60) * time.Second)),
				"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-west-2",
				"eventID": fmt.Sprintf("10000000-0000-4000-8000-%012d", i), "eventType": "AwsApiCall", "readOnly": false,
				"recipientAccountId": testAccount, "userAgent": "aws-cli/2.15", "sourceIPAddress": "192.0.2.1",
				"userIdentity":    map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + testAccount + ":user/ops", "accountId": testAccount, "userName": "ops"},
				"managementEvent": true, "eventCategory": "Management",
			}
			b, _ := json.Marshal(rec)
			ev, err := event.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// deliveredKeys lists the keys under prefix in bucket.
func deliveredKeys(t *testing.T, c *s3.Client, bucket, prefix string) []string {
	t.Helper()
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func TestInsightsEndToEnd(t *testing.T) {
	zero := config.Duration(0)
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Insights.WarmUp = &zero
		c.Delivery.Interval = config.Duration(300 * time.Millisecond)
		c.Delivery.DigestInterval = config.Duration(2 * time.Second)
	})
	testStart := time.Now().UTC().Add(-time.Minute)
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	if _, err := s3Client(t, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("insights-bucket")}); err != nil {
		t.Fatal(err)
	}
	created, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("ins"), S3BucketName: aws.String("insights-bucket"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("ins")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("ins"),
		InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiCallRateInsight}}}); err != nil {
		t.Fatal(err)
	}
	traffic := burstTraffic(t, time.Now().UTC())
	if _, err := d.Store().Append(ctx, traffic, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}

	west := rootClient(t, d, testAccount, "us-west-2")
	insightsPage := func(attrs ...cttypes.LookupAttribute) []cttypes.Event {
		t.Helper()
		out, err := west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight, LookupAttributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		return out.Events
	}
	deadline := time.Now().Add(60 * time.Second)
	var evs []cttypes.Event
	for len(evs) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s LookupEvents EventCategory=insight returns %d events", len(evs))
		}
		time.Sleep(200 * time.Millisecond)
		evs = insightsPage()
	}
	if len(evs) != 2 {
		t.Fatalf("%d Insights events, want Start and End", len(evs))
	}
	var recs [2]struct {
		EventTime      string
		EventType      string
		SharedEventID  string
		EventCategory  string
		InsightDetails struct {
			State, EventName, EventSource, InsightType string
			InsightContext                             struct {
				Statistics struct {
					InsightDuration int
					Insight         struct{ Average float64 }
				}
			}
		}
	}
	for i, e := range evs {
		if aws.ToString(e.EventName) != "RunInstances" || aws.ToString(e.EventSource) != "ec2.amazonaws.com" {
			t.Errorf("event %d: EventName %q, EventSource %q", i, aws.ToString(e.EventName), aws.ToString(e.EventSource))
		}
		if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	end, start := recs[0], recs[1] // newest first
	if start.InsightDetails.State != "Start" || end.InsightDetails.State != "End" || start.SharedEventID != end.SharedEventID ||
		start.EventType != "AwsCloudTrailInsight" || start.EventCategory != "Insight" || start.InsightDetails.InsightType != "ApiCallRateInsight" {
		t.Errorf("Start %+v\nEnd %+v", start, end)
	}
	if st := end.InsightDetails.InsightContext.Statistics; st.InsightDuration != 10 || st.Insight.Average < 68 || st.Insight.Average > 72 {
		t.Errorf("End statistics %+v, want 10 minutes at about 70 a minute", st)
	}
	if got := insightsPage(cttypes.LookupAttribute{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("RunInstances")}); len(got) != 2 {
		t.Errorf("EventName=RunInstances finds %d Insights events", len(got))
	}
	if got := insightsPage(cttypes.LookupAttribute{AttributeKey: cttypes.LookupAttributeKeyEventId, AttributeValue: evs[1].EventId}); len(got) != 1 {
		t.Errorf("EventId finds %d Insights events", len(got))
	}
	// Without the category, management events only.
	out, err := west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventId, AttributeValue: evs[0].EventId}}})
	if err != nil || len(out.Events) != 0 {
		t.Errorf("an Insights event without EventCategory=insight: %v %v", out, err)
	}

	// ListInsightsMetricData gives the per-minute counts behind them.
	perMinute := map[int64]float64{}
	for _, ev := range traffic {
		perMinute[ev.EventTime.Unix()/60*60]++
	}
	metrics := func(in cloudtrail.ListInsightsMetricDataInput) *cloudtrail.ListInsightsMetricDataOutput {
		t.Helper()
		in.EventSource, in.EventName, in.InsightType = aws.String("ec2.amazonaws.com"), aws.String("RunInstances"), cttypes.InsightTypeApiCallRateInsight
		out, err := west.ListInsightsMetricData(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var got *cloudtrail.ListInsightsMetricDataOutput
	// The last minute is judged Grace (30 s) after it ends, and its count
	// shows once the detector saves (every 5 s); on a loaded machine that
	// took longer than a 30 s wait.
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = metrics(cloudtrail.ListInsightsMetricDataInput{Period: aws.Int32(60)})
		if len(got.Values) == len(perMinute) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 120s ListInsightsMetricData has %d minutes, want %d", len(got.Values), len(perMinute))
		}
	}
	for i, ts := range got.Timestamps {
		if want := perMinute[ts.Unix()]; got.Values[i] != want || i > 0 && !ts.After(got.Timestamps[i-1]) {
			t.Errorf("minute %v: %v calls, want %v (in ascending order)", ts, got.Values[i], want)
		}
	}
	if aws.ToString(got.EventSource) != "ec2.amazonaws.com" || got.InsightType != cttypes.InsightTypeApiCallRateInsight || got.TrailARN != nil || got.NextToken != nil {
		t.Errorf("ListInsightsMetricData echoes %+v", got)
	}
	// Hourly sums, zeros filled, two points a page.
	from := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	var hours []float64
	in := cloudtrail.ListInsightsMetricDataInput{Period: aws.Int32(3600), DataType: cttypes.InsightsMetricDataTypeFillWithZeros,
		StartTime: aws.Time(from), MaxResults: aws.Int32(2)}
	for page := 0; ; page++ {
		out := metrics(in)
		hours = append(hours, out.Values...)
		if out.NextToken == nil {
			break
		}
		if len(out.Values) != 2 || page > 5 {
			t.Fatalf("page %d has %d points", page, len(out.Values))
		}
		in.NextToken = out.NextToken
	}
	var total, sum float64
	for _, v := range perMinute {
		total += v
	}
	for _, v := range hours {
		sum += v
	}
	if len(hours) != 6 || sum != total || hours[0] != 0 {
		t.Errorf("hourly points %v (sum %v), want 6 hours summing to %v, the first empty", hours, sum, total)
	}
	for _, tt := range []struct {
		name string
		in   cloudtrail.ListInsightsMetricDataInput
	}{
		{"bad source", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("EC2"), EventName: aws.String("RunInstances"), InsightType: cttypes.InsightTypeApiCallRateInsight}},
		{"bad name", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("ec2.amazonaws.com"), EventName: aws.String("Run-Instances"), InsightType: cttypes.InsightTypeApiCallRateInsight}},
		{"error rate without error code", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("ec2.amazonaws.com"), EventName: aws.String("RunInstances"), InsightType: cttypes.InsightTypeApiErrorRateInsight}},
		{"bad period", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("ec2.amazonaws.com"), EventName: aws.String("RunInstances"), InsightType: cttypes.InsightTypeApiCallRateInsight, Period: aws.Int32(120)}},
		{"bad data type", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("ec2.amazonaws.com"), EventName: aws.String("RunInstances"), InsightType: cttypes.InsightTypeApiCallRateInsight, DataType: "All"}},
		{"time range", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("ec2.amazonaws.com"), EventName: aws.String("RunInstances"), InsightType: cttypes.InsightTypeApiCallRateInsight,
			StartTime: aws.Time(from), EndTime: aws.Time(from.Add(-time.Hour))}},
		{"altered token", cloudtrail.ListInsightsMetricDataInput{EventSource: aws.String("ec2.amazonaws.com"), EventName: aws.String("RunInstances"), InsightType: cttypes.InsightTypeApiCallRateInsight,
			NextToken: aws.String("AQ")}},
	} {
		if _, err := west.ListInsightsMetricData(ctx, &tt.in); apiCode(err) != "InvalidParameterException" {
			t.Errorf("%s: %v, want InvalidParameterException", tt.name, err)
		}
	}

	// The trail delivers them as CloudTrail-Insight files.
	s3c := s3Client(t, d, testAccount)
	prefix := "AWSLogs/" + testAccount + "/CloudTrail-Insight/us-west-2/"
	var files []json.RawMessage
	for deadline := time.Now().Add(30 * time.Second); len(files) < 2; files = deliveredJSON(t, s3c, "insights-bucket", prefix) {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the bucket holds %d Insights records under %s", len(files), prefix)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(files) != 2 || string(files[0]) != aws.ToString(evs[1].CloudTrailEvent) && string(files[1]) != aws.ToString(evs[1].CloudTrailEvent) {
		t.Errorf("Insights files hold %d records, not the ones LookupEvents returns", len(files))
	}

	// The aws CLI sees the same.
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	k, err := d.Identities().RootKey(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) []byte {
		t.Helper()
		region := "us-east-1"
		if args[0] == "--region" {
			region, args = args[1], args[2:]
		}
		cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", d.URL(), "--region", region, "--output", "json", "cloudtrail"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+k.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+k.SecretAccessKey,
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
		b, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return b
	}
	var lookup struct {
		Events []struct{ EventId, EventName string }
	}
	if err := json.Unmarshal(cli("--region", "us-west-2", "lookup-events", "--event-category", "insight"), &lookup); err != nil {
		t.Fatal(err)
	}
	if len(lookup.Events) != 2 || lookup.Events[0].EventId != aws.ToString(evs[0].EventId) || lookup.Events[1].EventName != "RunInstances" {
		t.Errorf("aws cloudtrail lookup-events --event-category insight: %+v", lookup)
	}
	// Insights files are in no digest (insights.md §6); the trail's logs
	// still validate. Wait for a digest after the Insights files.
	digestPrefix := "AWSLogs/" + testAccount + "/CloudTrail-Digest/us-west-2/"
	for seen, deadline := len(deliveredKeys(t, s3c, "insights-bucket", digestPrefix)), time.Now().Add(30*time.Second); ; time.Sleep(200 * time.Millisecond) {
		if len(deliveredKeys(t, s3c, "insights-bucket", digestPrefix)) > seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no digest for us-west-2 within 30s")
		}
	}
	cmd := exec.CommandContext(ctx, "aws", "cloudtrail", "validate-logs", "--trail-arn", aws.ToString(created.TrailARN),
		"--start-time", testStart.Format(time.RFC3339), "--region", "us-east-1", "--verbose")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+k.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+k.SecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=",
		"AWS_ENDPOINT_URL_CLOUDTRAIL="+d.URL(), "AWS_ENDPOINT_URL_S3="+d.URL())
	vout, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "digest files valid") || strings.Contains(string(vout), "INVALID") {
		t.Errorf("aws cloudtrail validate-logs: %v\n%s", err, vout)
	}
	t.Logf("validate-logs:\n%s", vout)

	var cliMetrics struct {
		Timestamps []json.RawMessage
		Values     []float64
	}
	if err := json.Unmarshal(cli("--region", "us-west-2", "list-insights-metric-data", "--event-source", "ec2.amazonaws.com", "--event-name", "RunInstances",
		"--insight-type", "ApiCallRateInsight", "--period", "60"), &cliMetrics); err != nil {
		t.Fatal(err)
	}
	if len(cliMetrics.Values) != len(perMinute) || len(cliMetrics.Timestamps) != len(perMinute) {
		t.Errorf("aws cloudtrail list-insights-metric-data: %d values, want %d", len(cliMetrics.Values), len(perMinute))
	}

	cli("put-insight-selectors", "--trail-name", "ins", "--insight-selectors",
		`[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight","EventCategories":["Management"]}]`)
	var sel struct {
		TrailARN         string
		InsightSelectors []struct {
			InsightType     string
			EventCategories []string
		}
	}
	if err := json.Unmarshal(cli("get-insight-selectors", "--trail-name", "ins"), &sel); err != nil {
		t.Fatal(err)
	}
	if len(sel.InsightSelectors) != 2 || sel.InsightSelectors[1].InsightType != "ApiErrorRateInsight" || !strings.HasSuffix(sel.TrailARN, ":trail/ins") {
		t.Errorf("aws cloudtrail get-insight-selectors: %+v", sel)
	}
}
