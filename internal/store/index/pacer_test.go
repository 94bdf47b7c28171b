package index

import (
	"testing"
	"time"
)

// TestPacerStops checks that a pacer resting after a slice of work gives up
// as soon as its stop channel closes, and that a nil pacer never stops.
func TestPacerStops(t *testing.T) {
	if !(*pacer)(nil).rest() {
		t.Fatal("a nil pacer stopped")
	}
	stop := make(chan struct{})
	// A share this small rests about 5,000 times as long as it worked: the
	// rest outlasts the test unless stop ends it.
	pc := &pacer{stop: stop, share: 0.001}
	if !pc.rest() {
		t.Fatal("the first rest stopped")
	}
	time.Sleep(2 * pacerSlice)
	done := make(chan bool)
	go func() { done <- pc.rest() }()
	close(stop)
	if <-done {
		t.Fatal("rest went on after stop closed")
	}
	if pc.rest() {
		t.Fatal("rest did not report the closed stop")
	}
}
