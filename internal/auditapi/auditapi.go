// Package auditapi serves the cloudtrail-data API: PutAuditEvents, which
// brings events of applications outside AWS into CloudTrail Lake through
// a channel (lake.md §7, protocol.md §3). It speaks rest-json on plain
// net/http: POST /PutAuditEvents?channelArn=...&externalId=..., SigV4
// with the signing name cloudtrail-data, errors in the X-Amzn-ErrorType
// header and a {"message"} body.
//
// A request goes through the steps of lake.md §7.2 in order:
// authentication, the channel (InvalidChannelARN, ChannelNotFound),
// authorization (the channel's owner, or an account its resource policy
// allows, with the external id it requires: ChannelInsufficientPermission),
// the envelope (1 to 100 events, ids, DuplicatedAuditEventId), the
// channel's rate limit (ThrottlingException), then each event on its own
// ([CheckEvent]): those that pass become [Record]s, appended to the event
// log in one Append that returns once they are durable, and only then is
// the response written; those that fail are listed with their error
// code. Both lists are always present. The channel's ingestion status is
// updated on every authorized call.
//
// PutAuditEvents calls are not recorded as CloudTrail events of their own
// (decision 126).
package auditapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/channelpolicy"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
	"github.com/opentrail/opentrail/internal/ratelimit"
	"github.com/opentrail/opentrail/internal/store"
)

// SigningName is the SigV4 service name of the cloudtrail-data API.
const SigningName = "cloudtrail-data"

// Path is the one operation's path.
const Path = "/PutAuditEvents"

// Authenticator verifies a request's SigV4 signature over its body (an
// *identity.Authenticator). Authenticate MUST NOT read r.Body.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (identity.Caller, error)
}

// Appender is the event log (a *store.Store). Append MUST return only once
// the events are durable, and store.ErrBackpressure when it cannot take
// more for now.
type Appender interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
}

// Channels is the channel catalogue (a *catalog.Catalog): a channel by
// ARN (of any account) or by id (in the caller's account), and where a
// call's outcome is noted.
type Channels interface {
	ChannelByARN(arn string) (catalog.Channel, bool)
	GetChannel(account, idOrARN string) (catalog.Channel, bool)
	RecordIngestion(arn string, a catalog.IngestionAttempt) error
}

var _ Channels = (*catalog.Catalog)(nil)

// Options configure a [Handler].
type Options struct {
	Auth     Authenticator // required
	Channels Channels      // required
	Events   Appender      // required

	// RateLimit is each channel's rate in events per second, with a burst
	// of max(RateLimit, 100) events (one full request); a request whose
	// events do not fit gets ThrottlingException. 0 turns it off.
	RateLimit float64
	// Regions, if not empty, are the only signing regions served.
	Regions []string
	// MaxBodyBytes limits request bodies (AWS: 1 MB); 0 means 1 MiB.
	MaxBodyBytes int64
	Now          func() time.Time // nil means time.Now
	Logger       *slog.Logger     // nil discards logs
}

// DefaultMaxBody is the largest request body (AWS: 1 MB per request).
const DefaultMaxBody = 1 << 20

// Envelope limits (the cloudtrail-data model).
const (
	MaxEvents  = 100
	maxIDLen   = 128
	minRateCap = MaxEvents
)

// Handler serves cloudtrail-data. It is safe for concurrent use and
// starts no goroutines.
type Handler struct {
	o     Options
	limit *ratelimit.Limiter // nil without a rate limit
}

// New checks o and returns a Handler.
func New(o Options) (*Handler, error) {
	switch {
	case o.Auth == nil || o.Channels == nil || o.Events == nil:
		return nil, errors.New("auditapi: Options.Auth, Channels and Events are required")
	case o.RateLimit < 0:
		return nil, fmt.Errorf("auditapi: Options.RateLimit is negative (%v)", o.RateLimit)
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o}
	if o.RateLimit > 0 {
		h.limit = ratelimit.New(o.RateLimit, max(o.RateLimit, minRateCap))
	}
	return h, nil
}

// Error codes of the whole request (the cloudtrail-data model, and the
// common ones).
const (
	codeInsufficientPermission = "ChannelInsufficientPermission"
	codeChannelNotFound        = "ChannelNotFound"
	codeInvalidChannelARN      = "InvalidChannelARN"
	codeDuplicatedID           = "DuplicatedAuditEventId"
	codeValidation             = "ValidationException"
	codeThrottling             = "ThrottlingException"
)

func fail(code, format string, args ...any) error {
	return &jsonsvc.WireError{Code: code, Message: fmt.Sprintf(format, args...)}
}

type auditEventIn struct {
	ID                *string `json:"id,omitempty"`
	EventData         *string `json:"eventData,omitempty"`
	EventDataChecksum *string `json:"eventDataChecksum,omitempty"`
}

type putAuditEventsIn struct {
	AuditEvents []auditEventIn `json:"auditEvents"`
}

// Success is an entry of successful[].
type Success struct {
	ID      string `json:"id"`
	EventID string `json:"eventID"`
}

// Failure is an entry of failed[].
type Failure struct {
	ID           string `json:"id"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
}

// Output is PutAuditEvents' response.
type Output struct {
	Successful []Success `json:"successful"`
	Failed     []Failure `json:"failed"`
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := audit.NewUUID()
	w.Header().Set("x-amzn-RequestId", reqID)
	out, err := h.serve(r)
	if err != nil {
		h.writeError(w, r, reqID, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, r, reqID, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// serve runs PutAuditEvents (lake.md §7.2 steps 1 to 6).
func (h *Handler) serve(r *http.Request) (*Output, error) {
	if r.URL.Path != Path {
		return nil, &jsonsvc.WireError{Status: http.StatusNotFound, Code: "UnknownOperationException",
			Message: fmt.Sprintf("%s %s is not an operation of OpenTrail's cloudtrail-data API; it serves POST %s.", r.Method, clip(r.URL.Path), Path)}
	}
	if r.Method != http.MethodPost {
		return nil, &jsonsvc.WireError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowedException",
			Message: fmt.Sprintf("PutAuditEvents is POST %s, not %s.", Path, r.Method)}
	}
	body, err := awsjson.ReadBody(r.Body, h.o.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	// 1. Authenticate.
	caller, err := h.o.Auth.Authenticate(r, body)
	if err != nil {
		return nil, err
	}
	if caller.Service != SigningName {
		return nil, fail("InvalidSignatureException", "Credential should be scoped to correct service: '%s'. (The request was signed for '%s'.)", SigningName, caller.Service)
	}
	if !event.ValidRegion(caller.Region) || len(h.o.Regions) > 0 && !slices.Contains(h.o.Regions, caller.Region) {
		return nil, fail("AccessDeniedException", "This OpenTrail server does not serve region '%s'.", caller.Region)
	}
	// 2. The channel.
	q := r.URL.Query()
	ch, err := h.channel(caller, q.Get("channelArn"))
	if err != nil {
		return nil, err
	}
	// 3. Authorize.
	if err := authorize(&ch, caller, q.Get("externalId"), q.Has("externalId")); err != nil {
		return nil, err
	}
	now := h.o.Now()
	out, err := h.put(r.Context(), caller, &ch, body, now)
	code := ""
	switch {
	case err != nil:
		code = errorCode(err)
	case len(out.Failed) > 0:
		code = out.Failed[0].ErrorCode
	}
	attempt := catalog.IngestionAttempt{Time: now, ErrorCode: code}
	if out != nil && len(out.Successful) > 0 {
		attempt.EventID = out.Successful[len(out.Successful)-1].EventID
	}
	if rerr := h.o.Channels.RecordIngestion(ch.ARN(), attempt); rerr != nil {
		h.o.Logger.Warn("auditapi: saving the channel's ingestion status failed; it is kept in memory", "channel", ch.ARN(), "err", rerr)
	}
	return out, err
}

// channel resolves channelArn (lake.md §7.2 step 2): an ARN names a
// channel of any account, an id one of the caller's; either must be in
// the region the request is signed for.
func (h *Handler) channel(caller identity.Caller, ref string) (catalog.Channel, error) {
	if !validChannelRef(ref) {
		if ref == "" {
			return catalog.Channel{}, fail(codeInvalidChannelARN, "channelArn is required: give the ARN (or the ID) of a channel.")
		}
		return catalog.Channel{}, fail(codeInvalidChannelARN, "channelArn %q is not a valid channel ARN: expected arn:aws:cloudtrail:<region>:<12-digit account>:channel/<id>, or the id alone.", clip(ref))
	}
	var ch catalog.Channel
	var ok bool
	if strings.HasPrefix(ref, "arn:") {
		ch, ok = h.o.Channels.ChannelByARN(ref)
	} else {
		ch, ok = h.o.Channels.GetChannel(caller.AccountID, ref)
	}
	if !ok {
		return catalog.Channel{}, fail(codeChannelNotFound, "Channel %s does not exist (create it with aws cloudtrail create-channel).", clip(ref))
	}
	if ch.HomeRegion != caller.Region {
		return catalog.Channel{}, fail(codeChannelNotFound, "Channel %s is in %s; sign the request for that region (the request is signed for %s).", ch.ARN(), ch.HomeRegion, caller.Region)
	}
	return ch, nil
}

// validChannelRef accepts a channel ARN or a channel id (1 to 64 letters,
// digits and hyphens).
func validChannelRef(s string) bool {
	if strings.HasPrefix(s, "arn:") {
		p := strings.SplitN(s, ":", 6)
		if len(p) != 6 || p[1] == "" || p[2] != "cloudtrail" || !event.ValidRegion(p[3]) || !event.ValidAccountID(p[4]) {
			return false
		}
		var ok bool
		if s, ok = strings.CutPrefix(p[5], "channel/"); !ok {
			return false
		}
	}
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// authorize lets the owner's account in, and any other account the
// channel's resource policy allows (lake.md §7.2 step 3).
func authorize(ch *catalog.Channel, caller identity.Caller, externalID string, hasExternalID bool) error {
	if hasExternalID && !channelpolicy.ValidExternalID(externalID) {
		return fail(codeValidation, "externalId must be 2 to 1224 characters of letters, digits and +=,.@:/-_.")
	}
	if caller.AccountID == ch.Account {
		return nil
	}
	denied := fail(codeInsufficientPermission, "Account %s may not send events to channel %s: only the channel owner's account (%s) and the accounts its resource policy allows may.",
		caller.AccountID, ch.ARN(), ch.Account)
	if ch.ResourcePolicy == "" {
		return denied
	}
	p, err := channelpolicy.Parse(ch.ResourcePolicy, ch.ARN())
	if err != nil {
		// PutResourcePolicy checked it: only a hand-edited catalogue
		// gets here.
		return denied
	}
	if p.Allows(caller.AccountID, caller.ARN(), externalID) {
		return nil
	}
	if p.RequiresExternalID(caller.AccountID) {
		return fail(codeInsufficientPermission, "Channel %s's resource policy allows account %s only with the right external ID: give it as externalId (--external-id).", ch.ARN(), caller.AccountID)
	}
	return denied
}

// put validates the envelope, checks each event, and appends the
// accepted ones in one durable Append (lake.md §7.2 steps 4 to 6).
func (h *Handler) put(ctx context.Context, caller identity.Caller, ch *catalog.Channel, body []byte, now time.Time) (*Output, error) {
	in, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
	}
	if n := len(in.AuditEvents); n < 1 || n > MaxEvents {
		return nil, fail(codeValidation, "auditEvents has %d events; a request has 1 to %d.", n, MaxEvents)
	}
	seen := make(map[string]bool, len(in.AuditEvents))
	for i, ae := range in.AuditEvents {
		switch {
		case ae.ID == nil:
			return nil, fail(codeValidation, "auditEvents[%d].id is required.", i)
		case !validID(*ae.ID):
			return nil, fail(codeValidation, "auditEvents[%d].id %q is not 1 to %d characters of letters, digits, - and _.", i, clip(*ae.ID), maxIDLen)
		case ae.EventData == nil:
			return nil, fail(codeValidation, "auditEvents[%d].eventData is required: the event, a JSON object, as a string.", i)
		case seen[*ae.ID]:
			return nil, fail(codeDuplicatedID, "Two or more events of the request have the id %q; ids must be unique within a request.", *ae.ID)
		}
		seen[*ae.ID] = true
	}
	if h.limit != nil && !h.limit.AllowN(ch.ARN(), len(in.AuditEvents), now) {
		return nil, fail(codeThrottling, "Rate exceeded: channel %s takes at most %g events per second; retry shortly.", ch.ARN(), h.o.RateLimit)
	}
	out := &Output{Successful: []Success{}, Failed: []Failure{}}
	evs := make([]event.Event, 0, len(in.AuditEvents))
	for _, ae := range in.AuditEvents {
		ev, eventID, ferr := h.accept(caller, ch, ae, now)
		if ferr != nil {
			out.Failed = append(out.Failed, Failure{ID: *ae.ID, ErrorCode: ferr.Code, ErrorMessage: ferr.Message})
			continue
		}
		evs = append(evs, ev)
		out.Successful = append(out.Successful, Success{ID: *ae.ID, EventID: eventID})
	}
	if len(evs) > 0 {
		// Durable before the response; a client that went away does not
		// stop it either.
		if _, err := h.o.Events.Append(context.WithoutCancel(ctx), evs, store.AppendOptions{}); err != nil {
			return nil, fmt.Errorf("put audit events: append: %w", err)
		}
	}
	return out, nil
}

// accept checks one event and builds its stored record.
func (h *Handler) accept(caller identity.Caller, ch *catalog.Channel, ae auditEventIn, now time.Time) (event.Event, string, *EventError) {
	c, ferr := CheckEvent(*ae.EventData, ae.EventDataChecksum, ch.Account)
	if ferr != nil {
		return event.Event{}, "", ferr
	}
	eventID := audit.NewUUID()
	rec := Record(RecordFields{EventID: eventID, EventTime: c.EventTime, Region: caller.Region, Account: ch.Account, IngestionTime: now, ChannelARN: ch.ARN()}, c.EventData)
	if len(rec) > event.MaxRecordSize {
		return event.Event{}, "", eventErr(CodeFieldTooLong, "The event is %d bytes once stored; at most %d KB are allowed.", len(rec), event.MaxRecordSize/1024)
	}
	// rec is valid compact UTF-8 JSON by construction (Record around
	// CheckEvent's compact, UTF-8-checked eventData): ParseStored derives
	// its summary without validating and copying it again.
	ev, err := event.ParseStored(rec)
	if err != nil {
		h.o.Logger.Error("auditapi: a checked event did not make a valid record", "channel", ch.ARN(), "err", err)
		return event.Event{}, "", eventErr(CodeInternalFailure, "OpenTrail could not store this event; its log has the details.")
	}
	return ev, eventID, nil
}

// validID: 1 to 128 characters of [-_A-Za-z0-9].
func validID(s string) bool {
	if len(s) < 1 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// wire resolves err: a *jsonsvc.WireError as is, else as every JSON
// service does (jsonsvc.Common: SigV4, a body that does not decode,
// back-pressure as ThrottlingException, shutdown).
func wire(err error) *jsonsvc.WireError {
	var we *jsonsvc.WireError
	if errors.As(err, &we) {
		return we
	}
	return jsonsvc.Common(err)
}

func errorCode(err error) string { return wire(err).Code }

// writeError writes err the rest-json way: the code in X-Amzn-ErrorType
// (which botocore's rest-json parser reads first), and a body with
// message (and __type, which the Go SDK reads).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	e := wire(err)
	if e.Code == "InternalFailure" {
		h.o.Logger.ErrorContext(r.Context(), "auditapi: internal error", "request_id", reqID, "err", err)
	}
	st := e.Status
	if st == 0 {
		st = http.StatusBadRequest
	}
	if st == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	_, _ = w.Write(b)
}
