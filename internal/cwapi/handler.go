// Package cwapi serves the CloudWatch API subset of alerts.md §1.4 in the
// three wire forms of §1.1: botocore's JSON 1.0 (POST / with X-Amz-Target
// GraniteServiceVersion20100801.<Op> and x-amzn-query-mode), the Go SDK's
// Smithy RPC v2 CBOR (POST
// /service/GraniteServiceVersion20100801/operation/<Op>) and the query
// protocol of older SDKs (a form POST signed for monitoring, XML answers).
// All share one operation table of typed functions over the wire structs
// in wire.go; only decoding, encoding and the error envelope differ
// (protocol.go, cbor.go, query.go). Every call is authenticated with SigV4 for the signing name
// monitoring, scoped to the caller's account and Region, and recorded as
// a CloudTrail event (eventSource monitoring.amazonaws.com) before the
// answer is sent.
//
// The protocol handling mirrors the JSON-service front end the other
// alerting services share (jsonsvc, in progress on another branch) so it
// can move there: the JSON 1.0 form is that front end plus the
// query-compatible error header, the CBOR form a second codec.
package cwapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/store"
)

// Service identifiers (alerts.md §1.1).
const (
	TargetPrefix = "GraniteServiceVersion20100801"
	PathPrefix   = "/service/" + TargetPrefix + "/operation/"
	SigningName  = "monitoring"
	EventSource  = "monitoring.amazonaws.com"
)

// Authenticator verifies a request's SigV4 signature over its body (an
// *identity.Authenticator). Authenticate MUST NOT read r.Body.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (identity.Caller, error)
}

// Appender records the calls (a *store.Store): Append returns once the
// events are durable.
type Appender interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
}

// Options configure a [Handler].
type Options struct {
	Engine  Engine        // required
	Auth    Authenticator // required
	Events  Appender      // required
	Regions []string      // served signing Regions; empty means all
	// MaxBodyBytes limits request bodies; 0 means 1 MiB + 64 KiB
	// (PutMetricData's 1 MB limit plus framing).
	MaxBodyBytes int64
	Now          func() time.Time
	Logger       *slog.Logger
}

// Handler serves the CloudWatch API.
type Handler struct {
	o   Options
	ops map[string]op
}

// New checks o and returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Engine == nil || o.Auth == nil || o.Events == nil {
		return nil, errors.New("cwapi: Engine, Auth and Events are required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1<<20 + 64<<10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o}
	h.ops = h.table()
	return h, nil
}

// Serves reports whether r is a CloudWatch request in any form: the
// GraniteServiceVersion20100801 target (JSON 1.0), the rpc-v2-cbor path,
// or a query-protocol form signed for monitoring ([ServesQuery]).
func Serves(r *http.Request) bool {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return strings.HasPrefix(t, TargetPrefix+".")
	}
	return strings.HasPrefix(r.URL.Path, PathPrefix) || ServesQuery(r)
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := audit.NewUUID()
	w.Header().Set("x-amzn-RequestId", reqID)
	var c codec
	name := ""
	unknown := "UnknownOperationException"
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		c = jsonCodec{}
		name, _ = strings.CutPrefix(t, TargetPrefix+".")
	} else if strings.HasPrefix(r.URL.Path, PathPrefix) {
		c = cborCodec{}
		name, _ = strings.CutPrefix(r.URL.Path, PathPrefix)
	} else {
		c = queryCodec{reqID: reqID}
		unknown = "InvalidAction"
	}
	if r.Method != http.MethodPost {
		c.writeError(w, &wireError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed", Message: "Only POST is allowed."})
		return
	}
	body, err := awsjson.ReadBody(r.Body, h.o.MaxBodyBytes)
	if err != nil {
		c.writeError(w, h.resolve(err))
		return
	}
	// The signature covers the body as sent; PutMetricData's is gzipped
	// when the client compresses requests (the model's
	// requestCompression trait).
	payload, err := decodeContent(r.Header.Get("Content-Encoding"), body, h.o.MaxBodyBytes)
	if err != nil {
		c.writeError(w, h.resolve(err))
		return
	}
	if qc, ok := c.(queryCodec); ok {
		form, err := url.ParseQuery(string(payload))
		if err != nil {
			c.writeError(w, &wireError{Code: "MalformedQueryString", Message: "The request body is not a valid form: " + err.Error()})
			return
		}
		if v := form.Get("Version"); v != "" && v != QueryVersion {
			c.writeError(w, &wireError{Code: "InvalidAction", Message: fmt.Sprintf("Version %q is not CloudWatch's %s.", v, QueryVersion)})
			return
		}
		qc.form, qc.op = form, form.Get("Action")
		name, c = qc.op, qc
	}
	op, ok := h.ops[name]
	if !ok {
		c.writeError(w, &wireError{Code: unknown, Message: fmt.Sprintf("Operation %q is not served by OpenTrail's CloudWatch API.", name)})
		return
	}
	caller, err := h.o.Auth.Authenticate(r, body)
	if err == nil {
		err = h.checkScope(caller)
	}
	if err != nil {
		c.writeError(w, h.resolve(err))
		return
	}
	out, params, err := op.invoke(r.Context(), caller, c, payload)
	var werr *wireError
	if err != nil {
		werr = h.resolve(err)
		if werr.Status >= 500 {
			h.o.Logger.ErrorContext(r.Context(), "cwapi: operation failed", "operation", name, "request_id", reqID, "err", err)
		}
	}
	if rerr := h.record(context.WithoutCancel(r.Context()), r, reqID, name, op, caller, params, werr); rerr != nil {
		h.o.Logger.WarnContext(r.Context(), "cwapi: recording the call failed; the client gets an error instead of the result",
			"operation", name, "request_id", reqID, "err", rerr)
		c.writeError(w, h.resolve(rerr))
		return
	}
	if werr != nil {
		c.writeError(w, werr)
		return
	}
	c.writeOutput(w, out)
}

func (h *Handler) checkScope(c identity.Caller) error {
	if c.Service != SigningName {
		return &wireError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Credential should be scoped to correct service: '%s'.", SigningName)}
	}
	if !event.ValidRegion(c.Region) || len(h.o.Regions) > 0 && !slices.Contains(h.o.Regions, c.Region) {
		return &wireError{Status: http.StatusForbidden, Code: "AccessDenied", Message: fmt.Sprintf("This OpenTrail server does not serve region '%s'.", c.Region)}
	}
	return nil
}

// decodeContent undoes a gzip Content-Encoding, bounding the result by
// limit.
func decodeContent(enc string, body []byte, limit int64) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, &wireError{Code: "InvalidParameterValue", Message: "The request body is not valid gzip: " + err.Error()}
		}
		out, err := awsjson.ReadBody(zr, limit)
		if err != nil {
			var tl *awsjson.TooLargeError
			if errors.As(err, &tl) {
				return nil, err
			}
			return nil, &wireError{Code: "InvalidParameterValue", Message: "The request body is not valid gzip: " + err.Error()}
		}
		return out, nil
	}
	return nil, &wireError{Code: "InvalidParameterValue", Message: fmt.Sprintf("Content-Encoding %q is not supported (gzip is).", enc)}
}

// record appends the call's CloudTrail event (event-record.md §7.1).
func (h *Handler) record(ctx context.Context, r *http.Request, reqID, name string, op op, c identity.Caller, params json.RawMessage, werr *wireError) error {
	category := event.CategoryMgmt
	if op.data {
		category = event.CategoryData
	}
	if params == nil {
		params = audit.Null
	}
	ac := audit.Call{
		Request:           r,
		Time:              h.o.Now(),
		Source:            EventSource,
		Name:              name,
		Region:            c.Region,
		UserAgent:         r.UserAgent(),
		Identity:          audit.UserIdentity(c.Principal),
		ReadOnly:          op.readOnly,
		Category:          category,
		RequestID:         reqID,
		RequestParameters: params,
		ResponseElements:  audit.Null,
		Recipient:         c.AccountID,
	}
	if werr != nil {
		ac.ErrorCode, ac.ErrorMessage = werr.Code, werr.Message
	}
	ev, err := audit.Parse(ac.Record())
	if err != nil {
		return fmt.Errorf("record %s: %w", name, err)
	}
	if _, err := h.o.Events.Append(ctx, []event.Event{ev}, store.AppendOptions{}); err != nil {
		return fmt.Errorf("record %s: append: %w", name, err)
	}
	return nil
}
