package insights

import (
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// Replayer runs the detector over events offline, with Insights on for
// every account, region and type: what Insights would have said about a
// set of logs (forensics). Events should come roughly in time order, as
// log files do; within Options.Reorder of the newest they may come in any
// order. It is safe for concurrent use.
type Replayer struct {
	mu  sync.Mutex
	d   *detector
	n   int
	out []Record
}

// NewReplayer returns a Replayer with opts (see DefaultOptions).
func NewReplayer(opts Options) (*Replayer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Replayer{d: newDetector(&opts)}, nil
}

func on(string, string, string, string) bool { return true }

// Add counts one event; Insights records are ignored.
func (r *Replayer) Add(ev *event.Event) {
	if ev.Insight() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.d.add(ev)
	if r.n++; r.n%4096 == 0 {
		// Judge what the events' clock has closed, so memory stays
		// bounded by the reorder window, not the logs.
		r.out = append(r.out, r.d.advance(time.Time{}, false, on)...)
	}
}

// Late is how many events came for minutes already judged: more than
// Options.Reorder out of order. They are not counted.
func (r *Replayer) Late() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d.late
}

// Finish judges every minute the events reached and returns the records,
// in the order they were decided. An anomaly still going on at the end of
// the logs has its Start and no End; Open counts them.
func (r *Replayer) Finish() (records []Record, open int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, r.d.advance(time.Time{}, false, on)...)
	for _, p := range r.d.parts {
		r.out = append(r.out, r.d.close(p, floorDiv(p.Clock, 60)+1, on)...)
		open += p.nOpen
	}
	out := r.out
	r.out = nil
	return out, open
}
