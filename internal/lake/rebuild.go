package lake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/store"
)

// LogReader reads back a range of the event log (a *store.Store): what a
// damaged file of a store is rebuilt from.
type LogReader interface {
	ReadRange(from, to uint64, fn func(store.Entry) error) error
}

// errNoRebuild: the file cannot be rebuilt from the log (an import part,
// or an engine without the log).
var errNoRebuild = errors.New("lake: the file's events are not in the event log")

// rebuilder returns the function that rebuilds a damaged or missing file
// of the store from the event log (nil when the engine has no LogReader),
// for storeFiles.scrub.
func (e *Engine) rebuilder(ctx context.Context, s *storeFiles, spec StoreSpec) func(File) ([]File, error) {
	if e.opts.WAL == nil {
		return nil
	}
	return func(lost File) ([]File, error) { return e.rebuild(ctx, s, spec, lost) }
}

// rebuild writes again, from the event log, the events a lost file held:
// the events of its sequence range and day that the store admits and that
// no other file of the day holds (a compaction output's range may span
// another file's). The files it writes are durable and not listed: the
// caller lists them in the commit that unlists the lost file. It fails
// when the log no longer holds the whole range (store.ErrNotRetained).
func (e *Engine) rebuild(ctx context.Context, s *storeFiles, spec StoreSpec, lost File) ([]File, error) {
	if lost.MaxSeq == 0 {
		return nil, errNoRebuild // an import part: its events came from log files, not the log
	}
	have := map[string]bool{}
	for _, f := range s.files() {
		if f.Name == lost.Name || f.Day != lost.Day || f.MaxSeq < lost.MinSeq || f.MinSeq > lost.MaxSeq {
			continue
		}
		if err := e.writer.EventIDs(ctx, filepath.Join(s.dir, f.Name), func(id string) { have[id] = true }); err != nil {
			return nil, err
		}
	}
	c := compile(spec)
	var cut time.Time
	if spec.Retention > 0 {
		cut = e.opts.Now().Add(-spec.Retention)
	}
	var out []File
	var rows []duck.Row
	write := func() error {
		if len(rows) == 0 {
			return nil
		}
		s.mu.RLock()
		gen := s.man.Generation + 1 + uint64(len(out))
		s.mu.RUnlock()
		f, err := e.writeFile(s, 'c', lost.Day, rows, gen)
		if err != nil {
			return err
		}
		out = append(out, f)
		rows = nil
		return nil
	}
	err := e.opts.WAL.ReadRange(lost.MinSeq, lost.MaxSeq, func(en store.Entry) error {
		ev := en.Event
		if ev == nil || !e.takes(c, en.Seq, ev) || ev.EventTime.UTC().Format(time.DateOnly) != lost.Day || have[ev.EventID] ||
			!cut.IsZero() && ev.EventTime.Before(cut) {
			return nil
		}
		rows = append(rows, e.rowOf(s, spec.ContextKeys, en.Seq, ev))
		if len(rows) >= e.opts.FlushRows {
			return write()
		}
		return nil
	})
	if err == nil {
		err = write()
	}
	if err != nil {
		for _, f := range out { // written, never listed
			os.Remove(filepath.Join(s.dir, f.Name))
			os.Remove(filepath.Join(s.dir, f.Name+bloomSuffix))
		}
		return nil, fmt.Errorf("lake: rebuild %s from the event log: %w", lost.Name, err)
	}
	return out, nil
}
