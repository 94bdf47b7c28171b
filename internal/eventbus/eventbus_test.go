package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
)

var discard = slog.New(slog.DiscardHandler)

func testDelivery(id string) *delivery {
	return &delivery{ID: id, Rule: "arn:aws:events:us-east-1:111122223333:rule/r", Target: "t", ARN: "arn:aws:sns:us-east-1:111122223333:x",
		Input: `{"a":1}`, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestOutboxReplaysPendingAndCutsATornLine(t *testing.T) {
	dir := t.TempDir()
	o, err := openOutbox(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.add([]*delivery{testDelivery("1"), testDelivery("2"), testDelivery("3")}); err != nil {
		t.Fatal(err)
	}
	// A duplicate id (a rematch after a crash) is not added again.
	if added, err := o.add([]*delivery{testDelivery("2")}); err != nil || len(added) != 0 {
		t.Fatalf("re-add = %v, %v", added, err)
	}
	o.finish("2")
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, OutboxFile)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"op":"add","id":"4","ru`) // torn by a crash
	f.Close()

	o, err = openOutbox(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range o.pendingList() {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]string{"1", "3"}, ids); diff != "" {
		t.Errorf("pending after reopen (-want +got):\n%s", diff)
	}
	if got := o.pendingList()[0]; !cmp.Equal(got, testDelivery("1")) {
		t.Errorf("replayed delivery = %+v", got)
	}
	// The torn line is gone and appends go on after the last whole line.
	if _, err := o.add([]*delivery{testDelivery("5")}); err != nil {
		t.Fatal(err)
	}
	o.close()
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), `"ru`+"\n") || !strings.HasSuffix(string(b), "\n") {
		t.Errorf("outbox after the cut:\n%s", b)
	}
	os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":1,"checkpoint":0}`), 0o644)
	os.WriteFile(filepath.Join(dir, CatalogFile), []byte(`{"version":1}`), 0o644)
	if r := Check(dir); r.Pending != 3 || len(r.Problems) != 0 {
		t.Errorf("Check = %+v", r)
	}
}

func TestOutboxRefusesADamagedLine(t *testing.T) {
	dir := t.TempDir()
	o, _ := openOutbox(dir, discard)
	o.add([]*delivery{testDelivery("1"), testDelivery("2")})
	o.close()
	path := filepath.Join(dir, OutboxFile)
	b, _ := os.ReadFile(path)
	b[3] ^= 0xff
	os.WriteFile(path, b, 0o600)
	_, err := openOutbox(dir, discard)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("open of a damaged outbox = %v; want a refusal naming line 1", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(b) {
		t.Error("the refusal changed the file")
	}
	os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":1,"checkpoint":0}`), 0o644)
	os.WriteFile(filepath.Join(dir, CatalogFile), []byte(`{"version":1}`), 0o644)
	if r := Check(dir); len(r.Problems) != 1 {
		t.Errorf("Check problems = %v", r.Problems)
	}
}

func TestALostFileIsRefused(t *testing.T) {
	for _, lost := range []string{CatalogFile, StateFile, OutboxFile} {
		dir := t.TempDir()
		o := DefaultOptions()
		o.Logger = discard
		e, err := Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		e.Init(7)
		e.out.add([]*delivery{testDelivery("1")})
		e.Close()
		os.Remove(filepath.Join(dir, lost))
		if _, err := Open(dir, o); err == nil || !strings.Contains(err.Error(), lost) {
			t.Errorf("open without %s = %v", lost, err)
		}
		if r := Check(dir); len(r.Problems) == 0 {
			t.Errorf("Check without %s found nothing", lost)
		}
	}
}

func TestOutboxCompacts(t *testing.T) {
	dir := t.TempDir()
	o, _ := openOutbox(dir, discard)
	var ds []*delivery
	for i := range compactMin + 10 {
		ds = append(ds, testDelivery(string(rune('a'+i%26))+strings.Repeat("x", i/26)))
	}
	if _, err := o.add(ds); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds[:compactMin+5] {
		o.finish(d.ID)
	}
	o.close()
	b, _ := os.ReadFile(filepath.Join(dir, OutboxFile))
	if n := strings.Count(string(b), "\n"); n > 15 {
		t.Errorf("outbox has %d lines after most deliveries finished; want a rewrite", n)
	}
	o, _ = openOutbox(dir, discard)
	if n := len(o.pendingList()); n != 5 {
		t.Errorf("%d pending after compaction, want 5", n)
	}
	o.close()
}

func TestEnvelope(t *testing.T) {
	raw := `{"eventVersion":"1.08","eventTime":"2026-03-04T05:06:07Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}`
	ro := false
	ev := &event.Event{Raw: []byte(raw), Summary: event.Summary{EventID: "e1", EventTime: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		EventSource: "iam.amazonaws.com", EventName: "CreateUser", Account: "111122223333", Region: "us-east-1",
		Category: event.CategoryMgmt, EventType: "AwsApiCall", ReadOnly: &ro}}
	b, ok := Envelope(ev)
	if !ok {
		t.Fatal("not on the bus")
	}
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("envelope is not JSON: %v\n%s", err, b)
	}
	want := map[string]any{"version": "0", "id": env["id"], "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
		"account": "111122223333", "time": "2026-03-04T05:06:07Z", "region": "us-east-1", "resources": []any{},
		"detail": map[string]any{"eventVersion": "1.08", "eventTime": "2026-03-04T05:06:07Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	// The id is the same every time the event is matched (a replay after
	// a crash sends the same id).
	b2, _ := Envelope(ev)
	if string(b) != string(b2) {
		t.Error("envelope differs between two calls")
	}
	for typ, want := range map[string]string{"AwsConsoleSignIn": "AWS Console Sign In via CloudTrail", "AwsServiceEvent": "AWS Service Event via CloudTrail",
		"AwsConsoleAction": "AWS Console Action via CloudTrail", "AwsCloudTrailInsight": ""} {
		s := event.Summary{EventType: typ, Category: event.CategoryMgmt}
		if got := DetailType(&s); got != want {
			t.Errorf("DetailType(%s) = %q, want %q", typ, got, want)
		}
	}
	if got := DetailType(&event.Summary{Category: event.CategoryInsight}); got != "AWS Insight via CloudTrail" {
		t.Errorf("Insight detail-type = %q", got)
	}
	for _, typ := range []string{event.TypeActivityLog, "AwsApiCall"} {
		if got := DetailType(&event.Summary{Category: event.CategoryActivityAuditLog, EventType: typ}); got != "" {
			t.Errorf("an event from outside AWS (eventType %s) has detail-type %q, want none", typ, got)
		}
	}
	big := *ev
	big.Raw = []byte(`{"x":"` + strings.Repeat("a", MaxEventBytes) + `"}`)
	if _, ok := Envelope(&big); ok {
		t.Error("an event over 256 KB went on the bus")
	}
}

func TestDestinationURL(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		vals     []string
		want     string
		err      bool
	}{
		{"https://h/a", nil, "https://h/a", false},
		{"https://h/*/b/*", []string{"x y", "z"}, "https://h/x%20y/b/z", false},
		{"https://h/*", nil, "", true},
	} {
		got, err := destinationURL(tt.endpoint, &HTTPParameters{PathParameterValues: tt.vals})
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("destinationURL(%s, %v) = %q, %v", tt.endpoint, tt.vals, got, err)
		}
	}
}

// TestOAuthConnection checks the client-credentials flow: the token
// request, the Bearer header, the cache, and a new token after a 401.
func TestOAuthConnection(t *testing.T) {
	var mu sync.Mutex
	tokens, calls := 0, 0
	var tokenReq *http.Request
	var tokenBody string
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		tokens++
		n := tokens
		tokenReq, tokenBody = r, string(b)
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"access_token": "tok" + string(rune('0'+n)), "expires_in": 3600})
	}))
	defer auth.Close()
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		seen = append(seen, r.Header.Get("Authorization"))
		if calls == 2 {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer api.Close()

	o := DefaultOptions()
	o.Logger = discard
	o.RetryBase, o.RetryMax = time.Millisecond, 2*time.Millisecond
	e, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := Scope{"111122223333", "us-east-1"}
	conn, err := e.CreateConnection(s, Connection{Name: "c", AuthorizationType: AuthOAuth, Auth: AuthParams{OAuth: &OAuth{
		ClientParameters: &OAuthClient{ClientID: "id", ClientSecret: "secret"}, AuthorizationEndpoint: auth.URL + "/token", HTTPMethod: "POST",
		OAuthHTTPParameters: &ConnHTTPParams{BodyParameters: []ConnParam{{Key: "scope", Value: "events"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.CreateAPIDestination(s, APIDestination{Name: "d", ConnectionARN: conn.ARN(), Endpoint: api.URL, Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	st := sendTarget{account: s.Account, region: s.Region, target: Target{ID: "t", ARN: d.ARN()}, dest: &d, conn: &conn}
	for i := range 3 {
		err := e.invoke(t.Context(), st, testDelivery("x"))
		if (err != nil) != (i == 1) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"Bearer tok1", "Bearer tok1", "Bearer tok2"}, seen); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
	if u, p, ok := tokenReq.BasicAuth(); !ok || u != "id" || p != "secret" {
		t.Errorf("token request credentials = %q %q %v", u, p, ok)
	}
	if !strings.Contains(tokenBody, "grant_type=client_credentials") || !strings.Contains(tokenBody, "scope=events") {
		t.Errorf("token request body = %q", tokenBody)
	}
}

func TestCatalogueSurvivesReopenAndRefusesADamagedFile(t *testing.T) {
	dir := t.TempDir()
	o := DefaultOptions()
	o.Logger = discard
	e, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Init(0); err != nil {
		t.Fatal(err)
	}
	s := Scope{"111122223333", "us-east-1"}
	if _, err := e.PutRule(s, PutRuleInput{Name: "r", EventPattern: `{"source":["aws.iam"]}`}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if e, err = Open(dir, o); err != nil {
		t.Fatal(err)
	}
	if r, err := e.Rule(s, "", "r"); err != nil || r.EventPattern != `{"source":["aws.iam"]}` {
		t.Fatalf("rule after reopen = %+v, %v", r, err)
	}
	e.Close()
	os.WriteFile(filepath.Join(dir, CatalogFile), []byte(`{"version":1,"rules":[`), 0o600)
	if _, err := Open(dir, o); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("open with a damaged catalogue = %v", err)
	}
	var be *Error
	e2, _ := Open(t.TempDir(), o)
	defer e2.Close()
	if _, err := e2.Rule(s, "custom-bus", "r"); !errors.As(err, &be) || !errors.Is(err, ErrNotFound) {
		t.Errorf("a custom bus = %v", err)
	}
}

// FuzzOutbox: any outbox file is replayed or refused, never a panic, and
// a replayed one reopens to the same pending set.
func FuzzOutbox(f *testing.F) {
	f.Add([]byte(`{"op":"add","id":"1","rule":"r","target":"t","arn":"a","input":"{}","time":"2026-01-01T00:00:00Z"}` + "\n" + `{"op":"done","id":"1"}` + "\n"))
	f.Add([]byte(`{"op":"add","id":"1"}` + "\n" + `{"op":"x"`))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, OutboxFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		o, err := openOutbox(dir, discard)
		if err != nil {
			return
		}
		n := len(o.pendingList())
		o.close()
		o, err = openOutbox(dir, discard)
		if err != nil {
			t.Fatalf("reopen of a replayed outbox: %v", err)
		}
		if m := len(o.pendingList()); m != n {
			t.Fatalf("pending %d, then %d after reopen", n, m)
		}
		o.close()
	})
}

func TestWildcardQuota(t *testing.T) {
	o := DefaultOptions()
	o.Logger = discard
	e, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := Scope{"111122223333", "us-east-1"}
	for i := range MaxWildcardRules {
		if _, err := e.PutRule(s, PutRuleInput{Name: fmt.Sprint("w", i), EventPattern: `{"detail":{"eventName":[{"wildcard":"Put*"}]}}`}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.PutRule(s, PutRuleInput{Name: "one-more", EventPattern: `{"detail":{"eventName":[{"wildcard":"Put*"}]}}`}); !errors.Is(err, ErrLimit) {
		t.Errorf("a 31st wildcard rule: %v", err)
	}
	// Replacing one of the 30, and rules without wildcard, are fine.
	if _, err := e.PutRule(s, PutRuleInput{Name: "w0", EventPattern: `{"detail":{"eventName":[{"wildcard":"Del*"}]}}`}); err != nil {
		t.Errorf("replacing a wildcard rule: %v", err)
	}
	if _, err := e.PutRule(s, PutRuleInput{Name: "plain", EventPattern: `{"source":["aws.iam"]}`}); err != nil {
		t.Errorf("a plain rule: %v", err)
	}
}
