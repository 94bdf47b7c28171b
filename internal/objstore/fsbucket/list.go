package fsbucket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/opentrail/opentrail/internal/objstore"
)

// DefaultListMax is the page size List uses when max is 0 or less, S3's
// default MaxKeys.
const DefaultListMax = 1000

// List returns up to max objects whose keys start with prefix and sort
// strictly after after, in byte-wise order. max <= 0 means DefaultListMax.
func (s *Store) List(ctx context.Context, bucket, prefix, after string, max int) (objstore.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return objstore.ListPage{}, fmt.Errorf("list objects: %w", err)
	}
	if err := s.checkBucket(bucket); err != nil {
		return objstore.ListPage{}, fmt.Errorf("list objects: %w", err)
	}
	if max <= 0 {
		max = DefaultListMax
	}
	s.ns.RLock()
	defer s.ns.RUnlock()
	w, err := s.listKeys(ctx, bucket, prefix, after, max+1)
	keys := w.keys
	if err != nil {
		return objstore.ListPage{}, fmt.Errorf("list objects %s: %w", bucket, err)
	}
	var page objstore.ListPage
	if len(keys) > max {
		keys, page.Truncated = keys[:max], true
	}
	page.Objects = make([]objstore.Object, 0, len(keys))
	for _, k := range keys {
		obj, err := s.describeKey(bucket, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return objstore.ListPage{}, fmt.Errorf("list objects %s: %w", bucket, err)
		}
		page.Objects = append(page.Objects, obj)
	}
	return page, nil
}

// describeKey describes a listed key. Callers hold ns.
func (s *Store) describeKey(bucket, key string) (objstore.Object, error) {
	p := s.bodyPath(bucket, key)
	fi, err := os.Lstat(p)
	if err != nil {
		return objstore.Object{}, err
	}
	m := s.readMeta(bucket, key)
	if m != nil && m.Size == fi.Size() {
		return describe(key, nil, fi, m)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return objstore.Object{}, err
	}
	defer f.Close()
	return describe(key, f, fi, nil)
}

// listKeys returns up to limit keys in order. Only the directory the prefix
// names is walked.
func (s *Store) listKeys(ctx context.Context, bucket, prefix, after string, limit int) (*walker, error) {
	dirKey := prefix[:strings.LastIndexByte(prefix, '/')+1] // "" or ends in '/'
	dir := filepath.Join(s.root, bucket)
	dirs := []string{bucket}
	if dirKey != "" {
		for c := range strings.SplitSeq(strings.TrimSuffix(dirKey, "/"), "/") {
			if checkComponent(c) != nil {
				return &walker{}, nil // no stored key has this prefix
			}
			dirs = append(dirs, c)
		}
		dir = filepath.Join(dir, filepath.FromSlash(dirKey))
	}
	if !realDirs(s.root, dirs) {
		return &walker{}, nil // a link or a file: no objects below
	}
	w := walker{ctx: ctx, prefix: prefix, after: after, limit: limit}
	err := w.walk(dir, dirKey)
	return &w, err
}

type walker struct {
	ctx           context.Context
	prefix, after string
	limit         int
	keys          []string
	dirsRead      []string // the directories read, for tests
}

type entry struct {
	name  string
	sort  string // name, plus "/" for a directory
	isDir bool
}

// walk appends the keys below dir, whose key prefix is dirKey, in order.
func (w *walker) walk(dir, dirKey string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	w.dirsRead = append(w.dirsRead, dirKey)
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	ents := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if checkComponent(name) != nil {
			continue
		}
		switch {
		case de.IsDir():
			ents = append(ents, entry{name: name, sort: name + "/", isDir: true})
		case de.Type().IsRegular():
			ents = append(ents, entry{name: name, sort: name})
		}
	}
	slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(a.sort, b.sort) })
	for _, e := range ents {
		if len(w.keys) >= w.limit {
			return nil
		}
		k := dirKey + e.sort
		if !e.isDir {
			if len(k) <= maxKeyLen && k > w.after && strings.HasPrefix(k, w.prefix) {
				w.keys = append(w.keys, k)
			}
			continue
		}
		// Every key below starts with k.
		if !strings.HasPrefix(k, w.prefix) && !strings.HasPrefix(w.prefix, k) {
			continue
		}
		if k < w.after && !strings.HasPrefix(w.after, k) {
			continue // all of them sort before after
		}
		if err := w.walk(filepath.Join(dir, e.name), k); err != nil {
			return err
		}
	}
	return nil
}
