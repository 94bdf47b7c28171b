package s3api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/s3api"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// wantAPIError checks that err is an S3 error with code and HTTP status.
func wantAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code = %q (%v), want %q", ae.ErrorCode(), err, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v has no HTTP response", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("status = %d, want %d", re.HTTPStatusCode(), status)
	}
	if re.ServiceRequestID() == "" {
		t.Errorf("error response without x-amz-request-id")
	}
}

func TestBuckets(t *testing.T) {
	e := newEnv(t, envOptions{})
	a, b := e.client(t, e.keyA), e.client(t, e.keyB)
	ctx := t.Context()

	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-logs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("eu-logs"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("b-logs")}); err != nil {
		t.Fatal(err)
	}

	t.Run("location", func(t *testing.T) {
		for bucket, want := range map[string]types.BucketLocationConstraint{"trail-logs": "", "eu-logs": "eu-west-1"} {
			out, err := a.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if out.LocationConstraint != want {
				t.Errorf("%s: LocationConstraint = %q, want %q", bucket, out.LocationConstraint, want)
			}
		}
	})
	t.Run("list own buckets only", func(t *testing.T) {
		out, err := a.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, bk := range out.Buckets {
			names = append(names, aws.ToString(bk.Name))
			if bk.CreationDate == nil || time.Since(*bk.CreationDate) > time.Minute {
				t.Errorf("%s: CreationDate = %v", aws.ToString(bk.Name), bk.CreationDate)
			}
		}
		if diff := cmp.Diff([]string{"eu-logs", "trail-logs"}, names); diff != "" {
			t.Errorf("buckets (-want +got):\n%s", diff)
		}
		if got := aws.ToString(out.Owner.ID); got != accountA {
			t.Errorf("owner = %q", got)
		}
	})
	t.Run("head", func(t *testing.T) {
		out, err := a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("eu-logs")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.BucketRegion) != "eu-west-1" {
			t.Errorf("BucketRegion = %q", aws.ToString(out.BucketRegion))
		}
		_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
		wantAPIError(t, err, "NotFound", http.StatusNotFound) // HEAD: no body, the SDK names the status
		_, err = b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "Forbidden", http.StatusForbidden)
	})
	t.Run("create errors", func(t *testing.T) {
		_, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "BucketAlreadyOwnedByYou", http.StatusConflict)
		_, err = b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "BucketAlreadyExists", http.StatusConflict)
		_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
		wantAPIError(t, err, "InvalidBucketName", http.StatusBadRequest)
		_, err = a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bad-location"),
			CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "Not A Region"}})
		wantAPIError(t, err, "InvalidLocationConstraint", http.StatusBadRequest)
	})
	t.Run("other account", func(t *testing.T) {
		_, err := b.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
		_, err = b.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
		_, err = b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
		_, err = b.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail-logs"), Key: aws.String("k"),
			Body: strings.NewReader("x")})
		wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
		_, err = b.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail-logs"), Key: aws.String("k")})
		wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
		_, err = b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("trail-logs"), Key: aws.String("k")})
		wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	})
	t.Run("unsupported", func(t *testing.T) {
		_, err := a.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
		_, err = a.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
		_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
		_, err = a.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("trail-logs"), Key: aws.String("k")})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
		_, err = a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("trail-logs"), Key: aws.String("k2"),
			CopySource: aws.String("trail-logs/k")})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
		_, err = a.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("trail-logs")})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
		_, err = a.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("trail-logs"),
			Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k")}}}})
		wantAPIError(t, err, "NotImplemented", http.StatusNotImplemented)
	})
}

func TestObjects(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.client(t, e.keyA)
	ctx := t.Context()
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	const key = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/digest file+1.json.gz"
	body := []byte("0123456789abcdefghij")

	put, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String("application/x-gzip"),
		ACL:      types.ObjectCannedACLBucketOwnerFullControl,
		Metadata: map[string]string{"Signature": "abcdef", "signature-algorithm": "SHA256withRSA"}})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.Head(ctx, "trail", key)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.ETag) != stored.ETag {
		t.Errorf("PutObject ETag = %s, stored %s", aws.ToString(put.ETag), stored.ETag)
	}
	if got := e.store.buckets["trail"].objects[key].opt.ACL; got != "bucket-owner-full-control" {
		t.Errorf("ACL passed to the store = %q", got)
	}

	t.Run("get", func(t *testing.T) {
		out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if !bytes.Equal(got, body) {
			t.Errorf("body = %q", got)
		}
		if diff := cmp.Diff(map[string]string{"signature": "abcdef", "signature-algorithm": "SHA256withRSA"}, out.Metadata); diff != "" {
			t.Errorf("metadata (-want +got):\n%s", diff)
		}
		if aws.ToString(out.ETag) != stored.ETag || aws.ToInt64(out.ContentLength) != int64(len(body)) ||
			aws.ToString(out.ContentType) != "application/x-gzip" || out.LastModified == nil ||
			!out.LastModified.Equal(stored.LastModified.Truncate(time.Second)) {
			t.Errorf("GetObject = etag %s length %d type %s modified %v", aws.ToString(out.ETag),
				aws.ToInt64(out.ContentLength), aws.ToString(out.ContentType), out.LastModified)
		}
		if out.ContentEncoding != nil {
			t.Errorf("Content-Encoding = %q", *out.ContentEncoding)
		}
	})
	t.Run("head", func(t *testing.T) {
		out, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trail"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt64(out.ContentLength) != int64(len(body)) || out.Metadata["signature"] != "abcdef" {
			t.Errorf("HeadObject = length %d metadata %v", aws.ToInt64(out.ContentLength), out.Metadata)
		}
	})
	t.Run("raw metadata header names", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp := e.do(t, e.request(t, &e.keyA, method, "/trail/"+strings.ReplaceAll(key, " ", "%20"), nil, "", nil))
			if resp.status != http.StatusOK {
				t.Fatalf("%s: status %d: %s", method, resp.status, resp.body)
			}
			for _, want := range []string{"\r\nx-amz-meta-signature: abcdef\r\n", "\r\nx-amz-meta-signature-algorithm: SHA256withRSA\r\n"} {
				if !strings.Contains(resp.head, want) {
					t.Errorf("%s: response head lacks %q:\n%s", method, want, resp.head)
				}
			}
			if strings.Contains(resp.head, "X-Amz-Meta") || resp.header.Get("Content-Encoding") != "" {
				t.Errorf("%s: canonical metadata names or Content-Encoding:\n%s", method, resp.head)
			}
			if resp.header.Get("X-Amz-Request-Id") == "" {
				t.Errorf("%s: no x-amz-request-id", method)
			}
		}
	})
	t.Run("range", func(t *testing.T) {
		for _, tc := range []struct{ rng, want, contentRange string }{
			{"bytes=2-5", "2345", "bytes 2-5/20"},
			{"bytes=15-", "fghij", "bytes 15-19/20"},
			{"bytes=-3", "hij", "bytes 17-19/20"},
			{"bytes=10-100", "abcdefghij", "bytes 10-19/20"},
		} {
			out, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), Range: aws.String(tc.rng)})
			if err != nil {
				t.Fatalf("%s: %v", tc.rng, err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if string(got) != tc.want || aws.ToString(out.ContentRange) != tc.contentRange {
				t.Errorf("%s: body %q Content-Range %q, want %q %q", tc.rng, got, aws.ToString(out.ContentRange), tc.want, tc.contentRange)
			}
		}
		_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), Range: aws.String("bytes=20-")})
		wantAPIError(t, err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
		resp := e.do(t, e.request(t, &e.keyA, http.MethodGet, "/trail/"+strings.ReplaceAll(key, " ", "%20"), nil, "",
			map[string]string{"Range": "bytes=30-40"}))
		if resp.header.Get("Content-Range") != "bytes */20" {
			t.Errorf("416 Content-Range = %q", resp.header.Get("Content-Range"))
		}
	})
	t.Run("conditional", func(t *testing.T) {
		_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), IfMatch: aws.String(`"nope"`)})
		wantAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
		_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(key),
			Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
		wantAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
		if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("fresh"),
			Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("default content type", func(t *testing.T) {
		if err := e.store.Put(ctx, "trail", "untyped", []byte("x"), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		out, err := a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trail"), Key: aws.String("untyped")})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.ContentType); got != "binary/octet-stream" {
			t.Errorf("Content-Type = %q", got)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String("nope")})
		wantAPIError(t, err, "NoSuchKey", http.StatusNotFound)
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Errorf("error %T is not *types.NoSuchKey", err)
		}
		_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trail"), Key: aws.String("nope")})
		wantAPIError(t, err, "NotFound", http.StatusNotFound)
		_, err = a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
		wantAPIError(t, err, "NoSuchBucket", http.StatusNotFound)
		_, err = a.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("nobucket")})
		wantAPIError(t, err, "NoSuchBucket", http.StatusNotFound)
		_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
		wantAPIError(t, err, "NoSuchBucket", http.StatusNotFound)
	})
	t.Run("error document", func(t *testing.T) {
		resp := e.do(t, e.request(t, &e.keyA, http.MethodGet, "/trail/no/such%20key", nil, "", nil))
		want := []string{`<?xml version="1.0" encoding="UTF-8"?>`, "<Error><Code>NoSuchKey</Code>",
			"<Message>The specified key does not exist.</Message>", "<Key>no/such key</Key>", "<BucketName>trail</BucketName>",
			"<RequestId>" + resp.header.Get("X-Amz-Request-Id") + "</RequestId>"}
		for _, w := range want {
			if !strings.Contains(string(resp.body), w) {
				t.Errorf("error body lacks %q:\n%s", w, resp.body)
			}
		}
		head := e.do(t, e.request(t, &e.keyA, http.MethodHead, "/trail/no/such%20key", nil, "", nil))
		if head.status != http.StatusNotFound || len(head.body) != 0 {
			t.Errorf("HEAD error: status %d body %q", head.status, head.body)
		}
	})
	t.Run("bad digest", func(t *testing.T) {
		_, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("k"),
			Body: strings.NewReader("hello"), ContentMD5: aws.String("XrY7u+Ae7tCTyyK7j1rNww==")})
		wantAPIError(t, err, "BadDigest", http.StatusBadRequest)
		_, err = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("k"),
			Body: strings.NewReader("hello"), ChecksumCRC32: aws.String("AAAAAA==")})
		wantAPIError(t, err, "BadDigest", http.StatusBadRequest)
		for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
			types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
			if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("sum"),
				Body: strings.NewReader("hello"), ChecksumAlgorithm: algo}); err != nil {
				t.Errorf("PutObject with %s checksum: %v", algo, err)
			}
		}
	})
	t.Run("delete", func(t *testing.T) {
		resp := e.do(t, e.request(t, &e.keyA, http.MethodDelete, "/trail/fresh", nil, "", nil))
		if resp.status != http.StatusNoContent {
			t.Errorf("DELETE status %d", resp.status)
		}
		if _, err := a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("trail"), Key: aws.String("fresh")}); err != nil {
			t.Errorf("deleting a missing key: %v", err)
		}
		_, err := a.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String("fresh")})
		wantAPIError(t, err, "NoSuchKey", http.StatusNotFound)
	})
	t.Run("presigned get", func(t *testing.T) {
		ps, err := s3.NewPresignClient(a).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("trail"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(ps.Method, ps.URL, nil)
		resp := e.do(t, req)
		if resp.status != http.StatusOK || !bytes.Equal(resp.body, body) {
			t.Errorf("presigned GET: %d %q", resp.status, resp.body)
		}
	})
}

func TestEntityTooLarge(t *testing.T) {
	e := newEnv(t, envOptions{maxObject: 10})
	a := e.client(t, e.keyA)
	ctx := t.Context()
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("small")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("small"), Key: aws.String("ok"),
		Body: strings.NewReader("0123456789")}); err != nil {
		t.Fatal(err)
	}
	_, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("small"), Key: aws.String("big"),
		Body: strings.NewReader("0123456789x")})
	wantAPIError(t, err, "EntityTooLarge", http.StatusBadRequest)
}

// TestAuthErrors checks the mapping of the sigv4 sentinels and the other
// request-level errors.
func TestAuthErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	if err := e.store.CreateBucket(ctx, "bkt", objstore.BucketOptions{Owner: accountA}); err != nil {
		t.Fatal(err)
	}

	t.Run("bad signature", func(t *testing.T) {
		bad := e.client(t, identity.Key{AccessKeyID: e.keyA.AccessKeyID, SecretAccessKey: "wrong"})
		_, err := bad.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt")})
		wantAPIError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	})
	t.Run("unknown key", func(t *testing.T) {
		bad := e.client(t, identity.Key{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"})
		_, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, err, "InvalidAccessKeyId", http.StatusForbidden)
	})
	t.Run("clock skew", func(t *testing.T) {
		skewed := newEnv(t, envOptions{now: func() time.Time { return time.Now().Add(time.Hour) }})
		_, err := skewed.client(t, skewed.keyA).ListBuckets(ctx, &s3.ListBucketsInput{})
		wantAPIError(t, err, "RequestTimeTooSkewed", http.StatusForbidden)
	})

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"anonymous", func() *http.Request { return e.request(t, nil, http.MethodGet, "/bkt", nil, "", nil) },
			http.StatusForbidden, "AccessDenied"},
		{"missing content hash", func() *http.Request {
			r := e.request(t, &e.keyA, http.MethodGet, "/bkt", nil, "", nil)
			r.Header.Del("X-Amz-Content-Sha256")
			return r
		}, http.StatusBadRequest, "MissingSecurityHeader"},
		{"malformed authorization", func() *http.Request {
			return e.request(t, nil, http.MethodGet, "/bkt", nil, "", map[string]string{
				"Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
		}, http.StatusBadRequest, "AuthorizationHeaderMalformed"},
		{"wrong service", func() *http.Request {
			return e.requestFor(t, "cloudtrail", &e.keyA, http.MethodGet, "/bkt", nil, "", nil)
		}, http.StatusBadRequest, "AuthorizationHeaderMalformed"},
		{"content hash mismatch", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/bkt/k", []byte("body"), hashHex([]byte("other")), nil)
		}, http.StatusBadRequest, "XAmzContentSHA256Mismatch"},
		{"method not allowed", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPatch, "/bkt/k", nil, "", nil)
		}, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"put on root", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/", nil, "", nil)
		}, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"tagging", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodGet, "/bkt/k?tagging", nil, "", nil)
		}, http.StatusNotImplemented, "NotImplemented"},
		{"versionId", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodGet, "/bkt/k?versionId=abc", nil, "", nil)
		}, http.StatusNotImplemented, "NotImplemented"},
		{"signed aws-chunked", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/bkt/k", []byte("0\r\n\r\n"), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
				map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "0"})
		}, http.StatusNotImplemented, "NotImplemented"},
		{"bad max-keys", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodGet, "/bkt?max-keys=lots", nil, "", nil)
		}, http.StatusBadRequest, "InvalidArgument"},
		{"bad encoding-type", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodGet, "/bkt?encoding-type=base64", nil, "", nil)
		}, http.StatusBadRequest, "InvalidArgument"},
		{"bad continuation token", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodGet, "/bkt?list-type=2&continuation-token=%21%21", nil, "", nil)
		}, http.StatusBadRequest, "InvalidArgument"},
		{"malformed bucket configuration", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/newbucket", []byte("<CreateBucketConfiguration>"), "", nil)
		}, http.StatusBadRequest, "MalformedXML"},
		{"key too long", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/bkt/"+strings.Repeat("k", 1025), []byte("x"), "", nil)
		}, http.StatusBadRequest, "KeyTooLongError"},
		{"invalid canned acl", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/bkt/k", []byte("x"), "", map[string]string{"X-Amz-Acl": "everyone"})
		}, http.StatusBadRequest, "InvalidArgument"},
		{"invalid content-md5", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/bkt/k", []byte("x"), "", map[string]string{"Content-Md5": "nope"})
		}, http.StatusBadRequest, "InvalidDigest"},
		{"metadata too large", func() *http.Request {
			return e.request(t, &e.keyA, http.MethodPut, "/bkt/k", []byte("x"), "",
				map[string]string{"X-Amz-Meta-Big": strings.Repeat("v", 2100)})
		}, http.StatusBadRequest, "MetadataTooLarge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(t, tc.req())
			if resp.status != tc.status || errorCode(resp.body) != tc.code {
				t.Errorf("got %d %s, want %d %s:\n%s", resp.status, errorCode(resp.body), tc.status, tc.code, resp.body)
			}
			if resp.header.Get("X-Amz-Request-Id") == "" {
				t.Errorf("no x-amz-request-id")
			}
		})
	}
}

func TestInternalError(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	if err := e.store.CreateBucket(ctx, "bkt", objstore.BucketOptions{Owner: accountA}); err != nil {
		t.Fatal(err)
	}
	e.store.failList = errPlain
	_, err := e.client(t, e.keyA).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	wantAPIError(t, err, "InternalError", http.StatusInternalServerError)
	var re *awshttp.ResponseError
	errors.As(err, &re)
	logs := e.logs.String()
	if !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, re.ServiceRequestID()) {
		t.Errorf("internal error not logged with its request id %s:\n%s", re.ServiceRequestID(), logs)
	}
	if strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("internal detail sent to the client: %v", err)
	}
}

// listingKeys need escaping in URLs and XML; ctlKeys add a control
// character, which only encoding-type=url can carry.
var (
	listingKeys = []string{
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/a.json.gz",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/02/b.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/c.json.gz",
		"a/1", "a/2", "a/b/3", "a+b/c", "b c/d e", "b c/f", "c&d<e>", "d%2Fe", "e/", "e/x", "f~g*h",
		"h/über", "h/ü/x", "top", "z",
	}
	ctlKeys = append(slices.Clone(listingKeys), "i\x01j", "i\x01k/l")
)

// refEntry is a listing entry: a key, or a common prefix ending "/".
type refEntry struct {
	Key    string
	Prefix bool
}

// refList is the reference model of a delimiter listing after a marker.
func refList(keys []string, prefix, delim, after string) []refEntry {
	keys = slices.Sorted(slices.Values(keys))
	var out []refEntry
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) || k <= after {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if strings.HasPrefix(after, cp) || len(out) > 0 && out[len(out)-1] == (refEntry{cp, true}) {
					continue
				}
				out = append(out, refEntry{cp, true})
				continue
			}
		}
		out = append(out, refEntry{k, false})
	}
	return out
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	for bucket, keys := range map[string][]string{"plain": listingKeys, "ctl": ctlKeys} {
		if err := e.store.CreateBucket(ctx, bucket, objstore.BucketOptions{Owner: accountA}); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := e.store.Put(ctx, bucket, k, []byte(k), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := e.client(t, e.keyA)
	type params struct{ prefix, delim, start string }
	cases := []params{
		{"", "", ""}, {"", "/", ""}, {"a", "/", ""}, {"a/", "/", ""}, {"AWSLogs/111122223333/CloudTrail-Digest/us-east-1", "", ""},
		{"", "/", "a/1"}, {"", "/", "b c/"}, {"h/", "/", ""}, {"", "", "c&d<e>"}, {"", "b", ""}, {"nothing", "/", ""},
		{"AWSLogs/", "/", ""}, {"", "c/", ""},
	}
	for _, bucket := range []string{"plain", "ctl"} {
		keys := map[string][]string{"plain": listingKeys, "ctl": ctlKeys}[bucket]
		encode := bucket == "ctl"
		for _, p := range cases {
			want := refList(keys, p.prefix, p.delim, p.start)
			for _, max := range []int32{1, 2, 3, 1000} {
				name := fmt.Sprintf("%s/prefix=%q/delim=%q/start=%q/max=%d", bucket, p.prefix, p.delim, p.start, max)
				t.Run("v1/"+name, func(t *testing.T) {
					got := listV1(t, a, bucket, p.prefix, p.delim, p.start, max, encode)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("entries (-want +got):\n%s", diff)
					}
				})
				t.Run("v2/"+name, func(t *testing.T) {
					got := listV2(t, a, bucket, p.prefix, p.delim, p.start, max, encode)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("entries (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// listV1 pages through ListObjects as botocore's paginator does: the next
// marker is NextMarker, or the last key.
func listV1(t *testing.T, c *s3.Client, bucket, prefix, delim, marker string, max int32, encode bool) []refEntry {
	t.Helper()
	var got []refEntry
	dec := func(s *string) string {
		if encode {
			return decodeURL(t, aws.ToString(s))
		}
		return aws.ToString(s)
	}
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("too many pages")
		}
		in := &s3.ListObjectsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(max)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		if delim != "" {
			in.Delimiter = aws.String(delim)
		}
		if marker != "" {
			in.Marker = aws.String(marker)
		}
		if encode {
			in.EncodingType = types.EncodingTypeUrl
		}
		out, err := c.ListObjects(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		if dec(out.Prefix) != prefix || dec(out.Marker) != marker || aws.ToInt32(out.MaxKeys) != max {
			t.Errorf("echoed prefix %q marker %q max %d", dec(out.Prefix), dec(out.Marker), aws.ToInt32(out.MaxKeys))
		}
		if encode != (out.EncodingType == types.EncodingTypeUrl) {
			t.Errorf("EncodingType = %q", out.EncodingType)
		}
		var pageEntries []refEntry
		for _, o := range out.Contents {
			pageEntries = append(pageEntries, refEntry{dec(o.Key), false})
			if o.Owner == nil || aws.ToString(o.Owner.ID) != accountA || aws.ToInt64(o.Size) != int64(len(dec(o.Key))) {
				t.Errorf("%s: owner %v size %d", dec(o.Key), o.Owner, aws.ToInt64(o.Size))
			}
		}
		for _, cp := range out.CommonPrefixes {
			pageEntries = append(pageEntries, refEntry{dec(cp.Prefix), true})
		}
		sort.Slice(pageEntries, func(i, j int) bool { return pageEntries[i].Key < pageEntries[j].Key })
		if len(pageEntries) > int(max) {
			t.Errorf("page of %d entries for max-keys %d", len(pageEntries), max)
		}
		got = append(got, pageEntries...)
		if !aws.ToBool(out.IsTruncated) {
			if out.NextMarker != nil {
				t.Errorf("NextMarker %q on the last page", dec(out.NextMarker))
			}
			return got
		}
		switch {
		case out.NextMarker != nil:
			if delim == "" {
				t.Errorf("NextMarker without a delimiter")
			}
			marker = dec(out.NextMarker)
		case delim != "":
			t.Fatalf("truncated delimiter listing without NextMarker")
		default:
			marker = got[len(got)-1].Key
		}
	}
}

func listV2(t *testing.T, c *s3.Client, bucket, prefix, delim, start string, max int32, encode bool) []refEntry {
	t.Helper()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(max)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if delim != "" {
		in.Delimiter = aws.String(delim)
	}
	if start != "" {
		in.StartAfter = aws.String(start)
	}
	if encode {
		in.EncodingType = types.EncodingTypeUrl
	}
	dec := func(s *string) string {
		if encode {
			return decodeURL(t, aws.ToString(s))
		}
		return aws.ToString(s)
	}
	var got []refEntry
	pg := s3.NewListObjectsV2Paginator(c, in)
	for pages := 0; pg.HasMorePages(); pages++ {
		if pages > 100 {
			t.Fatal("too many pages")
		}
		out, err := pg.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var pageEntries []refEntry
		for _, o := range out.Contents {
			pageEntries = append(pageEntries, refEntry{dec(o.Key), false})
			if o.Owner != nil {
				t.Errorf("owner without fetch-owner")
			}
		}
		for _, cp := range out.CommonPrefixes {
			pageEntries = append(pageEntries, refEntry{dec(cp.Prefix), true})
		}
		if int(aws.ToInt32(out.KeyCount)) != len(pageEntries) || len(pageEntries) > int(max) {
			t.Errorf("KeyCount %d for %d entries (max %d)", aws.ToInt32(out.KeyCount), len(pageEntries), max)
		}
		if dec(out.StartAfter) != start {
			t.Errorf("StartAfter = %q", dec(out.StartAfter))
		}
		sort.Slice(pageEntries, func(i, j int) bool { return pageEntries[i].Key < pageEntries[j].Key })
		got = append(got, pageEntries...)
		if aws.ToBool(out.IsTruncated) == (out.NextContinuationToken == nil) {
			t.Errorf("IsTruncated %v with NextContinuationToken %v", aws.ToBool(out.IsTruncated), out.NextContinuationToken)
		}
	}
	return got
}

// TestListRaw checks the encoding-type=url wire form against S3's.
func TestListRaw(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	if err := e.store.CreateBucket(ctx, "bkt", objstore.BucketOptions{Owner: accountA}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a b/c+d~e*f.g", "a b/h"} {
		if err := e.store.Put(ctx, "bkt", k, nil, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	resp := e.do(t, e.request(t, &e.keyA, http.MethodGet, "/bkt?encoding-type=url&prefix=a%20b%2F&marker=a%20b%2Fc&max-keys=1&delimiter=%2F", nil, "", nil))
	for _, want := range []string{"<Key>a+b/c%2Bd%7Ee*f.g</Key>", "<Prefix>a+b/</Prefix>", "<Marker>a+b/c</Marker>",
		"<NextMarker>a+b/c%2Bd%7Ee*f.g</NextMarker>", "<Delimiter>/</Delimiter>", "<EncodingType>url</EncodingType>",
		"<IsTruncated>true</IsTruncated>", "<MaxKeys>1</MaxKeys>", "<StorageClass>STANDARD</StorageClass>"} {
		if !strings.Contains(string(resp.body), want) {
			t.Errorf("ListObjects body lacks %s:\n%s", want, resp.body)
		}
	}
	resp = e.do(t, e.request(t, &e.keyA, http.MethodGet, "/bkt?max-keys=0", nil, "", nil))
	if !strings.Contains(string(resp.body), "<IsTruncated>false</IsTruncated>") || strings.Contains(string(resp.body), "<Contents>") {
		t.Errorf("max-keys=0:\n%s", resp.body)
	}
	// max-keys above 1000 is capped.
	resp = e.do(t, e.request(t, &e.keyA, http.MethodGet, "/bkt?list-type=2&max-keys=5000", nil, "", nil))
	if !strings.Contains(string(resp.body), "<MaxKeys>1000</MaxKeys>") || !strings.Contains(string(resp.body), "<KeyCount>2</KeyCount>") {
		t.Errorf("max-keys=5000:\n%s", resp.body)
	}
}

// TestAWSChunkedUpload sends PutObject over TLS, where aws-sdk-go-v2 uses
// aws-chunked framing with an unsigned payload and a trailing checksum.
func TestAWSChunkedUpload(t *testing.T) {
	var seen struct{ sha, enc, trailer string }
	e := newEnv(t, envOptions{tls: true, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Count(r.URL.Path, "/") > 1 {
				seen.sha, seen.enc, seen.trailer = r.Header.Get("X-Amz-Content-Sha256"), r.Header.Get("Content-Encoding"), r.Header.Get("X-Amz-Trailer")
			}
			h.ServeHTTP(w, r)
		})
	}})
	ctx := t.Context()
	if err := e.store.CreateBucket(ctx, "bkt", objstore.BucketOptions{Owner: accountA}); err != nil {
		t.Fatal(err)
	}
	a := e.client(t, e.keyA)
	body := bytes.Repeat([]byte("opentrail chunked upload\n"), 5000)
	for _, algo := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha256} {
		if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
			Body: bytes.NewReader(body), ChecksumAlgorithm: algo}); err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		if seen.sha != "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || !strings.Contains(seen.enc, "aws-chunked") || seen.trailer == "" {
			t.Errorf("%s: the SDK sent x-amz-content-sha256 %q, Content-Encoding %q, x-amz-trailer %q; the test expects aws-chunked",
				algo, seen.sha, seen.enc, seen.trailer)
		}
		got := e.store.buckets["bkt"].objects["k"]
		if !bytes.Equal(got.body, body) {
			t.Errorf("%s: stored %d bytes, want %d", algo, len(got.body), len(body))
		}
		if _, ok := got.obj.Metadata["content-encoding"]; ok {
			t.Errorf("content encoding leaked into metadata")
		}
		// The record counts the decoded payload (s3-events.md §2.2).
		evs := e.events.take()
		if len(evs) != 1 || !bytes.Contains(evs[0].Raw, fmt.Appendf(nil, `"bytesTransferredIn":%d,`, len(body))) {
			t.Errorf("%s: %d records, want one with bytesTransferredIn %d", algo, len(evs), len(body))
			for _, ev := range evs {
				t.Logf("%s", ev.Raw)
			}
		}
	}

	raw := "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
	req := e.request(t, &e.keyA, http.MethodPut, "/bkt/bad", []byte(raw), "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
		map[string]string{"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5", "X-Amz-Trailer": "x-amz-checksum-crc32"})
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || errorCode(b) != "BadDigest" {
		t.Errorf("bad trailing checksum: %d %s", resp.StatusCode, b)
	}
}

func TestNewOptions(t *testing.T) {
	auth := identity.NewAuthenticator(nil, sigv4.Options{})
	for name, opts := range map[string]s3api.Options{
		"no auth":      {Store: newFakeStore(), Events: &recorder{}},
		"no store":     {Auth: auth, Events: &recorder{}},
		"no events":    {Auth: auth, Store: newFakeStore()},
		"negative max": {Auth: auth, Store: newFakeStore(), Events: &recorder{}, MaxObjectBytes: -1},
		// Beyond S3's 5 GiB single PUT; near MaxInt64 the read limits
		// would overflow and uploads be stored empty.
		"huge max": {Auth: auth, Store: newFakeStore(), Events: &recorder{}, MaxObjectBytes: math.MaxInt64},
	} {
		if _, err := s3api.New(opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if got := s3api.DefaultOptions().MaxObjectBytes; got != 64<<20 {
		t.Errorf("default MaxObjectBytes = %d", got)
	}
}

// Virtual-hosted-style requests (BUCKET.localhost:port/KEY), what the Go
// SDK sends without UsePathStyle, reach the same buckets as path-style
// ones.
func TestVirtualHostedStyle(t *testing.T) {
	e := newEnv(t, envOptions{})
	addr := e.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every *.localhost name goes to the test server.
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	vc := s3.New(s3.Options{
		Region: region, BaseEndpoint: aws.String("http://localhost:" + port), UsePathStyle: false,
		Credentials: credentials.NewStaticCredentialsProvider(e.keyA.AccessKeyID, e.keyA.SecretAccessKey, ""),
		HTTPClient:  sdktest.HTTPClient(tr), Retryer: aws.NopRetryer{},
	})
	ctx := t.Context()
	pc := e.client(t, e.keyA)
	if _, err := pc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	var host string
	if _, err := vc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a/b.txt"), Body: strings.NewReader("hello")},
		s3.WithAPIOptions(func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("host", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					host = req.URL.Host
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})); err != nil {
		t.Fatal(err)
	}
	if host != "vhost.localhost:"+port {
		t.Fatalf("the SDK sent host %q, not virtual-hosted style", host)
	}
	out, err := pc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("path-style read %q", b)
	}
	list, err := vc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "a/b.txt" {
		t.Fatalf("virtual-hosted list: %v, %+v", err, list)
	}
}
