package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/logfile"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Source is where an import reads trail log files.
type Source interface {
	// List returns the files to import, in a stable order.
	List(ctx context.Context) ([]SourceFile, error)
	// Open opens one of them. An import opens several at once, from
	// several goroutines.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// SourceFile is one file of a Source.
type SourceFile struct {
	Name   string // as Open takes it; also the Location of a failure
	Prefix string // the "directory" it is in, for PrefixesFound
	Size   int64
	// Found is true for a file found in a directory walk rather than
	// named: one that holds no CloudTrail JSON is skipped, not failed.
	Found bool
}

// BucketSource is a Source over the trail log files under prefix in a
// bucket: the keys of AWS's log-file layout (digests and other objects are
// left out).
func BucketSource(st objstore.Store, bucket, prefix string) Source {
	return bucketSource{st: st, bucket: bucket, prefix: prefix}
}

type bucketSource struct {
	st             objstore.Store
	bucket, prefix string
}

func (b bucketSource) List(ctx context.Context) ([]SourceFile, error) {
	if _, err := b.st.HeadBucket(ctx, b.bucket); err != nil {
		return nil, fmt.Errorf("%w: bucket %s: %w", imports.ErrInvalidSource, b.bucket, err)
	}
	var out []SourceFile
	after := ""
	for {
		page, err := b.st.List(ctx, b.bucket, b.prefix, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("%w: list s3://%s/%s: %w", imports.ErrInvalidSource, b.bucket, b.prefix, err)
		}
		for _, o := range page.Objects {
			after = o.Key
			k, err := layout.ParseLogKey(o.Key)
			if err != nil || k.Insight {
				continue
			}
			out = append(out, SourceFile{Name: o.Key, Prefix: path.Dir(o.Key), Size: o.Size})
		}
		if !page.Truncated || len(page.Objects) == 0 {
			return out, nil
		}
	}
}

func (b bucketSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, _, err := b.st.Get(ctx, b.bucket, name)
	return rc, err
}

// DirSource is a Source over the files under a local directory (or one
// file), in lexical order: an AWSLogs/ download, say. Hidden files are left
// out; every other file is tried, and one that is not CloudTrail JSON is
// listed as a failure.
func DirSource(root string) Source { return dirSource(root) }

type dirSource string

func (d dirSource) List(context.Context) ([]SourceFile, error) {
	root := string(d)
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", imports.ErrInvalidSource, err)
	}
	if !st.IsDir() {
		return []SourceFile{{Name: root, Prefix: filepath.Dir(root), Size: st.Size()}}, nil
	}
	var out []SourceFile
	err = filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(de.Name(), ".") && p != root {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !de.Type().IsRegular() {
			return nil
		}
		if strings.Contains(filepath.ToSlash(p), "/CloudTrail-Digest/") {
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		out = append(out, SourceFile{Name: p, Prefix: filepath.Dir(p), Size: info.Size(), Found: true})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", imports.ErrInvalidSource, err)
	}
	return out, nil
}

func (d dirSource) Open(_ context.Context, name string) (io.ReadCloser, error) { return os.Open(name) }

// imp is one import's live state.
type imp struct {
	info     imports.Info
	cancel   context.CancelFunc
	done     chan struct{}
	stopping bool // StopImport cancelled it (else a shutdown did)
}

// importsDir holds the imports' state files.
func (e *Engine) importsDir(account string) string { return filepath.Join(e.dir, "imports", account) }

// loadImports reads the kept imports; one that was running when the
// server stopped resumes when the server starts (resumeImports).
func (e *Engine) loadImports() error {
	e.imports = map[string]*imp{}
	accts, err := os.ReadDir(filepath.Join(e.dir, "imports"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	for _, a := range accts {
		dir := e.importsDir(a.Name())
		if _, err := fileutil.RemoveTemps(dir); err != nil {
			return err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("lake: %w", err)
		}
		for _, ent := range ents {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				return fmt.Errorf("lake: %w", err)
			}
			var info imports.Info
			if err := json.Unmarshal(b, &info); err != nil {
				return fmt.Errorf("%w: %s does not parse (%v); restore it from a backup or remove it", ErrDamaged, filepath.Join(dir, ent.Name()), err)
			}
			done := make(chan struct{})
			close(done)
			e.imports[info.ID] = &imp{info: info, done: done}
		}
	}
	return nil
}

// saveImport writes an import's state.
func (e *Engine) saveImport(info imports.Info) error {
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	dir := e.importsDir(info.Account)
	if err := fileutil.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lake: %w", err)
	}
	return fileutil.WriteFileAtomic(filepath.Join(dir, info.ID+".json"), b, 0o644)
}

// ResumeImports restarts, with src, the imports that were in progress when
// the server stopped. src returns the Source of an import.
func (e *Engine) ResumeImports(src func(imports.Info) (Source, error)) {
	e.mu.Lock()
	var todo []*imp
	for _, im := range e.imports {
		if im.info.Active() {
			im.done = make(chan struct{})
			todo = append(todo, im)
		}
	}
	e.mu.Unlock()
	for _, im := range todo {
		s, err := src(im.info)
		if err != nil {
			e.finishImport(im, imports.Failed, err)
			continue
		}
		e.launchImport(im, s)
	}
}

// StartImport starts importing the trail log files of src into the
// account's store; info carries the request (Store, source members, time
// range). With a retry (retryID not ""), the stopped or failed import
// resumes where it got to.
func (e *Engine) StartImport(info imports.Info, retryID string, src Source) (imports.Info, error) {
	e.mu.Lock()
	for _, im := range e.imports {
		if im.info.Account == info.Account && im.info.Active() {
			e.mu.Unlock()
			return imports.Info{}, fmt.Errorf("%w: import %s is %s; stop it or wait for it to finish", imports.ErrOngoing, im.info.ID, im.info.Status)
		}
	}
	var im *imp
	now := e.opts.Now().UTC()
	if retryID != "" {
		im = e.imports[retryID]
		if im == nil || im.info.Account != info.Account {
			e.mu.Unlock()
			return imports.Info{}, fmt.Errorf("%w: %s", imports.ErrNotFound, retryID)
		}
		if im.info.Active() {
			e.mu.Unlock()
			return imports.Info{}, fmt.Errorf("%w: import %s is %s", imports.ErrOngoing, im.info.ID, im.info.Status)
		}
		// The files that failed are read again once the others are done
		// (docs/format/lake.md, Imports).
		im.info.Status, im.info.Updated, im.stopping = imports.Initializing, now, false
		im.info.Retrying()
		info = im.info
	} else {
		info.ID, info.Status, info.Created, info.Updated = newUUID(), imports.Initializing, now, now
		im = &imp{info: info}
		e.imports[info.ID] = im
	}
	im.done = make(chan struct{})
	e.mu.Unlock()
	if err := e.saveImport(info); err != nil {
		return imports.Info{}, err
	}
	e.launchImport(im, src)
	return info, nil
}

// launchImport runs the import in the background.
func (e *Engine) launchImport(im *imp, src Source) {
	ctx, cancel := context.WithCancel(context.Background())
	e.mu.Lock()
	im.cancel = cancel
	if im.done == nil {
		im.done = make(chan struct{})
	}
	done := im.done
	e.mu.Unlock()
	e.importWG.Add(1)
	go func() {
		defer e.importWG.Done()
		defer close(done)
		defer cancel()
		err := e.runImport(ctx, im, src, nil)
		e.mu.Lock()
		stopping := im.stopping
		e.mu.Unlock()
		switch {
		case errors.Is(err, context.Canceled) && !stopping:
			// The server is stopping: the import stays IN_PROGRESS and
			// resumes at the next start.
		case errors.Is(err, context.Canceled):
			e.finishImport(im, imports.Stopped, nil)
		case err != nil:
			e.finishImport(im, imports.Failed, err)
		default:
			e.finishImport(im, imports.Completed, nil)
		}
	}()
}

// Progress is told, after each file of an import, how many files and
// bytes of how many it has read and how many events it has taken.
type Progress func(files, totalFiles int, bytes, totalBytes, events int64)

// ImportNow runs an import to its end in the caller's goroutine (the
// command line's `opentrail lake import`); progress, when not nil, is
// called as files complete.
func (e *Engine) ImportNow(ctx context.Context, info imports.Info, src Source, progress Progress) (imports.Info, error) {
	now := e.opts.Now().UTC()
	info.ID, info.Status, info.Created, info.Updated = newUUID(), imports.Initializing, now, now
	done := make(chan struct{})
	im := &imp{info: info, done: done}
	e.mu.Lock()
	e.imports[info.ID] = im
	e.mu.Unlock()
	defer close(done)
	err := e.runImport(ctx, im, src, progress)
	switch {
	case errors.Is(err, context.Canceled):
		e.finishImport(im, imports.Stopped, nil)
	case err != nil:
		e.finishImport(im, imports.Failed, err)
	default:
		e.finishImport(im, imports.Completed, nil)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return im.info, err
}

// finishImport records an import's end.
func (e *Engine) finishImport(im *imp, status string, err error) {
	e.mu.Lock()
	im.info.Status, im.info.Updated = status, e.opts.Now().UTC()
	if err != nil {
		im.info.Failures = append(im.info.Failures, imports.Failure{Location: im.info.S3LocationURI, Status: imports.Failed,
			ErrorType: "ImportError", ErrorMessage: err.Error(), LastUpdated: im.info.Updated})
		im.info.Stats.FailedEntries++
	}
	info := im.info
	e.mu.Unlock()
	if err != nil {
		e.log.Error("lake: import failed", "import", info.ID, "err", err)
	}
	if n := info.Stats.EventsSkipped; n > 0 {
		// GetImport has no member for them (the model's statistics).
		e.log.Info("lake: import skipped records: outside the store's retention or the import's time range, or not CloudTrail events",
			"import", info.ID, "status", status, "skipped", n)
	}
	if serr := e.saveImport(info); serr != nil {
		e.log.Error("lake: could not save an import's state", "import", info.ID, "err", serr)
	}
}

// runImport imports src into the import's store, from where the store's
// MANIFEST says it got to.
func (e *Engine) runImport(ctx context.Context, im *imp, src Source, progress Progress) error {
	e.mu.Lock()
	info := im.info
	e.mu.Unlock()
	var spec StoreSpec
	found := false
	for _, s := range e.opts.Stores.DataStores() {
		if s.ID == info.Store && s.Account == info.Account {
			spec, found = s, true
		}
	}
	if !found || spec.Deleted {
		return fmt.Errorf("event data store %s is gone or pending deletion", info.Store)
	}
	if spec.schema() != duck.CloudTrail {
		// Trail log files hold CloudTrail events (the daemon refuses such
		// an import before it starts).
		return fmt.Errorf("%w: event data store %s holds events from outside AWS", imports.ErrWrongStore, info.Store)
	}
	s, err := e.open(spec)
	if err != nil {
		return err
	}
	files, err := src.List(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b SourceFile) int { return strings.Compare(a.Name, b.Name) })
	mark := s.importMark(info.ID)
	if mark.Round != info.Round {
		mark.Round, mark.Retried, mark.RetryFailed = info.Round, 0, nil
	}
	prefixes := map[string]int{} // files left per prefix
	var totalBytes, bytesDone int64
	for i, f := range files {
		prefixes[f.Prefix]++
		totalBytes += f.Size
		if i < mark.Files {
			bytesDone += f.Size
		}
	}
	update := func(fn func(*imports.Info)) {
		e.mu.Lock()
		fn(&im.info)
		im.info.Updated = e.opts.Now().UTC()
		info = im.info
		e.mu.Unlock()
	}
	update(func(i *imports.Info) {
		i.Status = imports.InProgress
		i.Stats.PrefixesFound = int64(len(prefixes))
		// Outcomes of retried files committed before a stop, in case the
		// import's file did not record them.
		for _, loc := range i.Retry[:min(mark.Retried, len(i.Retry))] {
			for _, f := range i.Failures {
				if f.Location == loc && f.Status == imports.FailureRetry {
					var err error
					if slices.Contains(mark.RetryFailed, loc) {
						err = errors.New("failed again; its message was lost when the server stopped")
					}
					i.Settle(loc, err, e.opts.Now().UTC())
				}
			}
		}
		i.Tally(mark.Files)
	})
	_ = e.saveImport(info)
	done := map[string]int{}
	completed := func(upTo int) int64 {
		n := int64(0)
		for k := range done {
			delete(done, k)
		}
		for _, f := range files[:upTo] {
			done[f.Prefix]++
		}
		for p, c := range done {
			if c == prefixes[p] {
				n++
			}
		}
		return n
	}
	var cut time.Time
	if spec.Retention > 0 {
		cut = e.opts.Now().Add(-spec.Retention)
	}
	var rows []duck.Row
	var skipped int64
	var failures []imports.Failure
	var settled []settledFile // retried files, until their rows are committed
	// flush writes the rows read so far as parts and commits them with
	// the import's progress: next source files done, and the retry
	// files settled.
	flush := func(next int) error {
		added := map[string][]duck.Row{}
		var days []string
		for _, r := range rows {
			d := r.EventTime.UTC().Format(time.DateOnly)
			if added[d] == nil {
				days = append(days, d)
			}
			added[d] = append(added[d], r)
		}
		slices.Sort(days)
		var out []File
		for _, d := range days {
			f, err := e.writeImportPart(ctx, s, d, info.ID, mark.Parts, added[d])
			if cerr := ctx.Err(); err != nil && cerr != nil {
				return cerr // interrupted (DuckDB's error says so): the import resumes here
			}
			if err != nil {
				return err
			}
			mark.Parts++
			out = append(out, f)
		}
		mark.Files = next
		for _, st := range settled {
			mark.Retried++
			if st.err != nil {
				mark.RetryFailed = append(slices.Clip(mark.RetryFailed), st.name)
			}
		}
		if err := s.commitImport(out, nil, 0, info.ID, mark); err != nil {
			return err
		}
		n := int64(len(rows))
		rows = rows[:0]
		update(func(i *imports.Info) {
			i.Stats.EventsCompleted += n
			i.Stats.EventsSkipped += skipped
			i.Stats.PrefixesCompleted = completed(next)
			i.Failures = append(i.Failures, failures...)
			for _, st := range settled {
				i.Settle(st.name, st.err, e.opts.Now().UTC())
			}
			// A file that failed is processed but not completed.
			i.Tally(next)
		})
		skipped, failures, settled = 0, nil, nil
		return e.saveImport(info)
	}
	// Files are read (decompressed, parsed, converted) ahead on every core,
	// a few at a time, and taken in order; parts are written meanwhile.
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	window := info // its time range; info itself changes as parts are written
	ahead := readAhead(rctx, files[mark.Files:], 2*runtime.GOMAXPROCS(0), func(ctx context.Context, name string) fileRead {
		var r fileRead
		r.skipped, r.err = e.readImportFile(ctx, src, name, window, cut, &r.rows)
		return r
	})
	for i := mark.Files; i < len(files); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := files[i]
		read := ahead.take()
		skip, err := read.skipped, read.err
		rows = append(rows, read.rows...)
		if cerr := ctx.Err(); cerr != nil {
			return cerr // the file is read again when the import resumes
		}
		skipped += skip
		if err != nil && f.Found && errors.Is(err, logfile.ErrNotCloudTrail) {
			e.log.Info("lake: import: skipping a file that holds no CloudTrail JSON", "file", f.Name)
			err = nil
		}
		if err != nil {
			failures = append(failures, imports.Failure{Location: f.Name, Status: imports.FailureFailed, ErrorType: imports.FileError,
				ErrorMessage: err.Error(), LastUpdated: e.opts.Now().UTC()})
		}
		if len(rows) >= e.opts.ImportChunk || i == len(files)-1 || len(failures) > 0 && len(rows) == 0 {
			if err := flush(i + 1); err != nil {
				return err
			}
		}
		bytesDone += f.Size
		if progress != nil {
			e.mu.Lock()
			taken := im.info.Stats.EventsCompleted + int64(len(rows))
			e.mu.Unlock()
			progress(i+1, len(files), bytesDone, totalBytes, taken)
		}
	}
	if len(files) == 0 || mark.Files < len(files) {
		if err := flush(len(files)); err != nil {
			return err
		}
	}
	// Then the files of the retry list not done yet, one at a time.
	for j := mark.Retried; j < len(info.Retry); j++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := info.Retry[j]
		n := len(rows)
		skip, err := e.readImportFile(ctx, src, name, window, cut, &rows)
		if cerr := ctx.Err(); cerr != nil {
			return cerr // read again when the import resumes
		}
		if err != nil {
			rows = rows[:n]
		}
		skipped += skip
		settled = append(settled, settledFile{name: name, err: err})
		if len(rows) >= e.opts.ImportChunk || j == len(info.Retry)-1 {
			if err := flush(len(files)); err != nil {
				return err
			}
		}
	}
	update(func(i *imports.Info) { i.Stats.PrefixesCompleted = completed(len(files)) })
	return nil
}

// settledFile is the outcome of reading a file of an import's retry list.
type settledFile struct {
	name string
	err  error
}

// fileRead is what reading one source file gave.
type fileRead struct {
	rows    []duck.Row
	skipped int64
	err     error
}

// aheadReader reads source files ahead of its caller (readAhead).
type aheadReader struct {
	out   []chan fileRead
	slots chan struct{}
	next  int
}

// readAhead reads files with read, on up to n goroutines and at most n
// files ahead of the caller, who takes the results in order (take).
// Cancelling ctx ends the reading: results still to come carry its error.
func readAhead(ctx context.Context, files []SourceFile, n int, read func(ctx context.Context, name string) fileRead) *aheadReader {
	r := &aheadReader{out: make([]chan fileRead, len(files)), slots: make(chan struct{}, n)}
	for i := range r.out {
		r.out[i] = make(chan fileRead, 1)
	}
	go func() {
		for i, f := range files {
			select {
			case r.slots <- struct{}{}:
			case <-ctx.Done():
				for _, c := range r.out[i:] {
					c <- fileRead{err: ctx.Err()}
				}
				return
			}
			go func() { r.out[i] <- read(ctx, f.Name) }()
		}
	}()
	return r
}

// take returns the next file's result, waiting for it.
func (r *aheadReader) take() fileRead {
	v := <-r.out[r.next]
	r.next++
	select {
	case <-r.slots:
	default: // its slot was never taken: reading was cancelled
	}
	return v
}

// readImportFile appends the events of one log file that fall inside the
// import's time range and the store's retention (after cut) to rows.
func (e *Engine) readImportFile(ctx context.Context, src Source, name string, info imports.Info, cut time.Time, rows *[]duck.Row) (skipped int64, err error) {
	rc, err := src.Open(ctx, name)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	dec, err := logfile.NewDecoder(rc)
	if err != nil {
		return 0, err
	}
	before := len(*rows)
	for {
		rec, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			*rows = (*rows)[:before]
			return 0, err
		}
		ev, err := event.Parse(rec.Raw)
		if err != nil || ev.ActivityAuditLog() {
			// A record of events from outside AWS (never in a trail's
			// log file) has no place in a store of CloudTrail events.
			skipped++
			continue
		}
		t := ev.EventTime
		if !info.StartEventTime.IsZero() && t.Before(info.StartEventTime) ||
			!info.EndEventTime.IsZero() && t.After(info.EndEventTime) ||
			!cut.IsZero() && t.Before(cut) {
			skipped++
			continue
		}
		*rows = append(*rows, duck.CloudTrail.RowOf(0, &ev))
	}
	return skipped, nil
}

// writeImportPart writes one day of an import chunk as a durable file.
func (e *Engine) writeImportPart(ctx context.Context, s *storeFiles, day, id string, part int, rows []duck.Row) (File, error) {
	f := File{Name: importName(day, id, part), Day: day, Rows: int64(len(rows)), MinTime: rows[0].EventTime, MaxTime: rows[0].EventTime}
	for _, r := range rows {
		if r.EventTime.Before(f.MinTime) {
			f.MinTime = r.EventTime
		}
		if r.EventTime.After(f.MaxTime) {
			f.MaxTime = r.EventTime
		}
	}
	duck.SortRows(rows)
	if err := e.durable(s, f.Name, func(tmp string) error { return e.writer.WriteParquet(ctx, s.schema, tmp, rows) }); err != nil {
		return File{}, err
	}
	if err := e.writeBloom(s, f.Name, bloomOfRows(rows)); err != nil {
		return File{}, err
	}
	return finishFile(s, f)
}

// GetImport returns the account's import.
func (e *Engine) GetImport(account, id string) (imports.Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	im := e.imports[id]
	if im == nil || im.info.Account != account {
		return imports.Info{}, fmt.Errorf("%w: %s", imports.ErrNotFound, id)
	}
	return im.info, nil
}

// ListImports returns the account's imports into store ("" any) with
// status ("" any), newest first.
func (e *Engine) ListImports(account, store, status string) []imports.Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []imports.Info
	for _, im := range e.imports {
		i := im.info
		if i.Account == account && (store == "" || i.Store == store) && (status == "" || i.Status == status) {
			out = append(out, i)
		}
	}
	newestFirst(out, func(i imports.Info) (time.Time, string) { return i.Created, i.ID })
	return out
}

// StopImport stops a running import; it can be retried later.
func (e *Engine) StopImport(account, id string) (imports.Info, error) {
	e.mu.Lock()
	im := e.imports[id]
	if im == nil || im.info.Account != account {
		e.mu.Unlock()
		return imports.Info{}, fmt.Errorf("%w: %s", imports.ErrNotFound, id)
	}
	cancel, done, active := im.cancel, im.done, im.info.Active()
	im.stopping = true
	e.mu.Unlock()
	if active && cancel != nil {
		cancel()
		<-done
	}
	return e.GetImport(account, id)
}

// HasOngoingImport reports whether an import into the store is running.
func (e *Engine) HasOngoingImport(store string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, im := range e.imports {
		if im.info.Store == store && im.info.Active() {
			return true
		}
	}
	return false
}

// WaitImport waits until the import has ended or ctx is done.
func (e *Engine) WaitImport(ctx context.Context, account, id string) error {
	e.mu.Lock()
	im := e.imports[id]
	e.mu.Unlock()
	if im == nil || im.info.Account != account {
		return fmt.Errorf("%w: %s", imports.ErrNotFound, id)
	}
	select {
	case <-im.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
