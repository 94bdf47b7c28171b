package daemon_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/testenv"
)

func logsClient(t testing.TB, d *daemon.Daemon, account, region string) *cloudwatchlogs.Client {
	t.Helper()
	creds, hc := rootSDK(t, d, account)
	return cloudwatchlogs.New(cloudwatchlogs.Options{Region: region, BaseEndpoint: aws.String(d.URL()), RetryMaxAttempts: 1, Credentials: creds, HTTPClient: hc})
}

// TestTrailDeliversToCloudWatchLogs: a trail with a log group sends every
// event it records to <account>_CloudTrail_<region>, one compact JSON
// record per log event, findable with a JSON filter pattern.
func TestTrailDeliversToCloudWatchLogs(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	cl := logsClient(t, d, testAccount, "us-east-1")
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("CloudTrail/main")}); err != nil {
		t.Fatal(err)
	}
	groupARN := "arn:aws:logs:us-east-1:111122223333:log-group:CloudTrail/main:*"
	role := "arn:aws:iam::111122223333:role/CloudTrail_CloudWatchLogs_Role"
	if _, err := s3Client(t, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cw-bucket")}); err != nil {
		t.Fatal(err)
	}
	// A missing group is refused.
	_, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("cw-bucket"), IsMultiRegionTrail: aws.Bool(true),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:111122223333:log-group:nope:*"), CloudWatchLogsRoleArn: aws.String(role)})
	if apiCode(err) != "InvalidCloudWatchLogsLogGroupArnException" {
		t.Fatalf("CreateTrail with a missing log group: %v", err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("cw-bucket"), IsMultiRegionTrail: aws.Bool(true),
		CloudWatchLogsLogGroupArn: aws.String(groupARN), CloudWatchLogsRoleArn: aws.String(role)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	west := rootClient(t, d, testAccount, "us-west-2")
	if _, err := west.ListTrails(ctx, &cloudtrail.ListTrailsInput{}); err != nil {
		t.Fatal(err)
	}
	stream := "111122223333_CloudTrail_us-west-2"
	var got []cwltypes.FilteredLogEvent
	waitUntil(t, "the ListTrails call in the log group", func() bool {
		out, err := cl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("CloudTrail/main"),
			FilterPattern: aws.String(`{ ($.eventName = "ListTrails") && ($.awsRegion = us-west-2) }`)})
		if err != nil {
			t.Fatal(err)
		}
		got = out.Events
		return len(got) == 1
	})
	if aws.ToString(got[0].LogStreamName) != stream {
		t.Errorf("stream = %s, want %s", aws.ToString(got[0].LogStreamName), stream)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(got[0].Message)), &rec); err != nil || rec["eventSource"] != "cloudtrail.amazonaws.com" {
		t.Errorf("message = %s (%v)", aws.ToString(got[0].Message), err)
	}
	if strings.Contains(aws.ToString(got[0].Message), "\n") {
		t.Error("the record is not compact JSON")
	}
	et, _ := time.Parse(time.RFC3339, rec["eventTime"].(string))
	if aws.ToInt64(got[0].Timestamp) != et.UnixMilli() {
		t.Errorf("timestamp %d, eventTime %s", aws.ToInt64(got[0].Timestamp), et)
	}
	ds, err := cl.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("CloudTrail/main")})
	if err != nil || len(ds.LogStreams) < 2 {
		t.Fatalf("DescribeLogStreams = %+v, %v", ds, err)
	}
	st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")})
	if err != nil || st.LatestCloudWatchLogsDeliveryTime == nil || aws.ToString(st.LatestCloudWatchLogsDeliveryError) != "" {
		t.Errorf("GetTrailStatus = %+v, %v", st, err)
	}
	tr, err := ct.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String("main")})
	if err != nil || aws.ToString(tr.Trail.CloudWatchLogsLogGroupArn) != groupARN || aws.ToString(tr.Trail.CloudWatchLogsRoleArn) != role {
		t.Errorf("GetTrail = %+v, %v", tr.Trail, err)
	}
}

// TestCloudWatchLogsAPI checks the Logs operations through the Go SDK.
func TestCloudWatchLogsAPI(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, nil)
	ctx := t.Context()
	cl := logsClient(t, d, testAccount, "us-east-1")
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")}); apiCode(err) != "ResourceAlreadyExistsException" {
		t.Errorf("second CreateLogGroup: %v", err)
	}
	if _, err := cl.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	var evs []cwltypes.InputLogEvent
	for i := range 30 {
		msg := `{"level":"info","n":` + itoa(i) + `}`
		if i%10 == 0 {
			msg = `{"level":"error","n":` + itoa(i) + `}`
		}
		evs = append(evs, cwltypes.InputLogEvent{Timestamp: aws.Int64(now - int64(30-i)*1000), Message: aws.String(msg)})
	}
	evs = append(evs, cwltypes.InputLogEvent{Timestamp: aws.Int64(now - 20*24*3600*1000), Message: aws.String("too old")})
	pe, err := cl.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1"), LogEvents: evs})
	if err == nil {
		// The old event spans more than 24 h with the rest: refused whole.
		t.Fatalf("PutLogEvents spanning 20 days = %+v", pe)
	}
	pe, err = cl.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1"), LogEvents: evs[:30]})
	if err != nil || pe.RejectedLogEventsInfo != nil {
		t.Fatalf("PutLogEvents = %+v, %v", pe, err)
	}
	if _, err := cl.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("nope"), LogEvents: evs[:1]}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("PutLogEvents to a missing stream: %v", err)
	}
	// GetLogEvents: newest 10 by default order, then backward.
	g, err := cl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1"), Limit: aws.Int32(10)})
	if err != nil || len(g.Events) != 10 || !strings.Contains(aws.ToString(g.Events[9].Message), `"n":29`) {
		t.Fatalf("GetLogEvents = %+v, %v", g, err)
	}
	g2, err := cl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1"), Limit: aws.Int32(10), NextToken: g.NextBackwardToken})
	if err != nil || len(g2.Events) != 10 || !strings.Contains(aws.ToString(g2.Events[9].Message), `"n":19`) {
		t.Fatalf("GetLogEvents backward = %+v, %v", g2, err)
	}
	// Forward from the head, to the end: the last page repeats its token.
	n, token := 0, (*string)(nil)
	for range 10 {
		p, err := cl.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1"), Limit: aws.Int32(7),
			StartFromHead: aws.Bool(true), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Events)
		if token != nil && aws.ToString(p.NextForwardToken) == aws.ToString(token) {
			break
		}
		token = p.NextForwardToken
	}
	if n != 30 {
		t.Errorf("forward pages returned %d events, want 30", n)
	}
	fl, err := cl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("app"), FilterPattern: aws.String(`{ $.level = "error" }`)})
	if err != nil || len(fl.Events) != 3 {
		t.Fatalf("FilterLogEvents = %+v, %v", fl, err)
	}
	if _, err := cl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("app"), FilterPattern: aws.String(`{ $.level = }`)}); apiCode(err) != "InvalidParameterException" {
		t.Errorf("a bad pattern: %v", err)
	}
	// Metric filters.
	if _, err := cl.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{LogGroupName: aws.String("app"), FilterName: aws.String("errors"),
		FilterPattern: aws.String(`{ $.level = "error" }`), MetricTransformations: []cwltypes.MetricTransformation{{MetricName: aws.String("Errors"),
			MetricNamespace: aws.String("App"), MetricValue: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	mf, err := cl.DescribeMetricFilters(ctx, &cloudwatchlogs.DescribeMetricFiltersInput{LogGroupName: aws.String("app")})
	if err != nil || len(mf.MetricFilters) != 1 || aws.ToString(mf.MetricFilters[0].MetricTransformations[0].MetricName) != "Errors" {
		t.Fatalf("DescribeMetricFilters = %+v, %v", mf, err)
	}
	tm, err := cl.TestMetricFilter(ctx, &cloudwatchlogs.TestMetricFilterInput{FilterPattern: aws.String(`[ip, user, status=4*]`),
		LogEventMessages: []string{"1.2.3.4 alice 404", "1.2.3.4 bob 200"}})
	if err != nil || len(tm.Matches) != 1 || tm.Matches[0].EventNumber != 1 || tm.Matches[0].ExtractedValues["$status"] != "404" {
		t.Fatalf("TestMetricFilter = %+v, %v", tm, err)
	}
	if _, err := cl.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("app"), RetentionInDays: aws.Int32(4)}); apiCode(err) != "InvalidParameterException" {
		t.Errorf("retention of 4 days: %v", err)
	}
	if _, err := cl.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("app"), RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	dg, err := cl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("ap")})
	if err != nil || len(dg.LogGroups) != 1 || aws.ToInt32(dg.LogGroups[0].RetentionInDays) != 7 || aws.ToInt32(dg.LogGroups[0].MetricFilterCount) != 1 {
		t.Fatalf("DescribeLogGroups = %+v, %v", dg, err)
	}
	// Another account sees nothing.
	if _, err := d.Identities().EnsureAccount(ctx, "444455556666"); err != nil {
		t.Fatal(err)
	}
	other := logsClient(t, d, "444455556666", "us-east-1")
	if _, err := other.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("app"), LogStreamName: aws.String("s1")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("another account's GetLogEvents: %v", err)
	}
	// After a restart everything is still there.
	d.Close()
	d2 := startDaemon(t, dir, nil)
	cl2 := logsClient(t, d2, testAccount, "us-east-1")
	fl, err = cl2.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("app")})
	if err != nil || len(fl.Events) != 30 {
		t.Fatalf("FilterLogEvents after restart = %d events, %v", len(fl.Events), err)
	}
	if _, err := cl2.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl2.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("app")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("FilterLogEvents on a deleted group: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCloudWatchLogsWithTheAWSCLI drives the Logs operations with the aws
// CLI and finds them in event history.
func TestCloudWatchLogsWithTheAWSCLI(t *testing.T) {
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	d := startDaemon(t, t.TempDir(), nil)
	cli := awsCLI(t, d, testAccount, t.TempDir())
	run := func(args ...string) map[string]any {
		t.Helper()
		out, err := cli(append(args, "--output", "json")...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var m map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return m
	}
	run("logs", "create-log-group", "--log-group-name", "cli")
	run("logs", "create-log-stream", "--log-group-name", "cli", "--log-stream-name", "s")
	now := time.Now().UnixMilli()
	run("logs", "put-log-events", "--log-group-name", "cli", "--log-stream-name", "s", "--log-events",
		`[{"timestamp":`+strconv.FormatInt(now, 10)+`,"message":"{\"eventName\":\"ConsoleLogin\",\"errorMessage\":\"Failed authentication\"}"}]`)
	run("logs", "put-metric-filter", "--log-group-name", "cli", "--filter-name", "f", "--filter-pattern",
		`{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`, "--metric-transformations",
		"metricName=ConsoleSigninFailureCount,metricNamespace=CloudTrailMetrics,metricValue=1")
	if out := run("logs", "filter-log-events", "--log-group-name", "cli", "--filter-pattern", `{ $.eventName = ConsoleLogin }`); len(out["events"].([]any)) != 1 {
		t.Errorf("filter-log-events = %v", out)
	}
	if out := run("logs", "describe-metric-filters", "--log-group-name", "cli"); len(out["metricFilters"].([]any)) != 1 {
		t.Errorf("describe-metric-filters = %v", out)
	}
	if out := run("logs", "get-log-events", "--log-group-name", "cli", "--log-stream-name", "s", "--start-from-head"); len(out["events"].([]any)) != 1 {
		t.Errorf("get-log-events = %v", out)
	}
	if out := run("logs", "describe-log-streams", "--log-group-name", "cli"); len(out["logStreams"].([]any)) != 1 {
		t.Errorf("describe-log-streams = %v", out)
	}
	run("logs", "put-retention-policy", "--log-group-name", "cli", "--retention-in-days", "14")
	if out := run("logs", "describe-log-groups"); out["logGroups"].([]any)[0].(map[string]any)["retentionInDays"] != 14.0 {
		t.Errorf("describe-log-groups = %v", out)
	}
	run("logs", "delete-retention-policy", "--log-group-name", "cli")
	if out := run("logs", "test-metric-filter", "--filter-pattern", `{ $.eventName = ConsoleLogin }`, "--log-event-messages", `{"eventName":"ConsoleLogin"}`, `{"eventName":"x"}`); len(out["matches"].([]any)) != 1 {
		t.Errorf("test-metric-filter = %v", out)
	}
	run("logs", "delete-metric-filter", "--log-group-name", "cli", "--filter-name", "f")
	if out, err := cli("logs", "describe-log-streams", "--log-group-name", "missing"); err == nil || !strings.Contains(string(out), "ResourceNotFoundException") {
		t.Errorf("describe-log-streams of a missing group: %v\n%s", err, out)
	}
	run("logs", "delete-log-group", "--log-group-name", "cli")
	got := run("cloudtrail", "lookup-events", "--max-results", "50", "--lookup-attributes", "AttributeKey=EventSource,AttributeValue=logs.amazonaws.com")
	names := map[string]bool{}
	for _, e := range got["Events"].([]any) {
		names[e.(map[string]any)["EventName"].(string)] = true
	}
	// PutLogEvents and FilterLogEvents are data events: event history
	// (management events) does not show them.
	for n, want := range map[string]bool{"CreateLogGroup": true, "CreateLogStream": true, "PutMetricFilter": true, "DescribeMetricFilters": true,
		"DescribeLogStreams": true, "PutRetentionPolicy": true, "DescribeLogGroups": true, "DeleteRetentionPolicy": true, "TestMetricFilter": true,
		"DeleteMetricFilter": true, "DeleteLogGroup": true, "PutLogEvents": false, "FilterLogEvents": false, "GetLogEvents": false} {
		if names[n] != want {
			t.Errorf("%s in event history: %v, want %v", n, names[n], want)
		}
	}
}

// TestCloudWatchLogsDeletes covers DeleteMetricFilter and
// DeleteRetentionPolicy through the Go SDK.
func TestCloudWatchLogsDeletes(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	cl := logsClient(t, d, testAccount, "us-east-1")
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(30)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{LogGroupName: aws.String("g"), FilterName: aws.String("f"), FilterPattern: aws.String("ERROR"),
		MetricTransformations: []cwltypes.MetricTransformation{{MetricName: aws.String("E"), MetricNamespace: aws.String("N"), MetricValue: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteMetricFilter(ctx, &cloudwatchlogs.DeleteMetricFilterInput{LogGroupName: aws.String("g"), FilterName: aws.String("f")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteMetricFilter(ctx, &cloudwatchlogs.DeleteMetricFilterInput{LogGroupName: aws.String("g"), FilterName: aws.String("f")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("second DeleteMetricFilter: %v", err)
	}
	if _, err := cl.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	dg, err := cl.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil || len(dg.LogGroups) != 1 || dg.LogGroups[0].RetentionInDays != nil || aws.ToInt32(dg.LogGroups[0].MetricFilterCount) != 0 {
		t.Fatalf("DescribeLogGroups = %+v, %v", dg, err)
	}
}
