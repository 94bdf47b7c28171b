package snsapi_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/snsapi"
	"github.com/opentrail/opentrail/internal/store"
)

const acct = "111122223333"

// fakeAuth trusts the X-Test-Account header: the caller is that account's
// root, signing for X-Test-Service (default sns) in us-east-1. Without
// the header the request is unsigned.
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request, _ []byte) (identity.Caller, error) {
	a := r.Header.Get("X-Test-Account")
	if a == "" {
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrMissingAuth, Message: "Missing Authentication Token"}
	}
	svc := r.Header.Get("X-Test-Service")
	if svc == "" {
		svc = "sns"
	}
	return identity.Caller{Principal: identity.Principal{AccountID: a, Type: identity.TypeRoot, AccessKeyID: "AKIATEST"},
		Region: "us-east-1", Service: svc}, nil
}

type events struct {
	mu   sync.Mutex
	got  []event.Event
	fail error
}

func (e *events) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return store.AppendResult{}, e.fail
	}
	e.got = append(e.got, evs...)
	return store.AppendResult{}, nil
}

func (e *events) records(t *testing.T) []map[string]any {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []map[string]any
	for _, ev := range e.got {
		var m map[string]any
		if err := json.Unmarshal(ev.Raw, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

type env struct {
	srv *httptest.Server
	svc *sns.Service
	ev  *events
}

func newEnv(t *testing.T) *env {
	e := &env{ev: &events{}}
	var err error
	o := sns.DefaultOptions()
	o.Logger = nil
	o.PublicURL = func() string { return e.srv.URL }
	if e.svc, err = sns.Open(t.TempDir(), o); err != nil {
		t.Fatal(err)
	}
	ho := snsapi.DefaultOptions()
	ho.Auth, ho.Engine, ho.Events, ho.Logger = fakeAuth{}, e.svc, e.ev, nil
	ho.MaxBodyBytes = 4096
	h, err := snsapi.New(ho)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

type reply struct {
	status int
	body   string
	err    struct {
		Type, Code, Message string
	}
}

func (e *env) do(t *testing.T, method, account, body string, header map[string]string) reply {
	t.Helper()
	var r io.Reader
	target := e.srv.URL + "/"
	if method == http.MethodPost {
		r = strings.NewReader(body)
	} else {
		target += "?" + body
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if account != "" {
		req.Header.Set("X-Test-Account", account)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := reply{status: resp.StatusCode, body: string(b)}
	if resp.StatusCode != 200 {
		var doc struct {
			Error struct{ Type, Code, Message string }
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("error body is not XML: %v\n%s", err, b)
		}
		out.err = doc.Error
		if !strings.Contains(string(b), `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">`) || !strings.Contains(string(b), "<RequestId>") {
			t.Errorf("error body %s", b)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	return out
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	missing := "arn:aws:sns:us-east-1:" + acct + ":nope"
	tests := []struct {
		name    string
		method  string
		account string
		body    string
		header  map[string]string
		status  int
		code    string
		typ     string
	}{
		{"not found", "POST", acct, form("Action", "GetTopicAttributes", "Version", "2010-03-31", "TopicArn", missing), nil, 404, "NotFound", "Sender"},
		{"invalid parameter", "POST", acct, form("Action", "CreateTopic", "Name", "a b"), nil, 400, "InvalidParameter", "Sender"},
		{"missing required", "POST", acct, form("Action", "CreateTopic"), nil, 400, "InvalidParameter", "Sender"},
		{"other account", "POST", "444455556666", form("Action", "DeleteTopic", "TopicArn", missing), nil, 403, "AuthorizationError", "Sender"},
		{"unknown action", "POST", acct, form("Action", "CreatePlatformApplication"), nil, 400, "InvalidAction", "Sender"},
		{"missing action", "POST", acct, form("Name", "x"), nil, 400, "MissingAction", "Sender"},
		{"other version", "POST", acct, form("Action", "ListTopics", "Version", "2010-08-01"), nil, 400, "InvalidAction", "Sender"},
		{"malformed form", "POST", acct, "Action=ListTopics&Name=a&Name=b", nil, 400, "InvalidParameter", "Sender"},
		{"list gap", "POST", acct, "Action=UntagResource&ResourceArn=" + url.QueryEscape(missing) + "&TagKeys.member.2=a", nil, 400, "InvalidParameter", "Sender"},
		{"unsigned", "POST", "", form("Action", "ListTopics"), nil, 403, "MissingAuthenticationToken", "Sender"},
		{"wrong scope", "POST", acct, form("Action", "ListTopics"), map[string]string{"X-Test-Service": "monitoring"}, 403, "SignatureDoesNotMatch", "Sender"},
		{"not a form", "POST", acct, form("Action", "ListTopics"), map[string]string{"Content-Type": "application/json"}, 400, "InvalidParameter", "Sender"},
		{"too large", "POST", acct, form("Action", "Publish", "Message", strings.Repeat("x", 5000)), nil, 413, "RequestEntityTooLarge", "Sender"},
		{"bad token by URL", "GET", "", form("Action", "ConfirmSubscription", "TopicArn", missing, "Token", "00"), nil, 404, "NotFound", "Sender"},
		{"unsubscribe URL for nothing", "GET", "", form("Action", "Unsubscribe", "SubscriptionArn", missing+":0f0e0d0c-0b0a-4908-8706-050403020100"), nil, 404, "NotFound", "Sender"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.account, tc.body, tc.header)
			if r.status != tc.status || r.err.Code != tc.code || r.err.Type != tc.typ || r.err.Message == "" {
				t.Errorf("got %d %+v, want %d %s %s\n%s", r.status, r.err, tc.status, tc.code, tc.typ, r.body)
			}
		})
	}
	// Backpressure from the event store: Throttling, which SDKs retry.
	e.ev.fail = store.ErrBackpressure
	r := e.do(t, "POST", acct, form("Action", "ListTopics"), nil)
	if r.status != 400 || r.err.Code != "Throttling" || r.err.Message != "Rate exceeded" {
		t.Errorf("backpressure: %d %+v", r.status, r.err)
	}
	e.ev.fail = errors.New("disk on fire")
	if r := e.do(t, "POST", acct, form("Action", "ListTopics"), nil); r.status != 500 || r.err.Code != "InternalError" || r.err.Type != "Receiver" {
		t.Errorf("append failure: %d %+v", r.status, r.err)
	}
	e.ev.fail = nil
}

func TestRecords(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "POST", acct, "Action=CreateTopic&Version=2010-03-31&Name=t1&Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=T"+
		"&Tags.member.1.Key=team&Tags.member.1.Value=sec", nil)
	if r.status != 200 || !strings.Contains(r.body, "<CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:"+acct+":t1</TopicArn></CreateTopicResult>") {
		t.Fatalf("CreateTopic: %d %s", r.status, r.body)
	}
	arn := "arn:aws:sns:us-east-1:" + acct + ":t1"
	if r := e.do(t, "POST", acct, form("Action", "Publish", "TopicArn", arn, "Message", "secret", "Subject", "s"), nil); r.status != 200 {
		t.Fatalf("Publish: %s", r.body)
	}
	if r := e.do(t, "GET", acct, form("Action", "ListTopics"), nil); r.status != 200 || !strings.Contains(r.body, "<Topics><member><TopicArn>"+arn) {
		t.Fatalf("signed GET ListTopics: %s", r.body)
	}
	// Unsigned calls are not recorded (AWS records neither).
	e.do(t, "GET", "", form("Action", "ConfirmSubscription", "TopicArn", arn, "Token", "00"), nil)
	e.do(t, "POST", "", form("Action", "ListTopics"), nil)

	recs := e.ev.records(t)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3 (CreateTopic, Publish, ListTopics)", len(recs))
	}
	pick := func(m map[string]any, keys ...string) map[string]any {
		out := map[string]any{}
		for _, k := range keys {
			out[k] = m[k]
		}
		return out
	}
	keys := []string{"eventSource", "eventName", "readOnly", "eventCategory", "managementEvent", "requestParameters", "responseElements", "resources", "recipientAccountId"}
	want := []map[string]any{
		{"eventSource": "sns.amazonaws.com", "eventName": "CreateTopic", "readOnly": false, "eventCategory": "Management", "managementEvent": true,
			"requestParameters": map[string]any{"name": "t1", "attributes": map[string]any{"DisplayName": "T"},
				"tags": []any{map[string]any{"key": "team", "value": "sec"}}},
			"responseElements": map[string]any{"topicArn": arn}, "resources": nil, "recipientAccountId": acct},
		{"eventSource": "sns.amazonaws.com", "eventName": "Publish", "readOnly": false, "eventCategory": "Data", "managementEvent": false,
			"requestParameters": map[string]any{"topicArn": arn, "message": "HIDDEN_DUE_TO_SECURITY_REASONS", "subject": "HIDDEN_DUE_TO_SECURITY_REASONS"},
			"responseElements":  map[string]any{"messageId": recs[1]["responseElements"].(map[string]any)["messageId"]},
			"resources":         []any{map[string]any{"ARN": arn, "accountId": acct, "type": "AWS::SNS::Topic"}}, "recipientAccountId": acct},
		{"eventSource": "sns.amazonaws.com", "eventName": "ListTopics", "readOnly": true, "eventCategory": "Management", "managementEvent": true,
			"requestParameters": nil, "responseElements": nil, "resources": nil, "recipientAccountId": acct},
	}
	for i := range want {
		if diff := cmp.Diff(want[i], pick(recs[i], keys...)); diff != "" {
			t.Errorf("record %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestCertificate(t *testing.T) {
	e := newEnv(t)
	pem, path := e.svc.Certificate()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != string(pem) || !strings.HasPrefix(string(b), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("GET %s: %s %q", path, resp.Status, b)
	}
	resp, err = http.Get(e.srv.URL + sns.CertPathPrefix + "0000.pem")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("another certificate name: %s", resp.Status)
	}
}

func TestUnsigned(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		auth        bool
		want        bool
	}{
		{"GET", "/?Action=ConfirmSubscription&TopicArn=a&Token=b", false, true},
		{"GET", "/?Action=Unsubscribe&SubscriptionArn=a", false, true},
		{"GET", "/?Action=Unsubscribe&SubscriptionArn=a", true, false},
		{"GET", "/?Action=Publish&TopicArn=a", false, false},
		{"POST", "/?Action=Unsubscribe&SubscriptionArn=a", false, false},
		{"GET", "/bucket/?Action=Unsubscribe", false, false},
		{"GET", "/SimpleNotificationService-abc.pem", false, true},
		{"GET", "/SimpleNotificationService-abc.txt", false, false},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		if tc.auth {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/sns/aws4_request")
		}
		if got := snsapi.Unsigned(r); got != tc.want {
			t.Errorf("Unsigned(%s %s, signed %t) = %t, want %t", tc.method, tc.url, tc.auth, got, tc.want)
		}
	}
}
