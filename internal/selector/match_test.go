package selector

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/testenv"
)

// readRecords returns the records of one file of the repository's corpus of
// real CloudTrail records (testdata/cloudtrail): a log file
// ({"Records":[...]}), a JSON array, a single object or JSON Lines. Records
// without eventTime (the Logstash-reshaped otrf set) get it from @timestamp.
func readRecords(t testing.TB, rel string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.CloudTrailData(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	var obj map[string]any
	switch b = bytes.TrimSpace(b); {
	case json.Unmarshal(b, &recs) == nil:
	case json.Unmarshal(b, &obj) == nil:
		if list, ok := obj["Records"].([]any); ok {
			for _, r := range list {
				recs = append(recs, r.(map[string]any))
			}
		} else {
			recs = []map[string]any{obj}
		}
	default:
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r map[string]any
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			recs = append(recs, r)
		}
	}
	for _, r := range recs {
		if _, ok := r["eventTime"]; !ok {
			if ts, ok := r["@timestamp"].(string); ok {
				r["eventTime"] = strings.TrimSuffix(ts, ".000Z") + "Z"
			}
		}
	}
	return recs
}

func parse(t testing.TB, rec map[string]any) event.Event {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatalf("parse %s: %v", b, err)
	}
	return ev
}

// first returns the first record of rel named eventName, parsed.
func first(t testing.TB, rel, eventName string, edit func(map[string]any)) event.Event {
	t.Helper()
	for _, r := range readRecords(t, rel) {
		if r["eventName"] == eventName {
			if edit != nil {
				edit(r)
			}
			return parse(t, r)
		}
	}
	t.Fatalf("%s: no %s record", rel, eventName)
	return event.Event{}
}

func synthetic(t testing.TB, js string) event.Event {
	t.Helper()
	ev, err := event.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

const (
	otrf   = "otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json"
	bucket = "arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a"
)

// testEvents are the events the matching tables run against: real records
// from the corpus, a few edited, and synthetic shapes the corpus
// lacks (Lambda, DynamoDB, network activity, Insights).
func testEvents(t testing.TB) map[string]event.Event {
	t.Helper()
	testEventsMu.Lock()
	defer testEventsMu.Unlock()
	if testEventsCache == nil {
		testEventsCache = loadTestEvents(t)
	}
	return testEventsCache
}

var (
	testEventsMu    sync.Mutex
	testEventsCache map[string]event.Event
)

func loadTestEvents(t testing.TB) map[string]event.Event {
	t.Helper()
	td := func(p string) string { return "traildiscover/events/" + p + ".json.cloudtrail" }
	return map[string]event.Event{
		// Data events (S3 read, S3 list with ARNPrefix, SES).
		"GetObject":   first(t, otrf, "GetObject", nil),
		"ListObjects": first(t, otrf, "ListObjects", nil),
		"PutObject": first(t, otrf, "GetObject", func(r map[string]any) {
			r["eventName"], r["readOnly"] = "PutObject", false
			r["resources"].([]any)[0].(map[string]any)["ARN"] = bucket + "/photos/cat.jpg"
		}),
		"SendEmail": first(t, td("SES/SendEmail"), "SendEmail", nil),
		// Management events.
		"CreateKey":          first(t, td("KMS/CreateKey"), "CreateKey", nil),            // write, kms, errorCode
		"DescribeKey":        first(t, td("KMS/DescribeKey"), "DescribeKey", nil),        // read, kms
		"PutBucketPolicy":    first(t, td("S3/PutBucketPolicy"), "PutBucketPolicy", nil), // write, IAM user
		"ListAccountAliases": first(t, td("IAM/ListAccountAliases"), "ListAccountAliases", nil),
		"CreateCase":         first(t, td("Support/CreateCase"), "CreateCase", nil), // no readOnly
		"DescribeInstances":  first(t, otrf, "DescribeInstances", nil),              // eventVersion 1.05: no category, no readOnly
		// Synthetic.
		"Invoke": synthetic(t, `{"eventVersion":"1.11","eventTime":"2024-01-01T00:00:00Z","eventSource":"lambda.amazonaws.com","eventName":"Invoke","awsRegion":"us-west-2","eventID":"i1","readOnly":false,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111111111111","eventCategory":"Data",
			"resources":[{"accountId":"111111111111","type":"AWS::Lambda::Function","ARN":"arn:aws:lambda:us-west-2:111111111111:function:helloworld:PROD"}]}`),
		"Invoke2": synthetic(t, `{"eventVersion":"1.11","eventTime":"2024-01-01T00:00:00Z","eventSource":"lambda.amazonaws.com","eventName":"Invoke","awsRegion":"us-west-2","eventID":"i2","readOnly":false,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111111111111","eventCategory":"Data",
			"resources":[{"accountId":"111111111111","type":"AWS::Lambda::Function","ARN":"arn:aws:lambda:us-west-2:111111111111:function:helloworld2"}]}`),
		"GetItem": synthetic(t, `{"eventVersion":"1.11","eventTime":"2024-01-01T00:00:00Z","eventSource":"dynamodb.amazonaws.com","eventName":"GetItem","awsRegion":"us-east-1","eventID":"d1","readOnly":true,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111111111111","eventCategory":"Data",
			"resources":[{"accountId":"111111111111","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:us-east-1:111111111111:table/Orders"}]}`),
		"VpceDenied": synthetic(t, `{"eventVersion":"1.11","userIdentity":{"type":"AWSAccount","principalId":"","accountId":"999999999999","arn":""},"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","errorCode":"VpceAccessDenied","eventID":"n1","eventType":"AwsVpceEvent","recipientAccountId":"111111111111","vpcEndpointId":"vpce-0abc","vpcEndpointAccountId":"111111111111","eventCategory":"NetworkActivity"}`),
		"Insight":    synthetic(t, `{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","awsRegion":"us-east-1","eventID":"x1","eventType":"AwsCloudTrailInsight","recipientAccountId":"111111111111","sharedEventID":"s","insightDetails":{"state":"Start","eventSource":"kms.amazonaws.com","eventName":"CreateKey","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}`),
		// An event from outside AWS, as a channel stores it (lake.md §7.5).
		"Activity": synthetic(t, `{"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":"a1","eventTime":"2024-01-01T00:00:00Z","awsRegion":"us-east-1","recipientAccountId":"111111111111","metadata":{"ingestionTime":"2024-01-01T00:00:01Z","channelARN":"arn:aws:cloudtrail:us-east-1:111111111111:channel/01234567-89ab-4cde-8f01-23456789abcd"},"eventData":{"version":"1.0","UID":"u1","userIdentity":{"type":"CustomUserIdentity","principalId":"alice"},"eventTime":"2024-01-01T00:00:00Z","eventName":"PutObject","eventSource":"s3.amazonaws.com","recipientAccountId":"111111111111"}}`),
	}
}

var allMgmt = []string{"CreateCase", "CreateKey", "DescribeInstances", "DescribeKey", "ListAccountAliases", "PutBucketPolicy"}

// matched returns the sorted names of the test events m matches.
func matched(t *testing.T, m *Matcher) []string {
	t.Helper()
	var out []string
	for name, ev := range testEvents(t) {
		f := FieldsOf(&ev)
		if m.Match(&f) {
			out = append(out, name)
		}
		if m.MatchEvent(&ev) != slices.Contains(out, name) {
			t.Errorf("%s: MatchEvent and Match disagree", name)
		}
	}
	slices.Sort(out)
	return out
}

func TestTestEvents(t *testing.T) {
	got := map[string]string{}
	for name, ev := range testEvents(t) {
		got[name] = ev.Category
	}
	want := map[string]string{
		"GetObject": "Data", "ListObjects": "Data", "PutObject": "Data", "SendEmail": "Data",
		"Invoke": "Data", "Invoke2": "Data", "GetItem": "Data",
		"CreateKey": "Management", "DescribeKey": "Management", "PutBucketPolicy": "Management",
		"ListAccountAliases": "Management", "CreateCase": "Management", "DescribeInstances": "Management",
		"VpceDenied": "NetworkActivity", "Insight": "Insight", "Activity": "ActivityAuditLog",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("categories (-want +got):\n%s", diff)
	}
}

func TestMatchBasic(t *testing.T) {
	noMgmt := ptr(false)
	tests := []struct {
		name string
		set  Set
		want []string
	}{
		{"zero set is default", Set{}, allMgmt},
		{"default", Default(), allMgmt},
		{"read only", Basic([]EventSelector{{ReadWriteType: ReadOnly}}), []string{"DescribeKey", "ListAccountAliases"}},
		{"write only counts missing readOnly as write", Basic([]EventSelector{{ReadWriteType: WriteOnly}}), []string{"CreateCase", "CreateKey", "DescribeInstances", "PutBucketPolicy"}},
		{"exclude kms", Basic([]EventSelector{{ExcludeManagementEventSources: []string{SourceKMS}}}),
			[]string{"CreateCase", "DescribeInstances", "ListAccountAliases", "PutBucketPolicy"}},
		{"nothing", Basic([]EventSelector{{IncludeManagementEvents: noMgmt}}), nil},
		{"all s3 objects", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3("arn:aws:s3")}}}),
			[]string{"GetObject", "ListObjects", "PutObject"}},
		{"all s3 objects, old spelling", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3("arn:aws:s3:::")}}}),
			[]string{"GetObject", "ListObjects", "PutObject"}},
		{"bucket read only", Basic([]EventSelector{{ReadWriteType: ReadOnly, IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3(bucket + "/")}}}),
			[]string{"GetObject", "ListObjects"}},
		{"key prefix", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3(bucket + "/photos/")}}}),
			[]string{"PutObject"}},
		{"other bucket", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3("arn:aws:s3:::other-bucket/")}}}), nil},
		{"other partition", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3("arn:aws-cn:s3")}}}), nil},
		{"lambda function is exact but takes qualifiers", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{
			{Type: TypeLambdaFunction, Values: []string{"arn:aws:lambda:us-west-2:111111111111:function:helloworld"}}}}}), []string{"Invoke"}},
		{"all lambda functions", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{
			{Type: TypeLambdaFunction, Values: []string{"arn:aws:lambda"}}}}}), []string{"Invoke", "Invoke2"}},
		{"dynamodb table", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{
			{Type: TypeDynamoDBTable, Values: []string{"arn:aws:dynamodb:us-east-1:111111111111:table/Orders"}}}}}), []string{"GetItem"}},
		{"dynamodb write only", Basic([]EventSelector{{ReadWriteType: WriteOnly, IncludeManagementEvents: noMgmt, DataResources: []DataResource{
			{Type: TypeDynamoDBTable, Values: []string{"arn:aws:dynamodb"}}}}}), nil},
		{"several types", Basic([]EventSelector{{IncludeManagementEvents: noMgmt, DataResources: []DataResource{
			{Type: TypeLambdaFunction, Values: []string{"arn:aws:lambda"}}, {Type: TypeDynamoDBTable, Values: []string{"arn:aws:dynamodb"}}}}}),
			[]string{"GetItem", "Invoke", "Invoke2"}},
		{"any selector", Basic([]EventSelector{
			{ReadWriteType: WriteOnly, ExcludeManagementEventSources: []string{SourceKMS}},
			{ReadWriteType: ReadOnly, IncludeManagementEvents: noMgmt, DataResources: []DataResource{s3("arn:aws:s3")}},
		}), []string{"CreateCase", "DescribeInstances", "GetObject", "ListObjects", "PutBucketPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.set.Validate(); err != nil {
				t.Fatalf("invalid test set: %v", err)
			}
			if diff := cmp.Diff(tt.want, matched(t, Compile(tt.set))); diff != "" {
				t.Errorf("matched events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatchAdvanced(t *testing.T) {
	s3all := []string{"GetObject", "ListObjects", "PutObject"}
	tests := []struct {
		name    string
		sel     []AdvancedEventSelector
		invalid bool // compiled without validating
		want    []string
	}{
		{name: "management", sel: []AdvancedEventSelector{mgmt()}, want: allMgmt},
		{name: "management read", sel: []AdvancedEventSelector{mgmt(eq(FieldReadOnly, "true"))},
			want: []string{"DescribeKey", "ListAccountAliases"}},
		{name: "management write counts missing readOnly as false", sel: []AdvancedEventSelector{mgmt(eq(FieldReadOnly, "false"))},
			want: []string{"CreateCase", "CreateKey", "DescribeInstances", "PutBucketPolicy"}},
		{name: "management without kms", sel: []AdvancedEventSelector{mgmt(fs(FieldEventSource, "NotEquals", []string{SourceKMS}))},
			want: []string{"CreateCase", "DescribeInstances", "ListAccountAliases", "PutBucketPolicy"}},
		{name: "s3 objects", sel: []AdvancedEventSelector{data(TypeS3Object)}, want: s3all},
		{name: "key prefix", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldResourcesARN, "StartsWith", []string{bucket + "/photos/"}))},
			want: []string{"PutObject"}},
		{name: "exact object", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldResourcesARN, bucket+"/ring.txt"))},
			want: []string{"GetObject"}},
		{name: "not starts with sees only resources of the type", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldResourcesARN, "NotStartsWith", []string{bucket + "/ring"}))},
			want: []string{"ListObjects", "PutObject"}},
		{name: "ARNPrefix is the ARN", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldResourcesARN, "EndsWith", []string{"llp2yingx64a/"}))},
			want: []string{"ListObjects"}},
		{name: "event name", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, "PutObject"))}, want: []string{"PutObject"}},
		{name: "negatives only", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldEventName, "NotEquals", []string{"GetObject"}, "NotStartsWith", []string{"List"}))},
			want: []string{"PutObject"}},
		{name: "positive and negative", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldEventName, "StartsWith", []string{"Get", "Put", "List"}, "NotEndsWith", []string{"Object"}))},
			want: []string{"ListObjects"}},
		{name: "case sensitive", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, "getobject"))}, want: nil},
		{name: "star is literal", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldEventName, "StartsWith", []string{"*"}))}, want: nil},
		{name: "read only data", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldReadOnly, "true"))}, want: []string{"GetObject", "ListObjects"}},
		{name: "user arn", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldUserARN, "StartsWith", []string{"arn:aws:sts::123456789123:assumed-role/MordorNginxStack-"}))},
			want: s3all},
		{name: "user arn miss", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldUserARN, "EndsWith", []string{"/admin"}))}, want: nil},
		{name: "event type", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventType, "AwsApiCall"), eq(FieldEventSource, "s3.amazonaws.com"))}, want: s3all},
		{name: "other resource type", sel: []AdvancedEventSelector{data("AWS::SES::EmailIdentity")}, want: []string{"SendEmail"}},
		{name: "lambda exact", sel: []AdvancedEventSelector{data(TypeLambdaFunction, eq(FieldResourcesARN, "arn:aws:lambda:us-west-2:111111111111:function:helloworld2"))},
			want: []string{"Invoke2"}},
		{name: "network", sel: []AdvancedEventSelector{network("s3.amazonaws.com", eq(FieldErrorCode, "VpceAccessDenied"))}, want: []string{"VpceDenied"}},
		{name: "network endpoint", sel: []AdvancedEventSelector{network("s3.amazonaws.com", fs(FieldVpcEndpointID, "NotEquals", []string{"vpce-0abc"}))}, want: nil},
		{name: "any selector", sel: []AdvancedEventSelector{mgmt(eq(FieldReadOnly, "false")), data(TypeDynamoDBTable), network("s3.amazonaws.com")},
			want: []string{"CreateCase", "CreateKey", "DescribeInstances", "GetItem", "PutBucketPolicy", "VpceDenied"}},
		{name: "session credential from console", invalid: true, sel: []AdvancedEventSelector{mgmt(eq(FieldSessionConsole, "true"))},
			want: []string{"ListAccountAliases"}},
		{name: "errorCode of management events", invalid: true, sel: []AdvancedEventSelector{mgmt(fs(FieldErrorCode, "EndsWith", []string{"Exception", "Denied"}))},
			want: []string{"CreateKey", "DescribeKey"}},
		{name: "insights never match", invalid: true, sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, "Insight"))}, want: nil},
		{name: "events from outside AWS never match", invalid: true,
			sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, "ActivityAuditLog")), adv("", eq(FieldEventCategory, "ActivityAuditLog"), eq(FieldEventName, "PutObject"))}, want: nil},
		{name: "unknown field is absent", invalid: true, sel: []AdvancedEventSelector{mgmt(fs("nope", "NotEquals", []string{"x"}))}, want: allMgmt},
		{name: "many equals values", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, "A", "B", "C", "D", "E", "F", "G", "H", "I", "PutObject"))},
			want: []string{"PutObject"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := Advanced(tt.sel)
			if err := set.Validate(); (err != nil) != tt.invalid {
				t.Fatalf("Validate() = %v, invalid = %v", err, tt.invalid)
			}
			if diff := cmp.Diff(tt.want, matched(t, Compile(set))); diff != "" {
				t.Errorf("matched events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMatchCorpus checks the default selectors against every record of the
// corpus: they log exactly the management events, and an advanced
// Management selector logs the same.
func TestMatchCorpus(t *testing.T) {
	def := Compile(Default())
	adv := Compile(Advanced([]AdvancedEventSelector{mgmt()}))
	corpus := testenv.CloudTrailData(t)
	n := 0
	err := filepath.WalkDir(corpus, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, "LICENSE") {
			return err
		}
		rel, _ := filepath.Rel(corpus, path)
		for _, r := range readRecords(t, rel) {
			b, _ := json.Marshal(r)
			ev, err := event.Parse(b)
			if err != nil {
				continue // records the store would reject
			}
			n++
			f := FieldsOf(&ev)
			want := ev.Category == event.CategoryMgmt
			if got := def.Match(&f); got != want {
				t.Errorf("%s %s (%s): default Match = %v", rel, ev.EventName, ev.Category, got)
			}
			if got := adv.Match(&f); got != want {
				t.Errorf("%s %s (%s): advanced Management Match = %v", rel, ev.EventName, ev.Category, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3000 {
		t.Errorf("matched %d records, want the whole corpus", n)
	}
}

func TestFieldsFromRecord(t *testing.T) {
	const base = `"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"111111111111"`
	tests := []struct {
		name string
		rec  string    // members added to base
		want [5]string // eventType, userIdentity.arn, errorCode, vpcEndpointId, sessionCredentialFromConsole
	}{
		{"all", `"eventType":"AwsApiCall","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"errorCode":"E","vpcEndpointId":"vpce-1","sessionCredentialFromConsole":"true"`,
			[5]string{"AwsApiCall", "arn:aws:iam::1:user/a", "E", "vpce-1", "true"}},
		{"escapes", "\"eventType\":\"Aws\\u0041piCall\",\"userIdentity\":{\"a\\\"rn\":\"x\",\"arn\":\"y\\\\z\"}",
			[5]string{"AwsApiCall", `y\z`, "", "", ""}},
		{"escaped name", `"error\u0043ode":"E"`, [5]string{"", "", "E", "", ""}},
		{"last wins", `"errorCode":"A","errorCode":"B"`, [5]string{"", "", "B", "", ""}},
		{"nested members ignored", `"requestParameters":{"errorCode":"X","eventType":["a","}"],"vpcEndpointId":"v"},"eventType":"T"`, [5]string{"T", "", "", "", ""}},
		{"non-strings", `"errorCode":5,"userIdentity":{"type":"IAMUser"},"vpcEndpointId":null,"sessionCredentialFromConsole":true`, [5]string{"", "", "", "", "true"}},
		{"boolean false", `"sessionCredentialFromConsole":false`, [5]string{}},
		{"string false", `"sessionCredentialFromConsole":"false"`, [5]string{"", "", "", "", "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := event.Parse([]byte("{" + base + "," + tt.rec + "}"))
			if err != nil {
				t.Fatal(err)
			}
			f := FieldsOf(&ev)
			got := [5]string{f.value(fEventType), f.value(fUserARN), f.value(fErrorCode), f.value(fVpceID), f.value(fFromConsole)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string // request JSON decoded into a Set
		want string // Effective() encoded
	}{
		{"zero", `{}`, `{"EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[],"ExcludeManagementEventSources":[]}]}`},
		{"defaults filled", `{"EventSelectors":[{"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]}`,
			`{"EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}],"ExcludeManagementEventSources":[]}]}`},
		{"kept", `{"EventSelectors":[{"ReadWriteType":"ReadOnly","IncludeManagementEvents":false,"DataResources":[],"ExcludeManagementEventSources":["kms.amazonaws.com"]}]}`,
			`{"EventSelectors":[{"ReadWriteType":"ReadOnly","IncludeManagementEvents":false,"DataResources":[],"ExcludeManagementEventSources":["kms.amazonaws.com"]}]}`},
		{"advanced", `{"AdvancedEventSelectors":[{"Name":"n","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","NotStartsWith":["arn:aws:s3:::b/"]}]}]}`,
			`{"AdvancedEventSelectors":[{"Name":"n","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","NotStartsWith":["arn:aws:s3:::b/"]}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Set
			if err := json.Unmarshal([]byte(tt.in), &s); err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(s.Effective())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// A stored set round-trips through JSON unchanged.
			var back Set
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.Effective(), back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWithDefaultsDoesNotModify(t *testing.T) {
	in := EventSelector{DataResources: []DataResource{{Type: TypeS3Object}}}
	out := in.WithDefaults()
	if in.DataResources[0].Values != nil {
		t.Error("WithDefaults wrote into its receiver's DataResources")
	}
	if out.DataResources[0].Values == nil || out.ReadWriteType != All || !*out.IncludeManagementEvents {
		t.Errorf("WithDefaults() = %+v", out)
	}
}
