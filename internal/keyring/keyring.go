// Package keyring keeps the RSA key pairs that sign digest files: one
// rotating chain of keys per Region, persisted under a directory in the
// format of docs/format/keyring.md, and never deleted, so that ListPublicKeys
// can serve every key that ever signed a digest (spec
// delivery-and-integrity.md §6.6).
//
// [Keyring.Current] returns the key to sign with now, making and persisting
// a new one when the Region has none or the newest is due for rotation. A
// key is on disk before Current returns it. [Keyring.Public] lists the
// public halves whose validity overlaps a time range.
//
// A Keyring is safe for concurrent use. Open starts no goroutines. One
// process may use a directory at a time; the caller holds the data
// directory lock.
package keyring

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Options configures a Keyring. Start from [DefaultOptions].
type Options struct {
	// RotateEvery is each key's validity period (ValidTo − ValidFrom).
	RotateEvery time.Duration
	// Overlap is how long before the newest key's ValidTo a successor is
	// made; consecutive keys' validities overlap by this much. It must be
	// less than RotateEvery.
	Overlap time.Duration
	// Bits is the RSA modulus size of new keys, at least 1024. The product
	// uses 2048, the size AWS uses; smaller keys are for tests.
	Bits int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives a line per generated key; nil discards.
	Logger *slog.Logger
}

// DefaultOptions returns 30-day RSA-2048 keys overlapping by 24 hours.
func DefaultOptions() Options {
	return Options{
		RotateEvery: 30 * 24 * time.Hour,
		Overlap:     24 * time.Hour,
		Bits:        2048,
		Now:         time.Now,
	}
}

func (o *Options) validate() error {
	switch {
	case o.RotateEvery < time.Second:
		return fmt.Errorf("RotateEvery %v is less than a second", o.RotateEvery)
	case o.Overlap < 0 || o.Overlap >= o.RotateEvery:
		return fmt.Errorf("Overlap %v is not in [0, RotateEvery)", o.Overlap)
	case o.Bits < 1024:
		return fmt.Errorf("Bits %d is less than 1024", o.Bits)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Key is a signing key of one Region.
type Key struct {
	Region string
	// Fingerprint is digest.Fingerprint(DER): digestPublicKeyFingerprint.
	Fingerprint string
	// DER is the PKCS#1 public key, as ListPublicKeys serves it. Callers
	// MUST NOT modify it.
	DER []byte
	// ValidFrom and ValidTo bound the validity ListPublicKeys reports.
	ValidFrom time.Time
	ValidTo   time.Time
	// Private signs digests ([digest.Seal]).
	Private *rsa.PrivateKey
}

// PublicKey is the public half of a key, one ListPublicKeys entry.
type PublicKey struct {
	// Value is the PKCS#1 DER public key (base64 on the wire). Callers MUST
	// NOT modify it.
	Value         []byte
	Fingerprint   string
	ValidityStart time.Time
	ValidityEnd   time.Time
}

var (
	// ErrCorrupt means a key file could not be loaded; see [CorruptError].
	ErrCorrupt = errors.New("keyring: corrupt key file")
	// ErrInvalidRegion means a Region name is not [a-z0-9-]+ (at most 64
	// characters). It is a caller bug: do not retry.
	ErrInvalidRegion = errors.New("keyring: invalid region")
)

// CorruptError names a key file Open could not load. The operator must act:
// restore the file from backup. Deleting it makes the digests it signed
// unverifiable ("public key not found" in validate-logs).
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("keyring: corrupt key file %s: %v (restore it from backup; do not delete it, digests it signed cannot be validated without it; if no copy exists, move it out of the directory)", e.Path, e.Err)
}

// Unwrap returns ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// Keyring holds the keys of every Region.
type Keyring struct {
	dir  string
	opts Options

	mu   sync.Mutex
	keys map[string][]*Key      // per region, sorted by ValidFrom
	gen  map[string]*sync.Mutex // per region, serialises generation
}

// Open loads the keyring stored in dir. A missing dir is an empty keyring;
// it is created (mode 0700) with the first key. Leftover temporary files of
// interrupted writes are removed. A key file that cannot be loaded fails
// Open with a [*CorruptError].
func Open(dir string, opts Options) (*Keyring, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	k := &Keyring{dir: dir, opts: opts, keys: map[string][]*Key{}, gen: map[string]*sync.Mutex{}}
	regions, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	for _, r := range regions {
		name := r.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !r.IsDir() || !validRegion(name) {
			opts.Logger.Warn("keyring: ignoring unexpected entry", slog.String(logKeyPath, filepath.Join(dir, name)))
			continue
		}
		keys, err := loadRegion(filepath.Join(dir, name), name, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("open keyring: %w", err)
		}
		if len(keys) > 0 {
			k.keys[name] = keys
		}
	}
	return k, nil
}

func loadRegion(dir, region string, log *slog.Logger) ([]*Key, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var keys []*Key
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			// A temporary file of a write that never completed: not a key.
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("remove leftover %s: %w", path, err)
			}
			continue
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			log.Warn("keyring: ignoring unexpected entry", slog.String(logKeyPath, path))
			continue
		}
		key, err := loadKey(path, region)
		if err != nil {
			return nil, &CorruptError{Path: path, Err: err}
		}
		keys = append(keys, key)
	}
	sortKeys(keys)
	return keys, nil
}

// Log attribute keys.
const (
	logKeyPath        = "path"
	logKeyRegion      = "region"
	logKeyFingerprint = "fingerprint"
	logKeyValidFrom   = "valid_from"
	logKeyValidTo     = "valid_to"
)

const (
	fileVersion    = 1
	fileTimeFormat = "2006-01-02T15:04:05Z"
	nameTimeFormat = "20060102T150405Z"
	pemType        = "RSA PRIVATE KEY"
	// maxFileSize bounds a key file (an RSA-8192 key file is about 7 KiB),
	// so that a damaged file cannot make Open parse a huge key.
	maxFileSize = 16 << 10
)

// keyFile is the JSON of one key file (docs/format/keyring.md).
type keyFile struct {
	Version     int    `json:"version"`
	Region      string `json:"region"`
	Fingerprint string `json:"fingerprint"`
	ValidFrom   string `json:"validFrom"`
	ValidTo     string `json:"validTo"`
	PrivateKey  string `json:"privateKey"`
}

func fileName(k *Key) string {
	return k.ValidFrom.UTC().Format(nameTimeFormat) + "_" + k.Fingerprint + ".json"
}

func loadKey(path, region string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeKey(filepath.Base(path), region, b)
}

// decodeKey decodes and checks the key file called name in region's
// directory.
func decodeKey(name, region string, b []byte) (*Key, error) {
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%d bytes, more than a key file's %d", len(b), maxFileSize)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("version %d, want %d", f.Version, fileVersion)
	}
	if f.Region != region {
		return nil, fmt.Errorf("region %q in the directory of %q", f.Region, region)
	}
	blk, rest := pem.Decode([]byte(f.PrivateKey))
	if blk == nil || blk.Type != pemType || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("privateKey is not one PEM block %q", pemType)
	}
	priv, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("privateKey: %w", err)
	}
	k := &Key{Region: region, Private: priv, DER: digest.PublicKeyDER(&priv.PublicKey)}
	k.Fingerprint = digest.Fingerprint(k.DER)
	if f.Fingerprint != k.Fingerprint {
		return nil, fmt.Errorf("fingerprint %q does not match the private key's %q", f.Fingerprint, k.Fingerprint)
	}
	if k.ValidFrom, err = time.Parse(fileTimeFormat, f.ValidFrom); err != nil {
		return nil, fmt.Errorf("validFrom: %w", err)
	}
	if k.ValidTo, err = time.Parse(fileTimeFormat, f.ValidTo); err != nil {
		return nil, fmt.Errorf("validTo: %w", err)
	}
	if !k.ValidTo.After(k.ValidFrom) {
		return nil, errors.New("validTo is not after validFrom")
	}
	if want := fileName(k); name != want {
		return nil, fmt.Errorf("file name does not match its content (want %s)", want)
	}
	return k, nil
}

func encodeKey(k *Key) ([]byte, error) {
	f := keyFile{
		Version:     fileVersion,
		Region:      k.Region,
		Fingerprint: k.Fingerprint,
		ValidFrom:   k.ValidFrom.UTC().Format(fileTimeFormat),
		ValidTo:     k.ValidTo.UTC().Format(fileTimeFormat),
		PrivateKey:  string(pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: x509.MarshalPKCS1PrivateKey(k.Private)})),
	}
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func sortKeys(keys []*Key) {
	slices.SortFunc(keys, func(a, b *Key) int {
		if c := a.ValidFrom.Compare(b.ValidFrom); c != 0 {
			return c
		}
		return strings.Compare(a.Fingerprint, b.Fingerprint)
	})
}

func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Current returns the region's signing key. When the region has no key, or
// now ≥ newest.ValidFrom + RotateEvery − Overlap, it first makes a new key
// valid from now (to the second) for RotateEvery and writes it to disk;
// the key is returned only once it is durable. Concurrent calls make at
// most one key.
func (k *Keyring) Current(region string) (Key, error) {
	if !validRegion(region) {
		return Key{}, fmt.Errorf("%w: %q", ErrInvalidRegion, region)
	}
	k.mu.Lock()
	gen := k.gen[region]
	if gen == nil {
		gen = new(sync.Mutex)
		k.gen[region] = gen
	}
	k.mu.Unlock()

	gen.Lock()
	defer gen.Unlock()
	now := k.opts.Now().UTC().Truncate(time.Second)
	if newest := k.newest(region); newest != nil && now.Before(newest.ValidFrom.Add(k.opts.RotateEvery-k.opts.Overlap)) {
		return *newest, nil
	}
	key, err := k.generate(region, now)
	if err != nil {
		return Key{}, fmt.Errorf("keyring: new key for %s: %w", region, err)
	}
	k.mu.Lock()
	k.keys[region] = append(k.keys[region], key)
	sortKeys(k.keys[region])
	k.mu.Unlock()
	k.opts.Logger.Info("keyring: generated signing key",
		slog.String(logKeyRegion, region), slog.String(logKeyFingerprint, key.Fingerprint),
		slog.Time(logKeyValidFrom, key.ValidFrom), slog.Time(logKeyValidTo, key.ValidTo))
	return *key, nil
}

func (k *Keyring) newest(region string) *Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := k.keys[region]
	if len(keys) == 0 {
		return nil
	}
	return keys[len(keys)-1]
}

// generate makes a key and writes it durably. Nothing refers to the key
// until the rename of its file has been synced.
func (k *Keyring) generate(region string, now time.Time) (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, k.opts.Bits)
	if err != nil {
		return nil, err
	}
	key := &Key{
		Region:    region,
		DER:       digest.PublicKeyDER(&priv.PublicKey),
		ValidFrom: now,
		ValidTo:   now.Add(k.opts.RotateEvery),
		Private:   priv,
	}
	key.Fingerprint = digest.Fingerprint(key.DER)
	data, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	rdir := filepath.Join(k.dir, region)
	if err := k.mkdir(rdir); err != nil {
		return nil, err
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(rdir, fileName(key)), data, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// mkdir creates the keyring and region directories (0700) if needed and
// makes their entries durable.
func (k *Keyring) mkdir(rdir string) error {
	if _, err := os.Stat(rdir); err == nil {
		return nil
	}
	if err := fileutil.MkdirAll(rdir, 0o700); err != nil {
		return err
	}
	if err := fileutil.SyncDir(k.dir); err != nil {
		return err
	}
	return fileutil.SyncDir(filepath.Dir(filepath.Clean(k.dir)))
}

// Public returns the public keys of region whose validity overlaps
// [start, end] (bounds included), oldest first. Callers check start ≤ end.
func (k *Keyring) Public(region string, start, end time.Time) []PublicKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []PublicKey
	for _, key := range k.keys[region] {
		if key.ValidFrom.After(end) || key.ValidTo.Before(start) {
			continue
		}
		out = append(out, PublicKey{
			Value:         key.DER,
			Fingerprint:   key.Fingerprint,
			ValidityStart: key.ValidFrom,
			ValidityEnd:   key.ValidTo,
		})
	}
	return out
}
