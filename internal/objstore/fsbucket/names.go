package fsbucket

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/objstore"
)

const (
	maxKeyLen       = 1024 // S3's limit, in bytes
	maxComponentLen = 255  // NAME_MAX of common filesystems
)

// checkBucketName is objstore.CheckBucketName.
func checkBucketName(name string) error { return objstore.CheckBucketName(name) }

// checkKey reports whether key can be laid out as a path below a bucket
// directory; the error wraps objstore.ErrInvalidKey and says why not. It
// checks the key alone; conflicts with existing files are found by Put.
func checkKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("key %q %s: %w", truncate(key), why, objstore.ErrInvalidKey)
	}
	switch {
	case key == "":
		return bad("is empty")
	case len(key) > maxKeyLen:
		return bad(fmt.Sprintf("is %d bytes long, more than %d", len(key), maxKeyLen))
	case !utf8.ValidString(key):
		return bad("is not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("starts with '/' (an empty path component)")
	case strings.HasSuffix(key, "/"):
		return bad("ends with '/' (an empty path component)")
	}
	for c := range strings.SplitSeq(key, "/") {
		if err := checkComponent(c); err != nil {
			return bad(err.Error())
		}
	}
	return nil
}

// checkComponent checks one '/'-separated part of a key.
func checkComponent(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("has an empty path component (\"//\")")
	case c == "." || c == "..":
		return fmt.Errorf("has a path component %q", c)
	case len(c) > maxComponentLen:
		return fmt.Errorf("has a path component of %d bytes, more than %d", len(c), maxComponentLen)
	case strings.IndexByte(c, 0) >= 0:
		return fmt.Errorf("contains a NUL byte")
	case !utf8.ValidString(c):
		return fmt.Errorf("is not valid UTF-8")
	}
	return nil
}

// keyPath maps a key to its path below dir, the bucket directory (or the
// bucket's metadata directory). The path is always inside dir.
func keyPath(dir, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(key)), nil
}

// truncate shortens a key for an error message.
func truncate(key string) string {
	if len(key) <= 120 {
		return key
	}
	return key[:120] + "..."
}

// keyDirs returns the directories, relative to a tree's root (ROOT or
// .meta/objects), that hold the key's file: the bucket, then the key's
// components but the last. The key must be valid.
func keyDirs(bucket, key string) []string {
	parts := strings.Split(key, "/")
	return append([]string{bucket}, parts[:len(parts)-1]...)
}

// realDirs reports whether each of base/dirs[0], base/dirs[0]/dirs[1], ...
// is a directory and not a symbolic link, up to the first that is missing
// (nothing below it exists). Only directories the store made are
// followed: a link placed in the tree by hand could lead outside ROOT. (The store itself never makes links; a link swapped in
// while an operation runs is not guarded against.)
func realDirs(base string, dirs []string) bool {
	dir := base
	for _, d := range dirs {
		dir = filepath.Join(dir, d)
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return true // nothing below to follow
		}
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}
