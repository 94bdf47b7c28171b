package digest_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/digest"
)

// exampleKey loads a fixed RSA-2048 key so that the output is stable.
func exampleKey() *rsa.PrivateKey {
	b, err := os.ReadFile("testdata/example-key.pem")
	if err != nil {
		panic(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		panic(err)
	}
	return k
}

// Build a digest, seal it (serialise once, hash, gzip, sign), then verify it
// the way validate-logs does: gunzip, parse, rebuild the signing string from
// the parsed fields and the hash of the bytes read, and check the signature
// with the public key served by ListPublicKeys.
func Example() {
	key := exampleKey()
	pubDER := digest.PublicKeyDER(&key.PublicKey)
	end := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)

	doc := &digest.Document{
		AWSAccountID:               "111122223333",
		DigestStartTime:            end.Add(-time.Hour),
		DigestEndTime:              end,
		DigestS3Bucket:             "trail-bucket",
		DigestS3Object:             "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20260101T010000Z.json.gz",
		DigestPublicKeyFingerprint: digest.Fingerprint(pubDER),
		DigestSignatureAlgorithm:   digest.SignatureAlgorithm,
	}
	logFile, _ := digest.EncodeLogFile([]byte(`{"Records":[]}`))
	doc.AddLogFile(digest.LogFile{
		S3Bucket:        "trail-bucket",
		S3Object:        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/111122223333_CloudTrail_us-east-1_20260101T0005Z_abcdefghijklmnop.json.gz",
		HashValue:       logFile.Hash,
		NewestEventTime: end.Add(-56 * time.Minute),
		OldestEventTime: end.Add(-59 * time.Minute),
	})
	sealed, err := digest.Seal(doc, key) // a starting digest: no SetPrevious
	if err != nil {
		panic(err)
	}
	fmt.Println(string(sealed.Raw))
	fmt.Println(sealed.Metadata()[digest.MetaSignatureAlgorithm], len(sealed.Signature))

	// Reading it back.
	zr, _ := gzip.NewReader(bytes.NewReader(sealed.Gzip))
	raw, _ := io.ReadAll(zr)
	got, err := digest.Parse(raw)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", got.SigningString(digest.Hash(raw)))
	fmt.Println(digest.Verify(pubDER, got.SigningString(digest.Hash(raw)), sealed.Signature))

	// The next digest of the chain points at this one.
	next := &digest.Document{DigestStartTime: got.DigestEndTime}
	next.SetPrevious(sealed.Link)
	fmt.Println(next.PreviousDigestHashValue == sealed.Hash, next.PreviousDigestSignature == sealed.Signature)
	// Output:
	// {"awsAccountId":"111122223333","digestStartTime":"2026-01-01T00:00:00Z","digestEndTime":"2026-01-01T01:00:00Z","digestS3Bucket":"trail-bucket","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20260101T010000Z.json.gz","digestPublicKeyFingerprint":"8421d392486bb64313a494275891e48f","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"2026-01-01T00:04:00Z","oldestEventTime":"2026-01-01T00:01:00Z","previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[{"s3Bucket":"trail-bucket","s3Object":"AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/111122223333_CloudTrail_us-east-1_20260101T0005Z_abcdefghijklmnop.json.gz","hashValue":"26a792db36a3afba23b1dd277fcc9f15a7313c4a92e4e4cc0494846af345ecff","hashAlgorithm":"SHA-256","newestEventTime":"2026-01-01T00:04:00Z","oldestEventTime":"2026-01-01T00:01:00Z"}]}
	// SHA256withRSA 512
	// "2026-01-01T01:00:00Z\ntrail-bucket/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20260101T010000Z.json.gz\n82e30f99c0614fbfdfb246a17c2783f17f797be9f8fef13dfa327715cb8dd9d4\nnull"
	// <nil>
	// true true
}

// The fingerprint of the public key in the AWS CLI's list-public-keys
// example is the MD5 of its PKCS#1 DER.
func ExampleFingerprint() {
	der, _ := base64.StdEncoding.DecodeString("MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYoIYMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OANtQCP61C1nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EXYuePGEtBdrKD9Dz+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB")
	fmt.Println(digest.Fingerprint(der))
	// Output:
	// 7f3f401420072e50a65a141430817ab3
}

func ExampleSigningString() {
	fmt.Printf("%q\n", digest.SigningString("2015-08-17T15:01:31Z", "S3-bucket-name",
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
		"97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d", ""))
	// Output:
	// "2015-08-17T15:01:31Z\nS3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz\n97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d\nnull"
}
