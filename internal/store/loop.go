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
	// runs at most once a second while entries flow, and when the
	// follower has caught up.
	Save func(seq uint64) error
	// Round, when set, runs after each round with the time (for periodic
	// work such as retention).
	Round func(now time.Time)
	Now   func() time.Time // nil means time.Now
	Log   *slog.Logger
}

// Loop runs l until ctx ends, then applies what the log still holds and
// saves the checkpoint, so a clean stop leaves nothing for the next start
// (on a write error it stops where it got). Each saved checkpoint is
// Applied and Released.
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
		}
		retry = false
		if len(entries) > 0 || batchPos > pending {
			pending, dirty = batchPos, true
		}
		t := now()
		if dirty && (len(entries) == 0 || t.Sub(saved) >= time.Second) {
			if err := save(pending); err != nil {
				l.Log.Error(l.Name+": saving the checkpoint failed; retrying", "err", err)
			} else {
				dirty = false
			}
			saved = t
		}
		if l.Round != nil {
			l.Round(t)
		}
		if len(entries) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return f.drain(l, save, nil)
		case <-progress:
		case <-time.After(time.Second):
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
