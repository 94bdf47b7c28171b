package layout_test

import (
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/layout"
)

// The log-file key of the AWS documentation ("Finding your CloudTrail log
// files").
func ExampleLogKey_Build() {
	key, err := layout.LogKey{
		Account: "111122223333",
		Region:  "us-east-2",
		Time:    time.Date(2015, 8, 1, 2, 10, 0, 0, time.UTC),
		Unique:  "Mu0KsOhtH1ar15ZZ",
	}.Build()
	fmt.Println(key, err)
	// Output:
	// AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz <nil>
}

// An organization trail with a prefix (given with a trailing slash, which is
// dropped), and an Insights file.
func ExampleLogKey_Build_organization() {
	k := layout.LogKey{
		Prefix:  "logs/",
		OrgID:   "o-exampleorgid",
		Account: "111111111111",
		Region:  "eu-west-1",
		Time:    time.Date(2026, 1, 2, 3, 4, 59, 0, time.UTC),
		Unique:  "kpaMYavMQA9Ahp7L",
	}
	key, _ := k.Build()
	fmt.Println(key)
	k.Insight = true
	key, _ = k.Build()
	fmt.Println(key)
	// Output:
	// logs/AWSLogs/o-exampleorgid/111111111111/CloudTrail/eu-west-1/2026/01/02/111111111111_CloudTrail_eu-west-1_20260102T0304Z_kpaMYavMQA9Ahp7L.json.gz
	// logs/AWSLogs/o-exampleorgid/111111111111/CloudTrail-Insight/eu-west-1/2026/01/02/111111111111_CloudTrail-Insight_eu-west-1_20260102T0304Z_kpaMYavMQA9Ahp7L.json.gz
}

// The key from AWS's SNS notification example.
func ExampleParseLogKey() {
	k, err := layout.ParseLogKey("AWSLogs/123456789012/CloudTrail/us-east-2/2016/08/11/123456789012_CloudTrail_us-east-2_20160811T2215Z_kpaMYavMQA9Ahp7L.json.gz")
	fmt.Printf("%q %q %q %s %q %v\n", k.Prefix, k.Account, k.Region, k.Time.Format(time.RFC3339), k.Unique, err)
	_, err = layout.ParseLogKey("AWSLogs/123456789012/CloudTrail/us-east-2/2016/08/12/123456789012_CloudTrail_us-east-2_20160811T2215Z_kpaMYavMQA9Ahp7L.json.gz")
	fmt.Println(err)
	// Output:
	// "" "123456789012" "us-east-2" 2016-08-11T22:15:00Z "kpaMYavMQA9Ahp7L" <nil>
	// layout: not a log-file key "AWSLogs/123456789012/CloudTrail/us-east-2/2016/08/12/123456789012_CloudTrail_us-east-2_20160811T2215Z_kpaMYavMQA9Ahp7L.json.gz": folder date 2016/08/12 differs from file time 20160811T2215Z
}

// The digest-file key of the AWS documentation ("CloudTrail digest file
// structure"), and the prefix validate-logs lists it under.
func ExampleDigestKey_Build() {
	k := layout.DigestKey{
		Account:    "111122223333",
		Region:     "us-east-2",
		TrailName:  "your-trail-name",
		HomeRegion: "us-east-2",
		End:        time.Date(2015, 8, 17, 15, 1, 31, 0, time.UTC),
	}
	key, err := k.Build()
	fmt.Println(key, err)
	fmt.Println(layout.DigestListPrefix(k.Prefix, k.OrgID, k.Account, k.Region))
	// Output:
	// AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz <nil>
	// AWSLogs/111122223333/CloudTrail-Digest/us-east-2
}

// A multi-Region trail whose name contains underscores: the covered Region
// and the home Region differ.
func ExampleParseDigestKey() {
	k, err := layout.ParseDigestKey("audit/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/03/01/111122223333_CloudTrail-Digest_eu-west-1_my_trail_us-east-1_20260301T000512Z.json.gz")
	fmt.Printf("%q %q %q %q %s %v %v\n", k.Prefix, k.Region, k.TrailName, k.HomeRegion, k.End.Format(time.RFC3339), k.Backfill, err)
	// Output:
	// "audit" "eu-west-1" "my_trail" "us-east-1" 2026-03-01T00:05:12Z false <nil>
}

func ExampleNormalizePrefix() {
	for _, p := range []string{"", "logs", "logs/", "a/b//", "/"} {
		fmt.Printf("%q ", layout.NormalizePrefix(p))
	}
	fmt.Println()
	// Output:
	// "" "logs" "logs" "a/b" ""
}
