// Package objstore holds what every object store OpenTrail writes trail
// buckets to has in common: object and bucket descriptions, put options and
// the sentinel errors. The implementations live in subpackages: fsbucket
// (the embedded store, a local directory laid out like the S3 keys) and s3
// (any S3-compatible endpoint through aws-sdk-go-v2). objstoretest is the
// conformance suite both must pass.
//
// Consumers declare the few methods they call (delivery puts objects and
// checks buckets; the S3 front end lists and reads); [Store] is the full
// set an implementation provides. PutIfAbsent is the conditional create
// (S3's If-None-Match: *) that lets several writers share a bucket: an
// immutable object is written once, and a writer that gets [ErrExists]
// compares the bytes there with its own.
package objstore

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	// ErrUnavailable: the store did not answer, or answered that it is
	// busy or failing (5xx, SlowDown); retrying later may succeed.
	ErrUnavailable = errors.New("objstore: store unavailable")
	// ErrExists: PutIfAbsent found an object at the key and wrote nothing
	// (S3 PreconditionFailed, HTTP 412, to If-None-Match: *). The object
	// there may be this very write, made by an earlier attempt whose
	// answer was lost: compare its bytes with the body to decide whether
	// the write already happened, and treat different bytes as a conflict
	// with another writer.
	ErrExists = errors.New("objstore: an object exists at the key")
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

// PutOptions are the properties of an object written by Put or
// PutIfAbsent.
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
	// PutIfAbsent is Put that creates the object only if no object
	// exists at the key (S3's If-None-Match: *), and returns ErrExists,
	// writing nothing, if one does. The check and the write MUST be one
	// atomic step: of concurrent PutIfAbsent calls for a key, at most one
	// succeeds, and none after a Put of the key has returned.
	PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt PutOptions) error
	// PutFile is Put with the body read from the file at path, streamed:
	// memory does not grow with the file's size. The file must not change
	// while it is read.
	PutFile(ctx context.Context, bucket, key, path string, opt PutOptions) error
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

// CheckBucketName applies S3's general-purpose bucket naming rules: 3 to 63
// characters of lowercase letters, digits, '.' and '-', starting and ending
// with a letter or digit, no "..", not an IPv4 address, none of the
// reserved prefixes and suffixes. The error wraps
// ErrInvalidBucketName and says which rule the name breaks.
func CheckBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket name %q %s: %w", name, why, ErrInvalidBucketName)
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
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("must not start with the reserved prefix " + p)
		}
	}
	for _, x := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, x) {
			return bad("must not end with the reserved suffix " + x)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// isIPv4 reports whether s is four dot-separated decimal numbers, the form
// S3 refuses as a bucket name (it does not check the range, as S3 does not).
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

// OpenFile opens the file at path for a PutFile: it returns the file,
// positioned at its start, with its size and MD5 (read a buffer at a
// time). The caller closes the file.
func OpenFile(path string) (f *os.File, size int64, sum [md5.Size]byte, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, 0, sum, err
	}
	h := md5.New()
	size, err = io.Copy(h, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, sum, err
	}
	h.Sum(sum[:0])
	return f, size, sum, nil
}
