// Package sdktest gives tests an HTTP client for aws-sdk-go-v2 that is not
// hit by aws-sdk-go-v2#2737 against a fast server, and [Sign], SigV4 for
// hand-built requests with the SDK's own signer.
//
// smithy-go closes each attempt's request body as soon as http.Client.Do
// returns, and its body wrapper's WriteTo then returns io.EOF instead of
// (0, nil). net/http's writeLoop, after sending Content-Length bytes,
// checks for surplus with io.Copy(io.Discard, body), which uses that
// WriteTo. A server that answers as soon as it has read the body can have
// the response back before the writeLoop gets there: net/http then takes
// the EOF for a failed request write and closes the connection while the
// SDK is still decoding the response ("use of closed network connection").
// The SDK retries that error by default; tests that make one attempt would
// flake. internal/api's TestSDKClientEarlyBodyClose forces that ordering.
package sdktest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// HTTPClient returns a client that sends through next (for example the
// SDK's default transport, keep-alive on) with each request body stripped
// of its WriteTo method, so net/http reads it with Read, which reports a
// closed smithy-go body as a plain io.EOF.
func HTTPClient(next http.RoundTripper) *http.Client {
	return &http.Client{Transport: hideWriteTo{next}}
}

type hideWriteTo struct{ next http.RoundTripper }

func (t hideWriteTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return t.next.RoundTrip(r)
}

// Sign signs r, whose body is body, as an AWS SDK does: SigV4 with
// aws-sdk-go-v2's own signer, for service and region, now. For the
// services without a Go SDK here (cloudtrail-data) and hand-built
// requests.
func Sign(r *http.Request, body []byte, accessKeyID, secret, service, region string) error {
	sum := sha256.Sum256(body)
	return v4.NewSigner().SignHTTP(r.Context(), aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret}, r,
		hex.EncodeToString(sum[:]), service, region, time.Now())
}
