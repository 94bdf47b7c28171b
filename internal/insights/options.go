package insights

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options tune the detector (docs/design/decisions.md §59–§66, §82–§83).
type Options struct {
	// BaselineWindow is how far back the baseline reaches (7 days, as
	// AWS documents).
	BaselineWindow time.Duration
	// WarmUp is how much history an account and region needs before a
	// Start is raised (24 h).
	WarmUp time.Duration
	// Grace is how long after a minute ends it is judged by the wall
	// clock, for events recorded late (30 s).
	Grace time.Duration
	// Reorder is how far out of eventTime order events may come when the
	// events' own clock judges minutes (imported logs: a trail's log file
	// holds 5 minutes, unordered, and an import appends batches of 1,000
	// events from two goroutines) (1 h). Live traffic is judged by the
	// wall clock and Grace instead.
	Reorder time.Duration
	// K, Ratio and Floor make the threshold max(mean + K·σ, Ratio·mean,
	// Floor) (5, 2 and 5 calls per minute).
	K, Ratio, Floor float64
	// StartMinutes consecutive minutes above the threshold raise a Start
	// (2); EndMinutes at or below it raise the End (5).
	StartMinutes, EndMinutes int
	// Early lets a minute still open complete a Start once its count is
	// above the threshold, on live traffic judged by the wall clock: its
	// count can only grow (true; decision §82).
	Early bool
	// DropWindow is how much history before the current hour the drop
	// rule sums (3 h, whole hours; 0 turns the rule off). The window
	// falls short below min(E/DropRatio, E − DropK·σ) of its expected
	// sum E (4 and 3), for series expecting at least DropMin calls in it
	// (20) (decision §83).
	DropWindow                time.Duration
	DropRatio, DropK, DropMin float64
	// MaxOpen caps the anomalies open per account and region (50).
	MaxOpen int
	// LiveWindow: a partition whose newest event is this close to the
	// wall clock is judged by the wall clock once the log is read (1 h).
	LiveWindow time.Duration
	// SaveInterval is how often the state is written while it changes
	// (5 s).
	SaveInterval time.Duration
	// SaveEvents writes the changed state sooner, at most once a second,
	// once the detector has read this many events past its checkpoint
	// (100,000). The log keeps every event after a follower's checkpoint,
	// and a start after a crash checks them all and the detector reads
	// them again: under a fast ingest, five seconds were 700,000 events
	// (1 GB of log), several times what the other followers keep.
	SaveEvents uint64

	Logger *slog.Logger
	// Registerer receives the detector's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the wall clock (time.Now); NewID makes eventIDs and
	// sharedEventIDs (random UUIDs). Tests replace them.
	Now   func() time.Time
	NewID func() string
}

// DefaultOptions returns the defaults named on each field.
func DefaultOptions() Options {
	return Options{
		BaselineWindow: 7 * 24 * time.Hour,
		WarmUp:         24 * time.Hour,
		Grace:          30 * time.Second,
		Reorder:        time.Hour,
		K:              5,
		Ratio:          2,
		Floor:          5,
		StartMinutes:   2,
		EndMinutes:     5,
		Early:          true,
		DropWindow:     3 * time.Hour,
		DropRatio:      4,
		DropK:          3,
		DropMin:        20,
		MaxOpen:        50,
		LiveWindow:     time.Hour,
		SaveInterval:   5 * time.Second,
		SaveEvents:     100_000,
		Logger:         slog.Default(),
		Now:            time.Now,
		NewID:          newUUID,
	}
}

// validate checks the options and fills what is left zero from the
// defaults (Logger, Now, NewID, LiveWindow, SaveInterval, SaveEvents).
func (o *Options) validate() error {
	def := DefaultOptions()
	if o.Logger == nil {
		o.Logger = def.Logger
	}
	if o.Now == nil {
		o.Now = def.Now
	}
	if o.NewID == nil {
		o.NewID = def.NewID
	}
	if o.LiveWindow <= 0 {
		o.LiveWindow = def.LiveWindow
	}
	if o.SaveInterval <= 0 {
		o.SaveInterval = def.SaveInterval
	}
	if o.SaveEvents == 0 {
		o.SaveEvents = def.SaveEvents
	}
	switch {
	case o.BaselineWindow < time.Hour:
		return fmt.Errorf("insights: BaselineWindow %v: at least an hour", o.BaselineWindow)
	case o.WarmUp < 0 || o.Grace < 0 || o.Reorder < 0:
		return fmt.Errorf("insights: WarmUp, Grace and Reorder must not be negative")
	case o.K < 0 || o.Ratio < 1 || o.Floor < 0:
		return fmt.Errorf("insights: K %v, Ratio %v, Floor %v: K and Floor at least 0, Ratio at least 1", o.K, o.Ratio, o.Floor)
	case o.StartMinutes < 1 || o.EndMinutes < 1:
		return fmt.Errorf("insights: StartMinutes and EndMinutes must be at least 1")
	case o.DropWindow < 0 || o.DropWindow%time.Hour != 0:
		return fmt.Errorf("insights: DropWindow %v: whole hours, at least 0", o.DropWindow)
	case o.DropWindow > 0 && (o.DropWindow >= o.BaselineWindow || o.DropRatio < 1 || o.DropK < 0 || o.DropMin < 0):
		return fmt.Errorf("insights: DropWindow %v, DropRatio %v, DropK %v, DropMin %v: the window within BaselineWindow, DropRatio at least 1, DropK and DropMin at least 0",
			o.DropWindow, o.DropRatio, o.DropK, o.DropMin)
	case o.MaxOpen < 1:
		return fmt.Errorf("insights: MaxOpen must be at least 1")
	}
	return nil
}
