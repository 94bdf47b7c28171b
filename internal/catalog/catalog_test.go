package catalog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/selector"
)

const acct = "123456789012"

func trail(name, region string, multi bool) catalog.Trail {
	return catalog.Trail{Name: name, Account: acct, HomeRegion: region, S3BucketName: "b", IsMultiRegionTrail: multi, IncludeGlobalServiceEvents: true}
}

func TestCreateUpdateDeletePersist(t *testing.T) {
	dir := t.TempDir()
	c, err := catalog.Open(dir, catalog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Create(trail("a", "us-east-1", false))
	if err != nil {
		t.Fatal(err)
	}
	if a.ARN() != "arn:aws:cloudtrail:us-east-1:123456789012:trail/a" || a.Generation == 0 {
		t.Fatalf("created %+v", a)
	}
	if _, err := c.Create(trail("a", "us-east-1", false)); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.Create(trail("a", "eu-west-1", false)); err != nil {
		t.Fatalf("same name in another region: %v", err)
	}
	rw := "ReadOnly"
	u, err := c.Update(a.ARN(), func(tr *catalog.Trail) error {
		tr.Logging = true
		tr.Selectors = selector.Basic([]selector.EventSelector{{ReadWriteType: rw}})
		return nil
	})
	if err != nil || !u.Logging || u.Generation <= a.Generation {
		t.Fatalf("update: %+v, %v", u, err)
	}
	boom := errors.New("boom")
	if _, err := c.Update(a.ARN(), func(tr *catalog.Trail) error { tr.Logging = false; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing update: %v", err)
	}
	if got, _ := c.Get(a.ARN()); !got.Logging {
		t.Fatal("a failed update changed the trail")
	}
	if _, err := c.Update("arn:aws:cloudtrail:us-east-1:123456789012:trail/zz", func(*catalog.Trail) error { return nil }); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}

	c2, err := catalog.Open(dir, catalog.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.All(), c2.All()); diff != "" {
		t.Fatalf("reopened catalog differs (-before +after):\n%s", diff)
	}
	if err := c2.Delete(a.ARN()); err != nil {
		t.Fatal(err)
	}
	if err := c2.Delete(a.ARN()); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	c3, _ := catalog.Open(dir, catalog.DefaultOptions())
	if n := len(c3.All()); n != 1 {
		t.Fatalf("%d trails after delete and reopen", n)
	}
}

// Five trails per region, a multi-region trail counting in every region.
func TestTrailQuota(t *testing.T) {
	c, _ := catalog.Open(t.TempDir(), catalog.DefaultOptions())
	if _, err := c.Create(trail("multi", "eu-west-1", true)); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := c.Create(trail("t"+string(rune('a'+i)), "us-east-1", false)); err != nil {
			t.Fatalf("trail %d: %v", i, err)
		}
	}
	if _, err := c.Create(trail("sixth", "us-east-1", false)); !errors.Is(err, catalog.ErrLimit) {
		t.Fatalf("a sixth trail visible in us-east-1: %v", err)
	}
	if _, err := c.Create(trail("other", "ap-south-1", false)); err != nil {
		t.Fatalf("another region: %v", err)
	}
	if n := len(c.List(acct, "us-east-1")); n != 5 {
		t.Fatalf("us-east-1 shows %d trails", n)
	}
	if n := len(c.List(acct, "ap-south-1")); n != 2 {
		t.Fatalf("ap-south-1 shows %d trails (its own and the shadow)", n)
	}
	// Turning a trail multi-region counts it everywhere.
	other := catalog.ARN("ap-south-1", acct, "other")
	if _, err := c.Update(other, func(tr *catalog.Trail) error { tr.IsMultiRegionTrail = true; return nil }); !errors.Is(err, catalog.ErrLimit) {
		t.Fatalf("multi-region into a full region: %v", err)
	}
}

func TestDamagedFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, catalog.FileName), []byte("{not json"), 0o644)
	if _, err := catalog.Open(dir, catalog.DefaultOptions()); err == nil {
		t.Fatal("a damaged catalog opened")
	}
}
