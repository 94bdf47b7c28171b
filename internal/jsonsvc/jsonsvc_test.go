package jsonsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

type fakeAuth struct {
	service string
	err     error
}

func (a fakeAuth) Authenticate(*http.Request, []byte) (identity.Caller, error) {
	if a.err != nil {
		return identity.Caller{}, a.err
	}
	return identity.Caller{Region: "us-east-1", Service: a.service,
		Principal: identity.Principal{AccountID: "111122223333", Type: identity.TypeRoot}}, nil
}

type fakeLog struct {
	evs []event.Event
	err error
}

func (l *fakeLog) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	if l.err != nil {
		return store.AppendResult{}, l.err
	}
	l.evs = append(l.evs, evs...)
	return store.AppendResult{}, nil
}

var errDomain = errors.New("domain: no such thing")

func handler(t *testing.T, auth fakeAuth, log *fakeLog) *Handler {
	t.Helper()
	type in struct{ Name string }
	h, err := New(Options{TargetPrefix: "Svc_1", SigningName: "svc", EventSource: "svc.amazonaws.com", Auth: auth, Events: log,
		Errors: func(err error) (*WireError, bool) {
			if errors.Is(err, errDomain) {
				return &WireError{Code: "ResourceNotFoundException", Message: err.Error()}, true
			}
			return nil, false
		},
		Ops: map[string]Op{
			"Echo": {Invoke: Typed(func(_ context.Context, _ identity.Caller, in *in) (*in, error) { return in, nil })},
			"Find": {ReadOnly: true, Invoke: Typed(func(_ context.Context, _ identity.Caller, in *in) (*struct{}, error) {
				return nil, fmt.Errorf("find %s: %w", in.Name, errDomain)
			})},
			"Crash": {Invoke: Typed(func(_ context.Context, _ identity.Caller, _ *in) (*struct{}, error) { return nil, errors.New("boom") })},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func call(h http.Handler, method, target, body string) (int, map[string]any, http.Header) {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", target)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	json.Unmarshal(w.Body.Bytes(), &m)
	return w.Code, m, w.Header()
}

func TestHandler(t *testing.T) {
	log := &fakeLog{}
	h := handler(t, fakeAuth{service: "svc"}, log)
	tests := []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"ok", "POST", "Svc_1.Echo", `{"Name":"x"}`, 200, ""},
		{"unknown op", "POST", "Svc_1.Nope", `{}`, 400, "UnknownOperationException"},
		{"get", "GET", "Svc_1.Echo", ``, 405, "MethodNotAllowedException"},
		{"bad json", "POST", "Svc_1.Echo", `{"Name":1}`, 400, "SerializationException"},
		{"domain error", "POST", "Svc_1.Find", `{"Name":"x"}`, 400, "ResourceNotFoundException"},
		{"unknown error", "POST", "Svc_1.Crash", `{}`, 500, "InternalFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m, hdr := call(h, tt.method, tt.target, tt.body)
			if st != tt.status || tt.code != "" && m["__type"] != tt.code {
				t.Errorf("status %d body %v, want %d %s", st, m, tt.status, tt.code)
			}
			if hdr.Get("x-amzn-RequestId") == "" {
				t.Error("no request id")
			}
		})
	}
	if _, m, _ := call(h, "POST", "Svc_1.Crash", `{}`); strings.Contains(fmt.Sprint(m), "boom") {
		t.Errorf("an internal error's text was sent: %v", m)
	}
	// Served calls are recorded, failed ones with their error code.
	var names []string
	for _, ev := range log.evs {
		var rec map[string]any
		json.Unmarshal(ev.Raw, &rec)
		if rec["eventSource"] != "svc.amazonaws.com" {
			t.Errorf("eventSource = %v", rec["eventSource"])
		}
		names = append(names, fmt.Sprint(rec["eventName"], "/", rec["errorCode"]))
	}
	want := "[Echo/<nil> Echo/SerializationException Find/ResourceNotFoundException Crash/InternalFailure Crash/InternalFailure]"
	if fmt.Sprint(names) != want {
		t.Errorf("recorded %v, want %s", names, want)
	}
}

func TestHandlerAuthentication(t *testing.T) {
	for name, tt := range map[string]struct {
		auth fakeAuth
		code string
	}{
		"wrong service":   {fakeAuth{service: "logs"}, "InvalidSignatureException"},
		"bad signature":   {fakeAuth{err: sigv4.ErrSignatureMismatch}, "InvalidSignatureException"},
		"unknown key":     {fakeAuth{err: sigv4.ErrUnknownKey}, "UnrecognizedClientException"},
		"no signature":    {fakeAuth{err: sigv4.ErrMissingAuth}, "MissingAuthenticationTokenException"},
		"incomplete auth": {fakeAuth{err: sigv4.ErrIncomplete}, "IncompleteSignatureException"},
	} {
		log := &fakeLog{}
		_, m, _ := call(handler(t, tt.auth, log), "POST", "Svc_1.Echo", `{}`)
		if m["__type"] != tt.code {
			t.Errorf("%s: %v, want %s", name, m, tt.code)
		}
		if len(log.evs) != 0 {
			t.Errorf("%s: an unauthenticated call was recorded", name)
		}
	}
	// A call that cannot be recorded is not answered as a success.
	h := handler(t, fakeAuth{service: "svc"}, &fakeLog{err: store.ErrBackpressure})
	if st, m, _ := call(h, "POST", "Svc_1.Echo", `{}`); st != 400 || m["__type"] != "ThrottlingException" {
		t.Errorf("back-pressure: %d %v", st, m)
	}
}
