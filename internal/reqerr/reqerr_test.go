package reqerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	errGone := errors.New("gone")
	err := fmt.Errorf("wrapped: %w", New(errGone, "topic %s does not exist", "t1"))
	var e *Error
	if !errors.As(err, &e) || e.Msg != "topic t1 does not exist" || e.Error() != e.Msg {
		t.Fatalf("errors.As: %v %+v", err, e)
	}
	if !errors.Is(err, errGone) || errors.Is(err, errors.New("gone")) {
		t.Fatalf("errors.Is does not find exactly the kind: %v", err)
	}
}
