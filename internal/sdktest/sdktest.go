// Package sdktest gives tests an HTTP client for aws-sdk-go-v2 that is not
// hit by aws-sdk-go-v2#2737 against a fast server.
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
	"io"
	"net/http"
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
