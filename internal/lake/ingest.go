package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// pending is one store's events read but not yet written.
type pending struct {
	files *storeFiles
	rows  []duck.Row
	first time.Time // when the oldest row was read
	skip  uint64    // the store's checkpoint: events up to it are in its files
}

// ingester is Run's state.
type ingester struct {
	e       *Engine
	specs   []*compiled
	gen     string // fingerprint of specs
	pend    map[string]*pending
	pos     uint64 // every event up to here has been read and routed
	lastRel time.Time
	failing error // the last write failed: reading pauses until one succeeds
}

// Run follows the log until ctx is cancelled, then writes what it has read
// and returns. Maintenance (compaction, retention, purging) runs beside it.
func (e *Engine) Run(ctx context.Context, log Log) error {
	mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.maintainLoop(mctx)
	}()
	defer func() {
		stop()
		<-done
	}()
	in := &ingester{e: e, pend: map[string]*pending{}, pos: log.Position()}
	tick := time.NewTicker(e.opts.FlushInterval / 4)
	defer tick.Stop()
	for {
		progress := log.Progress()
		n := 0
		if in.failing == nil {
			var err error
			if n, err = in.read(log); err != nil {
				return err
			}
		}
		in.flush(false)
		in.release(log, false)
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			for {
				n, err := in.read(log)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
			}
			if err := in.flush(true); err != nil {
				return err
			}
			in.release(log, true)
			return nil
		case <-progress:
		case <-tick.C:
		}
	}
}

// read reads one batch from the log and routes it to the stores' pending
// rows. The catalogue is read after the batch: a store created after that
// read has an ingestion range starting after every event of the batch.
func (in *ingester) read(log Log) (int, error) {
	ents, err := log.Read(4096)
	if err != nil {
		return 0, fmt.Errorf("lake: read the event log: %w", err)
	}
	if err := in.refresh(); err != nil {
		return 0, err
	}
	now := time.Now()
	for _, ent := range ents {
		var row *duck.Row
		for _, c := range in.specs {
			if !c.admits(ent.Seq, ent.Event) {
				continue
			}
			p := in.pend[c.spec.ID]
			if ent.Seq <= p.skip {
				continue
			}
			if row == nil {
				r := duck.RowOf(ent.Seq, ent.Event)
				row = &r
			}
			if len(p.rows) == 0 {
				p.first = now
			}
			p.rows = append(p.rows, *row)
		}
	}
	in.pos = max(in.pos, log.Position())
	return len(ents), nil
}

// refresh re-reads the catalogue and opens stores seen for the first time.
func (in *ingester) refresh() error {
	all := in.e.opts.Stores.DataStores()
	gen := ""
	for _, s := range all {
		gen += fmt.Sprintf("%s:%d;", s.ID, s.Generation)
	}
	if gen == in.gen {
		return nil
	}
	specs := make([]*compiled, 0, len(all))
	live := map[string]bool{}
	for _, s := range all {
		live[s.ID] = true
		c := compile(s)
		specs = append(specs, c)
		if in.pend[s.ID] == nil {
			f, err := in.e.open(s)
			if err != nil {
				return err
			}
			in.pend[s.ID] = &pending{files: f, skip: f.checkpoint()}
		}
	}
	for id, p := range in.pend {
		if !live[id] && len(p.rows) == 0 {
			delete(in.pend, id) // purged
		}
	}
	in.specs, in.gen = specs, gen
	return nil
}

// flush writes the stores whose batch is due (every store's, when all).
// A failed write (a full disk, say) keeps the rows and is retried on the
// next call; until one succeeds, Run reads no more of the log.
func (in *ingester) flush(all bool) error {
	now := time.Now()
	var failed error
	for _, p := range in.pend {
		if len(p.rows) == 0 {
			continue
		}
		if !all && in.failing == nil && len(p.rows) < in.e.opts.FlushRows && now.Sub(p.first) < in.e.opts.FlushInterval {
			continue
		}
		if err := in.e.writeBatch(p.files, p.rows, in.pos); err != nil {
			failed = err
			continue
		}
		p.rows, p.skip = p.rows[:0], in.pos
	}
	switch {
	case failed != nil && in.failing == nil:
		in.e.log.Error("lake: cannot write event data store files; ingestion pauses and retries", "err", failed)
	case failed == nil && in.failing != nil:
		in.e.log.Info("lake: writing event data store files again")
	}
	in.failing = failed
	return failed
}

// release moves the engine's checkpoint to the last position every store
// has written, at most once per flush interval unless final.
func (in *ingester) release(log Log, final bool) {
	low := in.pos
	for _, p := range in.pend {
		if len(p.rows) > 0 {
			low = min(low, p.rows[0].Seq-1)
		}
	}
	e := in.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if low <= e.saved || !final && time.Since(in.lastRel) < e.opts.FlushInterval {
		return
	}
	if err := e.saveStateLocked(low); err != nil {
		e.log.Error("lake: could not save the checkpoint; will retry", "err", err)
		return
	}
	in.lastRel = time.Now()
	log.Release(low)
}

// writeBatch writes rows (events after the store's checkpoint, in log
// order) as one file per UTC day and commits them with checkpoint pos.
func (e *Engine) writeBatch(s *storeFiles, rows []duck.Row, pos uint64) error {
	byDay := map[string][]duck.Row{}
	var days []string
	for _, r := range rows {
		d := r.EventTime.UTC().Format(time.DateOnly)
		if byDay[d] == nil {
			days = append(days, d)
		}
		byDay[d] = append(byDay[d], r)
	}
	var added []File
	for _, d := range days {
		rs := byDay[d]
		f, err := e.writeFile(s, 'b', d, rs, 0)
		if err != nil {
			return err
		}
		added = append(added, f)
	}
	return s.commit(added, nil, pos)
}

// writeFile writes rows of one day as a durable file of the store.
func (e *Engine) writeFile(s *storeFiles, kind byte, day string, rows []duck.Row, gen uint64) (File, error) {
	f := File{Day: day, Rows: int64(len(rows)), MinSeq: rows[0].Seq, MaxSeq: rows[0].Seq,
		MinTime: rows[0].EventTime, MaxTime: rows[0].EventTime}
	for _, r := range rows {
		f.MinSeq, f.MaxSeq = min(f.MinSeq, r.Seq), max(f.MaxSeq, r.Seq)
		if r.EventTime.Before(f.MinTime) {
			f.MinTime = r.EventTime
		}
		if r.EventTime.After(f.MaxTime) {
			f.MaxTime = r.EventTime
		}
	}
	duck.SortRows(rows)
	f.Name = fileName(kind, day, f.MinSeq, f.MaxSeq, gen)
	err := e.durable(s, f.Name, func(tmp string) error {
		return e.writer.WriteParquet(context.Background(), tmp, rows)
	})
	if err != nil {
		return File{}, err
	}
	if err := e.writeBloom(s, f.Name, bloomOfRows(rows)); err != nil {
		return File{}, err
	}
	return finishFile(s, f)
}

// bloomOfRows is the eventid filter of rows.
func bloomOfRows(rows []duck.Row) *bloom {
	b := newBloom(len(rows))
	for i := range rows {
		if id := rows[i].EventID(); id != "" {
			b.add(id)
		}
	}
	return b
}

// writeBloom writes the eventid filter of the file name durably.
func (e *Engine) writeBloom(s *storeFiles, name string, b *bloom) error {
	return e.durable(s, name+bloomSuffix, func(tmp string) error {
		return os.WriteFile(tmp, b.marshal(), 0o644)
	})
}

// bloomSuffix names a file's eventid filter.
const bloomSuffix = ".bloom"

// finishFile fills in a written file's size and hash.
func finishFile(s *storeFiles, f File) (File, error) {
	path := filepath.Join(s.dir, f.Name)
	st, err := os.Stat(path)
	if err != nil {
		return File{}, fmt.Errorf("lake: %w", err)
	}
	f.Bytes = st.Size()
	if f.SHA256, err = hashFile(path); err != nil {
		return File{}, fmt.Errorf("lake: %w", err)
	}
	return f, nil
}

// durable has write produce a file at a temporary path, then fsyncs it,
// renames it to name (under the store's directory) and fsyncs the
// directory.
func (e *Engine) durable(s *storeFiles, name string, write func(tmp string) error) error {
	path := filepath.Join(s.dir, name)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(name)+".tmp")
	if err := write(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lake: write %s: %w", path, err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = fileutil.SyncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lake: write %s: %w", path, err)
	}
	return nil
}
