package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	snssdk "github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/sns/snstest"
	"github.com/opentrail/opentrail/internal/testenv"
)

func snsClient(t testing.TB, d *daemon.Daemon, account string) *snssdk.Client {
	t.Helper()
	creds, hc := rootSDK(t, d, account)
	return snssdk.New(snssdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.URL()), RetryMaxAttempts: 1, Credentials: creds, HTTPClient: hc})
}

// subscribe creates a topic with a subscriber (auto-confirming) and
// returns the topic's ARN once the subscriber has the confirmation.
func subscribe(t testing.TB, d *daemon.Daemon, sub *snstest.Subscriber, name string) string {
	t.Helper()
	ctx := t.Context()
	sc := snsClient(t, d, testAccount)
	tp, err := sc.CreateTopic(ctx, &snssdk.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe(ctx, &snssdk.SubscribeInput{TopicArn: tp.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL())}); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, sub); m.Doc["Type"] != "SubscriptionConfirmation" {
		t.Fatalf("first message %v", m.Doc["Type"])
	}
	return aws.ToString(tp.TopicArn)
}

func nextMessage(t testing.TB, sub *snstest.Subscriber) snstest.Message {
	t.Helper()
	select {
	case m := <-sub.C():
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no message reached the subscriber")
	}
	return snstest.Message{}
}

// The SNS API with the Go SDK: topics, the subscription handshake through
// the SubscribeURL, signed notifications, errors, account isolation and
// the CloudTrail record of each call.
func TestSNSWithSDK(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	if _, err := d.Identities().EnsureAccount(context.Background(), otherAccount); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := snsClient(t, d, testAccount)
	out, err := c.CreateTopic(ctx, &snssdk.CreateTopicInput{Name: aws.String("alerts"),
		Attributes: map[string]string{"SignatureVersion": "2", "DisplayName": "Alerts"},
		Tags:       []snstypes.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}})
	if err != nil {
		t.Fatal(err)
	}
	topic := aws.ToString(out.TopicArn)
	if want := "arn:aws:sns:us-east-1:" + testAccount + ":alerts"; topic != want {
		t.Fatalf("TopicArn %s, want %s", topic, want)
	}
	attrs, err := c.GetTopicAttributes(ctx, &snssdk.GetTopicAttributesInput{TopicArn: &topic})
	if err != nil || attrs.Attributes["SignatureVersion"] != "2" || attrs.Attributes["Owner"] != testAccount {
		t.Fatalf("GetTopicAttributes: %v, %v", attrs, err)
	}
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	subOut, err := c.Subscribe(ctx, &snssdk.SubscribeInput{TopicArn: &topic, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL())})
	if err != nil || aws.ToString(subOut.SubscriptionArn) != "pending confirmation" {
		t.Fatalf("Subscribe: %v, %v", subOut, err)
	}
	conf := nextMessage(t, sub) // confirmed through its SubscribeURL by the subscriber
	if conf.Doc["Type"] != "SubscriptionConfirmation" || conf.Doc["SignatureVersion"] != "2" {
		t.Fatalf("first message %v", conf.Doc)
	}
	var subARN string
	for {
		list, err := c.ListSubscriptionsByTopic(ctx, &snssdk.ListSubscriptionsByTopicInput{TopicArn: &topic})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Subscriptions) == 1 && aws.ToString(list.Subscriptions[0].SubscriptionArn) != "PendingConfirmation" {
			subARN = aws.ToString(list.Subscriptions[0].SubscriptionArn)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	pub, err := c.Publish(ctx, &snssdk.PublishInput{TopicArn: &topic, Subject: aws.String("Root login"), Message: aws.String("someone used root"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"severity": {DataType: aws.String("String"), StringValue: aws.String("high")}}})
	if err != nil {
		t.Fatal(err)
	}
	m := nextMessage(t, sub)
	if m.Doc["MessageId"] != aws.ToString(pub.MessageId) || m.Doc["Message"] != "someone used root" || m.Doc["Subject"] != "Root login" ||
		m.Header.Get("x-amz-sns-subscription-arn") != subARN {
		t.Fatalf("notification %v", m.Doc)
	}
	// The UnsubscribeURL works without a signature.
	resp, err := http.Get(m.Doc["UnsubscribeURL"].(string))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET UnsubscribeURL: %v %v", resp, err)
	}
	resp.Body.Close()
	if un := nextMessage(t, sub); un.Doc["Type"] != "UnsubscribeConfirmation" {
		t.Fatalf("after unsubscribing: %v", un.Doc)
	}

	// Errors, as the SDK sees them.
	missing := topic + "-gone"
	for name, tc := range map[string]struct {
		call func() error
		code string
	}{
		"missing topic": {func() error {
			_, err := c.GetTopicAttributes(ctx, &snssdk.GetTopicAttributesInput{TopicArn: &missing})
			return err
		}, "NotFound"},
		"bad name": {func() error {
			_, err := c.CreateTopic(ctx, &snssdk.CreateTopicInput{Name: aws.String("no spaces")})
			return err
		}, "InvalidParameter"},
		"empty message": {func() error {
			_, err := c.Publish(ctx, &snssdk.PublishInput{TopicArn: &topic, Message: aws.String("")})
			return err
		}, "InvalidParameter"},
		"other account": {func() error {
			_, err := snsClient(t, d, otherAccount).Publish(ctx, &snssdk.PublishInput{TopicArn: &topic, Message: aws.String("x")})
			return err
		}, "AuthorizationError"},
		"unsupported action": {func() error {
			_, err := c.CreatePlatformApplication(ctx, &snssdk.CreatePlatformApplicationInput{Name: aws.String("a"), Platform: aws.String("GCM"), Attributes: map[string]string{}})
			return err
		}, "InvalidAction"},
		"tag missing topic": {func() error {
			_, err := c.ListTagsForResource(ctx, &snssdk.ListTagsForResourceInput{ResourceArn: &missing})
			return err
		}, "ResourceNotFound"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := apiCode(tc.call()); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
	if l, err := snsClient(t, d, otherAccount).ListTopics(ctx, &snssdk.ListTopicsInput{}); err != nil || len(l.Topics) != 0 {
		t.Errorf("the other account lists %v (%v)", l, err)
	}
	tags, err := c.ListTagsForResource(ctx, &snssdk.ListTagsForResourceInput{ResourceArn: &topic})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" {
		t.Errorf("ListTagsForResource: %v, %v", tags, err)
	}

	// Each call is a CloudTrail event of sns.amazonaws.com.
	ct := rootClient(t, d, testAccount, "us-east-1")
	ev, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateTopic")}}})
	if err != nil || len(ev.Events) != 2 { // the topic and the refused name
		t.Fatalf("LookupEvents CreateTopic: %d events, %v", len(ev.Events), err)
	}
	var rec struct {
		EventSource       string          `json:"eventSource"`
		RequestParameters json.RawMessage `json:"requestParameters"`
		ResponseElements  json.RawMessage `json:"responseElements"`
		ErrorCode         string          `json:"errorCode"`
	}
	for _, e := range ev.Events {
		if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.EventSource != "sns.amazonaws.com" {
			t.Errorf("eventSource %s", rec.EventSource)
		}
		if rec.ErrorCode == "" {
			want := `{"attributes":{"DisplayName":"Alerts","SignatureVersion":"2"},"name":"alerts","tags":[{"key":"team","value":"sec"}]}`
			if string(rec.RequestParameters) != want || !strings.Contains(string(rec.ResponseElements), topic) {
				t.Errorf("CreateTopic record: requestParameters %s, responseElements %s", rec.RequestParameters, rec.ResponseElements)
			}
		} else if rec.ErrorCode != "InvalidParameter" {
			t.Errorf("refused CreateTopic recorded with %q", rec.ErrorCode)
		}
	}
	if len(sub.Errors()) > 0 {
		t.Fatal("signature verification failed")
	}
}

// A trail's SnsTopicName must name a topic; its log-file notifications
// reach the topic's confirmed subscribers, signed.
func TestTrailNotificationsThroughSNS(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *config.Config) {
		c.Delivery.Interval = config.Duration(150 * time.Millisecond)
	})
	ctx := context.Background()
	ct := rootClient(t, d, testAccount, "us-east-1")
	s3c := s3Client(t, d, testAccount)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-bucket")}); err != nil {
		t.Fatal(err)
	}
	_, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("trail-bucket"),
		SnsTopicName: aws.String("trail-files")})
	if got := apiCode(err); got != "InsufficientSnsTopicPolicyException" {
		t.Fatalf("CreateTrail on a missing topic: %v, want InsufficientSnsTopicPolicyException", err)
	}
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	topic := subscribe(t, d, sub, "trail-files")
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("trail-bucket"),
		SnsTopicName: aws.String(topic)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	for {
		m := nextMessage(t, sub)
		if m.Doc["Type"] != "Notification" {
			continue
		}
		var msg struct {
			S3Bucket    string   `json:"s3Bucket"`
			S3ObjectKey []string `json:"s3ObjectKey"`
		}
		if err := json.Unmarshal([]byte(m.Doc["Message"].(string)), &msg); err != nil || msg.S3Bucket != "trail-bucket" ||
			len(msg.S3ObjectKey) != 1 || m.Doc["TopicArn"] != topic {
			t.Fatalf("notification %v (%v)", m.Doc, err)
		}
		break
	}
	if len(sub.Errors()) > 0 {
		t.Fatal("signature verification failed")
	}
}

// The aws CLI (botocore) drives the same API.
func TestSNSWithCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		testenv.MissingTool(t, testenv.AWSCLI, err.Error())
	}
	d := startDaemon(t, t.TempDir(), nil)
	k, err := d.Identities().RootKey(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+k.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+k.SecretAccessKey, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+empty, "AWS_SHARED_CREDENTIALS_FILE="+empty, "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1")
	run := func(args ...string) (string, string, error) {
		cmd := exec.CommandContext(t.Context(), "aws", append([]string{"--endpoint-url", d.URL(), "--output", "json", "sns"}, args...)...)
		cmd.Env, cmd.Dir = env, dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	stdout, stderr, err := run("create-topic", "--name", "cli-topic")
	if err != nil {
		t.Fatalf("create-topic: %v\n%s", err, stderr)
	}
	var ct struct{ TopicArn string }
	if err := json.Unmarshal([]byte(stdout), &ct); err != nil || !strings.HasSuffix(ct.TopicArn, ":cli-topic") {
		t.Fatalf("create-topic output %s (%v)", stdout, err)
	}
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	if _, stderr, err := run("subscribe", "--topic-arn", ct.TopicArn, "--protocol", "http", "--notification-endpoint", sub.URL()); err != nil {
		t.Fatalf("subscribe: %v\n%s", err, stderr)
	}
	nextMessage(t, sub)
	stdout, stderr, err = run("publish", "--topic-arn", ct.TopicArn, "--message", "from the CLI", "--subject", "cli")
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, stderr)
	}
	if m := nextMessage(t, sub); m.Doc["Message"] != "from the CLI" || !strings.Contains(stdout, m.Doc["MessageId"].(string)) {
		t.Fatalf("published %s, received %v", stdout, m.Doc)
	}
	if _, stderr, err = run("get-topic-attributes", "--topic-arn", ct.TopicArn+"x"); err == nil || !strings.Contains(stderr, "NotFound") {
		t.Errorf("get-topic-attributes on a missing topic: %v\n%s", err, stderr)
	}
	if stdout, stderr, err = run("list-topics"); err != nil || !strings.Contains(stdout, ct.TopicArn) {
		t.Errorf("list-topics: %v %s\n%s", err, stdout, stderr)
	}
}

// boto3 drives the API too, and raises SNS's modelled exceptions from
// OpenTrail's error responses.
func TestSNSWithBoto3(t *testing.T) {
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	d := startDaemon(t, t.TempDir(), nil)
	k, err := d.Identities().RootKey(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	const script = `
import json, sys, time
import boto3
sns = boto3.client("sns", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
out = {}
arn = sns.create_topic(Name="boto-topic", Attributes={"SignatureVersion": "2"})["TopicArn"]
out["arn"] = arn
sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=sys.argv[4], ReturnSubscriptionArn=True)["SubscriptionArn"]
for _ in range(500):
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    if attrs["PendingConfirmation"] == "false":
        break
    time.sleep(0.02)
out["pending"] = attrs["PendingConfirmation"]
sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="DeliveryPolicy",
    AttributeValue=json.dumps({"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 5, "numRetries": 2}}))
out["effective"] = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["EffectiveDeliveryPolicy"])
sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
out["tags"] = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
out["subs"] = [s["SubscriptionArn"] == sub for s in sns.list_subscriptions()["Subscriptions"]]
out["messageId"] = sns.publish(TopicArn=arn, MessageStructure="json",
    Message=json.dumps({"default": "for everyone", "http": "for http"}))["MessageId"]
try:
    sns.get_topic_attributes(TopicArn=arn + "-missing")
except sns.exceptions.NotFoundException as e:
    out["notFound"] = e.response["Error"]["Code"]
try:
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Bogus", AttributeValue="x")
except sns.exceptions.InvalidParameterException as e:
    out["invalid"] = e.response["Error"]["Code"]
sns.delete_topic(TopicArn=arn)
out["after"] = sns.list_topics()["Topics"]
print(json.dumps(out))
`
	cmd := exec.CommandContext(t.Context(), "python3", "-c", script, d.URL(), k.AccessKeyID, k.SecretAccessKey, sub.URL())
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	raw, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("boto3: %v\n%s", err, stderr)
	}
	var out struct {
		ARN       string `json:"arn"`
		Pending   string `json:"pending"`
		Effective struct {
			HealthyRetryPolicy map[string]any `json:"healthyRetryPolicy"`
		} `json:"effective"`
		Tags      []map[string]string `json:"tags"`
		Subs      []bool              `json:"subs"`
		MessageID string              `json:"messageId"`
		NotFound  string              `json:"notFound"`
		Invalid   string              `json:"invalid"`
		After     []any               `json:"after"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("boto3 printed %s: %v", raw, err)
	}
	if out.Pending != "false" || out.NotFound != "NotFound" || out.Invalid != "InvalidParameter" || len(out.After) != 0 ||
		len(out.Tags) != 1 || len(out.Subs) != 1 || !out.Subs[0] || out.Effective.HealthyRetryPolicy["numRetries"] != float64(2) {
		t.Fatalf("boto3 results: %s", raw)
	}
	nextMessage(t, sub) // the confirmation
	m := nextMessage(t, sub)
	if m.Doc["MessageId"] != out.MessageID || m.Doc["Message"] != "for http" || m.Doc["SignatureVersion"] != "2" {
		t.Fatalf("notification %v", m.Doc)
	}
}

// runDaemon starts a server on dir and returns it with a function that
// stops it (and waits), for tests that restart.
func runDaemon(t *testing.T, dir string) (*daemon.Daemon, func()) {
	t.Helper()
	return runDaemonWith(t, dir, nil)
}

// runDaemonWith is runDaemon with mut applied to the configuration.
func runDaemonWith(t *testing.T, dir string, mut func(*config.Config)) (*daemon.Daemon, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dir, "127.0.0.1:0", testAccount
	if mut != nil {
		mut(&cfg)
	}
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return d, stop
}

// A delivery to an endpoint that is down is retried after the
// subscription's delivery policy's delay, and survives a restart: the
// next server delivers the same message.
func TestSNSRetryAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	d, stop := runDaemon(t, dir)
	ctx := context.Background()
	c := snsClient(t, d, testAccount)
	out, err := c.CreateTopic(ctx, &snssdk.CreateTopicInput{Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	var down atomic.Bool
	sub.SetFail(func(_ int, m snstest.Message) int {
		if down.Load() && m.Doc["Type"] == "Notification" {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	policy := `{"healthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":5,"numRetries":3}}`
	if _, err := c.Subscribe(ctx, &snssdk.SubscribeInput{TopicArn: out.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL()),
		Attributes: map[string]string{"DeliveryPolicy": policy}}); err != nil {
		t.Fatal(err)
	}
	nextMessage(t, sub)
	for d.SNS().Pending() > 0 { // the confirmation's file goes once the subscriber answered
		time.Sleep(5 * time.Millisecond)
	}
	down.Store(true)
	pub, err := c.Publish(ctx, &snssdk.PublishInput{TopicArn: out.TopicArn, Message: aws.String("keep me")})
	if err != nil {
		t.Fatal(err)
	}
	for len(sub.Received()) < 2 { // the confirmation, then the first, refused attempt
		time.Sleep(5 * time.Millisecond)
	}
	stop() // well before the retry, 5 s later
	down.Store(false)
	d2, _ := runDaemon(t, dir)
	if n := d2.SNS().Pending(); n != 1 {
		t.Fatalf("after restart %d deliveries queued, want 1", n)
	}
	m := nextMessage(t, sub)
	if m.Doc["MessageId"] != aws.ToString(pub.MessageId) || m.Doc["Message"] != "keep me" {
		t.Fatalf("after restart got %v", m.Doc)
	}
	for _, r := range sub.Received()[1:] {
		if r.Doc["MessageId"] != m.Doc["MessageId"] || r.Doc["Signature"] != m.Doc["Signature"] {
			t.Errorf("a retry sent other bytes: %v", r.Doc)
		}
	}
}

// An EventBridge rule with an SNS target: the matched CloudTrail event
// reaches the topic's confirmed subscriber, signed.
func TestEventBridgeRuleToSNS(t *testing.T) {
	d := startDaemon(t, t.TempDir(), func(c *config.Config) { c.EventBridge.WithoutTrail = true })
	ctx := context.Background()
	c := snsClient(t, d, testAccount)
	sub := snstest.New(t)
	sub.SetAutoConfirm(true)
	topic := subscribe(t, d, sub, "security")
	eb := eventsClient(t, d, testAccount, "us-east-1")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("topics"),
		EventPattern: aws.String(`{"source":["aws.sns"],"detail":{"eventName":["DeleteTopic"]}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("topics"),
		Targets: []ebtypes.Target{{Id: aws.String("sns"), Arn: aws.String(topic)}}}); err != nil {
		t.Fatal(err)
	}
	gone := "arn:aws:sns:us-east-1:" + testAccount + ":never-was"
	if _, err := c.DeleteTopic(ctx, &snssdk.DeleteTopicInput{TopicArn: &gone}); err != nil {
		t.Fatal(err)
	}
	m := nextMessage(t, sub)
	var ev struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		Detail     struct {
			EventName         string            `json:"eventName"`
			EventSource       string            `json:"eventSource"`
			RequestParameters map[string]string `json:"requestParameters"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(m.Doc["Message"].(string)), &ev); err != nil {
		t.Fatalf("message %v: %v", m.Doc["Message"], err)
	}
	if ev.Source != "aws.sns" || ev.DetailType != "AWS API Call via CloudTrail" || ev.Detail.EventName != "DeleteTopic" ||
		ev.Detail.EventSource != "sns.amazonaws.com" || ev.Detail.RequestParameters["topicArn"] != gone {
		t.Fatalf("event %+v", ev)
	}
	if len(sub.Errors()) > 0 {
		t.Fatal("signature verification failed")
	}
}
