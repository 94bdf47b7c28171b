package s3

import (
	"fmt"
	"strings"

	"github.com/opentrail/opentrail/internal/objstore"
)

// checkBucketName applies the S3 bucket naming rules before CreateBucket:
// S3-compatible servers differ in what they refuse (versitygw accepts
// "a..b"). The error wraps objstore.ErrInvalidBucketName and says which
// rule the name breaks. fsbucket applies the same rules.
func checkBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("s3 CreateBucket: bucket name %q %s: %w", name, why, objstore.ErrInvalidBucketName)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("must be 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("may hold only lowercase letters, digits, '.' and '-'")
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must start and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("must not contain \"..\"")
	}
	if isIPv4(name) {
		return bad("must not be formatted as an IP address")
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// isIPv4 reports whether s is four dot-separated decimal numbers.
func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}
