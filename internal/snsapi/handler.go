// Package snsapi serves the SNS subset of alerts.md §1.4 over the AWS
// query protocol (internal/awsquery): a form-encoded POST signed with
// SigV4 for service sns, answered in XML, errors as <ErrorResponse> with
// the model's codes (§1.3). The caller sees only its own account's topics
// and subscriptions. Every authenticated call is recorded as a CloudTrail
// event (eventSource sns.amazonaws.com; Publish as a data event) before
// the reply is sent.
//
// Two requests need no signature, as at AWS: GET of a SubscribeURL
// (?Action=ConfirmSubscription&TopicArn=…&Token=…) and of an
// UnsubscribeURL (?Action=Unsubscribe&SubscriptionArn=…). AWS does not
// record these in CloudTrail, and neither does OpenTrail. GET of the
// signing certificate's path (/SimpleNotificationService-<hash>.pem)
// returns the PEM certificate subscribers verify messages with.
package snsapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsquery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/store"
)

// Namespace is the XML namespace of SNS responses.
const Namespace = "http://sns.amazonaws.com/doc/2010-03-31/"

// APIVersion is the SNS API version the handler serves.
const APIVersion = "2010-03-31"

// signingService is the SigV4 service name of SNS.
const signingService = "sns"

// Authenticator verifies a request's SigV4 signature over its body;
// [identity.Authenticator] implements it. Authenticate MUST return an
// error wrapping one of the sigv4 sentinels when the request is not
// authentic, and on success a Caller whose Region and Service are the
// credential scope's.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (identity.Caller, error)
}

// EventAppender makes records durable; [store.Store] implements it.
// Append MUST return only once the events are durable, and an error
// wrapping [store.ErrBackpressure] when its followers are behind.
type EventAppender interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
}

// Engine is the SNS engine as the API uses it; [*sns.Service] implements
// it, with the contracts documented there.
type Engine interface {
	CreateTopic(ctx context.Context, account, region, name string, attrs, tags map[string]string) (string, error)
	DeleteTopic(ctx context.Context, account, arn string) error
	ListTopics(ctx context.Context, account, region, next string) ([]string, string, error)
	TopicAttributes(ctx context.Context, account, arn string) (map[string]string, error)
	SetTopicAttribute(ctx context.Context, account, arn, name, value string) error
	Subscribe(ctx context.Context, account, topicARN, protocol, endpoint string, attrs map[string]string, returnARN bool) (string, error)
	ConfirmSubscription(ctx context.Context, account, topicARN, token string, authenticateOnUnsubscribe bool) (string, error)
	Unsubscribe(ctx context.Context, account, arn string) error
	ListSubscriptions(ctx context.Context, account, topicARN, next string) ([]sns.Subscription, string, error)
	SubscriptionAttributes(ctx context.Context, account, arn string) (map[string]string, error)
	SetSubscriptionAttribute(ctx context.Context, account, arn, name, value string) error
	PublishAs(ctx context.Context, account string, in sns.PublishInput) (string, error)
	TagResource(ctx context.Context, account, arn string, tags map[string]string) error
	UntagResource(ctx context.Context, account, arn string, keys []string) error
	ListTags(ctx context.Context, account, arn string) (map[string]string, error)
	Certificate() (pem []byte, path string)
}

var (
	_ Engine        = (*sns.Service)(nil)
	_ EventAppender = (*store.Store)(nil)
	_ Authenticator = (*identity.Authenticator)(nil)
)

// Options configure a [Handler]. Start from [DefaultOptions].
type Options struct {
	Auth   Authenticator // required
	Engine Engine        // required
	Events EventAppender // required
	// Regions, when set, are the only signing regions served.
	Regions []string
	// MaxBodyBytes bounds a request body. Default 1 MiB (a Publish
	// carries at most 256 KiB of message, form-encoded).
	MaxBodyBytes int64
	// Now is the clock of eventTime. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{MaxBodyBytes: 1 << 20, Now: time.Now, Logger: slog.Default()}
}

// Handler serves the SNS API. It is safe for concurrent use.
type Handler struct {
	opts Options
	log  *slog.Logger
}

// New returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Auth == nil || opts.Engine == nil || opts.Events == nil {
		return nil, errors.New("snsapi: Options.Auth, Engine and Events are required")
	}
	def := DefaultOptions()
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = def.MaxBodyBytes
	}
	if opts.Now == nil {
		opts.Now = def.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{opts: opts, log: log}, nil
}

// Log attribute keys.
const (
	logKeyRequestID = "request_id"
	logKeyAction    = "action"
	logKeyErr       = "err"
)

// call is one request's state.
type call struct {
	r         *http.Request
	requestID string
	action    string
	op        *operation
	caller    identity.Caller
	form      awsquery.Form
}

// Unsigned reports whether r is one of the two requests SNS serves
// without a signature (a SubscribeURL or UnsubscribeURL GET) or the
// certificate download: the router sends them to SNS.
func Unsigned(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if strings.HasPrefix(r.URL.Path, sns.CertPathPrefix) && strings.HasSuffix(r.URL.Path, ".pem") {
		return true
	}
	if r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Credential") != "" {
		return false
	}
	switch r.URL.Query().Get("Action") {
	case "ConfirmSubscription", "Unsubscribe":
		return r.URL.Path == "/" || r.URL.Path == ""
	}
	return false
}

// ServeHTTP serves one SNS request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{r: r, requestID: audit.NewUUID()}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, sns.CertPathPrefix) {
		h.serveCertificate(w, r)
		return
	}
	if Unsigned(r) {
		h.serveUnsigned(w, c)
		return
	}
	result, err := h.serve(c)
	var body []byte
	status := http.StatusOK
	if err == nil {
		body, err = awsquery.EncodeResult(Namespace, c.action, c.requestID, result)
	}
	var werr *wireError
	if err != nil {
		werr = toWire(err)
	}
	if c.op != nil && c.caller.AccountID != "" {
		// The reply waits for the record: a client never learns the
		// outcome of a call whose record is not durable.
		if rerr := h.record(c, result, werr); rerr != nil {
			err, werr = rerr, toWire(rerr)
		}
	}
	if werr != nil {
		if werr.Status >= 500 {
			h.log.ErrorContext(r.Context(), "sns: request failed", logKeyRequestID, c.requestID, logKeyAction, c.action, logKeyErr, err)
		}
		status, body = werr.Status, awsquery.EncodeError(Namespace, werr.detail(), c.requestID)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", c.requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (h *Handler) serveCertificate(w http.ResponseWriter, r *http.Request) {
	pem, path := h.opts.Engine.Certificate()
	if r.URL.Path != path {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-x509-ca-cert")
	_, _ = w.Write(pem)
}

// serve authenticates, decodes and runs the call.
func (h *Handler) serve(c *call) (any, error) {
	r := c.r
	body, err := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > h.opts.MaxBodyBytes {
		return nil, &wireError{Code: "RequestEntityTooLarge", Status: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("The request body is larger than %d bytes.", h.opts.MaxBodyBytes)}
	}
	caller, err := h.opts.Auth.Authenticate(r, body)
	if err != nil {
		return nil, err
	}
	if caller.Service != signingService {
		return nil, &wireError{Code: "SignatureDoesNotMatch", Status: http.StatusForbidden,
			Message: fmt.Sprintf("Credential should be scoped to correct service: '%s'. (The request was signed for '%s'.)", signingService, caller.Service)}
	}
	if !event.ValidRegion(caller.Region) || len(h.opts.Regions) > 0 && !slices.Contains(h.opts.Regions, caller.Region) {
		return nil, &wireError{Code: "InvalidClientTokenId", Status: http.StatusForbidden,
			Message: fmt.Sprintf("This OpenTrail server does not serve region '%s'.", caller.Region)}
	}
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
			return nil, invalidParam("The request must be form-encoded (Content-Type application/x-www-form-urlencoded), not %q.", ct)
		}
		raw = string(body)
	} else if r.Method != http.MethodGet {
		return nil, invalidParam("SNS requests are POST or GET, not %s.", r.Method)
	}
	req, err := awsquery.Parse(raw)
	if err != nil {
		return nil, err
	}
	c.action, c.form, c.caller = req.Action, req.Form, caller
	if req.Action == "" {
		return nil, &wireError{Code: "MissingAction", Status: http.StatusBadRequest, Message: "Missing Action"}
	}
	if req.Version != "" && req.Version != APIVersion {
		return nil, &wireError{Code: "InvalidAction", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Could not find operation %s for version %s", req.Action, req.Version)}
	}
	op := operations[req.Action]
	if op == nil {
		return nil, &wireError{Code: "InvalidAction", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("Could not find operation %s for version %s; OpenTrail serves %s", req.Action, APIVersion, strings.Join(operationNames(), ", "))}
	}
	c.op = op
	return op.run(r.Context(), h.opts.Engine, c)
}

// serveUnsigned answers a SubscribeURL or UnsubscribeURL GET; AWS does
// not record these calls.
func (h *Handler) serveUnsigned(w http.ResponseWriter, c *call) {
	q, err := awsquery.Parse(c.r.URL.RawQuery)
	var result any
	if err == nil {
		c.action, c.form = q.Action, q.Form
		e := h.opts.Engine
		switch q.Action {
		case "ConfirmSubscription":
			var arn string
			arn, err = e.ConfirmSubscription(c.r.Context(), "", c.form["TopicArn"], c.form["Token"], false)
			result = confirmResult{SubscriptionArn: arn}
		case "Unsubscribe":
			err = e.Unsubscribe(c.r.Context(), "", c.form["SubscriptionArn"])
		}
	}
	var body []byte
	if err == nil {
		body, err = awsquery.EncodeResult(Namespace, c.action, c.requestID, result)
	}
	status := http.StatusOK
	if err != nil {
		werr := toWire(err)
		if werr.Status >= 500 {
			h.log.Error("sns: request failed", logKeyRequestID, c.requestID, logKeyAction, c.action, logKeyErr, err)
		}
		status, body = werr.Status, awsquery.EncodeError(Namespace, werr.detail(), c.requestID)
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", c.requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
