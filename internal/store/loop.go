package store

import (
	"context"
	"log/slog"
	"time"
)

// Loop is the work of a follower that applies batches of the log and
// keeps its own checkpoint, for [Follower.Loop].
type Loop struct {
	// Name prefixes the log lines ("eventbus").
	Name string
	// Batch is how many entries one round reads.
	Batch int
	// Apply makes a batch's effects durable. An error (a full disk)
	// retries the same entries every second: the checkpoint never passes
	// entries whose effects are not durable, and Apply may see entries
	// again (at least once).
	Apply func(entries []Entry) error
	// Save writes the checkpoint: every entry up to seq is applied. It
	// runs at most once a second ([SaveInterval]), also when the follower
	// has caught up: then the loop waits out the rest of the second and
	// saves. (Saving on every catch-up made each follower write and fsync
	// its checkpoint once per API call at low rates, on the disk every
	// call's own record waits for.)
	Save func(seq uint64) error
	// Round, when set, runs after each round with the time (for periodic
	// work such as retention).
	Round func(now time.Time)
	Now   func() time.Time // nil means time.Now
	Log   *slog.Logger
}

// SaveInterval is the least time between two checkpoints a [Loop] saves:
// a crash makes a follower apply again at most about this much of the
// log.
const SaveInterval = time.Second

// Loop runs l until ctx ends, then applies what the log still holds and
// saves the checkpoint, so a clean stop leaves nothing for the next start
// (on a write error it stops where it got). Each applied batch is
// Applied, each saved checkpoint Released.
func (f *Follower) Loop(ctx context.Context, l Loop) error {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	var saved time.Time
	var pending, batchPos uint64
	var entries []Entry
	dirty, retry := false, false
	save := func(seq uint64) error {
		if err := l.Save(seq); err != nil {
			return err
		}
		f.Applied(seq)
		f.Release(seq)
		return nil
	}
	for {
		progress := f.Progress()
		if !retry {
			var err error
			if entries, err = f.Read(l.Batch); err != nil {
				l.Log.Error(l.Name+": reading the event log failed; retrying", "err", err)
				entries = nil
			}
			batchPos = f.Position()
		}
		if len(entries) > 0 {
			if err := l.Apply(entries); err != nil {
				if !retry {
					l.Log.Error(l.Name+": applying events of the log failed; retrying them every second", "err", err)
				}
				retry = true
				select {
				case <-ctx.Done():
					return f.drain(l, save, entries)
				case <-time.After(time.Second):
				}
				continue
			}
			if retry {
				l.Log.Info(l.Name + ": applying events of the log works again")
			}
			f.Applied(batchPos)
		}
		retry = false
		if len(entries) > 0 || batchPos > pending {
			pending, dirty = batchPos, true
		}
		// The save interval is on the real clock: l.Now may be a test's.
		wall := time.Now()
		if dirty && wall.Sub(saved) >= SaveInterval {
			if err := save(pending); err != nil {
				l.Log.Error(l.Name+": saving the checkpoint failed; retrying", "err", err)
			} else {
				dirty = false
			}
			saved = wall
		}
		if l.Round != nil {
			l.Round(now())
		}
		if len(entries) > 0 {
			continue
		}
		wait := time.Second
		if dirty {
			// Caught up with a checkpoint to save: save it once its
			// interval has passed, unless more entries come first.
			wait = max(SaveInterval-wall.Sub(saved), time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return f.drain(l, save, nil)
		case <-progress:
		case <-time.After(wait):
		}
	}
}

// drain, at shutdown, applies the entries read but not yet applied
// (pending), then what the log still holds, and saves the checkpoint.
func (f *Follower) drain(l Loop, save func(uint64) error, pending []Entry) error {
	for entries := pending; ; {
		if len(entries) == 0 {
			var err error
			if entries, err = f.Read(l.Batch); err != nil || len(entries) == 0 {
				break
			}
		}
		if err := l.Apply(entries); err != nil {
			l.Log.Error(l.Name+": applying events at shutdown failed; the next start applies them again", "err", err)
			return nil
		}
		entries = nil
	}
	if err := save(f.Position()); err != nil {
		l.Log.Error(l.Name+": saving the checkpoint at shutdown failed; the next start applies the newest events again", "err", err)
	}
	return nil
}
