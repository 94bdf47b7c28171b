package fsbucket

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opentrail/opentrail/internal/objstore"
)

// TestConcurrentSameKeys races Puts, Deletes, Gets and Lists of the same
// few keys, including keys that conflict as file and directory ("k" and
// "k/x"). Run with -race. Every operation either succeeds or fails with a
// sentinel; a listed or read object always has a body matching its
// metadata; nothing is left in .tmp.
func TestConcurrentSameKeys(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	ctx := t.Context()
	keys := []string{"k", "k/x", "k/y/z", "a/b", "a/c", "ab"}
	var wg sync.WaitGroup
	errc := make(chan error, 1000)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	for w := range 6 {
		wg.Go(func() {
			for i := range 40 {
				key := keys[(w+i)%len(keys)]
				body := []byte(strings.Repeat(fmt.Sprint(w), 1+i%5))
				switch (w + i) % 4 {
				case 0, 1:
					err := s.Put(ctx, b, key, body, objstore.PutOptions{Metadata: map[string]string{"w": fmt.Sprint(w)}})
					if err != nil && !errors.Is(err, objstore.ErrInvalidKey) {
						report(fmt.Errorf("put %s: %w", key, err))
					}
				case 2:
					if err := s.Delete(ctx, b, key); err != nil {
						report(fmt.Errorf("delete %s: %w", key, err))
					}
				case 3:
					rc, obj, err := s.Get(ctx, b, key)
					if errors.Is(err, objstore.ErrNoSuchKey) {
						continue
					}
					if err != nil {
						report(fmt.Errorf("get %s: %w", key, err))
						continue
					}
					data, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || int64(len(data)) != obj.Size {
						report(fmt.Errorf("get %s: %d bytes, size %d, %v", key, len(data), obj.Size, err))
					}
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 40 {
				page, err := s.List(ctx, b, "", "", 100)
				if err != nil {
					report(fmt.Errorf("list: %w", err))
					continue
				}
				for i, o := range page.Objects {
					if i > 0 && page.Objects[i-1].Key >= o.Key {
						report(fmt.Errorf("list out of order: %q then %q", page.Objects[i-1].Key, o.Key))
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	ents, err := os.ReadDir(filepath.Join(root, ".tmp"))
	if err != nil || len(ents) != 0 {
		t.Errorf(".tmp after the race: %v, %v", ents, err)
	}
	// Every object left is consistent.
	page, err := s.List(ctx, b, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page.Objects {
		rc, obj, err := s.Get(ctx, b, o.Key)
		if err != nil {
			t.Errorf("get %s: %v", o.Key, err)
			continue
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(data)) != obj.Size || obj.Metadata["w"] == "" || !bytes.Equal(data, bytes.Repeat(data[:1], len(data))) {
			t.Errorf("object %s inconsistent: %q %+v", o.Key, data, obj)
		}
	}
}

// TestSymlinkedDirectoriesNotFollowed puts symbolic links to a directory
// outside ROOT into the body and metadata trees: no operation reads,
// lists or deletes through them.
func TestSymlinkedDirectoriesNotFollowed(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	ctx := t.Context()
	for _, n := range []string{"secret", "victim", "metavictim"} {
		if err := os.WriteFile(filepath.Join(outside, n), []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, b, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, ".meta", "objects", b), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, ".meta", "objects", b, "mlink")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, b, "link/secret"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("Get through a symlinked directory: %v, want ErrNoSuchKey", err)
	}
	if _, err := s.Head(ctx, b, "link/secret"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("Head through a symlinked directory: %v, want ErrNoSuchKey", err)
	}
	for _, prefix := range []string{"link/", "link/s"} {
		page, err := s.List(ctx, b, prefix, "", 10)
		if err != nil || len(page.Objects) != 0 {
			t.Errorf("List %q through a symlinked directory: %+v, %v", prefix, page.Objects, err)
		}
	}
	if err := s.Put(ctx, b, "link/new", []byte("x"), objstore.PutOptions{}); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("Put through a symlinked directory: %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, b, "link/victim"); err != nil {
		t.Errorf("Delete through a symlinked directory: %v", err)
	}
	// A body in the bucket whose metadata path crosses the metadata-tree link.
	if err := os.MkdirAll(filepath.Join(root, b, "mlink"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, b, "mlink", "metavictim"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, b, "mlink/metavictim"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	for _, n := range []string{"secret", "victim", "metavictim"} {
		if _, err := os.Stat(filepath.Join(outside, n)); err != nil {
			t.Errorf("file outside ROOT: %v", err)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("directory outside ROOT: %v", err)
	}
}

// TestSymlinkedBucketNotFollowed replaces a bucket directory with a link to
// a directory outside ROOT.
func TestSymlinkedBucketNotFollowed(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	ctx := t.Context()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, b)); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, b)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, b, "secret"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("Get in a symlinked bucket: %v, want ErrNoSuchKey", err)
	}
	if page, err := s.List(ctx, b, "", "", 10); err != nil || len(page.Objects) != 0 {
		t.Errorf("List of a symlinked bucket: %+v, %v", page.Objects, err)
	}
	if err := s.Delete(ctx, b, "secret"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("file outside ROOT: %v", err)
	}
}
