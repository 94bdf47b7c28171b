// Package s3api is the S3 front end of OpenTrail's embedded object store:
// an [http.Handler] serving the part of the S3 REST API that trail
// buckets need, for `aws s3 mb|ls|cp|rm`, `aws s3api list-objects` and
// `aws cloudtrail validate-logs` (delivery-and-integrity.md §7–§9). The
// daemon mounts it on the CloudTrail port and sends it every request that
// is not a POST with X-Amz-Target.
//
// Requests are path-style (/bucket/key; an empty bucket name, as in
// "//key", is InvalidBucketName), or virtual-hosted under the domains of
// Options.VirtualHostDomains (bucket.localhost:port/key by default), and
// SigV4-signed with credential
// scope service "s3" (header or presigned URL), checked by an
// [Authenticator]; any region is accepted. Buckets belong to the account
// that created them: another account's bucket is AccessDenied for every
// operation, and CreateBucket of its name is BucketAlreadyExists.
//
// # Supported operations
//
//   - ListBuckets (GET /): the caller's account's buckets; prefix and
//     bucket-region filters; one page.
//   - CreateBucket (PUT /bucket): region from the optional
//     CreateBucketConfiguration LocationConstraint, else us-east-1 as in
//     AWS (the signing region does not choose it); x-amz-acl accepted.
//     An existing name is BucketAlreadyOwnedByYou or BucketAlreadyExists
//     (409).
//   - HeadBucket (HEAD /bucket), with x-amz-bucket-region.
//   - GetBucketLocation (GET /bucket?location): empty for us-east-1.
//   - ListObjects (GET /bucket): prefix, delimiter, marker (strictly
//     after), max-keys (default and cap 1000), encoding-type=url;
//     NextMarker when truncated with a delimiter.
//   - ListObjectsV2 (GET /bucket?list-type=2): prefix, delimiter,
//     max-keys, start-after, continuation-token (opaque), fetch-owner,
//     encoding-type=url, KeyCount.
//   - GetObject and HeadObject (GET/HEAD /bucket/key): one Range
//     (bytes=a-b, a-, -n) answered 206 with Content-Range, 416
//     InvalidRange when unsatisfiable; If-Match, If-None-Match,
//     If-Modified-Since, If-Unmodified-Since; response-* overrides;
//     user metadata as lowercase x-amz-meta-* header names (botocore
//     exposes names as sent). Never a Content-Encoding.
//     x-amz-checksum-mode is ignored: no checksum headers are returned.
//   - PutObject (PUT /bucket/key): body up to [Options.MaxObjectBytes]
//     (EntityTooLarge beyond); x-amz-meta-* (names lowercased, 2 KB in
//     all), Content-Type, canned x-amz-acl, SSE-KMS headers passed to the
//     store; Content-MD5 and x-amz-checksum-{crc32,crc32c,crc64nvme,
//     sha1,sha256} verified (BadDigest); If-None-Match: * creates the
//     object only if the key is free, checked and written atomically by
//     the store (412 PreconditionFailed with <Condition>If-None-Match,
//     as S3 answers; an ETag value is NotImplemented); If-Match is
//     checked, then written (not atomic). aws-chunked bodies are
//     decoded in the STREAMING-UNSIGNED-PAYLOAD-TRAILER mode SDKs use
//     over HTTPS, with the trailing checksum verified (every trailer
//     declared in x-amz-trailer must be present).
//   - DeleteObject (DELETE /bucket/key): 204, also for a missing key.
//
// # Refused
//
// NotImplemented (501), with a message naming the feature: DeleteBucket,
// DeleteObjects, CopyObject, multipart uploads (so `aws s3 cp` of a file
// above the CLI's multipart_threshold, 8 MB by default, fails; raise the
// threshold to upload larger files), versioning and versionId other than
// "null", ACL, policy, tagging, lifecycle, website, CORS and the other
// configuration sub-resources, POST uploads, SelectObjectContent, and the
// signed aws-chunked modes (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and
// friends). Virtual-hosted-style requests are recognised only under the
// configured domains; elsewhere clients use path-style addressing (the
// aws CLI does for custom endpoints; Go clients set UsePathStyle).
//
// # Recording
//
// Every S3 call is a CloudTrail record with eventSource s3.amazonaws.com,
// following s3-events.md (record.go, ops.go; internal/audit fills the
// fields every edge fills alike). Bucket-level and account-level
// operations are management events; object-level ones, ListObjects and
// HeadBucket are data events, which event history never shows and trails
// deliver only when their data-event selectors match. eventName is
// CloudTrail's name (ListObjectsV2 is ListObjects with "list-type":"2");
// the operations answered NotImplemented are recorded too, as failed
// calls. requestParameters hold bucketName, Host, key, every query
// parameter but the signature and credential, a few headers (x-amz-acl,
// x-amz-copy-source, x-amz-storage-class, x-amz-grant-*, SSE headers but
// the SSE-C key) and, for bucket configuration writes, the XML body as
// JSON (xmljson.go). additionalEventData has SignatureVersion,
// CipherSuite (TLS only), bytesTransferredIn (decoded for aws-chunked),
// AuthenticationMethod (AuthHeader or QueryString), x-amz-id-2 and
// bytesTransferredOut; requestID is the response's x-amz-request-id.
// resources name the object (or the listed prefix) and the bucket, with
// the bucket owner's account; there are none for ListBuckets, CreateBucket
// and missing buckets. awsRegion is the bucket's region, else us-east-1.
//
// A call on another account's bucket is recorded for the caller and, with
// the caller shown as an AWSAccount, for the owner, both copies sharing a
// sharedEventID. An unsigned call on an existing bucket is recorded for
// its owner only. Authentication failures, and requests that name no S3
// operation, are not recorded.
//
// The records are appended through [Options.Events] before the response
// is sent (GetObject's body streams after the append): a client never
// learns the outcome of a call whose record is not durable. If the append
// fails, it gets SlowDown (503, store back-pressure), ServiceUnavailable
// (503, shutting down) or InternalError instead.
//
// # Errors
//
// Errors are S3 XML documents (<Error><Code>…</Code><Message>…</Message>
// …<RequestId>…</RequestId></Error>) with S3's status codes; HEAD
// errors have no body. Signature failures map from the sigv4 sentinels:
// missing auth → AccessDenied, malformed → AuthorizationHeaderMalformed
// (AuthorizationQueryParametersError when presigned), unknown key →
// InvalidAccessKeyId, mismatch → SignatureDoesNotMatch (or
// XAmzContentSHA256Mismatch when the declared body hash is wrong), clock
// skew → RequestTimeTooSkewed; a presigned URL past its expiry →
// AccessDenied "Request has expired", one dated beyond the skew ahead →
// AccessDenied "Request is not valid yet"; Signature Version 2 →
// InvalidRequest asking for AWS4-HMAC-SHA256. Unexpected failures are InternalError
// (500), logged with the request id. Every response carries
// x-amz-request-id.
package s3api
