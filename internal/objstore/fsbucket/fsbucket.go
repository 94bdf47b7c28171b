// Package fsbucket is the embedded object store: buckets in a local
// directory laid out exactly like the S3 keys, with object metadata kept
// beside the objects in a hidden tree. The on-disk format is
// docs/format/embedded-buckets.md.
//
// [Open] takes an exclusive lock on the directory and finishes any Put a
// crash interrupted; [Store] implements [objstore.Store] and is safe for
// concurrent use. Put returns once the object and its metadata are durable;
// PutIfAbsent checks that the key is free and publishes under one lock.
package fsbucket

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

var _ objstore.Store = (*Store)(nil)

// Options configure a Store.
type Options struct {
	// Logger receives warnings about what Open repairs. nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns the recommended options: log to slog.Default().
// Open given a nil Logger discards log output.
func DefaultOptions() Options {
	return Options{Logger: slog.Default()}
}

// Store is an embedded object store rooted at one directory.
type Store struct {
	root    string
	metaDir string // ROOT/.meta
	bktDir  string // ROOT/.meta/buckets
	objDir  string // ROOT/.meta/objects
	tmpDir  string // ROOT/.tmp
	log     *slog.Logger

	// ns guards the namespace: creating and removing directories and
	// renaming files into place take it exclusively; readers share it, so
	// they never see a body without its metadata.
	ns sync.RWMutex

	closeMu sync.Mutex
	lock    *fileutil.Lock
}

const (
	dirPerm  = 0o755
	filePerm = 0o644

	defaultContentType = "binary/octet-stream"
	defaultRegion      = "us-east-1"
	formatVersion      = 1
)

// Open opens (creating if needed) the store rooted at root. It locks the
// directory against other processes and rolls forward or discards Puts a
// crash interrupted. Close releases the lock.
func Open(root string, opts Options) (*Store, error) {
	if root == "" {
		return nil, errors.New("open embedded buckets: empty root directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	root = filepath.Clean(root)
	s := &Store{
		root:    root,
		metaDir: filepath.Join(root, ".meta"),
		bktDir:  filepath.Join(root, ".meta", "buckets"),
		objDir:  filepath.Join(root, ".meta", "objects"),
		tmpDir:  filepath.Join(root, ".tmp"),
		log:     opts.Logger,
	}
	for _, d := range []string{root, s.metaDir, s.bktDir, s.objDir, s.tmpDir} {
		if err := fileutil.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("open embedded buckets: %w", err)
		}
	}
	lock, err := fileutil.LockDir(s.metaDir)
	if err != nil {
		return nil, fmt.Errorf("open embedded buckets: %w", err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		return nil, errors.Join(fmt.Errorf("open embedded buckets: %w", err), lock.Unlock())
	}
	return s, nil
}

// Close releases the directory lock. It is safe to call twice.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	err := s.lock.Unlock()
	s.lock = nil
	return err
}

// Root returns the directory the store was opened on.
func (s *Store) Root() string { return s.root }

// bucketFile is the JSON of .meta/buckets/<bucket>.json.
type bucketFile struct {
	Version      int       `json:"version"`
	Name         string    `json:"name"`
	Region       string    `json:"region"`
	CreationDate time.Time `json:"creationDate"`
	Owner        string    `json:"owner"`
}

func (s *Store) bucketPath(bucket string) string {
	return filepath.Join(s.bktDir, bucket+".json")
}

// CreateBucket creates a bucket; ErrInvalidBucketName or ErrBucketExists.
func (s *Store) CreateBucket(ctx context.Context, bucket string, opt objstore.BucketOptions) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	if err := checkBucketName(bucket); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	region := opt.Region
	if region == "" {
		region = defaultRegion
	}
	s.ns.Lock()
	defer s.ns.Unlock()
	if _, err := os.Lstat(s.bucketPath(bucket)); err == nil {
		return fmt.Errorf("create bucket %s: %w", bucket, objstore.ErrBucketExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	// An orphan directory from a crash between these two steps is adopted.
	if err := os.Mkdir(filepath.Join(s.root, bucket), dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if err := fileutil.SyncDir(s.root); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	b, err := json.Marshal(bucketFile{
		Version:      formatVersion,
		Name:         bucket,
		Region:       region,
		CreationDate: time.Now().UTC(),
		Owner:        opt.Owner,
	})
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	if err := fileutil.WriteFileAtomic(s.bucketPath(bucket), append(b, '\n'), filePerm); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

// HeadBucket returns the bucket, or ErrNoSuchBucket.
func (s *Store) HeadBucket(ctx context.Context, bucket string) (objstore.Bucket, error) {
	if err := ctx.Err(); err != nil {
		return objstore.Bucket{}, fmt.Errorf("head bucket: %w", err)
	}
	b, err := s.readBucket(bucket)
	if err != nil {
		return objstore.Bucket{}, fmt.Errorf("head bucket: %w", err)
	}
	return b, nil
}

// readBucket reads a bucket file; ErrNoSuchBucket when there is none.
func (s *Store) readBucket(bucket string) (objstore.Bucket, error) {
	if checkBucketName(bucket) != nil {
		return objstore.Bucket{}, fmt.Errorf("bucket %q: %w", bucket, objstore.ErrNoSuchBucket)
	}
	data, err := os.ReadFile(s.bucketPath(bucket))
	if errors.Is(err, fs.ErrNotExist) {
		return objstore.Bucket{}, fmt.Errorf("bucket %s: %w", bucket, objstore.ErrNoSuchBucket)
	}
	if err != nil {
		return objstore.Bucket{}, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	var bf bucketFile
	if err := json.Unmarshal(data, &bf); err != nil {
		return objstore.Bucket{}, fmt.Errorf("bucket %s: %s: %w", bucket, s.bucketPath(bucket), err)
	}
	if bf.Region == "" {
		bf.Region = defaultRegion
	}
	return objstore.Bucket{Name: bucket, CreationDate: bf.CreationDate, Region: bf.Region, Owner: bf.Owner}, nil
}

// checkBucket returns ErrNoSuchBucket unless the bucket exists.
func (s *Store) checkBucket(bucket string) error {
	if checkBucketName(bucket) != nil {
		return fmt.Errorf("bucket %q: %w", bucket, objstore.ErrNoSuchBucket)
	}
	if _, err := os.Stat(s.bucketPath(bucket)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bucket %s: %w", bucket, objstore.ErrNoSuchBucket)
	} else if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	return nil
}

// ListBuckets returns every bucket, sorted by name.
func (s *Store) ListBuckets(ctx context.Context) ([]objstore.Bucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	entries, err := os.ReadDir(s.bktDir)
	if err != nil {
		return nil, fmt.Errorf("list buckets: %w", err)
	}
	var out []objstore.Bucket
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() || checkBucketName(name) != nil {
			continue // temporary files start with '.', as no bucket does
		}
		b, err := s.readBucket(name)
		if errors.Is(err, objstore.ErrNoSuchBucket) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list buckets: %w", err)
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b objstore.Bucket) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// newID returns a random name for a temporary directory.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
