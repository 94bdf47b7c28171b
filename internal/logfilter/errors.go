package logfilter

import (
	"errors"
	"fmt"
)

// ErrInvalidPattern is matched (errors.Is) by every *[Error]. Callers map it
// to InvalidParameterException and return the error's message; retrying the
// same input cannot succeed.
var ErrInvalidPattern = errors.New("invalid filter pattern")

// Error describes why a filter pattern or a metric transformation was
// refused. Its message is meant for the API's InvalidParameterException.
type Error struct {
	// Field is the request member at fault: "filterPattern",
	// "metricValue", "defaultValue" or "dimensions".
	Field string
	// Pos is the 0-based byte offset in the pattern where the problem was
	// found, or -1 when the error is not about a position.
	Pos int
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	if e.Pos >= 0 {
		return fmt.Sprintf("Invalid %s at character %d: %s", e.Field, e.Pos+1, e.Msg)
	}
	return fmt.Sprintf("Invalid %s: %s", e.Field, e.Msg)
}

// Is reports whether target is [ErrInvalidPattern].
func (e *Error) Is(target error) bool { return target == ErrInvalidPattern }

func patternError(pos int, format string, args ...any) *Error {
	return &Error{Field: "filterPattern", Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
