// Package objstoretest is the conformance suite for [objstore.Store]: every
// implementation (fsbucket, s3 against a real S3-compatible server, and any
// fake) runs [Run] from its tests.
//
// The suite creates its own buckets with random names, so a store may be
// shared between subtests and may hold other buckets. It uses only keys
// every implementation can store: no key is both an object and the
// directory-like prefix of another (the embedded store refuses "a" next to
// "a/b").
package objstoretest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/objstore"
)

// Run runs the conformance suite. newStore is called once per subtest; it
// may return the same store each time.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s objstore.Store)
	}{
		{"Buckets", testBuckets},
		{"InvalidBucketNames", testInvalidBucketNames},
		{"PutGetHead", testPutGetHead},
		{"EmptyObject", testEmptyObject},
		{"Overwrite", testOverwrite},
		{"ListOrder", testListOrder},
		{"ListPrefixAfter", testListPrefixAfter},
		{"ListPaging", testListPaging},
		{"KeyConflicts", testKeyConflicts},
		{"Delete", testDelete},
		{"Missing", testMissing},
		{"LargeObject", testLargeObject},
		{"PutFile", testPutFile},
		{"ConcurrentPuts", testConcurrentPuts},
		{"PutIfAbsent", testPutIfAbsent},
		{"ConcurrentPutIfAbsent", testConcurrentPutIfAbsent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// BucketName returns a fresh valid bucket name.
func BucketName(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "ot-test-" + hex.EncodeToString(b[:])
}

// newBucket creates a fresh bucket and returns its name.
func newBucket(t *testing.T, s objstore.Store) string {
	t.Helper()
	name := BucketName(t)
	if err := s.CreateBucket(t.Context(), name, objstore.BucketOptions{}); err != nil {
		t.Fatalf("CreateBucket(%q): %v", name, err)
	}
	return name
}

func etag(body []byte) string {
	sum := md5.Sum(body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func put(t *testing.T, s objstore.Store, bucket, key string, body []byte, opt objstore.PutOptions) {
	t.Helper()
	if err := s.Put(t.Context(), bucket, key, body, opt); err != nil {
		t.Fatalf("Put(%q, %q): %v", bucket, key, err)
	}
}

func get(t *testing.T, s objstore.Store, bucket, key string) ([]byte, objstore.Object) {
	t.Helper()
	rc, obj, err := s.Get(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", bucket, key, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %q): read body: %v", bucket, key, err)
	}
	return body, obj
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want errors.Is %v", what, err, want)
	}
}

// recent reports whether tm is within a minute of now (stores differ in
// precision and clocks differ a little).
func recent(tm time.Time) bool {
	d := time.Since(tm)
	return d > -time.Minute && d < time.Minute
}

func testBuckets(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	a, b := BucketName(t), BucketName(t)
	if a > b {
		a, b = b, a
	}
	for _, n := range []string{b, a} {
		if err := s.CreateBucket(ctx, n, objstore.BucketOptions{Owner: "123456789012"}); err != nil {
			t.Fatalf("CreateBucket(%q): %v", n, err)
		}
	}
	got, err := s.HeadBucket(ctx, a)
	if err != nil {
		t.Fatalf("HeadBucket(%q): %v", a, err)
	}
	if got.Name != a || got.Region != "us-east-1" {
		t.Errorf("HeadBucket(%q) = %+v, want name %q and region us-east-1", a, got, a)
	}
	if !got.CreationDate.IsZero() && !recent(got.CreationDate) {
		t.Errorf("HeadBucket(%q).CreationDate = %v, want zero or about now", a, got.CreationDate)
	}
	if got.Owner != "" && got.Owner != "123456789012" {
		t.Errorf("HeadBucket(%q).Owner = %q, want \"\" or the creator", a, got.Owner)
	}

	err = s.CreateBucket(ctx, a, objstore.BucketOptions{})
	wantErr(t, "CreateBucket of an existing bucket", err, objstore.ErrBucketExists)
	_, err = s.HeadBucket(ctx, BucketName(t))
	wantErr(t, "HeadBucket of a missing bucket", err, objstore.ErrNoSuchBucket)

	list, err := s.ListBuckets(ctx)
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	if !slices.IsSortedFunc(list, func(x, y objstore.Bucket) int { return strings.Compare(x.Name, y.Name) }) {
		t.Errorf("ListBuckets not sorted by name: %v", list)
	}
	var mine []string
	for _, bk := range list {
		if bk.Name == a || bk.Name == b {
			mine = append(mine, bk.Name)
			if !recent(bk.CreationDate) {
				t.Errorf("ListBuckets: %s CreationDate = %v, want about now", bk.Name, bk.CreationDate)
			}
		}
	}
	if diff := cmp.Diff([]string{a, b}, mine); diff != "" {
		t.Errorf("ListBuckets: created buckets (-want +got):\n%s", diff)
	}
}

func testInvalidBucketNames(t *testing.T, s objstore.Store) {
	for _, tc := range []struct{ name, bucket string }{
		{"too short", "ab"},
		{"too long", strings.Repeat("a", 64)},
		{"uppercase", "Upper-Case"},
		{"underscore", "under_score"},
		{"starts with dash", "-start"},
		{"ends with dash", "end-"},
		{"starts with dot", ".start"},
		{"double dot", "a..b"},
		{"IP address", "192.168.5.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateBucket(t.Context(), tc.bucket, objstore.BucketOptions{})
			wantErr(t, fmt.Sprintf("CreateBucket(%q)", tc.bucket), err, objstore.ErrInvalidBucketName)
		})
	}
}

func testPutGetHead(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	key := "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"
	body := []byte(`{"digest":"yes"}`)
	meta := map[string]string{"signature": "0a1b2c", "signature-algorithm": "SHA256withRSA"}
	before := time.Now()
	put(t, s, bucket, key, body, objstore.PutOptions{
		ContentType: "application/json",
		Metadata:    meta,
		ACL:         "bucket-owner-full-control",
	})
	want := objstore.Object{
		Key:         key,
		Size:        int64(len(body)),
		ETag:        etag(body),
		ContentType: "application/json",
		Metadata:    meta,
	}
	ignoreTime := cmpopts.IgnoreFields(objstore.Object{}, "LastModified")

	gotBody, obj := get(t, s, bucket, key)
	if !bytes.Equal(gotBody, body) {
		t.Errorf("Get body = %q, want %q", gotBody, body)
	}
	if diff := cmp.Diff(want, obj, ignoreTime); diff != "" {
		t.Errorf("Get object (-want +got):\n%s", diff)
	}
	if obj.LastModified.Before(before.Add(-time.Minute)) || !recent(obj.LastModified) {
		t.Errorf("Get LastModified = %v, want about %v", obj.LastModified, before)
	}
	head, err := s.Head(t.Context(), bucket, key)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if diff := cmp.Diff(want, head, ignoreTime); diff != "" {
		t.Errorf("Head object (-want +got):\n%s", diff)
	}
	if !head.LastModified.Equal(obj.LastModified) {
		t.Errorf("Head LastModified %v != Get LastModified %v", head.LastModified, obj.LastModified)
	}
}

func testEmptyObject(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	put(t, s, bucket, "empty", nil, objstore.PutOptions{})
	body, obj := get(t, s, bucket, "empty")
	if len(body) != 0 || obj.Size != 0 || obj.ETag != etag(nil) {
		t.Errorf("Get empty object: body %q, object %+v; want empty with ETag %s", body, obj, etag(nil))
	}
	if len(obj.Metadata) != 0 {
		t.Errorf("Get empty object: metadata %v, want none", obj.Metadata)
	}
}

func testOverwrite(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	put(t, s, bucket, "k", []byte("first version, longer"), objstore.PutOptions{
		ContentType: "text/plain", Metadata: map[string]string{"v": "1"},
	})
	second := []byte("second")
	put(t, s, bucket, "k", second, objstore.PutOptions{ContentType: "application/x-gzip"})
	body, obj := get(t, s, bucket, "k")
	if !bytes.Equal(body, second) {
		t.Errorf("Get after overwrite = %q, want %q", body, second)
	}
	want := objstore.Object{Key: "k", Size: int64(len(second)), ETag: etag(second), ContentType: "application/x-gzip"}
	if diff := cmp.Diff(want, obj, cmpopts.IgnoreFields(objstore.Object{}, "LastModified"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Get after overwrite (-want +got):\n%s", diff)
	}
}

// trickyKeys sort differently from a directory walk: '-' < '/' < '0', and
// UTF-8 sorts after ASCII.
var trickyKeys = []string{
	"a-b", "a.b", "a/b-c", "a/b/c", "a/b0", "a/c", "a0", "A", "b", "z", "~",
	"é", "日本/語", "a/b/c-d/e", "a/b/c.d", "AWSLogs/1/x", "a b",
}

func putKeys(t *testing.T, s objstore.Store, bucket string, keys []string) {
	t.Helper()
	for _, k := range keys {
		put(t, s, bucket, k, []byte("body of "+k), objstore.PutOptions{})
	}
}

func listAll(t *testing.T, s objstore.Store, bucket, prefix, after string, max int) ([]string, bool) {
	t.Helper()
	page, err := s.List(t.Context(), bucket, prefix, after, max)
	if err != nil {
		t.Fatalf("List(prefix %q, after %q, max %d): %v", prefix, after, max, err)
	}
	keys := []string{}
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	return keys, page.Truncated
}

// expect returns the sorted keys with the prefix, after after.
func expect(keys []string, prefix, after string) []string {
	out := []string{}
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && k > after {
			out = append(out, k)
		}
	}
	slices.Sort(out) // Go compares strings byte-wise
	return out
}

func testListOrder(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	putKeys(t, s, bucket, trickyKeys)
	page, err := s.List(t.Context(), bucket, "", "", 1000)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	for _, o := range page.Objects {
		got = append(got, o.Key)
		body := []byte("body of " + o.Key)
		if o.Size != int64(len(body)) || o.ETag != etag(body) {
			t.Errorf("List: %q has size %d, ETag %s; want %d, %s", o.Key, o.Size, o.ETag, len(body), etag(body))
		}
		if !recent(o.LastModified) {
			t.Errorf("List: %q LastModified = %v, want about now", o.Key, o.LastModified)
		}
	}
	if diff := cmp.Diff(expect(trickyKeys, "", ""), got); diff != "" {
		t.Errorf("List order (-want +got):\n%s", diff)
	}
	if page.Truncated {
		t.Errorf("List: Truncated = true, want false")
	}
}

func testListPrefixAfter(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	putKeys(t, s, bucket, trickyKeys)
	for _, tc := range []struct{ name, prefix, after string }{
		{"prefix dir", "a/", ""},
		{"prefix mid-name", "a/b", ""},
		{"prefix deep dir", "a/b/", ""},
		{"prefix a", "a", ""},
		{"prefix exact key", "a-b", ""},
		{"prefix unicode", "日本/", ""},
		{"prefix no match", "nothing/", ""},
		{"prefix double slash", "a//", ""},
		{"after missing key", "", "a/b"},
		{"after key", "", "a-b"},
		{"after dir prefix", "", "a/"},
		{"after inside dir", "", "a/b/c"},
		{"after last", "", "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~"},
		{"after past ascii", "", "z"},
		{"prefix and after", "a/", "a/b-c"},
		{"after before prefix", "a/b", "A"},
		{"after beyond prefix", "a/", "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, truncated := listAll(t, s, bucket, tc.prefix, tc.after, 1000)
			if diff := cmp.Diff(expect(trickyKeys, tc.prefix, tc.after), got); diff != "" {
				t.Errorf("List(prefix %q, after %q) (-want +got):\n%s", tc.prefix, tc.after, diff)
			}
			if truncated {
				t.Errorf("List(prefix %q, after %q): Truncated = true", tc.prefix, tc.after)
			}
		})
	}
}

func testListPaging(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	putKeys(t, s, bucket, trickyKeys)
	for _, prefix := range []string{"", "a/"} {
		want := expect(trickyKeys, prefix, "")
		for _, max := range []int{1, 2, 3, 5, len(want), len(want) + 1} {
			t.Run(fmt.Sprintf("prefix %q max %d", prefix, max), func(t *testing.T) {
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					if pages > len(want)+1 {
						t.Fatalf("paging does not end; got so far %q", got)
					}
					keys, truncated := listAll(t, s, bucket, prefix, after, max)
					if len(keys) > max {
						t.Fatalf("List(max %d) returned %d keys", max, len(keys))
					}
					got = append(got, keys...)
					if !truncated {
						break
					}
					if len(keys) == 0 {
						t.Fatalf("List: Truncated with no keys after %q", after)
					}
					after = keys[len(keys)-1]
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("paged listing (-want +got):\n%s", diff)
				}
			})
		}
	}
	// A page that ends exactly at the last key may or may not say
	// Truncated (S3 does not); the next page must then be empty.
	keys, truncated := listAll(t, s, bucket, "", "", len(trickyKeys))
	if len(keys) != len(trickyKeys) {
		t.Errorf("List(max %d) returned %d keys", len(trickyKeys), len(keys))
	}
	if truncated {
		t.Errorf("List(max = number of keys): Truncated = true, want false")
	}
}

// testKeyConflicts: S3 stores "a" next to "a/b"; stores laid out as
// files (fsbucket, versitygw's posix backend) refuse the second with
// ErrInvalidKey. Either is fine; nothing else is.
func testKeyConflicts(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	for _, tc := range []struct{ first, second string }{
		{"file", "file/below"},
		{"dir/below", "dir"},
	} {
		put(t, s, bucket, tc.first, []byte(tc.first), objstore.PutOptions{})
		err := s.Put(t.Context(), bucket, tc.second, []byte(tc.second), objstore.PutOptions{})
		want := []string{tc.first}
		switch {
		case err == nil:
			want = append(want, tc.second)
		case !errors.Is(err, objstore.ErrInvalidKey):
			t.Errorf("Put(%q) after Put(%q): %v, want nil or ErrInvalidKey", tc.second, tc.first, err)
		}
		for _, k := range want {
			if body, _ := get(t, s, bucket, k); string(body) != k {
				t.Errorf("Get(%q) = %q", k, body)
			}
		}
	}
}

func testDelete(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	bucket := newBucket(t, s)
	putKeys(t, s, bucket, []string{"d/e/f", "d/e-g", "x"})
	if err := s.Delete(ctx, bucket, "d/e/f"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, _, err := s.Get(ctx, bucket, "d/e/f")
	wantErr(t, "Get after Delete", err, objstore.ErrNoSuchKey)
	got, _ := listAll(t, s, bucket, "", "", 100)
	if diff := cmp.Diff([]string{"d/e-g", "x"}, got); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	if err := s.Delete(ctx, bucket, "d/e/f"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	if err := s.Delete(ctx, bucket, "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	// The key's former parent is free again as an object.
	put(t, s, bucket, "d/e", []byte("now a file"), objstore.PutOptions{})
	got, _ = listAll(t, s, bucket, "d/", "", 100)
	if diff := cmp.Diff([]string{"d/e", "d/e-g"}, got); diff != "" {
		t.Errorf("List after reuse (-want +got):\n%s", diff)
	}
	err = s.Delete(ctx, BucketName(t), "x")
	wantErr(t, "Delete in a missing bucket", err, objstore.ErrNoSuchBucket)
}

func testMissing(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	bucket := newBucket(t, s)
	missing := BucketName(t)
	_, _, err := s.Get(ctx, bucket, "no/such/key")
	wantErr(t, "Get of a missing key", err, objstore.ErrNoSuchKey)
	_, err = s.Head(ctx, bucket, "no/such/key")
	wantErr(t, "Head of a missing key", err, objstore.ErrNoSuchKey)
	_, _, err = s.Get(ctx, missing, "k")
	wantErr(t, "Get in a missing bucket", err, objstore.ErrNoSuchBucket)
	_, err = s.Head(ctx, missing, "k")
	wantErr(t, "Head in a missing bucket", err, objstore.ErrNoSuchBucket)
	_, err = s.List(ctx, missing, "", "", 10)
	wantErr(t, "List of a missing bucket", err, objstore.ErrNoSuchBucket)
	err = s.Put(ctx, missing, "k", []byte("x"), objstore.PutOptions{})
	wantErr(t, "Put in a missing bucket", err, objstore.ErrNoSuchBucket)
	page, err := s.List(ctx, bucket, "", "", 10)
	if err != nil || len(page.Objects) != 0 || page.Truncated {
		t.Errorf("List of an empty bucket = %+v, %v; want empty", page, err)
	}
}

func testLargeObject(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	body := make([]byte, 5<<20)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	put(t, s, bucket, "big/object.bin", body, objstore.PutOptions{ContentType: "application/octet-stream"})
	got, obj := get(t, s, bucket, "big/object.bin")
	if !bytes.Equal(got, body) {
		t.Errorf("Get of a 5 MiB object: %d bytes back, content differs", len(got))
	}
	if obj.Size != int64(len(body)) || obj.ETag != etag(body) {
		t.Errorf("Get of a 5 MiB object: size %d ETag %s, want %d %s", obj.Size, obj.ETag, len(body), etag(body))
	}
}

// PutFile stores the file's bytes as Put stores a body, with its size,
// ETag and options; an empty file is an empty object; a missing file is
// an error that writes nothing.
func testPutFile(t *testing.T, s objstore.Store) {
	ctx := context.Background()
	bucket := newBucket(t, s)
	dir := t.TempDir()
	for _, size := range []int{0, 1, 3<<20 + 17} {
		body := make([]byte, size)
		if _, err := rand.Read(body); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("f%d", size))
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("files/%d.parquet", size)
		if err := s.PutFile(ctx, bucket, key, path, objstore.PutOptions{ContentType: "application/vnd.apache.parquet"}); err != nil {
			t.Fatalf("PutFile of %d bytes: %v", size, err)
		}
		got, obj := get(t, s, bucket, key)
		if !bytes.Equal(got, body) {
			t.Errorf("PutFile of %d bytes: %d bytes back, content differs", size, len(got))
		}
		if obj.Size != int64(size) || obj.ETag != etag(body) || obj.ContentType != "application/vnd.apache.parquet" {
			t.Errorf("PutFile of %d bytes: size %d ETag %s type %q, want %d %s application/vnd.apache.parquet", size, obj.Size, obj.ETag, obj.ContentType, size, etag(body))
		}
	}
	if err := s.PutFile(ctx, bucket, "files/missing", filepath.Join(dir, "missing"), objstore.PutOptions{}); err == nil {
		t.Error("PutFile of a missing file: no error")
	}
	if _, err := s.Head(ctx, bucket, "files/missing"); !errors.Is(err, objstore.ErrNoSuchKey) {
		t.Errorf("Head after a failed PutFile: %v, want ErrNoSuchKey", err)
	}
}

func testConcurrentPuts(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	const workers, perWorker = 8, 6
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		keys []string
	)
	ctx := context.WithoutCancel(t.Context())
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				// Workers share directories, so directory creation races.
				key := fmt.Sprintf("c/%d/w%d-%d", i%3, w, i)
				err := s.Put(ctx, bucket, key, []byte(key), objstore.PutOptions{Metadata: map[string]string{"k": key}})
				mu.Lock()
				keys = append(keys, key)
				if err != nil {
					errs = append(errs, fmt.Errorf("Put(%q): %w", key, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got, _ := listAll(t, s, bucket, "c/", "", 1000)
	if diff := cmp.Diff(expect(keys, "", ""), got); diff != "" {
		t.Errorf("List after concurrent puts (-want +got):\n%s", diff)
	}
	for _, k := range keys {
		body, obj := get(t, s, bucket, k)
		if string(body) != k || obj.Metadata["k"] != k {
			t.Errorf("Get(%q) = %q with metadata %v", k, body, obj.Metadata)
		}
	}
}

func testPutIfAbsent(t *testing.T, s objstore.Store) {
	ctx := t.Context()
	bucket := newBucket(t, s)
	ignoreTime := cmpopts.IgnoreFields(objstore.Object{}, "LastModified")
	first := []byte(`{"digest":"first"}`)
	opt := objstore.PutOptions{ContentType: "application/json", Metadata: map[string]string{"signature": "01"}}
	if err := s.PutIfAbsent(ctx, bucket, "d/digest.json.gz", first, opt); err != nil {
		t.Fatalf("PutIfAbsent of a free key: %v", err)
	}
	want := objstore.Object{Key: "d/digest.json.gz", Size: int64(len(first)), ETag: etag(first),
		ContentType: "application/json", Metadata: map[string]string{"signature": "01"}}
	check := func(what string) {
		t.Helper()
		body, obj := get(t, s, bucket, "d/digest.json.gz")
		if !bytes.Equal(body, first) {
			t.Errorf("%s: body %q, want %q", what, body, first)
		}
		if diff := cmp.Diff(want, obj, ignoreTime); diff != "" {
			t.Errorf("%s: object (-want +got):\n%s", what, diff)
		}
	}
	check("after PutIfAbsent")

	// Neither other bytes nor the same bytes replace the object.
	for _, body := range [][]byte{[]byte("second writer"), first} {
		err := s.PutIfAbsent(ctx, bucket, "d/digest.json.gz", body, objstore.PutOptions{Metadata: map[string]string{"signature": "02"}})
		wantErr(t, fmt.Sprintf("PutIfAbsent(%q) over an object", body), err, objstore.ErrExists)
		if errors.Is(err, objstore.ErrUnavailable) {
			t.Errorf("PutIfAbsent over an object: %v also matches ErrUnavailable (a retry cannot help)", err)
		}
	}
	check("after refused PutIfAbsents")

	// An object made by Put counts too; a deleted one does not.
	put(t, s, bucket, "plain", []byte("by Put"), objstore.PutOptions{})
	err := s.PutIfAbsent(ctx, bucket, "plain", []byte("x"), objstore.PutOptions{})
	wantErr(t, "PutIfAbsent over an object made by Put", err, objstore.ErrExists)
	if body, _ := get(t, s, bucket, "plain"); string(body) != "by Put" {
		t.Errorf("object made by Put now holds %q", body)
	}
	if err := s.Delete(ctx, bucket, "plain"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, bucket, "plain", []byte("again"), objstore.PutOptions{}); err != nil {
		t.Errorf("PutIfAbsent after Delete: %v", err)
	}
	if body, _ := get(t, s, bucket, "plain"); string(body) != "again" {
		t.Errorf("PutIfAbsent after Delete: object holds %q", body)
	}

	// A key below or beside an object is a different key.
	for _, k := range []string{"d/digest.json", "d/digest.json.gz2", "e/digest.json.gz"} {
		if err := s.PutIfAbsent(ctx, bucket, k, []byte(k), objstore.PutOptions{}); err != nil {
			t.Errorf("PutIfAbsent(%q) next to d/digest.json.gz: %v", k, err)
		}
	}
	err = s.PutIfAbsent(ctx, BucketName(t), "k", []byte("x"), objstore.PutOptions{})
	wantErr(t, "PutIfAbsent in a missing bucket", err, objstore.ErrNoSuchBucket)
}

// testConcurrentPutIfAbsent races creators of the same keys: for each key
// exactly one succeeds, every other gets ErrExists, and the object holds
// the winner's bytes.
func testConcurrentPutIfAbsent(t *testing.T, s objstore.Store) {
	bucket := newBucket(t, s)
	const keys, writers = 6, 8
	ctx := context.WithoutCancel(t.Context())
	for k := range keys {
		key := fmt.Sprintf("race/%d/digest.json.gz", k)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, writers)
		)
		for w := range writers {
			wg.Go(func() {
				<-start
				body := fmt.Appendf(nil, "writer %d of %s", w, key)
				errs[w] = s.PutIfAbsent(ctx, bucket, key, body, objstore.PutOptions{Metadata: map[string]string{"w": fmt.Sprint(w)}})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("%s: writers %d and %d both created the object", key, winner, w)
			case err == nil:
				winner = w
			case !errors.Is(err, objstore.ErrExists):
				t.Errorf("%s: writer %d: %v, want nil or ErrExists", key, w, err)
			}
		}
		if winner < 0 {
			t.Errorf("%s: no writer created the object", key)
			continue
		}
		body, obj := get(t, s, bucket, key)
		if want := fmt.Sprintf("writer %d of %s", winner, key); string(body) != want || obj.Metadata["w"] != fmt.Sprint(winner) {
			t.Errorf("%s: object holds %q with metadata %v, want the winner's %q", key, body, obj.Metadata, want)
		}
	}
}
