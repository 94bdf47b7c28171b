package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

func ExampleParse() {
	raw := []byte(`{
	  "eventVersion": "1.05",
	  "userIdentity": {"type": "AssumedRole", "principalId": "AROAIDPPEZS35WEXAMPLE:MySessionName",
	    "arn": "arn:aws:sts::123456789012:assumed-role/RoleToBeAssumed/MySessionName",
	    "accountId": "123456789012", "accessKeyId": "ASIAIOSFODNN7EXAMPLE"},
	  "eventTime": "2019-06-19T00:18:31Z",
	  "eventSource": "cloudtrail.amazonaws.com",
	  "eventName": "StartLogging",
	  "awsRegion": "us-east-2",
	  "requestParameters": {"name": "arn:aws:cloudtrail:us-east-2:123456789012:trail/My-First-Trail"},
	  "responseElements": null,
	  "eventID": "7116c6a1-EXAMPLE",
	  "readOnly": false,
	  "resources": [{"ARN": "arn:aws:cloudtrail:us-east-2:123456789012:trail/My-First-Trail",
	    "accountId": "123456789012", "type": "AWS::CloudTrail::Trail"}],
	  "eventType": "AwsApiCall",
	  "recipientAccountId": "123456789012"
	}`)
	ev, err := event.Parse(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.EventTime.Format(time.RFC3339), ev.Account, ev.Region)
	fmt.Println(ev.EventSource, ev.EventName, ev.Category, *ev.ReadOnly)
	fmt.Println("Username:", ev.Username)
	fmt.Println("AccessKeyId:", ev.AccessKeyID)
	fmt.Printf("Resources: %+v\n", ev.Resources)
	fmt.Println(string(ev.Raw[:68]), "…") // compact

	_, err = event.Parse([]byte(`{"eventID":"e1","awsRegion":"us-east-1"}`))
	fmt.Println(err, errors.Is(err, event.ErrInvalid))
	// Output:
	// 2019-06-19T00:18:31Z 123456789012 us-east-2
	// cloudtrail.amazonaws.com StartLogging Management false
	// Username: MySessionName
	// AccessKeyId: ASIAIOSFODNN7EXAMPLE
	// Resources: [{ResourceType:AWS::CloudTrail::Trail ResourceName:arn:aws:cloudtrail:us-east-2:123456789012:trail/My-First-Trail}]
	// {"eventVersion":"1.05","userIdentity":{"type":"AssumedRole","princip …
	// invalid record: eventTime: missing; every CloudTrail record has an eventTime true
}

func ExampleRecord_MarshalJSON() {
	key := "AKIAIOSFODNN7EXAMPLE"
	readOnly, management := false, true
	rec := event.Record{
		EventVersion: event.Version,
		UserIdentity: &event.UserIdentity{
			Type:        "IAMUser",
			PrincipalID: "AIDAJDPLRKLG7UEXAMPLE",
			ARN:         "arn:aws:iam::123456789012:user/Mary_Major",
			AccountID:   "123456789012",
			AccessKeyID: &key,
			UserName:    "Mary_Major",
		},
		EventTime:          event.FormatTime(time.Date(2019, 6, 19, 0, 18, 31, 0, time.UTC)),
		EventSource:        "cloudtrail.amazonaws.com",
		EventName:          "StartLogging",
		AWSRegion:          "us-east-2",
		SourceIPAddress:    "203.0.113.64",
		UserAgent:          "aws-cli/2.15.0",
		RequestParameters:  json.RawMessage(`{"name":"My-First-Trail"}`),
		ResponseElements:   json.RawMessage(`null`),
		RequestID:          "ddf5140f-EXAMPLE",
		EventID:            "7116c6a1-EXAMPLE",
		ReadOnly:           &readOnly,
		EventType:          event.TypeAPICall,
		ManagementEvent:    &management,
		RecipientAccountID: "123456789012",
		EventCategory:      event.CategoryMgmt,
		// Members OpenTrail does not model are kept and written last.
		Extra: map[string]json.RawMessage{"customField": json.RawMessage(`{"x":1}`)},
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {
	//   "eventVersion": "1.11",
	//   "userIdentity": {
	//     "type": "IAMUser",
	//     "principalId": "AIDAJDPLRKLG7UEXAMPLE",
	//     "arn": "arn:aws:iam::123456789012:user/Mary_Major",
	//     "accountId": "123456789012",
	//     "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
	//     "userName": "Mary_Major"
	//   },
	//   "eventTime": "2019-06-19T00:18:31Z",
	//   "eventSource": "cloudtrail.amazonaws.com",
	//   "eventName": "StartLogging",
	//   "awsRegion": "us-east-2",
	//   "sourceIPAddress": "203.0.113.64",
	//   "userAgent": "aws-cli/2.15.0",
	//   "requestParameters": {
	//     "name": "My-First-Trail"
	//   },
	//   "responseElements": null,
	//   "requestID": "ddf5140f-EXAMPLE",
	//   "eventID": "7116c6a1-EXAMPLE",
	//   "readOnly": false,
	//   "eventType": "AwsApiCall",
	//   "managementEvent": true,
	//   "recipientAccountId": "123456789012",
	//   "eventCategory": "Management",
	//   "customField": {
	//     "x": 1
	//   }
	// }
}

func ExampleRecord_UnmarshalJSON() {
	// A string member that is "" or null, and members OpenTrail does not
	// model, survive a round trip.
	in := `{"eventName":"GetObject","errorCode":null,"userAgent":"","newMember":[1,2]}`
	var rec event.Record
	if err := json.Unmarshal([]byte(in), &rec); err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.Marshal(rec)
	fmt.Println(rec.EventName)
	fmt.Println(string(out))
	// Output:
	// GetObject
	// {"eventName":"GetObject","userAgent":"","errorCode":null,"newMember":[1,2]}
}

func ExampleDeriveUsername() {
	fmt.Println(event.DeriveUsername("AssumedRole", "", "arn:aws:sts::123456789012:assumed-role/Admin/alice", ""))
	fmt.Println(event.DeriveUsername("Root", "", "arn:aws:iam::123456789012:root", ""))
	fmt.Println(event.DeriveUsername("AWSService", "", "", "lambda.amazonaws.com"))
	// Output:
	// alice
	// root
	// lambda.amazonaws.com
}
