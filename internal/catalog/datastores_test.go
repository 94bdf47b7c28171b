package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/selector"
)

var storeNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// storeClock is a settable clock for the restore window.
type storeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *storeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *storeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logHead is a settable event-log head.
type logHead struct{ n atomic.Uint64 }

func (h *logHead) Head() uint64 { return h.n.Load() }

func openStores(t *testing.T, dir string, clk *storeClock, mod func(*catalog.Options)) *catalog.Catalog {
	t.Helper()
	o := catalog.DefaultOptions()
	o.Now = clk.Now
	if mod != nil {
		mod(&o)
	}
	c, err := catalog.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newStore(name, region string) catalog.DataStore {
	return catalog.DataStore{Name: name, Account: acct, HomeRegion: region, Status: catalog.StatusEnabled,
		MultiRegionEnabled: true, TerminationProtectionEnabled: true, CreatedTimestamp: storeNow, UpdatedTimestamp: storeNow}
}

func setStatus(s string) func(*catalog.DataStore) error {
	return func(d *catalog.DataStore) error { d.Status = s; return nil }
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDataStoreLifecycle(t *testing.T) {
	dir := t.TempDir()
	clk := &storeClock{t: storeNow}
	head := &logHead{}
	head.n.Store(100)
	c := openStores(t, dir, clk, nil)

	d, err := c.CreateDataStore(newStore("audit", "us-east-1"), head.Head)
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV4.MatchString(d.ID) {
		t.Errorf("id %q is not a lowercase UUID v4", d.ID)
	}
	want := newStore("audit", "us-east-1")
	want.ID, want.Generation = d.ID, d.Generation
	want.AdvancedEventSelectors = selector.DefaultDataStore()
	want.BillingMode, want.RetentionPeriod, want.FederationStatus = catalog.BillingExtendable, 366, catalog.FederationDisabled
	want.Ingest = []catalog.SeqRange{{From: 101}}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Fatalf("created (-want +got):\n%s", diff)
	}
	if d.ARN() != "arn:aws:cloudtrail:us-east-1:"+acct+":eventdatastore/"+d.ID || d.Category() != selector.CategoryManagement || !d.CloudTrailEvents() {
		t.Errorf("ARN %s, category %q", d.ARN(), d.Category())
	}
	if gen := c.DataStoreGeneration(); gen != d.Generation || gen == 0 {
		t.Errorf("DataStoreGeneration %d, store generation %d", gen, d.Generation)
	}

	// Found by id and by ARN, only in its account (and, by ARN, its home
	// region and the aws partition).
	for _, tt := range []struct {
		name, account, ref string
		found              bool
	}{
		{"id", acct, d.ID, true},
		{"arn", acct, d.ARN(), true},
		{"other account by id", "210987654321", d.ID, false},
		{"other account by arn", "210987654321", d.ARN(), false},
		{"arn of another region", acct, catalog.DataStoreARN("eu-west-1", acct, d.ID), false},
		{"arn of another partition", acct, strings.Replace(d.ARN(), "arn:aws:", "arn:aws-cn:", 1), false},
		{"trail arn", acct, "arn:aws:cloudtrail:us-east-1:" + acct + ":trail/" + d.ID, false},
		{"unknown id", acct, "0f0f0f0f-0000-4000-8000-000000000000", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.GetDataStore(tt.account, tt.ref)
			if ok != tt.found || ok && !cmp.Equal(got, d) {
				t.Errorf("GetDataStore(%s, %s) = %v, %v", tt.account, tt.ref, got.ID, ok)
			}
		})
	}

	// Stop at head 150 closes the range there; start at 180 opens the
	// next one; a stop with nothing appended since drops the open range.
	head.n.Store(150)
	if d, err = c.UpdateDataStore(d.ID, head.Head, setStatus(catalog.StatusStoppedIngestion)); err != nil {
		t.Fatal(err)
	}
	head.n.Store(180)
	if d, err = c.UpdateDataStore(d.ID, head.Head, setStatus(catalog.StatusEnabled)); err != nil {
		t.Fatal(err)
	}
	if d, err = c.UpdateDataStore(d.ID, head.Head, setStatus(catalog.StatusStoppedIngestion)); err != nil {
		t.Fatal(err)
	}
	if d, err = c.UpdateDataStore(d.ID, head.Head, setStatus(catalog.StatusEnabled)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]catalog.SeqRange{{From: 101, To: 150}, {From: 181}}, d.Ingest); diff != "" {
		t.Errorf("ingest ranges (-want +got):\n%s", diff)
	}
	for seq, want := range map[uint64]bool{100: false, 101: true, 150: true, 151: false, 180: false, 181: true, 1 << 40: true} {
		if d.Ingests(seq) != want {
			t.Errorf("Ingests(%d) = %v", seq, !want)
		}
	}
	// A change that keeps the status never reads the head.
	if _, err := c.UpdateDataStore(d.ID, nil, func(d *catalog.DataStore) error { d.RetentionPeriod = 90; return nil }); err != nil {
		t.Fatalf("an update without a status change read the head: %v", err)
	}

	// A failing fn and a change of identity leave the store as it was.
	boom := errors.New("boom")
	if _, err := c.UpdateDataStore(d.ID, head.Head, func(d *catalog.DataStore) error { d.Name = "x"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing update: %v", err)
	}
	if _, err := c.UpdateDataStore(d.ID, head.Head, func(d *catalog.DataStore) error { d.HomeRegion = "eu-west-1"; return nil }); err == nil {
		t.Fatal("an update moved the store to another region")
	}
	if got, _ := c.GetDataStore(acct, d.ID); got.Name != "audit" || got.RetentionPeriod != 90 {
		t.Fatalf("after refused updates: %+v", got)
	}
	if _, err := c.UpdateDataStore("nope", head.Head, setStatus(catalog.StatusEnabled)); !errors.Is(err, catalog.ErrDataStoreNotFound) {
		t.Fatalf("update of a missing store: %v", err)
	}

	// Delete (at head 300): the open range closes; PENDING_DELETION stores
	// are listed and found until the restore window is over.
	head.n.Store(300)
	d, err = c.UpdateDataStore(d.ID, head.Head, func(d *catalog.DataStore) error {
		d.RestoreStatus, d.Status, d.DeletedAt = d.Status, catalog.StatusPendingDeletion, clk.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Ingest[1].To != 300 {
		t.Errorf("delete left ingest %v", d.Ingest)
	}
	if err := c.PurgeDataStore(d.ID); err == nil || !strings.Contains(err.Error(), "can still be restored until 2026-11-27T10:00:00Z") {
		t.Errorf("purge inside the restore window: %v", err)
	}

	// Reopen: everything reads back exactly.
	before := c.AllDataStores()
	c2 := openStores(t, dir, clk, nil)
	if diff := cmp.Diff(before, c2.AllDataStores()); diff != "" {
		t.Fatalf("reopened (-before +after):\n%s", diff)
	}
	if c2.DataStoreGeneration() < d.Generation {
		t.Errorf("reopened generation %d < %d", c2.DataStoreGeneration(), d.Generation)
	}

	clk.Advance(catalog.DataStoreRestoreWindow - time.Second)
	if _, ok := c2.GetDataStore(acct, d.ID); !ok || len(c2.ListDataStores(acct, "us-east-1")) != 1 {
		t.Fatal("a store inside its restore window is gone")
	}
	clk.Advance(time.Second)
	if _, ok := c2.GetDataStore(acct, d.ID); ok || len(c2.ListDataStores(acct, "us-east-1")) != 0 {
		t.Fatal("a store past its restore window is still found")
	}
	if _, err := c2.UpdateDataStore(d.ID, head.Head, setStatus(catalog.StatusEnabled)); !errors.Is(err, catalog.ErrDataStoreNotFound) {
		t.Fatalf("restore after the window: %v", err)
	}
	if all := c2.AllDataStores(); len(all) != 1 || !all[0].Expired(clk.Now()) {
		t.Fatalf("AllDataStores lost the expired store before its purge: %+v", all)
	}
	gen := c2.DataStoreGeneration()
	if err := c2.PurgeDataStore(d.ID); err != nil {
		t.Fatal(err)
	}
	if len(c2.AllDataStores()) != 0 || c2.DataStoreGeneration() == gen {
		t.Error("purge left the store or kept the generation")
	}
	if err := c2.PurgeDataStore(d.ID); !errors.Is(err, catalog.ErrDataStoreNotFound) {
		t.Errorf("second purge: %v", err)
	}
	if n := len(openStores(t, dir, clk, nil).AllDataStores()); n != 0 {
		t.Errorf("%d stores after purge and reopen", n)
	}
}

func TestDataStoreCreateDefaults(t *testing.T) {
	c := openStores(t, t.TempDir(), &storeClock{t: storeNow}, nil)
	head := func() uint64 { return 7 }
	fixed := newStore("fixed", "us-east-1")
	fixed.BillingMode, fixed.Status = catalog.BillingFixed, catalog.StatusStoppedIngestion
	fixed.AdvancedEventSelectors = []selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{
		{Field: selector.FieldEventCategory, Equals: []string{selector.CategoryConfigurationItem}}}}}
	d, err := c.CreateDataStore(fixed, head)
	if err != nil {
		t.Fatal(err)
	}
	if d.RetentionPeriod != 2557 || d.Ingest != nil || d.Category() != selector.CategoryConfigurationItem || d.CloudTrailEvents() {
		t.Errorf("fixed, stopped config store: %+v", d)
	}
	bad := newStore("bad", "us-east-1")
	bad.Status = catalog.StatusPendingDeletion
	if _, err := c.CreateDataStore(bad, head); err == nil {
		t.Error("created a store PENDING_DELETION")
	}
	if _, err := c.CreateDataStore(newStore("nohead", "us-east-1"), nil); err == nil {
		t.Error("created an ENABLED store without the log head")
	}
	if n := len(c.AllDataStores()); n != 1 {
		t.Errorf("%d stores after refused creates", n)
	}
	// Times left out come from the catalog's clock.
	bare, err := c.CreateDataStore(catalog.DataStore{Name: "bare", Account: acct, HomeRegion: "us-east-1", Status: catalog.StatusStoppedIngestion}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bare.CreatedTimestamp.Equal(storeNow) || !bare.UpdatedTimestamp.Equal(storeNow) || bare.BillingMode != catalog.BillingExtendable ||
		bare.RetentionPeriod != 366 || bare.FederationStatus != catalog.FederationDisabled || len(bare.AdvancedEventSelectors) != 1 {
		t.Errorf("defaults of a bare store: %+v", bare)
	}
	if (&catalog.DataStore{}).Category() != "" || !(&catalog.DataStore{}).CloudTrailEvents() {
		t.Error("a store without selectors is not a store of management events")
	}
}

func TestDataStoreCovers(t *testing.T) {
	single := catalog.DataStore{HomeRegion: "us-east-1"}
	multi := catalog.DataStore{HomeRegion: "us-east-1", MultiRegionEnabled: true}
	if !single.Covers("us-east-1") || single.Covers("eu-west-1") || !multi.Covers("eu-west-1") || !multi.Covers("us-east-1") {
		t.Error("Covers")
	}
}

func TestDataStoreNamesAndListing(t *testing.T) {
	clk := &storeClock{t: storeNow}
	c := openStores(t, t.TempDir(), clk, nil)
	head := func() uint64 { return 0 }
	mk := func(name, region, account string) catalog.DataStore {
		t.Helper()
		d := newStore(name, region)
		d.Account = account
		out, err := c.CreateDataStore(d, head)
		if err != nil {
			t.Fatalf("create %s in %s for %s: %v", name, region, account, err)
		}
		return out
	}
	a := mk("a", "us-east-1", acct)
	mk("a", "eu-west-1", acct)           // the same name in another region
	mk("a", "us-east-1", "210987654321") // and in another account
	b := mk("b", "us-east-1", acct)
	if _, err := c.CreateDataStore(newStore("a", "us-east-1"), head); !errors.Is(err, catalog.ErrDataStoreExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := c.UpdateDataStore(b.ID, head, func(d *catalog.DataStore) error { d.Name = "a"; return nil }); !errors.Is(err, catalog.ErrDataStoreExists) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	// A store pending deletion keeps its name; one whose restore window is
	// over frees it.
	if _, err := c.UpdateDataStore(a.ID, head, func(d *catalog.DataStore) error {
		d.RestoreStatus, d.Status, d.DeletedAt = d.Status, catalog.StatusPendingDeletion, clk.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataStore(newStore("a", "us-east-1"), head); !errors.Is(err, catalog.ErrDataStoreExists) {
		t.Fatalf("name of a store pending deletion: %v", err)
	}
	// Multi-region stores are listed in their home region only; stores
	// pending deletion are listed.
	names := func(region string) []string {
		var out []string
		for _, d := range c.ListDataStores(acct, region) {
			out = append(out, d.Name+"/"+d.Status)
		}
		return out
	}
	if got := names("us-east-1"); len(got) != 2 || !strings.Contains(strings.Join(got, ","), "a/PENDING_DELETION") {
		t.Errorf("us-east-1 lists %v", got)
	}
	if got := names("eu-west-1"); len(got) != 1 || got[0] != "a/ENABLED" {
		t.Errorf("eu-west-1 lists %v", got)
	}
	if got := len(c.ListDataStores(acct, "")); got != 3 {
		t.Errorf("every region lists %d", got)
	}
	all := c.AllDataStores()
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Fatalf("AllDataStores not sorted by id: %s, %s", all[i-1].ID, all[i].ID)
		}
	}
	clk.Advance(catalog.DataStoreRestoreWindow)
	if _, err := c.CreateDataStore(newStore("a", "us-east-1"), head); err != nil {
		t.Fatalf("the name of a store past its restore window: %v", err)
	}
}

func TestDataStoreQuota(t *testing.T) {
	clk := &storeClock{t: storeNow}
	c := openStores(t, t.TempDir(), clk, func(o *catalog.Options) { o.MaxDataStoresPerRegion = 3 })
	head := func() uint64 { return 0 }
	var ids []string
	for i := range 3 {
		d, err := c.CreateDataStore(newStore(fmt.Sprintf("s%d", i), "us-east-1"), head)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	_, err := c.CreateDataStore(newStore("s3", "us-east-1"), head)
	var le *catalog.LimitError
	if !errors.Is(err, catalog.ErrDataStoreLimit) || !errors.As(err, &le) || le.Region != "us-east-1" || le.Max != 3 || !le.Stores || errors.Is(err, catalog.ErrLimit) {
		t.Fatalf("a fourth store: %v", err)
	}
	if _, err := c.CreateDataStore(newStore("s3", "eu-west-1"), head); err != nil {
		t.Fatalf("another region (multi-region stores count in their home region only): %v", err)
	}
	// A store pending deletion does not count; restoring it must fit.
	del := func(d *catalog.DataStore) error {
		d.RestoreStatus, d.Status, d.DeletedAt = d.Status, catalog.StatusPendingDeletion, clk.Now()
		return nil
	}
	if _, err := c.UpdateDataStore(ids[0], head, del); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataStore(newStore("s4", "us-east-1"), head); err != nil {
		t.Fatalf("a store in the room a deleted one left: %v", err)
	}
	if _, err := c.UpdateDataStore(ids[0], head, setStatus(catalog.StatusEnabled)); !errors.Is(err, catalog.ErrDataStoreLimit) {
		t.Fatalf("restore into a full region: %v", err)
	}
	if d, _ := c.GetDataStore(acct, ids[0]); d.Status != catalog.StatusPendingDeletion {
		t.Fatalf("refused restore changed the store: %s", d.Status)
	}
	// Other changes of a store in a full region are fine.
	if _, err := c.UpdateDataStore(ids[1], head, func(d *catalog.DataStore) error { d.RetentionPeriod = 30; return nil }); err != nil {
		t.Fatal(err)
	}
	if catalog.DefaultOptions().MaxDataStoresPerRegion != 10 {
		t.Error("the default quota is not AWS's 10")
	}
}

func TestDataStoreDamagedFile(t *testing.T) {
	entry := func(mod string) string {
		return `{"version":1,"eventDataStores":[{"id":"0f0f0f0f-0000-4000-8000-000000000001","name":"a","account":"123456789012","homeRegion":"us-east-1",` + mod + `}]}`
	}
	for _, tt := range []struct {
		name, body, want string
	}{
		{"not json", `{"eventDataStores":[`, "unexpected end of JSON input"},
		{"wrong type", `{"eventDataStores":{}}`, "cannot unmarshal"},
		{"unknown status", entry(`"status":"DELETED"`), `unknown status "DELETED"`},
		{"enabled without a range", entry(`"status":"ENABLED"`), "ENABLED but has no open ingest range"},
		{"stopped with an open range", entry(`"status":"STOPPED_INGESTION","ingest":[{"from":5,"to":0}]`), "last ingest range is open"},
		{"open range not last", entry(`"status":"ENABLED","ingest":[{"from":5,"to":0},{"from":9,"to":0}]`), "ingest[0] is open but is not the last"},
		{"overlapping ranges", entry(`"status":"STOPPED_INGESTION","ingest":[{"from":5,"to":9},{"from":9,"to":12}]`), "ingest[1] starts at 9"},
		{"range from 0", entry(`"status":"STOPPED_INGESTION","ingest":[{"from":0,"to":3}]`), "ingest[0] starts at 0"},
		{"range backwards", entry(`"status":"STOPPED_INGESTION","ingest":[{"from":5,"to":3}]`), "ends at 3, before it starts"},
		{"path in the id", `{"eventDataStores":[{"id":"../x","name":"a","account":"123456789012","homeRegion":"us-east-1","status":"STOPPED_INGESTION"}]}`, `id "../x"`},
		{"bad account", `{"eventDataStores":[{"id":"x","name":"a","account":"1","homeRegion":"us-east-1","status":"STOPPED_INGESTION"}]}`, `account "1"`},
		{"no name", `{"eventDataStores":[{"id":"x","account":"123456789012","homeRegion":"us-east-1","status":"STOPPED_INGESTION"}]}`, "has no name"},
		{"duplicate id", `{"eventDataStores":[{"id":"x","name":"a","account":"123456789012","homeRegion":"us-east-1","status":"STOPPED_INGESTION"},` +
			`{"id":"x","name":"b","account":"123456789012","homeRegion":"us-east-1","status":"STOPPED_INGESTION"}]}`, "eventDataStores[1]: the id x appears more than once"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, catalog.DataStoresFileName)
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := catalog.Open(dir, catalog.DefaultOptions())
			if err == nil {
				t.Fatal("a damaged event data store catalogue opened")
			}
			if msg := err.Error(); !strings.Contains(msg, path+" is damaged") || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "restore it from a backup") {
				t.Errorf("error %q does not name the file, the damage (%q) and the remedy", msg, tt.want)
			}
		})
	}
	// A valid file opens.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, catalog.DataStoresFileName), []byte(entry(`"status":"ENABLED","ingest":[{"from":1,"to":4},{"from":9,"to":0}]`)), 0o644)
	c, err := catalog.Open(dir, catalog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := c.GetDataStore(acct, "0f0f0f0f-0000-4000-8000-000000000001"); !ok || !d.Ingests(3) || d.Ingests(5) || !d.Ingests(9) {
		t.Errorf("opened %+v", d)
	}
}

// TestDataStoresConcurrent runs creates, updates, reads and trail changes
// at once (run with -race): every store keeps valid ingest ranges, ids and
// names stay unique, and the file reads back as the catalog holds it.
func TestDataStoresConcurrent(t *testing.T) {
	dir := t.TempDir()
	clk := &storeClock{t: storeNow}
	c := openStores(t, dir, clk, func(o *catalog.Options) { o.MaxDataStoresPerRegion = 1000 })
	head := &logHead{}
	var wg sync.WaitGroup
	const workers, each = 6, 15
	errs := make(chan error, workers*each*4)
	for w := range workers {
		wg.Go(func() {
			region := []string{"us-east-1", "eu-west-1"}[w%2]
			for i := range each {
				head.n.Add(3)
				d, err := c.CreateDataStore(newStore(fmt.Sprintf("w%d-%d", w, i), region), head.Head)
				if err != nil {
					errs <- err
					return
				}
				for _, s := range []string{catalog.StatusStoppedIngestion, catalog.StatusEnabled} {
					head.n.Add(1)
					if _, err := c.UpdateDataStore(d.ID, head.Head, setStatus(s)); err != nil {
						errs <- err
					}
				}
				if _, ok := c.GetDataStore(acct, d.ARN()); !ok {
					errs <- fmt.Errorf("store %s not found", d.ID)
				}
				_ = c.ListDataStores(acct, region)
				_ = c.DataStoreGeneration()
				if _, err := c.Create(trail(fmt.Sprintf("t%d-%d", w, i), "ap-south-1", false)); err != nil && !errors.Is(err, catalog.ErrLimit) {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all := c.AllDataStores()
	if len(all) != workers*each {
		t.Fatalf("%d stores, want %d", len(all), workers*each)
	}
	names := map[string]bool{}
	for _, d := range all {
		key := d.HomeRegion + "/" + d.Name
		if names[key] {
			t.Errorf("name %s twice", key)
		}
		names[key] = true
		if len(d.Ingest) == 0 || len(d.Ingest) > 2 || d.Ingest[len(d.Ingest)-1].To != 0 {
			t.Errorf("store %s ingest %v", d.Name, d.Ingest)
		}
	}
	if diff := cmp.Diff(all, openStores(t, dir, clk, nil).AllDataStores()); diff != "" {
		t.Errorf("reopened (-catalog +file):\n%s", diff)
	}
}

// TestDataStoreClone: Clone is exact and shares nothing, for stores whose
// every field is filled by reflection (see TestClonePropertyRandom).
func TestDataStoreClone(t *testing.T) {
	checkCloneRandom(t, catalog.DataStore.Clone)
}
