package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

// FuzzLookupEventsBody sends arbitrary bodies to LookupEvents: every
// response is a 200 or a 4xx with a well-formed envelope, never a 500, and
// every call is recorded as a valid event.
func FuzzLookupEventsBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `{"MaxResults":5}`, `{"MaxResults":"5"}`, `{"StartTime":1704067200.5,"EndTime":1704067300}`,
		`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"true"}]}`,
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"a"},{}]}`,
		`{"EventCategory":"insight","NextToken":"AAAA"}`, `{"Name":"x","name":null}`, `[`, `{"\u00e9":1}`,
	} {
		f.Add([]byte(s))
	}
	st := &memStore{}
	h := newTestHandler(f, func(o *Options) { o.Events = st })
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Header.Set("X-Amz-Target", targetShort)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240301/us-east-1/cloudtrail/aws4_request, SignedHeaders=host, Signature=0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := rec.Header().Get(RequestIDHeader)
		if rec.Code != http.StatusOK {
			var env struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Type == "" || env.Message == "" {
				t.Fatalf("status %d, body %q: not an error envelope", rec.Code, rec.Body)
			}
			if rec.Code >= 500 {
				t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body)
			}
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		last := st.events[len(st.events)-1]
		var r event.Record
		if err := json.Unmarshal(last.Raw, &r); err != nil || r.RequestID != id {
			t.Fatalf("last recorded event is not this call's (%v): %s", err, last.Raw)
		}
		if p := string(r.RequestParameters); p != "null" && !strings.HasPrefix(p, "{") {
			t.Fatalf("requestParameters = %s", p)
		}
		st.events = st.events[:0] // keep memory flat
	})
}
