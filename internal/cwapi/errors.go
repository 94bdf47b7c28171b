package cwapi

import (
	"errors"
	"net/http"

	"github.com/opentrail/opentrail/internal/alarm"
	"github.com/opentrail/opentrail/internal/cwmetrics"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// modelled maps the CloudWatch model's error codes (the query codes the
// engine and package alarm return) to their shapes and statuses
// (alerts.md §1.3).
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

// wireError is the client's view of a CloudWatch error code: the shape id
// as __type where the model has one, the code in x-amzn-query-error.
func wireError(code, message string) *jsonsvc.WireError {
	we := &jsonsvc.WireError{Code: code, Message: message}
	if m, ok := modelled[code]; ok {
		we.Type, we.Status = "com.amazonaws.cloudwatch#"+m.shape, m.status
	}
	return we
}

// resolve is the service's jsonsvc.Options.Errors.
func resolve(err error) (*jsonsvc.WireError, bool) {
	var we *jsonsvc.WireError
	var ce *cwmetrics.Error
	var ae *alarm.Error
	switch {
	case errors.As(err, &we):
		if we.Type == "" && we.Status == 0 {
			if _, ok := modelled[we.Code]; ok {
				return wireError(we.Code, we.Message), true
			}
		}
		return we, true
	case errors.As(err, &ce):
		return wireError(ce.Code, ce.Message), true
	case errors.As(err, &ae):
		return wireError(ae.Code, ae.Message), true
	case errors.Is(err, cwmetrics.ErrClosed):
		return &jsonsvc.WireError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "OpenTrail is shutting down; retry shortly."}, true
	}
	return nil, false
}
