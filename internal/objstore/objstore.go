// Package objstore holds what every object store OpenTrail writes trail
// buckets to has in common: object and bucket descriptions, put options and
// the sentinel errors. The implementations live in subpackages: fsbucket
// (the embedded store, a local directory laid out like the S3 keys) and s3
// (any S3-compatible endpoint through aws-sdk-go-v2). objstoretest is the
// conformance suite both must pass.
//
// Consumers declare the few methods they call (delivery puts objects and
// checks buckets; the S3 front end lists and reads); [Store] is the full
// set an implementation provides.
package objstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them with %w; callers use errors.Is.
var (
	// ErrNoSuchBucket: the bucket does not exist. Delivery reports it as
	// S3 error code NoSuchBucket; CreateTrail as S3BucketDoesNotExist.
	ErrNoSuchBucket = errors.New("objstore: no such bucket")
	// ErrNoSuchKey: the object does not exist (S3 NoSuchKey, HTTP 404).
	ErrNoSuchKey = errors.New("objstore: no such key")
	// ErrBucketExists: CreateBucket on a bucket that already exists
	// (S3 BucketAlreadyOwnedByYou).
	ErrBucketExists = errors.New("objstore: bucket already exists")
	// ErrAccessDenied: the store refused the credentials or the request
	// (S3 AccessDenied).
	ErrAccessDenied = errors.New("objstore: access denied")
	// ErrInvalidKey: the key cannot be stored (empty, too long, or, for
	// the embedded store, a path that cannot be laid out on disk).
	ErrInvalidKey = errors.New("objstore: invalid object key")
	// ErrInvalidBucketName: the name breaks the S3 bucket naming rules.
	ErrInvalidBucketName = errors.New("objstore: invalid bucket name")
)

// Object describes a stored object.
type Object struct {
	Key          string
	Size         int64
	LastModified time.Time
	ETag         string // quoted hex MD5 of the body, as S3 returns it
	ContentType  string
	// Metadata is the user metadata (x-amz-meta-*), keys lower-case and
	// without the prefix, e.g. "signature".
	Metadata map[string]string
}

// Bucket describes a bucket.
type Bucket struct {
	Name         string
	CreationDate time.Time
	Region       string // the bucket's location; "us-east-1" when unset
	// Owner is the account that created the bucket in the embedded
	// store; "" when the store does not track owners (remote S3).
	Owner string
}

// BucketOptions are the properties of a bucket made by CreateBucket.
type BucketOptions struct {
	Region string // "" means us-east-1
	Owner  string // account id; kept by stores that track owners
}

// PutOptions are the properties of an object written by Put.
type PutOptions struct {
	ContentType string
	// Metadata is written as x-amz-meta-<key> headers; keys MUST be
	// lower-case.
	Metadata map[string]string
	// ACL is the canned ACL (x-amz-acl), e.g. "bucket-owner-full-control".
	ACL string
	// SSEKMSKeyID, when set, asks for SSE-KMS with this key and
	// SSEContext (the base64 JSON encryption context).
	SSEKMSKeyID string
	SSEContext  string
}

// ListPage is one page of ListObjects.
type ListPage struct {
	Objects   []Object // keys in byte-wise lexicographic order
	Truncated bool     // more keys follow the last one
}

// Store is the full set of operations an implementation provides.
type Store interface {
	// CreateBucket creates a bucket; ErrBucketExists if it exists.
	CreateBucket(ctx context.Context, bucket string, opt BucketOptions) error
	// HeadBucket returns the bucket, or ErrNoSuchBucket.
	HeadBucket(ctx context.Context, bucket string) (Bucket, error)
	// ListBuckets returns every bucket, sorted by name.
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// Put writes the whole object; it replaces an existing one. It
	// returns only once the object is durable.
	Put(ctx context.Context, bucket, key string, body []byte, opt PutOptions) error
	// Get returns the object's body and description; the caller closes
	// the body.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, Object, error)
	// Head returns the object's description.
	Head(ctx context.Context, bucket, key string) (Object, error)
	// List returns up to max objects whose keys start with prefix and sort
	// strictly after after (S3's Marker / StartAfter), in order.
	List(ctx context.Context, bucket, prefix, after string, max int) (ListPage, error)
	// Delete removes an object; deleting a missing object is not an error.
	Delete(ctx context.Context, bucket, key string) error
}
