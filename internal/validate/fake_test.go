package validate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/validate"
)

// memStore is an in-memory ObjectSource: bucket → key → object.
type memStore struct {
	mu      sync.Mutex
	buckets map[string]map[string]memObj
	gets    []string // "bucket/key" of every Get, in order
	lists   []string // "bucket" of every List
}

type memObj struct {
	body []byte
	meta map[string]string
}

var _ validate.ObjectSource = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{buckets: map[string]map[string]memObj{}} }

func (s *memStore) put(bucket, key string, body []byte, meta map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		s.buckets[bucket] = map[string]memObj{}
	}
	s.buckets[bucket][key] = memObj{body: body, meta: meta}
}

func (s *memStore) obj(bucket, key string) (memObj, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[bucket][key]
	return o, ok
}

func (s *memStore) remove(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.buckets[bucket], key)
}

func (s *memStore) List(_ context.Context, bucket, prefix, marker string, fn func(string) bool) error {
	s.mu.Lock()
	s.lists = append(s.lists, bucket)
	keys := slices.Sorted(maps.Keys(s.buckets[bucket]))
	s.mu.Unlock()
	for _, k := range keys {
		if k > marker && strings.HasPrefix(k, prefix) && !fn(k) {
			return nil
		}
	}
	return nil
}

func (s *memStore) Get(_ context.Context, bucket, key string) (validate.Object, error) {
	s.mu.Lock()
	s.gets = append(s.gets, bucket+"/"+key)
	s.mu.Unlock()
	o, ok := s.obj(bucket, key)
	if !ok {
		return validate.Object{}, fmt.Errorf("get %s/%s: %w", bucket, key, validate.ErrNotFound)
	}
	return validate.Object{Body: io.NopCloser(bytes.NewReader(o.body)), Metadata: maps.Clone(o.meta)}, nil
}

// memKeys is a KeySource serving fixed keys whose validity overlaps the
// requested range.
type memKeys struct {
	keys  []validate.PublicKey
	calls [][2]time.Time
}

func (k *memKeys) PublicKeys(_ context.Context, start, end time.Time) ([]validate.PublicKey, error) {
	k.calls = append(k.calls, [2]time.Time{start, end})
	var out []validate.PublicKey
	for _, p := range k.keys {
		if !p.ValidityStart.After(end) && !p.ValidityEnd.Before(start) {
			out = append(out, p)
		}
	}
	return out, nil
}

var (
	keyOnce        sync.Once
	key1, key2     *rsa.PrivateKey
	errKeyGenerate error
)

// testKeys returns two 1024-bit keys (small for speed; tests only).
func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		if key1, errKeyGenerate = rsa.GenerateKey(rand.Reader, 1024); errKeyGenerate == nil {
			key2, errKeyGenerate = rsa.GenerateKey(rand.Reader, 1024)
		}
	})
	if errKeyGenerate != nil {
		t.Fatal(errKeyGenerate)
	}
	return key1, key2
}

func publicKey(priv *rsa.PrivateKey, from, to time.Time) validate.PublicKey {
	der := digest.PublicKeyDER(&priv.PublicKey)
	return validate.PublicKey{Fingerprint: digest.Fingerprint(der), Value: der, ValidityStart: from, ValidityEnd: to}
}

const (
	account = "111122223333"
	region  = "us-east-1"
	trail   = "t1"
	arn     = "arn:aws:cloudtrail:us-east-1:111122223333:trail/t1"
)

// t0 is the start of the first digest window in the fixtures.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture builds trails' objects in a memStore.
type fixture struct {
	t     testing.TB
	store *memStore
	keys  *memKeys
	priv  *rsa.PrivateKey
	other *rsa.PrivateKey // a key ListPublicKeys does not know
	n     int
}

func newFixture(t testing.TB) *fixture {
	k1, k2 := testKeys(t)
	return &fixture{
		t:     t,
		store: newMemStore(),
		keys:  &memKeys{keys: []validate.PublicKey{publicKey(k1, t0.Add(-24*time.Hour), t0.Add(30*24*time.Hour))}},
		priv:  k1,
		other: k2,
	}
}

// entry is one written digest.
type entry struct {
	bucket, key string
	doc         *digest.Document
	sealed      digest.Sealed
}

func (e entry) url() string { return "s3://" + e.bucket + "/" + e.key }

func (e entry) logURL(i int) string {
	return "s3://" + e.doc.LogFiles[i].S3Bucket + "/" + e.doc.LogFiles[i].S3Object
}

// digestKey returns the key of a digest ending at end.
func (f *fixture) digestKey(end time.Time, backfill bool) string {
	k, err := layout.DigestKey{Account: account, Region: region, TrailName: trail, HomeRegion: region, End: end, Backfill: backfill}.Build()
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

// logFile writes a log file delivered at t into bucket.
func (f *fixture) logFile(bucket string, t time.Time) digest.LogFile {
	f.n++
	key, err := layout.LogKey{Account: account, Region: region, Time: t, Unique: fmt.Sprintf("log%013d", f.n)}.Build()
	if err != nil {
		f.t.Fatal(err)
	}
	raw := fmt.Appendf(nil, `{"Records":[{"eventVersion":"1.11","eventTime":"%s","n":%d}]}`, t.Format(time.RFC3339), f.n)
	enc, err := digest.EncodeLogFile(raw)
	if err != nil {
		f.t.Fatal(err)
	}
	f.store.put(bucket, key, enc.Gzip, nil)
	return digest.LogFile{S3Bucket: bucket, S3Object: key, HashValue: enc.Hash, NewestEventTime: t, OldestEventTime: t}
}

// digestOpts vary one digest.
type digestOpts struct {
	logs     int
	prev     *entry          // nil: a starting digest
	signer   *rsa.PrivateKey // nil: f.priv
	backfill bool
}

// add writes a digest for [end−1h, end] into bucket, with o.logs fresh
// log files.
func (f *fixture) add(bucket string, end time.Time, o digestOpts) entry {
	signer := o.signer
	if signer == nil {
		signer = f.priv
	}
	key := f.digestKey(end, o.backfill)
	doc := &digest.Document{
		AWSAccountID:               account,
		DigestStartTime:            end.Add(-time.Hour),
		DigestEndTime:              end,
		DigestS3Bucket:             bucket,
		DigestS3Object:             key,
		DigestPublicKeyFingerprint: digest.Fingerprint(digest.PublicKeyDER(&signer.PublicKey)),
		DigestSignatureAlgorithm:   digest.SignatureAlgorithm,
	}
	for i := range o.logs {
		doc.AddLogFile(f.logFile(bucket, end.Add(-time.Hour+time.Duration(i+1)*5*time.Minute)))
	}
	if o.prev != nil {
		doc.SetPrevious(o.prev.sealed.Link)
	}
	s, err := digest.Seal(doc, signer)
	if err != nil {
		f.t.Fatal(err)
	}
	meta := s.Metadata()
	if o.backfill {
		meta[validate.MetaBackfillTimestamp] = end.Add(2 * time.Hour).Format(time.RFC3339)
	}
	f.store.put(bucket, key, s.Gzip, meta)
	return entry{bucket: bucket, key: key, doc: doc, sealed: s}
}

// chain writes n hourly linked digests into bucket, the first a starting
// digest ending at first, each with logs log files.
func (f *fixture) chain(bucket string, first time.Time, n, logs int) []entry {
	var out []entry
	for i := range n {
		o := digestOpts{logs: logs}
		if i > 0 {
			o.prev = &out[i-1]
		}
		out = append(out, f.add(bucket, first.Add(time.Duration(i)*time.Hour), o))
	}
	return out
}

// options returns Options for the fixture trail in bucket over [start, end].
func options(bucket string, start, end time.Time, stdout, stderr io.Writer) validate.Options {
	o := validate.DefaultOptions()
	o.TrailARN = arn
	o.StartTime, o.EndTime = start, end
	o.Bucket = bucket
	o.Account, o.TrailName, o.HomeRegion = account, trail, region
	o.Verbose = true
	o.Stdout, o.Stderr = stdout, stderr
	return o
}
