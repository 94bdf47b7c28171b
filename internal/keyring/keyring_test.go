package keyring

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/digest"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func testOptions(c *clock) Options {
	o := DefaultOptions()
	o.Bits = 1024 // speed; the product default is 2048
	o.Now = c.Now
	return o
}

func open(t *testing.T, dir string, o Options) *Keyring {
	t.Helper()
	k, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func current(t *testing.T, k *Keyring, region string) Key {
	t.Helper()
	key, err := k.Current(region)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func fingerprints(pks []PublicKey) []string {
	var out []string
	for _, p := range pks {
		out = append(out, p.Fingerprint)
	}
	return out
}

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if o.RotateEvery != 30*24*time.Hour || o.Overlap != 24*time.Hour || o.Bits != 2048 || o.Now == nil {
		t.Errorf("DefaultOptions() = %+v", o)
	}
}

func TestRotation(t *testing.T) {
	c := &clock{t: t0.Add(500 * time.Millisecond)}
	k := open(t, filepath.Join(t.TempDir(), "keyring"), testOptions(c))
	const month = 30 * 24 * time.Hour

	k1 := current(t, k, "us-east-1")
	if !k1.ValidFrom.Equal(t0) || !k1.ValidTo.Equal(t0.Add(month)) {
		t.Fatalf("first key valid %v to %v; want %v to %v", k1.ValidFrom, k1.ValidTo, t0, t0.Add(month))
	}
	if k1.Fingerprint != digest.Fingerprint(k1.DER) || !slices.Equal(k1.DER, digest.PublicKeyDER(&k1.Private.PublicKey)) {
		t.Fatal("Fingerprint/DER do not belong to Private")
	}

	// Until 29 days (RotateEvery − Overlap) the key stays.
	c.Set(t0.Add(month - 24*time.Hour - time.Second))
	if got := current(t, k, "us-east-1"); got.Fingerprint != k1.Fingerprint {
		t.Fatal("rotated before RotateEvery − Overlap")
	}
	// Then a new key, valid from now, overlapping the old by a day.
	c.Set(t0.Add(month - 24*time.Hour))
	k2 := current(t, k, "us-east-1")
	if k2.Fingerprint == k1.Fingerprint || !k2.ValidFrom.Equal(c.Now()) || !k2.ValidTo.Equal(c.Now().Add(month)) {
		t.Fatalf("second key %s valid %v to %v", k2.Fingerprint, k2.ValidFrom, k2.ValidTo)
	}
	if got := current(t, k, "us-east-1"); got.Fingerprint != k2.Fingerprint {
		t.Fatal("Current does not return the newest key")
	}
	// A clock that goes back does not make keys.
	c.Set(t0)
	if got := current(t, k, "us-east-1"); got.Fingerprint != k2.Fingerprint {
		t.Fatal("clock going back changed the key")
	}

	// Other Regions have their own keys.
	c.Set(t0.Add(month))
	if other := current(t, k, "eu-west-1"); other.Fingerprint == k2.Fingerprint || other.Region != "eu-west-1" {
		t.Fatal("eu-west-1 shares us-east-1's key")
	}

	tests := []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"before any key", t0.Add(-2 * time.Hour), t0.Add(-time.Hour), nil},
		{"first key only", t0.Add(-time.Hour), t0.Add(time.Hour), []string{k1.Fingerprint}},
		{"ends at ValidFrom", t0.Add(-time.Hour), t0, []string{k1.Fingerprint}},
		{"overlap day", t0.Add(month - time.Hour), t0.Add(month - time.Hour), []string{k1.Fingerprint, k2.Fingerprint}},
		{"starts at first ValidTo", t0.Add(month), t0.Add(month + time.Hour), []string{k1.Fingerprint, k2.Fingerprint}},
		{"after the first", t0.Add(month + time.Second), t0.Add(40 * 24 * time.Hour), []string{k2.Fingerprint}},
		{"everything", t0.Add(-1000 * time.Hour), t0.Add(1000 * 24 * time.Hour), []string{k1.Fingerprint, k2.Fingerprint}},
		{"after all", t0.Add(2 * month), t0.Add(3 * month), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, fingerprints(k.Public("us-east-1", tt.start, tt.end))); diff != "" {
				t.Errorf("Public (-want +got):\n%s", diff)
			}
		})
	}
	if got := k.Public("ap-south-1", t0, t0.Add(month)); len(got) != 0 {
		t.Errorf("Public of a Region without keys = %v", got)
	}
}

func TestZeroOverlap(t *testing.T) {
	c := &clock{t: t0}
	o := testOptions(c)
	o.RotateEvery, o.Overlap = time.Hour, 0
	k := open(t, t.TempDir(), o)
	k1 := current(t, k, "r")
	c.Set(t0.Add(time.Hour - time.Second))
	if current(t, k, "r").Fingerprint != k1.Fingerprint {
		t.Fatal("rotated early")
	}
	c.Set(t0.Add(time.Hour))
	if current(t, k, "r").Fingerprint == k1.Fingerprint {
		t.Fatal("did not rotate at RotateEvery")
	}
}

func TestPersistence(t *testing.T) {
	c := &clock{t: t0}
	dir := filepath.Join(t.TempDir(), "data", "keyring")
	k := open(t, dir, testOptions(c))
	if got := k.Public("us-east-1", t0.Add(-time.Hour), t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("empty keyring lists %v", got)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created %s before any key: %v", dir, err)
	}
	k1 := current(t, k, "us-east-1")
	c.Set(t0.Add(29 * 24 * time.Hour))
	k2 := current(t, k, "us-east-1")

	// Modes: directories 0700, key files 0600.
	for path, want := range map[string]os.FileMode{
		dir:                             0o700 | os.ModeDir,
		filepath.Join(dir, "us-east-1"): 0o700 | os.ModeDir,
		filepath.Join(dir, "us-east-1", fileName(&k1)): 0o600,
		filepath.Join(dir, "us-east-1", fileName(&k2)): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v; want %v", path, fi.Mode(), want)
		}
	}

	// A leftover temporary file of an interrupted write is ignored and removed.
	tmp := filepath.Join(dir, "us-east-1", "."+fileName(&k2)+".tmp123")
	if err := os.WriteFile(tmp, []byte("half a key"), 0o600); err != nil {
		t.Fatal(err)
	}

	re := open(t, dir, testOptions(c))
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed: %v", err)
	}
	got := current(t, re, "us-east-1")
	if diff := cmp.Diff(k2, got); diff != "" {
		t.Errorf("Current after reopen (-want +got):\n%s", diff)
	}
	all := re.Public("us-east-1", t0, t0.Add(100*24*time.Hour))
	want := []PublicKey{
		{Value: k1.DER, Fingerprint: k1.Fingerprint, ValidityStart: k1.ValidFrom, ValidityEnd: k1.ValidTo},
		{Value: k2.DER, Fingerprint: k2.Fingerprint, ValidityStart: k2.ValidFrom, ValidityEnd: k2.ValidTo},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("Public after reopen (-want +got):\n%s", diff)
	}
}

func TestSignsDigests(t *testing.T) {
	k := open(t, t.TempDir(), DefaultOptions()) // the product's 2048 bits
	key := current(t, k, "us-east-1")
	if key.Private.N.BitLen() != 2048 || len(key.DER) != 270 {
		t.Fatalf("key has %d bits, DER %d bytes", key.Private.N.BitLen(), len(key.DER))
	}
	d := &digest.Document{
		AWSAccountID: "111122223333", DigestStartTime: t0, DigestEndTime: t0.Add(time.Hour),
		DigestS3Bucket: "b", DigestS3Object: "o",
		DigestPublicKeyFingerprint: key.Fingerprint, DigestSignatureAlgorithm: digest.SignatureAlgorithm,
	}
	s, err := digest.Seal(d, key.Private)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public("us-east-1", t0, time.Now().Add(time.Hour))
	if len(pub) != 1 {
		t.Fatalf("Public = %v", pub)
	}
	if err := digest.Verify(pub[0].Value, d.SigningString(s.Hash), s.Signature); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentCurrent(t *testing.T) {
	c := &clock{t: t0}
	dir := t.TempDir()
	k := open(t, dir, testOptions(c))
	var wg sync.WaitGroup
	fps := make([]string, 8)
	errs := make([]error, 8)
	for i := range fps {
		wg.Go(func() {
			key, err := k.Current("us-east-1")
			fps[i], errs[i] = key.Fingerprint, err
			k.Public("us-east-1", t0, t0)
		})
	}
	wg.Wait()
	for i := range fps {
		if errs[i] != nil || fps[i] != fps[0] {
			t.Fatalf("call %d: %s, %v; call 0: %s", i, fps[i], errs[i], fps[0])
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "us-east-1"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d key files, %v; want 1", len(entries), err)
	}
}

func TestCorrupt(t *testing.T) {
	c := &clock{t: t0}
	good := func(t *testing.T) (string, string, []byte) {
		dir := t.TempDir()
		k := open(t, dir, testOptions(c))
		key := current(t, k, "us-east-1")
		path := filepath.Join(dir, "us-east-1", fileName(&key))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return dir, path, b
	}
	tests := []struct {
		name string
		edit func(t *testing.T, dir, path string, b []byte)
		msg  string
	}{
		{"truncated", func(t *testing.T, dir, path string, b []byte) { write(t, path, b[:len(b)/2]) }, "unexpected end"},
		{"empty", func(t *testing.T, dir, path string, b []byte) { write(t, path, nil) }, "unexpected end"},
		{"version", func(t *testing.T, dir, path string, b []byte) {
			write(t, path, []byte(strings.Replace(string(b), `"version": 1`, `"version": 2`, 1)))
		}, "version 2"},
		{"fingerprint", func(t *testing.T, dir, path string, b []byte) {
			write(t, path, []byte(strings.Replace(string(b), `"fingerprint": "`, `"fingerprint": "0`, 1)))
		}, "fingerprint"},
		{"private key", func(t *testing.T, dir, path string, b []byte) {
			write(t, path, []byte(strings.Replace(string(b), "RSA PRIVATE KEY", "PRIVATE KEY", 2)))
		}, "privateKey"},
		{"validTo", func(t *testing.T, dir, path string, b []byte) {
			write(t, path, []byte(strings.Replace(string(b), `"validTo": "2026`, `"validTo": "2025`, 1)))
		}, "validTo"},
		{"moved region", func(t *testing.T, dir, path string, b []byte) {
			if err := os.Rename(filepath.Join(dir, "us-east-1"), filepath.Join(dir, "eu-west-1")); err != nil {
				t.Fatal(err)
			}
		}, "region"},
		{"renamed file", func(t *testing.T, dir, path string, b []byte) {
			if err := os.Rename(path, filepath.Join(filepath.Dir(path), "20990101T000000Z_x.json")); err != nil {
				t.Fatal(err)
			}
		}, "file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path, b := good(t)
			tt.edit(t, dir, path, b)
			_, err := Open(dir, testOptions(c))
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
				t.Fatalf("Open error = %v; want a CorruptError", err)
			}
			if !strings.HasPrefix(ce.Path, dir) || !strings.Contains(err.Error(), ce.Path) ||
				!strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "restore it from backup") {
				t.Errorf("error %q does not name the file, the cause %q and what to do", err, tt.msg)
			}
		})
	}
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenIgnoresStrangers(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "README"), []byte("hi"))
	if err := os.Mkdir(filepath.Join(dir, "Not_A_Region"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, testOptions(&clock{t: t0})); err != nil {
		t.Fatal(err)
	}
}

func TestInvalid(t *testing.T) {
	k := open(t, t.TempDir(), testOptions(&clock{t: t0}))
	for _, r := range []string{"", "..", "us/east", "US-EAST-1", strings.Repeat("a", 65)} {
		if _, err := k.Current(r); !errors.Is(err, ErrInvalidRegion) {
			t.Errorf("Current(%q) error = %v; want ErrInvalidRegion", r, err)
		}
	}
	for name, edit := range map[string]func(*Options){
		"rotate":           func(o *Options) { o.RotateEvery = 0 },
		"negative overlap": func(o *Options) { o.Overlap = -time.Second },
		"overlap too long": func(o *Options) { o.Overlap = o.RotateEvery },
		"bits":             func(o *Options) { o.Bits = 512 },
	} {
		o := DefaultOptions()
		edit(&o)
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("%s: Open accepted %+v", name, o)
		}
	}
}

func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	k := open(t, dir, testOptions(&clock{t: t0}))
	write(t, filepath.Join(dir, "us-east-1"), nil) // a file where the region directory goes
	if _, err := k.Current("us-east-1"); err == nil {
		t.Fatal("Current returned a key it could not persist")
	}
	if got := k.Public("us-east-1", t0.Add(-time.Hour), t0.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("an unpersisted key is listed: %v", got)
	}
}
