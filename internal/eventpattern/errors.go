package eventpattern

import (
	"errors"
	"fmt"
)

// ErrInvalidPattern matches every *[Error] with errors.Is. The API reports
// it as InvalidEventPatternException with the error's message; the caller
// cannot retry with the same pattern.
var ErrInvalidPattern = errors.New("invalid event pattern")

// ErrInvalidEvent is returned (wrapped) by [Set.Match] and [Pattern.Match]
// when the event is not a JSON object. TestEventPattern reports it as an
// InvalidEventPatternException about the event; a follower that meets it
// has a bug upstream, since OpenTrail builds its own envelopes.
var ErrInvalidEvent = errors.New("invalid event")

// Error says why a pattern was rejected. Path locates the offending part
// of the pattern in dot notation with array indexes ("detail.eventName[2]";
// empty for the pattern as a whole); Reason says what is wrong with it.
// Error() is the message the API sends in InvalidEventPatternException.
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "Event pattern is not valid. Reason: " + e.Reason
	}
	return "Event pattern is not valid. Reason: " + e.Reason + " (at " + e.Path + ")"
}

// Is makes errors.Is(err, ErrInvalidPattern) true.
func (e *Error) Is(target error) bool { return target == ErrInvalidPattern }

func patternErr(path string, format string, args ...any) *Error {
	return &Error{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// InputError says why an InputPath or InputTransformer was rejected. Field
// names the member ("InputPath", "InputTransformer.InputPathsMap.name",
// "InputTransformer.InputTemplate"); the API reports it as a
// ValidationException with Error() as the message.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

func inputErr(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}
