package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	targetLong  = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
	targetShort = "CloudTrail_20131101.LookupEvents"
)

// apiCode returns the smithy error code of err and the request id the
// response carried.
func apiCode(t *testing.T, err error) (code, requestID string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a smithy.APIError", err, err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		requestID = re.ServiceRequestID()
	}
	return ae.ErrorCode(), requestID
}

func eventNameAttr(v string) []types.LookupAttribute {
	return []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String(v)}}
}

func TestLookupEventsSDK(t *testing.T) {
	e := newEnv(t, nil)
	base := testNow.Add(-time.Hour)
	want := e.seed(t, acct1, "us-east-1", "RunInstances", base, func(r *event.Record) {
		r.Resources = []event.Resource{{ARN: "arn:aws:ec2:us-east-1:111111111111:instance/i-1", AccountID: acct1, Type: "AWS::EC2::Instance"}}
	})
	e.seed(t, acct1, "us-east-1", "DescribeInstances", base.Add(time.Minute), nil)
	e.seed(t, acct1, "eu-west-1", "RunInstances", base, nil) // other region
	e.seed(t, acct2, "us-east-1", "RunInstances", base, nil) // other account

	out, err := e.client("AKIDALICE", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
		LookupAttributes: eventNameAttr("RunInstances"),
	})
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := []types.Event{{
		EventId:         aws.String(want.EventID),
		EventName:       aws.String("RunInstances"),
		ReadOnly:        aws.String("false"),
		AccessKeyId:     aws.String("AKIDBOB"),
		EventTime:       aws.Time(base),
		EventSource:     aws.String("ec2.amazonaws.com"),
		Username:        aws.String("bob"),
		Resources:       []types.Resource{{ResourceType: aws.String("AWS::EC2::Instance"), ResourceName: aws.String("arn:aws:ec2:us-east-1:111111111111:instance/i-1")}},
		CloudTrailEvent: aws.String(string(want.Raw)),
	}}
	if diff := cmp.Diff(wantEvents, out.Events, cmpopts.IgnoreUnexported(types.Event{}, types.Resource{})); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
	if out.NextToken != nil {
		t.Errorf("NextToken = %q, want none", *out.NextToken)
	}
	q := e.store.lastQuery(t)
	if q.Account != acct1 || q.Region != "us-east-1" || q.Key != history.AttrEventName || q.Value != "RunInstances" || q.Limit != 50 || q.Insight {
		t.Errorf("store query = %+v", q)
	}

	// ReadOnly is filtered as a string attribute.
	out, err = e.client("AKIDROOT", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyReadOnly, AttributeValue: aws.String("true")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range out.Events {
		names = append(names, *ev.EventName)
	}
	// The earlier LookupEvents call was recorded too (read-only).
	if diff := cmp.Diff([]string{"LookupEvents", "DescribeInstances"}, names); diff != "" {
		t.Errorf("ReadOnly=true events (-want +got):\n%s", diff)
	}
}

func TestTargetsAndBodies(t *testing.T) {
	e := newEnv(t, nil)
	e.seed(t, acct1, "us-east-1", "RunInstances", testNow.Add(-time.Hour), nil)
	tests := []struct {
		name, target, body string
		wantEvents         int
	}{
		{"botocore target", targetLong, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"RunInstances"}]}`, 1},
		{"smithy target", targetShort, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"RunInstances"}]}`, 1},
		{"empty body", targetLong, ``, 1},
		{"empty object", targetLong, `{}`, 1},
		{"null members", targetLong, `{"LookupAttributes":null,"StartTime":null,"EndTime":null,"EventCategory":null,"MaxResults":null,"NextToken":null}`, 1},
		{"unknown members", targetLong, `{"SomethingNew":{"x":1},"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"RunInstances"}]}`, 1},
		{"no match", targetShort, `{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Nope"}]}`, 0},
		{"empty string token", targetShort, `{"NextToken":"","LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"RunInstances"}]}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, tt.target, tt.body)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type = %q", ct)
			}
			var out map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &out); err != nil {
				t.Fatal(err)
			}
			var evs []map[string]any
			if err := json.Unmarshal(out["Events"], &evs); err != nil || evs == nil {
				t.Fatalf("Events = %s (%v), want an array", out["Events"], err)
			}
			n := 0 // only the seeded event counts, not the recorded calls
			for _, ev := range evs {
				if ev["EventName"] == "RunInstances" {
					n++
					if _, ok := ev["EventTime"].(float64); !ok {
						t.Errorf("EventTime = %#v, want a JSON number", ev["EventTime"])
					}
					if _, ok := ev["Resources"].([]any); !ok {
						t.Errorf("Resources = %#v, want []", ev["Resources"])
					}
				}
			}
			if n != tt.wantEvents {
				t.Errorf("%d RunInstances events, want %d: %s", n, tt.wantEvents, r.Body)
			}
			if _, ok := out["NextToken"]; ok {
				t.Errorf("NextToken present on the only page")
			}
			if id := r.Header.Get(RequestIDHeader); id == "" {
				t.Error("no x-amzn-RequestId")
			} else {
				rec := e.store.recordFor(t, id)
				if rec.EventName != "LookupEvents" || rec.ErrorCode != "" {
					t.Errorf("recorded %s / %q", rec.EventName, rec.ErrorCode)
				}
			}
		})
	}
}

func TestEmptyResultIsArray(t *testing.T) {
	e := newEnv(t, nil)
	r := e.post(t, targetShort, `{"EndTime": 1000}`)
	if r.Status != http.StatusOK || string(r.Body) != `{"Events":[]}` {
		t.Fatalf("got %d %s, want 200 {\"Events\":[]}", r.Status, r.Body)
	}
}

func TestUnknownOperation(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct{ name, target string }{
		{"unknown op", "CloudTrail_20131101.DoSomething"},
		{"case matters", "CloudTrail_20131101.lookupEvents"},
		{"wrong prefix", "DynamoDB_20120810.LookupEvents"},
		{"no target", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, tt.target, `{}`)
			if r.Status != http.StatusBadRequest {
				t.Errorf("status = %d", r.Status)
			}
			if code, msg := wireErr(t, r); code != "UnknownOperationException" {
				t.Errorf("code = %q (%s)", code, msg)
			}
			if r.Header.Get(RequestIDHeader) == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
	if n := len(e.store.recorded(t)); n != 0 {
		t.Errorf("%d events recorded for unknown operations, want 0", n)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	r := e.raw(t, http.MethodGet, targetShort, "", "AKIDALICE", "us-east-1", "cloudtrail", nil)
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET: status %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}
	if code, msg := wireErr(t, r); code != "MethodNotAllowedException" || !strings.Contains(msg, "POST") {
		t.Errorf("GET: %s: %s", code, msg)
	}
	if r.Header.Get(RequestIDHeader) == "" {
		t.Error("no x-amzn-RequestId")
	}
}

func TestUnsupportedOperationRecorded(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("AKIDROOT", "eu-west-1")
	_, err := c.CreateTrail(context.Background(), &cloudtrail.CreateTrailInput{Name: aws.String("t1"), S3BucketName: aws.String("b")})
	code, reqID := apiCode(t, err)
	if code != "UnsupportedOperationException" {
		t.Fatalf("code = %q", code)
	}
	var ue *types.UnsupportedOperationException
	if !errors.As(err, &ue) || ue.ErrorMessage() != "OpenTrail does not support CreateTrail yet." {
		t.Errorf("error = %v", err)
	}
	rec := e.store.recordFor(t, reqID)
	if rec.EventName != "CreateTrail" || rec.ErrorCode != "UnsupportedOperationException" ||
		rec.ErrorMessage != "OpenTrail does not support CreateTrail yet." || *rec.ReadOnly || rec.AWSRegion != "eu-west-1" {
		t.Errorf("recorded %+v", rec)
	}
	if got := string(rec.RequestParameters); got != `{"name":"t1","s3BucketName":"b"}` {
		t.Errorf("requestParameters = %s", got)
	}
	if got := string(rec.ResponseElements); got != "null" {
		t.Errorf("responseElements = %s", got)
	}

	// A read-only unsupported operation.
	_, err = c.ListTrails(context.Background(), &cloudtrail.ListTrailsInput{})
	code, reqID = apiCode(t, err)
	if rec := e.store.recordFor(t, reqID); code != "UnsupportedOperationException" || !*rec.ReadOnly || string(rec.RequestParameters) != "null" {
		t.Errorf("ListTrails: %s, recorded readOnly=%v params=%s", code, *rec.ReadOnly, rec.RequestParameters)
	}
}

func TestLookupEventsValidation(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("AKIDALICE", "us-east-1")
	attr := func(k types.LookupAttributeKey, v string) []types.LookupAttribute {
		return []types.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(v)}}
	}
	tests := []struct {
		name string
		in   cloudtrail.LookupEventsInput
		code string // "" means success
	}{
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: append(eventNameAttr("A"), eventNameAttr("B")...)}, "InvalidLookupAttributesException"},
		{"unknown key", cloudtrail.LookupEventsInput{LookupAttributes: attr("Color", "red")}, "InvalidLookupAttributesException"},
		{"empty value", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, "")}, "InvalidLookupAttributesException"},
		{"2000 chars", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, strings.Repeat("a", 2000))}, ""},
		{"2001 chars", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, strings.Repeat("a", 2001))}, "InvalidLookupAttributesException"},
		{"1000 underscores", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, strings.Repeat("_", 1000))}, ""},
		{"1001 underscores", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyEventName, strings.Repeat("_", 1001))}, "InvalidLookupAttributesException"},
		{"2000 multibyte", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyUsername, strings.Repeat("é", 2000))}, ""},
		{"1999 plus space", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyUsername, strings.Repeat("a", 1999)+" ")}, "InvalidLookupAttributesException"},
		{"ReadOnly true", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyReadOnly, "true")}, ""},
		{"ReadOnly yes", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyReadOnly, "yes")}, "InvalidLookupAttributesException"},
		{"ReadOnly TRUE", cloudtrail.LookupEventsInput{LookupAttributes: attr(types.LookupAttributeKeyReadOnly, "TRUE")}, "InvalidLookupAttributesException"},
		{"insight EventSource", cloudtrail.LookupEventsInput{EventCategory: types.EventCategoryInsight, LookupAttributes: attr(types.LookupAttributeKeyEventSource, "ec2.amazonaws.com")}, ""},
		{"insight Username", cloudtrail.LookupEventsInput{EventCategory: types.EventCategoryInsight, LookupAttributes: attr(types.LookupAttributeKeyUsername, "bob")}, "InvalidLookupAttributesException"},
		{"category management", cloudtrail.LookupEventsInput{EventCategory: "management"}, "InvalidEventCategoryException"},
		{"category Insight", cloudtrail.LookupEventsInput{EventCategory: "Insight"}, "InvalidEventCategoryException"},
		{"MaxResults 0", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(0)}, "InvalidMaxResultsException"},
		{"MaxResults 1", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)}, ""},
		{"MaxResults 50", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50)}, ""},
		{"MaxResults 51", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"MaxResults -1", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(-1)}, "InvalidMaxResultsException"},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: aws.Time(testNow.Add(-time.Hour)), EndTime: aws.Time(testNow.Add(-2 * time.Hour))}, "InvalidTimeRangeException"},
		{"start equals end", cloudtrail.LookupEventsInput{StartTime: aws.Time(testNow.Add(-time.Hour)), EndTime: aws.Time(testNow.Add(-time.Hour))}, ""},
		{"start in the future", cloudtrail.LookupEventsInput{StartTime: aws.Time(testNow.Add(time.Hour))}, "InvalidTimeRangeException"},
		{"end before the window", cloudtrail.LookupEventsInput{EndTime: aws.Time(testNow.AddDate(-1, 0, 0))}, ""},
		{"garbage token", cloudtrail.LookupEventsInput{NextToken: aws.String("not-a-token")}, "InvalidNextTokenException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.LookupEvents(context.Background(), &tt.in)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("LookupEvents: %v", err)
				}
				return
			}
			code, reqID := apiCode(t, err)
			if code != tt.code {
				t.Fatalf("code = %q, want %q (%v)", code, tt.code, err)
			}
			// Validation failures are recorded, with the error.
			rec := e.store.recordFor(t, reqID)
			if rec.ErrorCode != tt.code || rec.ErrorMessage == "" {
				t.Errorf("recorded errorCode %q, errorMessage %q", rec.ErrorCode, rec.ErrorMessage)
			}
		})
	}
}

func TestLookupEventsRaw(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct{ name, body, code, msg string }{
		{"missing key", `{"LookupAttributes":[{"AttributeValue":"x"}]}`, "InvalidLookupAttributesException", "AttributeKey is required"},
		{"missing value", `{"LookupAttributes":[{"AttributeKey":"EventName"}]}`, "InvalidLookupAttributesException", "AttributeValue is required"},
		{"null item", `{"LookupAttributes":[null]}`, "InvalidLookupAttributesException", "LookupAttributes[0] is null: a list cannot hold null elements."},
		{"string MaxResults", `{"MaxResults":"5"}`, "SerializationException", "member MaxResults: expected an integer"},
		{"string StartTime", `{"StartTime":"2024-01-01T00:00:00Z"}`, "SerializationException", "member StartTime: expected a JSON number of epoch seconds"},
		{"bad json", `{"MaxResults":`, "SerializationException", "not valid JSON"},
		{"array body", `[]`, "SerializationException", "must be a JSON object"},
		{"empty category", `{"EventCategory":""}`, "InvalidEventCategoryException", "EventCategory '' is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, targetShort, tt.body)
			code, msg := wireErr(t, r)
			if r.Status != http.StatusBadRequest || code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Fatalf("got %d %s %q, want 400 %s containing %q", r.Status, code, msg, tt.code, tt.msg)
			}
			rec := e.store.recordFor(t, r.Header.Get(RequestIDHeader))
			if rec.ErrorCode != tt.code {
				t.Errorf("recorded errorCode %q", rec.ErrorCode)
			}
		})
	}
}

func TestLookupEventsTimeRange(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Retention = 24 * time.Hour })
	c := e.client("AKIDALICE", "us-east-1")
	floor := testNow.Add(-24 * time.Hour)
	tests := []struct {
		name       string
		start, end *time.Time
		wantStart  time.Time
		wantEnd    time.Time
	}{
		{"defaults", nil, nil, floor, testNow},
		{"clamped start", aws.Time(testNow.AddDate(0, 0, -30)), nil, floor, testNow},
		{"fractions round inward", aws.Time(testNow.Add(-time.Hour + 250*time.Millisecond)), aws.Time(testNow.Add(-time.Minute + 750*time.Millisecond)),
			testNow.Add(-time.Hour + time.Second), testNow.Add(-time.Minute)},
		{"whole seconds kept", aws.Time(testNow.Add(-time.Hour)), aws.Time(testNow.Add(-time.Minute)), testNow.Add(-time.Hour), testNow.Add(-time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{StartTime: tt.start, EndTime: tt.end}); err != nil {
				t.Fatal(err)
			}
			q := e.store.lastQuery(t)
			if !q.Start.Equal(tt.wantStart) || !q.End.Equal(tt.wantEnd) {
				t.Errorf("query range [%v, %v], want [%v, %v]", q.Start, q.End, tt.wantStart, tt.wantEnd)
			}
		})
	}

	// Unlimited retention: the default start is the zero time.
	e2 := newEnv(t, func(o *Options) { o.Retention = 0 })
	if _, err := e2.client("AKIDALICE", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatal(err)
	}
	if q := e2.store.lastQuery(t); !q.Start.IsZero() || !q.End.Equal(testNow) {
		t.Errorf("unlimited retention: range [%v, %v]", q.Start, q.End)
	}
}

func TestLookupEventsInsight(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.client("AKIDALICE", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{
		EventCategory: types.EventCategoryInsight, LookupAttributes: eventNameAttr("RunInstances"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if q := e.store.lastQuery(t); !q.Insight || q.Key != history.AttrEventName {
		t.Errorf("query = %+v", q)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t, nil)
	var want []string
	for i := range 7 {
		ev := e.seed(t, acct1, "us-east-1", "Seed", testNow.Add(-time.Duration(i+1)*time.Minute), nil)
		want = append(want, ev.EventID) // newest first
	}
	e.seed(t, acct2, "us-east-1", "Seed", testNow.Add(-time.Minute), nil)

	c := e.client("AKIDALICE", "us-east-1")
	in := &cloudtrail.LookupEventsInput{LookupAttributes: eventNameAttr("Seed"), MaxResults: aws.Int32(3)}
	p := cloudtrail.NewLookupEventsPaginator(c, in)
	var got []string
	var sizes []int
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Events))
		for _, ev := range page.Events {
			got = append(got, *ev.EventId)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events across pages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 3, 1}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
}

func TestNextTokenBinding(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 4 {
		e.seed(t, acct1, "us-east-1", "Seed", testNow.Add(-time.Duration(i+1)*time.Minute), nil)
		e.seed(t, acct2, "us-east-1", "Seed", testNow.Add(-time.Duration(i+1)*time.Minute), nil)
	}
	start := aws.Time(testNow.Add(-time.Hour))
	first := func() *cloudtrail.LookupEventsInput {
		return &cloudtrail.LookupEventsInput{LookupAttributes: eventNameAttr("Seed"), MaxResults: aws.Int32(2), StartTime: start}
	}
	alice := e.client("AKIDALICE", "us-east-1")
	out, err := alice.LookupEvents(context.Background(), first())
	if err != nil {
		t.Fatal(err)
	}
	if out.NextToken == nil {
		t.Fatal("no NextToken")
	}
	token := *out.NextToken

	withToken := func(tok string, mod func(*cloudtrail.LookupEventsInput)) *cloudtrail.LookupEventsInput {
		in := first()
		in.NextToken = aws.String(tok)
		if mod != nil {
			mod(in)
		}
		return in
	}
	flipped := []byte(token)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name   string
		client *cloudtrail.Client
		in     *cloudtrail.LookupEventsInput
		ok     bool
	}{
		{"same params", alice, withToken(token, nil), true},
		{"same account, other principal", e.client("AKIDROOT", "us-east-1"), withToken(token, nil), true},
		{"tampered", alice, withToken(string(flipped), nil), false},
		{"truncated", alice, withToken(token[:len(token)-4], nil), false},
		{"other MaxResults", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.MaxResults = aws.Int32(3) }), false},
		{"MaxResults dropped", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.MaxResults = nil }), false},
		{"other attribute value", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.LookupAttributes = eventNameAttr("Other") }), false},
		{"other attribute key", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) {
			in.LookupAttributes = []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventSource, AttributeValue: aws.String("Seed")}}
		}), false},
		{"start dropped", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.StartTime = nil }), false},
		{"start moved", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.StartTime = aws.Time(testNow.Add(-2 * time.Hour)) }), false},
		{"end added", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.EndTime = aws.Time(testNow) }), false},
		{"category added", alice, withToken(token, func(in *cloudtrail.LookupEventsInput) { in.EventCategory = types.EventCategoryInsight }), false},
		{"other account", e.client("AKIDOTHER", "us-east-1"), withToken(token, nil), false},
		{"other region", e.client("AKIDALICE", "us-west-2"), withToken(token, nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.LookupEvents(context.Background(), tt.in)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if code, _ := apiCode(t, err); code != "InvalidNextTokenException" {
				t.Errorf("code = %q, want InvalidNextTokenException", code)
			}
		})
	}

	// A cursor the store refuses is an invalid token too.
	e.store.mu.Lock()
	e.store.badCursor = true
	e.store.mu.Unlock()
	_, err = alice.LookupEvents(context.Background(), withToken(token, nil))
	if code, _ := apiCode(t, err); code != "InvalidNextTokenException" {
		t.Errorf("history.ErrBadCursor: code = %q", code)
	}
}

func TestRequestIDMatchesRecord(t *testing.T) {
	e := newEnv(t, nil)
	out, err := e.client("AKIDALICE", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	if err != nil {
		t.Fatal(err)
	}
	id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if !ok || len(id) != 36 || id[14] != '4' {
		t.Fatalf("request id %q is not a UUID v4", id)
	}
	rec := e.store.recordFor(t, id)
	if rec.EventID == id || len(rec.EventID) != 36 {
		t.Errorf("eventID %q", rec.EventID)
	}
}

// TestRecordedEvent checks a self-recorded event field by field.
func TestRecordedEvent(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"MaxResults": 5, "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "X"}], "Ignored": null, "EndTime": 1709290800.5}`
	ua := "opentrail-test/1.0 " + strings.Repeat("é", 600) // 1219 bytes
	r := e.raw(t, http.MethodPost, targetLong, body, "AKIDALICE", "eu-central-1", "cloudtrail", map[string]string{"User-Agent": ua})
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	reqID := r.Header.Get(RequestIDHeader)
	got := e.store.recordFor(t, reqID)

	key, ro, mgmt := "AKIDALICE", true, true
	want := event.Record{
		EventVersion: "1.11",
		UserIdentity: &event.UserIdentity{
			Type:        "IAMUser",
			PrincipalID: testPrincipals["AKIDALICE"].PrincipalID(),
			ARN:         "arn:aws:iam::111111111111:user/alice",
			AccountID:   acct1,
			AccessKeyID: &key,
			UserName:    "alice",
		},
		EventTime:          "2024-03-01T12:00:00Z",
		EventSource:        "cloudtrail.amazonaws.com",
		EventName:          "LookupEvents",
		AWSRegion:          "eu-central-1",
		SourceIPAddress:    "127.0.0.1",
		UserAgent:          "opentrail-test/1.0 " + strings.Repeat("é", 502), // cut at 1 KB on a rune boundary
		RequestParameters:  json.RawMessage(`{"maxResults":5,"lookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"X"}],"endTime":1709290800.5}`),
		ResponseElements:   json.RawMessage(`null`),
		RequestID:          reqID,
		ReadOnly:           &ro,
		EventType:          "AwsApiCall",
		ManagementEvent:    &mgmt,
		RecipientAccountID: acct1,
		EventCategory:      "Management",
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(event.Record{}, "EventID")); diff != "" {
		t.Errorf("recorded event (-want +got):\n%s", diff)
	}
	if len(got.UserAgent) > 1024 {
		t.Errorf("userAgent is %d bytes", len(got.UserAgent))
	}

	// A root caller has no userName; an error is recorded with its code.
	r = e.raw(t, http.MethodPost, targetShort, `{"MaxResults": 99}`, "AKIDROOT", "us-east-1", "cloudtrail", nil)
	got = e.store.recordFor(t, r.Header.Get(RequestIDHeader))
	rootKey := "AKIDROOT"
	wantUI := &event.UserIdentity{Type: "Root", PrincipalID: acct1, ARN: "arn:aws:iam::111111111111:root", AccountID: acct1, AccessKeyID: &rootKey}
	if diff := cmp.Diff(wantUI, got.UserIdentity); diff != "" {
		t.Errorf("root userIdentity (-want +got):\n%s", diff)
	}
	if got.ErrorCode != "InvalidMaxResultsException" || got.ErrorMessage != "MaxResults must be between 1 and 50; the request has 99." {
		t.Errorf("error = %q %q", got.ErrorCode, got.ErrorMessage)
	}
	if string(got.RequestParameters) != `{"maxResults":99}` {
		t.Errorf("requestParameters = %s", got.RequestParameters)
	}
}

func TestRecordedEventTLS(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.Close()
	srv := newTLSServer(t, e.h)
	e.srv = srv
	r := e.post(t, targetShort, `{}`)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	got := e.store.recordFor(t, r.Header.Get(RequestIDHeader))
	want := &event.TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: strings.TrimPrefix(srv.URL, "https://")}
	if diff := cmp.Diff(want, got.TLSDetails); diff != "" {
		t.Errorf("tlsDetails (-want +got):\n%s", diff)
	}
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Regions = []string{"us-east-1", "eu-west-1"} })
	tests := []struct {
		name, key, region, service string
		code, msg                  string
	}{
		{"missing auth", "", "us-east-1", "cloudtrail", "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"unknown key", "AKIDNOBODY", "us-east-1", "cloudtrail", "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"bad signature", "AKIDBADSIG", "us-east-1", "cloudtrail", "InvalidSignatureException", "does not match"},
		{"expired", "AKIDEXPIRED", "us-east-1", "cloudtrail", "InvalidSignatureException", "Signature expired: 20240101T000000Z"},
		{"wrong service", "AKIDALICE", "us-east-1", "s3", "InvalidSignatureException", "Credential should be scoped to correct service: 'cloudtrail'"},
		{"unserved region", "AKIDALICE", "ap-south-1", "cloudtrail", "AccessDeniedException", "does not serve region 'ap-south-1'. Served regions: us-east-1, eu-west-1."},
		{"invalid region", "AKIDALICE", "Mars_1", "cloudtrail", "AccessDeniedException", "does not serve region 'Mars_1'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(t, http.MethodPost, targetShort, `{}`, tt.key, tt.region, tt.service, nil)
			code, msg := wireErr(t, r)
			if r.Status != http.StatusBadRequest || code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("got %d %s %q, want 400 %s containing %q", r.Status, code, msg, tt.code, tt.msg)
			}
			if r.Header.Get(RequestIDHeader) == "" {
				t.Error("no x-amzn-RequestId")
			}
		})
	}
	// Through the SDK, too.
	_, err := e.client("AKIDEXPIRED", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	if code, reqID := apiCode(t, err); code != "InvalidSignatureException" || reqID == "" {
		t.Errorf("SDK: code %q, request id %q", code, reqID)
	}
	if n := len(e.store.recorded(t)); n != 0 {
		t.Errorf("%d events recorded for failed authentication, want 0", n)
	}

	// Without Regions every well-formed region is served.
	e = newEnv(t, nil)
	if r := e.raw(t, http.MethodPost, targetShort, `{}`, "AKIDALICE", "ap-south-1", "cloudtrail", nil); r.Status != http.StatusOK {
		t.Errorf("ap-south-1: %d %s", r.Status, r.Body)
	}
	r := e.raw(t, http.MethodPost, targetShort, `{}`, "AKIDALICE", "Mars_1", "cloudtrail", nil)
	if code, msg := wireErr(t, r); code != "AccessDeniedException" || !strings.Contains(msg, "'Mars_1' is not a valid region name") {
		t.Errorf("Mars_1: %s %q", code, msg)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 1024 })
	body := `{"NextToken":"` + strings.Repeat("x", 2000) + `"}`
	r := e.post(t, targetShort, body)
	code, msg := wireErr(t, r)
	if r.Status != http.StatusRequestEntityTooLarge || code != "RequestEntityTooLargeException" || !strings.Contains(msg, "1024-byte limit") {
		t.Errorf("got %d %s %q", r.Status, code, msg)
	}
	if r.Header.Get(RequestIDHeader) == "" {
		t.Error("no x-amzn-RequestId")
	}
	if n := len(e.store.recorded(t)); n != 0 {
		t.Errorf("%d events recorded, want 0", n)
	}
	// At the limit is fine.
	body = `{"X":"` + strings.Repeat("x", 1024-8) + `"}`
	if r := e.post(t, targetShort, body); r.Status != http.StatusOK {
		t.Errorf("body of exactly the limit: %d %s", r.Status, r.Body)
	}
}

func TestLargeRequestParametersTruncated(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"Padding":"` + strings.Repeat("x", 150*1024) + `"}`
	r := e.post(t, targetShort, body)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	rec := e.store.recordFor(t, r.Header.Get(RequestIDHeader))
	if string(rec.RequestParameters) != `{"truncated":true}` || string(rec.Addendum) != `{"updatedFields":"requestParameters"}` {
		t.Errorf("requestParameters %s, addendum %s", rec.RequestParameters, rec.Addendum)
	}
}

func TestAppendFailureHidesResult(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"backpressure", store.ErrBackpressure, http.StatusBadRequest, "ThrottlingException"},
		{"wrapped backpressure", errors.Join(errors.New("wal"), store.ErrBackpressure), http.StatusBadRequest, "ThrottlingException"},
		{"other", errDiskOnFire, http.StatusInternalServerError, "InternalFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.store.appendErr = tt.err
			r := e.post(t, targetShort, `{}`)
			code, msg := wireErr(t, r)
			if r.Status != tt.status || code != tt.code {
				t.Errorf("got %d %s %q, want %d %s", r.Status, code, msg, tt.status, tt.code)
			}
			if strings.Contains(string(r.Body), "Events") {
				t.Errorf("the operation's result leaked: %s", r.Body)
			}
			if tt.code == "InternalFailure" && !strings.Contains(msg, r.Header.Get(RequestIDHeader)) {
				t.Errorf("InternalFailure message %q lacks the request id", msg)
			}
			// The SDK sees the same code (and would retry throttling).
			_, err := e.client("AKIDALICE", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
			if code, _ := apiCode(t, err); code != tt.code {
				t.Errorf("SDK code = %q", code)
			}
		})
	}
}

func TestLookupRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LookupRateLimit = 1 })
	alice := e.client("AKIDALICE", "us-east-1")
	if _, err := alice.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatal(err)
	}
	_, err := alice.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	code, reqID := apiCode(t, err)
	if code != "ThrottlingException" {
		t.Fatalf("second call: code %q", code)
	}
	if rec := e.store.recordFor(t, reqID); rec.ErrorCode != "ThrottlingException" {
		t.Errorf("throttled call recorded with errorCode %q", rec.ErrorCode)
	}
	// Other partitions have their own bucket.
	if _, err := alice.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}, func(o *cloudtrail.Options) { o.Region = "eu-west-1" }); err != nil {
		t.Errorf("other region: %v", err)
	}
	if _, err := e.client("AKIDOTHER", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("other account: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := alice.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("after a second: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(o *Options) { o.Registerer = reg })
	e.post(t, targetShort, `{}`)
	e.post(t, targetShort, `{"MaxResults":0}`)
	e.post(t, "CloudTrail_20131101.Nope", `{}`)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	var observed uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "opentrail_api_requests_total":
				counts[labels["operation"]+"/"+labels["code"]] = m.GetCounter().GetValue()
			case "opentrail_api_request_duration_seconds":
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{"LookupEvents/OK": 1, "LookupEvents/InvalidMaxResultsException": 1, "Unknown/UnknownOperationException": 1}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("requests_total (-want +got):\n%s", diff)
	}
	if observed != 3 {
		t.Errorf("%d latency observations, want 3", observed)
	}
	// A second handler on the same registry is refused, not a panic.
	if _, err := New(Options{Auth: fakeAuth{}, Events: &memStore{}, TokenKey: testTokenKey, Registerer: reg}); err == nil {
		t.Error("New registered the same metrics twice")
	}
}

func TestNewValidates(t *testing.T) {
	good := func() Options {
		o := DefaultOptions()
		o.Auth, o.Events, o.TokenKey = fakeAuth{}, &memStore{}, testTokenKey
		return o
	}
	tests := []struct {
		name string
		mod  func(*Options)
		msg  string
	}{
		{"no auth", func(o *Options) { o.Auth = nil }, "Auth is required"},
		{"no store", func(o *Options) { o.Events = nil }, "Events is required"},
		{"short key", func(o *Options) { o.TokenKey = make([]byte, 31) }, "TokenKey is 31 bytes"},
		{"negative retention", func(o *Options) { o.Retention = -1 }, "Retention is negative"},
		{"negative rate", func(o *Options) { o.LookupRateLimit = -1 }, "LookupRateLimit is negative"},
		{"bad region", func(o *Options) { o.Regions = []string{"us-east-1", "US East"} }, `Regions[1]: "US East"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good()
			tt.mod(&o)
			if _, err := New(o); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New error = %v, want %q", err, tt.msg)
			}
		})
	}
	if _, err := New(good()); err != nil {
		t.Errorf("New(defaults): %v", err)
	}
}
