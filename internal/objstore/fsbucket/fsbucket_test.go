package fsbucket

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/objstoretest"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

func open(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(root, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return open(t, t.TempDir()) })
}

func newBucket(t *testing.T, s *Store) string {
	t.Helper()
	if err := s.CreateBucket(t.Context(), "trail", objstore.BucketOptions{Region: "eu-west-1", Owner: "123456789012"}); err != nil {
		t.Fatal(err)
	}
	return "trail"
}

func TestLayout(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	key := "AWSLogs/1/CloudTrail/x.json.gz"
	before := time.Now()
	if err := s.Put(t.Context(), b, key, []byte("hello"), objstore.PutOptions{
		ContentType: "application/json", Metadata: map[string]string{"Signature": "abc"}, ACL: "bucket-owner-full-control",
	}); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(root, "trail", "AWSLogs", "1", "CloudTrail", "x.json.gz"))
	if err != nil || string(body) != "hello" {
		t.Fatalf("body file: %q, %v", body, err)
	}
	var m metaFile
	data, err := os.ReadFile(filepath.Join(root, ".meta", "objects", "trail", "AWSLogs", "1", "CloudTrail", "x.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	want := metaFile{
		Version: 1, Bucket: "trail", Key: key, Size: 5, ETag: `"5d41402abc4b2a76b9719d911017c592"`,
		ContentType: "application/json", Metadata: map[string]string{"signature": "abc"}, ACL: "bucket-owner-full-control",
	}
	if diff := cmp.Diff(want, m, cmpopts.IgnoreFields(metaFile{}, "LastModified")); diff != "" {
		t.Errorf("metadata file (-want +got):\n%s", diff)
	}
	if m.LastModified.Before(before) {
		t.Errorf("lastModified %v before the Put", m.LastModified)
	}
	fi, _ := os.Stat(filepath.Join(root, "trail", key))
	if !fi.ModTime().Equal(m.LastModified) {
		t.Errorf("body mtime %v, want lastModified %v", fi.ModTime(), m.LastModified)
	}
	var bf bucketFile
	data, err = os.ReadFile(filepath.Join(root, ".meta", "buckets", "trail.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &bf); err != nil {
		t.Fatal(err)
	}
	if bf.Name != "trail" || bf.Region != "eu-west-1" || bf.Owner != "123456789012" || bf.Version != 1 {
		t.Errorf("bucket file = %+v", bf)
	}
	bk, err := s.HeadBucket(t.Context(), "trail")
	if err != nil || bk.Region != "eu-west-1" || bk.Owner != "123456789012" || !bk.CreationDate.Equal(bf.CreationDate) {
		t.Errorf("HeadBucket = %+v, %v", bk, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, ".tmp"))
	if len(entries) != 0 {
		t.Errorf(".tmp holds %d entries after Put, want none", len(entries))
	}
}

func TestInvalidKeys(t *testing.T) {
	s := open(t, t.TempDir())
	b := newBucket(t, s)
	ctx := t.Context()
	for _, k := range []string{"a", "d/e/f"} {
		if err := s.Put(ctx, b, k, []byte(k), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ name, key, msg string }{
		{"empty", "", "is empty"},
		{"too long", strings.Repeat("k", 1025), "more than 1024"},
		{"leading slash", "/a", "starts with '/'"},
		{"trailing slash", "a/", "ends with '/'"},
		{"double slash", "x//y", "empty path component"},
		{"dot", "x/./y", `component "."`},
		{"dot dot", "x/../y", `component ".."`},
		{"only dot dot", "..", `component ".."`},
		{"long component", strings.Repeat("c", 256), "more than 255"},
		{"NUL", "x\x00y", "NUL"},
		{"invalid UTF-8", "x\xffy", "UTF-8"},
		{"file in the way", "a/b", `needs a directory "a"`},
		{"deeper file in the way", "a/b/c", `needs a directory "a"`},
		{"directory in the way", "d/e", "names a directory"},
		{"directory in the way at top", "d", "names a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(ctx, b, tc.key, []byte("x"), objstore.PutOptions{})
			if !errors.Is(err, objstore.ErrInvalidKey) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey saying %q", tc.key, err, tc.msg)
			}
			if _, err := s.Head(ctx, b, tc.key); !errors.Is(err, objstore.ErrNoSuchKey) {
				t.Errorf("Head(%q) = %v, want ErrNoSuchKey", tc.key, err)
			}
			if err := s.Delete(ctx, b, tc.key); err != nil {
				t.Errorf("Delete(%q) = %v, want nil", tc.key, err)
			}
		})
	}
	// Allowed: 1024 bytes, dots inside names, hidden names.
	for _, k := range []string{strings.Repeat("k/", 511) + "kk", "x/.hidden", "..x/y..", ".meta", ".tmp/x"} {
		if err := s.Put(ctx, b, k, []byte("ok"), objstore.PutOptions{}); err != nil {
			t.Errorf("Put(%q): %v", truncate(k), err)
		}
	}
}

func TestDeleteRemovesEmptyDirs(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	ctx := t.Context()
	for _, k := range []string{"x/y/z/1", "x/2"} {
		if err := s.Put(ctx, b, k, nil, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, b, "x/y/z/1"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(root, "trail"), filepath.Join(root, ".meta", "objects", "trail")} {
		if _, err := os.Stat(filepath.Join(dir, "x", "y")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s/x/y still exists (%v)", dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "x", "2")); err != nil {
			t.Errorf("%s/x/2: %v", dir, err)
		}
	}
	if err := s.Delete(ctx, b, "x/2"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(filepath.Join(root, "trail")); err != nil || len(entries) != 0 {
		t.Errorf("bucket dir after deleting everything: %v, %v; want it empty and present", entries, err)
	}
}

func TestForeignFilesAndOrphans(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	ctx := t.Context()
	// A file put there by hand: described from the file.
	if err := os.MkdirAll(filepath.Join(root, b, "hand"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, b, "hand", "made"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Head(ctx, b, "hand/made")
	if err != nil {
		t.Fatal(err)
	}
	if obj.ETag != `"5d41402abc4b2a76b9719d911017c592"` || obj.Size != 5 || obj.ContentType != defaultContentType {
		t.Errorf("Head of a foreign file = %+v", obj)
	}
	rc, _, err := s.Get(ctx, b, "hand/made")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "hello" {
		t.Errorf("Get of a foreign file = %q, want hello (seeked back after hashing)", body)
	}
	// A body edited by hand to another size: its metadata is not trusted.
	if err := s.Put(ctx, b, "edited", []byte("one"), objstore.PutOptions{Metadata: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, b, "edited"), []byte("three"), 0o644); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, b, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 2 || page.Objects[0].Key != "edited" || page.Objects[0].Size != 5 || page.Objects[0].Metadata != nil {
		t.Errorf("List = %+v", page.Objects)
	}
	// An orphan metadata file (a crash inside Delete) is invisible and does
	// not block a Put below it.
	if err := os.WriteFile(filepath.Join(root, ".meta", "objects", b, "orphan"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, b, "orphan"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("Head of an orphan metadata file: %v", err)
	}
	if err := s.Put(ctx, b, "orphan/child", []byte("c"), objstore.PutOptions{ContentType: "text/plain"}); err != nil {
		t.Fatalf("Put below an orphan metadata file: %v", err)
	}
	if obj, err := s.Head(ctx, b, "orphan/child"); err != nil || obj.ContentType != "text/plain" {
		t.Errorf("Head = %+v, %v", obj, err)
	}
	// Symbolic links are not objects.
	if err := os.Symlink("/etc/passwd", filepath.Join(root, b, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, b, "link"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("Head of a symlink: %v, want ErrNoSuchKey", err)
	}
	page, _ = s.List(ctx, b, "l", "", 10)
	if len(page.Objects) != 0 {
		t.Errorf("List shows a symlink: %+v", page.Objects)
	}
}

// writeCommit leaves a committed, unpublished Put in .tmp, as a crash after
// step 2 would; with ifAbsent, a PutIfAbsent.
func writeCommit(t *testing.T, root, bucket, key, body string, metaDone, ifAbsent bool) {
	t.Helper()
	dir := filepath.Join(root, ".tmp", "crash.commit")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(metaFile{Version: 1, Bucket: bucket, Key: key, Size: int64(len(body)), ETag: `"x"`,
		LastModified: time.Now().UTC(), ContentType: "text/plain", Metadata: map[string]string{"v": body}})
	files := map[string][]byte{tmpBody: []byte(body), tmpTarget: m}
	if ifAbsent {
		files[tmpIfAbsent] = nil
	}
	if metaDone {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, ".meta", "objects", bucket, key)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, ".meta", "objects", bucket, key), m, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		files[tmpMeta] = m
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecovery(t *testing.T) {
	for _, metaDone := range []bool{false, true} {
		t.Run(map[bool]string{false: "nothing published", true: "metadata published"}[metaDone], func(t *testing.T) {
			root := t.TempDir()
			s := open(t, root)
			b := newBucket(t, s)
			ctx := t.Context()
			if err := s.Put(ctx, b, "k/v", []byte("old"), objstore.PutOptions{Metadata: map[string]string{"v": "old"}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			writeCommit(t, root, b, "k/v", "new body", metaDone, false)
			// A half-written Put and a stray file are discarded.
			if err := os.MkdirAll(filepath.Join(root, ".tmp", "half.partial"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, ".tmp", "half.partial", tmpBody), []byte("half"), 0o644); err != nil {
				t.Fatal(err)
			}
			s = open(t, root)
			rc, obj, err := s.Get(ctx, b, "k/v")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			if string(body) != "new body" || obj.Metadata["v"] != "new body" {
				t.Errorf("after recovery: body %q metadata %v, want the committed Put", body, obj.Metadata)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(entries) != 0 {
				t.Errorf(".tmp after recovery holds %d entries", len(entries))
			}
		})
	}
}

// TestRecoveryIfAbsent: a PutIfAbsent interrupted after its commit is
// rolled forward only while its key is free, so it never replaces an
// object another Put published before the crash.
func TestRecoveryIfAbsent(t *testing.T) {
	tests := []struct {
		name     string
		taken    bool // an object "old" exists at the key
		metaDone bool // the crash came after the metadata rename
		bodyDone bool // ... and after the body rename
		want     string
	}{
		{name: "key free, nothing published", want: "new body"},
		{name: "key free, metadata published", metaDone: true, want: "new body"},
		{name: "key free, body published", metaDone: true, bodyDone: true, want: "new body"},
		{name: "key taken", taken: true, want: "old"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			s := open(t, root)
			b := newBucket(t, s)
			ctx := t.Context()
			if tc.taken {
				if err := s.Put(ctx, b, "k/v", []byte("old"), objstore.PutOptions{Metadata: map[string]string{"v": "old"}}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			writeCommit(t, root, b, "k/v", "new body", tc.metaDone, true)
			if tc.bodyDone {
				entry := filepath.Join(root, ".tmp", "crash.commit")
				if err := os.MkdirAll(filepath.Join(root, b, "k"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(entry, tmpBody), filepath.Join(root, b, "k", "v")); err != nil {
					t.Fatal(err)
				}
			}
			s = open(t, root)
			rc, obj, err := s.Get(ctx, b, "k/v")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			if string(body) != tc.want || obj.Metadata["v"] != tc.want {
				t.Errorf("after recovery: body %q metadata %v, want %q", body, obj.Metadata, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(entries) != 0 {
				t.Errorf(".tmp after recovery holds %d entries", len(entries))
			}
		})
	}
}

// TestPutIfAbsentLeavesNothing: a refused PutIfAbsent leaves no journal
// entry, and the journal marks a conditional Put while it is in flight
// only (a published object has no trace of it).
func TestPutIfAbsentLeavesNothing(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	ctx := t.Context()
	if err := s.PutIfAbsent(ctx, b, "k", []byte("one"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.PutIfAbsent(ctx, b, "k", []byte("two"), objstore.PutOptions{})
	if !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("second PutIfAbsent: %v, want ErrExists", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(entries) != 0 {
		t.Errorf(".tmp holds %d entries", len(entries))
	}
	// An empty directory left at the key's path by a crash is no object.
	if err := os.Mkdir(filepath.Join(root, b, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, b, "d", []byte("file"), objstore.PutOptions{}); err != nil {
		t.Errorf("PutIfAbsent over an empty directory: %v", err)
	}
}

func TestTempFilesNeverListed(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	b := newBucket(t, s)
	// A Put in progress, as another goroutine would leave it.
	if err := os.MkdirAll(filepath.Join(root, ".tmp", "x.partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".tmp", "x.partial", "body"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), b, "real", []byte("r"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(t.Context(), b, "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Key != "real" {
		t.Errorf("List = %+v, want only real", page.Objects)
	}
	list, err := s.ListBuckets(t.Context())
	if err != nil || len(list) != 1 || list[0].Name != "trail" {
		t.Errorf("ListBuckets = %+v, %v", list, err)
	}
}

func TestOpenLocks(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	if _, err := Open(root, Options{}); !errors.Is(err, fileutil.ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s2, err := Open(root, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestCreateBucketAdoptsOrphanDir(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	if err := os.Mkdir(filepath.Join(root, "orphan"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeadBucket(t.Context(), "orphan"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("HeadBucket of a bare directory: %v, want ErrNoSuchBucket", err)
	}
	if err := s.CreateBucket(t.Context(), "orphan", objstore.BucketOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestBucketNames(t *testing.T) {
	for _, ok := range []string{"abc", "a.b-c", "123", "my.bucket.json", "1.2.3", "1.2.3.4.5", strings.Repeat("a", 63)} {
		if err := checkBucketName(ok); err != nil {
			t.Errorf("checkBucketName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ab", "A-b", "a_b", "-ab", "ab-", ".ab", "ab.", "a..b", "10.0.0.1", "999.999.999.999", "ab/c", strings.Repeat("a", 64)} {
		if err := checkBucketName(bad); !errors.Is(err, objstore.ErrInvalidBucketName) {
			t.Errorf("checkBucketName(%q) = %v, want ErrInvalidBucketName", bad, err)
		}
	}
}

// TestListWalksOnlyPrefixDir checks which directories List reads: only
// the one the prefix names and, below it, those that can hold keys after
// after.
func TestListWalksOnlyPrefixDir(t *testing.T) {
	s := open(t, t.TempDir())
	b := newBucket(t, s)
	for _, k := range []string{"p/q/1", "p/q/x/2", "p/r/2", "p-a/0", "z/3"} {
		if err := s.Put(t.Context(), b, k, nil, objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, after string
		limit         int
		keys, dirs    []string
	}{
		{"p/q/", "", 10, []string{"p/q/1", "p/q/x/2"}, []string{"p/q/", "p/q/x/"}},
		{"p/q", "", 10, []string{"p/q/1", "p/q/x/2"}, []string{"p/", "p/q/", "p/q/x/"}},
		{"p/", "p/q/x/2", 10, []string{"p/r/2"}, []string{"p/", "p/q/", "p/q/x/", "p/r/"}},
		{"p/", "p/r", 10, []string{"p/r/2"}, []string{"p/", "p/r/"}},
		{"", "", 1, []string{"p-a/0"}, []string{"", "p-a/"}},
		{"nothing/here/", "", 10, nil, []string{"nothing/here/"}},
		{"bad//", "", 10, nil, nil},
	}
	for _, tc := range tests {
		w, err := s.listKeys(t.Context(), b, tc.prefix, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.keys, w.keys); diff != "" {
			t.Errorf("listKeys(%q, %q) keys (-want +got):\n%s", tc.prefix, tc.after, diff)
		}
		if diff := cmp.Diff(tc.dirs, w.dirsRead); diff != "" {
			t.Errorf("listKeys(%q, %q) directories read (-want +got):\n%s", tc.prefix, tc.after, diff)
		}
	}
}

func FuzzKeyPath(f *testing.F) {
	for _, k := range []string{"a", "a/b", "../x", "a/../../b", "/abs", "a//b", ".", "..", "a/.", "x\x00", "é/日本", "a\\b", strings.Repeat("a/", 600)} {
		f.Add(k)
	}
	bucketDir := filepath.Join(string(filepath.Separator)+"root", "bucket")
	f.Fuzz(func(t *testing.T, key string) {
		p, err := keyPath(bucketDir, key)
		if err != nil {
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Fatalf("keyPath(%q) error %v does not wrap ErrInvalidKey", key, err)
			}
			return
		}
		rel, err := filepath.Rel(bucketDir, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			t.Fatalf("keyPath(%q) = %q escapes %q (rel %q, %v)", key, p, bucketDir, rel, err)
		}
		// The mapping is one to one: the path gives the key back.
		if back := filepath.ToSlash(rel); back != key {
			t.Fatalf("keyPath(%q) = %q, which maps back to %q", key, p, back)
		}
		if strings.Contains(key, "//") || len(key) > maxKeyLen || strings.ContainsRune(key, 0) {
			t.Fatalf("keyPath(%q) accepted a key it must refuse", key)
		}
	})
}

func BenchmarkPut(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateBucket(b.Context(), "bench", objstore.BucketOptions{}); err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 4<<10)
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		i++
		key := "AWSLogs/1/CloudTrail/us-east-1/2024/05/01/" + strings.Repeat("x", i%7) + time.Now().Format("150405.000000000")
		if err := s.Put(b.Context(), "bench", key, body, objstore.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList1000(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateBucket(b.Context(), "bench", objstore.BucketOptions{}); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		key := "AWSLogs/1/CloudTrail/us-east-1/2024/05/" + string(rune('a'+i%20)) + "/" + strings.Repeat("k", i%50+1)
		if err := s.Put(b.Context(), "bench", key, []byte("x"), objstore.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := s.List(b.Context(), "bench", "AWSLogs/1/", "", 1000); err != nil {
			b.Fatal(err)
		}
	}
}
