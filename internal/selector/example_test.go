package selector_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/selector"
)

func ExampleValidateBasic() {
	err := selector.ValidateBasic([]selector.EventSelector{{ReadWriteType: "read-only"}})
	fmt.Println(errors.Is(err, selector.ErrInvalid))
	fmt.Println(err)
	// Output:
	// true
	// Invalid value for ReadWriteType: read-only. Valid values are ReadOnly, WriteOnly, All.
}

func ExampleSet_Effective() {
	// GetEventSelectors on a trail that never had selectors.
	b, _ := json.Marshal(selector.Set{}.Effective())
	fmt.Println(string(b))
	// Output:
	// {"EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[],"ExcludeManagementEventSources":[]}]}
}

func ExampleCompile() {
	var set selector.Set
	_ = json.Unmarshal([]byte(`{"AdvancedEventSelectors":[{
		"Name": "S3 writes outside tmp/",
		"FieldSelectors": [
			{"Field": "eventCategory", "Equals": ["Data"]},
			{"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
			{"Field": "readOnly", "Equals": ["false"]},
			{"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::amzn-s3-demo-bucket/"], "NotStartsWith": ["arn:aws:s3:::amzn-s3-demo-bucket/tmp/"]}
		]}]}`), &set)
	if err := set.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	m := selector.Compile(set)

	for _, key := range []string{"reports/q1.csv", "tmp/scratch"} {
		ev, err := event.Parse([]byte(`{"eventTime":"2024-05-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","eventID":"e1","readOnly":false,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::amzn-s3-demo-bucket/` + key + `"}]}`))
		if err != nil {
			fmt.Println(err)
			return
		}
		f := selector.FieldsOf(&ev)
		fmt.Println(key, m.Match(&f))
	}
	// Output:
	// reports/q1.csv true
	// tmp/scratch false
}
