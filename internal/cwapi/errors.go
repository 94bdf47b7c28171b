package cwapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/opentrail/opentrail/internal/alarm"
	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/cwmetrics"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// wireError is an error as the client sees it. Code is the query-protocol
// code (InvalidParameterValue); the JSON and CBOR __type is the modelled
// shape's id where there is one.
type wireError struct {
	Status  int // 0 means 400
	Code    string
	Message string
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

// modelled maps the CloudWatch model's error codes to their shapes and
// statuses (alerts.md §1.3).
var modelled = map[string]struct {
	shape  string
	status int
}{
	"InvalidParameterValue":       {"InvalidParameterValueException", 400},
	"InvalidParameterCombination": {"InvalidParameterCombinationException", 400},
	"MissingParameter":            {"MissingRequiredParameterException", 400},
	"ResourceNotFound":            {"ResourceNotFound", 404},
	"InvalidNextToken":            {"InvalidNextToken", 400},
	"InvalidFormat":               {"InvalidFormatFault", 400},
	"LimitExceeded":               {"LimitExceededFault", 400},
	"InternalServiceError":        {"InternalServiceFault", 500},
}

func (e *wireError) shape() string {
	if m, ok := modelled[e.Code]; ok {
		return "com.amazonaws.cloudwatch#" + m.shape
	}
	return e.Code
}

func (e *wireError) status() int {
	if e.Status != 0 {
		return e.Status
	}
	if m, ok := modelled[e.Code]; ok {
		return m.status
	}
	return http.StatusBadRequest
}

// headers sets the query-compatible error header both clients read the
// code from.
func (e *wireError) headers(w http.ResponseWriter) {
	fault := "Sender"
	if e.status() >= 500 {
		fault = "Receiver"
	}
	w.Header().Set(QueryErrorHeader, e.Code+";"+fault)
}

// resolve maps any error to what the client gets; unknown errors are a
// 500 whose details stay in the log.
func (h *Handler) resolve(err error) *wireError {
	var we *wireError
	var ce *cwmetrics.Error
	var ae *alarm.Error
	var sig *sigv4.Error
	var tooLarge *awsjson.TooLargeError
	var dec *awsjson.DecodeError
	msg := func(def string) string {
		if errors.As(err, &sig) && sig.Message != "" {
			return sig.Message
		}
		return def
	}
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &ce):
		return &wireError{Code: ce.Code, Message: ce.Message}
	case errors.As(err, &ae):
		return &wireError{Code: ae.Code, Message: ae.Message}
	case errors.Is(err, sigv4.ErrMissingAuth):
		return &wireError{Status: 403, Code: "MissingAuthenticationToken", Message: msg("Request is missing Authentication Token")}
	case errors.Is(err, sigv4.ErrIncomplete):
		return &wireError{Status: 400, Code: "IncompleteSignature", Message: msg("The request signature does not conform to AWS standards.")}
	case errors.Is(err, sigv4.ErrUnknownKey):
		return &wireError{Status: 403, Code: "InvalidClientTokenId", Message: msg("The security token included in the request is invalid.")}
	case errors.Is(err, sigv4.ErrSignatureMismatch), errors.Is(err, sigv4.ErrExpired):
		return &wireError{Status: 403, Code: "SignatureDoesNotMatch", Message: msg("The request signature we calculated does not match the signature you provided.")}
	case errors.As(err, &tooLarge):
		return &wireError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge", Message: err.Error()}
	case errors.Is(err, awsjson.ErrNullElement):
		return &wireError{Code: "InvalidParameterValue", Message: err.Error()}
	case errors.As(err, &dec):
		return &wireError{Code: "SerializationException", Message: err.Error()}
	case errors.Is(err, store.ErrBackpressure):
		return &wireError{Code: "Throttling", Message: "Rate exceeded: OpenTrail is catching up on recorded events; retry shortly."}
	case errors.Is(err, store.ErrClosed), errors.Is(err, cwmetrics.ErrClosed), errors.Is(err, context.Canceled):
		return &wireError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "OpenTrail is shutting down or the request was canceled; retry shortly."}
	case errors.Is(err, store.ErrUnavailable):
		return &wireError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "OpenTrail cannot write its event log right now; retry later."}
	}
	return &wireError{Code: "InternalServiceError", Message: "OpenTrail failed to process the request; its log has the details under this request id."}
}
