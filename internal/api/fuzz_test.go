package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
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
		rec := serveFuzz(t, h, targetShort, body)
		id := rec.Header().Get(RequestIDHeader)
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

// FuzzTrailOperationBodies sends arbitrary bodies to the trail, selector,
// tag, public-key and event data store operations against a real
// catalogue: every response is a 200 or a 4xx with a well-formed
// envelope, never a 500 or a panic.
func FuzzTrailOperationBodies(f *testing.F) {
	ops := []string{"CreateTrail", "UpdateTrail", "DeleteTrail", "GetTrail", "DescribeTrails", "ListTrails", "GetTrailStatus",
		"StartLogging", "StopLogging", "PutEventSelectors", "GetEventSelectors", "PutInsightSelectors", "GetInsightSelectors",
		"AddTags", "RemoveTags", "ListTags", "ListPublicKeys",
		"CreateEventDataStore", "GetEventDataStore", "UpdateEventDataStore", "DeleteEventDataStore", "RestoreEventDataStore",
		"ListEventDataStores", "StartEventDataStoreIngestion", "StopEventDataStoreIngestion", "ListInsightsMetricData"}
	for i, s := range []string{
		`{"Name":"trail-1","S3BucketName":"bucket-1","IsMultiRegionTrail":true,"TagsList":[{"Key":"a"}]}`,
		`{"Name":"trail-1","S3KeyPrefix":"p/","SnsTopicName":"t","EnableLogFileValidation":true}`,
		`{"Name":"arn:aws:cloudtrail:us-east-1:111111111111:trail/trail-1"}`,
		`{"trailNameList":["trail-1","arn:aws:cloudtrail:eu-west-1:111111111111:trail/x"],"includeShadowTrails":false}`,
		`{"NextToken":"AAAA"}`, `{"Name":"trail-1"}`, `{"Name":"trail-1"}`, `{"Name":"trail-1"}`,
		`{"TrailName":"trail-1","AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]}]}]}`,
		`{"TrailName":"trail-1"}`,
		`{"TrailName":"trail-1","InsightSelectors":[{"InsightType":"ApiCallRateInsight","EventCategories":["Management"]}]}`,
		`{"TrailName":"trail-1","EventDataStore":"x"}`,
		`{"ResourceId":"arn:aws:cloudtrail:us-east-1:111111111111:trail/trail-1","TagsList":[{"Key":"k","Value":"v"}]}`,
		`{"ResourceId":"arn:aws:cloudtrail:us-east-1:111111111111:trail/trail-1","TagsList":[{"Key":"k"}]}`,
		`{"ResourceIdList":["arn:aws:cloudtrail:us-east-1:111111111111:trail/trail-1"]}`,
		`{"StartTime":1,"EndTime":99999999999}`,
		`{"Name":"store-1","RetentionPeriod":30,"BillingMode":"FIXED_RETENTION_PRICING","TerminationProtectionEnabled":false,"TagsList":[{"Key":"k"}],"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","NotEquals":["x"]}]}]}`,
		`{"EventDataStore":"arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/0f0f0f0f-0000-4000-8000-000000000000"}`,
		`{"EventDataStore":"store-1","Name":"store-2","RetentionPeriod":3653,"KmsKeyId":"alias/x","MultiRegionEnabled":false}`,
		`{"EventDataStore":"0f0f0f0f-0000-4000-8000-000000000000"}`,
		`{"EventDataStore":"arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/x"}`,
		`{"MaxResults":1,"NextToken":"AAAAAAAA"}`,
		`{"EventDataStore":"abc"}`,
		`{"EventDataStore":"arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/"}`,
		`{"EventSource":"ec2.amazonaws.com","EventName":"RunInstances","InsightType":"ApiCallRateInsight","Period":60,"MaxResults":2,"DataType":"FillWithZeros","StartTime":1700000000}`,
		`{"EventSource":"s3.amazonaws.com","EventName":"DeleteBucket","InsightType":"ApiErrorRateInsight","ErrorCode":"AccessDenied","TrailName":"trail-1","NextToken":"AQAAAA"}`,
	} {
		f.Add(byte(i), []byte(s))
	}
	f.Add(byte(0), []byte(`{"Name":"a","S3BucketName":"bucket-1","EventSelectors":[{"ReadWriteType":"x"}]}`))
	cat, err := catalog.Open(f.TempDir(), catalog.DefaultOptions())
	if err != nil {
		f.Fatal(err)
	}
	ko := keyring.DefaultOptions()
	ko.Bits = 1024
	keys, err := keyring.Open(f.TempDir(), ko)
	if err != nil {
		f.Fatal(err)
	}
	h := newTestHandler(f, func(o *Options) {
		o.Events = &memStore{}
		o.Trails, o.Buckets, o.Delivery, o.Keys = cat, testBuckets, &fakeDelivery{}, keys
		o.DataStores, o.LogHead = cat, func() uint64 { return 42 }
		o.InsightsMetrics = fakeMetrics{}
	})
	f.Fuzz(func(t *testing.T, op byte, body []byte) {
		fuzzCall(t, h, ops[int(op)%len(ops)], body)
	})
}

// FuzzCheckPrefix: every S3KeyPrefix CreateTrail accepts makes log and
// digest keys the embedded bucket store can write (a prefix it cannot
// write once blocked delivery to the whole bucket), and accepting is
// stable: the stored prefix is accepted again unchanged.
func FuzzCheckPrefix(f *testing.F) {
	for _, s := range []string{"", "logs", "logs/", "a/b/c", "..", "a/../b", ".", "./a", "a//b", "/a", "a\x00b",
		"..a", "a..", "a b/ü", "AWSLogs", "x/AWSLogs/123456789012", strings.Repeat("p", 200), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := checkPrefix(in)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Code != codeInvalidPrefix {
				t.Fatalf("checkPrefix(%q) = %v, want an InvalidS3PrefixException", in, err)
			}
			return
		}
		if again, err := checkPrefix(p); err != nil || again != p {
			t.Fatalf("checkPrefix(%q) = %q, but checkPrefix(%q) = %q, %v", in, p, p, again, err)
		}
		if !utf8.ValidString(in) {
			return // JSON decoding never hands the API invalid UTF-8
		}
		s, err := fsbucket.Open(t.TempDir(), fsbucket.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.CreateBucket(t.Context(), "bucket", objstore.BucketOptions{}); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		lk, err := layout.LogKey{Prefix: p, Account: "123456789012", Region: "us-east-1", Time: now, Unique: "AAAAAAAAAAAAAAAA"}.Build()
		if err != nil {
			t.Fatal(err)
		}
		dk, err := layout.DigestKey{Prefix: p, Account: "123456789012", Region: "us-east-1", TrailName: "t", HomeRegion: "us-east-1", End: now}.Build()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{lk, dk} {
			if err := s.Put(t.Context(), "bucket", k, []byte("x"), objstore.PutOptions{}); err != nil {
				t.Errorf("prefix %q accepted, but its key cannot be stored: %v", in, err)
			}
		}
	})
}

// fakeMetrics answers ListInsightsMetricData with a point per period.
type fakeMetrics struct{}

func (fakeMetrics) Metrics(q MetricsQuery) ([]MetricPoint, error) {
	var out []MetricPoint
	for t := q.Start.Truncate(q.Period); t.Before(q.End) && len(out) < 50; t = t.Add(q.Period) {
		out = append(out, MetricPoint{Time: t, Value: 1})
	}
	return out, nil
}

// fuzzCall sends body as operation op, signed as AKIDALICE (the tests'
// authenticator trusts it), and fails unless the answer is a 200 with
// valid JSON or a 4xx in the error envelope.
func fuzzCall(t *testing.T, h http.Handler, op string, body []byte) {
	t.Helper()
	rec := serveFuzz(t, h, "CloudTrail_20131101."+op, body)
	if rec.Code == http.StatusOK && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("200 with invalid JSON %q", rec.Body)
	}
}

// serveFuzz sends body with X-Amz-Target target, signed as AKIDALICE, and
// fails unless the answer is a 200 or a 4xx in the error envelope.
func serveFuzz(t *testing.T, h http.Handler, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240301/us-east-1/cloudtrail/aws4_request, SignedHeaders=host, Signature=0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		return rec
	}
	var env struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Type == "" || env.Message == "" {
		t.Fatalf("status %d, body %q: not an error envelope", rec.Code, rec.Body)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s %q: %d %s", target, body, rec.Code, rec.Body)
	}
	return rec
}
