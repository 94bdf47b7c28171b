package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/smithy-go/middleware"

	"github.com/opentrail/opentrail/internal/sdktest"

	"github.com/opentrail/opentrail/internal/event"
)

// TestSDKClientEarlyBodyClose checks that the tests' SDK client survives
// the ordering that made this package's tests flake (see package sdktest):
// the response is back and the SDK has closed the request body before
// net/http's writeLoop checks the body for bytes past Content-Length.
// Without sdktest.HTTPClient, net/http closes the connection under the response
// and every call here fails with "use of closed network connection".
func TestSDKClientEarlyBodyClose(t *testing.T) {
	e := newEnv(t, nil)
	blob := json.RawMessage(`{"blob":"` + strings.Repeat("x", 4000) + `"}`)
	for range 30 { // a response far larger than net/http's read buffer
		e.seed(t, acct1, "us-east-1", "Big", testNow.Add(-time.Hour), func(r *event.Record) { r.RequestParameters = blob })
	}

	tr := awshttp.NewBuildableClient().GetTransport()
	closed := make(chan struct{}, 8) // a connection was closed
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &notifyConn{Conn: c, closed: closed}, nil
	}
	g := &gate{next: tr}
	c := cloudtrail.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      staticCreds("AKIDALICE", "secret"),
		RetryMaxAttempts: 1,
		HTTPClient:       sdktest.HTTPClient(g),
	}, func(o *cloudtrail.Options) {
		o.BaseEndpoint = aws.String(e.srv.URL)
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			// Innermost deserialize step: runs after the SDK's HTTP
			// handler has closed the request body, before the response
			// is decoded.
			return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("openGate",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					close(g.release)
					if err != nil {
						return out, md, err
					}
					select {
					case <-g.checked:
					case <-time.After(5 * time.Second):
						t.Error("net/http did not check the request body for bytes past Content-Length")
					}
					// net/http closes the connection right after a failed
					// check; give it the chance to, before decoding.
					select {
					case <-closed:
					case <-time.After(100 * time.Millisecond):
					}
					return out, md, err
				}), middleware.After)
		})
	})

	for i := range 3 { // over one connection
		g.reset()
		out, err := c.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{LookupAttributes: eventNameAttr("Big")})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(out.Events) != 30 {
			t.Fatalf("call %d: %d events, want 30", i, len(out.Events))
		}
	}
}

// gate holds net/http's check of a request body for bytes past
// Content-Length until release is closed, and closes checked after it.
type gate struct {
	next             http.RoundTripper
	release, checked chan struct{}
	once             *sync.Once
}

func (g *gate) reset() {
	g.release, g.checked, g.once = make(chan struct{}), make(chan struct{}), new(sync.Once)
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	b := &gatedBody{ReadCloser: r.Body, left: r.ContentLength, g: *g}
	r.Body = b
	if _, ok := b.ReadCloser.(io.WriterTo); ok {
		r.Body = gatedWriterTo{b}
	}
	return g.next.RoundTrip(r)
}

type gatedBody struct {
	io.ReadCloser
	left int64 // bytes of Content-Length not yet read
	g    gate
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left > 0 {
		n, err := b.ReadCloser.Read(p)
		b.left -= int64(n)
		return n, err
	}
	<-b.g.release
	defer b.g.once.Do(func() { close(b.g.checked) })
	return b.ReadCloser.Read(p)
}

// gatedWriterTo is a gatedBody with its body's WriteTo, which net/http
// uses for the check when it is there.
type gatedWriterTo struct{ *gatedBody }

func (b gatedWriterTo) WriteTo(w io.Writer) (int64, error) {
	<-b.g.release
	defer b.g.once.Do(func() { close(b.g.checked) })
	return b.ReadCloser.(io.WriterTo).WriteTo(w)
}

// notifyConn reports on closed when it is closed.
type notifyConn struct {
	net.Conn
	closed chan<- struct{}
	once   sync.Once
}

func (c *notifyConn) Close() error {
	c.once.Do(func() {
		select {
		case c.closed <- struct{}{}:
		default:
		}
	})
	return c.Conn.Close()
}
