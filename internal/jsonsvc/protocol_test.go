package jsonsvc

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/identity"
)

// upper is a toy second wire form: POST /upper/<Op> with a body of
// NAME=value, answered as text.
type upper struct{}

func (upper) Match(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/upper/") }
func (upper) Operation(r *http.Request, _ []byte) (string, error) {
	return strings.TrimPrefix(r.URL.Path, "/upper/"), nil
}
func (upper) JSON(_ string, body []byte) ([]byte, error) {
	k, v, ok := strings.Cut(string(body), "=")
	if !ok {
		return nil, Errorf("SerializationException", "no =")
	}
	return json.Marshal(map[string]string{k: v})
}
func (upper) WriteOutput(w http.ResponseWriter, _, op string, out any) {
	b, _ := json.Marshal(out)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(op + ":" + strings.ToUpper(string(b))))
}
func (upper) WriteError(w http.ResponseWriter, _, _ string, e *WireError) {
	w.WriteHeader(http.StatusTeapot)
	w.Write([]byte("error " + e.Code))
}

func protocolHandler(t *testing.T, log *fakeLog) *Handler {
	t.Helper()
	type in struct{ Name string }
	h, err := New(Options{TargetPrefix: "Svc_1", SigningName: "svc", EventSource: "svc.amazonaws.com", Auth: fakeAuth{service: "svc"}, Events: log,
		QueryCompatible: true, Protocols: []Protocol{upper{}},
		Errors: func(err error) (*WireError, bool) {
			if errorsIsDomain(err) {
				return &WireError{Code: "NotFound", Type: "com.example#NotFoundException", Status: 404, Message: err.Error()}, true
			}
			return nil, false
		},
		Ops: map[string]Op{
			"Echo": {Invoke: Typed(func(_ context.Context, _ identity.Caller, in *in) (*in, error) { return in, nil })},
			"Find": {ReadOnly: true, Invoke: Typed(func(_ context.Context, _ identity.Caller, in *in) (*struct{}, error) {
				return nil, errDomain
			})},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func errorsIsDomain(err error) bool { return err == errDomain }

func TestProtocolsAndQueryCompatibleErrors(t *testing.T) {
	log := &fakeLog{}
	h := protocolHandler(t, log)

	// JSON: the modelled type in __type, the code in the header.
	st, body, hdr := call(h, http.MethodPost, "Svc_1.Find", `{"Name":"x"}`)
	if st != 404 || body["__type"] != "com.example#NotFoundException" || hdr.Get("x-amzn-query-error") != "NotFound;Sender" {
		t.Errorf("JSON error: %d %v %v", st, body, hdr)
	}
	// A second form, gzipped: decoded, run, recorded, answered its way.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("Name=abc"))
	zw.Close()
	r := httptest.NewRequest(http.MethodPost, "/upper/Echo", &gz)
	r.Header.Set("Content-Encoding", "gzip")
	if !h.ServesRequest(r) {
		t.Fatal("ServesRequest false for the protocol's path")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != `Echo:{"NAME":"ABC"}` {
		t.Errorf("protocol output: %d %s", w.Code, w.Body)
	}
	var rec struct{ RequestParameters map[string]string }
	if len(log.evs) != 2 || json.Unmarshal(log.evs[1].Raw, &rec) != nil || rec.RequestParameters["name"] != "abc" {
		t.Errorf("recorded %d events; last %s", len(log.evs), log.evs[len(log.evs)-1].Raw)
	}
	// Its errors go through it, with the header.
	for path, code := range map[string]string{"/upper/Nope": "UnknownOperationException", "/upper/Echo": "SerializationException"} {
		r = httptest.NewRequest(http.MethodPost, path, strings.NewReader("no equals sign"))
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusTeapot || w.Body.String() != "error "+code || w.Header().Get("x-amzn-query-error") != code+";Sender" {
			t.Errorf("%s: %d %s %v", path, w.Code, w.Body, w.Header())
		}
	}
	// A body that is not gzip.
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("plain"))
	r.Header.Set("X-Amz-Target", "Svc_1.Echo")
	r.Header.Set("Content-Encoding", "gzip")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "SerializationException") {
		t.Errorf("bad gzip: %d %s", w.Code, w.Body)
	}
}
