package s3

import (
	"fmt"

	"github.com/opentrail/opentrail/internal/objstore"
)

// checkBucketName applies the S3 bucket naming rules before CreateBucket:
// S3-compatible servers differ in what they refuse (versitygw accepts
// "a..b").
func checkBucketName(name string) error {
	if err := objstore.CheckBucketName(name); err != nil {
		return fmt.Errorf("s3 CreateBucket: %w", err)
	}
	return nil
}
