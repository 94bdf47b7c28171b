package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// pending is one store's events read but not yet handed to the writer.
type pending struct {
	files *storeFiles
	rows  []duck.Row
	bytes int       // the rows' size
	first time.Time // when the oldest row was read
	skip  uint64    // the store's checkpoint when opened: events up to it are in its files
	keys  []string  // the store's context keys: its rows are enriched (decision 161)
}

// batch is events of one store, in log order, handed to the writers: a
// write worker writes its files, then the committer commits them with the
// store's checkpoint pos, in the order the batches were handed over.
type batch struct {
	files   *storeFiles
	rows    []duck.Row
	pos     uint64
	written chan writeResult // the worker's result
}

// writeResult is a batch's files, or why they could not be written.
type writeResult struct {
	files []File
	err   error
}

// ingester is Run's state. One goroutine reads the log, converts the
// events to rows (on every core) and routes them to the stores' pending
// batches; write workers, one per core, write the batches' files, and the
// committer (commit) lists them in each store's MANIFEST in order, so
// reading goes on while batches are written.
type ingester struct {
	e       *Engine
	specs   []*compiled
	gen     string // fingerprint of specs
	pend    map[string]*pending
	pos     uint64 // every event up to here has been read and routed
	lastRel time.Time

	work     chan *batch   // to the write workers; unbuffered: one takes it when free
	commits  chan *batch   // to the committer, in the order handed over
	stop     chan struct{} // closed when Run stops (halt): a failed write is not retried
	stopOnce sync.Once
	done     chan error // the committer's end: nil, or why batches were left unwritten

	mu     sync.Mutex
	flying []uint64 // the first seq of each batch handed over and not yet committed
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
	workers := runtime.GOMAXPROCS(0)
	in := &ingester{e: e, pend: map[string]*pending{}, pos: log.Position(),
		work: make(chan *batch), commits: make(chan *batch, workers+1),
		stop: make(chan struct{}), done: make(chan error, 1)}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(in.writeFiles)
	}
	go in.commit()
	err := in.follow(ctx, log)
	in.halt()
	close(in.work)
	close(in.commits)
	wg.Wait()
	if werr := <-in.done; err == nil {
		err = werr
	}
	if err == nil {
		in.release(log, true)
	}
	return err
}

// follow reads the log until ctx is cancelled, handing batches to the
// write workers; then it reads what is left and hands over every batch.
func (in *ingester) follow(ctx context.Context, log Log) error {
	tick := time.NewTicker(in.e.opts.FlushInterval / 4)
	defer tick.Stop()
	for {
		progress := log.Progress()
		n, err := in.read(log)
		if err != nil {
			return err
		}
		in.flush(ctx, false)
		in.release(log, false)
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			in.halt()
			for {
				n, err := in.read(log)
				if err != nil {
					return err
				}
				if n == 0 {
					break
				}
				in.flush(ctx, false)
			}
			in.flush(ctx, true)
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
	// Which stores take each event, then the rows, converted in parallel
	// (each event on its own), then routed in log order.
	takers := make([][]*pending, len(ents))
	var want []int
	for i, ent := range ents {
		for _, c := range in.specs {
			if !in.e.takes(c, ent.Seq, ent.Event) {
				continue
			}
			p := in.pend[c.spec.ID]
			if ent.Seq <= p.skip {
				continue
			}
			takers[i] = append(takers[i], p)
		}
		if takers[i] != nil {
			want = append(want, i)
		}
	}
	// Every store that takes an event has one schema: an event from
	// outside AWS goes only to stores of that kind, any other event
	// only to the others. A store that enriches events has rows of its
	// own.
	rows := make([]duck.Row, len(ents))
	parallel(len(want), func(k int) {
		i := want[k]
		p := takers[i][0]
		rows[i] = in.e.rowOf(p.files, p.keys, ents[i].Seq, ents[i].Event)
	})
	now := time.Now()
	for _, i := range want {
		for _, p := range takers[i] {
			if len(p.rows) == 0 {
				p.first = now
			}
			row := rows[i]
			if first := takers[i][0]; p != first && (p.files.schema != first.files.schema || len(p.keys) > 0 || len(first.keys) > 0) {
				row = in.e.rowOf(p.files, p.keys, ents[i].Seq, ents[i].Event)
			}
			p.rows = append(p.rows, row)
			p.bytes += row.Size()
		}
	}
	in.pos = max(in.pos, log.Position())
	return len(ents), nil
}

// parallel calls fn(0) to fn(n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/64+1)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(64)) - 64
				if i >= n {
					return
				}
				for j := i; j < min(i+64, n); j++ {
					fn(j)
				}
			}
		})
	}
	wg.Wait()
}

// refresh re-reads the catalogue and opens stores seen for the first time.
func (in *ingester) refresh() error {
	all := in.e.opts.Stores.DataStores()
	gen := ""
	for _, s := range all {
		gen += fmt.Sprintf("%s:%d;", s.ID, s.Generation)
		// Channels belong to another catalogue, whose changes do not
		// change the store's Generation: they count by value.
		for _, ch := range s.Channels {
			gen += fmt.Sprintf("%s%v;", ch.ARN, ch.Ingest)
		}
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
		in.pend[s.ID].keys = s.ContextKeys
	}
	for id, p := range in.pend {
		if !live[id] && len(p.rows) == 0 {
			delete(in.pend, id) // purged
		}
	}
	in.specs, in.gen = specs, gen
	return nil
}

// flush hands the stores' due batches to the write workers (every store's,
// when all). A batch is due once it is FlushInterval old, when a worker is
// free; and once it holds FlushRows events or FlushBytes, when the reader
// waits for one (back-pressure: while the committer retries a failed
// write, the batches queue up to it and reading stops there).
func (in *ingester) flush(ctx context.Context, all bool) {
	now := time.Now()
	for _, p := range in.pend {
		if len(p.rows) == 0 {
			continue
		}
		full := len(p.rows) >= in.e.opts.FlushRows || p.bytes >= in.e.opts.FlushBytes
		if !all && !full && now.Sub(p.first) < in.e.opts.FlushInterval {
			continue
		}
		b := &batch{files: p.files, rows: p.rows, pos: in.pos, written: make(chan writeResult, 1)}
		in.mu.Lock()
		in.flying = append(in.flying, b.rows[0].Seq)
		in.mu.Unlock()
		sent := false
		if !all && !full {
			select {
			case in.work <- b:
				sent = true
			default:
			}
		} else {
			select {
			case in.work <- b:
				sent = true
			case <-ctx.Done():
				in.work <- b // a worker takes it soon: workers wait on nothing else
				sent = true
			}
		}
		if !sent {
			in.landed(b) // not handed over: it keeps growing
			continue
		}
		in.commits <- b
		p.rows, p.bytes = nil, 0
	}
}

// halt tells the committer that Run is stopping.
func (in *ingester) halt() { in.stopOnce.Do(func() { close(in.stop) }) }

// landed drops a batch from the ones in flight.
func (in *ingester) landed(b *batch) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if i := slices.Index(in.flying, b.rows[0].Seq); i >= 0 {
		in.flying = slices.Delete(in.flying, i, i+1)
	}
}

// writeFiles is a write worker: it writes the files of the batches it
// takes until the work channel closes.
func (in *ingester) writeFiles() {
	for b := range in.work {
		files, err := in.e.writeBatchFiles(b.files, b.rows)
		b.written <- writeResult{files, err}
	}
}

// commit commits the batches in the order they were handed over, each once
// its files are written, until the commits channel closes. A failed write
// or commit (a full disk, say) is retried, with a growing pause, until it
// succeeds; once Run stops it is not, and the batches after it are left
// uncommitted too (their events are read again at the next start), so no
// store's checkpoint passes an unwritten event.
func (in *ingester) commit() {
	var failed error
	pause := time.Second
	for b := range in.commits {
		res := <-b.written
		for failed == nil {
			err := res.err
			if err == nil {
				err = b.files.commit(res.files, nil, b.pos)
			}
			if err == nil {
				if pause > time.Second {
					in.e.log.Info("lake: writing event data store files again")
					pause = time.Second
				}
				break
			}
			if pause == time.Second {
				in.e.log.Error("lake: cannot write event data store files; ingestion waits and retries", "err", err)
			}
			select {
			case <-in.stop:
				failed = err
			case <-time.After(pause):
				pause = min(2*pause, 30*time.Second)
			}
			if failed == nil && res.err != nil {
				res.files, res.err = in.e.writeBatchFiles(b.files, b.rows)
			}
		}
		if failed == nil {
			in.landed(b)
		}
	}
	in.done <- failed
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
	in.mu.Lock()
	for _, seq := range in.flying {
		low = min(low, seq-1)
	}
	in.mu.Unlock()
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

// writeBatchFiles writes rows (events after the store's checkpoint, in log
// order) as one durable file per UTC day, to be committed.
func (e *Engine) writeBatchFiles(s *storeFiles, rows []duck.Row) ([]File, error) {
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
			return nil, err
		}
		added = append(added, f)
	}
	return added, nil
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
		return e.writer.WriteParquet(context.Background(), s.schema, tmp, rows)
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
	if f.SHA256, err = fileutil.SHA256(path); err != nil {
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
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
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
