package daemon_test

import (
	"encoding/json"
	"fmt"
	"slices"
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

// dataTraffic is three hours of 8 to 12 data events a minute on one API in
// us-west-2, ending a minute before now, with 60 more a minute in the ten
// minutes from burst before now; ids start with prefix (8 hex digits).
func dataTraffic(t *testing.T, now time.Time, source, name string, burst time.Duration, prefix string) []event.Event {
	t.Helper()
	start := now.Truncate(time.Minute).Add(-3 * time.Hour)
	var evs []event.Event
	i := 0
	for m := start; m.Before(now.Add(-time.Minute)); m = m.Add(time.Minute) {
		n := 8 + 2*(i%3)
		if left := now.Sub(m); left <= burst && left > burst-10*time.Minute {
			n += 60
		}
		for j := range n {
			i++
			rec := map[string]any{
				"eventVersion": "1.11", "eventTime": event.FormatTime(m.Add(time.Duration(j%60) * time.Second)),
				"eventSource": source, "eventName": name, "awsRegion": "us-west-2",
				"eventID": fmt.Sprintf("%s-0000-4000-8000-%012d", prefix, i), "eventType": "AwsApiCall", "readOnly": true,
				"recipientAccountId": testAccount, "userAgent": "aws-sdk-go-v2/1.30", "sourceIPAddress": "192.0.2.1",
				"userIdentity":    map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + testAccount + ":user/app", "accountId": testAccount, "userName": "app"},
				"managementEvent": false, "eventCategory": "Data",
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

// TestListInsightsDataEndToEnd drives real Insights on management and data
// events through the detector and lists the data ones with
// ListInsightsData, through the Go SDK and the aws CLI.
func TestListInsightsDataEndToEnd(t *testing.T) {
	zero := config.Duration(0)
	dir := t.TempDir()
	conf := func(c *config.Config) { c.Insights.WarmUp = &zero }
	d := startDaemon(t, dir, conf)
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	if _, err := s3Client(t, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("insights-data")}); err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, name := range []string{"dins", "mins"} {
		created, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String("insights-data"),
			IsMultiRegionTrail: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, aws.ToString(created.TrailARN))
		if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	trailARN, mgmtARN := arns[0], arns[1]
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("dins"),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			{FieldSelectors: []cttypes.AdvancedFieldSelector{{Field: aws.String("eventCategory"), Equals: []string{"Management"}}}},
			{FieldSelectors: []cttypes.AdvancedFieldSelector{{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
				{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}}}},
			{FieldSelectors: []cttypes.AdvancedFieldSelector{{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
				{Field: aws.String("resources.type"), Equals: []string{"AWS::Lambda::Function"}}}},
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("dins"),
		InsightSelectors: []cttypes.InsightSelector{
			{InsightType: cttypes.InsightTypeApiCallRateInsight, EventCategories: []cttypes.SourceEventCategory{"Management", "Data"}},
			{InsightType: cttypes.InsightTypeApiErrorRateInsight, EventCategories: []cttypes.SourceEventCategory{"Data"}},
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("mins"),
		InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiCallRateInsight}}}); err != nil {
		t.Fatal(err)
	}
	// Management RunInstances and data GetObject burst from 20 to 10
	// minutes ago, data Invoke from 40 to 30.
	now := time.Now().UTC()
	traffic := burstTraffic(t, now)
	traffic = append(traffic, dataTraffic(t, now, "s3.amazonaws.com", "GetObject", 20*time.Minute, "20000000")...)
	traffic = append(traffic, dataTraffic(t, now, "lambda.amazonaws.com", "Invoke", 40*time.Minute, "30000000")...)
	if _, err := d.Store().Append(ctx, traffic, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}

	// Event history has the six Insights records; ListInsightsData the
	// four on data events, newest first.
	west := rootClient(t, d, testAccount, "us-west-2")
	var history []cttypes.Event
	for deadline := time.Now().Add(90 * time.Second); len(history) < 6; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 90s LookupEvents EventCategory=insight returns %d events, want 6", len(history))
		}
		out, err := west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight})
		if err != nil {
			t.Fatal(err)
		}
		history = out.Events
	}
	var want []string // eventIDs of the data records, newest first
	times := map[string]time.Time{}
	for _, e := range history {
		times[aws.ToString(e.EventId)] = aws.ToTime(e.EventTime)
		if aws.ToString(e.EventName) != "RunInstances" {
			want = append(want, aws.ToString(e.EventId))
		}
	}
	if len(history) != 6 || len(want) != 4 {
		t.Fatalf("event history: %d Insights records, %d on data events; want 6 and 4", len(history), len(want))
	}
	list := func(t *testing.T, in cloudtrail.ListInsightsDataInput) []cttypes.Event {
		t.Helper()
		in.DataType = cttypes.ListInsightsDataTypeInsightsEvents
		if in.InsightSource == nil {
			in.InsightSource = aws.String(trailARN)
		}
		out, err := west.ListInsightsData(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Events
	}
	ids := func(evs []cttypes.Event) []string {
		out := []string{}
		for _, e := range evs {
			out = append(out, aws.ToString(e.EventId))
		}
		return out
	}
	all := list(t, cloudtrail.ListInsightsDataInput{})
	if got := ids(all); !slices.Equal(got, want) {
		t.Fatalf("ListInsightsData %v, want %v (event history's data records, newest first)", got, want)
	}
	for i, e := range all {
		if h := history[slices.IndexFunc(history, func(h cttypes.Event) bool { return aws.ToString(h.EventId) == aws.ToString(e.EventId) })]; aws.ToString(h.CloudTrailEvent) != aws.ToString(e.CloudTrailEvent) ||
			aws.ToString(h.EventName) != aws.ToString(e.EventName) || aws.ToString(h.EventSource) != aws.ToString(e.EventSource) {
			t.Errorf("event %d differs from LookupEvents':\n%+v\n%+v", i, e, h)
		}
	}
	byName := map[string][]string{}
	for _, e := range all {
		byName[aws.ToString(e.EventName)] = append(byName[aws.ToString(e.EventName)], aws.ToString(e.EventId))
	}

	for _, tt := range []struct {
		name string
		in   cloudtrail.ListInsightsDataInput
		want []string
	}{
		{"EventName", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"EventName": "GetObject"}}, byName["GetObject"]},
		{"EventName of a management Insight", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"EventName": "RunInstances"}}, []string{}},
		{"EventSource", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"EventSource": "lambda.amazonaws.com"}}, byName["Invoke"]},
		{"EventId", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"EventId": want[2]}}, want[2:3]},
		{"time range", cloudtrail.ListInsightsDataInput{StartTime: aws.Time(times[want[2]]), EndTime: aws.Time(times[want[1]])}, want[1:3]},
		{"start only", cloudtrail.ListInsightsDataInput{StartTime: aws.Time(times[want[0]])}, want[:1]},
		{"end only", cloudtrail.ListInsightsDataInput{EndTime: aws.Time(times[want[3]])}, want[3:]},
		{"range with none", cloudtrail.ListInsightsDataInput{StartTime: aws.Time(now.Add(-5 * time.Hour)), EndTime: aws.Time(now.Add(-4 * time.Hour))}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(list(t, tt.in)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if len(byName["GetObject"]) != 2 || len(byName["Invoke"]) != 2 {
		t.Errorf("data records by name: %v", byName)
	}

	// Paging: MaxResults 1 by hand, then the SDK's paginator.
	var got []string
	in := &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(trailARN), DataType: cttypes.ListInsightsDataTypeInsightsEvents, MaxResults: aws.Int32(1)}
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("more than 4 pages of 1")
		}
		out, err := west.ListInsightsData(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) != 1 {
			t.Fatalf("page %d has %d events", pages, len(out.Events))
		}
		got = append(got, ids(out.Events)...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages of 1: %v, want %v", got, want)
	}
	got = nil
	p := cloudtrail.NewListInsightsDataPaginator(west, &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(trailARN),
		DataType: cttypes.ListInsightsDataTypeInsightsEvents, MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(out.Events)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paginator: %v, want %v", got, want)
	}

	// Every error, InvalidParameterException as the model declares.
	token := func() *string {
		out, err := west.ListInsightsData(ctx, &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(trailARN),
			DataType: cttypes.ListInsightsDataTypeInsightsEvents, MaxResults: aws.Int32(1)})
		if err != nil || out.NextToken == nil {
			t.Fatalf("a first page: %v %v", out, err)
		}
		return out.NextToken
	}()
	// otherAccount has a trail of the same name.
	if _, _, err := d.Identities().CreateDefault(otherAccount); err != nil {
		t.Fatal(err)
	}
	if _, err := s3Client(t, d, otherAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("their-insights")}); err != nil {
		t.Fatal(err)
	}
	theirs, err := rootClient(t, d, otherAccount, "us-east-1").CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("dins"),
		S3BucketName: aws.String("their-insights"), IsMultiRegionTrail: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	other := aws.ToString(theirs.TrailARN)
	alter := func(tok string) string { // one character of the cursor changed
		c := byte('A')
		if tok[10] == c {
			c = 'B'
		}
		return tok[:10] + string(c) + tok[11:]
	}
	for _, tt := range []struct {
		name string
		in   cloudtrail.ListInsightsDataInput
	}{
		{"a trail name", cloudtrail.ListInsightsDataInput{InsightSource: aws.String("dins")}},
		{"an unknown trail", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(strings.Replace(trailARN, "dins", "nope", 1))}},
		{"another account's trail", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(other)}},
		{"a trail without Insights on data events", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(mgmtARN)}},
		{"DataType", cloudtrail.ListInsightsDataInput{DataType: "Events"}},
		{"two dimensions", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"EventName": "GetObject", "EventSource": "s3.amazonaws.com"}}},
		{"an unknown dimension", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"Username": "app"}}},
		{"a long dimension value", cloudtrail.ListInsightsDataInput{Dimensions: map[string]string{"EventName": strings.Repeat("a", 2001)}}},
		{"MaxResults 0", cloudtrail.ListInsightsDataInput{MaxResults: aws.Int32(0)}},
		{"MaxResults 51", cloudtrail.ListInsightsDataInput{MaxResults: aws.Int32(51)}},
		{"StartTime after EndTime", cloudtrail.ListInsightsDataInput{StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Hour))}},
		{"a token with other parameters", cloudtrail.ListInsightsDataInput{NextToken: token, Dimensions: map[string]string{"EventName": "Invoke"}}},
		{"an altered token", cloudtrail.ListInsightsDataInput{NextToken: aws.String(alter(aws.ToString(token)))}},
	} {
		t.Run("error/"+tt.name, func(t *testing.T) {
			in := tt.in
			if in.InsightSource == nil {
				in.InsightSource = aws.String(trailARN)
			}
			if in.DataType == "" {
				in.DataType = cttypes.ListInsightsDataTypeInsightsEvents
			}
			if _, err := west.ListInsightsData(ctx, &in); apiCode(err) != "InvalidParameterException" {
				t.Errorf("%v, want InvalidParameterException", err)
			}
		})
	}

	// The aws CLI: every page, and a dimension.
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	awsRun := awsCLI(t, d, testAccount, t.TempDir())
	cli := func(args ...string) []byte {
		t.Helper()
		out, err := awsRun(append([]string{"--region", "us-west-2", "--output", "json", "cloudtrail"}, args...)...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	var cliOut struct {
		Events []struct{ EventId, EventName, CloudTrailEvent string }
	}
	if err := json.Unmarshal(cli("list-insights-data", "--insight-source", trailARN, "--data-type", "InsightsEvents", "--page-size", "1"), &cliOut); err != nil {
		t.Fatal(err)
	}
	var cliIDs []string
	for _, e := range cliOut.Events {
		cliIDs = append(cliIDs, e.EventId)
	}
	if !slices.Equal(cliIDs, want) {
		t.Errorf("aws cloudtrail list-insights-data --page-size 1: %v, want %v", cliIDs, want)
	}
	cliOut.Events = nil
	if err := json.Unmarshal(cli("list-insights-data", "--insight-source", trailARN, "--data-type", "InsightsEvents",
		"--dimensions", "EventName=Invoke"), &cliOut); err != nil {
		t.Fatal(err)
	}
	if len(cliOut.Events) != 2 || cliOut.Events[0].EventName != "Invoke" || !strings.Contains(cliOut.Events[0].CloudTrailEvent, `"AwsCloudTrailInsight"`) {
		t.Errorf("aws cloudtrail list-insights-data --dimensions EventName=Invoke: %+v", cliOut.Events)
	}
	if out, err := awsRun("--region", "us-west-2", "cloudtrail", "list-insights-data", "--insight-source", mgmtARN, "--data-type", "InsightsEvents"); err == nil ||
		!strings.Contains(string(out), "InvalidParameterException") || !strings.Contains(string(out), "no Insights on data events") {
		t.Errorf("aws cloudtrail list-insights-data on a trail without Insights on data events: %v\n%s", err, out)
	}

	// After a restart the same records are listed.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, dir, conf)
	west = rootClient(t, d, testAccount, "us-west-2")
	if got := ids(list(t, cloudtrail.ListInsightsDataInput{})); !slices.Equal(got, want) {
		t.Errorf("after a restart: %v, want %v", got, want)
	}
}
