package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/eventbus"
	"github.com/opentrail/opentrail/internal/testenv"
)

func eventsClient(t testing.TB, d *daemon.Daemon, account, region string) *eventbridge.Client {
	t.Helper()
	creds, hc := rootSDK(t, d, account)
	return eventbridge.New(eventbridge.Options{Region: region, BaseEndpoint: aws.String(d.URL()), RetryMaxAttempts: 1, Credentials: creds, HTTPClient: hc})
}

// receiver is an API destination endpoint that records what it gets and
// answers status (200 unless set).
type receiver struct {
	mu     sync.Mutex
	status int
	got    []received
	ch     chan struct{}
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	rc := &receiver{ch: make(chan struct{}, 100)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	st := rc.status
	if st == 0 || st < 300 {
		rc.got = append(rc.got, received{r.Header.Clone(), b})
	}
	rc.mu.Unlock()
	if st != 0 {
		w.WriteHeader(st)
	}
	select {
	case rc.ch <- struct{}{}:
	default:
	}
}

func (rc *receiver) setStatus(s int) {
	rc.mu.Lock()
	rc.status = s
	rc.mu.Unlock()
}

// waitFor waits until the receiver holds a body for which ok is true.
func (rc *receiver) waitFor(t *testing.T, what string, ok func(map[string]any) bool) received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		rc.mu.Lock()
		for _, g := range rc.got {
			var m map[string]any
			if json.Unmarshal(g.body, &m) == nil && ok(m) {
				rc.mu.Unlock()
				return g
			}
		}
		rc.mu.Unlock()
		select {
		case <-rc.ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no delivery of %s arrived", what)
		}
	}
}

func (rc *receiver) count(ok func(map[string]any) bool) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, g := range rc.got {
		var m map[string]any
		if json.Unmarshal(g.body, &m) == nil && ok(m) {
			n++
		}
	}
	return n
}

func eventName(name string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		d, _ := m["detail"].(map[string]any)
		return d != nil && d["eventName"] == name
	}
}

// apiDestination creates an API-key connection and an API destination to
// url and returns the destination's ARN.
func apiDestination(t testing.TB, eb *eventbridge.Client, name, url string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String(name + "-conn"),
		AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("x-api-key"), ApiKeyValue: aws.String("s3cret")}}})
	if err != nil {
		t.Fatal(err)
	}
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String(name), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(url), HttpMethod: ebtypes.ApiDestinationHttpMethodPost, InvocationRateLimitPerSecond: aws.Int32(50)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(dest.ApiDestinationArn)
}

func loggingTrail(t testing.TB, d *daemon.Daemon, ct *cloudtrail.Client, name string) {
	t.Helper()
	ctx := t.Context()
	if _, err := s3Client(t, d, testAccount).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name + "-bucket")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String(name + "-bucket"),
		IsMultiRegionTrail: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// TestEventBridgeRulesDeliverCloudTrailEvents drives the chain CloudTrail
// call → default bus → rule → API destination with the Go SDK.
func TestEventBridgeRulesDeliverCloudTrailEvents(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	eb := eventsClient(t, d, testAccount, "us-east-1")
	rc, srv := newReceiver(t)
	dest := apiDestination(t, eb, "hook", srv.URL+"/events")

	// Before a trail logs, CloudTrail events do not reach the bus.
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("trail-changes"),
		EventPattern: aws.String(`{"source":["aws.cloudtrail"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":["AddTags","StartLogging"]}}`)}); err != nil {
		t.Fatal(err)
	}
	out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("trail-changes"), Targets: []ebtypes.Target{
		{Id: aws.String("hook"), Arn: aws.String(dest)},
		{Id: aws.String("bad"), Arn: aws.String("arn:aws:lambda:us-east-1:111122223333:function:f")},
	}})
	if err != nil || out.FailedEntryCount != 1 || aws.ToString(out.FailedEntries[0].TargetId) != "bad" {
		t.Fatalf("PutTargets = %+v, %v; want the Lambda target to fail alone", out, err)
	}
	loggingTrail(t, d, ct, "main")
	if _, err := ct.AddTags(ctx, &cloudtrail.AddTagsInput{ResourceId: aws.String("arn:aws:cloudtrail:us-east-1:111122223333:trail/main"),
		TagsList: []cttypes.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}}); err != nil {
		t.Fatal(err)
	}
	got := rc.waitFor(t, "AddTags", eventName("AddTags"))
	if got.header.Get("x-api-key") != "s3cret" || got.header.Get("User-Agent") != "Amazon/EventBridge/ApiDestinations" {
		t.Errorf("headers = %v", got.header)
	}
	var env map[string]any
	json.Unmarshal(got.body, &env)
	for k, want := range map[string]any{"version": "0", "source": "aws.cloudtrail", "detail-type": "AWS API Call via CloudTrail",
		"account": testAccount, "region": "us-east-1"} {
		if env[k] != want {
			t.Errorf("envelope %s = %v, want %v", k, env[k], want)
		}
	}
	if rs, _ := env["resources"].([]any); rs == nil || len(rs) != 0 {
		t.Errorf("resources = %v, want []", env["resources"])
	}
	// StartLogging came before the trail logged it? It is the trail's
	// own first event and is recorded: it is on the bus too.
	rc.waitFor(t, "StartLogging", eventName("StartLogging"))

	// Read-only management events reach only rules that opt in.
	for name, state := range map[string]ebtypes.RuleState{"ro-default": ebtypes.RuleStateEnabled, "ro-all": ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents} {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), State: state,
			EventPattern: aws.String(`{"source":["aws.cloudtrail"],"detail":{"eventName":["GetTrailStatus"]}}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []ebtypes.Target{
			{Id: aws.String("hook"), Arn: aws.String(dest), Input: aws.String(`{"rule":"` + name + `"}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	rc.waitFor(t, "the opted-in rule's input", func(m map[string]any) bool { return m["rule"] == "ro-all" })
	// Custom events from PutEvents go through the same rules.
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("app"), EventPattern: aws.String(`{"source":["my.app"],"detail":{"level":[{"prefix":"err"}]}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("app"), Targets: []ebtypes.Target{{Id: aws.String("hook"), Arn: aws.String(dest)},
		{Id: aws.String("shaped"), Arn: aws.String(dest), InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"m": "$.detail.msg"},
			InputTemplate: aws.String(`{"said":<m>,"by":"<aws.events.rule-name>"}`)}}}}); err != nil {
		t.Fatal(err)
	}
	pe, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("my.app"), DetailType: aws.String("log"), Detail: aws.String(`{"level":"error","msg":"disk"}`)},
		{Source: aws.String("my.app"), DetailType: aws.String("log"), Detail: aws.String(`{"level":"info"}`)},
		{Source: aws.String("aws.s3"), DetailType: aws.String("log"), Detail: aws.String(`{}`)},
		{Source: aws.String("my.app"), DetailType: aws.String("log"), Detail: aws.String(`not json`)},
	}})
	if err != nil || pe.FailedEntryCount != 2 || aws.ToString(pe.Entries[0].EventId) == "" ||
		aws.ToString(pe.Entries[2].ErrorCode) != "NotAuthorizedForSourceException" || aws.ToString(pe.Entries[3].ErrorCode) != "MalformedDetail" {
		t.Fatalf("PutEvents = %+v, %v", pe, err)
	}
	rc.waitFor(t, "the custom event", func(m map[string]any) bool {
		d, _ := m["detail"].(map[string]any)
		return m["source"] == "my.app" && d["msg"] == "disk" && m["id"] == aws.ToString(pe.Entries[0].EventId)
	})
	rc.waitFor(t, "the transformed input", func(m map[string]any) bool { return m["said"] == "disk" && m["by"] == "app" })
	if n := rc.count(func(m map[string]any) bool { return m["rule"] == "ro-default" }); n != 0 {
		t.Errorf("a rule in state ENABLED got %d read-only management events", n)
	}
	if n := rc.count(func(m map[string]any) bool {
		d, _ := m["detail"].(map[string]any)
		return d != nil && d["level"] == "info"
	}); n != 0 {
		t.Errorf("a non-matching custom event was delivered %d times", n)
	}
}

// TestEventBridgeAPI checks the rule, target and connection operations'
// responses and errors through the Go SDK.
func TestEventBridgeAPI(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	eb := eventsClient(t, d, testAccount, "us-east-1")
	_, srv := newReceiver(t)
	dest := apiDestination(t, eb, "hook", srv.URL)

	r, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r1"), Description: aws.String("d"),
		EventPattern: aws.String(`{"source":["aws.iam"]}`)})
	if err != nil || aws.ToString(r.RuleArn) != "arn:aws:events:us-east-1:111122223333:rule/r1" {
		t.Fatalf("PutRule = %v, %v", r, err)
	}
	dr, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r1")})
	if err != nil || dr.State != ebtypes.RuleStateEnabled || aws.ToString(dr.EventBusName) != "default" || aws.ToString(dr.Description) != "d" ||
		aws.ToString(dr.CreatedBy) != testAccount {
		t.Fatalf("DescribeRule = %+v, %v", dr, err)
	}
	if _, err := eb.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("r1")}); err != nil {
		t.Fatal(err)
	}
	if dr, _ := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r1")}); dr.State != ebtypes.RuleStateDisabled {
		t.Errorf("state after DisableRule = %s", dr.State)
	}
	for _, n := range []string{"r2", "r3"} {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(n), EventPattern: aws.String(`{"source":["aws.kms"]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	lr, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{Limit: aws.Int32(2)})
	for err == nil {
		for _, r := range lr.Rules {
			names = append(names, aws.ToString(r.Name))
		}
		if lr.NextToken == nil {
			break
		}
		lr, err = eb.ListRules(ctx, &eventbridge.ListRulesInput{Limit: aws.Int32(2), NextToken: lr.NextToken})
	}
	if err != nil || len(names) != 3 || names[0] != "r1" || names[2] != "r3" {
		t.Fatalf("ListRules pages = %v, %v", names, err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r2"), Targets: []ebtypes.Target{
		{Id: aws.String("t1"), Arn: aws.String(dest), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(3)},
			InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"n": "$.detail.eventName"}, InputTemplate: aws.String(`{"name":<n>}`)}}}}); err != nil {
		t.Fatal(err)
	}
	lt, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r2")})
	if err != nil || len(lt.Targets) != 1 || aws.ToInt32(lt.Targets[0].RetryPolicy.MaximumRetryAttempts) != 3 ||
		aws.ToString(lt.Targets[0].InputTransformer.InputTemplate) != `{"name":<n>}` {
		t.Fatalf("ListTargetsByRule = %+v, %v", lt, err)
	}
	rn, err := eb.ListRuleNamesByTarget(ctx, &eventbridge.ListRuleNamesByTargetInput{TargetArn: aws.String(dest)})
	if err != nil || len(rn.RuleNames) != 1 || rn.RuleNames[0] != "r2" {
		t.Fatalf("ListRuleNamesByTarget = %+v, %v", rn, err)
	}
	// A rule with targets is deleted only with Force.
	if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r2")}); apiCode(err) != "ValidationException" {
		t.Errorf("DeleteRule with targets: %v", err)
	}
	if _, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r2"), Ids: []string{"t1", "nope"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r2")}); err != nil {
		t.Fatal(err)
	}

	// TestEventPattern.
	ev := `{"id":"1","account":"111122223333","source":"aws.ec2","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"x","detail":{"state":"running"}}`
	for pat, want := range map[string]bool{`{"source":["aws.ec2"],"detail":{"state":["running"]}}`: true, `{"detail":{"state":[{"anything-but":"running"}]}}`: false} {
		tp, err := eb.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(pat), Event: aws.String(ev)})
		if err != nil || tp.Result != want {
			t.Errorf("TestEventPattern(%s) = %v, %v; want %v", pat, tp, err, want)
		}
	}

	// Errors.
	for name, call := range map[string]func() error{
		"ResourceNotFoundException": func() error {
			_, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("missing")})
			return err
		},
		"InvalidEventPatternException": func() error {
			_, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"aws.ec2"}`)})
			return err
		},
		"ValidationException": func() error {
			_, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad name!"), EventPattern: aws.String(`{"source":["x"]}`)})
			return err
		},
		"ResourceAlreadyExistsException": func() error {
			_, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("hook"), ConnectionArn: aws.String("arn:aws:events:us-east-1:111122223333:connection/hook-conn/x"),
				InvocationEndpoint: aws.String(srv.URL), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
			return err
		},
	} {
		if err := call(); apiCode(err) != name {
			t.Errorf("want %s, got %v", name, err)
		}
	}
	// Secrets never come back.
	dc, err := eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("hook-conn")})
	if err != nil || dc.AuthParameters == nil || aws.ToString(dc.AuthParameters.ApiKeyAuthParameters.ApiKeyName) != "x-api-key" || dc.ConnectionState != ebtypes.ConnectionStateAuthorized {
		t.Fatalf("DescribeConnection = %+v, %v", dc, err)
	}
	raw, _ := json.Marshal(dc)
	if strings.Contains(string(raw), "s3cret") {
		t.Errorf("DescribeConnection leaks the API key: %s", raw)
	}

	// Another account sees none of it.
	if _, err := d.Identities().EnsureAccount(ctx, "444455556666"); err != nil {
		t.Fatal(err)
	}
	other := eventsClient(t, d, "444455556666", "us-east-1")
	if lr, err := other.ListRules(ctx, &eventbridge.ListRulesInput{}); err != nil || len(lr.Rules) != 0 {
		t.Errorf("another account lists %d rules (%v)", len(lr.Rules), err)
	}
	if _, err := other.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("hook-conn")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("another account's DescribeConnection: %v", err)
	}
}

// TestEventBridgeDeliveriesSurviveRestartAndDeadLetter: a delivery to a
// target that is down stays in the outbox across a restart and arrives
// once the target is back; a target whose retries run out goes to the
// dead-letter log; neither blocks the other.
func TestEventBridgeDeliveriesSurviveRestartAndDeadLetter(t *testing.T) {
	dir := t.TempDir()
	down, downSrv := newReceiver(t)
	down.setStatus(http.StatusServiceUnavailable)
	ok, okSrv := newReceiver(t)
	func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d := startDaemon(t, dir, nil)
		eb := eventsClient(t, d, testAccount, "us-east-1")
		downDest := apiDestination(t, eb, "down", downSrv.URL)
		okDest := apiDestination(t, eb, "ok", okSrv.URL)
		gone := apiDestination(t, eb, "gone", downSrv.URL+"/gone")
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("app"), EventPattern: aws.String(`{"source":["my.app"]}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("app"), Targets: []ebtypes.Target{
			{Id: aws.String("down"), Arn: aws.String(downDest)},
			{Id: aws.String("ok"), Arn: aws.String(okDest)},
			{Id: aws.String("once"), Arn: aws.String(gone), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(0)}},
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String("my.app"), DetailType: aws.String("t"), Detail: aws.String(`{"n":1}`)}}}); err != nil {
			t.Fatal(err)
		}
		ok.waitFor(t, "the event at the healthy target", func(m map[string]any) bool { return m["source"] == "my.app" })
		waitUntil(t, "the dead letter", func() bool {
			dl, _ := eventbus.DeadLetters(filepath.Join(dir, datadir.EventBusDir))
			return len(dl) == 1 && dl[0].Target == "once"
		})
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	down.setStatus(0)
	startDaemon(t, dir, nil)
	down.waitFor(t, "the event after the restart", func(m map[string]any) bool { return m["source"] == "my.app" })
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEventBridgeWithTheAWSCLI drives the EventBridge operations with the
// aws CLI (botocore) and finds them in event history.
func TestEventBridgeWithTheAWSCLI(t *testing.T) {
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	d := startDaemon(t, t.TempDir(), nil)
	_, srv := newReceiver(t)
	cli := awsCLI(t, d, testAccount, t.TempDir())
	run := func(args ...string) map[string]any {
		t.Helper()
		out, err := cli(append(args, "--output", "json")...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var m map[string]any
		if len(out) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return m
	}
	conn := run("events", "create-connection", "--name", "c", "--authorization-type", "BASIC",
		"--auth-parameters", `{"BasicAuthParameters":{"Username":"u","Password":"p"}}`)
	// (--cli-input-json: the CLI would fetch an http:// URL given as a
	// parameter value and send its contents instead.)
	dest := run("events", "create-api-destination", "--cli-input-json", `{"Name":"d","ConnectionArn":"`+conn["ConnectionArn"].(string)+
		`","InvocationEndpoint":"`+srv.URL+`","HttpMethod":"POST"}`)
	rule := run("events", "put-rule", "--name", "iam-changes", "--event-pattern", `{"source":["aws.iam"],"detail":{"eventName":[{"prefix":"Create"}]}}`)
	if rule["RuleArn"] != "arn:aws:events:us-east-1:111122223333:rule/iam-changes" {
		t.Errorf("put-rule = %v", rule)
	}
	if out := run("events", "put-targets", "--rule", "iam-changes", "--targets", `[{"Id":"1","Arn":"`+dest["ApiDestinationArn"].(string)+`","InputPath":"$.detail"}]`); out["FailedEntryCount"] != 0.0 {
		t.Errorf("put-targets = %v", out)
	}
	if out := run("events", "list-targets-by-rule", "--rule", "iam-changes"); len(out["Targets"].([]any)) != 1 {
		t.Errorf("list-targets-by-rule = %v", out)
	}
	if out := run("events", "list-rules", "--name-prefix", "iam"); len(out["Rules"].([]any)) != 1 {
		t.Errorf("list-rules = %v", out)
	}
	ev := `{"id":"1","account":"111122223333","source":"aws.iam","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"CreateUser"}}`
	if out := run("events", "test-event-pattern", "--event-pattern", `{"detail":{"eventName":[{"prefix":"Create"}]}}`, "--event", ev); out["Result"] != true {
		t.Errorf("test-event-pattern = %v", out)
	}
	if out, err := cli("events", "describe-rule", "--name", "missing"); err == nil || !strings.Contains(string(out), "ResourceNotFoundException") {
		t.Errorf("describe-rule of a missing rule: %v\n%s", err, out)
	}
	if out, err := cli("events", "put-rule", "--name", "x", "--event-pattern", `{"source":"aws.iam"}`); err == nil || !strings.Contains(string(out), "InvalidEventPatternException") {
		t.Errorf("put-rule with a bad pattern: %v\n%s", err, out)
	}
	destARN := dest["ApiDestinationArn"].(string)
	if out := run("events", "put-events", "--entries", `[{"Source":"my.app","DetailType":"t","Detail":"{\"a\":1}"}]`); out["FailedEntryCount"] != 0.0 {
		t.Errorf("put-events = %v", out)
	}
	run("events", "disable-rule", "--name", "iam-changes")
	run("events", "enable-rule", "--name", "iam-changes")
	if out := run("events", "list-rule-names-by-target", "--target-arn", destARN); len(out["RuleNames"].([]any)) != 1 {
		t.Errorf("list-rule-names-by-target = %v", out)
	}
	if out := run("events", "describe-connection", "--name", "c"); out["AuthorizationType"] != "BASIC" {
		t.Errorf("describe-connection = %v", out)
	}
	if out := run("events", "list-connections"); len(out["Connections"].([]any)) != 1 {
		t.Errorf("list-connections = %v", out)
	}
	run("events", "update-connection", "--name", "c", "--authorization-type", "API_KEY",
		"--auth-parameters", `{"ApiKeyAuthParameters":{"ApiKeyName":"k","ApiKeyValue":"v"}}`)
	if out := run("events", "describe-api-destination", "--name", "d"); out["ApiDestinationArn"] != destARN {
		t.Errorf("describe-api-destination = %v", out)
	}
	run("events", "update-api-destination", "--name", "d", "--invocation-rate-limit-per-second", "10")
	if out := run("events", "list-api-destinations"); len(out["ApiDestinations"].([]any)) != 1 {
		t.Errorf("list-api-destinations = %v", out)
	}
	run("events", "remove-targets", "--rule", "iam-changes", "--ids", "1")
	run("events", "delete-rule", "--name", "iam-changes")
	run("events", "deauthorize-connection", "--name", "c")
	run("events", "delete-api-destination", "--name", "d")
	run("events", "delete-connection", "--name", "c")
	// Every call above is in event history, from events.amazonaws.com.
	got := run("cloudtrail", "lookup-events", "--max-results", "50", "--lookup-attributes", "AttributeKey=EventSource,AttributeValue=events.amazonaws.com")
	names := map[string]bool{}
	for _, e := range got["Events"].([]any) {
		names[e.(map[string]any)["EventName"].(string)] = true
	}
	for _, n := range []string{"CreateConnection", "CreateApiDestination", "PutRule", "PutTargets", "ListTargetsByRule", "ListRules", "TestEventPattern", "DescribeRule",
		"PutEvents", "EnableRule", "DisableRule", "ListRuleNamesByTarget", "DescribeConnection", "ListConnections", "UpdateConnection", "DescribeApiDestination",
		"UpdateApiDestination", "ListApiDestinations", "RemoveTargets", "DeleteRule", "DeauthorizeConnection", "DeleteApiDestination", "DeleteConnection"} {
		if !names[n] {
			t.Errorf("%s is not in event history (found %v)", n, names)
		}
	}
}

// TestEventBridgeConnectionsAndDestinations covers the connection and API
// destination operations and EnableRule through the Go SDK.
func TestEventBridgeConnectionsAndDestinations(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	eb := eventsClient(t, d, testAccount, "us-east-1")
	rc, srv := newReceiver(t)
	dest := apiDestination(t, eb, "hook", srv.URL)
	lc, err := eb.ListConnections(ctx, &eventbridge.ListConnectionsInput{})
	if err != nil || len(lc.Connections) != 1 || aws.ToString(lc.Connections[0].Name) != "hook-conn" {
		t.Fatalf("ListConnections = %+v, %v", lc, err)
	}
	uc, err := eb.UpdateConnection(ctx, &eventbridge.UpdateConnectionInput{Name: aws.String("hook-conn"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeBasic,
		AuthParameters: &ebtypes.UpdateConnectionAuthRequestParameters{BasicAuthParameters: &ebtypes.UpdateConnectionBasicAuthRequestParameters{
			Username: aws.String("u"), Password: aws.String("p")}}})
	if err != nil || uc.ConnectionState != ebtypes.ConnectionStateAuthorized {
		t.Fatalf("UpdateConnection = %+v, %v", uc, err)
	}
	dd, err := eb.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String("hook")})
	if err != nil || aws.ToString(dd.ApiDestinationArn) != dest || aws.ToInt32(dd.InvocationRateLimitPerSecond) != 50 || dd.HttpMethod != ebtypes.ApiDestinationHttpMethodPost {
		t.Fatalf("DescribeApiDestination = %+v, %v", dd, err)
	}
	if _, err := eb.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{Name: aws.String("hook"), HttpMethod: ebtypes.ApiDestinationHttpMethodPut}); err != nil {
		t.Fatal(err)
	}
	la, err := eb.ListApiDestinations(ctx, &eventbridge.ListApiDestinationsInput{NamePrefix: aws.String("ho")})
	if err != nil || len(la.ApiDestinations) != 1 || la.ApiDestinations[0].HttpMethod != ebtypes.ApiDestinationHttpMethodPut {
		t.Fatalf("ListApiDestinations = %+v, %v", la, err)
	}
	// A disabled rule sends nothing; enabled again, it sends, with the
	// connection's new basic credentials and the destination's new method.
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("app"), State: ebtypes.RuleStateDisabled, EventPattern: aws.String(`{"source":["my.app"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("app"), Targets: []ebtypes.Target{{Id: aws.String("d"), Arn: aws.String(dest)}}}); err != nil {
		t.Fatal(err)
	}
	put := func(n int) {
		t.Helper()
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("my.app"),
			DetailType: aws.String("t"), Detail: aws.String(fmt.Sprintf(`{"n":%d}`, n))}}}); err != nil {
			t.Fatal(err)
		}
	}
	put(1)
	if _, err := eb.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	put(2)
	got := rc.waitFor(t, "the event sent while enabled", func(m map[string]any) bool { d, _ := m["detail"].(map[string]any); return d != nil && d["n"] == 2.0 })
	if u, p, ok := (&http.Request{Header: got.header}).BasicAuth(); !ok || u != "u" || p != "p" {
		t.Errorf("credentials after UpdateConnection = %q %q %v", u, p, ok)
	}
	if n := rc.count(func(m map[string]any) bool { d, _ := m["detail"].(map[string]any); return d != nil && d["n"] == 1.0 }); n != 0 {
		t.Errorf("the disabled rule sent %d events", n)
	}
	// Deauthorize, then delete in order: the destination first.
	if dc, err := eb.DeauthorizeConnection(ctx, &eventbridge.DeauthorizeConnectionInput{Name: aws.String("hook-conn")}); err != nil || dc.ConnectionState != ebtypes.ConnectionStateDeauthorized {
		t.Fatalf("DeauthorizeConnection = %+v, %v", dc, err)
	}
	if _, err := eb.DeleteConnection(ctx, &eventbridge.DeleteConnectionInput{Name: aws.String("hook-conn")}); apiCode(err) != "ValidationException" {
		t.Errorf("deleting a connection in use: %v", err)
	}
	if _, err := eb.DeleteApiDestination(ctx, &eventbridge.DeleteApiDestinationInput{Name: aws.String("hook")}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.DeleteConnection(ctx, &eventbridge.DeleteConnectionInput{Name: aws.String("hook-conn")}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String("hook-conn")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeConnection after delete: %v", err)
	}
}
