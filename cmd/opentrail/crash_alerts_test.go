package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/sns/snstest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// downThenUp is an API destination endpoint that refuses everything
// (503) until up is set, then records the request ids of the CloudTrail
// events it is sent.
type downThenUp struct {
	mu  sync.Mutex
	up  bool
	got map[string]int
}

func (h *downThenUp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var env struct {
		Detail struct {
			RequestID string `json:"requestID"`
		} `json:"detail"`
	}
	json.Unmarshal(b, &env)
	h.got[env.Detail.RequestID]++
}

// TestCrashDuringAlertDelivery kills the server with SIGKILL, again and
// again, while CloudTrail calls flow to an EventBridge rule whose targets
// (an API destination, and an SNS topic with an HTTP subscriber) are down,
// and to a trail's CloudWatch Logs log group. When the targets come back,
// every acknowledged call has reached both, and every one is in the log
// group: at least once across SIGKILL, nothing lost.
func TestCrashDuringAlertDelivery(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(http.DefaultTransport)
	base := aws.String("http://" + addr)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: base, Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	eb := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: base, Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	cwl := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: base, Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: base, Credentials: creds, HTTPClient: hc, UsePathStyle: true})
	target := &downThenUp{got: map[string]int{}}
	ts := httptest.NewServer(target)
	defer ts.Close()
	ctx := context.Background()
	args := []string{"--account-id", trailAccount}

	srv := startServer(t, dir, addr, args...)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alerts")}))
	must(cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("trail")}))
	must(ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("alerts"),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:" + trailAccount + ":log-group:trail:*"),
		CloudWatchLogsRoleArn:     aws.String("arn:aws:iam::" + trailAccount + ":role/cw")}))
	must(ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}))
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("c"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("k"), ApiKeyValue: aws.String("v")}}})
	must(conn, err)
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("d"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(ts.URL), HttpMethod: ebtypes.ApiDestinationHttpMethodPost, InvocationRateLimitPerSecond: aws.Int32(1000)})
	must(dest, err)
	must(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("lookups"), State: ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents,
		EventPattern: aws.String(`{"source":["aws.cloudtrail"],"detail":{"eventName":["LookupEvents"]}}`)}))
	// The rule's second target is an SNS topic whose subscriber is also
	// down (after confirming) until the end.
	sn := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: base, Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	go func() { // Received keeps them; C would fill up and block the subscriber
		for range sub.C() {
		}
	}()
	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("lookups")})
	must(topic, err)
	must(sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL())}))
	waitFor(t, "the subscription's confirmation", func() bool {
		out, err := sn.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: topic.TopicArn})
		return err == nil && len(out.Subscriptions) == 1 && strings.HasPrefix(aws.ToString(out.Subscriptions[0].SubscriptionArn), "arn:")
	})
	var snsUp atomic.Bool
	sub.SetFail(func(int, snstest.Message) int {
		if snsUp.Load() {
			return 0
		}
		return http.StatusServiceUnavailable
	})
	must(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("lookups"), Targets: []ebtypes.Target{{Id: aws.String("d"), Arn: dest.ApiDestinationArn},
		{Id: aws.String("topic"), Arn: topic.TopicArn}}}))

	var acked []string
	rounds := 3
	for round := range rounds {
		if round > 0 {
			srv = startServer(t, dir, addr, args...)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		stop := time.Now().Add(1500 * time.Millisecond)
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
					if err != nil {
						return // the server is being killed
					}
					id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Second)
		srv.kill()
		wg.Wait()
	}
	target.mu.Lock()
	target.up = true
	target.mu.Unlock()
	snsUp.Store(true)
	srv = startServer(t, dir, addr, args...)
	defer srv.stop(t)
	t.Logf("%d acknowledged LookupEvents calls over %d SIGKILLs", len(acked), rounds)

	deadline := time.Now().Add(2 * time.Minute)
	for {
		target.mu.Lock()
		missing := 0
		for _, id := range acked {
			if target.got[id] == 0 {
				missing++
			}
		}
		target.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged calls never reached the EventBridge target", missing, len(acked))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Every acknowledged call reached the SNS subscriber too, signed.
	deadline = time.Now().Add(2 * time.Minute)
	for {
		notified := map[string]bool{}
		for _, m := range sub.Received() {
			if m.Doc["Type"] != "Notification" || m.Header == nil {
				continue
			}
			var env struct {
				Detail struct {
					RequestID string `json:"requestID"`
				} `json:"detail"`
			}
			msg, _ := m.Doc["Message"].(string)
			json.Unmarshal([]byte(msg), &env)
			notified[env.Detail.RequestID] = true
		}
		missing := 0
		for _, id := range acked {
			if !notified[id] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged calls never reached the SNS subscriber", missing, len(acked))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if errs := sub.Errors(); len(errs) > 0 {
		t.Errorf("the SNS subscriber could not verify messages: %v", errs[:min(3, len(errs))])
	}

	inGroup := map[string]bool{}
	deadline = time.Now().Add(time.Minute)
	for len(inGroup) < len(acked) && time.Now().Before(deadline) {
		p := cloudwatchlogs.NewFilterLogEventsPaginator(cwl, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("trail"),
			FilterPattern: aws.String(`{ $.eventName = LookupEvents }`)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Events {
				var rec struct {
					RequestID string `json:"requestID"`
				}
				json.Unmarshal([]byte(aws.ToString(ev.Message)), &rec)
				inGroup[rec.RequestID] = true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, id := range acked {
		if !inGroup[id] {
			t.Errorf("acknowledged call %s is not in the trail's log group", id)
		}
	}
	// Nothing ended in the dead-letter log: the retry policy outlasts
	// the outage.
	if b, err := os.ReadFile(filepath.Join(dir, "eventbus", "deadletter.log")); err == nil && strings.TrimSpace(string(b)) != "" {
		t.Errorf("dead letters: %s", b)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
