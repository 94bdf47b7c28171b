package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/identity"
)

func newTLSServer(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestAttrValueLength(t *testing.T) {
	for in, want := range map[string]int{"": 0, "abc": 3, "a_b": 4, "a b,c\n": 9, "éé": 2, "\\n": 2} {
		if got := attrValueLength(in); got != want {
			t.Errorf("attrValueLength(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2)
	now := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false} {
		if got := l.allow("k", now); got != want {
			t.Errorf("call %d: allow = %v", i, got)
		}
	}
	if !l.allow("other", now) {
		t.Error("separate key was throttled")
	}
	if l := newLimiter(0.5); !l.allow("k", now) || l.allow("k", now) {
		t.Error("a rate below 1 has a burst of 1")
	}
}

func TestTokenSigner(t *testing.T) {
	s := tokenSigner{key: testTokenKey}
	var ph paramHash
	ph.add(true, "x")
	scope := tokenScope{op: "LookupEvents", account: acct1, region: "us-east-1", params: ph.sum()}
	tok := s.seal(scope, []byte("cursor"))
	if c, err := s.open(scope, tok); err != nil || string(c) != "cursor" {
		t.Fatalf("open = %q, %v", c, err)
	}
	other := scope
	other.op = "ListTrails"
	if _, err := s.open(other, tok); err == nil {
		t.Error("token accepted for another operation")
	}
	if _, err := (tokenSigner{key: make([]byte, 32)}).open(scope, tok); err == nil {
		t.Error("token accepted under another key")
	}
	// Absent and empty parameters hash differently.
	var a, b paramHash
	a.add(false, "")
	b.add(true, "")
	if a.sum() == b.sum() {
		t.Error("absent and empty parameters collide")
	}
	if _, err := s.open(scope, strings.Repeat("A", maxTokenChars+1)); err == nil {
		t.Error("oversized token accepted")
	}
}

func TestNewRecordResponseElements(t *testing.T) {
	h := newTestHandler(t, func(o *Options) { o.Now = func() time.Time { return testNow } })
	caller := identity.Caller{Principal: testPrincipals["AKIDROOT"], Region: "us-east-1", Service: "cloudtrail"}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	c := &call{requestID: "req-1"}
	mutating := &operation{opSpec: opSpec{Name: "StartLogging"}}
	reading := &operation{opSpec: opSpec{Name: "GetTrail", ReadOnly: true}}
	tests := []struct {
		name string
		op   *operation
		resp string
		werr *wireError
		want string
	}{
		{"mutating with output", mutating, `{"TrailARN":"arn:x","Name":"t"}`, nil, `{"trailARN":"arn:x","name":"t"}`},
		{"mutating, empty output", mutating, `{}`, nil, `null`},
		{"read-only", reading, `{"Trail":{"Name":"t"}}`, nil, `null`},
		{"failed", mutating, ``, &wireError{Status: 400, Code: "TrailNotFoundException", Message: "Unknown trail"}, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.newRecord(req, c, tt.op, caller, []byte(`{"Name":"t"}`), []byte(tt.resp), tt.werr)
			if got := string(rec.ResponseElements); got != tt.want {
				t.Errorf("responseElements = %s, want %s", got, tt.want)
			}
			if *rec.ReadOnly != tt.op.ReadOnly || rec.EventName != tt.op.Name || string(rec.RequestParameters) != `{"name":"t"}` {
				t.Errorf("record = %+v", rec)
			}
			if (tt.werr != nil) != (rec.ErrorCode != "") {
				t.Errorf("errorCode = %q", rec.ErrorCode)
			}
			if rec.SourceIPAddress != "192.0.2.1" || rec.TLSDetails != nil {
				t.Errorf("sourceIPAddress %q, tlsDetails %+v", rec.SourceIPAddress, rec.TLSDetails)
			}
		})
	}
}
