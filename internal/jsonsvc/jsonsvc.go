// Package jsonsvc serves one AWS JSON-protocol service (awsJson1_0 or
// awsJson1_1) on plain net/http: the front end of the alerting services
// OpenTrail speaks beside cloudtrail (EventBridge, CloudWatch Logs;
// alerts.md §1). A [Handler] routes X-Amz-Target to an operation, reads
// the body under a limit, verifies SigV4 for the service's signing name,
// runs the operation for the caller's account and Region, records the call
// as a CloudTrail management event before answering, and writes the
// response or the error in the protocol's shape.
//
// Errors: the common ones (SigV4, framing, back-pressure, shutdown) are
// resolved here, the service's own through [Options.Errors]; anything
// else is a 500 InternalFailure, logged with the request id and never
// sent.
//
// A gzip Content-Encoding (the requestCompression trait) is undone after
// the body is read and before the operation sees it; the signature covers
// the bytes as sent. A service that speaks other wire forms besides JSON
// (CloudWatch: Smithy RPC v2 CBOR and the query protocol) gives them as
// [Options.Protocols]: each turns its request into the JSON body the
// operation reads and writes the answer its way, sharing the operations,
// authentication and recording. An awsQueryCompatible service
// ([Options.QueryCompatible]) gets the x-amzn-query-error header on every
// error, and [WireError.Type] carries its modelled __type.
package jsonsvc

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"encoding/json"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// Authenticator verifies a request's SigV4 signature over its body (an
// *identity.Authenticator). Authenticate MUST NOT read r.Body.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (identity.Caller, error)
}

// Appender records the service's own calls (a *store.Store): Append
// returns once the events are durable.
type Appender interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
}

// Op is one operation.
type Op struct {
	// ReadOnly is the call's readOnly in its CloudTrail event.
	ReadOnly bool
	// Data records the call as a data event (eventCategory Data), as AWS
	// records the data-plane calls of a service (PutLogEvents).
	Data bool
	// Params, when set, makes the event's requestParameters from the
	// body instead of Options.RequestMembers (to leave bulky payloads
	// out).
	Params func(body []byte) json.RawMessage
	// Invoke runs the operation on the raw body and returns its output,
	// ready for json.Marshal (nil means {}).
	Invoke func(ctx context.Context, c identity.Caller, body []byte) (any, error)
}

// Typed turns a typed operation into an Op's Invoke: it decodes the body
// into a fresh input (an empty body is {}, unknown members are ignored).
func Typed[I, O any](f func(ctx context.Context, c identity.Caller, in *I) (*O, error)) func(context.Context, identity.Caller, []byte) (any, error) {
	return func(ctx context.Context, c identity.Caller, body []byte) (any, error) {
		in := new(I)
		if err := awsjson.Decode(body, in); err != nil {
			return nil, err
		}
		out, err := f(ctx, c, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return struct{}{}, nil
		}
		return out, nil
	}
}

// WireError is an error as the client sees it.
type WireError struct {
	Status  int // 0 means 400
	Code    string
	Message string
	// Type, when set, is the __type written instead of Code: the modelled
	// shape id of an awsQueryCompatible service's error
	// (com.amazonaws.cloudwatch#InvalidParameterValueException), whose
	// query code Code stays in the x-amzn-query-error header.
	Type string
}

func (e *WireError) Error() string { return e.Code + ": " + e.Message }

// Errorf returns a 400 WireError.
func Errorf(code, format string, args ...any) error {
	return &WireError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Options configure a [Handler].
type Options struct {
	// TargetPrefix is the X-Amz-Target text before the operation name
	// ("AWSEvents", "Logs_20140328").
	TargetPrefix string
	// SigningName is the SigV4 service name ("events", "logs").
	SigningName string
	// EventSource is the eventSource of the recorded calls.
	EventSource string
	// ContentType is the response content type
	// ("application/x-amz-json-1.1").
	ContentType string
	// RequestMembers turns a request body into the event's
	// requestParameters; nil means audit.LowerCamelMembers.
	RequestMembers func(body []byte) json.RawMessage
	Ops            map[string]Op
	// Errors maps the service's own errors; ok false passes them on.
	Errors func(err error) (w *WireError, ok bool)
	// QueryCompatible marks an awsQueryCompatible service (CloudWatch):
	// every error carries x-amzn-query-error: <Code>;Sender (Receiver for
	// 5xx), from which its clients take the error code.
	QueryCompatible bool
	// Protocols are the wire forms the service speaks besides JSON (for
	// CloudWatch: Smithy RPC v2 CBOR, the query protocol). They share the
	// operations, authentication and recording.
	Protocols []Protocol

	Auth    Authenticator // required
	Events  Appender      // required
	Regions []string      // served signing regions; empty means all
	// MaxBodyBytes limits request bodies; 0 means 1 MiB + 64 KiB.
	MaxBodyBytes int64
	Now          func() time.Time
	Logger       *slog.Logger
}

// Protocol is a wire form besides JSON. A request it matches is read
// under the same limit (a gzip Content-Encoding undone), authenticated
// over the bytes as sent, turned into the JSON body the operation's Invoke
// reads (which is also what requestParameters are made from), and
// answered through the protocol.
type Protocol interface {
	// Match reports whether r is in this form; it MUST NOT read r.Body.
	Match(r *http.Request) bool
	// Operation names the operation of r, whose decoded body is body.
	Operation(r *http.Request, body []byte) (string, error)
	// JSON turns the body of operation op into its JSON body. Errors are
	// the client's (a *WireError, or an *awsjson.DecodeError).
	JSON(op string, body []byte) ([]byte, error)
	// WriteOutput writes out, the value Invoke returned.
	WriteOutput(w http.ResponseWriter, reqID, op string, out any)
	// WriteError writes an error; the x-amzn-query-error header of a
	// QueryCompatible service is set already.
	WriteError(w http.ResponseWriter, reqID, op string, e *WireError)
}

// Handler serves one service.
type Handler struct{ o Options }

// New checks opts and returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Auth == nil || o.Events == nil || o.TargetPrefix == "" || o.SigningName == "" {
		return nil, errors.New("jsonsvc: Auth, Events, TargetPrefix and SigningName are required")
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1<<20 + 64<<10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RequestMembers == nil {
		o.RequestMembers = audit.LowerCamelMembers
	}
	if o.ContentType == "" {
		o.ContentType = "application/x-amz-json-1.1"
	}
	return &Handler{o: o}, nil
}

// Serves reports whether an X-Amz-Target header is this service's.
func (h *Handler) Serves(target string) bool {
	return strings.HasPrefix(target, h.o.TargetPrefix+".")
}

// ServesRequest reports whether r is this service's: its X-Amz-Target, or
// one of its Protocols. It does not read the body.
func (h *Handler) ServesRequest(r *http.Request) bool {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return h.Serves(t)
	}
	return h.protocol(r) != nil
}

// protocol is the Protocol r is in, nil for JSON.
func (h *Handler) protocol(r *http.Request) Protocol {
	if r.Header.Get("X-Amz-Target") != "" {
		return nil
	}
	for _, p := range h.o.Protocols {
		if p.Match(r) {
			return p
		}
	}
	return nil
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := audit.NewUUID()
	w.Header().Set("x-amzn-RequestId", reqID)
	p := h.protocol(r)
	fail := func(name string, e *WireError) { h.write(w, p, reqID, name, e) }
	unknown := func(name string) *WireError {
		return &WireError{Code: "UnknownOperationException", Message: fmt.Sprintf("Operation %q is not served by OpenTrail's %s API.", name, h.o.SigningName)}
	}
	name := ""
	if p == nil {
		name, _ = strings.CutPrefix(r.Header.Get("X-Amz-Target"), h.o.TargetPrefix+".")
	}
	if r.Method != http.MethodPost {
		fail(name, &WireError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowedException", Message: "Only POST is allowed."})
		return
	}
	if _, ok := h.o.Ops[name]; !ok && p == nil {
		fail(name, unknown(name))
		return
	}
	body, err := awsjson.ReadBody(r.Body, h.o.MaxBodyBytes)
	if err != nil {
		fail(name, h.resolve(err))
		return
	}
	// The signature covers the body as sent; decoded is what it says.
	decoded, err := decodeContent(r.Header.Get("Content-Encoding"), body, h.o.MaxBodyBytes)
	if err != nil {
		fail(name, h.resolve(err))
		return
	}
	if p != nil {
		if name, err = p.Operation(r, decoded); err != nil {
			fail(name, h.resolve(err))
			return
		}
	}
	op, ok := h.o.Ops[name]
	if !ok {
		fail(name, unknown(name))
		return
	}
	caller, err := h.o.Auth.Authenticate(r, body)
	if err == nil {
		err = h.checkScope(caller)
	}
	if err != nil {
		fail(name, h.resolve(err))
		return
	}
	in := decoded
	if p != nil {
		in, err = p.JSON(name, decoded)
	}
	var out any
	if err == nil {
		out, err = op.Invoke(withRequestID(r.Context(), reqID), caller, in)
	}
	var resp []byte
	if err == nil {
		resp, err = json.Marshal(out)
	}
	var werr *WireError
	if err != nil {
		werr = h.resolve(err)
		if werr.Status >= 500 {
			h.o.Logger.Error("jsonsvc: operation failed", "service", h.o.SigningName, "operation", name, "request_id", reqID, "err", err)
		}
	}
	if rerr := h.record(context.WithoutCancel(r.Context()), r, reqID, name, op, caller, in, resp, werr); rerr != nil {
		h.o.Logger.Warn("jsonsvc: recording the call failed; the client gets an error instead of the result",
			"service", h.o.SigningName, "operation", name, "request_id", reqID, "err", rerr)
		fail(name, h.resolve(rerr))
		return
	}
	if werr != nil {
		fail(name, werr)
		return
	}
	if p != nil {
		p.WriteOutput(w, reqID, name, out)
		return
	}
	w.Header().Set("Content-Type", h.o.ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
}

// decodeContent undoes a gzip Content-Encoding (the requestCompression
// trait: CloudWatch's PutMetricData), bounding the result by limit.
func decodeContent(enc string, body []byte, limit int64) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			var out []byte
			if out, err = awsjson.ReadBody(zr, limit); err == nil {
				return out, nil
			}
			var tooLarge *awsjson.TooLargeError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
		}
		return nil, Errorf("SerializationException", "The request body is not valid gzip: %v", err)
	}
	return nil, Errorf("SerializationException", "Content-Encoding %q is not supported (gzip is).", enc)
}

func (h *Handler) checkScope(c identity.Caller) error {
	if c.Service != h.o.SigningName {
		return Errorf("InvalidSignatureException", "Credential should be scoped to correct service: '%s'. (The request was signed for '%s'.)", h.o.SigningName, c.Service)
	}
	if !event.ValidRegion(c.Region) || len(h.o.Regions) > 0 && !slices.Contains(h.o.Regions, c.Region) {
		return Errorf("AccessDeniedException", "This OpenTrail server does not serve region '%s'.", c.Region)
	}
	return nil
}

func (h *Handler) write(w http.ResponseWriter, p Protocol, reqID, op string, e *WireError) {
	st := e.Status
	if st == 0 {
		st = http.StatusBadRequest
	}
	if h.o.QueryCompatible {
		fault := "Sender"
		if st >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("x-amzn-query-error", e.Code+";"+fault)
	}
	if p != nil {
		p.WriteError(w, reqID, op, e)
		return
	}
	typ := e.Code
	if e.Type != "" {
		typ = e.Type
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, e.Message})
	w.Header().Set("Content-Type", h.o.ContentType)
	w.WriteHeader(st)
	_, _ = w.Write(b)
}

// resolve maps err to its wire form: a *WireError as is, then the
// service's own errors, then [Common].
func (h *Handler) resolve(err error) *WireError {
	var we *WireError
	if errors.As(err, &we) {
		return we
	}
	if h.o.Errors != nil {
		if we, ok := h.o.Errors(err); ok {
			return we
		}
	}
	return Common(err)
}

// Common maps the errors every AWS JSON service shares (protocol.md §2.5,
// §5.6): SigV4, framing, back-pressure, shutdown. Anything else is a 500
// InternalFailure whose message points at the server log.
func Common(err error) *WireError {
	var sig *sigv4.Error
	msg := func(def string) string {
		if errors.As(err, &sig) && sig.Message != "" {
			return sig.Message
		}
		return def
	}
	var tooLarge *awsjson.TooLargeError
	var dec *awsjson.DecodeError
	switch {
	case errors.Is(err, sigv4.ErrMissingAuth):
		return &WireError{Status: 403, Code: "MissingAuthenticationTokenException", Message: msg("Missing Authentication Token")}
	case errors.Is(err, sigv4.ErrIncomplete):
		return &WireError{Code: "IncompleteSignatureException", Message: msg("The Authorization header is incomplete or malformed.")}
	case errors.Is(err, sigv4.ErrUnknownKey):
		return &WireError{Code: "UnrecognizedClientException", Message: msg("The security token included in the request is invalid.")}
	case errors.Is(err, sigv4.ErrSignatureMismatch), errors.Is(err, sigv4.ErrExpired):
		return &WireError{Code: "InvalidSignatureException", Message: msg("The request signature we calculated does not match the signature you provided.")}
	case errors.As(err, &tooLarge):
		return &WireError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLargeException", Message: err.Error()}
	case errors.Is(err, awsjson.ErrNullElement):
		return &WireError{Code: "ValidationException", Message: err.Error()}
	case errors.As(err, &dec):
		return &WireError{Code: "SerializationException", Message: err.Error()}
	case errors.Is(err, store.ErrBackpressure):
		return &WireError{Code: "ThrottlingException", Message: "Rate exceeded: OpenTrail is catching up on recorded events; retry shortly."}
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.Canceled):
		return &WireError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "OpenTrail is shutting down or the request was canceled; retry shortly."}
	case errors.Is(err, store.ErrUnavailable):
		return &WireError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "OpenTrail cannot write its event log right now; retry later."}
	}
	return &WireError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "OpenTrail failed to process the request; its log has the details under this request id."}
}

// record appends the call's CloudTrail event (event-record.md §7.1).
func (h *Handler) record(ctx context.Context, r *http.Request, reqID, name string, op Op, c identity.Caller, body, resp []byte, werr *WireError) error {
	params := h.o.RequestMembers
	if op.Params != nil {
		params = op.Params
	}
	category := event.CategoryMgmt
	if op.Data {
		category = event.CategoryData
	}
	ac := audit.Call{
		Request:           r,
		Time:              h.o.Now(),
		Source:            h.o.EventSource,
		Name:              name,
		Region:            c.Region,
		UserAgent:         r.UserAgent(),
		Identity:          audit.UserIdentity(c.Principal),
		ReadOnly:          op.ReadOnly,
		Category:          category,
		RequestID:         reqID,
		RequestParameters: params(body),
		ResponseElements:  audit.Null,
		Recipient:         c.AccountID,
	}
	if werr != nil {
		ac.ErrorCode, ac.ErrorMessage = werr.Code, werr.Message
	} else if !op.ReadOnly {
		ac.ResponseElements = h.o.RequestMembers(resp)
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

type requestIDKey struct{}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id of the call ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Page cuts one page out of a whole sorted list for the List and
// Describe operations: token is the offset the previous page returned
// ("" for the first), limit the caller's page size (nil: max, else 1 to
// max). A bad token or limit is a 400 with code (the operation's
// validation error). next is the token of the following page, nil on the
// last.
func Page[T any](xs []T, token string, limit *int, max int, code string) (page []T, next *string, err error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(xs) {
			return nil, nil, Errorf(code, "The NextToken is not valid.")
		}
		start = n
	}
	n := max
	if limit != nil {
		if *limit < 1 || *limit > max {
			return nil, nil, Errorf(code, "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, max)
		}
		n = *limit
	}
	end := min(len(xs), start+n)
	if end < len(xs) {
		s := strconv.Itoa(end)
		next = &s
	}
	return xs[start:end], next, nil
}
