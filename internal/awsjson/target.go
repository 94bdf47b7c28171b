package awsjson

import (
	"errors"
	"fmt"
	"strings"
)

// Target prefixes accepted in X-Amz-Target. The operation name follows the
// prefix after a '.'.
const (
	// TargetPrefix is the model's targetPrefix, sent by botocore (boto3 and
	// the aws CLI).
	TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
	// ShortTargetPrefix is what Smithy-generated SDKs (aws-sdk-go-v2, the
	// JavaScript SDK v3) send.
	ShortTargetPrefix = "CloudTrail_20131101"
)

// ErrBadTarget matches every error ParseTarget returns. The caller should
// answer UnknownOperationException.
var ErrBadTarget = errors.New("awsjson: unrecognised X-Amz-Target")

// ParseTarget returns the operation named by an X-Amz-Target header value
// in either accepted form (see [TargetPrefix] and [ShortTargetPrefix]).
// The operation name is returned as sent (names are case-sensitive); it is
// only checked to be a non-empty run of ASCII letters and digits, so the
// caller still has to look it up.
func ParseTarget(h string) (op string, err error) {
	if h == "" {
		return "", fmt.Errorf("%w: the X-Amz-Target header is missing", ErrBadTarget)
	}
	i := strings.LastIndexByte(h, '.')
	if i < 0 {
		return "", fmt.Errorf("%w: %q has no %q prefix", ErrBadTarget, h, ShortTargetPrefix+".")
	}
	prefix, op := h[:i], h[i+1:]
	if prefix != TargetPrefix && prefix != ShortTargetPrefix {
		return "", fmt.Errorf("%w: unknown prefix %q (want %q or %q)", ErrBadTarget, prefix, ShortTargetPrefix, TargetPrefix)
	}
	if !validOpName(op) {
		return "", fmt.Errorf("%w: %q is not an operation name", ErrBadTarget, op)
	}
	return op, nil
}

// FormatTarget returns the X-Amz-Target value that botocore sends for op.
func FormatTarget(op string) string { return TargetPrefix + "." + op }

func validOpName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
