package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// insightsLog writes a log file of three hours of write calls to apis
// APIs in us-west-2, ending a minute ago, each with a burst of its own:
// 60 more calls a minute for 10 minutes, the bursts spread over the hours.
// Records are in time order, as a trail's log files are.
func insightsLog(t *testing.T, apis int) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Minute)
	start := now.Add(-3 * time.Hour)
	var recs []map[string]any
	n := 0
	for m := start; m.Before(now.Add(-time.Minute)); m = m.Add(time.Minute) {
		for a := range apis {
			burst := start.Add(time.Duration(40+10*a) * time.Minute)
			calls := 8 + 2*(n%3)
			if !m.Before(burst) && m.Before(burst.Add(10*time.Minute)) {
				calls += 60
			}
			for j := range calls {
				n++
				recs = append(recs, map[string]any{
					"eventVersion": "1.11", "eventTime": m.Add(time.Duration(j%60) * time.Second).Format(time.RFC3339),
					"eventSource": "ec2.amazonaws.com", "eventName": fmt.Sprintf("CreateThing%d", a), "awsRegion": "us-west-2",
					"eventID": fmt.Sprintf("20000000-0000-4000-8000-%012d", n), "eventType": "AwsApiCall", "readOnly": false,
					"recipientAccountId": trailAccount, "userAgent": "aws-cli/2.15", "sourceIPAddress": "192.0.2.1",
					"userIdentity":    map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + trailAccount + ":user/ops", "accountId": trailAccount, "userName": "ops"},
					"managementEvent": true, "eventCategory": "Management",
				})
			}
		}
	}
	b, err := json.Marshal(map[string]any{"Records": recs})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "insights.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCrashDuringInsights imports traffic with one burst per API, then
// kills the server with SIGKILL again and again while the Insights
// detector works through it. In the end every burst has exactly one Start
// and one End sharing a sharedEventID: no Start repeated, no End lost.
func TestCrashDuringInsights(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"insights":{"warmUp":"0s"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	args := []string{"--account-id", trailAccount, "--config", cfg}
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(http.DefaultTransport)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc})
	west := cloudtrail.New(cloudtrail.Options{Region: "us-west-2", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, UsePathStyle: true})
	ctx := t.Context()

	srv := startServer(t, dir, addr, args...)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("insights-crash")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("insights-crash"),
		IsMultiRegionTrail: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("main"),
		InsightSelectors: []cttypes.InsightSelector{{InsightType: cttypes.InsightTypeApiCallRateInsight}}}); err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	const apis = 12
	runOK(t, nil, opentrailBin, "import", "--data-dir", dir, insightsLog(t, apis))

	for _, wait := range []time.Duration{200 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond, 900 * time.Millisecond,
		time.Second, 1100 * time.Millisecond, 1200 * time.Millisecond, 1500 * time.Millisecond} {
		srv = startServer(t, dir, addr, args...)
		time.Sleep(wait)
		srv.kill()
		// Where the kill left the detector.
		var st struct {
			Checkpoint uint64
			Outbox     []json.RawMessage
		}
		b, _ := os.ReadFile(filepath.Join(dir, "insights", "state.json"))
		json.Unmarshal(b, &st)
		t.Logf("killed after %v: checkpoint %d, %d records in the outbox", wait, st.Checkpoint, len(st.Outbox))
	}
	srv = startServer(t, dir, addr, args...)
	t.Cleanup(func() { srv.kill() })
	lookup := func() []cttypes.Event {
		var out []cttypes.Event
		p := cloudtrail.NewLookupEventsPaginator(west, &cloudtrail.LookupEventsInput{EventCategory: cttypes.EventCategoryInsight})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Events...)
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	var evs []cttypes.Event
	for evs = lookup(); len(evs) < 2*apis; evs = lookup() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s %d Insights events, want %d", len(evs), 2*apis)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The outbox is empty once every record is read back: nothing more
	// can come. fsck shows it after a clean stop.
	srv.stop(t)
	out := runOK(t, nil, opentrailBin, "fsck", "--data-dir", dir)
	if want := "0 anomalies open, 0 records waiting"; !contains(out, want) {
		t.Errorf("fsck does not say %q:\n%s", want, out)
	}
	srv = startServer(t, dir, addr, args...)
	evs = lookup()
	srv.stop(t)
	type pair struct{ starts, ends int }
	byShared := map[string]*pair{}
	perAPI := map[string]int{}
	for _, e := range evs {
		var rec struct {
			SharedEventID  string
			InsightDetails struct{ State, EventName string }
		}
		if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
			t.Fatal(err)
		}
		p := byShared[rec.SharedEventID]
		if p == nil {
			p = &pair{}
			byShared[rec.SharedEventID] = p
		}
		if rec.InsightDetails.State == "Start" {
			p.starts++
			perAPI[rec.InsightDetails.EventName]++
		} else {
			p.ends++
		}
	}
	if len(evs) != 2*apis || len(byShared) != apis || len(perAPI) != apis {
		t.Errorf("%d Insights events, %d sharedEventIDs, %d APIs with a Start; want %d, %d, %d", len(evs), len(byShared), len(perAPI), 2*apis, apis, apis)
	}
	for id, p := range byShared {
		if p.starts != 1 || p.ends != 1 {
			t.Errorf("sharedEventID %s: %d Starts, %d Ends", id, p.starts, p.ends)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
