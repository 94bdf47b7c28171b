package lake

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// maintainLoop runs maintenance every MaintainInterval until ctx ends.
func (e *Engine) maintainLoop(ctx context.Context) {
	// The first round comes soon after start: it checks the files a crash
	// or a disk may have damaged while the server was down.
	t := time.NewTimer(min(e.opts.MaintainInterval, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(e.opts.MaintainInterval)
			if err := e.Maintain(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("lake: maintenance failed; retrying later", "err", err)
			}
		}
	}
}

// Maintain runs one round of maintenance: it purges stores whose
// PENDING_DELETION period is over, drops files past each store's
// retention, and compacts days with many files.
//
// Rounds run one at a time: two compactions of the same files would both
// replace them (the second commit is refused, but its work is wasted).
func (e *Engine) Maintain(ctx context.Context) error {
	e.maintMu.Lock()
	defer e.maintMu.Unlock()
	now := e.opts.Now()
	var errs []error
	for _, spec := range e.opts.Stores.DataStores() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if spec.Deleted {
			if now.Sub(spec.DeletedAt) >= e.opts.PurgeAfter {
				if err := e.purge(spec); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		s, err := e.open(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := s.scrub(filepath.Join(e.dir, "quarantine"), e.rebuilder(ctx, s, spec)); err != nil {
			errs = append(errs, err)
		}
		if err := e.repairBlooms(ctx, s); err != nil {
			errs = append(errs, err)
		}
		if err := e.expire(s, spec, now); err != nil {
			errs = append(errs, err)
		}
		if err := e.compact(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
	}
	return nil
}

// expire unlists the files whose newest event is older than the store's
// retention period: whole days, as they are partitioned.
func (e *Engine) expire(s *storeFiles, spec StoreSpec, now time.Time) error {
	if spec.Retention <= 0 {
		return nil
	}
	cut := now.Add(-spec.Retention)
	var gone []string
	var rows int64
	for _, f := range s.files() {
		if f.MaxTime.Before(cut) {
			gone = append(gone, f.Name)
			rows += f.Rows
		}
	}
	if len(gone) == 0 {
		return nil
	}
	if err := s.commit(nil, gone, 0); err != nil {
		return err
	}
	e.log.Info("lake: retention removed old events", "store", spec.ID, "files", len(gone), "events", rows, "before", cut)
	return nil
}

// compact merges the small files of each day. Files are merged by size
// tier (tier): once CompactFiles files of one tier are there, they become
// one file of about the next tier, so an event is rewritten about once per
// tier it climbs (two or three times on a busy day) rather than each time a
// growing file takes in the newest batches. A day before today that is
// quiet (no batch or import part added for MaintainInterval; live events
// arrive for today, imports and late events fill past days) has all its
// small files merged at once, into files of up to CompactMaxRows events.
func (e *Engine) compact(ctx context.Context, s *storeFiles) error {
	byDay := map[string][]File{}
	for _, f := range s.files() {
		if f.Rows < int64(e.opts.CompactMaxRows) {
			byDay[f.Day] = append(byDay[f.Day], f)
		}
	}
	days := make([]string, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	slices.Sort(days)
	today := e.opts.Now().UTC().Format(time.DateOnly)
	for _, d := range days {
		var groups [][]File
		final := d < today && time.Since(s.lastAdded(d)) >= e.opts.MaintainInterval
		if final {
			groups = [][]File{byDay[d]}
		} else {
			byTier := map[int][]File{}
			for _, f := range byDay[d] {
				t := e.tier(f.Rows)
				byTier[t] = append(byTier[t], f)
			}
			for _, fs := range byTier {
				if len(fs) >= e.opts.CompactFiles {
					groups = append(groups, fs)
				}
			}
		}
		for _, in := range groups {
			if err := e.compactGroup(ctx, s, d, in, final); err != nil {
				return err
			}
		}
	}
	return nil
}

// tier is the size tier of a file of rows rows: files of one tier differ
// in size by less than a factor of CompactFiles.
func (e *Engine) tier(rows int64) int {
	t := 0
	for f := int64(max(e.opts.CompactFiles, 2)); rows >= f; rows /= f {
		t++
	}
	return t
}

// compactGroup merges the files in of one day, in log order, into files of
// up to CompactMaxRows rows: no output grows past it. The outputs of a
// final merge (a quiet past day), and those of half CompactMaxRows or more,
// are not merged again, or seldom: they are compressed harder.
func (e *Engine) compactGroup(ctx context.Context, s *storeFiles, day string, in []File, final bool) error {
	slices.SortFunc(in, func(a, b File) int { return cmp.Compare(a.MinSeq, b.MinSeq) })
	for len(in) > 1 {
		n, rows := 0, int64(0)
		for n < len(in) && (n == 0 || rows+in[n].Rows <= int64(e.opts.CompactMaxRows)) {
			rows += in[n].Rows
			n++
		}
		if n > 1 {
			if err := e.compactDay(ctx, s, day, in[:n], final || 2*rows >= int64(e.opts.CompactMaxRows)); err != nil {
				return err
			}
		}
		in = in[n:]
	}
	return nil
}

// compactDay replaces the files in by one, their rows in log order (the
// order live events arrive in, so nearly by eventtime).
func (e *Engine) compactDay(ctx context.Context, s *storeFiles, day string, in []File, final bool) error {
	in = slices.Clone(in)
	slices.SortFunc(in, func(a, b File) int { return cmp.Compare(a.MinSeq, b.MinSeq) })
	out := File{Day: day, MinSeq: in[0].MinSeq, MaxSeq: in[0].MaxSeq, MinTime: in[0].MinTime, MaxTime: in[0].MaxTime}
	paths := make([]string, len(in))
	names := make([]string, len(in))
	for i, f := range in {
		paths[i] = filepath.Join(s.dir, f.Name)
		names[i] = f.Name
		out.Rows += f.Rows
		out.MinSeq, out.MaxSeq = min(out.MinSeq, f.MinSeq), max(out.MaxSeq, f.MaxSeq)
		if f.MinTime.Before(out.MinTime) {
			out.MinTime = f.MinTime
		}
		if f.MaxTime.After(out.MaxTime) {
			out.MaxTime = f.MaxTime
		}
	}
	s.mu.RLock()
	gen := s.man.Generation + 1
	s.mu.RUnlock()
	out.Name = fileName('c', day, out.MinSeq, out.MaxSeq, gen)
	err := e.durable(s, out.Name, func(tmp string) error { return e.writer.Compact(ctx, s.schema, tmp, paths, final) })
	if err != nil {
		return err
	}
	b := newBloom(int(out.Rows))
	if err := e.writer.EventIDs(ctx, filepath.Join(s.dir, out.Name), b.add); err != nil {
		return err
	}
	if err := e.writeBloom(s, out.Name, b); err != nil {
		return err
	}
	out, err = finishFile(s, out)
	if err != nil {
		return err
	}
	if err := s.commit([]File{out}, names, 0); err != nil {
		os.Remove(filepath.Join(s.dir, out.Name))
		return err
	}
	e.log.Info("lake: compacted a day's files into one", "store", s.man.Store, "day", day, "into", out.Name, "events", out.Rows, "bytes", out.Bytes, "from", names)
	return nil
}

// purge deletes a store's files and removes it from the catalogue.
func (e *Engine) purge(spec StoreSpec) error {
	e.mu.Lock()
	delete(e.stores, spec.ID)
	e.mu.Unlock()
	if err := os.RemoveAll(e.storeDir(spec.Account, spec.ID)); err != nil {
		return fmt.Errorf("lake: purge store %s: %w", spec.ID, err)
	}
	if err := e.opts.Stores.Purge(spec.ID); err != nil {
		return fmt.Errorf("lake: purge store %s: %w", spec.ID, err)
	}
	e.log.Info("lake: a deleted event data store's 7 days are over; its events are gone", "store", spec.ID)
	return nil
}

// repairBlooms rewrites the eventid filters that are missing or damaged
// (they are derived from the file; a query without one reads the file).
func (e *Engine) repairBlooms(ctx context.Context, s *storeFiles) error {
	for _, f := range s.files() {
		if s.bloomOf(f.Name) != nil {
			continue
		}
		b := newBloom(int(f.Rows))
		if err := e.writer.EventIDs(ctx, filepath.Join(s.dir, f.Name), b.add); err != nil {
			return err
		}
		if err := e.writeBloom(s, f.Name, b); err != nil {
			return err
		}
		s.bmu.Lock()
		delete(s.blooms, f.Name)
		s.bmu.Unlock()
		e.log.Info("lake: rewrote a missing or damaged eventid filter", "store", s.man.Store, "file", f.Name)
	}
	return nil
}
