package awsquery_test

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/awsquery"
)

func Example() {
	req, err := awsquery.Parse("Action=CreateTopic&Version=2010-03-31&Name=alerts&Tags.member.1.Key=team&Tags.member.1.Value=sec")
	if err != nil {
		panic(err)
	}
	tags, _ := req.Form.Structs("Tags")
	name, _ := req.Form.String("Name")
	fmt.Println(req.Action, name, tags[0]["Key"], tags[0]["Value"])

	type createTopicResult struct {
		TopicArn string `xml:"TopicArn"`
	}
	out, _ := awsquery.EncodeResult("http://sns.amazonaws.com/doc/2010-03-31/", req.Action, "7a62c49f-347e-4fc4-9331-6e8e7a96aa73",
		createTopicResult{"arn:aws:sns:us-east-1:123456789012:alerts"})
	fmt.Println(string(out))
	// Output:
	// CreateTopic alerts team sec
	// <CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:123456789012:alerts</TopicArn></CreateTopicResult><ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8e7a96aa73</RequestId></ResponseMetadata></CreateTopicResponse>
}
