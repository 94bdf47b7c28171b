package fsbucket

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/objstore"
)

const (
	maxKeyLen       = 1024 // S3's limit, in bytes
	maxComponentLen = 255  // NAME_MAX of common filesystems
)

// checkBucketName applies the S3 bucket naming rules; the error wraps
// objstore.ErrInvalidBucketName and says which rule the name breaks.
func checkBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("bucket name %q %s: %w", name, why, objstore.ErrInvalidBucketName)
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
