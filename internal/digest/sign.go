package digest

import (
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
)

var (
	// ErrBadSignature means a signature does not verify (validate-logs:
	// "INVALID: signature verification failed"): the digest or its metadata
	// was altered, or the wrong key was used.
	ErrBadSignature = errors.New("digest: signature verification failed")
	// ErrBadKey means a public key is not a PKCS#1 RSAPublicKey DER
	// (validate-logs: "Unable to load PKCS #1 key").
	ErrBadKey = errors.New("digest: unable to load PKCS #1 key")
)

// SigningString returns the text a digest signature covers (spec §6.5):
//
//	endTime \n bucket/key \n hashHex \n prevSig
//
// endTime is the digestEndTime JSON value verbatim ([FormatTime]); hashHex
// is the lowercase hex SHA-256 of the uncompressed digest; prevSig is the
// previous digest's signature, or "" for a starting digest, which is written
// as the four characters "null".
func SigningString(endTime, bucket, key, hashHex, prevSig string) string {
	if prevSig == "" {
		prevSig = "null"
	}
	return endTime + "\n" + bucket + "/" + key + "\n" + hashHex + "\n" + prevSig
}

// SigningString returns [SigningString] for d, whose uncompressed bytes
// hash to hashHex.
func (d *Document) SigningString(hashHex string) string {
	return SigningString(FormatTime(d.DigestEndTime), d.DigestS3Bucket, d.DigestS3Object, hashHex, d.PreviousDigestSignature)
}

// Sign signs signingString with RSASSA-PKCS1-v1_5 over SHA-256
// (SHA256withRSA) and returns the signature in lowercase hex.
func Sign(priv *rsa.PrivateKey, signingString string) (string, error) {
	sum := sha256.Sum256([]byte(signingString))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign digest: %w", err)
	}
	return hex.EncodeToString(sig), nil
}

// Verify checks sigHex, a hex SHA256withRSA signature, over signingString
// with the PKCS#1 DER public key pubDER. It returns nil, or an error wrapping
// [ErrBadKey] or [ErrBadSignature].
func Verify(pubDER []byte, signingString, sigHex string) error {
	pub, err := x509.ParsePKCS1PublicKey(pubDER)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	sum := sha256.Sum256([]byte(signingString))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// PublicKeyDER returns the DER of pub as a PKCS#1 RSAPublicKey: the bytes
// ListPublicKeys serves (base64 on the wire) and [Fingerprint] hashes. Never
// use SubjectPublicKeyInfo (pitfall P2).
func PublicKeyDER(pub *rsa.PublicKey) []byte { return x509.MarshalPKCS1PublicKey(pub) }

// Fingerprint returns the lowercase hex MD5 of a PKCS#1 DER public key, as
// in digestPublicKeyFingerprint and ListPublicKeys (spec §6.6).
func Fingerprint(der []byte) string {
	sum := md5.Sum(der)
	return hex.EncodeToString(sum[:])
}

// Sealed is a signed digest, ready to write.
type Sealed struct {
	// Encoded holds the bytes: PutObject Gzip.
	Encoded
	// Signature is the lowercase hex signature, the signature metadata.
	Signature string
	// Link is what the next digest of the chain points to
	// ([Document.SetPrevious]).
	Link Link
}

// Metadata returns the user metadata of the digest object: signature and
// signature-algorithm (written lowercase as x-amz-meta-*, pitfall P1).
func (s *Sealed) Metadata() map[string]string {
	return map[string]string{MetaSignature: s.Signature, MetaSignatureAlgorithm: SignatureAlgorithm}
}

// Seal encodes d once, signs it with priv and returns the object body, its
// signature and the link for the next digest. d.DigestPublicKeyFingerprint
// must be the fingerprint of priv's public key.
func Seal(d *Document, priv *rsa.PrivateKey) (Sealed, error) {
	if fp := Fingerprint(PublicKeyDER(&priv.PublicKey)); d.DigestPublicKeyFingerprint != fp {
		return Sealed{}, fmt.Errorf("%w: digestPublicKeyFingerprint %q is not the signing key's %q", ErrInvalid, d.DigestPublicKeyFingerprint, fp)
	}
	enc, err := Encode(d)
	if err != nil {
		return Sealed{}, err
	}
	sig, err := Sign(priv, d.SigningString(enc.Hash))
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{
		Encoded:   enc,
		Signature: sig,
		Link:      Link{Bucket: d.DigestS3Bucket, Object: d.DigestS3Object, Hash: enc.Hash, Signature: sig},
	}, nil
}
