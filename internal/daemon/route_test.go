package daemon

import (
	"net/http/httptest"
	"testing"
)

func TestClassify(t *testing.T) {
	sig := func(service string) string {
		return "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261205/us-east-1/" + service + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
	}
	tests := []struct {
		name    string
		method  string
		target  string
		url     string
		auth    string
		headers map[string]string
		want    service
	}{
		{"cloudtrail long target", "POST", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails", "/", sig("cloudtrail"), nil, svcCloudTrail},
		{"cloudtrail short target", "POST", "CloudTrail_20131101.ListTrails", "/", sig("cloudtrail"), nil, svcCloudTrail},
		{"unknown target goes to cloudtrail's error", "POST", "Foo.Bar", "/", sig("cloudtrail"), nil, svcCloudTrail},
		{"cloudtrail-data", "POST", "", "/PutAuditEvents", sig("cloudtrail-data"), nil, svcCloudTrailData},
		{"cloudtrail-data, unsigned", "POST", "", "/PutAuditEvents", "", nil, svcCloudTrailData},
		{"eventbridge", "POST", "AWSEvents.PutRule", "/", sig("events"), nil, svcEvents},
		{"logs", "POST", "Logs_20140328.CreateLogGroup", "/", sig("logs"), nil, svcLogs},
		{"cloudwatch json", "POST", "GraniteServiceVersion20100801.PutMetricAlarm", "/", sig("monitoring"), nil, svcMonitoringJSON},
		{"cloudwatch cbor", "POST", "", "/service/GraniteServiceVersion20100801/operation/PutMetricData", sig("monitoring"),
			map[string]string{"Smithy-Protocol": "rpc-v2-cbor"}, svcMonitoringCBOR},
		{"sns query", "POST", "", "/", sig("sns"), nil, svcSNS},
		{"cloudwatch query", "POST", "", "/", sig("monitoring"), nil, svcMonitoringQuery},
		{"sns presigned GET", "GET", "", "/?Action=ListTopics&X-Amz-Credential=AKIA%2F20261205%2Fus-east-1%2Fsns%2Faws4_request", "", nil, svcSNS},
		{"s3 signed", "PUT", "", "/bucket/key", sig("s3"), nil, svcS3},
		{"s3 anonymous", "GET", "", "/bucket/key", "", nil, svcS3},
		{"subscribe URL", "GET", "", "/?Action=ConfirmSubscription&TopicArn=a&Token=b", "", nil, svcSNS},
		{"unsubscribe URL", "GET", "", "/?Action=Unsubscribe&SubscriptionArn=a", "", nil, svcSNS},
		{"other unsigned action", "GET", "", "/?Action=ListTopics", "", nil, svcS3},
		{"signing certificate", "GET", "", "/SimpleNotificationService-0123abcd.pem", "", nil, svcSNS},
		{"unknown scope", "POST", "", "/", sig("sqs"), nil, svcUnknown},
		{"unsigned query form", "POST", "", "/", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, svcSNS},
		{"unsigned post elsewhere", "POST", "", "/bucket/key?uploads", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, svcS3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.url, nil)
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := classify(r); got != tc.want {
				t.Errorf("classify = %d, want %d", got, tc.want)
			}
		})
	}
}
