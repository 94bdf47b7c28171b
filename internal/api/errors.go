package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// This file is the API's one wire-error catalogue (protocol.md §2.5, §5.6).
//
// Operations return either an *apiError, which names its wire code
// directly, or an error from another package; the catalogue table maps the
// latter with errors.Is / errors.As. Everything else is a 500
// InternalFailure whose details are logged with the request id and never
// sent.

// wireError is an error as the client sees it.
type wireError struct {
	Status  int
	Code    string // the __type, a bare exception shape name
	Message string
}

// apiError is an error that carries its wire form. Operations build them
// with the constructors below; the message is sent to the client, so it
// names the offending member and the limit.
type apiError struct{ wireError }

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) error {
	return &apiError{wireError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// invalid returns a 400 error with an operation-specific exception name.
func invalid(code, format string, args ...any) error {
	return newError(http.StatusBadRequest, code, format, args...)
}

// Error codes used in more than one place.
const (
	codeInternal         = "InternalFailure"
	codeThrottling       = "ThrottlingException"
	codeUnsupported      = "UnsupportedOperationException"
	codeUnknownOperation = "UnknownOperationException"
	codeInvalidSignature = "InvalidSignatureException"
	codeInvalidNextToken = "InvalidNextTokenException"

	codeTrailNotFound       = "TrailNotFoundException"
	codeInvalidTrailName    = "InvalidTrailNameException"
	codeARNInvalid          = "CloudTrailARNInvalidException"
	codeInvalidHomeRegion   = "InvalidHomeRegionException"
	codeInvalidParamCombo   = "InvalidParameterCombinationException"
	codeInvalidParameter    = "InvalidParameterException"
	codeInvalidBucketName   = "InvalidS3BucketNameException"
	codeInvalidPrefix       = "InvalidS3PrefixException"
	codeInvalidSnsTopic     = "InvalidSnsTopicNameException"
	codeInvalidKmsKey       = "InvalidKmsKeyIdException"
	codeInvalidTag          = "InvalidTagParameterException"
	codeTagsLimit           = "TagsLimitExceededException"
	codeInvalidSelectors    = "InvalidEventSelectorsException"
	codeInvalidInsights     = "InvalidInsightSelectorsException"
	codeResourceNotFound    = "ResourceNotFoundException"
	codeResourceUnsupported = "ResourceTypeNotSupportedException"
	codeValidation          = "ValidationException"
)

func errUnsupported(op string) error {
	return invalid(codeUnsupported, "OpenTrail does not support %s yet.", op)
}

func errUnknownOperation(op string) error {
	return invalid(codeUnknownOperation, "The operation %s is not part of the CloudTrail API (version 2013-11-01).", op)
}

// errMethod answers anything but POST. There is no AWS shape for this;
// 405 with Allow: POST tells a browser or curl user what is expected.
func errMethod(method string) error {
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowedException",
		"The CloudTrail API accepts only POST requests with an X-Amz-Target header, not %s.", method)
}

// errWrongService is a credential scope naming another service. AWS
// answers this with InvalidSignatureException and this message.
func errWrongService(service string) error {
	return invalid(codeInvalidSignature, "Credential should be scoped to correct service: '%s'. (The request was signed for '%s'.)", signingService, service)
}

// errRegionNotServed is a credential scope naming a region this server
// does not serve. AWS would say InvalidSignatureException ("Credential
// should be scoped to a valid region"), which SDKs may take for clock skew,
// and UnrecognizedClientException, which blames the key. We answer
// AccessDeniedException, a shape the cloudtrail model declares, with a
// message listing the served regions, so the fix is obvious.
func errRegionNotServed(region string, served []string) error {
	if len(served) == 0 {
		return invalid("AccessDeniedException", "'%s' is not a valid region name for this OpenTrail server.", region)
	}
	return invalid("AccessDeniedException", "This OpenTrail server does not serve region '%s'. Served regions: %s. Configure the client for one of them.",
		region, strings.Join(served, ", "))
}

// errThrottled is an exceeded per-caller rate.
func errThrottled(op string) error {
	return invalid(codeThrottling, "Rate exceeded for %s.", op)
}

// catalogue maps conditions raised outside this package to wire errors.
// The first matching row wins. text, when set, derives the message from
// the error; message is the default.
var catalogue = []struct {
	match   func(error) bool
	status  int
	code    string
	message string
	text    func(error) string
}{
	// SigV4 (protocol.md §5.6). AWS JSON services answer all of them with
	// 400; the Common Errors page gives 403 for a missing token, but the
	// SDKs key on the code, not the status, and 400 is what they observe.
	{is(sigv4.ErrMissingAuth), http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token", sigv4Text},
	{is(sigv4.ErrIncomplete), http.StatusBadRequest, "IncompleteSignatureException", "The Authorization header is incomplete or malformed.", sigv4Text},
	{is(sigv4.ErrUnknownKey), http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.", sigv4Text},
	{is(sigv4.ErrSignatureMismatch), http.StatusBadRequest, codeInvalidSignature,
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", sigv4Text},
	// An expired signature is InvalidSignatureException too, with the
	// "Signature expired: ..." message that sigv4 puts in its *Error.
	{is(sigv4.ErrExpired), http.StatusBadRequest, codeInvalidSignature, "Signature expired: the request's X-Amz-Date is more than 15 minutes away from the server's time.", sigv4Text},

	// Framing.
	{is(awsjson.ErrBadTarget), http.StatusBadRequest, codeUnknownOperation, "", ownText},
	{as[*awsjson.TooLargeError], http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "", ownText},
	{as[*awsjson.DecodeError], http.StatusBadRequest, "SerializationException", "", ownText},

	// Store.
	{is(store.ErrBackpressure), http.StatusBadRequest, codeThrottling, "Rate exceeded: OpenTrail is catching up on recorded events; retry shortly.", nil},
	{is(history.ErrBadCursor), http.StatusBadRequest, codeInvalidNextToken, msgBadToken, nil},
	{is(store.ErrClosed), http.StatusServiceUnavailable, "ServiceUnavailable", "OpenTrail is shutting down; retry shortly.", nil},
	{is(store.ErrUnavailable), http.StatusServiceUnavailable, "ServiceUnavailable", "OpenTrail cannot write its event log right now (its disk is full or failing), so the call was not recorded or carried out; retry later.", nil},
	{is(history.ErrClosed), http.StatusServiceUnavailable, "ServiceUnavailable", "OpenTrail is shutting down; retry shortly.", nil},
	{is(context.DeadlineExceeded), http.StatusServiceUnavailable, "ServiceUnavailable", "The request timed out inside OpenTrail; retry shortly.", nil},
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// sigv4Text is the Message of a *sigv4.Error, or "" for a bare sentinel.
func sigv4Text(err error) string {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return se.Message
	}
	return ""
}

func ownText(err error) string { return err.Error() }

// resolve maps err to its wire form, logging it when it is unexpected.
func (h *Handler) resolve(ctx context.Context, c *call, err error) *wireError {
	var ae *apiError
	if errors.As(err, &ae) {
		return &ae.wireError
	}
	for _, row := range catalogue {
		if !row.match(err) {
			continue
		}
		msg := row.message
		if row.text != nil {
			if t := row.text(err); t != "" {
				msg = t
			}
		}
		return &wireError{Status: row.status, Code: row.code, Message: msg}
	}
	h.log.ErrorContext(ctx, "api: internal error",
		slog.String(logKeyRequestID, c.requestID), slog.String(logKeyOperation, c.opName), slog.Any(logKeyErr, err))
	return &wireError{
		Status:  http.StatusInternalServerError,
		Code:    codeInternal,
		Message: "OpenTrail encountered an internal error (request id " + c.requestID + "); the server log has the details.",
	}
}

// writeError resolves err and writes it as the response.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, c *call, err error) {
	h.writeWire(w, r, c, h.resolve(r.Context(), c, err))
}

func (h *Handler) writeWire(w http.ResponseWriter, r *http.Request, c *call, e *wireError) {
	c.code = e.Code
	if e.Status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if err := awsjson.WriteError(w, e.Status, e.Code, e.Message); err != nil {
		h.log.DebugContext(r.Context(), "api: writing the error response failed",
			slog.String(logKeyRequestID, c.requestID), slog.Any(logKeyErr, err))
	}
}
