package awsjson_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
)

func ExampleParseTarget() {
	for _, h := range []string{
		"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
		"CloudTrail_20131101.ListTrails",
		"DynamoDB_20120810.ListTables",
	} {
		op, err := awsjson.ParseTarget(h)
		fmt.Printf("%q %v\n", op, err)
	}
	// Output:
	// "LookupEvents" <nil>
	// "ListTrails" <nil>
	// "" awsjson: unrecognised X-Amz-Target: unknown prefix "DynamoDB_20120810" (want "CloudTrail_20131101" or "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101")
}

func ExampleTime() {
	var in struct {
		StartTime *awsjson.Time
		EndTime   *awsjson.Time
	}
	err := awsjson.Decode([]byte(`{"StartTime": 1704067200, "EndTime": null}`), &in)
	fmt.Println(in.StartTime.UTC(), in.EndTime == nil, err)

	out, _ := json.Marshal(struct{ EventTime awsjson.Time }{awsjson.Time{time.UnixMilli(1704067200123)}})
	fmt.Println(string(out))

	err = awsjson.Decode([]byte(`{"StartTime": "2024-01-01T00:00:00Z"}`), &in)
	fmt.Println(err)
	// Output:
	// 2024-01-01 00:00:00 +0000 UTC true <nil>
	// {"EventTime":1704067200.123}
	// member StartTime: expected a JSON number of epoch seconds (e.g. 1704067200) within years 1 to 5138, got a string
}

func ExampleDecode() {
	var in struct {
		MaxResults *int64
		NextToken  *string
	}
	fmt.Println(awsjson.Decode(nil, &in))
	fmt.Println(awsjson.Decode([]byte(`{"MaxResults": "50", "Unknown": 1}`), &in))
	// Output:
	// <nil>
	// member MaxResults: expected an integer that fits 64 bits, got a string
}
