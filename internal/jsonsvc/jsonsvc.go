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
package jsonsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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

	Auth    Authenticator // required
	Events  Appender      // required
	Regions []string      // served signing regions; empty means all
	// MaxBodyBytes limits request bodies; 0 means 1 MiB + 64 KiB.
	MaxBodyBytes int64
	Now          func() time.Time
	Logger       *slog.Logger
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

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := audit.NewUUID()
	w.Header().Set("x-amzn-RequestId", reqID)
	name, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), h.o.TargetPrefix+".")
	if r.Method != http.MethodPost {
		h.write(w, reqID, name, &WireError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowedException", Message: "Only POST is allowed."})
		return
	}
	op, ok := h.o.Ops[name]
	if !ok {
		h.write(w, reqID, name, &WireError{Code: "UnknownOperationException", Message: fmt.Sprintf("Operation %q is not served by OpenTrail's %s API.", name, h.o.SigningName)})
		return
	}
	body, err := awsjson.ReadBody(r.Body, h.o.MaxBodyBytes)
	if err != nil {
		h.write(w, reqID, name, h.resolve(err))
		return
	}
	caller, err := h.o.Auth.Authenticate(r, body)
	if err == nil {
		err = h.checkScope(caller)
	}
	if err != nil {
		h.write(w, reqID, name, h.resolve(err))
		return
	}
	out, err := op.Invoke(withRequestID(r.Context(), reqID), caller, body)
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
	if rerr := h.record(context.WithoutCancel(r.Context()), r, reqID, name, op, caller, body, resp, werr); rerr != nil {
		h.o.Logger.Warn("jsonsvc: recording the call failed; the client gets an error instead of the result",
			"service", h.o.SigningName, "operation", name, "request_id", reqID, "err", rerr)
		h.write(w, reqID, name, h.resolve(rerr))
		return
	}
	if werr != nil {
		h.write(w, reqID, name, werr)
		return
	}
	w.Header().Set("Content-Type", h.o.ContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
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

func (h *Handler) write(w http.ResponseWriter, reqID, op string, e *WireError) {
	st := e.Status
	if st == 0 {
		st = http.StatusBadRequest
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", h.o.ContentType)
	w.WriteHeader(st)
	_, _ = w.Write(b)
}

// common maps the errors every JSON service shares (protocol.md §2.5, §5.6).
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
