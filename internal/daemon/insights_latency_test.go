package daemon_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// runInstances is one RunInstances call in us-west-2 at t.
func runInstances(tb testing.TB, t time.Time, i int) event.Event {
	tb.Helper()
	b, _ := json.Marshal(map[string]any{
		"eventVersion": "1.11", "eventTime": event.FormatTime(t),
		"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-west-2",
		"eventID": fmt.Sprintf("20000000-0000-4000-8000-%012d", i), "eventType": "AwsApiCall", "readOnly": false,
		"recipientAccountId": testAccount, "userAgent": "aws-cli/2.15", "sourceIPAddress": "192.0.2.1",
		"userIdentity":    map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + testAccount + ":user/ops", "accountId": testAccount, "userName": "ops"},
		"managementEvent": true, "eventCategory": "Management",
	})
	ev, err := event.Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// BenchmarkInsightsLiveLatency measures, on the wall clock and through
// the whole server, how long after a burst begins its Start is in
// LookupEvents (issue 11: within 2 minutes). Three hours of 8 to 12
// RunInstances calls a minute are appended, dated before now; then, from
// the start of a minute, 30 calls a minute (3 times the mean) are
// appended live, each as it happens, until LookupEvents returns the
// Start, with the open minute judged early (decision §82) and on closed
// minutes only. It takes about 5 minutes of wall time:
//
//	go test ./internal/daemon -run XXX -bench InsightsLiveLatency -benchtime 1x
func BenchmarkInsightsLiveLatency(b *testing.B) {
	b.Run("early", func(b *testing.B) { liveLatency(b, true) })
	b.Run("closed minutes", func(b *testing.B) { liveLatency(b, false) })
}

func liveLatency(b *testing.B, early bool) {
	zero := config.Duration(0)
	d := startDaemon(b, b.TempDir(), func(c *config.Config) { c.Insights.WarmUp, c.Insights.Early = &zero, &early })
	ctx := b.Context()
	ct := rootClient(b, d, testAccount, "us-east-1")
	if _, err := s3Client(b, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("latency-bucket")}); err != nil {
		b.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("lat"), S3BucketName: aws.String("latency-bucket"),
		IsMultiRegionTrail: aws.Bool(true)}); err != nil {
		b.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("lat")}); err != nil {
		b.Fatal(err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("lat"),
		InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiCallRateInsight}}}); err != nil {
		b.Fatal(err)
	}
	// The baseline: three hours up to the minute before the burst.
	burst := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	var evs []event.Event
	i := 0
	for m, k := burst.Add(-3*time.Hour), 0; m.Before(burst); m, k = m.Add(time.Minute), k+1 {
		n := 8 + 2*(k%3)
		for j := range n {
			i++
			evs = append(evs, runInstances(b, m.Add(time.Duration(60*j/n)*time.Second), i))
		}
	}
	if _, err := d.Store().Append(ctx, evs, store.AppendOptions{}); err != nil {
		b.Fatal(err)
	}
	west := rootClient(b, d, testAccount, "us-west-2")
	b.ResetTimer()
	time.Sleep(time.Until(burst))
	// The burst, live: one call every 2 seconds, appended as it happens.
	var found time.Time
	var start struct {
		EventTime      string
		InsightDetails struct{ State string }
	}
	for next := burst; found.IsZero(); {
		if now := time.Now(); !now.Before(next) {
			i++
			if _, err := d.Store().Append(ctx, []event.Event{runInstances(b, now, i)}, store.AppendOptions{}); err != nil {
				b.Fatal(err)
			}
			next = next.Add(2 * time.Second)
		}
		out, err := west.LookupEvents(ctx, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range out.Events {
			if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &start); err == nil && start.InsightDetails.State == "Start" {
				found = time.Now()
			}
		}
		if time.Since(burst) > 5*time.Minute { // not a threshold: a Start that never comes
			b.Fatal("no Start 5 minutes after the burst began")
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	if start.EventTime != event.FormatTime(burst) {
		b.Errorf("the Start is dated %s, want the burst's first minute %s", start.EventTime, event.FormatTime(burst))
	}
	b.ReportMetric(found.Sub(burst).Seconds(), "s-to-Start")
}
