package s3api

import (
	"net/http"
	"net/url"
)

// s3op is an S3 operation as CloudTrail names it in eventName, with the
// record's readOnly and category (s3-events.md §1). Every operation of the
// S3 REST API has one, including those the embedded store answers with
// NotImplemented: such a call is recorded as a failed call, as the
// cloudtrail API records its unsupported operations.
type s3op struct {
	Name     string
	ReadOnly bool
	Data     bool // a data event (AWS::S3::Object); else a management event
	// Scope says which resources the record names (s3-events.md §2.2).
	Scope opScope
}

// opScope is what an operation's record names in resources.
type opScope int

const (
	scopeNone       opScope = iota // no resources: ListBuckets, CreateBucket
	scopeBucket                    // the bucket
	scopeObject                    // the object ARN, then the bucket
	scopePrefix                    // ARNPrefix bucket/<prefix query parameter>, then the bucket
	scopeBucketWide                // ARNPrefix bucket/, then the bucket
)

func mgmt(name string, readOnly bool) *s3op {
	return &s3op{Name: name, ReadOnly: readOnly, Scope: scopeBucket}
}

func data(name string, readOnly bool, scope opScope) *s3op {
	return &s3op{Name: name, ReadOnly: readOnly, Data: true, Scope: scope}
}

// bucketConfigs are the bucket sub-resources that name a configuration,
// in the order classify looks for them, with the eventNames of GET, PUT
// and DELETE on them ("" where S3 has no such operation), and of GET
// without an id for the configurations a bucket holds several of. The
// names are CloudTrail's, which differ from the SDK's for some
// (s3-events.md §1.1).
var bucketConfigs = []struct {
	marker                 string
	get, put, delete, list string
}{
	{marker: "location", get: "GetBucketLocation"},
	{marker: "acl", get: "GetBucketAcl", put: "PutBucketAcl"},
	{"policy", "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", ""},
	{marker: "policyStatus", get: "GetBucketPolicyStatus"},
	{marker: "versioning", get: "GetBucketVersioning", put: "PutBucketVersioning"},
	{"tagging", "GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging", ""},
	{"cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors", ""},
	{"encryption", "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption", ""},
	{marker: "logging", get: "GetBucketLogging", put: "PutBucketLogging"},
	{"website", "GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite", ""},
	{"replication", "GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication", ""},
	{marker: "requestPayment", get: "GetBucketRequestPayment", put: "PutBucketRequestPayment"},
	{marker: "notification", get: "GetBucketNotification", put: "PutBucketNotification"},
	{"ownershipControls", "GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls", ""},
	{"publicAccessBlock", "GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", ""},
	{"lifecycle", "GetBucketLifecycle", "PutBucketLifecycle", "DeleteBucketLifecycle", ""},
	{marker: "accelerate", get: "GetAccelerateConfiguration", put: "PutAccelerateConfiguration"},
	{marker: "object-lock", get: "GetBucketObjectLockConfiguration", put: "PutBucketObjectLockConfiguration"},
	{"analytics", "GetBucketAnalyticsConfiguration", "PutBucketAnalyticsConfiguration",
		"DeleteBucketAnalyticsConfiguration", "ListBucketAnalyticsConfigurations"},
	{"inventory", "GetBucketInventoryConfiguration", "PutBucketInventoryConfiguration",
		"DeleteBucketInventoryConfiguration", "ListBucketInventoryConfigurations"},
	{"metrics", "GetBucketMetricsConfiguration", "PutBucketMetricsConfiguration",
		"DeleteBucketMetricsConfiguration", "ListBucketMetricsConfigurations"},
	{"intelligent-tiering", "GetBucketIntelligentTieringConfiguration", "PutBucketIntelligentTieringConfiguration",
		"DeleteBucketIntelligentTieringConfiguration", "ListBucketIntelligentTieringConfigurations"},
}

// objectSubresources are the object sub-resources, in the order classify
// looks for them, with the eventNames of GET, PUT and DELETE on them.
var objectSubresources = []struct {
	marker           string
	get, put, delete string
}{
	{"acl", "GetObjectAcl", "PutObjectAcl", ""},
	{"tagging", "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"},
	{"legal-hold", "GetObjectLegalHold", "PutObjectLegalHold", ""},
	{"retention", "GetObjectRetention", "PutObjectRetention", ""},
	{"torrent", "GetObjectTorrent", "", ""},
	{"attributes", "GetObjectAttributes", "", ""},
}

// classify names the S3 operation of a request (path-style bucket and
// key already split off), or returns nil when the request is no S3
// operation (a method S3 does not serve on the resource); such requests
// are not recorded.
func classify(method, bucket, key, path string, q url.Values, h http.Header) *s3op {
	switch {
	case bucket == "":
		if path == "/" && method == http.MethodGet {
			return &s3op{Name: "ListBuckets", ReadOnly: true, Scope: scopeNone}
		}
		return nil
	case key == "":
		return classifyBucket(method, q)
	}
	return classifyObject(method, q, h.Get("X-Amz-Copy-Source") != "")
}

func classifyBucket(method string, q url.Values) *s3op {
	for _, c := range bucketConfigs {
		if !q.Has(c.marker) {
			continue
		}
		var name string
		switch method {
		case http.MethodGet:
			name = c.get
			if c.list != "" && !q.Has("id") {
				name = c.list
			}
		case http.MethodPut:
			name = c.put
		case http.MethodDelete:
			name = c.delete
		}
		if name == "" {
			return nil
		}
		return mgmt(name, method == http.MethodGet)
	}
	switch method {
	case http.MethodGet:
		switch {
		case q.Has("versions"):
			return data("ListObjectVersions", true, scopePrefix)
		case q.Has("uploads"):
			// s3-events.md §1.1: a management event (decision).
			return mgmt("ListMultipartUploads", true)
		}
		// ListObjects and ListObjectsV2 (list-type=2) are both ListObjects.
		return data("ListObjects", true, scopePrefix)
	case http.MethodHead:
		return data("HeadBucket", true, scopeBucketWide)
	case http.MethodPut:
		op := mgmt("CreateBucket", false)
		op.Scope = scopeNone
		return op
	case http.MethodDelete:
		return mgmt("DeleteBucket", false)
	case http.MethodPost:
		if q.Has("delete") {
			return data("DeleteObjects", false, scopeBucketWide)
		}
		// A browser-based (form) upload; the key is in the form.
		return data("PostObject", false, scopeBucketWide)
	}
	return nil
}

func classifyObject(method string, q url.Values, copySource bool) *s3op {
	obj := func(name string) *s3op {
		return data(name, method == http.MethodGet || method == http.MethodHead, scopeObject)
	}
	if q.Has("uploadId") {
		switch method {
		case http.MethodGet:
			return obj("ListParts")
		case http.MethodPut:
			if q.Has("partNumber") && copySource {
				return obj("UploadPartCopy")
			}
			if q.Has("partNumber") {
				return obj("UploadPart")
			}
		case http.MethodPost:
			return obj("CompleteMultipartUpload")
		case http.MethodDelete:
			return obj("AbortMultipartUpload")
		}
		return nil
	}
	if method == http.MethodPost {
		switch {
		case q.Has("uploads"):
			return obj("CreateMultipartUpload")
		case q.Has("restore"):
			return obj("RestoreObject")
		case q.Has("select"):
			op := obj("SelectObjectContent")
			op.ReadOnly = true // s3-events.md §1.2 (unverified)
			return op
		}
		return nil
	}
	if method != http.MethodHead {
		for _, c := range objectSubresources {
			if !q.Has(c.marker) {
				continue
			}
			name := map[string]string{http.MethodGet: c.get, http.MethodPut: c.put, http.MethodDelete: c.delete}[method]
			if name == "" {
				return nil
			}
			return obj(name)
		}
	}
	switch method {
	case http.MethodGet:
		return obj("GetObject")
	case http.MethodHead:
		return obj("HeadObject")
	case http.MethodPut:
		if copySource {
			return obj("CopyObject")
		}
		return obj("PutObject")
	case http.MethodDelete:
		return obj("DeleteObject")
	}
	return nil
}
