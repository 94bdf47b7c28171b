package resultfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
)

// Errors. Deliver's errors also wrap the object store's (objstore.Err*).
var (
	// ErrInvalid: the request cannot be delivered as given (a query id,
	// account or region that cannot be part of a key, rows that do not fit
	// the columns, a key whose fingerprint is not its own). A caller bug:
	// do not retry.
	ErrInvalid = errors.New("resultfile: invalid delivery")
	// ErrInvalidURI: the DeliveryS3Uri does not start with s3://.
	ErrInvalidURI = errors.New("resultfile: invalid S3 URI")
	// ErrConflict: an object other than this delivery's is at one of its
	// keys; it is left as it is. Someone else writes to the folder: do not
	// retry.
	ErrConflict = errors.New("resultfile: another object exists at the key")
	// ErrSignFile: a verifier found the sign file missing or malformed.
	ErrSignFile = errors.New("resultfile: sign file missing or malformed")
	// ErrFileChanged: a verifier found a listed result file missing, or
	// its SHA-256 differs from the sign file's: it was changed or removed
	// after delivery.
	ErrFileChanged = errors.New("resultfile: result file missing or changed")
	// ErrKeyNotFound: no public key valid at queryCompleteTime has the
	// sign file's fingerprint.
	ErrKeyNotFound = errors.New("resultfile: public key not found")
	// ErrBadSignature: the sign file's hashSignature does not verify: the
	// sign file was altered or signed by another key.
	ErrBadSignature = errors.New("resultfile: signature verification failed")
)

// Reader reads delivered objects (an objstore.Store).
type Reader interface {
	// Get returns an object's body, which the caller closes; a missing
	// object is an error wrapping objstore.ErrNoSuchKey.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error)
}

// Objects is the store results are written to (an objstore.Store: the
// embedded store or an S3-compatible server).
type Objects interface {
	Reader
	// PutIfAbsent creates the object unless one exists at the key, and
	// then returns objstore.ErrExists.
	PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error
}

// Signer hands out the key to sign a sign file with now (in OpenTrail, the
// keyring's current digest-signing key).
type Signer interface {
	SigningKey() (Key, error)
}

// Location is where a DeliveryS3Uri puts results.
type Location struct {
	Bucket string
	// Prefix has no trailing slash; "" when the URI has none.
	Prefix string
}

// ParseURI splits a DeliveryS3Uri, s3://bucket[/prefix]. The prefix loses
// its trailing slashes; it is not otherwise checked (the API refuses
// prefixes that make keys a store cannot hold). A URI that does not start
// with s3:// fails with [ErrInvalidURI]; a bucket name that breaks S3's
// rules with objstore.CheckBucketName's error (objstore.ErrInvalidBucketName).
func ParseURI(uri string) (Location, error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return Location{}, fmt.Errorf("%w: %q does not start with s3://", ErrInvalidURI, uri)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := objstore.CheckBucketName(bucket); err != nil {
		return Location{}, err
	}
	return Location{Bucket: bucket, Prefix: layout.NormalizePrefix(prefix)}, nil
}

// Dir returns the key of a query's folder (no trailing slash):
// [prefix/]AWSLogs/account/CloudTrail-Lake/Query/YYYY/MM/DD/queryID, the
// date being completed's in UTC.
func Dir(prefix, account, queryID string, completed time.Time) string {
	d := "AWSLogs/" + account + "/CloudTrail-Lake/Query/" + completed.UTC().Format("2006/01/02") + "/" + queryID
	if prefix != "" {
		d = prefix + "/" + d
	}
	return d
}

// Request is a finished query's result and where it goes.
type Request struct {
	QueryID   string // 36 characters of a-f, 0-9 and -
	Account   string // 12 digits
	Region    string // the region the query ran in
	Completed time.Time
	Columns   []string
	Rows      [][]*string // one cell per column; nil is NULL
	URI       string      // DeliveryS3Uri: s3://bucket[/prefix]
	// MaxFileBytes is where result files are split; ≤ 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int
}

func (r *Request) check() error {
	switch {
	case len(r.QueryID) != 36 || strings.Trim(r.QueryID, "0123456789abcdef-") != "":
		return fmt.Errorf("%w: query id %q", ErrInvalid, r.QueryID)
	case len(r.Account) != 12 || strings.Trim(r.Account, "0123456789") != "":
		return fmt.Errorf("%w: account %q", ErrInvalid, r.Account)
	case r.Region == "" || strings.Trim(r.Region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		return fmt.Errorf("%w: region %q", ErrInvalid, r.Region)
	}
	return nil
}

// Object properties (docs/format/query-results.md).
const (
	contentTypeCSV  = layout.ContentType // application/x-gzip
	contentTypeSign = "application/json"
)

// Deliver writes the request's result files, then its signed sign file,
// and returns the DeliveryStatus (queries.Delivery*) with the error that
// explains anything but SUCCESS. Every object is created with PutIfAbsent;
// one already at the key counts as written when it is this delivery's own
// (an earlier attempt), so Deliver may be called again after a failure or
// a crash. An error wrapping objstore.ErrUnavailable may succeed when
// retried ([Temporary]).
func Deliver(ctx context.Context, objs Objects, signer Signer, req Request) (string, error) {
	if err := req.check(); err != nil {
		return queries.DeliveryFailed, err
	}
	loc, err := ParseURI(req.URI)
	if err != nil {
		return queries.DeliveryFailed, err
	}
	files, err := EncodeFiles(req.Columns, req.Rows, req.MaxFileBytes)
	if err != nil {
		return queries.DeliveryFailed, err
	}
	dir := Dir(loc.Prefix, req.Account, req.QueryID, req.Completed)
	opt := objstore.PutOptions{ContentType: contentTypeCSV, ACL: layout.ACL}
	for _, f := range files {
		key := dir + "/" + f.Name
		if err := putOnce(ctx, objs, loc.Bucket, key, f.Body, opt, func(b []byte) bool { return bytes.Equal(b, f.Body) }, int64(len(f.Body))); err != nil {
			return putStatus(err, false), fmt.Errorf("resultfile: write s3://%s/%s: %w", loc.Bucket, key, err)
		}
	}
	sf := NewSignFile(req.Region, req.Completed, files)
	key, err := signer.SigningKey()
	if err != nil {
		return queries.DeliveryFailedSigningFile, fmt.Errorf("resultfile: signing key: %w", err)
	}
	if err := sf.Sign(key); err != nil {
		return queries.DeliveryFailedSigningFile, err
	}
	body, err := sf.Encode()
	if err != nil {
		return queries.DeliveryFailedSigningFile, err
	}
	signKey := dir + "/" + SignFileName
	same := func(b []byte) bool {
		old, err := ParseSignFile(b)
		return err == nil && sameDelivery(old, sf)
	}
	if err := putOnce(ctx, objs, loc.Bucket, signKey, body, objstore.PutOptions{ContentType: contentTypeSign, ACL: layout.ACL}, same, maxSignFileBytes); err != nil {
		return putStatus(err, true), fmt.Errorf("resultfile: write s3://%s/%s: %w", loc.Bucket, signKey, err)
	}
	return queries.DeliverySuccess, nil
}

// Temporary reports whether Deliver failed because the store did not
// answer (objstore.ErrUnavailable), so that a later attempt may succeed.
func Temporary(err error) bool { return errors.Is(err, objstore.ErrUnavailable) }

// putOnce creates the object; when one exists at the key, it reads it
// (at most limit bytes, more is a conflict) and succeeds if same accepts
// it, else fails with ErrConflict.
func putOnce(ctx context.Context, objs Objects, bucket, key string, body []byte, opt objstore.PutOptions, same func([]byte) bool, limit int64) error {
	err := objs.PutIfAbsent(ctx, bucket, key, body, opt)
	if !errors.Is(err, objstore.ErrExists) {
		return err
	}
	rc, _, err := objs.Get(ctx, bucket, key)
	if err != nil {
		return fmt.Errorf("read the object already there: %w", err)
	}
	defer rc.Close()
	old, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return fmt.Errorf("read the object already there: %w", err)
	}
	if int64(len(old)) > limit || !same(old) {
		return fmt.Errorf("%w (%d bytes there)", ErrConflict, len(old))
	}
	return nil
}

// putStatus is the DeliveryStatus of a failed write.
func putStatus(err error, signFile bool) string {
	switch {
	case errors.Is(err, objstore.ErrNoSuchBucket):
		return queries.DeliveryResourceNotFound
	case errors.Is(err, objstore.ErrAccessDenied) && signFile:
		return queries.DeliveryAccessDeniedSigningFile
	case errors.Is(err, objstore.ErrAccessDenied):
		return queries.DeliveryAccessDenied
	case signFile:
		return queries.DeliveryFailedSigningFile
	}
	return queries.DeliveryFailed
}
