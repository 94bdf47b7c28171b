package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/lake/dashboards"
	"github.com/opentrail/opentrail/internal/lake/queries"
)

// dashLake is the fake query engine as the dashboards engine uses it: a
// statement with "SELEC " is invalid.
type dashLake struct{ *fakeLake }

func (dashLake) CheckQuery(_ context.Context, _, _, stmt string) error {
	if strings.Contains(stmt, "SELEC ") {
		return fmt.Errorf("%w: syntax error at or near \"SELEC\"", queries.ErrInvalidQuery)
	}
	return nil
}

// dashHandler is a handler with a real dashboards engine over dashLake.
func dashHandler(t testing.TB) *Handler {
	t.Helper()
	lk := &fakeLake{}
	eng, err := dashboards.Open(filepath.Join(t.TempDir(), dashboards.FileName), dashboards.Options{Lake: dashLake{lk},
		Stores: func(string, string) []string { return []string{"store-1"} }})
	if err != nil {
		t.Fatal(err)
	}
	return newTestHandler(t, func(o *Options) {
		o.Lake, o.Dashboards = lk, eng
		o.QueryAliases = []QueryAliasResolver{eng.ResolveAlias}
	})
}

// FuzzDashboardOperationBodies: whatever the body, the dashboard
// operations (and StartQuery and DescribeQuery with aliases, and the tag
// operations on dashboards) answer 200 with JSON or a 4xx error envelope.
func FuzzDashboardOperationBodies(f *testing.F) {
	ops := []string{"CreateDashboard", "GetDashboard", "ListDashboards", "UpdateDashboard", "DeleteDashboard", "StartDashboardRefresh",
		"StartQuery", "DescribeQuery", "AddTags", "ListTags"}
	arn := `arn:aws:cloudtrail:us-east-1:` + acct1 + `:dashboard/dash-1`
	for i, s := range []string{
		`{"Name":"dash-1","Widgets":[{"QueryStatement":"SELECT 1 FROM s WHERE eventTime > '?'","QueryParameters":["$StartTime$"],"ViewProperties":{"View":"Table"}}],"TagsList":[{"Key":"k"}]}`,
		`{"DashboardId":"dash-1"}`,
		`{"NamePrefix":"das","Type":"CUSTOM","MaxResults":1}`,
		`{"DashboardId":"` + arn + `","RefreshSchedule":{"Frequency":{"Unit":"HOURS","Value":6},"Status":"ENABLED","TimeOfDay":"01:30"},"TerminationProtectionEnabled":true}`,
		`{"DashboardId":"dash-1"}`,
		`{"DashboardId":"dash-1","QueryParameterValues":{"$StartTime$":"2024-01-01","$Period$":"hour"}}`,
		`{"QueryAlias":"cd-dash-1-1-00000000","QueryParameters":["2024-01-01 00:00:00"]}`,
		`{"QueryAlias":"AWSCloudTrail-Highlights-TopErrors","RefreshId":"1234567890"}`,
		`{"ResourceId":"` + arn + `","TagsList":[{"Key":"a","Value":"b"}]}`,
		`{"ResourceIdList":["` + arn + `"]}`,
	} {
		f.Add(byte(i), []byte(s))
	}
	f.Add(byte(0), []byte(`{"Name":"AWSCloudTrail-Highlights","RefreshSchedule":{"Frequency":{"Unit":"HOURS","Value":6},"Status":"ENABLED"}}`))
	f.Add(byte(0), []byte(`{"Name":"dash-2","Widgets":[{"QueryStatement":"SELEC 1","ViewProperties":{"View":"Table"}}]}`))
	h := dashHandler(f)
	f.Fuzz(func(t *testing.T, op byte, body []byte) {
		fuzzCall(t, h, ops[int(op)%len(ops)], body)
	})
}

// TestDashboardWire checks the JSON a client reads: timestamps as epoch
// numbers, the schedule's nesting, widgets with aliases, and the error
// codes of the model for the dashboard operations' own checks.
func TestDashboardWire(t *testing.T) {
	h := dashHandler(t)
	call := func(op, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "CloudTrail_20131101."+op)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDALICE/20240301/us-east-1/cloudtrail/aws4_request, SignedHeaders=host, Signature=0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %s", op, err, rec.Body)
		}
		return rec.Code, m
	}
	code, m := call("CreateDashboard", `{"Name":"dash-1","Widgets":[{"QueryStatement":"SELECT 1 FROM s WHERE eventTime > '?'","QueryParameters":["$StartTime$"],"ViewProperties":{"View":"Table"}}],
		"RefreshSchedule":{"Frequency":{"Unit":"HOURS","Value":12},"Status":"DISABLED"}}`)
	if code != 200 || m["Type"] != "CUSTOM" || m["RefreshSchedule"].(map[string]any)["Frequency"].(map[string]any)["Value"] != 12.0 {
		t.Fatalf("CreateDashboard: %d %v", code, m)
	}
	w := m["Widgets"].([]any)[0].(map[string]any)
	if a, _ := w["QueryAlias"].(string); !strings.HasPrefix(a, "cd-dash-1-1-") || len(a) != len("cd-dash-1-1-")+8 {
		t.Errorf("QueryAlias %v", w["QueryAlias"])
	}
	code, m = call("GetDashboard", `{"DashboardId":"dash-1"}`)
	if _, ok := m["CreatedTimestamp"].(float64); code != 200 || !ok || m["Status"] != "CREATED" {
		t.Errorf("GetDashboard: %d %v", code, m)
	}
	for _, tc := range []struct{ op, body, code, msg string }{
		{"CreateDashboard", `{"Name":"dash-2","Widgets":[{"QueryStatement":"SELEC 1","ViewProperties":{"View":"Table"}}]}`, codeInvalidQuery, "Widget 1: "},
		{"CreateDashboard", `{"Name":"dash-2","Widgets":[{"QueryStatement":"SELECT 1","QueryParameters":[],"ViewProperties":{"View":"Table"}}]}`, codeValidation, "1 to 10"},
		{"CreateDashboard", `{"Name":"dash-2","RefreshSchedule":{"Status":"ENABLED"}}`, codeValidation, "Frequency is required"},
		{"CreateDashboard", `{"Name":"dash-2","RefreshSchedule":{"Frequency":{"Unit":"WEEKS","Value":1}}}`, codeValidation, "not HOURS or DAYS"},
		{"CreateDashboard", `{"Name":"AWSCloudTrail-Highlights","Widgets":[{"QueryStatement":"SELECT 1","ViewProperties":{"View":"Table"}}],"RefreshSchedule":{"Frequency":{"Unit":"HOURS","Value":6},"Status":"ENABLED"}}`, codeValidation, "leave Widgets out"},
		{"CreateDashboard", `{"Name":"AWSCloudTrail-Highlights","RefreshSchedule":{"Frequency":{"Unit":"HOURS","Value":6},"Status":"DISABLED"}}`, codeValidation, "Status ENABLED"},
		{"GetDashboard", `{"DashboardId":"arn:aws:cloudtrail:us-east-1:` + acct1 + `:trail/dash-1"}`, codeValidation, "not a dashboard ARN"},
		{"ListDashboards", `{"Type":"OTHER"}`, codeValidation, "CUSTOM or MANAGED"},
		{"StartDashboardRefresh", `{"DashboardId":"dash-1","QueryParameterValues":{"x":"1"}}`, codeValidation, "not a query parameter name"},
		{"StartQuery", `{"QueryAlias":"9bad"}`, codeInvalidParameter, "not a query alias"},
		{"StartQuery", `{"QueryAlias":"cd-x","QueryParameters":[]}`, codeInvalidParameter, "1 to 10"},
		{"DescribeQuery", `{"QueryId":"` + fakeQueryID + `","QueryAlias":"x"}`, codeInvalidParameter, "not both"},
	} {
		code, m := call(tc.op, tc.body)
		if code != 400 || m["__type"] != tc.code || !strings.Contains(fmt.Sprint(m["message"]), tc.msg) {
			t.Errorf("%s %s: %d %v, want %s with %q", tc.op, tc.body, code, m, tc.code, tc.msg)
		}
	}
}
