package sns_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/sns/snstest"
)

func TestDelays(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		p    sns.RetryPolicy
		want []time.Duration
	}{
		{"default: three retries 20 s apart", sns.DefaultRetryPolicy(), []time.Duration{20 * s, 20 * s, 20 * s}},
		{"phases", sns.RetryPolicy{MinDelayTarget: 1, MaxDelayTarget: 9, NumRetries: 7, NumNoDelayRetries: 1, NumMinDelayRetries: 2,
			NumMaxDelayRetries: 2, BackoffFunction: sns.BackoffLinear}, []time.Duration{0, s, s, 5 * s, 9 * s, 9 * s, 9 * s}},
		{"linear backoff", sns.RetryPolicy{MinDelayTarget: 10, MaxDelayTarget: 50, NumRetries: 4, BackoffFunction: sns.BackoffLinear},
			[]time.Duration{20 * s, 30 * s, 40 * s, 50 * s}},
		{"arithmetic backoff", sns.RetryPolicy{MinDelayTarget: 10, MaxDelayTarget: 50, NumRetries: 2, BackoffFunction: sns.BackoffArithmetic},
			[]time.Duration{20 * s, 50 * s}},
		{"geometric backoff", sns.RetryPolicy{MinDelayTarget: 10, MaxDelayTarget: 90, NumRetries: 2, BackoffFunction: sns.BackoffGeometric},
			[]time.Duration{80 * s, 90 * s}},
		{"exponential backoff", sns.RetryPolicy{MinDelayTarget: 1, MaxDelayTarget: 1024, NumRetries: 2, BackoffFunction: sns.BackoffExponential},
			[]time.Duration{32 * s, 1024 * s}},
		{"no retries", sns.RetryPolicy{MinDelayTarget: 1, MaxDelayTarget: 1, BackoffFunction: sns.BackoffLinear}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if diff := cmp.Diff(tc.want, tc.p.Delays()); diff != "" {
				t.Errorf("Delays (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyValidation(t *testing.T) {
	for name, p := range map[string]string{
		"min below 1":       `{"healthyRetryPolicy":{"minDelayTarget":0,"maxDelayTarget":5,"numRetries":1}}`,
		"max below min":     `{"healthyRetryPolicy":{"minDelayTarget":5,"maxDelayTarget":2,"numRetries":1}}`,
		"phases over total": `{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":1,"numNoDelayRetries":2}}`,
		"over an hour":      `{"healthyRetryPolicy":{"minDelayTarget":100,"maxDelayTarget":100,"numRetries":40}}`,
		"unknown function":  `{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":2,"numRetries":1,"backoffFunction":"cubic"}}`,
		"unknown member":    `{"healthyRetryPolicy":{"minDelay":1}}`,
		"not JSON":          `{`,
		"bad content type":  `{"requestPolicy":{"headerContentType":"image/png"}}`,
		"negative throttle": `{"throttlePolicy":{"maxReceivesPerSecond":-1}}`,
		"too many retries":  `{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,"numRetries":101}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := sns.ParseSubscriptionDeliveryPolicy(p); !errors.Is(err, sns.ErrInvalidParameter) {
				t.Errorf("ParseSubscriptionDeliveryPolicy(%s) = %v, want ErrInvalidParameter", p, err)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.topic("alerts", map[string]string{"DisplayName": "Alerts"})
	if want := "arn:aws:sns:us-east-1:111122223333:alerts"; arn != want {
		t.Fatalf("ARN %s, want %s", arn, want)
	}
	again, err := h.svc.CreateTopic(ctx, acct, region, "alerts", nil, nil)
	if err != nil || again != arn {
		t.Fatalf("CreateTopic again = %s, %v; want the same ARN", again, err)
	}
	if _, err := h.svc.CreateTopic(ctx, acct, region, "alerts", map[string]string{"DisplayName": "Other"}, nil); !errors.Is(err, sns.ErrInvalidParameter) {
		t.Errorf("CreateTopic with other attributes: %v, want ErrInvalidParameter", err)
	}
	for _, bad := range []string{"", "a.fifo", "has space", string(make([]byte, 257))} {
		if _, err := h.svc.CreateTopic(ctx, acct, region, bad, nil, nil); !errors.Is(err, sns.ErrInvalidParameter) {
			t.Errorf("CreateTopic(%q): %v, want ErrInvalidParameter", bad, err)
		}
	}
	attrs, err := h.svc.TopicAttributes(ctx, acct, arn)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"TopicArn": arn, "Owner": acct, "DisplayName": "Alerts", "SubscriptionsPending": "0",
		"SubscriptionsConfirmed": "0", "SubscriptionsDeleted": "0",
		"EffectiveDeliveryPolicy": `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false}}`,
	} {
		if attrs[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
	var policy struct {
		Version   string
		ID        string `json:"Id"`
		Statement []struct {
			Sid       string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(attrs["Policy"]), &policy); err != nil || policy.ID != "__default_policy_ID" ||
		policy.Statement[0].Sid != "__default_statement_ID" || policy.Statement[0].Condition["StringEquals"]["AWS:SourceOwner"] != acct {
		t.Errorf("default Policy %s (%v)", attrs["Policy"], err)
	}
	if _, ok := attrs["SignatureVersion"]; ok {
		t.Errorf("SignatureVersion present before it was set")
	}
	if err := h.svc.SetTopicAttribute(ctx, acct, arn, "SignatureVersion", "2"); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.SetTopicAttribute(ctx, acct, arn, "SignatureVersion", "3"); !errors.Is(err, sns.ErrInvalidParameter) {
		t.Errorf("SignatureVersion 3: %v", err)
	}
	if err := h.svc.SetTopicAttribute(ctx, acct, arn, "KmsMasterKeyId", "x"); !errors.Is(err, sns.ErrInvalidParameter) {
		t.Errorf("unsupported attribute: %v", err)
	}

	// Another account sees nothing and may touch nothing.
	if _, err := h.svc.TopicAttributes(ctx, other, arn); !errors.Is(err, sns.ErrAuthorization) {
		t.Errorf("other account GetTopicAttributes: %v, want ErrAuthorization", err)
	}
	if err := h.svc.DeleteTopic(ctx, other, arn); !errors.Is(err, sns.ErrAuthorization) {
		t.Errorf("other account DeleteTopic: %v, want ErrAuthorization", err)
	}
	if _, err := h.svc.PublishAs(ctx, other, sns.PublishInput{TopicARN: arn, Message: "x"}); !errors.Is(err, sns.ErrAuthorization) {
		t.Errorf("other account Publish: %v, want ErrAuthorization", err)
	}
	if got, _, _ := h.svc.ListTopics(ctx, other, region, ""); len(got) != 0 {
		t.Errorf("other account lists %v", got)
	}
	if _, err := h.svc.TopicAttributes(ctx, acct, arn+"x"); !errors.Is(err, sns.ErrNotFound) {
		t.Errorf("missing topic: %v, want ErrNotFound", err)
	}

	// Tags.
	if err := h.svc.TagResource(ctx, acct, arn, map[string]string{"team": "sec", "env": "prod"}); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.UntagResource(ctx, acct, arn, []string{"env"}); err != nil {
		t.Fatal(err)
	}
	tags, err := h.svc.ListTags(ctx, acct, arn)
	if diff := cmp.Diff(map[string]string{"team": "sec"}, tags); err != nil || diff != "" {
		t.Errorf("ListTags (-want +got) %v:\n%s", err, diff)
	}
	if err := h.svc.TagResource(ctx, acct, arn+"x", map[string]string{"a": "b"}); !errors.Is(err, sns.ErrResourceNotFound) {
		t.Errorf("TagResource on a missing topic: %v", err)
	}
	many := map[string]string{}
	for i := range 51 {
		many[string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	if err := h.svc.TagResource(ctx, acct, arn, many); !errors.Is(err, sns.ErrTagLimit) {
		t.Errorf("51 tags: %v, want ErrTagLimit", err)
	}

	// Paging.
	for i := range 150 {
		h.topic("t"+string(rune('A'+i/26))+string(rune('a'+i%26)), nil)
	}
	var all []string
	tok := ""
	for {
		page, next, err := h.svc.ListTopics(ctx, acct, region, tok)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		tok = next
	}
	if len(all) != 151 {
		t.Errorf("listed %d topics over the pages, want 151", len(all))
	}
	if _, _, err := h.svc.ListTopics(ctx, acct, region, "!!"); !errors.Is(err, sns.ErrInvalidParameter) {
		t.Errorf("bad NextToken: %v", err)
	}

	// Survives a restart; delete is idempotent.
	h.open()
	if !h.svc.TopicExists(acct, arn) || h.svc.TopicExists(other, arn) {
		t.Fatalf("after reopening, TopicExists is wrong")
	}
	if attrs, _ := h.svc.TopicAttributes(ctx, acct, arn); attrs["SignatureVersion"] != "2" {
		t.Errorf("SignatureVersion after restart: %q", attrs["SignatureVersion"])
	}
	for range 2 {
		if err := h.svc.DeleteTopic(ctx, acct, arn); err != nil {
			t.Fatal(err)
		}
	}
	if h.svc.TopicExists(acct, arn) {
		t.Error("topic still exists after DeleteTopic")
	}
}

func TestSubscribePublish(t *testing.T) {
	for _, version := range []string{"1", "2"} {
		t.Run("SignatureVersion "+version, func(t *testing.T) {
			h := newHarness(t)
			h.run()
			ctx := t.Context()
			arn := h.topic("alerts", map[string]string{"SignatureVersion": version})
			sub := snstest.New(t)
			if _, err := h.svc.Subscribe(ctx, acct, arn, "https", sub.URL(), nil, false); !errors.Is(err, sns.ErrInvalidParameter) {
				t.Errorf("https protocol with an http endpoint: %v", err)
			}
			if _, err := h.svc.Subscribe(ctx, acct, arn, "email", "a@b.c", nil, false); !errors.Is(err, sns.ErrInvalidParameter) {
				t.Errorf("email protocol: %v", err)
			}
			subARN := h.subscribe(arn, sub, nil)
			attrs, err := h.svc.SubscriptionAttributes(ctx, acct, subARN)
			if err != nil || attrs["PendingConfirmation"] != "false" || attrs["RawMessageDelivery"] != "false" {
				t.Fatalf("subscription attributes %v, %v", attrs, err)
			}
			id, err := h.svc.PublishAs(ctx, acct, sns.PublishInput{TopicARN: arn, Subject: "Hi", Message: `{"a":"<b>&"}`,
				Attributes: map[string]sns.MessageAttribute{"color": {DataType: "String", StringValue: "red"}}})
			if err != nil {
				t.Fatal(err)
			}
			m := next(t, sub)
			for k, want := range map[string]any{"Type": "Notification", "MessageId": id, "TopicArn": arn, "Subject": "Hi",
				"Message": `{"a":"<b>&"}`, "SignatureVersion": version,
				"MessageAttributes": map[string]any{"color": map[string]any{"Type": "String", "Value": "red"}}} {
				if diff := cmp.Diff(want, m.Doc[k]); diff != "" {
					t.Errorf("notification %s (-want +got):\n%s", k, diff)
				}
			}
			for k, want := range map[string]string{"x-amz-sns-message-type": "Notification", "x-amz-sns-message-id": id,
				"x-amz-sns-topic-arn": arn, "x-amz-sns-subscription-arn": subARN, "Content-Type": "text/plain; charset=UTF-8",
				"User-Agent": "Amazon Simple Notification Service Agent"} {
				if got := m.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			// Raw delivery: the bare message.
			if err := h.svc.SetSubscriptionAttribute(ctx, acct, subARN, "RawMessageDelivery", "true"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.svc.Publish(ctx, arn, "", "raw body", nil); err != nil {
				t.Fatal(err)
			}
			if m := next(t, sub); m.Body != "raw body" || m.Header.Get("x-amz-sns-rawdelivery") != "true" {
				t.Errorf("raw delivery: body %q, headers %v", m.Body, m.Header)
			}
			if len(sub.Errors()) > 0 {
				t.Fatal("signature errors")
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.topic("t", nil)
	big := make([]byte, sns.MaxMessageBytes+1)
	for i := range big {
		big[i] = 'a'
	}
	for name, in := range map[string]sns.PublishInput{
		"empty message":        {TopicARN: arn},
		"too long":             {TopicARN: arn, Message: string(big)},
		"long subject":         {TopicARN: arn, Message: "m", Subject: string(big[:100])},
		"control in subject":   {TopicARN: arn, Message: "m", Subject: "a\nb"},
		"json without default": {TopicARN: arn, Message: `{"http":"x"}`, MessageStructure: "json"},
		"bad attribute type":   {TopicARN: arn, Message: "m", Attributes: map[string]sns.MessageAttribute{"a": {DataType: "Int", StringValue: "1"}}},
		"bad attribute name":   {TopicARN: arn, Message: "m", Attributes: map[string]sns.MessageAttribute{"AWS.x": {DataType: "String", StringValue: "1"}}},
		"bad topic ARN":        {TopicARN: "nope", Message: "m"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.svc.PublishAs(ctx, acct, in); !errors.Is(err, sns.ErrInvalidParameter) {
				t.Errorf("PublishAs: %v, want ErrInvalidParameter", err)
			}
		})
	}
	if _, err := h.svc.PublishAs(ctx, acct, sns.PublishInput{TopicARN: arn + "x", Message: "m"}); !errors.Is(err, sns.ErrNotFound) {
		t.Errorf("missing topic: %v, want ErrNotFound", err)
	}
}

func TestRetries(t *testing.T) {
	h := newHarness(t)
	h.run()
	ctx := t.Context()
	arn := h.topic("t", nil)
	sub := snstest.New(t)
	var failing atomic.Bool
	sub.SetFail(func(n int, m snstest.Message) int {
		if failing.Load() && m.Doc != nil && m.Doc["Type"] == "Notification" {
			return 503
		}
		return 0
	})
	h.subscribe(arn, sub, nil)

	// Fails twice, then succeeds: the same message is delivered on the
	// third attempt, after two 20 s waits.
	var attempts atomic.Int32
	sub.SetFail(func(n int, m snstest.Message) int {
		if attempts.Add(1) <= 2 {
			return 500
		}
		return 0
	})
	id, err := h.svc.Publish(ctx, arn, "", "retry me", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	if m.Doc["MessageId"] != id || attempts.Load() != 3 {
		t.Fatalf("delivered %v after %d attempts; want %s after 3", m.Doc["MessageId"], attempts.Load(), id)
	}
	if diff := cmp.Diff([]time.Duration{20 * time.Second, 20 * time.Second}, h.sleeps()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	got := sub.Received()
	if first, last := got[len(got)-3].Doc, got[len(got)-1].Doc; first["Timestamp"] != last["Timestamp"] || first["Signature"] != last["Signature"] {
		t.Errorf("a retry sent other bytes: %v vs %v", first, last)
	}

	// A 4xx is delivered: no retry.
	attempts.Store(0)
	sub.SetFail(func(n int, m snstest.Message) int {
		attempts.Add(1)
		return 404
	})
	if _, err := h.svc.Publish(ctx, arn, "", "refused", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.svc.Pending() == 0 })
	if attempts.Load() != 1 {
		t.Errorf("a 404 was attempted %d times, want 1", attempts.Load())
	}

	// Always failing: 1 + 3 attempts, then dropped.
	attempts.Store(0)
	sub.SetFail(func(n int, m snstest.Message) int {
		attempts.Add(1)
		return 502
	})
	if _, err := h.svc.Publish(ctx, arn, "", "doomed", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return h.svc.Pending() == 0 })
	if attempts.Load() != 4 {
		t.Errorf("a failing endpoint got %d attempts, want 4", attempts.Load())
	}
	// The message given up on is in the dead-letter log, whole.
	dl, err := os.ReadFile(filepath.Join(h.dir, sns.DeadLetterFile))
	if err != nil {
		t.Fatal(err)
	}
	var dead map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(dl), &dead); err != nil {
		t.Fatalf("dead-letter log: %v\n%s", err, dl)
	}
	if !strings.Contains(dead["body"].(string), "doomed") || dead["lastStatus"] != 502.0 || dead["retries"] != 3.0 {
		t.Errorf("dead letter = %v", dead)
	}
	// Confirmation, 2 failures + 1 success, the 404, 4 failures.
	for _, m := range []struct {
		name, label string
		want        float64
	}{
		{"opentrail_sns_delivery_attempts_total", "delivered", 3},
		{"opentrail_sns_delivery_attempts_total", "failed", 6},
		{"opentrail_sns_dropped_deliveries_total", "exhausted", 1},
		{"opentrail_sns_published_total", "", 3},
		{"opentrail_sns_queued_deliveries", "", 0},
	} {
		if got := h.metric(m.name, m.label); got != m.want {
			t.Errorf("%s{%s} = %v, want %v", m.name, m.label, got, m.want)
		}
	}
}

func TestRestartResumes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	arn := h.topic("t", nil)
	sub := snstest.New(t)
	if _, err := h.svc.Subscribe(ctx, acct, arn, "http", sub.URL(), nil, false); err != nil {
		t.Fatal(err)
	}
	// Not running: the confirmation waits on disk.
	if n := h.svc.Pending(); n != 1 {
		t.Fatalf("pending %d, want 1", n)
	}
	h.open() // as after a crash: nothing was closed
	h.run()
	m := next(t, sub)
	if _, err := h.svc.ConfirmSubscription(ctx, "", arn, m.Doc["Token"].(string), false); err != nil {
		t.Fatal(err)
	}
	// The subscriber has the confirmation before the queue has its
	// answer and removes the file: wait for that, or a halt in between
	// leaves the file for the next Run (at least once), a fourth below.
	waitFor(t, func() bool { return h.svc.Pending() == 0 })
	h.halt()
	ids := map[string]bool{}
	for range 3 {
		id, err := h.svc.Publish(ctx, arn, "", "queued", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "queue", "*.json"))
	if len(files) != 3 {
		t.Fatalf("%d queue files, want 3", len(files))
	}
	// A damaged queue file is set aside, not deleted or delivered.
	if err := os.WriteFile(filepath.Join(h.dir, "queue", "99999999999999999999.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.open()
	h.run()
	for range 3 {
		m := next(t, sub)
		if !ids[m.Doc["MessageId"].(string)] {
			t.Errorf("unexpected message %v", m.Doc["MessageId"])
		}
		delete(ids, m.Doc["MessageId"].(string))
	}
	waitFor(t, func() bool { return h.svc.Pending() == 0 })
	if _, err := os.Stat(filepath.Join(h.dir, "quarantine", "99999999999999999999.json")); err != nil {
		t.Errorf("damaged queue file not quarantined: %v", err)
	}
}

func TestSlowEndpointDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t)
	h.run()
	ctx := t.Context()
	arn := h.topic("t", nil)
	slow, fast := snstest.New(t), snstest.New(t)
	h.subscribe(arn, slow, nil)
	h.subscribe(arn, fast, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow.SetFail(func(int, snstest.Message) int {
		<-release
		return 0
	})
	for range 10 {
		if _, err := h.svc.Publish(ctx, arn, "", "m", nil); err != nil {
			t.Fatal(err)
		}
	}
	// All ten reach the fast endpoint while the slow one holds every
	// request it got.
	for range 10 {
		next(t, fast)
	}
}

func TestUnsubscribe(t *testing.T) {
	h := newHarness(t)
	h.run()
	ctx := t.Context()
	arn := h.topic("t", nil)
	sub := snstest.New(t)
	subARN := h.subscribe(arn, sub, nil)
	if err := h.svc.Unsubscribe(ctx, other, subARN); !errors.Is(err, sns.ErrAuthorization) {
		t.Errorf("other account Unsubscribe: %v", err)
	}
	// Unauthenticated (the UnsubscribeURL): a final confirmation whose
	// token restores the subscription.
	if err := h.svc.Unsubscribe(ctx, "", subARN); err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	if m.Doc["Type"] != sns.TypeUnsubscribeConfirmation || m.Header.Get("x-amz-sns-subscription-arn") != subARN {
		t.Fatalf("got %v, want an UnsubscribeConfirmation", m.Doc)
	}
	if subs, _, _ := h.svc.ListSubscriptions(ctx, acct, arn, ""); len(subs) != 0 {
		t.Errorf("subscriptions after unsubscribe: %v", subs)
	}
	back, err := h.svc.ConfirmSubscription(ctx, "", arn, m.Doc["Token"].(string), false)
	if err != nil || back != subARN {
		t.Fatalf("resubscribe = %s, %v; want %s", back, err, subARN)
	}
	// A signed confirmation with AuthenticateOnUnsubscribe protects it
	// from the unsigned URL.
	if _, err := h.svc.ConfirmSubscription(ctx, acct, arn, m.Doc["Token"].(string), true); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Unsubscribe(ctx, "", subARN); !errors.Is(err, sns.ErrAuthorization) {
		t.Errorf("unsigned unsubscribe of a protected subscription: %v", err)
	}
	if err := h.svc.Unsubscribe(ctx, acct, subARN); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ConfirmSubscription(ctx, "", arn, "00", false); !errors.Is(err, sns.ErrInvalidParameter) {
		t.Errorf("bad token: %v", err)
	}
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t)
	h.run()
	arn := h.topic("t", nil)
	sub := snstest.New(t)
	if _, err := h.svc.Subscribe(t.Context(), acct, arn, "http", sub.URL(), nil, false); err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	h.mu.Lock()
	h.clock = h.clock.Add(sns.TokenLifetime)
	h.mu.Unlock()
	if _, err := h.svc.ConfirmSubscription(t.Context(), "", arn, m.Doc["Token"].(string), false); !errors.Is(err, sns.ErrInvalidParameter) {
		t.Errorf("expired token: %v, want ErrInvalidParameter", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("condition never held")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestCheck(t *testing.T) {
	h := newHarness(t)
	arn := h.topic("t", nil)
	sub := snstest.New(t)
	if _, err := h.svc.Subscribe(t.Context(), acct, arn, "http", sub.URL(), nil, false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sns.CheckReport{Topics: 1, Subscriptions: 1, Pending: 1}, sns.Check(h.dir)); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "queue", "00000000000000000042.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "signing-cert.pem"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := sns.Check(h.dir)
	if len(r.Problems) != 2 || r.Pending != 1 {
		t.Errorf("Check of a damaged directory: %+v", r)
	}
	if _, err := sns.Open(h.dir, h.options()); err == nil {
		t.Error("Open accepted a certificate that is not the key's")
	}
}

func TestQueueFull(t *testing.T) {
	h := newHarness(t)
	o := h.options()
	o.MaxQueued = 1
	svc, err := sns.Open(h.dir, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	arn, err := svc.CreateTopic(ctx, acct, region, "t", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := snstest.New(t)
	if _, err := svc.Subscribe(ctx, acct, arn, "http", sub.URL(), nil, false); err != nil {
		t.Fatal(err)
	}
	// Not running: the confirmation fills the queue.
	if _, err := svc.Subscribe(ctx, acct, arn, "http", sub.URL()+"2", nil, false); !errors.Is(err, sns.ErrThrottled) {
		t.Errorf("Subscribe with a full queue: %v, want ErrThrottled", err)
	}
}

// The subscriber's verifier is real: it refuses a message whose signed
// fields changed, and one signed with another key.
func TestSignatureVerification(t *testing.T) {
	h := newHarness(t)
	h.run()
	arn := h.topic("t", map[string]string{"SignatureVersion": "2"})
	sub := snstest.New(t)
	h.subscribe(arn, sub, nil)
	if _, err := h.svc.Publish(t.Context(), arn, "subj", "body", nil); err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	if err := sub.Verify(m.Doc); err != nil {
		t.Fatalf("genuine message: %v", err)
	}
	for _, k := range []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"} {
		doc := maps.Clone(m.Doc)
		doc[k] = doc[k].(string) + "x"
		if err := sub.Verify(doc); err == nil {
			t.Errorf("a message with %s changed verifies", k)
		}
	}
	doc := maps.Clone(m.Doc)
	doc["SignatureVersion"] = "1"
	if err := sub.Verify(doc); err == nil {
		t.Error("a SHA-256 signature verifies as SignatureVersion 1")
	}
	// Unsigned fields may change.
	doc = maps.Clone(m.Doc)
	doc["UnsubscribeURL"] = "https://elsewhere/"
	if err := sub.Verify(doc); err != nil {
		t.Errorf("UnsubscribeURL is not signed, but changing it fails: %v", err)
	}
}

func ExampleStringToSign() {
	fmt.Print(sns.StringToSign(map[string]string{
		"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Subject": "My First Message",
		"Message": "Hello world!", "Timestamp": "2012-05-02T00:54:06.655Z",
		"UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe", // not signed
	}))
	// Output:
	// Message
	// Hello world!
	// MessageId
	// 22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324
	// Subject
	// My First Message
	// Timestamp
	// 2012-05-02T00:54:06.655Z
	// TopicArn
	// arn:aws:sns:us-west-2:123456789012:MyTopic
	// Type
	// Notification
}
