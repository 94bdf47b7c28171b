// Package snstest is a test SNS HTTP subscriber: an httptest server that
// records what it receives and verifies every signed message the way
// AWS's SNS message validators do (download the PEM certificate named by
// SigningCertURL, rebuild the string to sign, check RSASSA-PKCS1-v1_5 with
// SHA-1 or SHA-256). It implements the verification itself, apart from
// package sns, so a mistake there fails the tests.
package snstest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Message is one POST the subscriber received.
type Message struct {
	Header http.Header
	Body   string
	// Doc is the JSON document (nil for raw delivery).
	Doc map[string]any
}

// Subscriber is a recording SNS HTTP endpoint.
type Subscriber struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	status      func(n int, m Message) int
	autoConfirm bool
	n           int
	got         []Message
	errs        []error
	certs       map[string]*x509.Certificate
	ch          chan Message
}

// New starts a subscriber; it stops at the end of the test.
func New(t testing.TB) *Subscriber {
	s := &Subscriber{t: t, certs: map[string]*x509.Certificate{}, ch: make(chan Message, 1000)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// SetFail makes fn pick the status of each request (0: 200); nil
// accepts everything. fn runs on the server's goroutines.
func (s *Subscriber) SetFail(fn func(n int, m Message) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = fn
}

// SetAutoConfirm makes the subscriber GET the SubscribeURL of each
// SubscriptionConfirmation it accepts, as a subscriber would.
func (s *Subscriber) SetAutoConfirm(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoConfirm = on
}

// URL is the endpoint to subscribe.
func (s *Subscriber) URL() string { return s.srv.URL + "/hook" }

// C receives each accepted message (status 2xx), in arrival order.
func (s *Subscriber) C() <-chan Message { return s.ch }

// Received returns every request so far, accepted or not.
func (s *Subscriber) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.got...)
}

// Errors returns the verification failures so far.
func (s *Subscriber) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

func (s *Subscriber) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	m := Message{Header: r.Header.Clone(), Body: string(b)}
	if r.Header.Get("x-amz-sns-rawdelivery") != "true" {
		if err := json.Unmarshal(b, &m.Doc); err != nil {
			s.fail(fmt.Errorf("body is not JSON: %w", err))
		} else if err := s.Verify(m.Doc); err != nil {
			s.fail(err)
		} else if typ := m.Doc["Type"]; typ != r.Header.Get("x-amz-sns-message-type") {
			s.fail(fmt.Errorf("header x-amz-sns-message-type %q, Type %q", r.Header.Get("x-amz-sns-message-type"), typ))
		}
	}
	s.mu.Lock()
	n := s.n
	s.n++
	s.got = append(s.got, m)
	pick, autoConfirm := s.status, s.autoConfirm
	s.mu.Unlock()
	status := 200
	if pick != nil {
		if st := pick(n, m); st != 0 {
			status = st
		}
	}
	w.WriteHeader(status)
	if status >= 300 {
		return
	}
	if autoConfirm && m.Doc != nil && m.Doc["Type"] == "SubscriptionConfirmation" {
		u, _ := m.Doc["SubscribeURL"].(string)
		resp, err := http.Get(u)
		if err != nil {
			s.fail(fmt.Errorf("GET SubscribeURL: %w", err))
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "<SubscriptionArn>") {
				s.fail(fmt.Errorf("GET SubscribeURL: %s %s", resp.Status, body))
			}
		}
	}
	s.ch <- m
}

func (s *Subscriber) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
	s.t.Errorf("snstest: %v", err)
}

// Verify checks a message document's signature as AWS's validators do.
func (s *Subscriber) Verify(doc map[string]any) error {
	str := func(k string) (string, bool) {
		v, ok := doc[k].(string)
		return v, ok
	}
	certURL, _ := str("SigningCertURL")
	u, err := url.Parse(certURL)
	if err != nil || !strings.HasSuffix(u.Path, ".pem") || !strings.HasPrefix(u.Path, "/SimpleNotificationService-") {
		return fmt.Errorf("SigningCertURL %q is not a .pem certificate URL", certURL)
	}
	cert, err := s.cert(certURL)
	if err != nil {
		return err
	}
	typ, _ := str("Type")
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if typ == "SubscriptionConfirmation" || typ == "UnsubscribeConfirmation" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, k := range keys {
		if v, ok := str(k); ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	sig, err := base64.StdEncoding.DecodeString(fmt.Sprint(doc["Signature"]))
	if err != nil {
		return fmt.Errorf("signature is not base64: %w", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("certificate key is not RSA")
	}
	switch v, _ := str("SignatureVersion"); v {
	case "1":
		sum := sha1.Sum([]byte(b.String()))
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig)
	case "2":
		sum := sha256.Sum256([]byte(b.String()))
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
	default:
		return fmt.Errorf("SignatureVersion %q", v)
	}
	if err != nil {
		return fmt.Errorf("%s %v: signature does not verify: %w", typ, doc["MessageId"], err)
	}
	return nil
}

func (s *Subscriber) cert(u string) (*x509.Certificate, error) {
	s.mu.Lock()
	c := s.certs[u]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	resp, err := http.Get(u)
	if err != nil {
		return nil, fmt.Errorf("download certificate: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("download certificate %s: %s", u, resp.Status)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certificate %s is not PEM", u)
	}
	c, err = x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", u, err)
	}
	s.mu.Lock()
	s.certs[u] = c
	s.mu.Unlock()
	return c, nil
}
