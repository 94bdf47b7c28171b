package lake_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
)

const resultBucket = "lake-results"

// resultKeys is a keyring as the signer and the key source.
type resultKeys struct{ kr *keyring.Keyring }

func (k resultKeys) SigningKey() (resultfile.Key, error) {
	key, err := k.kr.Current("global")
	return resultfile.Key{Fingerprint: key.Fingerprint, Private: key.Private}, err
}

func (k resultKeys) PublicKeys(_ context.Context, start, end time.Time) ([]resultfile.PublicKey, error) {
	var out []resultfile.PublicKey
	for _, p := range k.kr.Public("global", start, end) {
		out = append(out, resultfile.PublicKey{Fingerprint: p.Fingerprint, Value: p.Value})
	}
	return out, nil
}

// deliveryRig is a rig whose queries deliver into an embedded bucket store.
type deliveryRig struct {
	*rig
	objects *fsbucket.Store
	keys    resultKeys
}

const deliveryStore = "0b3f0000-0000-4000-8000-0000000000d1"

func newDeliveryRig(t *testing.T, wrap func(resultfile.Objects) resultfile.Objects) *deliveryRig {
	t.Helper()
	objects, err := fsbucket.Open(t.TempDir(), fsbucket.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objects.Close() })
	if err := objects.CreateBucket(t.Context(), resultBucket, objstore.BucketOptions{Owner: acct}); err != nil {
		t.Fatal(err)
	}
	ko := keyring.DefaultOptions()
	ko.Bits = 1024
	kr, err := keyring.Open(t.TempDir(), ko)
	if err != nil {
		t.Fatal(err)
	}
	d := &deliveryRig{objects: objects, keys: resultKeys{kr}}
	var o resultfile.Objects = objects
	if wrap != nil {
		o = wrap(objects)
	}
	stores := &fakeStores{specs: []lake.StoreSpec{spec(deliveryStore, 1)}}
	dir := t.TempDir()
	// The rig starts with the options it holds when start runs.
	d.rig = &rig{t: t, dir: dir, stores: stores}
	d.rig.results = lake.ResultOptions{Objects: o, Signer: d.keys, RetryDelay: time.Millisecond}
	r := newRigWith(t, d.rig)
	for i := 1; i <= 12; i++ {
		r.append(mkEvent(t, i, acct))
	}
	r.count(deliveryStore, 12)
	return d
}

// start runs a query with a DeliveryS3Uri and waits for it and its
// delivery.
func (d *deliveryRig) start(stmt, uri string) queries.Info {
	d.t.Helper()
	id, err := d.eng.StartQuery(context.Background(), acct, region, stmt, queries.StartOptions{DeliveryS3URI: uri})
	if err != nil {
		d.t.Fatalf("%s: %v", stmt, err)
	}
	if err := d.eng.WaitQuery(d.t.Context(), acct, id); err != nil {
		d.t.Fatal(err)
	}
	info, err := d.eng.DescribeQuery(acct, region, id)
	if err != nil {
		d.t.Fatal(err)
	}
	return info
}

// delivered reads back the CSV records of a delivered query after
// verifying the set.
func (d *deliveryRig) delivered(info queries.Info, prefix string) [][]string {
	d.t.Helper()
	t := d.t
	dir := resultfile.Dir(prefix, acct, info.ID, info.Ended)
	sf, err := resultfile.Verify(t.Context(), d.objects, d.keys, resultBucket, dir)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var recs [][]string
	for i, f := range sf.Files {
		rc, _, err := d.objects.Get(t.Context(), resultBucket, dir+"/"+f.FileName)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f.FileName, err)
		}
		if i > 0 {
			got = got[1:] // each file repeats the header
		}
		recs = append(recs, got...)
	}
	return recs
}

func (d *deliveryRig) keysIn() []string {
	d.t.Helper()
	page, err := d.objects.List(d.t.Context(), resultBucket, "", "", 1000)
	if err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, o := range page.Objects {
		out = append(out, o.Key)
	}
	return out
}

func TestQueryResultsDelivered(t *testing.T) {
	d := newDeliveryRig(t, nil)
	stmt := "SELECT eventid, eventname, requestparameters, errorcode FROM " + deliveryStore + " ORDER BY eventid"
	info := d.start(stmt, "s3://"+resultBucket+"/team/lake/")
	if info.Status != queries.Finished || info.DeliveryStatus != queries.DeliverySuccess {
		t.Fatalf("query %s, delivery %s (%s)", info.Status, info.DeliveryStatus, info.ErrorMessage)
	}
	if info.DeliveryS3URI != "s3://"+resultBucket+"/team/lake/" {
		t.Errorf("DeliveryS3Uri = %q", info.DeliveryS3URI)
	}
	_, rows, err := d.eng.QueryResults(acct, region, info.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"eventid", "eventname", "requestparameters", "errorcode"}}
	for _, r := range rows {
		rec := make([]string, len(r))
		for i, c := range r {
			if c != nil {
				rec[i] = *c
			}
		}
		want = append(want, rec)
	}
	if len(want) != 13 || !strings.Contains(want[1][2], `"`) || !strings.Contains(want[1][2], ",") {
		t.Fatalf("the rows should hold JSON text with quotes and commas: %q", want[:2])
	}
	if diff := cmp.Diff(want, d.delivered(info, "team/lake")); diff != "" {
		t.Errorf("delivered CSV (-GetQueryResults +file):\n%s", diff)
	}
}

func TestQueryResultsSplitAcrossFiles(t *testing.T) {
	d := newDeliveryRig(t, nil)
	d.stop()
	d.results.MaxFileBytes = 200
	d.rig.start()
	info := d.start("SELECT eventid, eventname FROM "+deliveryStore+" ORDER BY eventid", "s3://"+resultBucket)
	if info.DeliveryStatus != queries.DeliverySuccess {
		t.Fatalf("delivery %s", info.DeliveryStatus)
	}
	if n := len(d.keysIn()); n < 3 {
		t.Fatalf("%d objects; 12 rows at 200 bytes a file should make at least 2 files and the sign file", n)
	}
	if recs := d.delivered(info, ""); len(recs) != 13 {
		t.Errorf("%d records across the files, want the header and 12 rows", len(recs))
	}
}

func TestQueryResultsNotDelivered(t *testing.T) {
	d := newDeliveryRig(t, nil)
	tests := []struct {
		name, stmt, uri string
		status          string
		delivery        string
	}{
		{"failed query", "SELECT CAST(eventname AS integer) FROM " + deliveryStore, "s3://" + resultBucket, queries.Failed, queries.DeliveryCancelled},
		{"bucket gone", "SELECT count(*) FROM " + deliveryStore, "s3://no-such-bucket", queries.Finished, queries.DeliveryResourceNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := d.start(tt.stmt, tt.uri)
			if info.Status != tt.status || info.DeliveryStatus != tt.delivery {
				t.Errorf("query %s, delivery %s; want %s, %s", info.Status, info.DeliveryStatus, tt.status, tt.delivery)
			}
		})
	}
	// A query that times out keeps the rows it has for GetQueryResults
	// but delivers nothing (lake.md §3.1).
	d.stop()
	d.queryTimeout = time.Nanosecond
	d.rig.start()
	info := d.start("SELECT eventid FROM "+deliveryStore, "s3://"+resultBucket)
	if info.Status != queries.TimedOut || info.DeliveryStatus != queries.DeliveryCancelled {
		t.Errorf("query %s, delivery %s; want TIMED_OUT, CANCELLED", info.Status, info.DeliveryStatus)
	}
	if keys := d.keysIn(); len(keys) != 0 {
		t.Errorf("objects written: %v", keys)
	}
}

// flakyObjects fails the first n writes with ErrUnavailable.
type flakyObjects struct {
	resultfile.Objects
	mu    sync.Mutex
	fails int
	calls int
}

func (f *flakyObjects) PutIfAbsent(ctx context.Context, bucket, key string, body []byte, opt objstore.PutOptions) error {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.fails
	f.mu.Unlock()
	if fail {
		return objstore.ErrUnavailable
	}
	return f.Objects.PutIfAbsent(ctx, bucket, key, body, opt)
}

func TestQueryResultsRetried(t *testing.T) {
	var flaky *flakyObjects
	d := newDeliveryRig(t, func(o resultfile.Objects) resultfile.Objects {
		flaky = &flakyObjects{Objects: o, fails: 2}
		return flaky
	})
	info := d.start("SELECT eventid FROM "+deliveryStore, "s3://"+resultBucket)
	if info.DeliveryStatus != queries.DeliverySuccess {
		t.Fatalf("delivery %s after two failures", info.DeliveryStatus)
	}
	d.delivered(info, "")

	// A store that never answers fails the delivery after the attempts.
	flaky.mu.Lock()
	flaky.fails = 1 << 30
	flaky.mu.Unlock()
	info = d.start("SELECT eventid FROM "+deliveryStore, "s3://"+resultBucket)
	if info.DeliveryStatus != queries.DeliveryFailed {
		t.Fatalf("delivery %s, want FAILED", info.DeliveryStatus)
	}
}

// stuckObjects never finishes a write until its context ends.
type stuckObjects struct {
	resultfile.Objects
	entered chan struct{}
}

func (s *stuckObjects) PutIfAbsent(ctx context.Context, _, _ string, _ []byte, _ objstore.PutOptions) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// A delivery a stop interrupts stays PENDING on disk and is done when the
// engine opens again.
func TestQueryResultsDeliveredAfterRestart(t *testing.T) {
	stuck := &stuckObjects{entered: make(chan struct{}, 1)}
	d := newDeliveryRig(t, func(o resultfile.Objects) resultfile.Objects {
		stuck.Objects = o
		return stuck
	})
	id, err := d.eng.StartQuery(context.Background(), acct, region, "SELECT eventid, eventname FROM "+deliveryStore, queries.StartOptions{DeliveryS3URI: "s3://" + resultBucket})
	if err != nil {
		t.Fatal(err)
	}
	<-stuck.entered
	info, err := d.eng.DescribeQuery(acct, region, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != queries.Finished || info.DeliveryStatus != queries.DeliveryPending {
		t.Fatalf("while delivering: query %s, delivery %s; want FINISHED, PENDING", info.Status, info.DeliveryStatus)
	}
	d.stop()
	d.results.Objects = d.objects
	d.rig.start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if info, err = d.eng.DescribeQuery(acct, region, id); err != nil {
			t.Fatal(err)
		}
		if info.DeliveryStatus != queries.DeliveryPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interrupted delivery was not done again after the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.DeliveryStatus != queries.DeliverySuccess {
		t.Fatalf("delivery after restart: %s", info.DeliveryStatus)
	}
	if recs := d.delivered(info, ""); len(recs) != 13 {
		t.Errorf("%d records, want the header and 12 rows", len(recs))
	}
}
