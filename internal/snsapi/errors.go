package snsapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/opentrail/opentrail/internal/awsquery"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/store"
)

// wireError is an error as the client sees it.
type wireError struct {
	Code    string
	Status  int
	Message string
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

func (e *wireError) detail() awsquery.ErrorDetail {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	return awsquery.ErrorDetail{Type: typ, Code: e.Code, Message: e.Message}
}

func invalidParam(format string, args ...any) *wireError {
	return &wireError{Code: "InvalidParameter", Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// catalogue maps a condition to its SNS error code and status (the
// model's httpStatusCode; alerts.md §1.3). The first match wins.
var catalogue = []struct {
	err    error
	code   string
	status int
}{
	{sns.ErrNotFound, "NotFound", http.StatusNotFound},
	{sns.ErrResourceNotFound, "ResourceNotFound", http.StatusNotFound},
	{sns.ErrInvalidParameter, "InvalidParameter", http.StatusBadRequest},
	{sns.ErrAuthorization, "AuthorizationError", http.StatusForbidden},
	// Back-pressure answers Throttling (400), the code AWS's query
	// services use for "Rate exceeded" and that both SDKs retry with
	// back-off; the model's Throttled (429) is retried by neither.
	{sns.ErrThrottled, "Throttling", http.StatusBadRequest},
	{sns.ErrTagLimit, "TagLimitExceeded", http.StatusBadRequest},
	{awsquery.ErrMalformed, "InvalidParameter", http.StatusBadRequest},
	{store.ErrBackpressure, "Throttling", http.StatusBadRequest},
	{sigv4.ErrMissingAuth, "MissingAuthenticationToken", http.StatusForbidden},
	{sigv4.ErrIncomplete, "IncompleteSignature", http.StatusBadRequest},
	{sigv4.ErrUnknownKey, "InvalidClientTokenId", http.StatusForbidden},
	{sigv4.ErrSignatureMismatch, "SignatureDoesNotMatch", http.StatusForbidden},
	{sigv4.ErrExpired, "SignatureDoesNotMatch", http.StatusForbidden},
}

// toWire resolves err through the catalogue; anything unknown is an
// InternalError (logged by the caller).
func toWire(err error) *wireError {
	var we *wireError
	if errors.As(err, &we) {
		return we
	}
	for _, c := range catalogue {
		if errors.Is(err, c.err) {
			msg := err.Error()
			if c.err == store.ErrBackpressure {
				msg = "Rate exceeded"
			}
			return &wireError{Code: c.code, Status: c.status, Message: msg}
		}
	}
	return &wireError{Code: "InternalError", Status: http.StatusInternalServerError, Message: "An internal error occurred; it was logged."}
}
