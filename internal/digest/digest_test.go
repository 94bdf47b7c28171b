package digest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

func key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

var hex64 = strings.Repeat("ab", 32)

// awsExample is the document of spec §6.3 (AWS documentation), compacted,
// with the shortened signature made full length.
var awsExample = `{"awsAccountId":"111122223333","digestStartTime":"2015-08-17T14:01:31Z","digestEndTime":"2015-08-17T15:01:31Z",` +
	`"digestS3Bucket":"S3-bucket-name",` +
	`"digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",` +
	`"digestPublicKeyFingerprint":"31e8b5433410dfb61a9dc45cc65b22ff","digestSignatureAlgorithm":"SHA256withRSA",` +
	`"newestEventTime":"2015-08-17T14:52:27Z","oldestEventTime":"2015-08-17T14:42:27Z",` +
	`"previousDigestS3Bucket":"S3-bucket-name",` +
	`"previousDigestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",` +
	`"previousDigestHashValue":"97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d","previousDigestHashAlgorithm":"SHA-256",` +
	`"previousDigestSignature":"50887ccffad4c002b97caa37cc9dc626` + strings.Repeat("0", 512-32) + `",` +
	`"logFiles":[{"s3Bucket":"S3-bucket-name",` +
	`"s3Object":"AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",` +
	`"hashValue":"9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6","hashAlgorithm":"SHA-256",` +
	`"newestEventTime":"2015-08-17T14:52:27Z","oldestEventTime":"2015-08-17T14:42:27Z"}]}`

func at(s string) time.Time {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		panic(err)
	}
	return t
}

func awsExampleDoc() *Document {
	d := &Document{
		AWSAccountID:               "111122223333",
		DigestStartTime:            at("2015-08-17T14:01:31Z"),
		DigestEndTime:              at("2015-08-17T15:01:31Z"),
		DigestS3Bucket:             "S3-bucket-name",
		DigestS3Object:             "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
		DigestPublicKeyFingerprint: "31e8b5433410dfb61a9dc45cc65b22ff",
		DigestSignatureAlgorithm:   SignatureAlgorithm,
	}
	d.SetPrevious(Link{
		Bucket:    "S3-bucket-name",
		Object:    "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
		Hash:      "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
		Signature: "50887ccffad4c002b97caa37cc9dc626" + strings.Repeat("0", 512-32),
	})
	d.AddLogFile(LogFile{
		S3Bucket:        "S3-bucket-name",
		S3Object:        "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
		HashValue:       "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
		NewestEventTime: at("2015-08-17T14:52:27Z"),
		OldestEventTime: at("2015-08-17T14:42:27Z"),
	})
	return d
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r := bytes.NewReader(b)
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes after the first gzip member", r.Len())
	}
	return out
}

func TestEncodeAWSExample(t *testing.T) {
	enc, err := Encode(awsExampleDoc())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(awsExample, string(enc.Raw)); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	if got := gunzip(t, enc.Gzip); !bytes.Equal(got, enc.Raw) {
		t.Error("Gzip does not hold Raw")
	}
	if enc.Hash != Hash(enc.Raw) || enc.Hash != strings.ToLower(enc.Hash) {
		t.Errorf("Hash = %q", enc.Hash)
	}
	back, err := Parse(enc.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(awsExampleDoc(), back); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestEncodeEmptyDigest(t *testing.T) {
	d := &Document{
		AWSAccountID:               "111122223333",
		DigestStartTime:            at("2026-01-01T00:00:00Z"),
		DigestEndTime:              at("2026-01-01T01:00:00Z"),
		DigestS3Bucket:             "b",
		DigestS3Object:             "k<&>",
		DigestPublicKeyFingerprint: strings.Repeat("0", 32),
		DigestSignatureAlgorithm:   SignatureAlgorithm,
	}
	enc, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"awsAccountId":"111122223333","digestStartTime":"2026-01-01T00:00:00Z","digestEndTime":"2026-01-01T01:00:00Z",` +
		`"digestS3Bucket":"b","digestS3Object":"k<&>","digestPublicKeyFingerprint":"00000000000000000000000000000000",` +
		`"digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,"oldestEventTime":null,` +
		`"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,` +
		`"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[]}`
	if diff := cmp.Diff(want, string(enc.Raw)); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Document)
		msg  string
	}{
		{"account", func(d *Document) { d.AWSAccountID = "1" }, "awsAccountId"},
		{"no end", func(d *Document) { d.DigestEndTime = time.Time{} }, "digestEndTime is required"},
		{"end before start", func(d *Document) { d.DigestEndTime = d.DigestStartTime.Add(-time.Second) }, "before"},
		{"no bucket", func(d *Document) { d.DigestS3Bucket = "" }, "digestS3Bucket"},
		{"uppercase fingerprint", func(d *Document) { d.DigestPublicKeyFingerprint = strings.ToUpper(d.DigestPublicKeyFingerprint) }, "digestPublicKeyFingerprint"},
		{"algorithm", func(d *Document) { d.DigestSignatureAlgorithm = "" }, "digestSignatureAlgorithm"},
		{"times without files", func(d *Document) { d.LogFiles = nil }, "newestEventTime"},
		{"files without times", func(d *Document) { d.NewestEventTime = time.Time{} }, "newestEventTime"},
		{"half previous", func(d *Document) { d.PreviousDigestSignature = "" }, "all set or all null"},
		{"previous hash upper", func(d *Document) { d.PreviousDigestHashValue = strings.ToUpper(hex64) }, "previousDigestHashValue"},
		{"previous signature odd", func(d *Document) { d.PreviousDigestSignature = "abc" }, "previousDigestSignature"},
		{"log hash upper", func(d *Document) { d.LogFiles[0].HashValue = strings.ToUpper(hex64) }, "logFiles[0]: hashValue"},
		{"log algorithm", func(d *Document) { d.LogFiles[0].HashAlgorithm = "MD5" }, "hashAlgorithm"},
		{"log object", func(d *Document) { d.LogFiles[0].S3Object = "" }, "s3Object"},
		{"log time", func(d *Document) { d.LogFiles[0].OldestEventTime = time.Time{} }, "oldestEventTime is required"},
		{"year 10000", func(d *Document) { d.DigestEndTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := awsExampleDoc()
			tt.edit(d)
			_, err := Encode(d)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Encode error = %v; want ErrInvalid mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestParse(t *testing.T) {
	// AWS's example, with newlines and an extra field, parses.
	pretty := strings.ReplaceAll(awsExample, `,"`, ",\n  \"")
	pretty = strings.Replace(pretty, `{`, `{"someNewField":{"x":[1,2]},`, 1)
	d, err := Parse([]byte(pretty))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(awsExampleDoc(), d); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		edit func(map[string]any)
		msg  string
	}{
		{"no logFiles", func(m map[string]any) { delete(m, "logFiles") }, "logFiles"},
		{"null logFiles", func(m map[string]any) { m["logFiles"] = nil }, "logFiles"},
		{"no previousDigestSignature", func(m map[string]any) { delete(m, "previousDigestSignature") }, "previousDigestSignature is missing"},
		{"null digestEndTime", func(m map[string]any) { m["digestEndTime"] = nil }, "digestEndTime is missing"},
		{"empty digestStartTime", func(m map[string]any) { m["digestStartTime"] = "" }, "digestStartTime is empty"},
		{"millisecond time", func(m map[string]any) { m["digestEndTime"] = "2015-08-17T15:01:31.000Z" }, "digestEndTime"},
		{"offset time", func(m map[string]any) { m["digestEndTime"] = "2015-08-17T15:01:31+00:00" }, "digestEndTime"},
		{"number fingerprint", func(m map[string]any) { m["digestPublicKeyFingerprint"] = 5 }, "digestPublicKeyFingerprint is not a string"},
		{"no bucket", func(m map[string]any) { delete(m, "digestS3Bucket") }, "digestS3Bucket"},
		{"log entry not object", func(m map[string]any) { m["logFiles"] = []any{"x"} }, "logFiles[0]"},
		{"log entry without hash", func(m map[string]any) { m["logFiles"] = []any{map[string]any{"s3Bucket": "b", "s3Object": "o"}} }, "logFiles[0].hashValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(awsExample), &m); err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			raw, _ := json.Marshal(m)
			_, err := Parse(raw)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Parse error = %v; want ErrInvalid mentioning %q", err, tt.msg)
			}
		})
	}
	for _, raw := range []string{"", "null", "[]", `"x"`, "{} {}"} {
		if _, err := Parse([]byte(raw)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error = %v; want ErrInvalid", raw, err)
		}
	}
}

func TestChain(t *testing.T) {
	priv := key(t)
	der := PublicKeyDER(&priv.PublicKey)
	start := at("2026-01-01T00:00:07Z")
	var prev *Sealed
	var docs []*Document
	var seals []Sealed
	for i := range 3 {
		d := &Document{
			AWSAccountID:               "111122223333",
			DigestStartTime:            start.Add(time.Duration(i) * time.Hour),
			DigestEndTime:              start.Add(time.Duration(i+1) * time.Hour),
			DigestS3Bucket:             "b",
			DigestS3Object:             "digest-" + string(rune('a'+i)),
			DigestPublicKeyFingerprint: Fingerprint(der),
			DigestSignatureAlgorithm:   SignatureAlgorithm,
		}
		if prev != nil {
			d.SetPrevious(prev.Link)
		}
		s, err := Seal(d, priv)
		if err != nil {
			t.Fatal(err)
		}
		docs, seals, prev = append(docs, d), append(seals, s), &s
	}
	// Walk backwards as validate-logs does.
	for i := len(seals) - 1; i >= 0; i-- {
		raw := gunzip(t, seals[i].Gzip)
		d, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		want := SigningString(FormatTime(docs[i].DigestEndTime), "b", docs[i].DigestS3Object, Hash(raw), "")
		if i > 0 {
			want = want[:len(want)-len("null")] + seals[i-1].Signature
		}
		if got := d.SigningString(Hash(raw)); got != want {
			t.Errorf("digest %d: signing string %q; want %q", i, got, want)
		}
		if err := Verify(der, d.SigningString(Hash(raw)), seals[i].Signature); err != nil {
			t.Errorf("digest %d: %v", i, err)
		}
		link, ok := d.Previous()
		if ok != (i > 0) {
			t.Fatalf("digest %d: Previous ok = %v", i, ok)
		}
		if ok {
			if diff := cmp.Diff(seals[i-1].Link, link); diff != "" {
				t.Errorf("digest %d: Previous (-want +got):\n%s", i, diff)
			}
			if link.Hash != Hash(gunzip(t, seals[i-1].Gzip)) {
				t.Errorf("digest %d: previous hash is not the hash of the previous digest's bytes", i)
			}
		}
	}
}

func TestVerifyFailures(t *testing.T) {
	priv := key(t)
	der := PublicKeyDER(&priv.PublicKey)
	sig, err := Sign(priv, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 512 || sig != strings.ToLower(sig) {
		t.Fatalf("Sign = %q; want 512 lowercase hex", sig)
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		der    []byte
		msg    string
		sigHex string
		want   error
	}{
		{"ok", der, "hello", sig, nil},
		{"uppercase hex signature", der, "hello", strings.ToUpper(sig), nil}, // hex decoding is case-insensitive, as in the CLI
		{"altered message", der, "hello!", sig, ErrBadSignature},
		{"other key", PublicKeyDER(&other.PublicKey), "hello", sig, ErrBadSignature},
		{"not hex", der, "hello", "zz", ErrBadSignature},
		{"truncated", der, "hello", sig[:510], ErrBadSignature},
		{"SPKI key", spki, "hello", sig, ErrBadKey},
		{"garbage key", []byte("nope"), "hello", sig, ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.der, tt.msg, tt.sigHex)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestPublicKeyDER(t *testing.T) {
	der := PublicKeyDER(&key(t).PublicKey)
	// spec §6.6: PKCS#1 RSAPublicKey, 270 bytes for RSA-2048, base64 "MIIBCgKCAQEA…".
	if len(der) != 270 || !bytes.HasPrefix(der, []byte{0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00}) {
		t.Errorf("PublicKeyDER = %d bytes % x…", len(der), der[:9])
	}
	if fp := Fingerprint(der); len(fp) != 32 || fp != strings.ToLower(fp) {
		t.Errorf("Fingerprint = %q", fp)
	}
}

func TestSealWrongKey(t *testing.T) {
	d := awsExampleDoc()
	if _, err := Seal(d, key(t)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Seal with a foreign fingerprint: %v; want ErrInvalid", err)
	}
}

func TestEncodeLogFile(t *testing.T) {
	raw := []byte(`{"Records":[{"eventVersion":"1.08","eventTime":"2026-01-01T00:00:00Z"}]}`)
	enc, err := EncodeLogFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gunzip(t, enc.Gzip), raw) || enc.Hash != Hash(raw) {
		t.Fatal("EncodeLogFile: gzip or hash is not of the given bytes")
	}
	if want := "7d1b695c77763d679ee1f50540a4cb2a0647d7a1ef97ef33092a4a41ea9d8d93"; enc.Hash != want { // sha256sum
		t.Errorf("Hash = %s; want %s", enc.Hash, want)
	}
}
