package federation_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/federation"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
)

const (
	storeID = "0b3f0c2e-8d7e-4c1a-9a55-3f4f2b1c9e10"
	account = "123456789012"
	arn     = "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/" + storeID
	bucket  = "opentrail-federation"
	prefix  = "cloudtrail-lake/123456789012/" + storeID + "/"
)

// fakeCatalog holds one store's federation status.
type fakeCatalog struct {
	mu     sync.Mutex
	status string
}

func (c *fakeCatalog) Federated() []federation.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == federation.StatusDisabled {
		return nil
	}
	return []federation.Store{{ID: storeID, Account: account, ARN: arn, Status: c.status}}
}

func (c *fakeCatalog) SetFederationStatus(id, from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == storeID && c.status == from {
		c.status = to
	}
	return nil
}

func (c *fakeCatalog) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// fakeSource is a store directory whose file list the test sets, as the
// Lake's MANIFEST would list it.
type fakeSource struct {
	t     *testing.T
	dir   string
	mu    sync.Mutex
	gen   uint64
	files []federation.File
	held  int
}

// set writes the named files (with content derived from their names
// unless they exist) and lists them at a new generation.
func (s *fakeSource) set(names ...string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.files = nil
	for _, n := range names {
		p := filepath.Join(s.dir, filepath.FromSlash(n))
		body, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			body = []byte("PAR1 rows of " + n + " PAR1")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				s.t.Fatal(err)
			}
			if err := os.WriteFile(p, body, 0o644); err != nil {
				s.t.Fatal(err)
			}
		}
		sum := sha256.Sum256(body)
		day := strings.TrimPrefix(strings.Split(n, "/")[0], "day=")
		s.files = append(s.files, federation.File{Name: n, Day: day, Rows: 1, Bytes: int64(len(body)), SHA256: hex.EncodeToString(sum[:])})
	}
}

func (s *fakeSource) Hold(id string) (federation.Held, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != storeID {
		return federation.Held{}, errors.New("no such store")
	}
	s.held++
	var once sync.Once
	return federation.Held{Generation: s.gen, Dir: s.dir, Files: slices.Clone(s.files), Release: func() {
		once.Do(func() {
			s.mu.Lock()
			s.held--
			s.mu.Unlock()
		})
	}}, nil
}

// rig is a publisher over an embedded bucket store with a settable clock.
type rig struct {
	t       *testing.T
	lakeDir string
	objs    *fsbucket.Store
	cat     *fakeCatalog
	src     *fakeSource
	now     time.Time
	wrap    func(federation.Objects) federation.Objects
}

func newRig(t *testing.T) *rig {
	t.Helper()
	objs, err := fsbucket.Open(t.TempDir(), fsbucket.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	return &rig{t: t, lakeDir: t.TempDir(), objs: objs, cat: &fakeCatalog{status: federation.StatusEnabling},
		src: &fakeSource{t: t, dir: t.TempDir()}, now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
}

// open opens a publisher on the rig's checkpoint (a restart opens a new
// one on the same directory).
func (r *rig) open() *federation.Publisher {
	r.t.Helper()
	o := federation.DefaultOptions()
	o.Catalog, o.Source, o.Objects = r.cat, r.src, federation.Objects(r.objs)
	if r.wrap != nil {
		o.Objects = r.wrap(r.objs)
	}
	o.Now = func() time.Time { return r.now }
	o.Logger = nil
	p, err := federation.Open(r.lakeDir, o)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

// keys lists every key under the store's prefix.
func (r *rig) keys() []string {
	r.t.Helper()
	page, err := r.objs.List(context.Background(), bucket, prefix, "", 1000)
	if errors.Is(err, objstore.ErrNoSuchBucket) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, o := range page.Objects {
		out = append(out, strings.TrimPrefix(o.Key, prefix))
	}
	return out
}

// manifest reads the published _manifest.json's file keys.
func (r *rig) manifest() (gen uint64, files []string) {
	r.t.Helper()
	rc, _, err := r.objs.Get(context.Background(), bucket, prefix+"_manifest.json")
	if err != nil {
		r.t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	var m struct {
		Generation uint64 `json:"generation"`
		Files      []struct {
			Key string `json:"key"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatal(err)
	}
	for _, f := range m.Files {
		files = append(files, strings.TrimPrefix(f.Key, prefix))
	}
	return m.Generation, files
}

func mustSync(t *testing.T, p *federation.Publisher) {
	t.Helper()
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
}

const (
	b1 = "day=2026-12-05/b-1-10.parquet"
	b2 = "day=2026-12-05/b-11-20.parquet"
	b3 = "day=2026-12-06/b-21-30.parquet"
	c1 = "day=2026-12-05/c-1-20-3.parquet"
)

var defs = []string{"_manifest.json", "duckdb.sql", "spark.sql", "trino.sql"}

func withDefs(data ...string) []string {
	out := slices.Clone(defs)
	for _, d := range data {
		out = append(out, "data/"+d)
	}
	slices.Sort(out)
	return out
}

func dataKeys(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "data/" + n
	}
	return out
}

// TestPublishFollowsCompaction: the first publish makes the store
// ENABLED; a compaction's output is published before the manifest that
// lists it, and its inputs stay until the grace period is over.
func TestPublishFollowsCompaction(t *testing.T) {
	r := newRig(t)
	r.src.set(b1, b2, b3)
	p := r.open()
	mustSync(t, p)
	if got := r.cat.get(); got != federation.StatusEnabled {
		t.Fatalf("status after the first publish = %s, want ENABLED", got)
	}
	if diff := cmp.Diff(withDefs(b1, b2, b3), r.keys()); diff != "" {
		t.Fatalf("published keys (-want +got):\n%s", diff)
	}
	gen, files := r.manifest()
	if diff := cmp.Diff(dataKeys(b1, b2, b3), files); gen != 1 || diff != "" {
		t.Fatalf("manifest generation %d, files (-want +got):\n%s", gen, diff)
	}
	if r.src.held != 0 {
		t.Fatalf("%d snapshots still held after the round", r.src.held)
	}

	// A compaction replaces b1 and b2 with c1.
	r.src.set(c1, b3)
	r.now = r.now.Add(time.Minute)
	mustSync(t, p)
	gen, files = r.manifest()
	if diff := cmp.Diff(dataKeys(c1, b3), files); gen != 2 || diff != "" {
		t.Fatalf("manifest after the compaction: generation %d, files (-want +got):\n%s", gen, diff)
	}
	if diff := cmp.Diff(withDefs(b1, b2, b3, c1), r.keys()); diff != "" {
		t.Fatalf("keys within the grace period (-want +got):\n%s", diff)
	}
	// The DuckDB definition names the snapshot's files only.
	rc, _, err := r.objs.Get(t.Context(), bucket, prefix+"duckdb.sql")
	if err != nil {
		t.Fatal(err)
	}
	sql, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(sql), c1) || strings.Contains(string(sql), b1) {
		t.Fatalf("duckdb.sql does not name exactly the snapshot's files:\n%s", sql)
	}

	// Just before the grace period ends nothing goes; after it, the
	// inputs do.
	r.now = r.now.Add(10*time.Minute - time.Second)
	mustSync(t, p)
	if got := len(r.keys()); got != len(withDefs(b1, b2, b3, c1)) {
		t.Fatalf("a retired file was deleted before its grace period ended: %v", r.keys())
	}
	r.now = r.now.Add(time.Second)
	mustSync(t, p)
	if diff := cmp.Diff(withDefs(c1, b3), r.keys()); diff != "" {
		t.Fatalf("keys after the grace period (-want +got):\n%s", diff)
	}
}

// failingManifest fails the Put of _manifest.json while fail is set: a
// crash between the upload of a snapshot's files and its manifest.
type failingManifest struct {
	federation.Objects
	fail *bool
}

func (f failingManifest) Put(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	if *f.fail && strings.HasSuffix(key, "_manifest.json") {
		return errors.New("killed")
	}
	return f.Objects.Put(ctx, bucket, key, body, opt)
}

// TestPublishAfterCrash: a publish cut off before its manifest leaves the
// old snapshot published; a new publisher on the same checkpoint
// finishes the job, and a file uploaded for a snapshot that never got
// published is retired and then deleted.
func TestPublishAfterCrash(t *testing.T) {
	r := newRig(t)
	fail := false
	r.wrap = func(o federation.Objects) federation.Objects { return failingManifest{o, &fail} }
	r.src.set(b1)
	mustSync(t, r.open())

	r.src.set(b1, b2)
	fail = true
	if err := r.open().Sync(t.Context()); err == nil {
		t.Fatal("Sync with the manifest's Put failing returned nil")
	}
	if _, files := r.manifest(); !slices.Equal(files, dataKeys(b1)) {
		t.Fatalf("the manifest changed although its write failed: %v", files)
	}
	// Meanwhile b2 was compacted away: the next snapshot lists c-… only.
	r.src.set("day=2026-12-05/c-1-20-3.parquet")
	fail = false
	p := r.open() // a restart
	mustSync(t, p)
	if _, files := r.manifest(); !slices.Equal(files, dataKeys(c1)) {
		t.Fatalf("manifest after the restart lists %v, want %v", files, dataKeys(c1))
	}
	r.now = r.now.Add(11 * time.Minute)
	mustSync(t, p)
	if diff := cmp.Diff(withDefs(c1), r.keys()); diff != "" {
		t.Fatalf("keys once the grace period is over (-want +got); the upload of the lost snapshot must be retired too:\n%s", diff)
	}

	// Without its checkpoint the publisher publishes again and retires
	// what it finds that the snapshot does not list.
	if err := r.objs.Put(t.Context(), bucket, prefix+"data/day=2026-12-01/b-9-9.parquet", []byte("stray"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.lakeDir, federation.CheckpointName)); err != nil {
		t.Fatal(err)
	}
	p = r.open()
	mustSync(t, p)
	r.now = r.now.Add(11 * time.Minute)
	mustSync(t, p)
	if diff := cmp.Diff(withDefs(c1), r.keys()); diff != "" {
		t.Fatalf("keys after a publish without checkpoint and the grace period (-want +got):\n%s", diff)
	}
}

// TestDisableRemovesCopy: DISABLING removes every key of the copy,
// forgets the store and makes it DISABLED; the store's files stay.
func TestDisableRemovesCopy(t *testing.T) {
	r := newRig(t)
	r.src.set(b1, b2)
	p := r.open()
	mustSync(t, p)
	r.src.set(c1)
	mustSync(t, p) // b1 and b2 retired, not yet deleted
	r.cat.status = federation.StatusDisabling
	mustSync(t, p)
	if got := r.cat.get(); got != federation.StatusDisabled {
		t.Fatalf("status = %s, want DISABLED", got)
	}
	if k := r.keys(); len(k) != 0 {
		t.Fatalf("keys left after disable: %v", k)
	}
	if _, err := os.Stat(filepath.Join(r.src.dir, filepath.FromSlash(c1))); err != nil {
		t.Fatalf("the store's own file is gone: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(r.lakeDir, federation.CheckpointName))
	if err != nil || strings.Contains(string(b), storeID) {
		t.Fatalf("checkpoint still records the store (%v): %s", err, b)
	}
	// Enabled again, it is published again from scratch.
	r.cat.status = federation.StatusEnabling
	mustSync(t, p)
	if diff := cmp.Diff(withDefs(c1), r.keys()); diff != "" || r.cat.get() != federation.StatusEnabled {
		t.Fatalf("re-enabled: status %s, keys (-want +got):\n%s", r.cat.get(), diff)
	}
}

// TestDamagedFileNotPublished: a file whose bytes do not match the
// MANIFEST's SHA-256 is not published, and the store stays ENABLING.
func TestDamagedFileNotPublished(t *testing.T) {
	r := newRig(t)
	r.src.set(b1)
	if err := os.WriteFile(filepath.Join(r.src.dir, filepath.FromSlash(b1)), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.open().Sync(t.Context()); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("Sync = %v, want the damaged file reported", err)
	}
	if got := r.cat.get(); got != federation.StatusEnabling {
		t.Fatalf("status = %s, want ENABLING", got)
	}
	if slices.Contains(r.keys(), "data/"+b1) {
		t.Fatal("the damaged file was published")
	}
}

// TestCheckpointDamaged: a checkpoint that does not parse stops Open
// and is reported by CheckCheckpoint.
func TestCheckpointDamaged(t *testing.T) {
	r := newRig(t)
	if err := os.WriteFile(filepath.Join(r.lakeDir, federation.CheckpointName), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := federation.DefaultOptions()
	o.Catalog, o.Source, o.Objects = r.cat, r.src, r.objs
	if _, err := federation.Open(r.lakeDir, o); !errors.Is(err, federation.ErrCheckpoint) {
		t.Fatalf("Open = %v, want ErrCheckpoint", err)
	}
	if _, err := federation.CheckCheckpoint(r.lakeDir); !errors.Is(err, federation.ErrCheckpoint) {
		t.Fatalf("CheckCheckpoint = %v, want ErrCheckpoint", err)
	}
}
