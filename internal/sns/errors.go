package sns

import (
	"errors"

	"github.com/opentrail/opentrail/internal/reqerr"
)

// Sentinel errors. Every error the Service returns about a request wraps
// one of them inside an [*Error] whose Msg is worded for the client;
// branch with [errors.Is]. Anything else is a server fault (a failed
// write), to be answered as an internal error and logged.
var (
	// ErrNotFound: the topic, subscription or token does not exist (SNS
	// NotFound, 404). Do not retry.
	ErrNotFound = errors.New("sns: not found")
	// ErrInvalidParameter: a parameter breaks SNS's rules (SNS
	// InvalidParameter, 400). Fix the request.
	ErrInvalidParameter = errors.New("sns: invalid parameter")
	// ErrAuthorization: the caller's account does not own the resource
	// (SNS AuthorizationError, 403).
	ErrAuthorization = errors.New("sns: authorization error")
	// ErrThrottled: the delivery queue holds Options.MaxQueued deliveries;
	// the endpoints are behind. Retry later (snsapi answers Throttling,
	// which SDKs retry).
	ErrThrottled = errors.New("sns: delivery queue full")
	// ErrTagLimit: a topic would have more than 50 tags (SNS
	// TagLimitExceeded, 400).
	ErrTagLimit = errors.New("sns: too many tags")
)

// Error is a refused request: Kind is the sentinel, Msg the text for the
// client.
type Error = reqerr.Error

func invalid(format string, args ...any) error {
	return reqerr.New(ErrInvalidParameter, format, args...)
}

func notFound(format string, args ...any) error {
	return reqerr.New(ErrNotFound, format, args...)
}

func notAuthorized(account, action, arn string) error {
	return reqerr.New(ErrAuthorization,
		"User: arn:aws:iam::%s:root is not authorized to perform: SNS:%s on resource: %s", account, action, arn)
}

// ErrResourceNotFound: the tagging operations' missing resource (SNS
// ResourceNotFound, 404).
var ErrResourceNotFound = errors.New("sns: resource not found")

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
