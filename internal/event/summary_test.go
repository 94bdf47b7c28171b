package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/jsonscan"
)

// baseRecord returns the members of a valid management event; cases edit it.
func baseRecord() map[string]any {
	return map[string]any{
		"eventVersion": "1.08",
		"userIdentity": map[string]any{
			"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::123456789012:user/alice",
			"accountId": "123456789012", "accessKeyId": "AKIAEXAMPLE", "userName": "alice",
		},
		"eventTime":          "2023-07-10T11:42:36Z",
		"eventSource":        "s3.amazonaws.com",
		"eventName":          "ListBuckets",
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "203.0.113.1",
		"userAgent":          "aws-cli/2",
		"requestParameters":  nil,
		"responseElements":   nil,
		"requestID":          "REQ",
		"eventID":            "7116c6a1-0000-4000-8000-000000000001",
		"readOnly":           true,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": "123456789012",
		"eventCategory":      "Management",
	}
}

// baseSummary is the Summary of baseRecord.
func baseSummary() Summary {
	return Summary{
		EventID:     "7116c6a1-0000-4000-8000-000000000001",
		EventTime:   time.Date(2023, 7, 10, 11, 42, 36, 0, time.UTC),
		EventName:   "ListBuckets",
		EventSource: "s3.amazonaws.com",
		Account:     "123456789012",
		Region:      "us-east-1",
		Category:    CategoryMgmt,
		EventType:   TypeAPICall,
		ReadOnly:    new(true),
		Username:    "alice",
		AccessKeyID: "AKIAEXAMPLE",
		RequestID:   "REQ",
	}
}

// insightRecord returns the members of an Insights event (insights.md §2).
func insightRecord() map[string]any {
	return map[string]any{
		"eventVersion":       "1.07",
		"eventTime":          "2019-10-17T10:05:00Z",
		"awsRegion":          "us-east-1",
		"eventID":            "aab985f2-3a56-48cc-a8e2-cf9ef2ba3d3a",
		"eventType":          "AwsCloudTrailInsight",
		"recipientAccountId": "012345678901",
		"sharedEventID":      "12edc982-3348-4794-83d3-a3db26525049",
		"insightDetails": map[string]any{
			"state": "Start", "eventSource": "autoscaling.amazonaws.com",
			"eventName": "CompleteLifecycleAction", "insightType": "ApiCallRateInsight",
		},
		"eventCategory": "Insight",
	}
}

// activityRecord returns the members of a record of events from outside
// AWS (lake.md §7.5), wrapping the eventData of lake.md §7.2's example.
func activityRecord() map[string]any {
	return map[string]any{
		"eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
		"eventID": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "eventTime": "2021-10-27T12:13:14Z",
		"awsRegion": "us-east-1", "recipientAccountId": "123456789012",
		"metadata": map[string]any{"ingestionTime": "2021-10-27T12:13:20Z",
			"channelARN": "arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-4cde-8f01-23456789abcd"},
		"eventData": map[string]any{"version": "1.0", "UID": "req-42",
			"userIdentity": map[string]any{"type": "CustomUserIdentity", "principalId": "alice", "details": map[string]any{"team": "ops"}},
			"eventTime":    "2021-10-27T12:13:14Z", "eventName": "Login", "eventSource": "myapp.example.com", "userAgent": "myapp/2.1",
			"requestParameters": map[string]any{"k": "v"}, "sourceIPAddress": "198.51.100.7", "recipientAccountId": "123456789012"},
	}
}

// activitySummary is the Summary of activityRecord.
func activitySummary() Summary {
	return Summary{EventID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", EventTime: time.Date(2021, 10, 27, 12, 13, 14, 0, time.UTC),
		EventName: "Login", EventSource: "myapp.example.com", Account: "123456789012", Region: "us-east-1",
		Category: CategoryActivityAuditLog, EventType: TypeActivityLog}
}

func encode(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	type edit func(m map[string]any)
	set := func(k string, v any) edit { return func(m map[string]any) { m[k] = v } }
	del := func(keys ...string) edit {
		return func(m map[string]any) {
			for _, k := range keys {
				delete(m, k)
			}
		}
	}
	setUI := func(k string, v any) edit {
		return func(m map[string]any) { m["userIdentity"].(map[string]any)[k] = v }
	}
	tests := []struct {
		name    string
		base    func() map[string]any // baseRecord when nil
		edits   []edit
		raw     string // used instead of base and edits when set
		want    func(s *Summary)
		wantErr string // ValidationError.Field, with wantReason a substring of Reason
		reason  string
	}{
		{name: "valid management event", want: func(*Summary) {}},
		{name: "eventTime with fraction and offset: truncated to seconds, UTC",
			edits: []edit{set("eventTime", "2023-07-10T13:42:36.987654321+02:00")},
			want:  func(s *Summary) { s.EventTime = time.Date(2023, 7, 10, 11, 42, 36, 0, time.UTC) }},
		{name: "missing eventTime", edits: []edit{del("eventTime")}, wantErr: "eventTime", reason: "missing"},
		{name: "null eventTime", edits: []edit{set("eventTime", nil)}, wantErr: "eventTime", reason: "missing"},
		{name: "eventTime with a space", edits: []edit{set("eventTime", "2023-07-10 11:42:36")}, wantErr: "eventTime", reason: "ISO 8601"},
		{name: "eventTime in basic notation", edits: []edit{set("eventTime", "20230710T114236Z")}, wantErr: "eventTime", reason: "ISO 8601"},
		{name: "eventTime without zone", edits: []edit{set("eventTime", "2023-07-10T11:42:36")}, wantErr: "eventTime", reason: "ISO 8601"},
		{name: "empty eventTime", edits: []edit{set("eventTime", "")}, wantErr: "eventTime", reason: "ISO 8601"},
		{name: "eventTime as epoch number", edits: []edit{set("eventTime", 1688989356)}, wantErr: "eventTime", reason: "JSON number, want string"},
		{name: "missing eventID", edits: []edit{del("eventID")}, wantErr: "eventID", reason: "missing"},
		{name: "empty eventID", edits: []edit{set("eventID", "")}, wantErr: "eventID", reason: "missing"},
		{name: "eventID of 128 characters", edits: []edit{set("eventID", strings.Repeat("a", 128))},
			want: func(s *Summary) { s.EventID = strings.Repeat("a", 128) }},
		{name: "eventID of 129 characters", edits: []edit{set("eventID", strings.Repeat("a", 129))}, wantErr: "eventID", reason: "128"},
		{name: "missing awsRegion", edits: []edit{del("awsRegion")}, wantErr: "awsRegion", reason: "missing"},
		{name: "upper-case awsRegion", edits: []edit{set("awsRegion", "US-EAST-1")}, wantErr: "awsRegion", reason: "not a region"},
		{name: "awsRegion with underscore", edits: []edit{set("awsRegion", "us_east_1")}, wantErr: "awsRegion", reason: "not a region"},
		{name: "region AWS does not have is kept", edits: []edit{set("awsRegion", "mars-north-1")},
			want: func(s *Summary) { s.Region = "mars-north-1" }},
		{name: "account from recipientAccountId over userIdentity",
			edits: []edit{set("recipientAccountId", "111111111111")},
			want:  func(s *Summary) { s.Account = "111111111111" }},
		{name: "account falls back to userIdentity.accountId",
			edits: []edit{del("recipientAccountId"), setUI("accountId", "222222222222")},
			want:  func(s *Summary) { s.Account = "222222222222" }},
		{name: "empty recipientAccountId falls back too",
			edits: []edit{set("recipientAccountId", ""), setUI("accountId", "222222222222")},
			want:  func(s *Summary) { s.Account = "222222222222" }},
		{name: "account missing everywhere", edits: []edit{del("recipientAccountId"), setUI("accountId", nil)},
			wantErr: "recipientAccountId", reason: "missing"},
		{name: "account missing, no userIdentity", edits: []edit{del("recipientAccountId", "userIdentity")},
			wantErr: "recipientAccountId", reason: "missing"},
		{name: "invalid recipientAccountId", edits: []edit{set("recipientAccountId", "12345")},
			wantErr: "recipientAccountId", reason: "12-digit"},
		{name: "invalid fallback userIdentity.accountId", edits: []edit{del("recipientAccountId"), setUI("accountId", "ANONYMOUS")},
			wantErr: "userIdentity.accountId", reason: "12-digit"},
		{name: "recipientAccountId as number", edits: []edit{set("recipientAccountId", 123456789012)},
			wantErr: "recipientAccountId", reason: "JSON number"},
		{name: "missing eventSource", edits: []edit{del("eventSource")}, wantErr: "eventSource", reason: "missing"},
		{name: "missing eventName", edits: []edit{del("eventName")}, wantErr: "eventName", reason: "missing"},
		{name: "member names are case-sensitive", edits: []edit{del("eventName"), set("EventName", "X")},
			wantErr: "eventName", reason: "missing"},
		{name: "a differently cased duplicate is ignored", edits: []edit{set("EVENTNAME", "X")}, want: func(*Summary) {}},
		{name: "escaped member name", raw: `{"event\u004eame":"Esc","eventTime":"2023-07-10T11:42:36Z","eventSource":"s","eventID":"e","awsRegion":"us-east-1","recipientAccountId":"123456789012"}`,
			want: func(s *Summary) {
				*s = Summary{EventID: "e", EventTime: baseSummary().EventTime, EventName: "Esc", EventSource: "s",
					Account: "123456789012", Region: "us-east-1", Category: CategoryMgmt}
			}},
		{name: "duplicate member: the last wins", raw: `{"eventName":5,"eventName":"Second","eventTime":"2023-07-10T11:42:36Z","eventSource":"s","eventID":"e","awsRegion":"us-east-1","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","userName":"a"},"userIdentity":{"type":"Root"}}`,
			want: func(s *Summary) {
				*s = Summary{EventID: "e", EventTime: baseSummary().EventTime, EventName: "Second", EventSource: "s",
					Account: "123456789012", Region: "us-east-1", Category: CategoryMgmt, Username: "root"}
			}},
		{name: "not an object: array", raw: `[{"eventName":"X"}]`, wantErr: "", reason: "not a JSON object"},
		{name: "not an object: string", raw: `"x"`, wantErr: "", reason: "not a JSON object"},
		{name: "not an object: null", raw: `null`, wantErr: "", reason: "not a JSON object"},
		{name: "invalid JSON: truncated", raw: `{"eventName":"X"`, wantErr: "", reason: "not valid JSON"},
		{name: "invalid JSON: trailing data", raw: `{} {}`, wantErr: "", reason: "not valid JSON"},
		{name: "invalid JSON: only whitespace", raw: " ", wantErr: "", reason: "not valid JSON"},
		{name: "invalid JSON: bad escape", raw: `{"eventName":"\x"}`, wantErr: "", reason: "not valid JSON"},
		{name: "over 256 KB", edits: []edit{set("requestParameters", map[string]any{"blob": strings.Repeat("x", MaxRecordSize)})},
			wantErr: "", reason: "256 KB"},
		{name: "userIdentity not an object", edits: []edit{set("userIdentity", "alice")}, wantErr: "userIdentity", reason: "JSON string, want object"},
		{name: "userIdentity.type not a string", edits: []edit{setUI("type", 3)}, wantErr: "userIdentity.type", reason: "JSON number"},
		{name: "readOnly as string", edits: []edit{set("readOnly", "true")}, wantErr: "readOnly", reason: "JSON string, want boolean"},
		{name: "resources not an array", edits: []edit{set("resources", map[string]any{})}, wantErr: "resources", reason: "want array"},
		{name: "resources element not an object", edits: []edit{set("resources", []any{"arn:x"})}, wantErr: "resources[0]", reason: "want object"},
		{name: "resources ARN not a string", edits: []edit{set("resources", []any{map[string]any{}, map[string]any{"ARN": 1}})},
			wantErr: "resources[1].ARN", reason: "JSON number"},
		{name: "null members are absent",
			edits: []edit{set("readOnly", nil), set("eventCategory", nil), set("managementEvent", nil), set("userIdentity", nil), set("resources", nil)},
			want:  func(s *Summary) { s.ReadOnly, s.Username, s.AccessKeyID = nil, "", "" }},
		{name: "readOnly false", edits: []edit{set("readOnly", false)}, want: func(s *Summary) { s.ReadOnly = new(false) }},
		{name: "readOnly absent", edits: []edit{del("readOnly")}, want: func(s *Summary) { s.ReadOnly = nil }},
		{name: "empty accessKeyId", edits: []edit{setUI("accessKeyId", "")}, want: func(s *Summary) { s.AccessKeyID = "" }},
		{name: "S3: the bucket by name, from requestParameters",
			edits: []edit{set("requestParameters", map[string]any{"bucketName": "my-bucket", "Host": "h"}),
				set("resources", []any{map[string]any{"ARN": "arn:aws:s3:::my-bucket", "type": "AWS::S3::Bucket"}})},
			want: func(s *Summary) {
				s.Resources = []LookupResource{{ResourceType: "AWS::S3::Bucket", ResourceName: "arn:aws:s3:::my-bucket"}}
				s.LookupResources = []LookupResource{{ResourceType: "AWS::S3::Bucket", ResourceName: "my-bucket"}}
			}},
		{name: "S3 without a bucket (ListBuckets): no lookup resources",
			edits: []edit{set("resources", []any{map[string]any{"ARN": "arn:aws:s3:::x", "type": "AWS::S3::Bucket"}})},
			want: func(s *Summary) {
				s.Resources = []LookupResource{{ResourceType: "AWS::S3::Bucket", ResourceName: "arn:aws:s3:::x"}}
			}},
		{name: "resources: ARN or ARNPrefix, empty elements skipped",
			edits: []edit{set("eventSource", "ec2.amazonaws.com"), set("resources", []any{
				map[string]any{"ARN": "arn:aws:s3:::bucket", "accountId": "123456789012", "type": "AWS::S3::Bucket"},
				map[string]any{"ARNPrefix": "arn:aws:s3:::bucket/logs/", "type": "AWS::S3::Object"},
				map[string]any{"accountId": "123456789012"},
				nil,
				map[string]any{"ARN": "arn:aws:iam::123456789012:role/r"},
				map[string]any{"ARN": "arn:a", "ARNPrefix": "arn:b", "type": "T"},
			})},
			want: func(s *Summary) {
				s.EventSource = "ec2.amazonaws.com"
				s.Resources = []LookupResource{
					{ResourceType: "AWS::S3::Bucket", ResourceName: "arn:aws:s3:::bucket"},
					{ResourceType: "AWS::S3::Object", ResourceName: "arn:aws:s3:::bucket/logs/"},
					{ResourceName: "arn:aws:iam::123456789012:role/r"},
					{ResourceType: "T", ResourceName: "arn:a"},
				}
			}},
		{name: "explicit eventCategory wins", edits: []edit{set("eventCategory", "Data"), set("managementEvent", true)},
			want: func(s *Summary) { s.Category = CategoryData }},
		{name: "managementEvent false means Data", edits: []edit{del("eventCategory"), set("managementEvent", false)},
			want: func(s *Summary) { s.Category = CategoryData }},
		{name: "managementEvent true means Management", edits: []edit{del("eventCategory")}, want: func(*Summary) {}},
		{name: "old record without category is Management", edits: []edit{del("eventCategory", "managementEvent"), set("eventVersion", "1.05")},
			want: func(*Summary) {}},
		{name: "AwsVpceEvent is NetworkActivity", edits: []edit{del("eventCategory", "managementEvent"), set("eventType", "AwsVpceEvent")},
			want: func(s *Summary) { s.Category, s.EventType = CategoryNetwork, TypeVpceEvent }},
		{name: "Insights: names from insightDetails", base: insightRecord,
			want: func(s *Summary) {
				*s = Summary{EventID: "aab985f2-3a56-48cc-a8e2-cf9ef2ba3d3a", EventTime: time.Date(2019, 10, 17, 10, 5, 0, 0, time.UTC),
					EventName: "CompleteLifecycleAction", EventSource: "autoscaling.amazonaws.com",
					Account: "012345678901", Region: "us-east-1", Category: CategoryInsight, EventType: TypeInsight}
			}},
		{name: "Insights: category from eventType", base: insightRecord, edits: []edit{del("eventCategory")},
			want: func(s *Summary) {
				*s = Summary{EventID: "aab985f2-3a56-48cc-a8e2-cf9ef2ba3d3a", EventTime: time.Date(2019, 10, 17, 10, 5, 0, 0, time.UTC),
					EventName: "CompleteLifecycleAction", EventSource: "autoscaling.amazonaws.com",
					Account: "012345678901", Region: "us-east-1", Category: CategoryInsight, EventType: TypeInsight}
			}},
		{name: "Insights: top-level eventName ignored", base: insightRecord, edits: []edit{set("eventName", "Other"), set("eventSource", "other")},
			want: func(s *Summary) {
				*s = Summary{EventID: "aab985f2-3a56-48cc-a8e2-cf9ef2ba3d3a", EventTime: time.Date(2019, 10, 17, 10, 5, 0, 0, time.UTC),
					EventName: "CompleteLifecycleAction", EventSource: "autoscaling.amazonaws.com",
					Account: "012345678901", Region: "us-east-1", Category: CategoryInsight, EventType: TypeInsight}
			}},
		{name: "Insights: insightDetails missing", base: insightRecord, edits: []edit{del("insightDetails")},
			wantErr: "insightDetails", reason: "missing"},
		{name: "Insights: insightDetails.eventName missing", base: insightRecord,
			edits:   []edit{set("insightDetails", map[string]any{"eventSource": "ec2.amazonaws.com"})},
			wantErr: "insightDetails.eventName", reason: "missing"},
		{name: "Insights: insightDetails not an object", base: insightRecord, edits: []edit{set("insightDetails", []any{})},
			wantErr: "insightDetails", reason: "want object"},
		{name: "ActivityAuditLog: names from eventData", base: activityRecord,
			want: func(s *Summary) { *s = activitySummary() }},
		{name: "ActivityAuditLog: top-level eventName ignored", base: activityRecord,
			edits: []edit{set("eventName", "Other"), set("eventSource", "other")},
			want:  func(s *Summary) { *s = activitySummary() }},
		{name: "ActivityAuditLog: eventData.userIdentity is not the record's", base: activityRecord,
			edits: []edit{set("userIdentity", map[string]any{"type": "IAMUser", "userName": "bob"})},
			want: func(s *Summary) {
				*s = activitySummary()
				s.Username = "bob"
			}},
		{name: "ActivityAuditLog: eventData missing", base: activityRecord, edits: []edit{del("eventData")},
			wantErr: "eventData", reason: "missing"},
		{name: "ActivityAuditLog: eventData null", base: activityRecord, edits: []edit{set("eventData", nil)},
			wantErr: "eventData", reason: "missing"},
		{name: "ActivityAuditLog: eventData a string", base: activityRecord, edits: []edit{set("eventData", "{}")},
			wantErr: "eventData", reason: "want object"},
		{name: "ActivityAuditLog: eventData.eventName missing", base: activityRecord,
			edits:   []edit{set("eventData", map[string]any{"eventSource": "myapp.example.com"})},
			wantErr: "eventData.eventName", reason: "missing"},
		{name: "ActivityAuditLog: eventData.eventSource a number", base: activityRecord,
			edits:   []edit{set("eventData", map[string]any{"eventSource": 5, "eventName": "Login"})},
			wantErr: "eventData.eventSource", reason: "JSON number"},
		{name: "ActivityAuditLog: recipientAccountId names the account", base: activityRecord,
			edits: []edit{set("recipientAccountId", "12345")}, wantErr: "recipientAccountId", reason: "12-digit"},
		{name: "eventData of another category is not read", edits: []edit{set("eventData", "not an object")},
			want: func(*Summary) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.raw)
			if tt.raw == "" {
				base := baseRecord
				if tt.base != nil {
					base = tt.base
				}
				m := base()
				for _, e := range tt.edits {
					e(m)
				}
				raw = encode(t, m)
			}
			ev, err := Parse(raw)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Parse succeeded, want an error about %q", tt.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
				}
				ve, ok := errors.AsType[*ValidationError](err)
				if !ok {
					t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
				}
				if ve.Field != tt.wantErr || !strings.Contains(ve.Reason, tt.reason) {
					t.Errorf("error = {Field: %q, Reason: %q}, want Field %q and a Reason containing %q", ve.Field, ve.Reason, tt.wantErr, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := baseSummary()
			tt.want(&want)
			if want.EventSource != "s3.amazonaws.com" && want.LookupResources == nil {
				want.LookupResources = want.Resources // no extractor of its own
			}
			if diff := cmp.Diff(want, ev.Summary); diff != "" {
				t.Errorf("Summary (-want +got):\n%s", diff)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ev.Raw, compact.Bytes()) {
				t.Errorf("Raw is not the compact input:\n got %s\nwant %s", ev.Raw, compact.Bytes())
			}
		})
	}
}

// TestParseRaw checks the bytes Parse keeps: the compact form of its input,
// in memory of its own.
func TestParseRaw(t *testing.T) {
	const compact = `{"eventTime":"2023-07-10T11:42:36Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1",` +
		`"userAgent":"aws-cli/2 Python/3 \"x\" \\","requestParameters":{"a":[1, 2]},"eventID":"e1","recipientAccountId":"123456789012"}`
	// The space in [1, 2] is inside a nested value, so compact is not
	// compact; wantRaw is.
	wantRaw := strings.Replace(compact, "[1, 2]", "[1,2]", 1)
	tests := []struct {
		name string
		in   string
	}{
		{"already compact", wantRaw},
		{"space in a nested array", compact},
		{"indented", "\n  " + strings.ReplaceAll(wantRaw, `","`, "\",\n    \"") + "\n"},
		{"tab and CR", "{\t\"eventTime\":\r\n" + strings.TrimPrefix(wantRaw, `{"eventTime":`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			ev, err := Parse(in)
			if err != nil {
				t.Fatal(err)
			}
			if string(ev.Raw) != wantRaw {
				t.Errorf("Raw:\n got %s\nwant %s", ev.Raw, wantRaw)
			}
			// Parse must not keep a reference to its input.
			for i := range in {
				in[i] = 'X'
			}
			if string(ev.Raw) != wantRaw {
				t.Errorf("Raw changed with the input: %s", ev.Raw)
			}
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	build := func(pad int, indent bool) []byte {
		m := baseRecord()
		m["requestParameters"] = map[string]any{"p": ""}
		b := encode(t, m)
		// Grow the "p" string so the compact record is pad bytes.
		b = bytes.Replace(b, []byte(`"p":""`), []byte(`"p":"`+strings.Repeat("x", pad-len(b))+`"`), 1)
		if indent {
			var out bytes.Buffer
			if err := json.Indent(&out, b, "", "        "); err != nil {
				t.Fatal(err)
			}
			b = out.Bytes()
		}
		return b
	}
	tests := []struct {
		name   string
		size   int
		indent bool
		ok     bool
	}{
		{"exactly 256 KB", MaxRecordSize, false, true},
		{"one byte over", MaxRecordSize + 1, false, false},
		{"indented, compact form at the limit", MaxRecordSize, true, true},
		{"indented, compact form over", MaxRecordSize + 1, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := build(tt.size, tt.indent)
			ev, err := Parse(raw)
			if tt.ok {
				if err != nil {
					t.Fatalf("Parse(%d bytes): %v", len(raw), err)
				}
				if len(ev.Raw) != tt.size {
					t.Errorf("len(Raw) = %d, want %d", len(ev.Raw), tt.size)
				}
				return
			}
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || ve.Field != "" || !strings.Contains(ve.Reason, "256 KB") {
				t.Errorf("Parse(%d bytes) error = %v, want the 256 KB limit", len(raw), err)
			}
		})
	}
}

// TestParseRealData parses every record of the corpus: all AWS
// records are accepted, the Logstash-reshaped otrf ones are rejected for
// their missing eventTime, and the extracted members agree with a plain
// encoding/json decoding.
func TestParseRealData(t *testing.T) {
	for _, rr := range realRecords(t) {
		ev, err := Parse(rr.raw)
		if rr.set == "otrf" {
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || ve.Field != "eventTime" {
				t.Errorf("%s: Parse error = %v, want a ValidationError for eventTime", rr.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", rr.name, err)
			continue
		}
		want, err := refDecode(ev.Raw)
		if err != nil {
			t.Fatalf("%s: reference decode: %v", rr.name, err)
		}
		var got summaryDoc
		if err := got.decode(ev.Raw); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: decoded members (-encoding/json +Parse):\n%s", rr.name, diff)
		}
		if ev.EventTime.Location() != time.UTC || ev.EventTime.Nanosecond() != 0 {
			t.Errorf("%s: EventTime %v is not whole seconds in UTC", rr.name, ev.EventTime)
		}
		if FormatTime(ev.EventTime) != *want.EventTime {
			t.Errorf("%s: EventTime %v, record has %s", rr.name, ev.EventTime, *want.EventTime)
		}
		if ev.InEventHistory() != (ev.Category == CategoryMgmt) {
			t.Errorf("%s: InEventHistory = %v for category %s", rr.name, ev.InEventHistory(), ev.Category)
		}
	}
}

// TestParseRealSummaries spot-checks Summaries of real records.
func TestParseRealSummaries(t *testing.T) {
	tests := []struct {
		name       string
		set        string
		substrings []string
		want       func(s Summary) string // "" when s is as expected
	}{
		{"invictus IAMUser benjamin", "invictus", []string{`"userName":"benjamin"`, `"type":"IAMUser"`},
			func(s Summary) string {
				if s.Username != "benjamin" || s.Account != "123837392027" || s.Region != "us-east-1" || s.Category != CategoryMgmt {
					return "want Username benjamin, account 123837392027, us-east-1, Management"
				}
				return ""
			}},
		{"invictus AwsServiceEvent without userIdentity.type", "invictus", []string{`"eventType":"AwsServiceEvent"`},
			func(s Summary) string {
				if s.Account != "123837392027" || s.Category != CategoryMgmt {
					return "want account 123837392027 and Management"
				}
				return ""
			}},
		{"invictus console sign-in", "invictus", []string{`"eventType":"AwsConsoleSignIn"`, `"eventName":"ConsoleLogin"`},
			func(s Summary) string {
				if s.EventName != "ConsoleLogin" || s.EventSource != "signin.amazonaws.com" || s.Username == "" {
					return "want ConsoleLogin from signin.amazonaws.com with a Username"
				}
				return ""
			}},
		{"invictus assumed role", "invictus", []string{`"type":"AssumedRole"`},
			func(s Summary) string {
				if s.Username == "" || strings.Contains(s.Username, "/") {
					return "want the session name as Username"
				}
				return ""
			}},
		{"traildiscover error record", "traildiscover", []string{`"errorCode"`},
			func(s Summary) string {
				if s.Account != "111111111111" {
					return "want account 111111111111"
				}
				return ""
			}},
		{"traildiscover resources", "traildiscover", []string{`"resources":[`},
			func(s Summary) string {
				if len(s.Resources) == 0 {
					return "want Resources"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := findReal(t, tt.set, tt.substrings...)
			ev, err := Parse(rr.raw)
			if err != nil {
				t.Fatalf("%s: %v", rr.name, err)
			}
			if msg := tt.want(ev.Summary); msg != "" {
				t.Errorf("%s: %s; got %+v", rr.name, msg, ev.Summary)
			}
		})
	}
}

// refDecode is the reference for summaryDoc.decode: plain encoding/json,
// with maps so that member names match exactly and the last duplicate wins.
func refDecode(b []byte) (summaryDoc, error) {
	var d summaryDoc
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return d, err
	}
	str := func(raw json.RawMessage, dst *string) error {
		if raw == nil {
			return nil
		}
		var p *string
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		*dst = ""
		if p != nil {
			*dst = *p
		}
		return nil
	}
	strPtr := func(raw json.RawMessage, dst **string) error {
		if raw == nil {
			return nil
		}
		return json.Unmarshal(raw, dst)
	}
	boolPtr := func(raw json.RawMessage, dst **bool) error {
		if raw == nil {
			return nil
		}
		return json.Unmarshal(raw, dst)
	}
	object := func(raw json.RawMessage) (map[string]json.RawMessage, error) {
		var o map[string]json.RawMessage
		if raw == nil {
			return nil, nil
		}
		err := json.Unmarshal(raw, &o)
		return o, err
	}
	var errs []error
	errs = append(errs,
		strPtr(m["eventVersion"], &d.EventVersion),
		strPtr(m["eventTime"], &d.EventTime),
		str(m["eventSource"], &d.EventSource),
		str(m["eventName"], &d.EventName),
		str(m["awsRegion"], &d.AWSRegion),
		str(m["eventID"], &d.EventID),
		str(m["eventType"], &d.EventType),
		str(m["eventCategory"], &d.EventCategory),
		boolPtr(m["readOnly"], &d.ReadOnly),
		boolPtr(m["managementEvent"], &d.ManagementEvent),
		str(m["recipientAccountId"], &d.RecipientAccountID),
	)
	// errorCode and requestID are read leniently: only strings count.
	lenient := func(raw json.RawMessage, dst *string) {
		var s string
		if raw != nil && json.Unmarshal(raw, &s) == nil {
			*dst = s
		}
	}
	lenient(m["errorCode"], &d.ErrorCode)
	lenient(m["requestID"], &d.RequestID)
	var rp map[string]json.RawMessage
	if json.Unmarshal(m["requestParameters"], &rp) == nil {
		lenient(rp["bucketName"], &d.BucketName)
	}
	ui, err := object(m["userIdentity"])
	errs = append(errs, err)
	if ui != nil {
		u := new(docIdentity)
		d.UserIdentity = u
		errs = append(errs,
			str(ui["type"], &u.Type), str(ui["principalId"], &u.PrincipalID), str(ui["arn"], &u.ARN),
			str(ui["accountId"], &u.AccountID), str(ui["accessKeyId"], &u.AccessKeyID),
			str(ui["userName"], &u.UserName), str(ui["invokedBy"], &u.InvokedBy))
	}
	if raw := m["resources"]; raw != nil {
		var elems []json.RawMessage
		errs = append(errs, json.Unmarshal(raw, &elems))
		if elems != nil {
			d.Resources = []docResource{}
		}
		for _, e := range elems {
			o, err := object(e)
			errs = append(errs, err)
			var r docResource
			errs = append(errs, str(o["ARN"], &r.ARN), str(o["ARNPrefix"], &r.ARNPrefix), str(o["type"], &r.Type))
			d.Resources = append(d.Resources, r)
		}
	}
	d.EventData = m["eventData"]
	in, err := object(m["insightDetails"])
	errs = append(errs, err)
	if in != nil {
		d.InsightDetails = new(docInsight)
		errs = append(errs, str(in["eventName"], &d.InsightDetails.EventName), str(in["eventSource"], &d.InsightDetails.EventSource))
	}
	return d, errors.Join(errs...)
}

func TestDeriveUsername(t *testing.T) {
	tests := []struct {
		name                          string
		typ, userName, arn, invokedBy string
		want                          string
	}{
		{"IAMUser", "IAMUser", "Alice", "arn:aws:iam::123456789012:user/Alice", "", "Alice"},
		{"IAMUser with a path: userName, not the ARN", "IAMUser", "Alice", "arn:aws:iam::123456789012:user/division/Alice", "", "Alice"},
		{"IAMUser invoked by a service", "IAMUser", "Alice", "arn:aws:iam::123456789012:user/Alice", "signin.amazonaws.com", "Alice"},
		{"AssumedRole: session name from the ARN", "AssumedRole", "", "arn:aws:sts::123456789012:assumed-role/RoleToBeAssumed/MySessionName", "", "MySessionName"},
		{"AssumedRole: email session name", "AssumedRole", "", "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1234/jane@example.com", "", "jane@example.com"},
		{"AssumedRole without ARN: userName", "AssumedRole", "x", "", "", "x"},
		{"AssumedRole with ARN ending in a slash", "AssumedRole", "", "arn:aws:sts::123456789012:assumed-role/R/", "", ""},
		{"Root without alias", "Root", "", "arn:aws:iam::123456789012:root", "", "root"},
		{"Root with alias", "Root", "my-alias", "arn:aws:iam::123456789012:root", "", "my-alias"},
		{"FederatedUser", "FederatedUser", "", "arn:aws:sts::123456789012:federated-user/Bob", "", "Bob"},
		{"AWSService: invokedBy", "AWSService", "", "", "cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com"},
		{"AWSService without invokedBy", "AWSService", "", "", "", ""},
		{"SAMLUser", "SAMLUser", "SamlExample", "", "", "SamlExample"},
		{"WebIdentityUser", "WebIdentityUser", "user-id", "", "", "user-id"},
		{"unknown type with userName", "IdentityCenterUser", "jane", "", "", "jane"},
		{"unknown type without userName", "AWSAccount", "", "", "s3.amazonaws.com", ""},
		{"no type (AwsServiceEvent)", "", "", "", "ec2.amazonaws.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DeriveUsername(tt.typ, tt.userName, tt.arn, tt.invokedBy); got != tt.want {
				t.Errorf("DeriveUsername(%q, %q, %q, %q) = %q, want %q", tt.typ, tt.userName, tt.arn, tt.invokedBy, got, tt.want)
			}
		})
	}
}

// TestDeriveUsernameRealData checks Username on every real record against
// the identity it came from.
func TestDeriveUsernameRealData(t *testing.T) {
	seen := map[string]int{}
	for _, rr := range realRecords(t) {
		var r Record
		if err := json.Unmarshal(rr.raw, &r); err != nil {
			t.Fatalf("%s: %v", rr.name, err)
		}
		if r.UserIdentity == nil || rr.set == "otrf" {
			continue
		}
		ev, err := Parse(rr.raw)
		if err != nil {
			t.Fatalf("%s: %v", rr.name, err)
		}
		u := r.UserIdentity
		seen[u.Type]++
		var want string
		switch u.Type {
		case "IAMUser":
			want = u.UserName
		case "AssumedRole":
			// The session name: the ARN's last segment, which is also the
			// part of principalId after ':' (traildiscover redacts the
			// latter).
			want = u.ARN[strings.LastIndexByte(u.ARN, '/')+1:]
			if _, session, _ := strings.Cut(u.PrincipalID, ":"); rr.set == "invictus" && session != want {
				t.Errorf("%s: principalId %q and arn %q name different sessions", rr.name, u.PrincipalID, u.ARN)
			}
		case "Root":
			want = cmpOr(u.UserName, "root")
		case "AWSService":
			want = u.InvokedBy
		default:
			want = u.UserName
		}
		if ev.Username != want {
			t.Errorf("%s: %s identity: Username = %q, want %q", rr.name, u.Type, ev.Username, want)
		}
	}
	for _, typ := range []string{"IAMUser", "AssumedRole", "AWSService"} {
		if seen[typ] == 0 {
			t.Errorf("no real record with a %s identity", typ)
		}
	}
}

func TestValidRegion(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"us-east-1", true},
		{"eu-central-2", true},
		{"us-gov-west-1", true},
		{"cn-north-1", true},
		{"ap-southeast-5", true},
		{"mars-north-1", true}, // not AWS's, but kept
		{"a", true},
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 33), false},
		{"", false},
		{"US-EAST-1", false},
		{"us_east_1", false},
		{"1us-east", false},
		{"-us-east-1", false},
		{"us-east-1 ", false},
		{"us east 1", false},
		{"us-east-1\n", false},
		{"üs-east-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ValidRegion(tt.in); got != tt.want {
				t.Errorf("ValidRegion(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestValidAccountID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"123456789012", true},
		{"000000000000", true},
		{"012345678901", true},
		{"12345678901", false},
		{"1234567890123", false},
		{"", false},
		{"12345678901a", false},
		{"ANONYMOUS_PR", false},
		{"-12345678901", false},
		{"１２３４５６７８９０１２", false}, // full-width digits
		{"123456 89012", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ValidAccountID(tt.in); got != tt.want {
				t.Errorf("ValidAccountID(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSummaryCategoryHelpers(t *testing.T) {
	tests := []struct {
		category         string
		insight, history bool
	}{
		{CategoryMgmt, false, true},
		{CategoryInsight, true, true},
		{CategoryData, false, false},
		{CategoryNetwork, false, false},
		{CategoryActivityAuditLog, false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		t.Run(cmpOr(tt.category, "empty"), func(t *testing.T) {
			s := Summary{Category: tt.category}
			if s.Insight() != tt.insight || s.InEventHistory() != tt.history {
				t.Errorf("Insight() = %v, InEventHistory() = %v; want %v, %v", s.Insight(), s.InEventHistory(), tt.insight, tt.history)
			}
			if aal := tt.category == CategoryActivityAuditLog; s.ActivityAuditLog() != aal {
				t.Errorf("ActivityAuditLog() = %v, want %v", s.ActivityAuditLog(), aal)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	tests := []struct {
		err  *ValidationError
		want string
	}{
		{&ValidationError{Field: "eventTime", Reason: "missing"}, "invalid record: eventTime: missing"},
		{&ValidationError{Reason: "not a JSON object"}, "invalid record: not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			wrapped := errors.Join(errors.New("import"), tt.err)
			if !errors.Is(wrapped, ErrInvalid) {
				t.Error("errors.Is(wrapped, ErrInvalid) = false")
			}
		})
	}
}

// cmpOr is the standard library's cmp.Or; go-cmp takes the package name.
func cmpOr[T comparable](vals ...T) T {
	var zero T
	for _, v := range vals {
		if v != zero {
			return v
		}
	}
	return zero
}

func TestCheckJSONCompact(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"a":1}`, true},
		{`{"a b":"c d"}`, true},
		{`{"a":"\"quoted\" text"}`, true},
		{`{"a":"ends in backslash\\"}`, true},
		{`{"a":"ends in backslash\\" }`, false},
		{`{"a":"escaped quote\" ","b":1}`, true},
		{`{"a":"\\\"x y"}`, true},
		{`{"a": 1}`, false},
		{" {}", false},
		{"{}\n", false},
		{"{\"a\":[1,\t2]}", false},
		{`{"a":"x\\\\"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if valid, got := jsonscan.Valid([]byte(tt.in)); !valid || got != tt.want {
				t.Errorf("jsonscan.Valid(%s) = %v, %v, want true, %v", tt.in, valid, got, tt.want)
			}
			var c bytes.Buffer
			if err := json.Compact(&c, []byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			if got := c.String() == tt.in; got != tt.want {
				t.Errorf("test case wrong: json.Compact says compact = %v", got)
			}
		})
	}
}
