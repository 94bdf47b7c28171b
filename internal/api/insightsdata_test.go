package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
)

// fakeInsightsData holds Insights records and answers queries as the
// InsightsRecords contract says; it remembers the last query.
type fakeInsightsData struct {
	mu   sync.Mutex
	recs []event.Event // with their Insights type
	typ  map[string]string
	last InsightsDataQuery
	err  error
}

func (f *fakeInsightsData) add(t testing.TB, account, region, typ, source, name string, at time.Time) event.Event {
	t.Helper()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", len(f.recs)+1)
	rec := map[string]any{
		"eventVersion": "1.11", "eventTime": event.FormatTime(at), "awsRegion": region, "eventID": id,
		"eventType": "AwsCloudTrailInsight", "recipientAccountId": account, "sharedEventID": "00000000-0000-4000-8000-999999999999",
		"insightDetails": map[string]any{"state": "Start", "eventSource": source, "eventName": name, "insightType": typ,
			"insightContext": map[string]any{"statistics": map[string]any{"baseline": map[string]any{"average": 1}, "insight": map[string]any{"average": 30},
				"insightDuration": 2, "baselineDuration": 1440}}},
		"eventCategory": "Insight",
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.typ == nil {
		f.typ = map[string]string{}
	}
	f.recs = append(f.recs, ev)
	f.typ[id] = typ
	return ev
}

func (f *fakeInsightsData) InsightsData(q InsightsDataQuery) ([]event.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = q
	if f.err != nil {
		return nil, f.err
	}
	var out []event.Event
	for _, ev := range f.recs {
		t := ev.EventTime
		switch {
		case ev.Account != q.Account, q.Regions != nil && !slices.Contains(q.Regions, ev.Region),
			!slices.Contains(q.Types, f.typ[ev.EventID]), t.Before(q.Start), t.After(q.End),
			q.Key == "EventId" && ev.EventID != q.Value, q.Key == "EventName" && ev.EventName != q.Value,
			q.Key == "EventSource" && ev.EventSource != q.Value,
			q.AfterID != "" && (t.After(q.AfterTime) || t.Equal(q.AfterTime) && ev.EventID >= q.AfterID):
			continue
		}
		out = append(out, ev)
	}
	slices.SortFunc(out, func(a, b event.Event) int {
		return cmp.Or(b.EventTime.Compare(a.EventTime), strings.Compare(b.EventID, a.EventID))
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// newInsightsDataEnv serves ListInsightsData over trails of acct1: "data"
// in us-east-1 with call-rate Insights on data events, "multi"
// (multi-region, home us-east-1) with both types on data events, "mgmt"
// with Insights on management events only; and acct2's "data".
func newInsightsDataEnv(t *testing.T, mutate func(*Options)) (*env, *fakeInsightsData) {
	t.Helper()
	cat, f := insightsDataFixtures(t)
	e := newEnv(t, func(o *Options) {
		o.Trails, o.InsightsData = cat, f
		if mutate != nil {
			mutate(o)
		}
	})
	return e, f
}

// insightsDataFixtures are the catalogue of newInsightsDataEnv and an
// empty index.
func insightsDataFixtures(t testing.TB) (*catalog.Catalog, *fakeInsightsData) {
	t.Helper()
	dir := t.TempDir()
	data := []string{"Data"}
	seedFile(t, dir, catalog.FileName, map[string]any{"version": 1, "trails": []catalog.Trail{
		{Name: "data", Account: acct1, HomeRegion: "us-east-1", S3BucketName: "b", Logging: true,
			InsightSelectors: []catalog.InsightSelector{{InsightType: "ApiCallRateInsight", EventCategories: data}}},
		{Name: "multi", Account: acct1, HomeRegion: "us-east-1", S3BucketName: "b", IsMultiRegionTrail: true,
			InsightSelectors: []catalog.InsightSelector{{InsightType: "ApiCallRateInsight", EventCategories: []string{"Management", "Data"}},
				{InsightType: "ApiErrorRateInsight", EventCategories: data}}},
		{Name: "mgmt", Account: acct1, HomeRegion: "us-east-1", S3BucketName: "b",
			InsightSelectors: []catalog.InsightSelector{{InsightType: "ApiCallRateInsight"}}},
		{Name: "data", Account: acct2, HomeRegion: "us-east-1", S3BucketName: "b",
			InsightSelectors: []catalog.InsightSelector{{InsightType: "ApiCallRateInsight", EventCategories: data}}},
	}})
	cat, err := catalog.Open(dir, catalog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return cat, &fakeInsightsData{}
}

func ids(evs []cttypes.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, aws.ToString(e.EventId))
	}
	return out
}

func TestListInsightsData(t *testing.T) {
	e, f := newInsightsDataEnv(t, nil)
	base := testNow.Truncate(time.Minute)
	r1 := f.add(t, acct1, "us-east-1", "ApiCallRateInsight", "s3.amazonaws.com", "GetObject", base.Add(-3*time.Hour))
	r2 := f.add(t, acct1, "us-east-1", "ApiCallRateInsight", "s3.amazonaws.com", "PutObject", base.Add(-2*time.Hour))
	r3 := f.add(t, acct1, "eu-west-1", "ApiCallRateInsight", "s3.amazonaws.com", "GetObject", base.Add(-1*time.Hour))
	r4 := f.add(t, acct1, "us-east-1", "ApiErrorRateInsight", "lambda.amazonaws.com", "Invoke", base.Add(-30*time.Minute))
	f.add(t, acct2, "us-east-1", "ApiCallRateInsight", "s3.amazonaws.com", "GetObject", base.Add(-time.Hour))
	f.add(t, acct1, "us-east-1", "ApiCallRateInsight", "s3.amazonaws.com", "GetObject", base.Add(-91*24*time.Hour))
	dataARN, multiARN := catalog.ARN("us-east-1", acct1, "data"), catalog.ARN("us-east-1", acct1, "multi")
	c := e.client("AKIDALICE", "us-east-1")
	list := func(t *testing.T, in cloudtrail.ListInsightsDataInput) []string {
		t.Helper()
		out, err := c.ListInsightsData(t.Context(), &in)
		if err != nil {
			t.Fatal(err)
		}
		return ids(out.Events)
	}
	id := func(evs ...event.Event) []string {
		out := []string{}
		for _, ev := range evs {
			out = append(out, ev.EventID)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		in   cloudtrail.ListInsightsDataInput
		want []string
	}{
		{"single-region trail, call rate on data", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(dataARN)}, id(r2, r1)},
		{"multi-region trail, both types", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN)}, id(r4, r3, r2, r1)},
		{"event name", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN), Dimensions: map[string]string{"EventName": "GetObject"}}, id(r3, r1)},
		{"event source", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN), Dimensions: map[string]string{"EventSource": "lambda.amazonaws.com"}}, id(r4)},
		{"event id", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN), Dimensions: map[string]string{"EventId": r2.EventID}}, id(r2)},
		{"time range, inclusive", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN),
			StartTime: aws.Time(r2.EventTime), EndTime: aws.Time(r3.EventTime)}, id(r3, r2)},
		{"start only", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN), StartTime: aws.Time(r3.EventTime.Add(time.Millisecond))}, id(r4)},
		{"end older than 90 days", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN), EndTime: aws.Time(base.Add(-91 * 24 * time.Hour))}, id()},
		{"max results", cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN), MaxResults: aws.Int32(3)}, id(r4, r3, r2)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.DataType = cttypes.ListInsightsDataTypeInsightsEvents
			if diff := gocmp.Diff(tt.want, list(t, tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	q := f.last
	if q.Account != acct1 || q.Regions != nil || !slices.Equal(q.Types, []string{"ApiCallRateInsight", "ApiErrorRateInsight"}) || q.Limit != 4 {
		t.Errorf("last query %+v", q)
	}

	// Paging one at a time, with the SDK's paginator.
	p := cloudtrail.NewListInsightsDataPaginator(c, &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(multiARN),
		DataType: cttypes.ListInsightsDataTypeInsightsEvents, MaxResults: aws.Int32(1)})
	var got []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, ids(out.Events)...)
	}
	if want := id(r4, r3, r2, r1); !slices.Equal(got, want) || pages != 4 {
		t.Errorf("paginator: %d pages %v, want 4 pages %v", pages, got, want)
	}

	// The Event shape: what LookupEvents gives for the record.
	out, err := c.ListInsightsData(t.Context(), &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(dataARN),
		DataType: cttypes.ListInsightsDataTypeInsightsEvents, Dimensions: map[string]string{"EventId": r1.EventID}})
	if err != nil || len(out.Events) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	ev := out.Events[0]
	if aws.ToString(ev.EventName) != "GetObject" || aws.ToString(ev.EventSource) != "s3.amazonaws.com" || !aws.ToTime(ev.EventTime).Equal(r1.EventTime) ||
		aws.ToString(ev.CloudTrailEvent) != string(r1.Raw) || len(ev.Resources) != 0 || ev.ReadOnly != nil || ev.Username != nil {
		t.Errorf("event %+v", ev)
	}
}

func TestListInsightsDataErrors(t *testing.T) {
	e, f := newInsightsDataEnv(t, nil)
	base := testNow.Truncate(time.Minute)
	for i := range 3 {
		f.add(t, acct1, "us-east-1", "ApiCallRateInsight", "s3.amazonaws.com", "GetObject", base.Add(-time.Duration(i)*time.Hour))
	}
	dataARN := catalog.ARN("us-east-1", acct1, "data")
	c := e.client("AKIDALICE", "us-east-1")
	first, err := c.ListInsightsData(t.Context(), &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(dataARN),
		DataType: cttypes.ListInsightsDataTypeInsightsEvents, MaxResults: aws.Int32(1)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("%v %v", first, err)
	}
	token := aws.ToString(first.NextToken)
	in := func(mod func(*cloudtrail.ListInsightsDataInput)) cloudtrail.ListInsightsDataInput {
		in := cloudtrail.ListInsightsDataInput{InsightSource: aws.String(dataARN), DataType: cttypes.ListInsightsDataTypeInsightsEvents}
		mod(&in)
		return in
	}
	for _, tt := range []struct {
		name   string
		client *cloudtrail.Client
		in     cloudtrail.ListInsightsDataInput
		want   string // a word of the message
	}{
		{"empty InsightSource", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.InsightSource = aws.String("") }), "required"},
		{"a name, not an ARN", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.InsightSource = aws.String("data") }), "not an ARN"},
		{"not a trail ARN", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.InsightSource = aws.String("arn:aws:cloudtrail:us-east-1:" + acct1 + ":eventdatastore/x")
		}), "not a trail ARN"},
		{"bad characters", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.InsightSource = aws.String("arn:aws:cloudtrail:us east")
		}), "not valid"},
		{"unknown trail", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.InsightSource = aws.String(catalog.ARN("us-east-1", acct1, "nope"))
		}), "is not a trail of account"},
		{"another account's trail", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.InsightSource = aws.String(catalog.ARN("us-east-1", acct2, "data"))
		}), "is not a trail of account"},
		{"a single-region trail from another region", e.client("AKIDALICE", "eu-west-1"), in(func(*cloudtrail.ListInsightsDataInput) {}), "is not a trail of account"},
		{"no Insights on data events", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.InsightSource = aws.String(catalog.ARN("us-east-1", acct1, "mgmt"))
		}), "no Insights on data events"},
		{"other DataType", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.DataType = "Events" }), "DataType"},
		{"empty Dimensions", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.Dimensions = map[string]string{} }), "exactly one"},
		{"two Dimensions", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.Dimensions = map[string]string{"EventName": "a", "EventSource": "b"}
		}), "exactly one"},
		{"unknown key", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.Dimensions = map[string]string{"Username": "a"} }), "key"},
		{"empty value", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.Dimensions = map[string]string{"EventName": ""} }), "1 to 2000"},
		{"long value", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.Dimensions = map[string]string{"EventName": strings.Repeat("é", 2001)}
		}), "1 to 2000"},
		{"MaxResults 0", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.MaxResults = aws.Int32(0) }), "MaxResults"},
		{"MaxResults 51", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.MaxResults = aws.Int32(51) }), "MaxResults"},
		{"start after end", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.StartTime, in.EndTime = aws.Time(base), aws.Time(base.Add(-time.Second))
		}), "after EndTime"},
		{"start in the future", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.StartTime = aws.Time(testNow.Add(time.Hour)) }), "after EndTime"},
		{"token with other parameters", c, in(func(in *cloudtrail.ListInsightsDataInput) {
			in.NextToken, in.Dimensions = aws.String(token), map[string]string{"EventName": "GetObject"}
		}), "NextToken"},
		{"token of another account", e.client("AKIDOTHER", "us-east-1"), in(func(in *cloudtrail.ListInsightsDataInput) {
			in.InsightSource, in.NextToken = aws.String(catalog.ARN("us-east-1", acct2, "data")), aws.String(token)
		}), "NextToken"},
		{"altered token", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.NextToken = aws.String(token[:len(token)-2] + "AA") }), "NextToken"},
		{"short token", c, in(func(in *cloudtrail.ListInsightsDataInput) { in.NextToken = aws.String("abc") }), "NextToken"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.ListInsightsData(t.Context(), &tt.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" || !strings.Contains(ae.ErrorMessage(), tt.want) {
				t.Errorf("got %v, want InvalidParameterException saying %q", err, tt.want)
			}
		})
	}
	// What the SDK checks before sending: by hand.
	for _, tt := range []struct{ name, body, want string }{
		{"no InsightSource", `{"DataType":"InsightsEvents"}`, "InsightSource is required"},
		{"no DataType", `{"InsightSource":"` + dataARN + `"}`, "DataType is required"},
		{"InsightSource not a string", `{"InsightSource":7,"DataType":"InsightsEvents"}`, ""},
		{"Dimensions not a map of strings", `{"InsightSource":"` + dataARN + `","DataType":"InsightsEvents","Dimensions":{"EventName":1}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, "CloudTrail_20131101.ListInsightsData", tt.body)
			code, msg := wireErr(t, r)
			if r.Status != 400 || tt.want != "" && (code != "InvalidParameterException" || !strings.Contains(msg, tt.want)) {
				t.Errorf("%d %s: %s", r.Status, code, msg)
			}
		})
	}

	// The token goes on with the parameters it was issued for, whatever
	// the page size.
	next, err := c.ListInsightsData(t.Context(), &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(dataARN),
		DataType: cttypes.ListInsightsDataTypeInsightsEvents, NextToken: first.NextToken, MaxResults: aws.Int32(50)})
	if err != nil || len(next.Events) != 2 || next.NextToken != nil {
		t.Errorf("second page: %v %v", next, err)
	}

	// A failing index is a 500, not a parameter error.
	f.err = errDiskOnFire
	_, err = c.ListInsightsData(t.Context(), &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(dataARN), DataType: cttypes.ListInsightsDataTypeInsightsEvents})
	var re *smithy.GenericAPIError
	if err == nil || errors.As(err, &re) && re.Code == "InvalidParameterException" {
		t.Errorf("a failing index: %v", err)
	}
}

func TestListInsightsDataThrottled(t *testing.T) {
	e, _ := newInsightsDataEnv(t, func(o *Options) { o.LookupRateLimit = 1 })
	c := e.client("AKIDALICE", "us-east-1")
	in := &cloudtrail.ListInsightsDataInput{InsightSource: aws.String(catalog.ARN("us-east-1", acct1, "data")), DataType: cttypes.ListInsightsDataTypeInsightsEvents}
	if _, err := c.ListInsightsData(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	// The clock stands still: the bucket is empty.
	_, err := c.ListInsightsData(t.Context(), in)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Errorf("second call: %v, want ThrottlingException", err)
	}
	// LookupEvents has a bucket of its own.
	if _, err := c.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Errorf("LookupEvents after ListInsightsData: %v", err)
	}
}

func TestListInsightsDataUnsupportedWithoutIndex(t *testing.T) {
	e, _ := newInsightsDataEnv(t, func(o *Options) { o.InsightsData = nil })
	_, err := e.client("AKIDALICE", "us-east-1").ListInsightsData(t.Context(), &cloudtrail.ListInsightsDataInput{
		InsightSource: aws.String(catalog.ARN("us-east-1", acct1, "data")), DataType: cttypes.ListInsightsDataTypeInsightsEvents})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnsupportedOperationException" {
		t.Errorf("%v, want UnsupportedOperationException", err)
	}
}

// FuzzListInsightsData sends arbitrary ListInsightsData bodies: the answer
// is a page of events within the range, newest first, or a 400 with
// InvalidParameterException (or SerializationException for JSON that does
// not decode), never a 500 or a panic; a NextToken it returns goes on.
func FuzzListInsightsData(f *testing.F) {
	arn := catalog.ARN("us-east-1", acct1, "multi")
	for _, s := range []string{
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents"}`,
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents","MaxResults":1}`,
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents","Dimensions":{"EventName":"GetObject"},"StartTime":1700000000,"EndTime":1800000000}`,
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents","Dimensions":{"EventId":"00000000-0000-4000-8000-000000000001"}}`,
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents","NextToken":"AQAAAAAA"}`,
		`{"InsightSource":"data","DataType":"InsightsEvents"}`,
		`{"InsightSource":"arn:aws:cloudtrail:us-east-1:` + acct1 + `:trail/mgmt","DataType":"InsightsEvents"}`,
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents","Dimensions":{}}`,
		`{"InsightSource":"` + arn + `","DataType":"InsightsEvents","StartTime":1.5e300}`,
	} {
		f.Add([]byte(s))
	}
	cat, fake := insightsDataFixtures(f)
	base := testNow.Truncate(time.Minute)
	for i := range 5 {
		fake.add(f, acct1, []string{"us-east-1", "eu-west-1"}[i%2], []string{"ApiCallRateInsight", "ApiErrorRateInsight"}[i%2],
			"s3.amazonaws.com", []string{"GetObject", "PutObject"}[i%2], base.Add(-time.Duration(i)*time.Hour))
	}
	h := newTestHandler(f, func(o *Options) {
		o.Trails, o.InsightsData = cat, fake
		o.Now = func() time.Time { return testNow }
	})
	send := func(t *testing.T, body []byte) (int, []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101.ListInsightsData")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240301/us-east-1/cloudtrail/aws4_request, SignedHeaders=host, Signature=0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, resp := send(t, body)
		if code != http.StatusOK {
			var e struct {
				Type string `json:"__type"`
			}
			if code != http.StatusBadRequest || json.Unmarshal(resp, &e) != nil ||
				e.Type != "InvalidParameterException" && e.Type != "SerializationException" {
				t.Fatalf("%d %s", code, resp)
			}
			return
		}
		var out struct {
			Events []struct {
				EventId   string
				EventTime float64
			}
			NextToken *string
		}
		if err := json.Unmarshal(resp, &out); err != nil || out.Events == nil {
			t.Fatalf("200 with %s: %v", resp, err)
		}
		for i := 1; i < len(out.Events); i++ {
			if out.Events[i].EventTime > out.Events[i-1].EventTime {
				t.Fatalf("not newest first: %s", resp)
			}
		}
		if out.NextToken == nil {
			return
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("a token for a body that does not decode: %s", body)
		}
		in["NextToken"] = *out.NextToken
		next, _ := json.Marshal(in)
		if code, resp := send(t, next); code != http.StatusOK {
			t.Fatalf("following the token: %d %s", code, resp)
		}
	})
}
