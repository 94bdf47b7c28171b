package validate_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/validate"
)

// Validate a trail whose bucket holds two hourly digests, each listing one
// log file, after one log file was replaced. The object source and key
// source are in-memory fakes; cmd/opentrail passes aws-sdk-go-v2 clients.
func Example() {
	f := newFixture(exampleTB{})
	c := f.chain("trail-bucket", t0.Add(time.Hour), 2, 1)
	lf := c[1].doc.LogFiles[0]
	f.store.put(lf.S3Bucket, lf.S3Object, gzipBytes(exampleTB{}, []byte(`{"Records":[]}`)), nil)

	opts := validate.DefaultOptions()
	opts.TrailARN = "arn:aws:cloudtrail:us-east-1:111122223333:trail/t1"
	opts.StartTime = t0
	opts.EndTime = t0.Add(2 * time.Hour)
	opts.Bucket = "trail-bucket"
	opts.Account, opts.TrailName, opts.HomeRegion = "111122223333", "t1", "us-east-1"
	opts.Stdout, opts.Stderr = os.Stdout, os.Stdout // stderr too, for the example
	res, err := validate.Run(context.Background(), f.store, f.keys, opts)
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println("ok:", res.OK())
	// Output:
	// Validating log files for trail arn:aws:cloudtrail:us-east-1:111122223333:trail/t1 between 2026-01-01T00:00:00Z and 2026-01-01T02:00:00Z
	//
	// Log file	s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/111122223333_CloudTrail_us-east-1_20260101T0105Z_log0000000000002.json.gz	INVALID: hash value doesn't match
	//
	// Results requested for 2026-01-01T00:00:00Z to 2026-01-01T02:00:00Z
	// Results found for 2026-01-01T00:00:00Z to 2026-01-01T02:00:00Z:
	//
	// 2/2 digest files valid
	// 1/2 log files valid, 1/2 log files INVALID
	// ok: false
}

// exampleTB lets Example use the test fixtures: failures panic.
type exampleTB struct{ testing.TB }

func (exampleTB) Helper()           {}
func (exampleTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
