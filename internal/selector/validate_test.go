package selector

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func s3(values ...string) DataResource { return DataResource{Type: TypeS3Object, Values: values} }

func TestValidateBasic(t *testing.T) {
	many := func(n int, prefix string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}
	tests := []struct {
		name     string
		sel      []EventSelector
		wantPath string
		wantMsg  string // "" for valid
	}{
		{name: "default", sel: []EventSelector{{}}},
		{name: "explicit", sel: []EventSelector{{ReadWriteType: All, IncludeManagementEvents: ptr(true), DataResources: []DataResource{}, ExcludeManagementEventSources: []string{}}}},
		{name: "five", sel: make([]EventSelector, 5)},
		{name: "none", sel: nil, wantPath: "EventSelectors",
			wantMsg: "A trail must have between 1 and 5 event selectors; the request has 0."},
		{name: "six", sel: make([]EventSelector, 6), wantPath: "EventSelectors",
			wantMsg: "A trail must have between 1 and 5 event selectors; the request has 6."},
		{name: "read only", sel: []EventSelector{{ReadWriteType: ReadOnly}}},
		{name: "write only", sel: []EventSelector{{ReadWriteType: WriteOnly}}},
		{name: "bad read write type", sel: []EventSelector{{}, {ReadWriteType: "read-only"}}, wantPath: "EventSelectors[1].ReadWriteType",
			wantMsg: "Invalid value for ReadWriteType: read-only. Valid values are ReadOnly, WriteOnly, All."},
		{name: "read write type is case sensitive", sel: []EventSelector{{ReadWriteType: "all"}}, wantPath: "EventSelectors[0].ReadWriteType",
			wantMsg: "Invalid value for ReadWriteType: all. Valid values are ReadOnly, WriteOnly, All."},
		{name: "s3 values", sel: []EventSelector{{DataResources: []DataResource{s3(
			"arn:aws:s3", "arn:aws:s3:::", "arn:aws:s3:::amzn-s3-demo-bucket1/", "arn:aws:s3:::amzn-s3-demo-bucket1/example-images",
			"arn:aws-cn:s3:::bucket/", "arn:aws:s3:::Legacy_Bucket/x")}}}},
		{name: "lambda values", sel: []EventSelector{{DataResources: []DataResource{{Type: TypeLambdaFunction, Values: []string{
			"arn:aws:lambda", "arn:aws:lambda:us-west-2:111111111111:function:helloworld", "arn:aws:lambda:us-west-2:111111111111:function:hello:PROD"}}}}}},
		{name: "dynamodb values", sel: []EventSelector{{DataResources: []DataResource{{Type: TypeDynamoDBTable, Values: []string{
			"arn:aws:dynamodb", "arn:aws-us-gov:dynamodb:us-gov-west-1:111111111111:table/my.table_1"}}}}}},
		{name: "missing type", sel: []EventSelector{{DataResources: []DataResource{{Values: []string{"arn:aws:s3"}}}}}, wantPath: "EventSelectors[0].DataResources[0].Type",
			wantMsg: "DataResources.Type is required. Valid values are AWS::S3::Object, AWS::Lambda::Function, AWS::DynamoDB::Table."},
		{name: "advanced-only type", sel: []EventSelector{{DataResources: []DataResource{{Type: "AWS::S3::AccessPoint", Values: []string{"arn:aws:s3"}}}}}, wantPath: "EventSelectors[0].DataResources[0].Type",
			wantMsg: "Invalid value for DataResources.Type: AWS::S3::AccessPoint. Basic event selectors support AWS::S3::Object, AWS::Lambda::Function and AWS::DynamoDB::Table; use advanced event selectors for other resource types."},
		{name: "no values", sel: []EventSelector{{DataResources: []DataResource{s3()}}}, wantPath: "EventSelectors[0].DataResources[0].Values",
			wantMsg: "DataResources of type AWS::S3::Object must list at least one ARN or ARN prefix in Values."},
		{name: "bucket without slash", sel: []EventSelector{{DataResources: []DataResource{s3("arn:aws:s3", "arn:aws:s3:::bucket")}}}, wantPath: "EventSelectors[0].DataResources[0].Values[1]",
			wantMsg: "Value arn:aws:s3:::bucket for DataResources.Values is invalid for type AWS::S3::Object. Use arn:aws:s3 for all objects in all buckets, arn:aws:s3:::bucket/ for all objects in a bucket (the trailing slash is required), or arn:aws:s3:::bucket/prefix."},
		{name: "s3 wildcard", sel: []EventSelector{{DataResources: []DataResource{s3("*")}}}, wantPath: "EventSelectors[0].DataResources[0].Values[0]",
			wantMsg: "Value * for DataResources.Values is invalid for type AWS::S3::Object. Use arn:aws:s3 for all objects in all buckets, arn:aws:s3:::bucket/ for all objects in a bucket (the trailing slash is required), or arn:aws:s3:::bucket/prefix."},
		{name: "s3 value with region", sel: []EventSelector{{DataResources: []DataResource{s3("arn:aws:s3:us-east-1::bucket/")}}}, wantPath: "EventSelectors[0].DataResources[0].Values[0]",
			wantMsg: "Value arn:aws:s3:us-east-1::bucket/ for DataResources.Values is invalid for type AWS::S3::Object. Use arn:aws:s3 for all objects in all buckets, arn:aws:s3:::bucket/ for all objects in a bucket (the trailing slash is required), or arn:aws:s3:::bucket/prefix."},
		{name: "lambda arn of s3 type", sel: []EventSelector{{DataResources: []DataResource{s3("arn:aws:lambda")}}}, wantPath: "EventSelectors[0].DataResources[0].Values[0]",
			wantMsg: "Value arn:aws:lambda for DataResources.Values is invalid for type AWS::S3::Object. Use arn:aws:s3 for all objects in all buckets, arn:aws:s3:::bucket/ for all objects in a bucket (the trailing slash is required), or arn:aws:s3:::bucket/prefix."},
		{name: "lambda partial arn", sel: []EventSelector{{DataResources: []DataResource{{Type: TypeLambdaFunction, Values: []string{"arn:aws:lambda:us-west-2:111111111111:function"}}}}}, wantPath: "EventSelectors[0].DataResources[0].Values[0]",
			wantMsg: "Value arn:aws:lambda:us-west-2:111111111111:function for DataResources.Values is invalid for type AWS::Lambda::Function. Use arn:aws:lambda for all functions, or a function ARN such as arn:aws:lambda:us-east-1:123456789012:function:my-function."},
		{name: "lambda bad account", sel: []EventSelector{{DataResources: []DataResource{{Type: TypeLambdaFunction, Values: []string{"arn:aws:lambda:us-west-2:1111:function:f"}}}}}, wantPath: "EventSelectors[0].DataResources[0].Values[0]",
			wantMsg: "Value arn:aws:lambda:us-west-2:1111:function:f for DataResources.Values is invalid for type AWS::Lambda::Function. Use arn:aws:lambda for all functions, or a function ARN such as arn:aws:lambda:us-east-1:123456789012:function:my-function."},
		{name: "dynamodb index", sel: []EventSelector{{DataResources: []DataResource{{Type: TypeDynamoDBTable, Values: []string{"arn:aws:dynamodb:us-east-1:111111111111:table/tbl1/index/i"}}}}}, wantPath: "EventSelectors[0].DataResources[0].Values[0]",
			wantMsg: "Value arn:aws:dynamodb:us-east-1:111111111111:table/tbl1/index/i for DataResources.Values is invalid for type AWS::DynamoDB::Table. Use arn:aws:dynamodb for all tables, or a table ARN such as arn:aws:dynamodb:us-east-1:123456789012:table/my-table."},
		{name: "250 resources", sel: []EventSelector{
			{DataResources: []DataResource{s3(many(200, "arn:aws:s3:::bucket1/")...)}},
			{DataResources: []DataResource{s3(many(50, "arn:aws:s3:::bucket2/")...), s3("arn:aws:s3"), {Type: TypeLambdaFunction, Values: []string{"arn:aws:lambda"}}}},
		}},
		{name: "251 resources", sel: []EventSelector{
			{DataResources: []DataResource{s3(many(200, "arn:aws:s3:::bucket1/")...)}},
			{DataResources: []DataResource{s3(many(51, "arn:aws:s3:::bucket2/")...)}},
		}, wantPath: "EventSelectors",
			wantMsg: "A trail can have at most 250 data resources across all its event selectors; the request has 251. Values that log all resources of a type (arn:aws:s3, arn:aws:lambda, arn:aws:dynamodb) do not count toward this limit."},
		{name: "exclude sources", sel: []EventSelector{{ExcludeManagementEventSources: []string{SourceKMS, SourceRDSData}}}},
		{name: "bad exclude source", sel: []EventSelector{{ExcludeManagementEventSources: []string{SourceKMS, "s3.amazonaws.com"}}}, wantPath: "EventSelectors[0].ExcludeManagementEventSources[1]",
			wantMsg: "Invalid value for ExcludeManagementEventSources: s3.amazonaws.com. Valid values are kms.amazonaws.com, rdsdata.amazonaws.com."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, ValidateBasic(tt.sel), tt.wantPath, tt.wantMsg)
		})
	}
}

func checkErr(t *testing.T, err error, wantPath, wantMsg string) {
	t.Helper()
	if wantMsg == "" {
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want an error matching ErrInvalid", err)
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("got %T, want *Error", err)
	}
	if diff := cmp.Diff(wantMsg, e.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if e.Path != wantPath {
		t.Errorf("path = %q, want %q", e.Path, wantPath)
	}
}

func fs(field string, ops ...any) FieldSelector {
	f := FieldSelector{Field: field}
	for i := 0; i < len(ops); i += 2 {
		vals := ops[i+1].([]string)
		switch ops[i].(string) {
		case "Equals":
			f.Equals = vals
		case "StartsWith":
			f.StartsWith = vals
		case "EndsWith":
			f.EndsWith = vals
		case "NotEquals":
			f.NotEquals = vals
		case "NotStartsWith":
			f.NotStartsWith = vals
		case "NotEndsWith":
			f.NotEndsWith = vals
		default:
			panic(ops[i])
		}
	}
	return f
}

func eq(field string, vals ...string) FieldSelector { return fs(field, "Equals", vals) }

func adv(name string, f ...FieldSelector) AdvancedEventSelector {
	return AdvancedEventSelector{Name: name, FieldSelectors: f}
}

func mgmt(f ...FieldSelector) AdvancedEventSelector {
	return adv("", append([]FieldSelector{eq(FieldEventCategory, CategoryManagement)}, f...)...)
}

func data(typ string, f ...FieldSelector) AdvancedEventSelector {
	return adv("", append([]FieldSelector{eq(FieldEventCategory, CategoryData), eq(FieldResourcesType, typ)}, f...)...)
}

func network(src string, f ...FieldSelector) AdvancedEventSelector {
	return adv("", append([]FieldSelector{eq(FieldEventCategory, CategoryNetwork), eq(FieldEventSource, src)}, f...)...)
}

func TestValidateAdvanced(t *testing.T) {
	vals := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("Event%d", i)
		}
		return out
	}
	const fp0 = "AdvancedEventSelectors[0].FieldSelectors"
	tests := []struct {
		name     string
		sel      []AdvancedEventSelector
		wantPath string
		wantMsg  string
	}{
		{name: "management", sel: []AdvancedEventSelector{mgmt()}},
		{name: "management read only without kms", sel: []AdvancedEventSelector{mgmt(eq(FieldReadOnly, "true"),
			fs(FieldEventSource, "NotEquals", []string{SourceKMS, SourceRDSData}))}},
		{name: "s3 data", sel: []AdvancedEventSelector{data(TypeS3Object,
			fs(FieldResourcesARN, "StartsWith", []string{"arn:aws:s3:::bucket/"}, "NotEquals", []string{"arn:aws:s3:::bucket/secret.txt"}),
			fs(FieldEventName, "NotStartsWith", []string{"Get"}), eq(FieldReadOnly, "false"),
			fs(FieldUserARN, "EndsWith", []string{":role/admin"}), eq(FieldSessionConsole, "true"),
			eq(FieldEventType, "AwsApiCall"), eq(FieldEventSource, "s3.amazonaws.com"))}},
		{name: "other data type", sel: []AdvancedEventSelector{data("AWS::S3ObjectLambda::AccessPoint",
			eq(FieldResourcesARN, "arn:aws:s3-object-lambda:us-east-1:111111111111:accesspoint/ap"))}},
		{name: "lambda and dynamodb arns", sel: []AdvancedEventSelector{
			data(TypeLambdaFunction, eq(FieldResourcesARN, "arn:aws:lambda:us-east-1:111111111111:function:f")),
			data(TypeDynamoDBTable, fs(FieldResourcesARN, "NotEquals", []string{"arn:aws:dynamodb:us-east-1:111111111111:table/tbl1"})),
		}},
		{name: "network", sel: []AdvancedEventSelector{network("s3.amazonaws.com", eq(FieldErrorCode, "VpceAccessDenied"),
			fs(FieldVpcEndpointID, "NotEquals", []string{"vpce-1"}), eq(FieldEventName, "PutObject"), fs(FieldUserARN, "StartsWith", []string{"arn:aws:iam::"}))}},
		{name: "named", sel: []AdvancedEventSelector{{Name: strings.Repeat("n", 1000), FieldSelectors: mgmt().FieldSelectors}}},
		{name: "500 values", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, vals(498)...))}},

		{name: "none", sel: nil, wantPath: "AdvancedEventSelectors", wantMsg: "At least one advanced event selector is required."},
		{name: "501 values", sel: []AdvancedEventSelector{mgmt(), data(TypeS3Object, eq(FieldEventName, vals(498)...))},
			wantPath: "AdvancedEventSelectors", wantMsg: "Advanced event selectors can have at most 500 values for all conditions on a trail; the request has 501."},
		{name: "name too long", sel: []AdvancedEventSelector{{Name: strings.Repeat("n", 1001), FieldSelectors: mgmt().FieldSelectors}},
			wantPath: "AdvancedEventSelectors[0].Name", wantMsg: "The name of advanced event selector 1 is 1001 characters long; the maximum is 1000."},
		{name: "no field selectors", sel: []AdvancedEventSelector{mgmt(), adv("Log S3")}, wantPath: "AdvancedEventSelectors[1].FieldSelectors",
			wantMsg: `The advanced event selector "Log S3" must have at least one field selector.`},
		{name: "empty field", sel: []AdvancedEventSelector{mgmt(eq("", "x"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "Field is required in every field selector."},
		{name: "field pattern", sel: []AdvancedEventSelector{mgmt(eq("event-name", "x"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "Invalid field name: event-name. Field names contain only letters, digits, '.' and '_'."},
		{name: "field too long", sel: []AdvancedEventSelector{mgmt(eq(strings.Repeat("f", 1001), "x"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "Field names are at most 1000 characters long."},
		{name: "unknown field", sel: []AdvancedEventSelector{mgmt(eq("eventname", "x"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "Unsupported field eventname in an advanced event selector. Supported fields are eventCategory, eventSource, eventName, eventType, readOnly, resources.type, resources.ARN, sessionCredentialFromConsole, userIdentity.arn, errorCode, vpcEndpointId."},
		{name: "duplicate field", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, "GetObject"), fs(FieldEventName, "NotEquals", []string{"PutObject"}))},
			wantPath: fp0 + "[3].Field", wantMsg: "The field eventName appears more than once in advanced event selector 1; put all its conditions in one field selector."},
		{name: "no operator", sel: []AdvancedEventSelector{data(TypeS3Object, FieldSelector{Field: FieldEventName})}, wantPath: fp0 + "[2]",
			wantMsg: "The field selector for eventName must have at least one operator: Equals, StartsWith, EndsWith, NotEquals, NotStartsWith or NotEndsWith."},
		{name: "empty operator", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldEventName, "NotEndsWith", []string{}))}, wantPath: fp0 + "[2].NotEndsWith",
			wantMsg: "The NotEndsWith operator of field eventName must have at least one value."},
		{name: "empty value", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldEventName, "StartsWith", []string{"Get", ""}))}, wantPath: fp0 + "[2].StartsWith[1]",
			wantMsg: "Values of field eventName (StartsWith) must be 1 to 2048 characters long; one is 0."},
		{name: "long value", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, strings.Repeat("x", 2049)))}, wantPath: fp0 + "[2].Equals[0]",
			wantMsg: "Values of field eventName (Equals) must be 1 to 2048 characters long; one is 2049."},
		{name: "readOnly equals only", sel: []AdvancedEventSelector{mgmt(fs(FieldReadOnly, "NotEquals", []string{"true"}))}, wantPath: fp0 + "[1].NotEquals",
			wantMsg: "The field readOnly supports only the Equals operator."},
		{name: "resources.type equals only", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, CategoryData), fs(FieldResourcesType, "StartsWith", []string{"AWS::S3"}))},
			wantPath: fp0 + "[1].StartsWith", wantMsg: "The field resources.type supports only the Equals operator."},
		{name: "eventCategory equals only", sel: []AdvancedEventSelector{adv("", fs(FieldEventCategory, "NotEquals", []string{"Data"}))},
			wantPath: fp0 + "[0].NotEquals", wantMsg: "The field eventCategory supports only the Equals operator."},
		{name: "no eventCategory", sel: []AdvancedEventSelector{adv("x", eq(FieldReadOnly, "true"))}, wantPath: fp0,
			wantMsg: `The advanced event selector "x" must include an eventCategory field selector (Equals Management, Data or NetworkActivity).`},
		{name: "two eventCategory values", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, "Management", "Data"))}, wantPath: fp0,
			wantMsg: "The eventCategory field selector in advanced event selector 1 must have exactly one Equals value."},
		{name: "insight category", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, "Insight"))}, wantPath: fp0,
			wantMsg: "Invalid value for eventCategory: Insight. Valid values for trails are Management, Data, NetworkActivity."},
		{name: "category case", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, "management"))}, wantPath: fp0,
			wantMsg: "Invalid value for eventCategory: management. Valid values for trails are Management, Data, NetworkActivity."},
		{name: "readOnly value", sel: []AdvancedEventSelector{mgmt(eq(FieldReadOnly, "True"))}, wantPath: fp0,
			wantMsg: "Invalid value for readOnly: True. Valid values are true, false."},
		{name: "management field", sel: []AdvancedEventSelector{mgmt(eq(FieldEventName, "CreateTrail"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "The field eventName is not supported for Management events on trails. Supported fields are eventCategory, eventSource, readOnly."},
		{name: "management eventSource operator", sel: []AdvancedEventSelector{mgmt(eq(FieldEventSource, SourceKMS))}, wantPath: fp0,
			wantMsg: "For management events, eventSource supports only the NotEquals operator, with kms.amazonaws.com or rdsdata.amazonaws.com."},
		{name: "management eventSource value", sel: []AdvancedEventSelector{mgmt(fs(FieldEventSource, "NotEquals", []string{"s3.amazonaws.com"}))}, wantPath: fp0,
			wantMsg: "Invalid value for eventSource on management events: s3.amazonaws.com. Only NotEquals kms.amazonaws.com or rdsdata.amazonaws.com is supported."},
		{name: "data without resources.type", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, CategoryData), eq(FieldEventName, "GetObject"))}, wantPath: fp0,
			wantMsg: "The advanced event selector 1 selects data events and must include a resources.type field selector, e.g. Equals AWS::S3::Object."},
		{name: "two resource types", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, CategoryData), eq(FieldResourcesType, TypeS3Object, TypeLambdaFunction))}, wantPath: fp0,
			wantMsg: "The resources.type field selector in advanced event selector 1 must have exactly one Equals value."},
		{name: "resource type form", sel: []AdvancedEventSelector{data("S3Object")}, wantPath: fp0,
			wantMsg: "Invalid value for resources.type: S3Object. Resource types have the form AWS::Service::Type, e.g. AWS::S3::Object."},
		{name: "data field", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldErrorCode, "VpceAccessDenied"))}, wantPath: fp0 + "[2].Field",
			wantMsg: "The field errorCode is not supported for Data events on trails. Supported fields are eventCategory, resources.type, eventName, eventSource, eventType, readOnly, resources.ARN, sessionCredentialFromConsole, userIdentity.arn."},
		{name: "resources.ARN equals bucket", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldResourcesARN, "arn:aws:s3:::bucket/"))}, wantPath: fp0,
			wantMsg: "Value arn:aws:s3:::bucket/ for resources.ARN with Equals is not a full ARN of a resource of type AWS::S3::Object. Equals and NotEquals need a full ARN; use StartsWith to match a prefix, e.g. arn:aws:s3:::bucket/ for every object in a bucket."},
		{name: "resources.ARN not equals wrong service", sel: []AdvancedEventSelector{data(TypeLambdaFunction, fs(FieldResourcesARN, "NotEquals", []string{"arn:aws:s3:::b/k"}))}, wantPath: fp0,
			wantMsg: "Value arn:aws:s3:::b/k for resources.ARN with NotEquals is not a full ARN of a resource of type AWS::Lambda::Function. Equals and NotEquals need a full ARN; use StartsWith to match a prefix, e.g. arn:aws:s3:::bucket/ for every object in a bucket."},
		{name: "resources.ARN not an arn", sel: []AdvancedEventSelector{data("AWS::EC2::Snapshot", eq(FieldResourcesARN, "snap-123"))}, wantPath: fp0,
			wantMsg: "Value snap-123 for resources.ARN with Equals is not a full ARN of a resource of type AWS::EC2::Snapshot. Equals and NotEquals need a full ARN; use StartsWith to match a prefix, e.g. arn:aws:s3:::bucket/ for every object in a bucket."},
		{name: "resources.ARN starts with anything", sel: []AdvancedEventSelector{data(TypeS3Object, fs(FieldResourcesARN, "StartsWith", []string{"arn:aws:s3:::b"}, "NotEndsWith", []string{".tmp"}))}},
		{name: "network without eventSource", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, CategoryNetwork))}, wantPath: fp0,
			wantMsg: "The advanced event selector 1 selects network activity events and must include an eventSource field selector, e.g. Equals ec2.amazonaws.com."},
		{name: "network errorCode", sel: []AdvancedEventSelector{network("kms.amazonaws.com", fs(FieldErrorCode, "NotEquals", []string{"AccessDenied"}))}, wantPath: fp0,
			wantMsg: "Invalid value for errorCode: AccessDenied. The only valid value is VpceAccessDenied."},
		{name: "network field", sel: []AdvancedEventSelector{network("kms.amazonaws.com", eq(FieldReadOnly, "true"))}, wantPath: fp0 + "[2].Field",
			wantMsg: "The field readOnly is not supported for NetworkActivity events on trails. Supported fields are eventCategory, eventSource, eventName, errorCode, vpcEndpointId, userIdentity.arn."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, ValidateAdvanced(tt.sel), tt.wantPath, tt.wantMsg)
		})
	}
}

func TestLimits(t *testing.T) {
	l := Limits{MaxEventSelectors: 2, MaxDataResources: 1, MaxAdvancedValues: 3}
	if err := l.ValidateBasic(make([]EventSelector, 3)); err == nil {
		t.Error("3 selectors accepted with MaxEventSelectors 2")
	}
	if err := l.ValidateBasic([]EventSelector{{DataResources: []DataResource{s3("arn:aws:s3:::b/1", "arn:aws:s3:::b/2")}}}); err == nil {
		t.Error("2 data resources accepted with MaxDataResources 1")
	}
	if err := l.ValidateAdvanced([]AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, "a", "b"))}); err == nil {
		t.Error("4 values accepted with MaxAdvancedValues 3")
	}
	if err := (Limits{}).ValidateBasic(make([]EventSelector, 5)); err != nil {
		t.Errorf("zero Limits: %v", err)
	}
}

func TestSetValidate(t *testing.T) {
	tests := []struct {
		name string
		set  Set
		want error
	}{
		{"zero", Set{}, nil},
		{"default", Default(), nil},
		{"basic", Basic([]EventSelector{{ReadWriteType: ReadOnly}}), nil},
		{"advanced", Advanced([]AdvancedEventSelector{mgmt()}), nil},
		{"both", Set{EventSelectors: []EventSelector{{}}, AdvancedEventSelectors: []AdvancedEventSelector{mgmt()}}, ErrBothKinds},
		{"bad basic", Basic([]EventSelector{{ReadWriteType: "x"}}), ErrInvalid},
		{"bad advanced", Advanced([]AdvancedEventSelector{adv("")}), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.set.Validate(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateDataStore(t *testing.T) {
	const fp0 = "AdvancedEventSelectors[0].FieldSelectors"
	only := func(cat string) AdvancedEventSelector { return adv("", eq(FieldEventCategory, cat)) }
	tests := []struct {
		name     string
		sel      []AdvancedEventSelector
		wantPath string
		wantMsg  string
	}{
		{name: "default", sel: DefaultDataStore()},
		{name: "management with store fields", sel: []AdvancedEventSelector{mgmt(
			fs(FieldEventSource, "Equals", []string{"s3.amazonaws.com"}, "NotStartsWith", []string{"kms."}),
			fs(FieldEventName, "NotEquals", []string{"GetObject"}), eq(FieldEventType, "AwsApiCall"),
			fs(FieldSessionConsole, "NotEquals", []string{"true"}), fs(FieldUserARN, "StartsWith", []string{"arn:aws:iam::"}),
			eq(FieldReadOnly, "false"))}},
		{name: "cloudtrail categories combine", sel: []AdvancedEventSelector{mgmt(), data(TypeS3Object), network("s3.amazonaws.com")}},
		{name: "insight", sel: []AdvancedEventSelector{only(CategoryInsight)}},
		{name: "config items", sel: []AdvancedEventSelector{only(CategoryConfigurationItem)}},
		{name: "evidence", sel: []AdvancedEventSelector{only(CategoryEvidence)}},
		{name: "activity audit log twice", sel: []AdvancedEventSelector{only(CategoryActivityAuditLog), only(CategoryActivityAuditLog)}},
		{name: "five selectors", sel: []AdvancedEventSelector{mgmt(), mgmt(), mgmt(), mgmt(), mgmt()}},

		{name: "none", sel: []AdvancedEventSelector{}, wantPath: "AdvancedEventSelectors",
			wantMsg: "An event data store must have between 1 and 5 advanced event selectors; the request has 0."},
		{name: "six selectors", sel: []AdvancedEventSelector{mgmt(), mgmt(), mgmt(), mgmt(), mgmt(), mgmt()}, wantPath: "AdvancedEventSelectors",
			wantMsg: "An event data store must have between 1 and 5 advanced event selectors; the request has 6."},
		{name: "501 values", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldEventName, make501()...))}, wantPath: "AdvancedEventSelectors",
			wantMsg: "Advanced event selectors can have at most 500 values for all conditions on an event data store; the request has 503."},
		{name: "unknown category", sel: []AdvancedEventSelector{only("Insights")}, wantPath: fp0,
			wantMsg: "Invalid value for eventCategory: Insights. Valid values for event data stores are Management, Data, NetworkActivity, Insight, ConfigurationItem, Evidence, ActivityAuditLog."},
		{name: "no eventCategory", sel: []AdvancedEventSelector{adv("", eq(FieldReadOnly, "true"))}, wantPath: fp0,
			wantMsg: "The advanced event selector 1 must include an eventCategory field selector (Equals Management, Data, NetworkActivity, Insight, ConfigurationItem, Evidence or ActivityAuditLog)."},
		{name: "insight with a filter", sel: []AdvancedEventSelector{adv("", eq(FieldEventCategory, CategoryInsight), eq(FieldEventName, "x"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "The field eventName is not supported for Insight events on event data stores. Supported fields are eventCategory."},
		{name: "network with userIdentity.arn", sel: []AdvancedEventSelector{network("s3.amazonaws.com", eq(FieldUserARN, "arn:aws:iam::1:user/a"))}, wantPath: fp0 + "[2].Field",
			wantMsg: "The field userIdentity.arn is not supported for NetworkActivity events on event data stores. Supported fields are eventCategory, eventSource, eventName, errorCode, vpcEndpointId."},
		{name: "management errorCode", sel: []AdvancedEventSelector{mgmt(eq(FieldErrorCode, "VpceAccessDenied"))}, wantPath: fp0 + "[1].Field",
			wantMsg: "The field errorCode is not supported for Management events on event data stores. Supported fields are eventCategory, eventSource, readOnly, eventName, eventType, sessionCredentialFromConsole, userIdentity.arn."},
		{name: "cloudtrail and config", sel: []AdvancedEventSelector{mgmt(), only(CategoryConfigurationItem)}, wantPath: "AdvancedEventSelectors[1]",
			wantMsg: "An event data store holds one type of event: eventCategory ConfigurationItem cannot be combined with Management. Only Management, Data and NetworkActivity combine; create a separate event data store for each other category."},
		{name: "insight and evidence", sel: []AdvancedEventSelector{only(CategoryInsight), only(CategoryEvidence)}, wantPath: "AdvancedEventSelectors[1]",
			wantMsg: "An event data store holds one type of event: eventCategory Evidence cannot be combined with Insight. Only Management, Data and NetworkActivity combine; create a separate event data store for each other category."},
		{name: "data rules still hold", sel: []AdvancedEventSelector{data(TypeS3Object, eq(FieldResourcesARN, "arn:aws:s3:::bucket/"))}, wantPath: fp0,
			wantMsg: "Value arn:aws:s3:::bucket/ for resources.ARN with Equals is not a full ARN of a resource of type AWS::S3::Object. Equals and NotEquals need a full ARN; use StartsWith to match a prefix, e.g. arn:aws:s3:::bucket/ for every object in a bucket."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, ValidateDataStore(tt.sel), tt.wantPath, tt.wantMsg)
		})
	}
	if err := (Limits{MaxDataStoreSelectors: 1}).ValidateDataStore([]AdvancedEventSelector{mgmt(), mgmt()}); err == nil {
		t.Error("2 selectors accepted with MaxDataStoreSelectors 1")
	}
	// The store-only categories and fields stay refused on trails.
	if err := ValidateAdvanced([]AdvancedEventSelector{mgmt(eq(FieldEventName, "x"))}); err == nil {
		t.Error("a trail accepted eventName on management events")
	}
}

// make501 returns 501 distinct values.
func make501() []string {
	out := make([]string, 501)
	for i := range out {
		out[i] = fmt.Sprintf("Event%d", i)
	}
	return out
}

func TestStoreCategory(t *testing.T) {
	for _, tt := range []struct {
		name string
		sel  []AdvancedEventSelector
		want string
	}{
		{"none", nil, ""},
		{"default", DefaultDataStore(), CategoryManagement},
		{"data first", []AdvancedEventSelector{data(TypeS3Object), mgmt()}, CategoryData},
		{"config", []AdvancedEventSelector{adv("", eq(FieldEventCategory, CategoryConfigurationItem))}, CategoryConfigurationItem},
		{"no category field", []AdvancedEventSelector{adv("", eq(FieldReadOnly, "true"))}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := StoreCategory(tt.sel); got != tt.want {
				t.Errorf("StoreCategory = %q, want %q", got, tt.want)
			}
		})
	}
	for c, want := range map[string]bool{CategoryManagement: true, CategoryData: true, CategoryNetwork: true,
		CategoryInsight: false, CategoryConfigurationItem: false, CategoryEvidence: false, CategoryActivityAuditLog: false, "": false} {
		if CloudTrailCategory(c) != want {
			t.Errorf("CloudTrailCategory(%q) = %v", c, !want)
		}
	}
}
