package selector

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

// FuzzMatch compiles arbitrary selector JSON and matches it against
// arbitrary record JSON (as event.Parse accepts it). Validation and matching
// must not panic, validation errors must be the documented kinds, and a
// valid set must survive a JSON round trip with the same verdict.
func FuzzMatch(f *testing.F) {
	sels := []string{
		`{}`,
		`{"EventSelectors":[{"ReadWriteType":"WriteOnly","ExcludeManagementEventSources":["kms.amazonaws.com"]}]}`,
		`{"EventSelectors":[{"IncludeManagementEvents":false,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::bucket/"]},{"Type":"AWS::Lambda::Function","Values":["arn:aws:lambda"]}]}]}`,
		`{"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","StartsWith":["arn:aws:s3:::b/"],"NotEndsWith":[".tmp"]},{"Field":"userIdentity.arn","NotStartsWith":["arn:aws:sts::"]}]}]}`,
		`{"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["NetworkActivity"]},{"Field":"eventSource","Equals":["s3.amazonaws.com"]},{"Field":"errorCode","Equals":["VpceAccessDenied"]},{"Field":"vpcEndpointId","NotEquals":["v"]}]}]}`,
		`{"AdvancedEventSelectors":[{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"sessionCredentialFromConsole","Equals":["true"]},{"Field":"eventType","EndsWith":["Call"]},{"Field":"x","Equals":[]}]}]}`,
		`{"EventSelectors":[{}],"AdvancedEventSelectors":[{"FieldSelectors":[]}]}`,
		`{"AdvancedEventSelectors":[{"Name":"Default management events","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","NotEquals":["GetObject"]}]},{"FieldSelectors":[{"Field":"eventCategory","Equals":["ConfigurationItem"]}]}]}`,
	}
	recs := []string{
		`{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/a"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"e","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111111111111","eventCategory":"Data"}`,
		`{"eventTime":"2024-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"CreateKey","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"111111111111","sessionCredentialFromConsole":"true","errorCode":"AccessDenied"}`,
		`{"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","eventID":"e","eventType":"AwsVpceEvent","errorCode":"VpceAccessDenied","vpcEndpointId":"vpce-1","recipientAccountId":"111111111111"}`,
		`{"a":"\"}","userIdentity":{"arn":"\u0041"},"eventType":[`,
	}
	for i, s := range sels {
		f.Add([]byte(s), []byte(recs[i%len(recs)]))
	}
	f.Fuzz(func(t *testing.T, selJSON, recJSON []byte) {
		var set Set
		if json.Unmarshal(selJSON, &set) != nil {
			return
		}
		err := set.Validate()
		if _, ok := errors.AsType[*Error](err); err != nil && !ok && !errors.Is(err, ErrBothKinds) {
			t.Fatalf("Validate() = %T %v", err, err)
		}
		// The same selectors checked for an event data store.
		if derr := ValidateDataStore(set.AdvancedEventSelectors); derr != nil {
			if _, ok := errors.AsType[*Error](derr); !ok {
				t.Fatalf("ValidateDataStore() = %T %v", derr, derr)
			}
		} else if c := StoreCategory(set.AdvancedEventSelectors); c == "" {
			t.Fatal("valid event data store selectors without a category")
		}
		m := Compile(set)

		ev, perr := event.Parse(recJSON)
		if perr != nil {
			return
		}
		// Every member read from the stored record.
		every := Compile(Advanced([]AdvancedEventSelector{{FieldSelectors: []FieldSelector{
			{Field: FieldEventType, NotEquals: []string{"x"}}, {Field: FieldUserARN, NotEquals: []string{"x"}},
			{Field: FieldErrorCode, NotEquals: []string{"x"}}, {Field: FieldVpcEndpointID, NotEquals: []string{"x"}},
			{Field: FieldSessionConsole, NotEquals: []string{"x"}},
		}}}))
		all := FieldsOf(&ev)
		every.Match(&all)
		f1, f2 := FieldsOf(&ev), FieldsOf(&ev)
		got := m.Match(&f1)
		if again := m.Match(&f1); again != got {
			t.Fatalf("Match not repeatable: %v then %v", got, again)
		}
		if m.Match(&f2) != got {
			t.Fatal("Match differs between two Fields of one event")
		}
		if ev.Insight() && got {
			t.Fatal("an Insights event matched")
		}
		if err != nil {
			return
		}
		b, merr := json.Marshal(set)
		if merr != nil {
			t.Fatal(merr)
		}
		var back Set
		if uerr := json.Unmarshal(b, &back); uerr != nil {
			t.Fatal(uerr)
		}
		if verr := back.Validate(); verr != nil {
			t.Fatalf("valid set invalid after round trip %s: %v", b, verr)
		}
		f3 := FieldsOf(&ev)
		if Compile(back).Match(&f3) != got {
			t.Fatalf("round trip %s changed the verdict", b)
		}
	})
}
