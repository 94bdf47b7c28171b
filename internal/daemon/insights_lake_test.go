package daemon_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/store"
)

// insightStoreSelector is the advanced event selector of an Insights
// event data store.
var insightStoreSelector = cttypes.AdvancedEventSelector{Name: aws.String("Insights"),
	FieldSelectors: []cttypes.AdvancedFieldSelector{{Field: aws.String("eventCategory"), Equals: []string{"Insight"}}}}

// lakeRows runs stmt through the Lake and returns its rows, each as
// column name to value, polling until want rows are there (or 90 s).
func lakeRows(t *testing.T, ct *cloudtrail.Client, stmt string, want int) []map[string]string {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(90 * time.Second)
	for {
		q, err := ct.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt)})
		if err != nil {
			t.Fatalf("StartQuery %s: %v", stmt, err)
		}
		var res *cloudtrail.GetQueryResultsOutput
		for {
			res, err = ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: q.QueryId})
			if err != nil {
				t.Fatalf("GetQueryResults: %v", err)
			}
			if res.QueryStatus != cttypes.QueryStatusQueued && res.QueryStatus != cttypes.QueryStatusRunning {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if res.QueryStatus != cttypes.QueryStatusFinished {
			t.Fatalf("%s: %s", stmt, res.QueryStatus)
		}
		var rows []map[string]string
		for _, r := range res.QueryResultRows {
			row := map[string]string{}
			for _, cell := range r {
				for k, v := range cell {
					row[k] = v
				}
			}
			rows = append(rows, row)
		}
		if len(rows) >= want || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestInsightsOnEventDataStores: PutInsightSelectors and
// GetInsightSelectors with EventDataStore and InsightsDestination through
// the Go SDK, every refusal, and the Insights records of a burst landing
// in the destination store (only there), queryable with the Lake's
// Insights columns (spec insights.md §1, lake.md §6.2, decision §80).
func TestInsightsOnEventDataStores(t *testing.T) {
	zero := config.Duration(0)
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Insights.WarmUp = &zero
		c.Lake.Threads = 1
	})
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	src := mustCreate(t, ct, "activity")
	dst := mustCreate(t, ct, "activity-insights", insightStoreSelector)
	other := mustCreate(t, ct, "other-insights", insightStoreSelector)
	dataOnly := mustCreate(t, ct, "objects", cttypes.AdvancedEventSelector{FieldSelectors: []cttypes.AdvancedFieldSelector{
		{Field: aws.String("eventCategory"), Equals: []string{"Data"}}, {Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}}}})
	readOnly := mustCreate(t, ct, "reads", cttypes.AdvancedEventSelector{FieldSelectors: []cttypes.AdvancedFieldSelector{
		{Field: aws.String("eventCategory"), Equals: []string{"Management"}}, {Field: aws.String("readOnly"), Equals: []string{"true"}}}})
	callRate := []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiCallRateInsight}}

	_, err := ct.GetInsightSelectors(ctx, &cloudtrail.GetInsightSelectorsInput{EventDataStore: aws.String(src)})
	checkErr(t, err, "InsightNotEnabledException", src)
	for _, tt := range []struct {
		name string
		in   cloudtrail.PutInsightSelectorsInput
		code string
		msg  string
	}{
		{name: "no destination", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(src), InsightSelectors: callRate},
			code: "InvalidParameterCombinationException", msg: "InsightsDestination"},
		{name: "destination not an Insights store", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(src), InsightsDestination: aws.String(src), InsightSelectors: callRate},
			code: "InvalidParameterException", msg: "eventCategory = Insight"},
		{name: "source an Insights store", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(other), InsightsDestination: aws.String(dst), InsightSelectors: callRate},
			code: "InvalidParameterException", msg: "management events"},
		{name: "unknown source", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String("00000000-0000-4000-8000-000000000000"), InsightsDestination: aws.String(dst), InsightSelectors: callRate},
			code: "InvalidParameterException", msg: "no such event data store"},
		{name: "data events", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(src), InsightsDestination: aws.String(dst),
			InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiErrorRateInsight, EventCategories: []cttypes.SourceEventCategory{"Data"}}}},
			code: "InvalidInsightSelectorsException", msg: "not supported on event data stores"},
		{name: "source without management events", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(dataOnly), InsightsDestination: aws.String(dst), InsightSelectors: callRate},
			code: "InvalidInsightSelectorsException", msg: "write management events"},
		{name: "call rate on read-only events", in: cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(readOnly), InsightsDestination: aws.String(dst), InsightSelectors: callRate},
			code: "InvalidInsightSelectorsException", msg: "write management events"},
		{name: "trail and store", in: cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("t"), EventDataStore: aws.String(src), InsightsDestination: aws.String(dst), InsightSelectors: callRate},
			code: "InvalidParameterCombinationException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ct.PutInsightSelectors(ctx, &tt.in)
			checkErr(t, err, tt.code, tt.msg)
		})
	}
	// The error rate on a read-only store is fine: it counts reads too.
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(readOnly), InsightsDestination: aws.String(other),
		InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiErrorRateInsight}}}); err != nil {
		t.Fatalf("error rate on a read-only store: %v", err)
	}

	put, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(storeID(src)), InsightsDestination: aws.String(storeID(dst)), InsightSelectors: callRate})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.EventDataStoreArn) != src || aws.ToString(put.InsightsDestination) != dst || put.TrailARN != nil ||
		len(put.InsightSelectors) != 1 || put.InsightSelectors[0].InsightType != cttypes.InsightTypeApiCallRateInsight {
		t.Errorf("PutInsightSelectors answers %+v", put)
	}
	got, err := ct.GetInsightSelectors(ctx, &cloudtrail.GetInsightSelectorsInput{EventDataStore: aws.String(src)})
	if err != nil || aws.ToString(got.EventDataStoreArn) != src || aws.ToString(got.InsightsDestination) != dst || len(got.InsightSelectors) != 1 {
		t.Fatalf("GetInsightSelectors: %v %+v", err, got)
	}

	// A trail with Insights on data events only: its records are not the
	// store's, which takes Insights on management events.
	if _, err := s3Client(t, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data-insights")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("dins"), S3BucketName: aws.String("data-insights"), IsMultiRegionTrail: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("dins"),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Data"}}, {Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("dins"), InsightSelectors: []cttypes.InsightSelector{
		{InsightType: cttypes.InsightTypeApiCallRateInsight, EventCategories: []cttypes.SourceEventCategory{"Data"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("dins")}); err != nil {
		t.Fatal(err)
	}

	// A burst of RunInstances in us-west-2, which the multi-region
	// source covers, and one of GetObject data events.
	now := time.Now().UTC()
	traffic := append(burstTraffic(t, now), dataTraffic(t, now, "s3.amazonaws.com", "GetObject", 20*time.Minute, "20000000")...)
	if _, err := d.Store().Append(ctx, traffic, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	rows := lakeRows(t, ct, "SELECT eventtype, eventcategory, awsregion, recipientaccountid, insightdetails['state'] AS state, "+
		"insightdetails['eventName'] AS name, insightdetails['insightType'] AS type, "+
		"json_extract_scalar(insightdetails['insightContext'], '$.statistics.insightDuration') AS minutes FROM "+storeID(dst)+" ORDER BY eventtime", 2)
	if len(rows) != 2 {
		t.Fatalf("the destination store holds %d Insights records, want Start and End: %v", len(rows), rows)
	}
	for i, want := range []string{"Start", "End"} {
		r := rows[i]
		if r["state"] != want || r["eventtype"] != "AwsCloudTrailInsight" || r["eventcategory"] != "Insight" || r["awsregion"] != "us-west-2" ||
			r["recipientaccountid"] != testAccount || r["name"] != "RunInstances" || r["type"] != "ApiCallRateInsight" {
			t.Errorf("row %d: %v, want the %s record of RunInstances", i, r, want)
		}
	}
	if rows[1]["minutes"] != "10" {
		t.Errorf("End insightDuration %q, want 10", rows[1]["minutes"])
	}
	// Nowhere else: not in the Insights store no source names for this
	// type, not in the source store.
	if n := lakeRows(t, ct, "SELECT count(*) AS n FROM "+storeID(other), 0); n[0]["n"] != "0" {
		t.Errorf("the other Insights store holds %s records", n[0]["n"])
	}
	if n := lakeRows(t, ct, "SELECT count(*) AS n FROM "+storeID(src)+" WHERE eventcategory = 'Insight'", 0); n[0]["n"] != "0" {
		t.Errorf("the source store holds %s Insights records", n[0]["n"])
	}
	// They are in event history too, like a trail's, beside the two of
	// the data events.
	west := rootClient(t, d, testAccount, "us-west-2")
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight})
		if err == nil && len(out.Events) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LookupEvents EventCategory=insight: %v, %d events, want 4", err, len(out.Events))
		}
	}
	// Once the Lake has read them all, the destination still holds only
	// the two of management events.
	head := d.Store().Head()
	for deadline := time.Now().Add(60 * time.Second); d.Lake().Checkpoint() < head; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the Lake's checkpoint %d does not reach the log's head %d", d.Lake().Checkpoint(), head)
		}
	}
	if n := lakeRows(t, ct, "SELECT count(*) AS n FROM "+storeID(dst), 0); n[0]["n"] != "2" {
		t.Errorf("the destination store holds %s records, want the 2 of management events", n[0]["n"])
	}

	// An empty list turns Insights off.
	off, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(src), InsightsDestination: aws.String(dst), InsightSelectors: []cttypes.InsightSelector{}})
	if err != nil || len(off.InsightSelectors) != 0 {
		t.Fatalf("turning Insights off: %v %+v", err, off)
	}
	_, err = ct.GetInsightSelectors(ctx, &cloudtrail.GetInsightSelectorsInput{EventDataStore: aws.String(src)})
	checkErr(t, err, "InsightNotEnabledException")
}

// TestInsightsOnEventDataStoresAWSCLI: the same two operations through the
// aws CLI.
func TestInsightsOnEventDataStoresAWSCLI(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ct := rootClient(t, d, testAccount, "us-east-1")
	src := mustCreate(t, ct, "activity")
	dst := mustCreate(t, ct, "activity-insights", insightStoreSelector)
	aws := awsCLI(t, d, testAccount, t.TempDir())
	out, err := aws("cloudtrail", "put-insight-selectors", "--event-data-store", src, "--insights-destination", storeID(dst),
		"--insight-selectors", `[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight","EventCategories":["Management"]}]`)
	if err != nil {
		t.Fatalf("put-insight-selectors: %v\n%s", err, out)
	}
	var res struct {
		EventDataStoreArn, InsightsDestination string
		InsightSelectors                       []struct{ InsightType string }
	}
	if err := json.Unmarshal(out, &res); err != nil || res.EventDataStoreArn != src || res.InsightsDestination != dst || len(res.InsightSelectors) != 2 {
		t.Fatalf("put-insight-selectors printed %s (%v)", out, err)
	}
	out, err = aws("cloudtrail", "get-insight-selectors", "--event-data-store", storeID(src))
	if err != nil || !strings.Contains(string(out), `"ApiErrorRateInsight"`) || !strings.Contains(string(out), dst) {
		t.Fatalf("get-insight-selectors: %v\n%s", err, out)
	}
	out, err = aws("cloudtrail", "put-insight-selectors", "--event-data-store", src, "--insights-destination", src,
		"--insight-selectors", `[{"InsightType":"ApiCallRateInsight"}]`)
	if err == nil || !strings.Contains(string(out), "InvalidParameterException") {
		t.Fatalf("a destination that is not an Insights store: %v\n%s", err, out)
	}
}
