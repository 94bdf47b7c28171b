package auditapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/auditapi"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// System tests of PutAuditEvents: a real catalogue and real SigV4
// verification, requests signed with aws-sdk-go-v2's v4 signer (the
// cloudtrail-data Go SDK cannot be fetched here, decision 127).

const (
	owner = "111111111111"
	other = "222222222222"
)

var (
	uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	t0     = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
)

// memLog is an in-memory event log that counts Append calls; gate, when
// set, holds each Append until it is closed.
type memLog struct {
	mu      sync.Mutex
	evs     []event.Event
	appends int
	err     error
	gate    chan struct{}
	entered chan struct{}
}

func (l *memLog) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	if l.entered != nil {
		l.entered <- struct{}{}
	}
	if l.gate != nil {
		<-l.gate
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return store.AppendResult{}, l.err
	}
	l.appends++
	l.evs = append(l.evs, evs...)
	return store.AppendResult{Appended: len(evs), LastSeq: uint64(len(l.evs))}, nil
}

type env struct {
	srv      *httptest.Server
	ids      *identity.Store
	cat      *catalog.Catalog
	log      *memLog
	channel  catalog.Channel
	now      time.Time
	handlerO auditapi.Options
}

func newEnv(t *testing.T, mod func(*auditapi.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	ids, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{owner, other} {
		if _, err := ids.EnsureAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.Open(filepath.Join(dir, "catalog"), catalog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	head := func() uint64 { return 0 }
	st, err := cat.CreateDataStore(catalog.DataStore{Name: "audit", Account: owner, HomeRegion: "us-east-1", Status: catalog.StatusEnabled,
		AdvancedEventSelectors: []selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{{Field: "eventCategory", Equals: []string{"ActivityAuditLog"}}}}}}, head)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := cat.CreateChannel(catalog.Channel{Name: "app", Account: owner, HomeRegion: "us-east-1", Source: catalog.SourceCustom}, []string{st.ARN()}, head)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ids: ids, cat: cat, log: &memLog{}, channel: ch, now: t0}
	o := auditapi.Options{Auth: identity.NewAuthenticator(ids, sigv4.DefaultOptions()), Channels: cat, Events: e.log, Now: func() time.Time { return e.now }}
	if mod != nil {
		mod(&o)
	}
	h, err := auditapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends PutAuditEvents as account's root key, signed for service
// in region, with these query parameters.
func (e *env) call(t *testing.T, account, region, service string, query url.Values, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/PutAuditEvents?"+query.Encode(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if account != "" {
		k, err := e.ids.RootKey(account)
		if err != nil {
			t.Fatal(err)
		}
		if err := sdktest.Sign(req, []byte(body), k.AccessKeyID, k.SecretAccessKey, service, region); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) put(t *testing.T, account string, query url.Values, body string) response {
	t.Helper()
	return e.call(t, account, "us-east-1", auditapi.SigningName, query, body)
}

func arnQuery(arn string) url.Values { return url.Values{"channelArn": {arn}} }

// eventData is a valid eventData for the owner, changed by mod.
func eventData(mod func(m map[string]any)) string {
	m := map[string]any{
		"version":            "1.0",
		"UID":                "req-42",
		"userIdentity":       map[string]any{"type": "CustomUserIdentity", "principalId": "alice", "details": map[string]any{"team": "ops"}},
		"eventTime":          "2021-10-27T12:13:14Z",
		"eventName":          "Login",
		"eventSource":        "myapp.example.com",
		"userAgent":          "myapp/2.1",
		"requestParameters":  map[string]any{"k": "v"},
		"sourceIPAddress":    "198.51.100.7",
		"recipientAccountId": owner,
	}
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

type auditEvent struct {
	ID                string  `json:"id"`
	EventData         string  `json:"eventData"`
	EventDataChecksum *string `json:"eventDataChecksum,omitempty"`
}

func body(evs ...auditEvent) string {
	b, _ := json.Marshal(map[string]any{"auditEvents": evs})
	return string(b)
}

func checksum(s string) *string {
	sum := sha256.Sum256([]byte(s))
	c := base64.StdEncoding.EncodeToString(sum[:])
	return &c
}

func decode(t *testing.T, r response) auditapi.Output {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out auditapi.Output
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantError checks a rest-json error: status, X-Amzn-ErrorType, and a
// message containing msg.
func wantError(t *testing.T, r response, status int, code, msg string) {
	t.Helper()
	var b struct{ Message string }
	_ = json.Unmarshal(r.body, &b)
	if r.status != status || r.header.Get("X-Amzn-ErrorType") != code || !strings.Contains(b.Message, msg) {
		t.Errorf("got %d %s %s, want %d %s with %q", r.status, r.header.Get("X-Amzn-ErrorType"), r.body, status, code, msg)
	}
}

func TestPutAuditEvents(t *testing.T) {
	e := newEnv(t, nil)
	good := eventData(nil)
	spaced := "{\n  \"version\": \"1.0\", \"UID\": \"u2\", \"userIdentity\": {\"type\": \"T\", \"principalId\": \"p\"},\n" +
		"  \"eventTime\": \"2021-10-27T12:13:14.250\", \"eventName\": \"N\", \"eventSource\": \"S\", \"recipientAccountId\": \"" + owner + "\"}"
	out := decode(t, e.put(t, owner, arnQuery(e.channel.ARN()), body(
		auditEvent{ID: "1", EventData: good, EventDataChecksum: checksum(good)},
		auditEvent{ID: "2", EventData: good, EventDataChecksum: checksum(good + " ")},
		auditEvent{ID: "3", EventData: eventData(func(m map[string]any) { delete(m, "UID") })},
		auditEvent{ID: "4-b_c", EventData: spaced},
	)))
	if len(out.Successful) != 2 || out.Successful[0].ID != "1" || out.Successful[1].ID != "4-b_c" ||
		!uuidV4.MatchString(out.Successful[0].EventID) || out.Successful[0].EventID == out.Successful[1].EventID {
		t.Errorf("successful = %+v", out.Successful)
	}
	want := []auditapi.Failure{
		{ID: "2", ErrorCode: "InvalidChecksum"},
		{ID: "3", ErrorCode: "FieldNotFound"},
	}
	if diff := cmp.Diff(want, out.Failed, cmp.Comparer(func(a, b auditapi.Failure) bool { return a.ID == b.ID && a.ErrorCode == b.ErrorCode })); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if !strings.Contains(out.Failed[1].ErrorMessage, "UID") {
		t.Errorf("FieldNotFound message %q does not name UID", out.Failed[1].ErrorMessage)
	}
	// One Append, the two accepted events, as the records of lake.md §7.5.
	if e.log.appends != 1 || len(e.log.evs) != 2 {
		t.Fatalf("%d appends of %d events", e.log.appends, len(e.log.evs))
	}
	for i, in := range []string{good, spaced} {
		var compact bytes.Buffer
		_ = json.Compact(&compact, []byte(in))
		wantRec := auditapi.Record(auditapi.RecordFields{EventID: out.Successful[i].EventID, EventTime: time.Date(2021, 10, 27, 12, 13, 14, 0, time.UTC),
			Region: "us-east-1", Account: owner, IngestionTime: t0, ChannelARN: e.channel.ARN()}, []byte(compact.String()))
		if got := e.log.evs[i].Raw; string(got) != string(wantRec) {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, wantRec)
		}
		if e.log.evs[i].EventID != out.Successful[i].EventID {
			t.Errorf("event %d has id %s", i, e.log.evs[i].EventID)
		}
	}
	st := e.cat.ChannelIngestion(e.channel.ARN())
	wantSt := catalog.Ingestion{LatestIngestionSuccessTime: t0, LatestIngestionSuccessEventID: out.Successful[1].EventID,
		LatestIngestionErrorCode: "InvalidChecksum", LatestIngestionAttemptTime: t0, LatestIngestionAttemptEventID: out.Successful[1].EventID}
	if diff := cmp.Diff(wantSt, st); diff != "" {
		t.Errorf("ingestion status (-want +got):\n%s", diff)
	}
	// By the channel's id too; a call whose events all fail still
	// answers 200 with both lists.
	e.now = t0.Add(time.Minute)
	r := e.put(t, owner, url.Values{"channelArn": {e.channel.ID}}, body(auditEvent{ID: "x", EventData: "not json"}))
	if string(r.body) != `{"successful":[],"failed":[{"id":"x","errorCode":"InvalidData","errorMessage":"eventData is not valid JSON: it must be a JSON object, as a string."}]}` {
		t.Errorf("all failed: %d %s", r.status, r.body)
	}
	if st := e.cat.ChannelIngestion(e.channel.ARN()); st.LatestIngestionAttemptEventID != "" || !st.LatestIngestionAttemptTime.Equal(t0.Add(time.Minute)) ||
		st.LatestIngestionSuccessEventID != out.Successful[1].EventID || st.LatestIngestionErrorCode != "InvalidData" {
		t.Errorf("after a failed call: %+v", st)
	}
	if e.log.appends != 1 {
		t.Errorf("a call with nothing to store appended")
	}
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, nil)
	arn := e.channel.ARN()
	one := body(auditEvent{ID: "1", EventData: eventData(nil)})
	many := make([]auditEvent, 101)
	for i := range many {
		many[i] = auditEvent{ID: fmt.Sprint(i), EventData: "{}"}
	}
	for _, tt := range []struct {
		name        string
		account     string
		region, svc string
		query       url.Values
		body        string
		status      int
		code, msg   string
	}{
		{"unsigned", "", "us-east-1", "cloudtrail-data", arnQuery(arn), one, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"signed for cloudtrail", owner, "us-east-1", "cloudtrail", arnQuery(arn), one, 400, "InvalidSignatureException", "scoped to correct service: 'cloudtrail-data'"},
		{"no channelArn", owner, "us-east-1", "cloudtrail-data", url.Values{}, one, 400, "InvalidChannelARN", "channelArn is required"},
		{"malformed channelArn", owner, "us-east-1", "cloudtrail-data", arnQuery("arn:aws:cloudtrail:us-east-1:" + owner + ":trail/x"), one, 400, "InvalidChannelARN", "not a valid channel ARN"},
		{"unknown channel", owner, "us-east-1", "cloudtrail-data", arnQuery(arn + "0"), one, 400, "ChannelNotFound", "does not exist"},
		{"another region", owner, "eu-west-1", "cloudtrail-data", arnQuery(strings.Replace(arn, "us-east-1", "eu-west-1", 1)), one, 400, "ChannelNotFound", "does not exist"},
		{"signed for another region", owner, "eu-west-1", "cloudtrail-data", arnQuery(arn), one, 400, "ChannelNotFound", "sign the request for that region"},
		{"another account's id", other, "us-east-1", "cloudtrail-data", url.Values{"channelArn": {e.channel.ID}}, one, 400, "ChannelNotFound", "does not exist"},
		{"bad externalId", owner, "us-east-1", "cloudtrail-data", url.Values{"channelArn": {arn}, "externalId": {"x"}}, one, 400, "ValidationException", "externalId"},
		{"not JSON", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), "{", 400, "SerializationException", ""},
		{"no events", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), `{"auditEvents":[]}`, 400, "ValidationException", "1 to 100"},
		{"101 events", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), body(many...), 400, "ValidationException", "101 events"},
		{"bad id", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), body(auditEvent{ID: "a b", EventData: "{}"}), 400, "ValidationException", "auditEvents[0].id"},
		{"long id", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), body(auditEvent{ID: strings.Repeat("a", 129), EventData: "{}"}), 400, "ValidationException", "1 to 128"},
		{"no eventData", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), `{"auditEvents":[{"id":"1"}]}`, 400, "ValidationException", "eventData is required"},
		{"duplicate ids", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), body(auditEvent{ID: "1", EventData: "{}"}, auditEvent{ID: "2", EventData: "{}"}, auditEvent{ID: "1", EventData: eventData(nil)}),
			400, "DuplicatedAuditEventId", `"1"`},
		{"too large", owner, "us-east-1", "cloudtrail-data", arnQuery(arn), body(auditEvent{ID: "1", EventData: strings.Repeat(" ", 1<<20)}), 413, "RequestEntityTooLargeException", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.call(t, tt.account, tt.region, tt.svc, tt.query, tt.body), tt.status, tt.code, tt.msg)
		})
	}
	if len(e.log.evs) != 0 {
		t.Errorf("%d events stored by refused requests", len(e.log.evs))
	}
	// Not the operation's path or method.
	resp, err := e.srv.Client().Get(e.srv.URL + "/PutAuditEvents")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("X-Amzn-ErrorType") != "MethodNotAllowedException" {
		t.Errorf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = e.srv.Client().Post(e.srv.URL+"/Other", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("POST /Other: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestCrossAccount: another account needs the channel's resource policy,
// and the external id the policy requires; its events are the owner's.
func TestCrossAccount(t *testing.T) {
	e := newEnv(t, nil)
	arn := e.channel.ARN()
	ev := body(auditEvent{ID: "1", EventData: eventData(nil)})
	wantError(t, e.put(t, other, arnQuery(arn), ev), 400, "ChannelInsufficientPermission", "only the channel owner's account ("+owner+")")

	setPolicy := func(p string) {
		t.Helper()
		if _, err := e.cat.UpdateChannel(e.channel.ID, func() uint64 { return 0 }, func(ch *catalog.Channel, _ *[]string) error { ch.ResourcePolicy = p; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	stmt := `{"Effect":"Allow","Principal":{"AWS":"` + other + `"},"Action":"cloudtrail-data:PutAuditEvents","Resource":"` + arn + `"`
	setPolicy(`{"Version":"2012-10-17","Statement":[` + stmt + `,"Condition":{"StringEquals":{"cloudtrail:ExternalId":"ext-123"}}}]}`)
	wantError(t, e.put(t, other, arnQuery(arn), ev), 400, "ChannelInsufficientPermission", "give it as externalId")
	wantError(t, e.put(t, other, url.Values{"channelArn": {arn}, "externalId": {"ext-999"}}, ev), 400, "ChannelInsufficientPermission", "external ID")
	out := decode(t, e.put(t, other, url.Values{"channelArn": {arn}, "externalId": {"ext-123"}}, ev))
	if len(out.Successful) != 1 {
		t.Fatalf("with the external id: %+v", out)
	}
	// The recipient must be the owner, not the caller.
	out = decode(t, e.put(t, other, url.Values{"channelArn": {arn}, "externalId": {"ext-123"}},
		body(auditEvent{ID: "1", EventData: eventData(func(m map[string]any) { m["recipientAccountId"] = other })})))
	if len(out.Failed) != 1 || out.Failed[0].ErrorCode != "InvalidRecipient" || !strings.Contains(out.Failed[0].ErrorMessage, owner) {
		t.Errorf("recipient other: %+v", out)
	}
	// A policy without a condition; the owner never needs one.
	setPolicy(`{"Version":"2012-10-17","Statement":[` + stmt + `}]}`)
	decode(t, e.put(t, other, arnQuery(arn), ev))
	decode(t, e.put(t, owner, url.Values{"channelArn": {arn}, "externalId": {"whatever"}}, ev))
	// Without the policy, the other account is refused again.
	setPolicy("")
	wantError(t, e.put(t, other, arnQuery(arn), ev), 400, "ChannelInsufficientPermission", "only the channel owner's account")
	for _, ev := range e.log.evs {
		if ev.Account != owner || !strings.Contains(string(ev.Raw), `"recipientAccountId":"`+owner+`"`) {
			t.Errorf("stored for %s: %s", ev.Account, ev.Raw)
		}
	}
}

// TestThrottling: a log applying back-pressure, and the channel's rate
// limit, refuse the whole request with ThrottlingException, storing
// nothing.
func TestThrottling(t *testing.T) {
	e := newEnv(t, func(o *auditapi.Options) { o.RateLimit = 150 })
	arn := e.channel.ARN()
	hundred := make([]auditEvent, 100)
	for i := range hundred {
		hundred[i] = auditEvent{ID: fmt.Sprint(i), EventData: eventData(nil)}
	}
	decode(t, e.put(t, owner, arnQuery(arn), body(hundred...)))
	wantError(t, e.put(t, owner, arnQuery(arn), body(hundred...)), 400, "ThrottlingException", "at most 150 events per second")
	e.now = e.now.Add(time.Second)
	decode(t, e.put(t, owner, arnQuery(arn), body(hundred...)))

	e.log.err = fmt.Errorf("append: %w", store.ErrBackpressure)
	e.now = e.now.Add(time.Hour)
	wantError(t, e.put(t, owner, arnQuery(arn), body(hundred[:1]...)), 400, "ThrottlingException", "retry shortly")
	if st := e.cat.ChannelIngestion(arn); st.LatestIngestionErrorCode != "ThrottlingException" || st.LatestIngestionAttemptEventID != "" {
		t.Errorf("status after back-pressure: %+v", st)
	}
	e.log.err = fmt.Errorf("append: %w", store.ErrUnavailable)
	wantError(t, e.put(t, owner, arnQuery(arn), body(hundred[:1]...)), 503, "ServiceUnavailable", "")
	if len(e.log.evs) != 200 {
		t.Errorf("%d events stored, want 200", len(e.log.evs))
	}
}

// TestDurableBeforeResponse: the response is written only after Append
// has returned.
func TestDurableBeforeResponse(t *testing.T) {
	e := newEnv(t, nil)
	e.log.gate, e.log.entered = make(chan struct{}), make(chan struct{}, 1)
	done := make(chan response, 1)
	go func() {
		done <- e.put(t, owner, arnQuery(e.channel.ARN()), body(auditEvent{ID: "1", EventData: eventData(nil)}))
	}()
	<-e.log.entered
	select {
	case r := <-done:
		t.Fatalf("answered while Append was running: %d %s", r.status, r.body)
	default:
	}
	close(e.log.gate)
	if out := decode(t, <-done); len(out.Successful) != 1 || len(e.log.evs) != 1 {
		t.Errorf("after Append: %+v, %d stored", out, len(e.log.evs))
	}
}
