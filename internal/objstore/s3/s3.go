// Package s3 is the [objstore.Store] for any S3-compatible endpoint (AWS S3,
// MinIO, versitygw, ...), through aws-sdk-go-v2 with path-style addressing
// and static credentials.
//
// Failed requests return an [*Error] carrying the S3 error code; it
// matches the objstore sentinels with errors.Is. [ErrorCode] gives the code
// for status reporting and [IsTransient] tells an unreachable or overloaded
// store from a permanent refusal.
//
// Request bodies are seekable, so the SDK's retries resend them, and the
// HTTP transport hides the SDK body's WriteTo method (aws-sdk-go-v2#2737;
// see [New]).
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/objstore"
)

var _ objstore.Store = (*Store)(nil)

// Options configure a Store.
type Options struct {
	// Endpoint is the base URL of the S3-compatible server, e.g.
	// "http://127.0.0.1:7070". "" means AWS S3 in Region.
	Endpoint string
	// Region signs requests and is where buckets are created by default;
	// "" means us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials; both are
	// required. SessionToken is optional.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// HTTPClient sends the requests; nil means the SDK's default
	// transport. Its Transport is wrapped (see New).
	HTTPClient *http.Client
	// MaxAttempts bounds the SDK's attempts per request, retries included;
	// 0 means the SDK default (3).
	MaxAttempts int
}

// DefaultOptions returns Options with the default region; the caller sets
// the endpoint and credentials.
func DefaultOptions() Options {
	return Options{Region: "us-east-1"}
}

// Store talks to one S3-compatible endpoint.
type Store struct {
	client *s3.Client
	region string
}

// New validates opts and builds the client. It sends no request.
//
// The HTTP transport is wrapped for two things. User metadata headers go
// out with lower-case names ("x-amz-meta-signature"): the SDK sends them
// canonicalised, and servers that keep the case they are given would hand
// botocore a key "Signature", which validate-logs does not find. And
// request bodies reach net/http without a WriteTo method: smithy-go closes each attempt's body when
// http.Client.Do returns, and its body wrapper's WriteTo then returns
// io.EOF; net/http's writeLoop, checking for surplus body bytes after the
// response has already arrived, takes that for a failed write and closes
// the keep-alive connection under the response being read
// (aws-sdk-go-v2#2737, "use of closed network connection").
func New(opts Options) (*Store, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
		return nil, errors.New("s3 store: AccessKeyID and SecretAccessKey are required")
	}
	if opts.MaxAttempts < 0 {
		return nil, fmt.Errorf("s3 store: MaxAttempts %d is negative", opts.MaxAttempts)
	}
	if opts.Endpoint != "" {
		u, err := url.Parse(opts.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3 store: endpoint %q is not an http(s) URL", opts.Endpoint)
		}
	}
	var next http.RoundTripper
	if opts.HTTPClient != nil && opts.HTTPClient.Transport != nil {
		next = opts.HTTPClient.Transport
	} else {
		next = awshttp.NewBuildableClient().GetTransport()
	}
	hc := &http.Client{Transport: wireFixes{next}}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		c.Transport = hc.Transport
		hc = &c
	}
	s3opts := s3.Options{
		Region:       opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken),
		UsePathStyle: true,
		HTTPClient:   hc,
		// Checksums only where S3 requires them: S3-compatible servers
		// differ in the flexible checksums they accept, and the trailing
		// form would set Content-Encoding: aws-chunked.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true,
		RetryMaxAttempts:                          opts.MaxAttempts,
	}
	if opts.Endpoint != "" {
		s3opts.BaseEndpoint = aws.String(opts.Endpoint)
	}
	return &Store{client: s3.New(s3opts), region: opts.Region}, nil
}

// wireFixes is the transport wrapper New installs; see New.
type wireFixes struct{ next http.RoundTripper }

func (t wireFixes) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = struct{ io.ReadCloser }{r.Body} // hide WriteTo
	}
	// net/http writes header names as they are keyed; SigV4 signs them
	// case-insensitively, so this keeps the signature valid.
	for k, v := range r.Header {
		if len(k) > len(metaPrefix) && strings.EqualFold(k[:len(metaPrefix)], metaPrefix) && k != strings.ToLower(k) {
			delete(r.Header, k)
			r.Header[strings.ToLower(k)] = v
		}
	}
	return t.next.RoundTrip(r)
}

const metaPrefix = "x-amz-meta-"

// wrap turns an SDK error into an *Error.
func wrap(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Bucket: bucket, Key: key, Err: err}
	if re, ok := errors.AsType[*awshttp.ResponseError](err); ok {
		e.StatusCode = re.HTTPStatusCode()
	}
	if api, ok := errors.AsType[smithy.APIError](err); ok {
		e.Code = api.ErrorCode()
	}
	if e.Code == "Forbidden" {
		e.Code = "AccessDenied" // a HEAD answer has no body to name the code
	}
	return e
}

// CreateBucket creates a bucket, sending a LocationConstraint unless the
// region is us-east-1. Names breaking the S3 rules are refused before any
// request.
func (s *Store) CreateBucket(ctx context.Context, bucket string, opt objstore.BucketOptions) error {
	if err := checkBucketName(bucket); err != nil {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if opt.Region != "" && opt.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(opt.Region),
		}
	}
	_, err := s.client.CreateBucket(ctx, in)
	return wrap("CreateBucket", bucket, "", err)
}

// HeadBucket returns the bucket with its region. Remote S3 tells neither
// the creation date nor the owner here; both stay zero.
func (s *Store) HeadBucket(ctx context.Context, bucket string) (objstore.Bucket, error) {
	out, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		err = wrap("HeadBucket", bucket, "", err)
		if e, ok := errors.AsType[*Error](err); ok && e.Code == "NotFound" {
			e.Code = "NoSuchBucket"
		}
		return objstore.Bucket{}, err
	}
	region := aws.ToString(out.BucketRegion)
	if region == "" {
		if region, err = s.bucketLocation(ctx, bucket); err != nil {
			return objstore.Bucket{}, err
		}
	}
	return objstore.Bucket{Name: bucket, Region: region}, nil
}

// bucketLocation calls GetBucketLocation; an empty constraint is us-east-1.
func (s *Store) bucketLocation(ctx context.Context, bucket string) (string, error) {
	out, err := s.client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", wrap("GetBucketLocation", bucket, "", err)
	}
	switch loc := string(out.LocationConstraint); loc {
	case "":
		return "us-east-1", nil
	case "EU":
		return "eu-west-1", nil
	default:
		return loc, nil
	}
}

// ListBuckets returns the caller's buckets, sorted by name, with their
// regions (from ListBuckets, else GetBucketLocation).
func (s *Store) ListBuckets(ctx context.Context) ([]objstore.Bucket, error) {
	var out []objstore.Bucket
	var token *string
	for {
		page, err := s.client.ListBuckets(ctx, &s3.ListBucketsInput{ContinuationToken: token})
		if err != nil {
			return nil, wrap("ListBuckets", "", "", err)
		}
		for _, b := range page.Buckets {
			bk := objstore.Bucket{
				Name:         aws.ToString(b.Name),
				CreationDate: aws.ToTime(b.CreationDate),
				Region:       aws.ToString(b.BucketRegion),
			}
			if bk.Region == "" {
				if bk.Region, err = s.bucketLocation(ctx, bk.Name); err != nil {
					return nil, err
				}
			}
			out = append(out, bk)
		}
		if aws.ToString(page.ContinuationToken) == "" {
			break
		}
		token = page.ContinuationToken
	}
	// S3 lists by name already; sort anyway, servers differ.
	slices.SortFunc(out, func(a, b objstore.Bucket) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Put writes the object with PutObject: user metadata with lower-case
// keys, canned ACL, SSE-KMS when a key is set, Content-Type and
// Content-MD5. It never sets Content-Encoding.
func (s *Store) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	_, err := s.client.PutObject(ctx, putInput(bucket, key, body, opt))
	return wrap("PutObject", bucket, key, err)
}

// PutIfAbsent is Put with If-None-Match: *, which the server evaluates
// atomically with the write. S3 answers an existing key with 412
// PreconditionFailed (an *Error matching objstore.ErrExists), and a
// conditional write racing another on the same key with 409
// ConditionalRequestConflict, which is transient: retry. A server that
// ignores the header (an S3-compatible store without conditional writes)
// overwrites; the conformance suite checks that the store honours it.
//
// The SDK retries a failed attempt; when the answer to an attempt that
// wrote is lost, the retry gets ErrExists for the object it wrote itself,
// which is why callers compare bytes on ErrExists.
func (s *Store) PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	in := putInput(bucket, key, body, opt)
	in.IfNoneMatch = aws.String("*")
	_, err := s.client.PutObject(ctx, in)
	return wrap("PutObject", bucket, key, err)
}

// PutFile is Put with the file at path as the body. The file is read
// for its MD5, then seeked back and streamed: the SDK signs a seekable
// body by reading it once more and rewinds it for retries, so memory
// does not grow with the file.
func (s *Store) PutFile(ctx context.Context, bucket, key, path string, opt objstore.PutOptions) error {
	f, n, sum, err := objstore.OpenFile(path)
	if err != nil {
		return wrap("PutObject", bucket, key, err)
	}
	defer f.Close()
	_, err = s.client.PutObject(ctx, putInputFrom(bucket, key, f, n, sum[:], opt))
	return wrap("PutObject", bucket, key, err)
}

// putInput builds the PutObjectInput of Put and PutIfAbsent.
func putInput(bucket, key string, body []byte, opt objstore.PutOptions) *s3.PutObjectInput {
	sum := md5.Sum(body)
	return putInputFrom(bucket, key, bytes.NewReader(body), int64(len(body)), sum[:], opt)
}

// putInputFrom builds a PutObjectInput of size bytes from body, whose
// MD5 is sum.
func putInputFrom(bucket, key string, body io.ReadSeeker, size int64, sum []byte, opt objstore.PutOptions) *s3.PutObjectInput {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          body, // seekable: retries rewind it
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
	}
	if opt.ContentType != "" {
		in.ContentType = aws.String(opt.ContentType)
	}
	if len(opt.Metadata) > 0 {
		in.Metadata = make(map[string]string, len(opt.Metadata))
		for k, v := range opt.Metadata {
			in.Metadata[strings.ToLower(k)] = v
		}
	}
	if opt.ACL != "" {
		in.ACL = types.ObjectCannedACL(opt.ACL)
	}
	if opt.SSEKMSKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(opt.SSEKMSKeyID)
		if opt.SSEContext != "" {
			in.SSEKMSEncryptionContext = aws.String(opt.SSEContext)
		}
	}
	return in
}

// Get returns the object's body and description.
func (s *Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, objstore.Object{}, wrap("GetObject", bucket, key, err)
	}
	return out.Body, objstore.Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		LastModified: aws.ToTime(out.LastModified),
		ETag:         aws.ToString(out.ETag),
		ContentType:  aws.ToString(out.ContentType),
		Metadata:     lowerKeys(out.Metadata),
	}, nil
}

// Head returns the object's description. A 404 is told apart (with a
// HeadBucket) into NoSuchBucket and NoSuchKey.
func (s *Store) Head(ctx context.Context, bucket, key string) (objstore.Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		err = wrap("HeadObject", bucket, key, err)
		if e, ok := errors.AsType[*Error](err); ok && e.Code == "NotFound" {
			e.Code = "NoSuchKey"
			if _, berr := s.HeadBucket(ctx, bucket); errors.Is(berr, objstore.ErrNoSuchBucket) {
				e.Code = "NoSuchBucket"
			}
		}
		return objstore.Object{}, err
	}
	return objstore.Object{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		LastModified: aws.ToTime(out.LastModified),
		ETag:         aws.ToString(out.ETag),
		ContentType:  aws.ToString(out.ContentType),
		Metadata:     lowerKeys(out.Metadata),
	}, nil
}

func lowerKeys(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// DefaultListMax is the page size List uses when max is 0 or less; S3
// never returns more than this per request.
const DefaultListMax = 1000

// List calls ListObjectsV2 with Prefix, StartAfter and MaxKeys. Listed
// objects carry no ContentType or Metadata (S3 does not list them).
func (s *Store) List(ctx context.Context, bucket, prefix, after string, max int) (objstore.ListPage, error) {
	if max <= 0 {
		max = DefaultListMax
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(int32(min(max, DefaultListMax)))}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return objstore.ListPage{}, wrap("ListObjectsV2", bucket, prefix, err)
	}
	page := objstore.ListPage{Truncated: aws.ToBool(out.IsTruncated), Objects: make([]objstore.Object, 0, len(out.Contents))}
	for _, o := range out.Contents {
		page.Objects = append(page.Objects, objstore.Object{
			Key:          aws.ToString(o.Key),
			Size:         aws.ToInt64(o.Size),
			LastModified: aws.ToTime(o.LastModified),
			ETag:         aws.ToString(o.ETag),
		})
	}
	return page, nil
}

// Delete removes an object; S3 answers a missing key with success.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return wrap("DeleteObject", bucket, key, err)
}
