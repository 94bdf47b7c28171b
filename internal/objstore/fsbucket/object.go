package fsbucket

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// metaFile is the JSON of .meta/objects/<bucket>/<key>.
type metaFile struct {
	Version      int               `json:"version"`
	Bucket       string            `json:"bucket"`
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"`
	LastModified time.Time         `json:"lastModified"`
	ContentType  string            `json:"contentType"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	ACL          string            `json:"acl,omitempty"`
	SSEKMSKeyID  string            `json:"sseKmsKeyId,omitempty"`
	SSEContext   string            `json:"sseContext,omitempty"`
}

// Names of the files in a .tmp/<id>.partial or .commit directory.
const (
	tmpBody     = "body"
	tmpMeta     = "meta"
	tmpTarget   = "target"   // a copy of meta: says where body goes once meta has moved
	tmpIfAbsent = "ifabsent" // empty; present for PutIfAbsent: publish only if the key is free
)

// bodyPath and metaPath map a key to its files. The key must be valid.
func (s *Store) bodyPath(bucket, key string) string {
	return filepath.Join(s.root, bucket, filepath.FromSlash(key))
}

func (s *Store) metaPath(bucket, key string) string {
	return filepath.Join(s.objDir, bucket, filepath.FromSlash(key))
}

// Put writes the object durably; it replaces an existing one.
func (s *Store) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	return s.put(ctx, bucket, key, bytesContent(body), opt, false)
}

// PutFile is Put with the body copied from the file at path, a buffer at
// a time: it is read twice (its MD5, then the copy), never whole.
func (s *Store) PutFile(ctx context.Context, bucket, key, path string, opt objstore.PutOptions) error {
	f, n, sum, err := objstore.OpenFile(path)
	if err != nil {
		return fmt.Errorf("put object %s/%s: %w", bucket, truncate(key), err)
	}
	defer f.Close()
	return s.put(ctx, bucket, key, content{size: n, md5: sum, open: func() (io.Reader, error) { return f, nil }}, opt, false)
}

// content is the body put writes: its size and MD5, and its bytes from
// open.
type content struct {
	size int64
	md5  [md5.Size]byte
	open func() (io.Reader, error)
}

func bytesContent(b []byte) content {
	return content{size: int64(len(b)), md5: md5.Sum(b), open: func() (io.Reader, error) { return bytes.NewReader(b), nil }}
}

// PutIfAbsent writes the object durably if no object exists at the key,
// else returns objstore.ErrExists and writes nothing. The existence check
// and the publishing renames happen under the namespace lock, so of
// concurrent creators of a key exactly one succeeds.
func (s *Store) PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	return s.put(ctx, bucket, key, bytesContent(body), opt, true)
}

// put is Put, or PutIfAbsent when ifAbsent.
func (s *Store) put(ctx context.Context, bucket, key string, b content, opt objstore.PutOptions, ifAbsent bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	if err := s.checkBucket(bucket); err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put object %s: %w", bucket, err)
	}
	wrap := func(err error) error { return fmt.Errorf("put object %s/%s: %w", bucket, truncate(key), err) }
	// Fail early on a conflicting path or an existing object; publish
	// checks again under the lock.
	s.ns.RLock()
	err := s.checkTree(bucket, key)
	if err == nil && ifAbsent {
		err = s.checkAbsent(bucket, key)
	}
	s.ns.RUnlock()
	if err != nil {
		return wrap(err)
	}

	m := metaFile{
		Version:      formatVersion,
		Bucket:       bucket,
		Key:          key,
		Size:         b.size,
		ETag:         `"` + hex.EncodeToString(b.md5[:]) + `"`,
		LastModified: time.Now().UTC(),
		ContentType:  opt.ContentType,
		ACL:          opt.ACL,
		SSEKMSKeyID:  opt.SSEKMSKeyID,
		SSEContext:   opt.SSEContext,
	}
	if m.ContentType == "" {
		m.ContentType = defaultContentType
	}
	if len(opt.Metadata) > 0 {
		m.Metadata = make(map[string]string, len(opt.Metadata))
		for k, v := range opt.Metadata {
			m.Metadata[strings.ToLower(k)] = v
		}
	}
	metaJSON, err := json.Marshal(m)
	if err != nil {
		return wrap(err)
	}
	metaJSON = append(metaJSON, '\n')

	// 1. Write body, meta and target into .tmp/<id>.partial and fsync.
	id := newID()
	partial := filepath.Join(s.tmpDir, id+".partial")
	commit := filepath.Join(s.tmpDir, id+".commit")
	if err := os.Mkdir(partial, dirPerm); err != nil {
		return wrap(err)
	}
	r, err := b.open()
	if err == nil {
		err = writeSynced(filepath.Join(partial, tmpBody), r, b.size, m.LastModified)
	}
	if err != nil {
		return wrap(errors.Join(err, os.RemoveAll(partial)))
	}
	for _, name := range []string{tmpMeta, tmpTarget} {
		if err := writeSynced(filepath.Join(partial, name), bytes.NewReader(metaJSON), int64(len(metaJSON)), time.Time{}); err != nil {
			return wrap(errors.Join(err, os.RemoveAll(partial)))
		}
	}
	if ifAbsent {
		if err := writeSynced(filepath.Join(partial, tmpIfAbsent), bytes.NewReader(nil), 0, time.Time{}); err != nil {
			return wrap(errors.Join(err, os.RemoveAll(partial)))
		}
	}
	if err := fileutil.SyncDir(partial); err != nil {
		return wrap(errors.Join(err, os.RemoveAll(partial)))
	}
	// 2. Commit: from here a crash is rolled forward by Open.
	if err := os.Rename(partial, commit); err != nil {
		return wrap(errors.Join(err, os.RemoveAll(partial)))
	}
	if err := fileutil.SyncDir(s.tmpDir); err != nil {
		return wrap(errors.Join(err, os.RemoveAll(commit)))
	}
	// 3. Publish under the lock.
	s.ns.Lock()
	dirty, err := s.publish(commit, bucket, key)
	s.ns.Unlock()
	if err != nil {
		// Never roll this one forward: a later Put may overtake it.
		return wrap(errors.Join(err, os.RemoveAll(commit)))
	}
	// 4. Make the renames durable, then drop the journal entry.
	for _, d := range dirty {
		if err := fileutil.SyncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return wrap(err)
		}
	}
	if err := os.Remove(commit); err != nil {
		return wrap(err)
	}
	return nil
}

// writeSynced creates path with the size bytes r holds, sets its
// modification time when mtime is not zero, and fsyncs it. It fails when
// r holds fewer or more bytes.
func writeSynced(path string, r io.Reader, size int64, mtime time.Time) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size+1))
	if err == nil && n != size {
		err = fmt.Errorf("the body changed while it was written: %d bytes, not %d", n, size)
	}
	if err != nil {
		return errors.Join(err, f.Close())
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// checkTree reports, as ErrInvalidKey, whether key's body path needs a
// directory where a file is, or a file where a non-empty directory is.
// Callers hold ns (shared is enough).
func (s *Store) checkTree(bucket, key string) error {
	dir := filepath.Join(s.root, bucket)
	parts := strings.Split(key, "/")
	for i, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing below can exist either
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("key %q needs a directory %q where the object %q is: %w",
				truncate(key), strings.Join(parts[:i+1], "/"), strings.Join(parts[:i+1], "/"), objstore.ErrInvalidKey)
		}
	}
	fi, err := os.Lstat(filepath.Join(dir, parts[len(parts)-1]))
	if err == nil && fi.IsDir() {
		if empty, _ := isEmptyDir(filepath.Join(dir, parts[len(parts)-1])); !empty {
			return fmt.Errorf("key %q names a directory holding objects with the prefix %q: %w",
				truncate(key), truncate(key)+"/", objstore.ErrInvalidKey)
		}
	}
	return nil
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

// checkAbsent returns objstore.ErrExists when an object exists at key:
// a regular file at its body path, reached through real directories, as
// Get would find it. Callers hold ns (shared is enough) and have checked
// the tree.
func (s *Store) checkAbsent(bucket, key string) error {
	if !realDirs(s.root, keyDirs(bucket, key)) {
		return nil
	}
	fi, err := os.Lstat(s.bodyPath(bucket, key))
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return err
	case fi.Mode().IsRegular():
		return fmt.Errorf("key %q: %w", truncate(key), objstore.ErrExists)
	}
	return nil
}

// publish moves a committed Put into place: metadata first, then the body.
// A conditional create (an ifabsent file in the entry) whose body is still
// in the entry publishes only if no object exists at the key, else it
// returns objstore.ErrExists. It returns the directories that gained
// entries, to be fsynced. Callers hold ns exclusively.
func (s *Store) publish(commit, bucket, key string) ([]string, error) {
	if err := s.checkTree(bucket, key); err != nil {
		return nil, err
	}
	if err := s.checkCondition(commit, bucket, key); err != nil {
		return nil, err
	}
	body, meta := s.bodyPath(bucket, key), s.metaPath(bucket, key)
	var dirty []string
	// Body tree: an empty directory at the key's path (left by a crash) goes.
	if fi, err := os.Lstat(body); err == nil && fi.IsDir() {
		if err := os.Remove(body); err != nil {
			return nil, err
		}
	}
	d, err := mkdirs(s.root, bucket+"/"+key, false)
	if err != nil {
		return nil, err
	}
	dirty = append(dirty, d...)
	// Metadata tree: files or directories in the way are orphans, since the
	// body tree has no conflict.
	d, err = mkdirs(s.objDir, bucket+"/"+key, true)
	if err != nil {
		return nil, err
	}
	dirty = append(dirty, d...)
	if fi, err := os.Lstat(meta); err == nil && fi.IsDir() {
		if err := os.RemoveAll(meta); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(filepath.Join(commit, tmpMeta), meta); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.Rename(filepath.Join(commit, tmpBody), body); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, name := range []string{tmpTarget, tmpIfAbsent} {
		if err := os.Remove(filepath.Join(commit, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	dirty = append(dirty, filepath.Dir(meta), filepath.Dir(body))
	return dirty, nil
}

// checkCondition applies a journal entry's ifabsent condition: when the
// entry still holds its body, an existing object at the key fails it.
// (An entry whose body has moved passed the check before a crash.)
func (s *Store) checkCondition(commit, bucket, key string) error {
	if _, err := os.Lstat(filepath.Join(commit, tmpIfAbsent)); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(commit, tmpBody)); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	return s.checkAbsent(bucket, key)
}

// mkdirs creates the parent directories of base/rel (rel '/'-separated) and
// returns the directories that gained entries. With clearFiles, a
// non-directory in the way is removed first (an orphan metadata file).
func mkdirs(base, rel string, clearFiles bool) ([]string, error) {
	parts := strings.Split(rel, "/")
	dir := base
	var dirty []string
	for _, p := range parts[:len(parts)-1] {
		next := filepath.Join(dir, p)
		fi, err := os.Lstat(next)
		switch {
		case err == nil && fi.IsDir():
			dir = next
			continue
		case err == nil && clearFiles:
			if err := os.Remove(next); err != nil {
				return nil, err
			}
		case err == nil:
			return nil, fmt.Errorf("%s is not a directory: %w", next, objstore.ErrInvalidKey)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		if err := os.Mkdir(next, dirPerm); err != nil {
			return nil, err
		}
		dirty = append(dirty, dir)
		dir = next
	}
	return dirty, nil
}

// recover finishes or discards the Puts a crash interrupted: every
// .tmp/<id>.commit is published, everything else in .tmp removed.
func (s *Store) recover() error {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(s.tmpDir, e.Name())
		if strings.HasSuffix(e.Name(), ".commit") && e.IsDir() {
			switch err := s.rollForward(p); {
			case errors.Is(err, objstore.ErrExists):
				s.log.Info("embedded buckets: dropping an interrupted conditional put: an object exists at its key",
					"dir", p, "err", err)
			case err != nil:
				s.log.Warn("embedded buckets: dropping an interrupted put", "dir", p, "err", err)
			}
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("recover: %w", err)
		}
	}
	return fileutil.SyncDir(s.tmpDir)
}

func (s *Store) rollForward(commit string) error {
	data, err := os.ReadFile(filepath.Join(commit, tmpTarget))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // fully published; only the removal was lost
	}
	if err != nil {
		return err
	}
	var m metaFile
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", tmpTarget, err)
	}
	if err := s.checkBucket(m.Bucket); err != nil {
		return err
	}
	if err := checkKey(m.Key); err != nil {
		return err
	}
	dirty, err := s.publish(commit, m.Bucket, m.Key)
	if err != nil {
		return err
	}
	for _, d := range dirty {
		if err := fileutil.SyncDir(d); err != nil {
			return err
		}
	}
	s.log.Info("embedded buckets: finished an interrupted put", "bucket", m.Bucket, "key", m.Key)
	return nil
}

// Get returns the object's body and description.
func (s *Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, objstore.Object{}, fmt.Errorf("get object: %w", err)
	}
	f, obj, err := s.open(bucket, key)
	if err != nil {
		return nil, objstore.Object{}, fmt.Errorf("get object: %w", err)
	}
	return f, obj, nil
}

// Head returns the object's description.
func (s *Store) Head(ctx context.Context, bucket, key string) (objstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return objstore.Object{}, fmt.Errorf("head object: %w", err)
	}
	f, obj, err := s.open(bucket, key)
	if err != nil {
		return objstore.Object{}, fmt.Errorf("head object: %w", err)
	}
	return obj, f.Close()
}

// open opens the body and describes the object.
func (s *Store) open(bucket, key string) (*os.File, objstore.Object, error) {
	if err := s.checkBucket(bucket); err != nil {
		return nil, objstore.Object{}, err
	}
	if err := checkKey(key); err != nil {
		return nil, objstore.Object{}, fmt.Errorf("%s: %w (%w)", bucket, objstore.ErrNoSuchKey, err)
	}
	noKey := fmt.Errorf("%s/%s: %w", bucket, truncate(key), objstore.ErrNoSuchKey)
	s.ns.RLock()
	if !realDirs(s.root, keyDirs(bucket, key)) {
		s.ns.RUnlock()
		return nil, objstore.Object{}, noKey
	}
	f, err := os.OpenFile(s.bodyPath(bucket, key), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		s.ns.RUnlock()
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
			return nil, objstore.Object{}, noKey
		}
		return nil, objstore.Object{}, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		s.ns.RUnlock()
		f.Close()
		return nil, objstore.Object{}, noKey
	}
	var m *metaFile
	if err == nil {
		m = s.readMeta(bucket, key)
	}
	s.ns.RUnlock()
	if err != nil {
		f.Close()
		return nil, objstore.Object{}, err
	}
	obj, err := describe(key, f, fi, m)
	if err != nil {
		f.Close()
		return nil, objstore.Object{}, err
	}
	return f, obj, nil
}

// readMeta reads the metadata file of a key; nil when it is missing or
// unusable.
func (s *Store) readMeta(bucket, key string) *metaFile {
	data, err := os.ReadFile(s.metaPath(bucket, key))
	if err != nil {
		return nil
	}
	var m metaFile
	if json.Unmarshal(data, &m) != nil || m.Key != key || m.Bucket != bucket {
		return nil
	}
	return &m
}

// describe builds the Object for a body, from its metadata when that
// matches the body, else from the file itself (reading r for the ETag and
// seeking back when r is an io.Seeker).
func describe(key string, r io.Reader, fi fs.FileInfo, m *metaFile) (objstore.Object, error) {
	if m != nil && m.Size == fi.Size() {
		obj := objstore.Object{
			Key:          key,
			Size:         m.Size,
			LastModified: m.LastModified,
			ETag:         m.ETag,
			ContentType:  m.ContentType,
		}
		if len(m.Metadata) > 0 {
			obj.Metadata = maps.Clone(m.Metadata)
		}
		return obj, nil
	}
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return objstore.Object{}, err
	}
	if sk, ok := r.(io.Seeker); ok {
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			return objstore.Object{}, err
		}
	}
	return objstore.Object{
		Key:          key,
		Size:         fi.Size(),
		LastModified: fi.ModTime().UTC(),
		ETag:         `"` + hex.EncodeToString(h.Sum(nil)) + `"`,
		ContentType:  defaultContentType,
	}, nil
}

// Delete removes an object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete object: %w", err)
	}
	if err := s.checkBucket(bucket); err != nil {
		return fmt.Errorf("delete object: %w", err)
	}
	if checkKey(key) != nil {
		return nil // such a key cannot exist
	}
	s.ns.Lock()
	dirty, err := s.remove(bucket, key)
	s.ns.Unlock()
	if err != nil {
		return fmt.Errorf("delete object %s/%s: %w", bucket, truncate(key), err)
	}
	for _, d := range dirty {
		if err := fileutil.SyncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete object %s/%s: %w", bucket, truncate(key), err)
		}
	}
	return nil
}

// remove deletes the body, then the metadata file, then empty parents in
// both trees. It returns the directories that lost entries.
func (s *Store) remove(bucket, key string) ([]string, error) {
	var dirty []string
	for _, t := range []struct{ tree, base, path string }{
		{s.root, filepath.Join(s.root, bucket), s.bodyPath(bucket, key)},
		{s.objDir, filepath.Join(s.objDir, bucket), s.metaPath(bucket, key)},
	} {
		if !realDirs(t.tree, keyDirs(bucket, key)) {
			continue // reached through a link or a file: not an object
		}
		fi, err := os.Lstat(t.path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || err == nil && fi.IsDir() {
			continue // not an object
		}
		if err != nil {
			return dirty, err
		}
		if err := os.Remove(t.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return dirty, err
		}
		dir := filepath.Dir(t.path)
		for dir != t.base && strings.HasPrefix(dir, t.base) {
			if os.Remove(dir) != nil {
				break // not empty
			}
			dir = filepath.Dir(dir)
		}
		dirty = append(dirty, dir)
	}
	return dirty, nil
}
