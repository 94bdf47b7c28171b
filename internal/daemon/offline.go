package daemon

import (
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
)

// OfflineOptions configure OpenOffline.
type OfflineOptions struct {
	// Retention is event history's retention (the data directory's
	// setting). OpenOffline never sweeps: a process that adds events must
	// not delete any meanwhile.
	Retention time.Duration
	// Dedupe makes the store able to skip duplicates (imports).
	Dedupe     bool
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Store tunes the event store; nil means store.DefaultOptions.
	Store func(*store.Options)
}

// Offline is a data directory's event log and event history opened by a
// process that adds events without serving them (import, benchmarks). It
// runs history as the log's follower, and keeps the WAL for the other
// followers (trail delivery, when some trail is logging) until the server
// next starts. The caller holds the data directory's lock.
type Offline struct {
	Store   *store.Store
	History *history.History
	follow  *followers
}

// OpenOffline opens the event store of the data directory dir and starts
// event history following it.
func OpenOffline(dir string, o OfflineOptions) (off *Offline, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// Closed on failure through its own variable: the failure paths
	// return a nil *Offline.
	opened := &Offline{}
	off = opened
	defer func() {
		if err != nil {
			err = errors.Join(err, opened.Close())
		}
	}()
	ho := history.DefaultOptions()
	ho.Retention = o.Retention
	ho.FirstSweep = 0
	ho.Logger, ho.Registerer = o.Logger, o.Registerer
	if off.History, err = history.Open(filepath.Join(dir, datadir.IndexDir), ho); err != nil {
		return nil, err
	}
	held, err := StoreFollowers(dir)
	if err != nil {
		return nil, err
	}
	so := store.DefaultOptions()
	if o.Store != nil {
		o.Store(&so)
	}
	so.Logger, so.Registerer = o.Logger, o.Registerer
	so.Followers = append([]string{datadir.HistoryFollower}, held...)
	so.Seen = max(off.History.Checkpoint(), followerCheckpoints[datadir.DeliveryFollower](dir), lakeCheckpoint(dir))
	if o.Dedupe {
		so.Dedupe = off.History
	}
	if off.Store, err = store.Open(filepath.Join(dir, datadir.EventsDir), so); err != nil {
		return nil, err
	}
	off.follow = &followers{log: o.Logger, store: off.Store, list: []follower{historyEntry(off.History)}}
	if err := off.follow.start(); err != nil {
		return nil, err
	}
	return off, nil
}

// Failed is closed when event history has failed; Close then says why.
func (off *Offline) Failed() <-chan struct{} { return off.follow.Failed() }

// Finish stops event history once it has applied (and flushed) every
// event appended; History then answers for everything, until Close.
func (off *Offline) Finish() error {
	if off.follow == nil {
		return nil
	}
	return off.follow.stop()
}

// Close finishes, then closes history and the store. It is safe to call
// twice.
func (off *Offline) Close() error {
	errs := []error{off.Finish()}
	if off.History != nil {
		errs = append(errs, off.History.Close())
		off.History = nil
	}
	if off.Store != nil {
		errs = append(errs, off.Store.Close())
		off.Store = nil
	}
	return errors.Join(errs...)
}
