package sns

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// signer holds the deployment's message-signing key and certificate.
type signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
	// certName is the certificate's file name in the URL:
	// SimpleNotificationService-<first 32 hex of SHA-256(DER)>.pem.
	certName string
}

// CertPathPrefix starts the URL path of the signing certificate.
const CertPathPrefix = "/SimpleNotificationService-"

// openSigner loads the key pair of dir, creating it on first start.
func openSigner(dir string, now time.Time) (*signer, error) {
	keyPath, certPath := filepath.Join(dir, keyFile), filepath.Join(dir, certFile)
	keyPEM, kerr := os.ReadFile(keyPath)
	certPEM, cerr := os.ReadFile(certPath)
	switch {
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		return createSigner(keyPath, certPath, now)
	case kerr != nil:
		return nil, fmt.Errorf("sns signing key: %w (delete %s and %s together to make a new pair)", kerr, keyPath, certPath)
	case cerr != nil:
		return nil, fmt.Errorf("sns signing certificate: %w (delete %s and %s together to make a new pair)", cerr, keyPath, certPath)
	}
	s, err := parseSigner(keyPEM, certPEM)
	if err != nil {
		return nil, fmt.Errorf("sns signing key pair %s, %s: %w (delete both to make a new pair)", keyPath, certPath, err)
	}
	return s, nil
}

func createSigner(keyPath, certPath string, now time.Time) (*signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("sns signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("sns signing certificate: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "OpenTrail SNS message signing", Organization: []string{"OpenTrail"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sns signing certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("sns signing key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a crash in between leaves a key without certificate,
	// which openSigner refuses with the fix named, rather than a
	// certificate nobody can sign for.
	if err := fileutil.WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("sns signing key: %w", err)
	}
	if err := fileutil.WriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("sns signing certificate: %w", err)
	}
	return parseSigner(keyPEM, certPEM)
}

func parseSigner(keyPEM, certPEM []byte) (*signer, error) {
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, errors.New("the key file holds no PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("the key is not an RSA key")
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("the certificate file holds no CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("the certificate is not the key's")
	}
	sum := sha256.Sum256(cb.Bytes)
	return &signer{key: key, certPEM: certPEM, certName: CertPathPrefix[1:] + hex.EncodeToString(sum[:16]) + ".pem"}, nil
}

// StringToSign is the text an SNS message's Signature covers (alerts.md
// §2.4): "<Key>\n<value>\n" for each signed field present, in order. msg
// maps the JSON document's members to their values.
func StringToSign(msg map[string]string) string {
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if t := msg["Type"]; t == TypeSubscriptionConfirmation || t == TypeUnsubscribeConfirmation {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, k := range keys {
		v, ok := msg[k]
		if !ok {
			continue
		}
		b.WriteString(k)
		b.WriteByte('\n')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String()
}

// sign returns the base64 signature of text: RSASSA-PKCS1-v1_5 with SHA-1
// for SignatureVersion "1", SHA-256 for "2".
func (s *signer) sign(version, text string) (string, error) {
	var sig []byte
	var err error
	if version == "2" {
		sum := sha256.Sum256([]byte(text))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	} else {
		sum := sha1.Sum([]byte(text))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, sum[:])
	}
	if err != nil {
		return "", fmt.Errorf("sign message: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}
