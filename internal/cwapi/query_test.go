package cwapi

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func queryReq(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=00")
	return r
}

func TestQueryProtocol(t *testing.T) {
	h, ev := newHandler(t)
	now := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	put := url.Values{"Action": {"PutMetricData"}, "Version": {QueryVersion}, "Namespace": {"App"},
		"MetricData.member.1.MetricName": {"Lat"}, "MetricData.member.1.Value": {"5"}, "MetricData.member.1.Timestamp": {now.Format(time.RFC3339)},
		"MetricData.member.1.Dimensions.member.1.Name": {"Host"}, "MetricData.member.1.Dimensions.member.1.Value": {"a"},
		"MetricData.member.2.MetricName": {"Lat"}, "MetricData.member.2.Values.member.1": {"7"}, "MetricData.member.2.Counts.member.1": {"3"},
		"MetricData.member.2.Timestamp":                {now.Format(time.RFC3339)},
		"MetricData.member.2.Dimensions.member.1.Name": {"Host"}, "MetricData.member.2.Dimensions.member.1.Value": {"a"}}
	r := queryReq(put)
	if !h.ServesRequest(r) {
		t.Fatal("a form signed for monitoring is not routed to CloudWatch")
	}
	w := serve(h, r)
	want := `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>` + w.Header().Get("x-amzn-RequestId") + `</RequestId></ResponseMetadata></PutMetricDataResponse>`
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("PutMetricData: %d %s", w.Code, w.Body)
	}
	get := url.Values{"Action": {"GetMetricStatistics"}, "Version": {QueryVersion}, "Namespace": {"App"}, "MetricName": {"Lat"},
		"Dimensions.member.1.Name": {"Host"}, "Dimensions.member.1.Value": {"a"}, "StartTime": {now.Add(-time.Minute).Format(time.RFC3339)},
		"EndTime": {now.Add(time.Minute).Format(time.RFC3339)}, "Period": {"60"}, "Statistics.member.1": {"Sum"}, "Statistics.member.2": {"Maximum"}}
	w = serve(h, queryReq(get))
	if w.Code != 200 {
		t.Fatalf("GetMetricStatistics: %d %s", w.Code, w.Body)
	}
	var out struct {
		Result struct {
			Label      string
			Datapoints []struct {
				Timestamp string
				Sum       float64
				Maximum   float64
				Unit      string
			} `xml:"Datapoints>member"`
		} `xml:"GetMetricStatisticsResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	type dp = struct {
		Timestamp string
		Sum       float64
		Maximum   float64
		Unit      string
	}
	if d := cmp.Diff([]dp{{Timestamp: now.Format("2006-01-02T15:04:05.000Z"), Sum: 26, Maximum: 7, Unit: "None"}}, out.Result.Datapoints); d != "" || out.Result.Label != "Lat" {
		t.Errorf("result (-want +got):\n%s\n%s", d, w.Body)
	}
	if len(ev.got) != 2 {
		t.Errorf("recorded %d events", len(ev.got))
	}
}

func TestQueryErrors(t *testing.T) {
	h, _ := newHandler(t)
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"unknown action", url.Values{"Action": {"PutDashboard"}, "Version": {QueryVersion}}, 400, "InvalidAction"},
		{"other version", url.Values{"Action": {"ListMetrics"}, "Version": {"2010-03-31"}}, 400, "InvalidAction"},
		{"missing alarm", url.Values{"Action": {"SetAlarmState"}, "AlarmName": {"x"}, "StateValue": {"OK"}, "StateReason": {"r"}}, 404, "ResourceNotFound"},
		{"bad number", url.Values{"Action": {"DescribeAlarms"}, "MaxRecords": {"many"}}, 400, "InvalidParameterValue"},
		{"bad timestamp", url.Values{"Action": {"GetMetricStatistics"}, "StartTime": {"yesterday"}}, 400, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, queryReq(tc.form))
			var e struct {
				Type    string `xml:"Error>Type"`
				Code    string `xml:"Error>Code"`
				Message string `xml:"Error>Message"`
			}
			if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if w.Code != tc.status || e.Code != tc.code || e.Type != "Sender" || e.Message == "" {
				t.Errorf("%d %+v, want %d %s", w.Code, e, tc.status, tc.code)
			}
		})
	}
}
