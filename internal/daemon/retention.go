package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
)

// RetentionChangeError refuses a change of event history's retention that
// would delete stored events, until it is confirmed
// (Config.ConfirmRetentionChange, --confirm-retention-change).
type RetentionChangeError struct {
	From, To int // days; 0 keeps everything
	Events   int
	Before   time.Time
}

func days(n int) string {
	if n == 0 {
		return "0 (keep everything)"
	}
	return fmt.Sprintf("%d days", n)
}

func (e *RetentionChangeError) Error() string {
	return fmt.Sprintf("changing event history retention from %s to %s would delete %d stored events older than %s; "+
		"to delete them, run again with --confirm-retention-change; to keep them, leave --event-history-retention (or eventHistoryRetentionDays) as it was",
		days(e.From), days(e.To), e.Events, e.Before.UTC().Format(time.RFC3339))
}

// ErrRetentionChange matches every *RetentionChangeError.
var ErrRetentionChange = errors.New("retention change needs confirmation")

// Is makes errors.Is(err, ErrRetentionChange) true.
func (e *RetentionChangeError) Is(target error) bool { return target == ErrRetentionChange }

// checkRetentionChange counts the stored events a retention change would
// delete (those older than now minus the new window): in event history's
// index and in the log after its checkpoint, which history has not applied
// yet. Unless confirmed, a change that deletes any is refused with a
// *RetentionChangeError.
func checkRetentionChange(c datadir.Change, h *history.History, st *store.Store, now time.Time, confirmed bool) (int, error) {
	if !c.Shortens() {
		return 0, nil
	}
	before := now.Add(-c.To.Retention()).Truncate(time.Second)
	n, err := h.CountBefore(before)
	if err != nil {
		return 0, err
	}
	if from, to := h.Checkpoint()+1, st.Head(); from <= to {
		err := st.ReadRange(from, to, func(e store.Entry) error {
			if e.Event.EventTime.Before(before) {
				n++
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("count the events the retention change deletes: %w", err)
		}
	}
	if n == 0 || confirmed {
		return n, nil
	}
	return n, &RetentionChangeError{From: c.From.EventHistoryRetentionDays, To: c.To.EventHistoryRetentionDays, Events: n, Before: before}
}
