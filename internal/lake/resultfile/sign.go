package resultfile

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/digest"
)

// Sign file constants (docs/format/query-results.md).
const (
	SignFileName       = "result_sign.json"
	SignFileVersion    = "1.0"
	HashAlgorithm      = "SHA-256"
	SignatureAlgorithm = digest.SignatureAlgorithm // SHA256withRSA
	// TimeFormat is queryCompleteTime's: UTC to the second.
	TimeFormat = "2006-01-02T15:04:05Z"
	// maxSignFileBytes bounds the sign file a verifier reads (about 100
	// bytes per listed file).
	maxSignFileBytes = 16 << 20
)

// SignFile is result_sign.json, its fields in the order they are written.
type SignFile struct {
	Version              string       `json:"version"`
	Region               string       `json:"region"`
	Files                []SignedFile `json:"files"`
	HashAlgorithm        string       `json:"hashAlgorithm"`
	SignatureAlgorithm   string       `json:"signatureAlgorithm"`
	QueryCompleteTime    string       `json:"queryCompleteTime"`
	HashSignature        string       `json:"hashSignature"`
	PublicKeyFingerprint string       `json:"publicKeyFingerprint"`
}

// SignedFile is one entry of SignFile.Files.
type SignedFile struct {
	// FileHashValue is the lowercase hex SHA-256 of the compressed file.
	FileHashValue string `json:"fileHashValue"`
	// FileName is the file's name in the query's folder.
	FileName string `json:"fileName"`
}

// NewSignFile returns the unsigned sign file of files, delivered for a
// query of region that completed at completed.
func NewSignFile(region string, completed time.Time, files []File) *SignFile {
	sf := &SignFile{Version: SignFileVersion, Region: region, HashAlgorithm: HashAlgorithm,
		SignatureAlgorithm: SignatureAlgorithm, QueryCompleteTime: completed.UTC().Format(TimeFormat),
		Files: make([]SignedFile, len(files))}
	for i, f := range files {
		sf.Files[i] = SignedFile{FileHashValue: f.Hash, FileName: f.Name}
	}
	return sf
}

// StringToSign is what hashSignature signs: the fileHashValues in files
// order joined by single spaces.
func (sf *SignFile) StringToSign() string {
	hashes := make([]string, len(sf.Files))
	for i, f := range sf.Files {
		hashes[i] = f.FileHashValue
	}
	return strings.Join(hashes, " ")
}

// Key is a key that signs sign files.
type Key struct {
	// Fingerprint is the lowercase hex MD5 of the PKCS#1 DER public key
	// (digest.Fingerprint), what ListPublicKeys reports.
	Fingerprint string
	Private     *rsa.PrivateKey
}

// Sign sets hashSignature and publicKeyFingerprint with key.
func (sf *SignFile) Sign(key Key) error {
	if key.Private == nil {
		return fmt.Errorf("%w: no private key", ErrInvalid)
	}
	if fp := digest.Fingerprint(digest.PublicKeyDER(&key.Private.PublicKey)); fp != key.Fingerprint {
		return fmt.Errorf("%w: fingerprint %q is not the signing key's %q", ErrInvalid, key.Fingerprint, fp)
	}
	sig, err := digest.Sign(key.Private, sf.StringToSign())
	if err != nil {
		return err
	}
	sf.HashSignature, sf.PublicKeyFingerprint = sig, key.Fingerprint
	return nil
}

// Encode returns the sign file's bytes: JSON indented by two spaces, with
// a final newline.
func (sf *SignFile) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sf); err != nil {
		return nil, fmt.Errorf("resultfile: encode sign file: %w", err)
	}
	return b.Bytes(), nil
}

// ParseSignFile decodes and checks a sign file: version 1.0, the two
// algorithms, queryCompleteTime in [TimeFormat], at least one file, the
// files named result_1.csv.gz, result_2.csv.gz, … in order (the signature
// does not cover the names), hashes of 64 and the fingerprint of 32
// lowercase hex digits, the signature in lowercase hex. Members it does not
// know are ignored. Errors wrap [ErrSignFile].
func ParseSignFile(b []byte) (*SignFile, error) {
	var sf SignFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignFile, err)
	}
	bad := func(format string, a ...any) (*SignFile, error) {
		return nil, fmt.Errorf("%w: %s", ErrSignFile, fmt.Sprintf(format, a...))
	}
	switch {
	case sf.Version != SignFileVersion:
		return bad("version %q, want %q", sf.Version, SignFileVersion)
	case sf.HashAlgorithm != HashAlgorithm:
		return bad("hashAlgorithm %q, want %q", sf.HashAlgorithm, HashAlgorithm)
	case sf.SignatureAlgorithm != SignatureAlgorithm:
		return bad("signatureAlgorithm %q, want %q", sf.SignatureAlgorithm, SignatureAlgorithm)
	case len(sf.Files) == 0:
		return bad("it lists no result file")
	case !lowerHex(sf.PublicKeyFingerprint, 32):
		return bad("publicKeyFingerprint %q is not 32 lowercase hex digits", sf.PublicKeyFingerprint)
	case sf.HashSignature == "" || !lowerHex(sf.HashSignature, len(sf.HashSignature)):
		return bad("hashSignature is not lowercase hex")
	}
	if _, err := sf.CompleteTime(); err != nil {
		return bad("queryCompleteTime %q is not %s", sf.QueryCompleteTime, TimeFormat)
	}
	for i, f := range sf.Files {
		if want := FileName(i + 1); f.FileName != want {
			return bad("file %d is named %q, want %q", i+1, f.FileName, want)
		}
		if !lowerHex(f.FileHashValue, 64) {
			return bad("fileHashValue of %s is not 64 lowercase hex digits", f.FileName)
		}
	}
	return &sf, nil
}

// CompleteTime parses queryCompleteTime.
func (sf *SignFile) CompleteTime() (time.Time, error) {
	return time.Parse(TimeFormat, sf.QueryCompleteTime)
}

// sameDelivery reports whether a and b describe the same files of the same
// query (the signature and its key may differ: a key rotated between two
// attempts).
func sameDelivery(a, b *SignFile) bool {
	if a.Version != b.Version || a.Region != b.Region || a.QueryCompleteTime != b.QueryCompleteTime || len(a.Files) != len(b.Files) {
		return false
	}
	for i := range a.Files {
		if a.Files[i] != b.Files[i] {
			return false
		}
	}
	return true
}

func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
