package cwapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/cwmetrics"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

const acct = "123456789012"

// fakeAuth accepts every request as the root of acct, scoped to the
// region and service in X-Test-Scope ("us-east-1/monitoring" by default),
// and fails with X-Test-Fail.
type fakeAuth struct{}

func (fakeAuth) Authenticate(r *http.Request, _ []byte) (identity.Caller, error) {
	if r.Header.Get("X-Test-Fail") != "" {
		return identity.Caller{}, &sigv4.Error{Err: sigv4.ErrSignatureMismatch, Message: "bad signature"}
	}
	region, svc := "us-east-1", "monitoring"
	if s := r.Header.Get("X-Test-Scope"); s != "" {
		region, svc, _ = strings.Cut(s, "/")
	}
	return identity.Caller{Principal: identity.Principal{AccountID: acct}, Region: region, Service: svc}, nil
}

type events struct {
	mu  sync.Mutex
	got []event.Event
}

func (e *events) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, evs...)
	return store.AppendResult{}, nil
}

func newHandler(t *testing.T) (*jsonsvc.Handler, *events) {
	t.Helper()
	o := cwmetrics.DefaultOptions()
	e, err := cwmetrics.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ev := &events{}
	h, err := New(e, jsonsvc.Options{Auth: fakeAuth{}, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	return h, ev
}

func jsonReq(op, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", TargetPrefix+"."+op)
	r.Header.Set("Content-Type", jsonContentType)
	r.Header.Set("x-amzn-query-mode", "true")
	return r
}

func cborReq(op string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, PathPrefix+op, bytes.NewReader(body))
	r.Header.Set("Content-Type", cborContentType)
	r.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// indefiniteMap writes a CBOR indefinite-length map, as the Go SDK does.
func indefiniteMap(kv ...any) []byte {
	b := []byte{0xbf}
	for i := 0; i < len(kv); i += 2 {
		b = append(b, cbor.Encode(cbor.String(kv[i].(string)))...)
		switch v := kv[i+1].(type) {
		case []byte:
			b = append(b, v...)
		case cbor.Value:
			b = append(b, cbor.Encode(v)...)
		}
	}
	return append(b, 0xff)
}

func TestErrorEnvelopes(t *testing.T) {
	h, _ := newHandler(t)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		typ    string
		query  string
	}{
		{"json missing alarm", jsonReq("SetAlarmState", `{"AlarmName":"x","StateValue":"OK","StateReason":"r"}`), 404,
			"com.amazonaws.cloudwatch#ResourceNotFound", "ResourceNotFound;Sender"},
		{"cbor missing alarm", cborReq("SetAlarmState", indefiniteMap("AlarmName", cbor.String("x"), "StateValue", cbor.String("OK"), "StateReason", cbor.String("r"))), 404,
			"com.amazonaws.cloudwatch#ResourceNotFound", "ResourceNotFound;Sender"},
		{"json invalid value", jsonReq("PutMetricData", `{"Namespace":"App","MetricData":[{"MetricName":"m","Value":1,"Unit":"Parsecs"}]}`), 400,
			"com.amazonaws.cloudwatch#InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"cbor missing parameter", cborReq("PutMetricData", indefiniteMap("MetricData", cbor.List{})), 400,
			"com.amazonaws.cloudwatch#MissingRequiredParameterException", "MissingParameter;Sender"},
		{"json alarm validation", jsonReq("PutMetricAlarm", `{"AlarmName":"a","Namespace":"App","MetricName":"m","Statistic":"Sum","Period":7,"EvaluationPeriods":1,"Threshold":1,"ComparisonOperator":"GreaterThanThreshold"}`), 400,
			"com.amazonaws.cloudwatch#InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"unknown operation", jsonReq("PutDashboard", `{}`), 400, "UnknownOperationException", "UnknownOperationException;Sender"},
		{"cbor unknown operation", cborReq("PutDashboard", nil), 400, "UnknownOperationException", "UnknownOperationException;Sender"},
		{"bad json", jsonReq("DescribeAlarms", `{"MaxRecords":"x"}`), 400, "SerializationException", "SerializationException;Sender"},
		{"bad cbor", cborReq("DescribeAlarms", []byte{0xbf, 0x61}), 400, "SerializationException", "SerializationException;Sender"},
		{"cbor wrong type", cborReq("DescribeAlarms", indefiniteMap("MaxRecords", cbor.String("x"))), 400, "SerializationException", "SerializationException;Sender"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, tc.req)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("x-amzn-query-error"); got != tc.query {
				t.Errorf("%s = %q, want %q", "x-amzn-query-error", got, tc.query)
			}
			var typ string
			if strings.HasPrefix(tc.req.URL.Path, PathPrefix) {
				v, err := cbor.Decode(w.Body.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				m, _ := v.(cbor.Map)
				s, _ := m["__type"].(cbor.String)
				typ = string(s)
				if w.Header().Get("Content-Type") != cborContentType || w.Header().Get("Smithy-Protocol") != "rpc-v2-cbor" {
					t.Errorf("headers = %v", w.Header())
				}
			} else {
				var b struct {
					Type    string `json:"__type"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Message == "" {
					t.Fatalf("body %s: %v", w.Body, err)
				}
				typ = b.Type
			}
			if typ != tc.typ {
				t.Errorf("__type = %q, want %q", typ, tc.typ)
			}
		})
	}
}

func TestAuthAndScope(t *testing.T) {
	h, ev := newHandler(t)
	r := jsonReq("DescribeAlarms", `{}`)
	r.Header.Set("X-Test-Fail", "1")
	if w := serve(h, r); w.Code != 400 || w.Header().Get("x-amzn-query-error") != "InvalidSignatureException;Sender" {
		t.Errorf("bad signature: %d %v %s", w.Code, w.Header(), w.Body)
	}
	r = jsonReq("DescribeAlarms", `{}`)
	r.Header.Set("X-Test-Scope", "us-east-1/sns")
	if w := serve(h, r); w.Code != 400 || !strings.Contains(w.Body.String(), "monitoring") {
		t.Errorf("wrong service scope: %d %s", w.Code, w.Body)
	}
	if len(ev.got) != 0 {
		t.Errorf("unauthenticated calls recorded: %d", len(ev.got))
	}
}

// One call in each form, a gzipped CBOR body included, gives the same
// result and is recorded.
func TestBothForms(t *testing.T) {
	h, ev := newHandler(t)
	now := time.Now().Truncate(time.Minute).Add(-time.Minute)
	ts := &cbor.Tag{ID: 1, Value: cbor.Float64(float64(now.Unix()))}
	body := indefiniteMap("Namespace", cbor.String("App"), "MetricData", cbor.List{
		cbor.Map{"MetricName": cbor.String("m"), "Value": cbor.Float64(2), "Timestamp": ts},
		cbor.Map{"MetricName": cbor.String("m"), "Values": cbor.List{cbor.Uint(3)}, "Counts": cbor.List{cbor.Float64(2)}, "Timestamp": ts}})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	r := cborReq("PutMetricData", gz.Bytes())
	r.Header.Set("Content-Encoding", "gzip")
	if w := serve(h, r); w.Code != 200 {
		t.Fatalf("PutMetricData: %d %s", w.Code, w.Body)
	}
	jb := `{"Namespace":"App","MetricName":"m","StartTime":` + jsonNum(now.Add(-time.Minute)) + `,"EndTime":` + jsonNum(now.Add(time.Minute)) + `,"Period":60,"Statistics":["Sum","SampleCount"]}`
	w := serve(h, jsonReq("GetMetricStatistics", jb))
	if w.Code != 200 {
		t.Fatalf("GetMetricStatistics: %d %s", w.Code, w.Body)
	}
	want := `{"Label":"m","Datapoints":[{"Timestamp":` + jsonNum(now) + `,"SampleCount":3,"Sum":8,"Unit":"None"}]}`
	if w.Body.String() != want || w.Header().Get("Content-Type") != jsonContentType {
		t.Errorf("JSON output = %s, want %s", w.Body, want)
	}
	cb := indefiniteMap("Namespace", cbor.String("App"), "MetricName", cbor.String("m"),
		"StartTime", &cbor.Tag{ID: 1, Value: cbor.Uint(uint64(now.Add(-time.Minute).Unix()))}, "EndTime", &cbor.Tag{ID: 1, Value: cbor.Float64(float64(now.Add(time.Minute).Unix()))},
		"Period", cbor.Uint(60), "Statistics", cbor.List{cbor.String("Sum")})
	w = serve(h, cborReq("GetMetricStatistics", cb))
	if w.Code != 200 {
		t.Fatalf("CBOR GetMetricStatistics: %d %s", w.Code, w.Body)
	}
	v, err := cbor.Decode(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantV := cbor.Map{"Label": cbor.String("m"), "Datapoints": cbor.List{cbor.Map{
		"Timestamp": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(now.Unix()))}, "Sum": cbor.Float64(8), "Unit": cbor.String("None")}}}
	if d := cmp.Diff(wantV, v); d != "" {
		t.Errorf("CBOR output (-want +got):\n%s", d)
	}
	if len(ev.got) != 3 {
		t.Fatalf("recorded %d events", len(ev.got))
	}
	var rec struct {
		EventSource, EventName, EventCategory string
		RequestParameters                     map[string]any
	}
	if err := json.Unmarshal(ev.got[0].Raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.EventSource != EventSource || rec.EventName != "PutMetricData" || rec.EventCategory != "Data" || rec.RequestParameters["namespace"] != "App" {
		t.Errorf("event = %s", ev.got[0].Raw)
	}
}

func jsonNum(t time.Time) string {
	b, _ := json.Marshal(t.Unix())
	return string(b)
}
