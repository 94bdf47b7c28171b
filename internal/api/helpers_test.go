package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/sdktest"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// Test principals, keyed by access key id.
const (
	acct1 = "111111111111"
	acct2 = "222222222222"
)

var testPrincipals = map[string]identity.Principal{
	"AKIDROOT":  {AccountID: acct1, Type: identity.TypeRoot, AccessKeyID: "AKIDROOT"},
	"AKIDALICE": {AccountID: acct1, Type: identity.TypeIAMUser, UserName: "alice", AccessKeyID: "AKIDALICE"},
	"AKIDOTHER": {AccountID: acct2, Type: identity.TypeRoot, AccessKeyID: "AKIDOTHER"},
}

// fakeAuth trusts any SigV4 Authorization header and returns the caller
// its credential scope names. A few access keys simulate failures.
type fakeAuth struct{}

var _ Authenticator = fakeAuth{}

func (fakeAuth) Authenticate(r *http.Request, body []byte) (identity.Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return identity.Caller{}, fmt.Errorf("authenticate: %w", sigv4.ErrMissingAuth)
	}
	_, rest, ok := strings.Cut(h, "Credential=")
	if !ok {
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrIncomplete, Message: "Authorization header requires 'Credential' parameter."}
	}
	cred, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrIncomplete, Message: "Credential is malformed."}
	}
	switch parts[0] {
	case "AKIDBADSIG":
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrSignatureMismatch, Message: "The request signature we calculated does not match the signature you provided."}
	case "AKIDEXPIRED":
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrExpired, Message: "Signature expired: 20240101T000000Z is now earlier than 20240301T114500Z (20240301T120000Z - 15 min.)"}
	}
	p, ok := testPrincipals[parts[0]]
	if !ok {
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrUnknownKey, Message: "The security token included in the request is invalid."}
	}
	return identity.Caller{Principal: p, Region: parts[2], Service: parts[3]}, nil
}

// memStore is an in-memory EventStore: Lookup filters by partition,
// attribute and time, newest first (ties by eventID descending), with a
// "time/eventID" cursor.
type memStore struct {
	mu        sync.Mutex
	events    []event.Event
	queries   []history.Query
	appendErr error // returned by Append when set
	badCursor bool  // Lookup refuses every cursor
}

var _ EventStore = (*memStore)(nil)

func (m *memStore) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.appendErr != nil {
		return store.AppendResult{}, m.appendErr
	}
	m.events = append(m.events, evs...)
	return store.AppendResult{Appended: len(evs), LastSeq: uint64(len(m.events))}, nil
}

func (m *memStore) Lookup(_ context.Context, q history.Query) (history.Page, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queries = append(m.queries, q)
	var after *event.Event
	if q.Cursor != nil {
		sec, id, ok := strings.Cut(string(q.Cursor), "/")
		n, err := strconv.ParseInt(sec, 10, 64)
		if m.badCursor || !ok || err != nil {
			return history.Page{}, fmt.Errorf("lookup: %w", history.ErrBadCursor)
		}
		after = &event.Event{Summary: event.Summary{EventTime: time.Unix(n, 0), EventID: id}}
	}
	var match []event.Event
	for _, ev := range m.events {
		if ev.Account != q.Account || ev.Region != q.Region || ev.Insight() != q.Insight || !ev.InEventHistory() {
			continue
		}
		if !q.Start.IsZero() && ev.EventTime.Before(q.Start) || !q.End.IsZero() && ev.EventTime.After(q.End) {
			continue
		}
		if !attrMatch(ev.Summary, q.Key, q.Value) {
			continue
		}
		if after != nil && newerFirst(ev, *after) <= 0 {
			continue
		}
		match = append(match, ev)
	}
	slices.SortFunc(match, newerFirst)
	var page history.Page
	if len(match) > q.Limit {
		match = match[:q.Limit]
		last := match[len(match)-1]
		page.Next = fmt.Appendf(nil, "%d/%s", last.EventTime.Unix(), last.EventID)
	}
	page.Events = match
	return page, nil
}

func newerFirst(a, b event.Event) int {
	if c := b.EventTime.Compare(a.EventTime); c != 0 {
		return c
	}
	return strings.Compare(b.EventID, a.EventID)
}

func attrMatch(s event.Summary, k history.AttrKey, v string) bool {
	switch k {
	case history.AttrNone:
		return true
	case history.AttrEventID:
		return s.EventID == v
	case history.AttrEventName:
		return s.EventName == v
	case history.AttrReadOnly:
		return s.ReadOnly != nil && strconv.FormatBool(*s.ReadOnly) == v
	case history.AttrUsername:
		return s.Username == v
	case history.AttrResourceType, history.AttrResourceName:
		for _, r := range s.Resources {
			if k == history.AttrResourceType && r.ResourceType == v || k == history.AttrResourceName && r.ResourceName == v {
				return true
			}
		}
		return false
	case history.AttrEventSource:
		return s.EventSource == v
	case history.AttrAccessKeyID:
		return s.AccessKeyID == v
	}
	return false
}

// recorded returns the stored events OpenTrail recorded about its own API.
func (m *memStore) recorded(t *testing.T) []event.Record {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []event.Record
	for _, ev := range m.events {
		if ev.EventSource != eventSource {
			continue
		}
		var r event.Record
		if err := json.Unmarshal(ev.Raw, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// recordFor returns the single recorded event with the given requestID.
func (m *memStore) recordFor(t *testing.T, requestID string) event.Record {
	t.Helper()
	var found []event.Record
	for _, r := range m.recorded(t) {
		if r.RequestID == requestID {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d recorded events with requestID %q, want 1", len(found), requestID)
	}
	return found[0]
}

func (m *memStore) lastQuery(t *testing.T) history.Query {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queries) == 0 {
		t.Fatal("the store was not queried")
	}
	return m.queries[len(m.queries)-1]
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testNow = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

var testTokenKey = bytes.Repeat([]byte{7}, 32)

// env is one handler behind an httptest server.
type env struct {
	h     *Handler
	srv   *httptest.Server
	store *memStore
	clock *fakeClock
}

func newTestHandler(t testing.TB, mutate func(*Options)) *Handler {
	t.Helper()
	opts := DefaultOptions()
	opts.Auth = fakeAuth{}
	opts.Events = &memStore{}
	opts.TokenKey = testTokenKey
	opts.Logger = nil
	if mutate != nil {
		mutate(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	e := &env{store: &memStore{}, clock: &fakeClock{t: testNow}}
	e.h = newTestHandler(t, func(o *Options) {
		o.Events = e.store
		o.Now = e.clock.Now
		if mutate != nil {
			mutate(o)
		}
	})
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

func staticCreds(key, secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, "")
}

// client returns an SDK client signing with the given key and region.
func (e *env) client(key, region string) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(aws.Config{
		Region:           region,
		Credentials:      staticCreds(key, "secret"),
		RetryMaxAttempts: 1,
		HTTPClient:       sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport()),
	}, func(o *cloudtrail.Options) {
		o.BaseEndpoint = aws.String(e.srv.URL)
	})
}

// rawResponse is a response to a hand-built request.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// raw sends a hand-built request, signed with the SDK's signer for key
// (unsigned when key is ""), region and service.
func (e *env) raw(t *testing.T, method, target, body, key, region, service string, hdr map[string]string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if key != "" {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: "secret"}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
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
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// post sends a signed cloudtrail request as AKIDALICE in us-east-1.
func (e *env) post(t *testing.T, target, body string) rawResponse {
	t.Helper()
	return e.raw(t, http.MethodPost, target, body, "AKIDALICE", "us-east-1", "cloudtrail", nil)
}

// seed stores a management event made by IAM user bob.
func (e *env) seed(t *testing.T, account, region, name string, at time.Time, mod func(*event.Record)) event.Event {
	t.Helper()
	ro, mgmt := strings.HasPrefix(name, "Describe"), true
	key := "AKIDBOB"
	rec := event.Record{
		EventVersion: event.Version,
		UserIdentity: &event.UserIdentity{
			Type: "IAMUser", PrincipalID: "AIDABOB", ARN: "arn:aws:iam::" + account + ":user/bob",
			AccountID: account, AccessKeyID: &key, UserName: "bob",
		},
		EventTime:          event.FormatTime(at),
		EventSource:        "ec2.amazonaws.com",
		EventName:          name,
		AWSRegion:          region,
		SourceIPAddress:    "192.0.2.1",
		RequestParameters:  json.RawMessage("null"),
		ResponseElements:   json.RawMessage("null"),
		RequestID:          audit.NewUUID(),
		EventID:            audit.NewUUID(),
		ReadOnly:           &ro,
		EventType:          event.TypeAPICall,
		ManagementEvent:    &mgmt,
		RecipientAccountID: account,
		EventCategory:      event.CategoryMgmt,
	}
	if mod != nil {
		mod(&rec)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(context.Background(), []event.Event{ev}, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// wireErr decodes an error envelope.
func wireErr(t *testing.T, r rawResponse) (code, message string) {
	t.Helper()
	var b struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("error body %q: %v", r.Body, err)
	}
	if h := r.Header.Get("X-Amzn-ErrorType"); h != b.Type {
		t.Errorf("X-Amzn-ErrorType = %q, __type = %q", h, b.Type)
	}
	return b.Type, b.Message
}

var errDiskOnFire = errors.New("disk on fire")
