package sns

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the Service returns about a request wraps
// one of them inside an [*Error] whose Message is worded for the client;
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

// Error is a refused request: Err is the sentinel, Message the text for
// the client.
type Error struct {
	Err     error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return &Error{Err: ErrInvalidParameter, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &Error{Err: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

func notAuthorized(account, action, arn string) error {
	return &Error{Err: ErrAuthorization, Message: fmt.Sprintf(
		"User: arn:aws:iam::%s:root is not authorized to perform: SNS:%s on resource: %s", account, action, arn)}
}

// ErrResourceNotFound: the tagging operations' missing resource (SNS
// ResourceNotFound, 404).
var ErrResourceNotFound = errors.New("sns: resource not found")

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
