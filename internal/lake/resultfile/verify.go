package resultfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/objstore"
)

// PublicKey is one ListPublicKeys entry.
type PublicKey struct {
	// Fingerprint is the lowercase hex MD5 of Value.
	Fingerprint string
	// Value is the PKCS#1 RSAPublicKey DER (base64-decoded).
	Value []byte
}

// KeySource returns the public keys that sign sign files.
type KeySource interface {
	// PublicKeys returns the keys whose validity overlaps [start, end]
	// (ListPublicKeys with StartTime and EndTime).
	PublicKeys(ctx context.Context, start, end time.Time) ([]PublicKey, error)
}

// KeySearchWindow is how far after queryCompleteTime [Verify] asks for
// keys, as aws CLI v2's verify-query-results does.
const KeySearchWindow = 20 * 24 * time.Hour

// Verify checks the results delivered into bucket under dir, a query's
// folder (the key [Dir] returns; a trailing slash is ignored), in the
// order of `aws cloudtrail verify-query-results`: it reads and checks the
// sign file ([ParseSignFile]), reads every file it lists and compares its
// SHA-256 with fileHashValue, then looks up the public key with the sign
// file's fingerprint among those valid from queryCompleteTime to
// [KeySearchWindow] later and verifies hashSignature over the string to
// sign. It returns the sign file, or the first problem: an error wrapping
// ErrSignFile, ErrFileChanged, ErrKeyNotFound or ErrBadSignature, or the
// reader's or key source's own error.
func Verify(ctx context.Context, r Reader, keys KeySource, bucket, dir string) (*SignFile, error) {
	dir = strings.TrimSuffix(dir, "/")
	signKey := dir + "/" + SignFileName
	b, err := readObject(ctx, r, bucket, signKey, maxSignFileBytes)
	if errors.Is(err, objstore.ErrNoSuchKey) {
		return nil, fmt.Errorf("%w: s3://%s/%s does not exist", ErrSignFile, bucket, signKey)
	}
	if err != nil {
		return nil, err
	}
	sf, err := ParseSignFile(b)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", bucket, signKey, err)
	}
	for _, f := range sf.Files {
		if err := checkFile(ctx, r, bucket, dir+"/"+f.FileName, f.FileHashValue); err != nil {
			return sf, err
		}
	}
	at, _ := sf.CompleteTime() // ParseSignFile checked it
	pub, err := keys.PublicKeys(ctx, at, at.Add(KeySearchWindow))
	if err != nil {
		return sf, fmt.Errorf("resultfile: public keys: %w", err)
	}
	var der []byte
	for _, k := range pub {
		if k.Fingerprint == sf.PublicKeyFingerprint && digest.Fingerprint(k.Value) == k.Fingerprint {
			der = k.Value
			break
		}
	}
	if der == nil {
		return sf, fmt.Errorf("%w: no key with fingerprint %s is valid at %s", ErrKeyNotFound, sf.PublicKeyFingerprint, sf.QueryCompleteTime)
	}
	if err := digest.Verify(der, sf.StringToSign(), sf.HashSignature); err != nil {
		return sf, fmt.Errorf("%w: s3://%s/%s: %w", ErrBadSignature, bucket, signKey, err)
	}
	return sf, nil
}

// checkFile streams the object through SHA-256 and compares the hash.
func checkFile(ctx context.Context, r Reader, bucket, key, want string) error {
	rc, _, err := r.Get(ctx, bucket, key)
	if errors.Is(err, objstore.ErrNoSuchKey) {
		return fmt.Errorf("%w: s3://%s/%s does not exist", ErrFileChanged, bucket, key)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return fmt.Errorf("resultfile: read s3://%s/%s: %w", bucket, key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: s3://%s/%s hashes to %s, the sign file says %s", ErrFileChanged, bucket, key, got, want)
	}
	return nil
}

// readObject reads a whole object of at most limit bytes.
func readObject(ctx context.Context, r Reader, bucket, key string, limit int64) ([]byte, error) {
	rc, _, err := r.Get(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("resultfile: read s3://%s/%s: %w", bucket, key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: s3://%s/%s is larger than %d bytes", ErrSignFile, bucket, key, limit)
	}
	return b, nil
}
