package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
)

// The followers of the event log (datadir.Followers names them): every
// engine that follows the log is built here, started and stopped together,
// and checked by fsck.
// follower is one engine that follows the log.
type follower struct {
	name string
	gate bool
	// checkpoint returns the seq the engine has durably processed: it
	// follows the log from the next one. head is the log's head.
	checkpoint func(head uint64) (uint64, error)
	// behind, when set, is called when the log no longer holds the
	// engine's checkpoint (store.ErrFollowerBehind); it returns a new
	// checkpoint to follow from, or an error.
	behind func(head uint64) (uint64, error)
	run    func(ctx context.Context, f *store.Follower) error
}

// resumable is an engine that keeps its own checkpoint (trail delivery,
// Insights).
type resumable interface {
	Checkpoint() (uint64, bool)
	Init(head uint64) error
}

// resumeFrom is the checkpoint function of a resumable engine's follower:
// its own checkpoint, or, for an engine that has none yet, the log's head,
// from which it is initialised.
func resumeFrom(r resumable) func(head uint64) (uint64, error) {
	return func(head uint64) (uint64, error) {
		if ck, ok := r.Checkpoint(); ok {
			return ck, nil
		}
		return head, r.Init(head)
	}
}

// followers runs a set of followers of one store under one errgroup.
type followers struct {
	mu      sync.Mutex // serializes start and stop
	log     *slog.Logger
	store   *store.Store
	list    []follower
	running []*store.Follower
	cancel  context.CancelFunc
	group   *errgroup.Group
	failed  <-chan struct{} // closed when a follower fails
}

// register registers every follower with the store at its checkpoint, so
// a checkpoint the log cannot serve (behind it, or ahead of it) is refused
// before anything runs.
func (fs *followers) register() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	head := fs.store.Head()
	for _, e := range fs.list[len(fs.running):] {
		ck, err := e.checkpoint(head)
		if err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		f, err := fs.store.Follow(e.name, ck, store.FollowOptions{Gate: e.gate})
		if errors.Is(err, store.ErrFollowerBehind) && e.behind != nil {
			if ck, err = e.behind(head); err == nil {
				f, err = fs.store.Follow(e.name, ck, store.FollowOptions{Gate: e.gate})
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w; `opentrail fsck` says more", e.name, err)
		}
		fs.running = append(fs.running, f)
	}
	return nil
}

// start runs the registered followers until stop. A follower that returns
// an error cancels the others; Failed is then closed and stop returns the
// error.
func (fs *followers) start() error {
	if err := fs.register(); err != nil {
		return err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.group != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	fs.cancel = cancel
	g, gctx := errgroup.WithContext(ctx)
	fs.group, fs.failed = g, gctx.Done()
	// After a crash every follower reads back, from the WAL, what it had
	// not made durable; lookups wait for event history (the gating
	// follower) to catch up. The others start once it has, or after
	// firstWait, so that the two cores serve start-up first.
	head := fs.store.Head()
	var gates []*store.Follower
	for i, e := range fs.list {
		if e.gate {
			gates = append(gates, fs.running[i])
		}
	}
	for i, e := range fs.list {
		f := fs.running[i]
		g.Go(func() error {
			if !e.gate {
				waitFor(gctx, gates, head)
			}
			if err := e.run(gctx, f); err != nil {
				fs.log.Error("a follower of the event log failed; stopping", "follower", e.name, "err", err)
				return fmt.Errorf("%s: %w", e.name, err)
			}
			return nil
		})
	}
	return nil
}

// firstWait bounds how long the followers that do not gate the log wait
// at start for the ones that do.
const firstWait = 10 * time.Second

// waitFor waits until every follower of gates has read up to head, or
// firstWait has passed, or ctx is done.
func waitFor(ctx context.Context, gates []*store.Follower, head uint64) {
	deadline := time.Now().Add(firstWait)
	for _, f := range gates {
		for f.Position() < head && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// Failed is closed when a follower has failed (or stop was called).
func (fs *followers) Failed() <-chan struct{} {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.failed
}

// stop cancels the followers, waits for them (each finishes what the log
// holds and makes it durable) and closes their registrations. It is safe
// to call twice.
func (fs *followers) stop() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var err error
	if fs.cancel != nil {
		fs.cancel()
		err = fs.group.Wait()
	}
	for _, f := range fs.running {
		err = errors.Join(err, f.Close())
	}
	fs.cancel, fs.group, fs.running = nil, nil, nil
	return err
}

// historyEntry is event history as a follower.
func historyEntry(h *history.History) follower {
	return follower{
		name: datadir.HistoryFollower,
		gate: true,
		checkpoint: func(uint64) (uint64, error) {
			return h.Checkpoint(), nil
		},
		run: func(ctx context.Context, f *store.Follower) error { return h.Run(ctx, f) },
	}
}

// events is the event log and event history as the API uses them.
type events struct {
	*store.Store
	history *history.History
}

func (e events) Lookup(ctx context.Context, q history.Query) (history.Page, error) {
	return e.history.Lookup(ctx, q)
}
