// Package reqerr is the error of a request an engine refused: a sentinel
// kind, which the engine's API layer maps to its service's wire error
// code, and the message for the client. The SNS, EventBridge and
// CloudWatch Logs engines return it.
package reqerr

import "fmt"

// Error is a refused request: Kind is one of the engine's sentinel errors
// (errors.Is finds it), Msg the message meant for the client.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the kind.
func (e *Error) Unwrap() error { return e.Kind }

// New returns an *Error of kind with the formatted message.
func New(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
