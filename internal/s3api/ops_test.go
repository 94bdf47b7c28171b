package s3api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string // /bucket/key?query
		header http.Header
		want   *s3op // nil: no S3 operation
	}{
		{"list buckets", "GET", "/", nil, &s3op{"ListBuckets", true, false, scopeNone}},
		{"service PUT", "PUT", "/", nil, nil},
		{"empty bucket name", "GET", "//key", nil, nil},
		{"create bucket", "PUT", "/b", nil, &s3op{"CreateBucket", false, false, scopeNone}},
		{"delete bucket", "DELETE", "/b", nil, &s3op{"DeleteBucket", false, false, scopeBucket}},
		{"list objects", "GET", "/b", nil, &s3op{"ListObjects", true, true, scopePrefix}},
		{"list objects v2", "GET", "/b?list-type=2&prefix=x", nil, &s3op{"ListObjects", true, true, scopePrefix}},
		{"list object versions", "GET", "/b?versions", nil, &s3op{"ListObjectVersions", true, true, scopePrefix}},
		{"list multipart uploads", "GET", "/b?uploads", nil, &s3op{"ListMultipartUploads", true, false, scopeBucket}},
		{"head bucket", "HEAD", "/b", nil, &s3op{"HeadBucket", true, true, scopeBucketWide}},
		{"location", "GET", "/b?location", nil, &s3op{"GetBucketLocation", true, false, scopeBucket}},
		{"put location", "PUT", "/b?location", nil, nil},
		{"get policy", "GET", "/b?policy", nil, &s3op{"GetBucketPolicy", true, false, scopeBucket}},
		{"delete policy", "DELETE", "/b?policy", nil, &s3op{"DeleteBucketPolicy", false, false, scopeBucket}},
		{"lifecycle keeps CloudTrail's name", "PUT", "/b?lifecycle", nil, &s3op{"PutBucketLifecycle", false, false, scopeBucket}},
		{"accelerate", "GET", "/b?accelerate", nil, &s3op{"GetAccelerateConfiguration", true, false, scopeBucket}},
		{"object lock", "GET", "/b?object-lock", nil, &s3op{"GetBucketObjectLockConfiguration", true, false, scopeBucket}},
		{"public access block", "DELETE", "/b?publicAccessBlock", nil, &s3op{"DeleteBucketPublicAccessBlock", false, false, scopeBucket}},
		{"notification", "PUT", "/b?notification", nil, &s3op{"PutBucketNotification", false, false, scopeBucket}},
		{"analytics by id", "GET", "/b?analytics&id=x", nil, &s3op{"GetBucketAnalyticsConfiguration", true, false, scopeBucket}},
		{"analytics list", "GET", "/b?analytics", nil, &s3op{"ListBucketAnalyticsConfigurations", true, false, scopeBucket}},
		{"delete objects", "POST", "/b?delete", nil, &s3op{"DeleteObjects", false, true, scopeBucketWide}},
		{"post object", "POST", "/b", nil, &s3op{"PostObject", false, true, scopeBucketWide}},
		{"bucket PATCH", "PATCH", "/b", nil, nil},
		{"get object", "GET", "/b/k", nil, &s3op{"GetObject", true, true, scopeObject}},
		{"get object version null", "GET", "/b/k?versionId=null", nil, &s3op{"GetObject", true, true, scopeObject}},
		{"head object", "HEAD", "/b/k?acl", nil, &s3op{"HeadObject", true, true, scopeObject}},
		{"put object", "PUT", "/b/k", nil, &s3op{"PutObject", false, true, scopeObject}},
		{"copy object", "PUT", "/b/k", http.Header{"X-Amz-Copy-Source": {"/o/k"}}, &s3op{"CopyObject", false, true, scopeObject}},
		{"delete object", "DELETE", "/b/k", nil, &s3op{"DeleteObject", false, true, scopeObject}},
		{"object acl", "PUT", "/b/k?acl", nil, &s3op{"PutObjectAcl", false, true, scopeObject}},
		{"object tagging", "DELETE", "/b/k?tagging", nil, &s3op{"DeleteObjectTagging", false, true, scopeObject}},
		{"object attributes", "GET", "/b/k?attributes", nil, &s3op{"GetObjectAttributes", true, true, scopeObject}},
		{"delete attributes", "DELETE", "/b/k?attributes", nil, nil},
		{"create multipart upload", "POST", "/b/k?uploads", nil, &s3op{"CreateMultipartUpload", false, true, scopeObject}},
		{"upload part", "PUT", "/b/k?partNumber=1&uploadId=u", nil, &s3op{"UploadPart", false, true, scopeObject}},
		{"upload part copy", "PUT", "/b/k?partNumber=1&uploadId=u", http.Header{"X-Amz-Copy-Source": {"/o/k"}},
			&s3op{"UploadPartCopy", false, true, scopeObject}},
		{"complete multipart upload", "POST", "/b/k?uploadId=u", nil, &s3op{"CompleteMultipartUpload", false, true, scopeObject}},
		{"abort multipart upload", "DELETE", "/b/k?uploadId=u", nil, &s3op{"AbortMultipartUpload", false, true, scopeObject}},
		{"list parts", "GET", "/b/k?uploadId=u", nil, &s3op{"ListParts", true, true, scopeObject}},
		{"restore", "POST", "/b/k?restore", nil, &s3op{"RestoreObject", false, true, scopeObject}},
		{"select", "POST", "/b/k?select&select-type=2", nil, &s3op{"SelectObjectContent", true, true, scopeObject}},
		{"object POST", "POST", "/b/k", nil, nil},
		{"object PATCH", "PATCH", "/b/k", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, query, _ := strings.Cut(tt.path, "?")
			q, err := url.ParseQuery(query)
			if err != nil {
				t.Fatal(err)
			}
			bucket, key, _ := strings.Cut(path[1:], "/")
			got := classify(tt.method, bucket, key, path, q, tt.header)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("classify (-want +got):\n%s", d)
			}
		})
	}
}
