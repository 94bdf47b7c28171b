package digest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Fixed values of the format.
const (
	// SignatureAlgorithm is digestSignatureAlgorithm and the value of the
	// signature-algorithm object metadata.
	SignatureAlgorithm = "SHA256withRSA"
	// HashAlgorithm is hashAlgorithm and previousDigestHashAlgorithm.
	HashAlgorithm = "SHA-256"
	// TimeFormat is the form of every time in a digest.
	TimeFormat = "2006-01-02T15:04:05Z"
	// MetaSignature is the user-metadata key (x-amz-meta-signature) holding
	// the signature. Header names MUST be written lowercase (pitfall P1).
	MetaSignature = "signature"
	// MetaSignatureAlgorithm is the user-metadata key holding
	// SignatureAlgorithm.
	MetaSignatureAlgorithm = "signature-algorithm"
)

// ErrInvalid means a digest document is malformed: Parse could not read it
// ("INVALID: invalid format" in validate-logs terms) or Encode refused to
// write it (a programming error in the producer; do not retry).
var ErrInvalid = errors.New("digest: invalid document")

// LogFile is one logFiles entry: a delivered log file and the SHA-256 of its
// uncompressed bytes.
type LogFile struct {
	S3Bucket string
	S3Object string
	// HashValue is the lowercase hex SHA-256 of the uncompressed file.
	HashValue string
	// HashAlgorithm is [HashAlgorithm].
	HashAlgorithm string
	// NewestEventTime and OldestEventTime are the newest and oldest
	// eventTime in the file.
	NewestEventTime time.Time
	OldestEventTime time.Time
}

// Document is a digest file (spec §6.2). Fields are in the order they are
// written. A zero time or an empty string in a nullable field is written as
// JSON null.
type Document struct {
	AWSAccountID    string
	DigestStartTime time.Time
	DigestEndTime   time.Time
	// DigestS3Bucket and DigestS3Object are where this digest is written.
	DigestS3Bucket string
	DigestS3Object string
	// DigestPublicKeyFingerprint is [Fingerprint] of the signing key.
	DigestPublicKeyFingerprint string
	// DigestSignatureAlgorithm is [SignatureAlgorithm].
	DigestSignatureAlgorithm string
	// NewestEventTime and OldestEventTime span LogFiles; zero (null) when
	// LogFiles is empty. [Document.AddLogFile] maintains them.
	NewestEventTime time.Time
	OldestEventTime time.Time
	// The previousDigest* fields point at the previous digest of the chain;
	// all empty (null) in a starting digest. See [Document.SetPrevious].
	PreviousDigestS3Bucket      string
	PreviousDigestS3Object      string
	PreviousDigestHashValue     string
	PreviousDigestHashAlgorithm string
	PreviousDigestSignature     string
	LogFiles                    []LogFile
}

// AddLogFile appends f to LogFiles, widening NewestEventTime and
// OldestEventTime to cover it. An empty f.HashAlgorithm becomes
// [HashAlgorithm].
func (d *Document) AddLogFile(f LogFile) {
	if f.HashAlgorithm == "" {
		f.HashAlgorithm = HashAlgorithm
	}
	d.LogFiles = append(d.LogFiles, f)
	if d.NewestEventTime.IsZero() || f.NewestEventTime.After(d.NewestEventTime) {
		d.NewestEventTime = f.NewestEventTime
	}
	if d.OldestEventTime.IsZero() || f.OldestEventTime.Before(d.OldestEventTime) {
		d.OldestEventTime = f.OldestEventTime
	}
}

// Link is what a digest passes on to the next one of its chain (same trail,
// same covered Region): where it was written, the SHA-256 of its
// uncompressed bytes and its signature.
type Link struct {
	Bucket    string
	Object    string
	Hash      string
	Signature string
}

// SetPrevious fills the five previousDigest* fields from the previous
// digest's link. A starting digest does not call it.
func (d *Document) SetPrevious(l Link) {
	d.PreviousDigestS3Bucket = l.Bucket
	d.PreviousDigestS3Object = l.Object
	d.PreviousDigestHashValue = l.Hash
	d.PreviousDigestHashAlgorithm = HashAlgorithm
	d.PreviousDigestSignature = l.Signature
}

// Previous returns the link to the previous digest, and false for a
// starting digest (previousDigestS3Object null).
func (d *Document) Previous() (Link, bool) {
	if d.PreviousDigestS3Object == "" {
		return Link{}, false
	}
	return Link{
		Bucket:    d.PreviousDigestS3Bucket,
		Object:    d.PreviousDigestS3Object,
		Hash:      d.PreviousDigestHashValue,
		Signature: d.PreviousDigestSignature,
	}, true
}

// Validate reports, wrapped in [ErrInvalid], the first way d breaks the
// rules of docs/format/digest.md. [Encode] calls it.
func (d *Document) Validate() error {
	if err := d.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (d *Document) validate() error {
	if len(d.AWSAccountID) != 12 || !isDigits(d.AWSAccountID) {
		return fmt.Errorf("awsAccountId %q is not 12 digits", d.AWSAccountID)
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"digestStartTime", d.DigestStartTime}, {"digestEndTime", d.DigestEndTime}} {
		if err := checkTime(f.name, f.t, true); err != nil {
			return err
		}
	}
	if d.DigestEndTime.Before(d.DigestStartTime) {
		return errors.New("digestEndTime is before digestStartTime")
	}
	if d.DigestS3Bucket == "" || d.DigestS3Object == "" {
		return errors.New("digestS3Bucket and digestS3Object are required")
	}
	if !isHex(d.DigestPublicKeyFingerprint, 32) {
		return fmt.Errorf("digestPublicKeyFingerprint %q is not 32 lowercase hex digits", d.DigestPublicKeyFingerprint)
	}
	if d.DigestSignatureAlgorithm != SignatureAlgorithm {
		return fmt.Errorf("digestSignatureAlgorithm %q is not %s", d.DigestSignatureAlgorithm, SignatureAlgorithm)
	}
	empty := len(d.LogFiles) == 0
	if d.NewestEventTime.IsZero() != empty || d.OldestEventTime.IsZero() != empty {
		return errors.New("newestEventTime and oldestEventTime must be set exactly when logFiles is not empty")
	}
	if err := checkTime("newestEventTime", d.NewestEventTime, false); err != nil {
		return err
	}
	if err := checkTime("oldestEventTime", d.OldestEventTime, false); err != nil {
		return err
	}
	prev := []string{d.PreviousDigestS3Bucket, d.PreviousDigestS3Object, d.PreviousDigestHashValue,
		d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature}
	set := 0
	for _, p := range prev {
		if p != "" {
			set++
		}
	}
	switch {
	case set == 0:
	case set != len(prev):
		return errors.New("the previousDigest* fields must be all set or all null")
	case !isHex(d.PreviousDigestHashValue, 64):
		return fmt.Errorf("previousDigestHashValue %q is not 64 lowercase hex digits", d.PreviousDigestHashValue)
	case d.PreviousDigestHashAlgorithm != HashAlgorithm:
		return fmt.Errorf("previousDigestHashAlgorithm %q is not %s", d.PreviousDigestHashAlgorithm, HashAlgorithm)
	case !isHex(d.PreviousDigestSignature, -1):
		return errors.New("previousDigestSignature is not lowercase hex")
	}
	for i, f := range d.LogFiles {
		if err := f.validate(); err != nil {
			return fmt.Errorf("logFiles[%d]: %w", i, err)
		}
	}
	return nil
}

func (f *LogFile) validate() error {
	if f.S3Bucket == "" || f.S3Object == "" {
		return errors.New("s3Bucket and s3Object are required")
	}
	if !isHex(f.HashValue, 64) {
		return fmt.Errorf("hashValue %q is not 64 lowercase hex digits", f.HashValue)
	}
	if f.HashAlgorithm != HashAlgorithm {
		return fmt.Errorf("hashAlgorithm %q is not %s", f.HashAlgorithm, HashAlgorithm)
	}
	if err := checkTime("newestEventTime", f.NewestEventTime, true); err != nil {
		return err
	}
	return checkTime("oldestEventTime", f.OldestEventTime, true)
}

// checkTime requires a time TimeFormat can write and read back.
func checkTime(name string, t time.Time, required bool) error {
	if t.IsZero() {
		if required {
			return fmt.Errorf("%s is required", name)
		}
		return nil
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%s %s is outside the years 1-9999", name, t.UTC())
	}
	return nil
}

// isHex reports whether s is lowercase hex of length n, or of any non-zero
// even length when n < 0.
func isHex(s string, n int) bool {
	if n >= 0 && len(s) != n || n < 0 && (s == "" || len(s)%2 != 0) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatTime formats t as digests do: UTC, to the second.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Encoded is an object body: the uncompressed bytes, their hash, and the
// gzip of those same bytes.
type Encoded struct {
	// Raw is the uncompressed content.
	Raw []byte
	// Gzip is a single-member gzip of Raw: the object body.
	Gzip []byte
	// Hash is the lowercase hex SHA-256 of Raw.
	Hash string
}

// Hash returns the lowercase hex SHA-256 of raw.
func Hash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Encode validates d and serialises it once (docs/format/digest.md), then
// hashes and gzips those bytes. Errors wrap [ErrInvalid].
func Encode(d *Document) (Encoded, error) {
	if err := d.Validate(); err != nil {
		return Encoded{}, err
	}
	raw, err := marshal(d)
	if err != nil {
		return Encoded{}, fmt.Errorf("encode digest: %w", err)
	}
	return encode(raw)
}

// EncodeLogFile returns the object body of a log file whose uncompressed
// content is raw ({"Records":[…]}): raw itself (not copied), its hash for
// the digest, and its gzip.
func EncodeLogFile(raw []byte) (Encoded, error) {
	return encode(raw)
}

func encode(raw []byte) (Encoded, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw)/4 + 64)
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return Encoded{}, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return Encoded{}, fmt.Errorf("gzip: %w", err)
	}
	return Encoded{Raw: raw, Gzip: buf.Bytes(), Hash: Hash(raw)}, nil
}

// wireDoc fixes the field order and the nulls of the JSON form.
type wireDoc struct {
	AWSAccountID                string        `json:"awsAccountId"`
	DigestStartTime             string        `json:"digestStartTime"`
	DigestEndTime               string        `json:"digestEndTime"`
	DigestS3Bucket              string        `json:"digestS3Bucket"`
	DigestS3Object              string        `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string        `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string        `json:"digestSignatureAlgorithm"`
	NewestEventTime             *string       `json:"newestEventTime"`
	OldestEventTime             *string       `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string       `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string       `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string       `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string       `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string       `json:"previousDigestSignature"`
	LogFiles                    []wireLogFile `json:"logFiles"`
}

type wireLogFile struct {
	S3Bucket        string `json:"s3Bucket"`
	S3Object        string `json:"s3Object"`
	HashValue       string `json:"hashValue"`
	HashAlgorithm   string `json:"hashAlgorithm"`
	NewestEventTime string `json:"newestEventTime"`
	OldestEventTime string `json:"oldestEventTime"`
}

func marshal(d *Document) ([]byte, error) {
	nullTime := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := FormatTime(t)
		return &s
	}
	nullString := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	w := wireDoc{
		AWSAccountID:                d.AWSAccountID,
		DigestStartTime:             FormatTime(d.DigestStartTime),
		DigestEndTime:               FormatTime(d.DigestEndTime),
		DigestS3Bucket:              d.DigestS3Bucket,
		DigestS3Object:              d.DigestS3Object,
		DigestPublicKeyFingerprint:  d.DigestPublicKeyFingerprint,
		DigestSignatureAlgorithm:    d.DigestSignatureAlgorithm,
		NewestEventTime:             nullTime(d.NewestEventTime),
		OldestEventTime:             nullTime(d.OldestEventTime),
		PreviousDigestS3Bucket:      nullString(d.PreviousDigestS3Bucket),
		PreviousDigestS3Object:      nullString(d.PreviousDigestS3Object),
		PreviousDigestHashValue:     nullString(d.PreviousDigestHashValue),
		PreviousDigestHashAlgorithm: nullString(d.PreviousDigestHashAlgorithm),
		PreviousDigestSignature:     nullString(d.PreviousDigestSignature),
		LogFiles:                    make([]wireLogFile, 0, len(d.LogFiles)), // [] when empty (P3)
	}
	for _, f := range d.LogFiles {
		w.LogFiles = append(w.LogFiles, wireLogFile{
			S3Bucket:        f.S3Bucket,
			S3Object:        f.S3Object,
			HashValue:       f.HashValue,
			HashAlgorithm:   f.HashAlgorithm,
			NewestEventTime: FormatTime(f.NewestEventTime),
			OldestEventTime: FormatTime(f.OldestEventTime),
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Parse reads a digest document from its uncompressed bytes. Unknown fields
// are ignored. The fields validate-logs requires must be present
// (digestStartTime, digestEndTime, digestS3Bucket, digestS3Object,
// digestPublicKeyFingerprint, previousDigestSignature, which may be null)
// and so must logFiles; every time must be exactly in [TimeFormat], so that
// re-formatting digestEndTime reproduces the signed text. Parse does not
// call [Document.Validate]. Errors wrap [ErrInvalid] and name the field.
func Parse(raw []byte) (*Document, error) {
	d, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return d, nil
}

func parse(raw []byte) (*Document, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	p := fields{m: m}
	d := &Document{
		AWSAccountID:                p.str("awsAccountId", false),
		DigestStartTime:             p.time("digestStartTime", true),
		DigestEndTime:               p.time("digestEndTime", true),
		DigestS3Bucket:              p.str("digestS3Bucket", true),
		DigestS3Object:              p.str("digestS3Object", true),
		DigestPublicKeyFingerprint:  p.str("digestPublicKeyFingerprint", true),
		DigestSignatureAlgorithm:    p.str("digestSignatureAlgorithm", false),
		NewestEventTime:             p.time("newestEventTime", false),
		OldestEventTime:             p.time("oldestEventTime", false),
		PreviousDigestS3Bucket:      p.str("previousDigestS3Bucket", false),
		PreviousDigestS3Object:      p.str("previousDigestS3Object", false),
		PreviousDigestHashValue:     p.str("previousDigestHashValue", false),
		PreviousDigestHashAlgorithm: p.str("previousDigestHashAlgorithm", false),
		PreviousDigestSignature:     p.str("previousDigestSignature", false),
	}
	if _, ok := m["previousDigestSignature"]; !ok && p.err == nil {
		p.err = errors.New("previousDigestSignature is missing")
	}
	var files []json.RawMessage
	if lf, ok := m["logFiles"]; !ok || json.Unmarshal(lf, &files) != nil || files == nil {
		p.fail("logFiles", "is missing or not an array")
	}
	if p.err != nil {
		return nil, p.err
	}
	d.LogFiles = make([]LogFile, 0, len(files))
	for i, lf := range files {
		var fm map[string]json.RawMessage
		if err := json.Unmarshal(lf, &fm); err != nil || fm == nil {
			return nil, fmt.Errorf("logFiles[%d] is not an object", i)
		}
		q := fields{m: fm}
		f := LogFile{
			S3Bucket:        q.str("s3Bucket", true),
			S3Object:        q.str("s3Object", true),
			HashValue:       q.str("hashValue", true),
			HashAlgorithm:   q.str("hashAlgorithm", false),
			NewestEventTime: q.time("newestEventTime", false),
			OldestEventTime: q.time("oldestEventTime", false),
		}
		if q.err != nil {
			return nil, fmt.Errorf("logFiles[%d].%w", i, q.err)
		}
		d.LogFiles = append(d.LogFiles, f)
	}
	return d, nil
}

// fields reads members of one JSON object, keeping the first error.
type fields struct {
	m   map[string]json.RawMessage
	err error
}

func (p *fields) fail(name, why string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s %s", name, why)
	}
}

// str returns a string member; null and absent give "" unless required.
func (p *fields) str(name string, required bool) string {
	v, ok := p.m[name]
	if !ok || string(v) == "null" {
		if required {
			p.fail(name, "is missing")
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		p.fail(name, "is not a string")
	}
	return s
}

func (p *fields) time(name string, required bool) time.Time {
	s := p.str(name, required)
	if s == "" {
		if required {
			p.fail(name, "is empty")
		}
		return time.Time{}
	}
	t, err := time.Parse(TimeFormat, s)
	if err != nil || t.Format(TimeFormat) != s {
		p.fail(name, fmt.Sprintf("%q is not in the form %s", s, TimeFormat))
		return time.Time{}
	}
	return t
}
