package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/logfile"
	"github.com/opentrail/opentrail/internal/store"
)

// Appender is what the importer needs from the event store.
//
// Append MUST be safe for concurrent use. With SkipDuplicates it MUST skip
// events whose (account, region, eventID) is already stored, or appears
// earlier in the same call or in a concurrent call, and report their
// indexes in AppendResult.Duplicates. It may return store.ErrBackpressure,
// in which case nothing was stored and the importer retries.
type Appender interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
}

// Accounts makes sure an account exists.
//
// EnsureAccount MUST be idempotent: if the account is new it creates it and
// an access key (written to the credentials file) and reports created; if
// it exists it does nothing. The importer calls it once per account id, from
// one goroutine at a time, before appending the account's first events.
type Accounts interface {
	EnsureAccount(ctx context.Context, accountID string) (created bool, err error)
}

var (
	// ErrFailedFiles is returned (wrapped, with the Summary) when some
	// files could not be read, or were named on the command line but hold
	// no CloudTrail JSON. The rest was imported; Summary.Failed says which
	// and why. The command should exit non-zero.
	ErrFailedFiles = errors.New("some files could not be imported")
)

// Options configure [Run]. Appender is required.
type Options struct {
	Appender Appender
	Accounts Accounts // nil: accounts are not created

	// Progress receives a progress bar (a terminal) or progress lines
	// (anything else); nil for none.
	Progress io.Writer
	// CredentialsPath is where Accounts writes access keys, and ServerURL
	// the server's address by default (an import cannot know the address a
	// server will listen on), for the command Summary.Print suggests for
	// new accounts.
	CredentialsPath string
	ServerURL       string

	// Retention rejects events older than Now()-Retention, which the
	// event history would drop anyway; 0 keeps everything.
	Retention time.Duration
	Now       func() time.Time // default time.Now

	BatchSize int // events per Append call, default 1000
	Workers   int // decoders (files read at once) and parsers, default runtime.GOMAXPROCS(0)
	Logger    *slog.Logger
}

// Log attribute keys.
const (
	logKeyPath    = "path"
	logKeyReason  = "reason"
	logKeyErr     = "err"
	logKeyCount   = "count"
	logKeyAccount = "account"
)

// appenders is how many Append calls run at once: two keep the store busy
// (group commit) while the next batch is prepared.
const appenders = 2

// Run imports the CloudTrail records of paths: files, or directories walked
// recursively (an AWSLogs/ download tree, say). Each file is sniffed by
// content (package logfile), so any name works, gzipped or not; files found
// in a walk that hold no CloudTrail JSON are skipped, while such a file
// named in paths is a failure. Each record is validated by event.Parse and
// stored in its own account and region, skipping duplicates, so running an
// import twice stores nothing the second time.
//
// Run returns a Summary even on error. If ctx is cancelled, Run stops
// promptly and the Summary counts what was stored; the error wraps
// ctx.Err(). If files failed, the error wraps [ErrFailedFiles]. A path that
// does not exist, or an Append or EnsureAccount failure, is an error too.
func Run(ctx context.Context, paths []string, opts Options) (Summary, error) {
	if opts.Appender == nil {
		return Summary{}, errors.New("import: no Appender")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	im := &importer{opts: opts, accounts: map[string]bool{}}
	if opts.Retention > 0 {
		im.cutoff = opts.Now().Add(-opts.Retention)
		im.retentionReason = fmt.Sprintf("older than the %s event history retention; import with --event-history-retention 0 to keep every event",
			durationWords(opts.Retention))
	}

	w, err := newWalker(paths)
	if err != nil {
		return Summary{}, fmt.Errorf("import: %w", err)
	}
	var prog *progress
	stopProgress := func() {}
	if opts.Progress != nil {
		// The totals, from a walk of their own: the files are not kept.
		var bytes int64
		files := 0
		err := w.walk(func(j job) bool {
			bytes += j.size
			files++
			return true
		}, func(SkippedFile, bool) {})
		if err != nil {
			return Summary{}, fmt.Errorf("import: %w", err)
		}
		w.reset()
		prog = newProgress(opts.Progress, bytes, files, start)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			t := time.NewTicker(prog.interval / 2)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case now := <-t.C:
					prog.update(now, im.counts())
				}
			}
		})
		stopProgress = func() {
			close(done)
			wg.Wait()
			prog.finish(time.Now(), im.counts())
		}
	}

	runErr := im.run(ctx, w)
	stopProgress()

	s := im.summary()
	s.Elapsed = time.Since(start)
	s.CredentialsPath = opts.CredentialsPath
	s.ServerURL = opts.ServerURL
	switch {
	case ctx.Err() != nil:
		s.Interrupted = true
		return s, fmt.Errorf("import: %w", ctx.Err())
	case runErr != nil:
		return s, fmt.Errorf("import: %w", runErr)
	case len(s.Failed) > 0:
		return s, fmt.Errorf("import: %w: %s", ErrFailedFiles, plural(len(s.Failed), "file"))
	}
	return s, nil
}

// importer is the state of one Run.
type importer struct {
	opts            Options
	cutoff          time.Time
	retentionReason string

	// Counters read by the progress display.
	bytes, filesDone, events atomic.Int64

	mu                   sync.Mutex
	files                int
	imported, duplicates int
	skipped, failed      []SkippedFile
	rejects              rejections

	accountsMu  sync.Mutex
	accounts    map[string]bool // ensured
	newAccounts []string
}

func (im *importer) counts() counts {
	return counts{bytes: im.bytes.Load(), files: int(im.filesDone.Load()), events: im.events.Load()}
}

func (im *importer) summary() Summary {
	im.mu.Lock()
	defer im.mu.Unlock()
	s := Summary{
		Files:      im.files,
		Bytes:      im.bytes.Load(),
		Events:     int(im.events.Load()),
		Imported:   im.imported,
		Duplicates: im.duplicates,
		Rejected:   im.rejects.total,
		Rejections: im.rejects.list(),
		Skipped:    slices.Clone(im.skipped),
		Failed:     slices.Clone(im.failed),
	}
	im.accountsMu.Lock()
	s.NewAccounts = slices.Sorted(slices.Values(im.newAccounts))
	im.accountsMu.Unlock()
	sortFiles := func(fs []SkippedFile) {
		slices.SortStableFunc(fs, func(a, b SkippedFile) int { return strings.Compare(a.Path, b.Path) })
	}
	sortFiles(s.Skipped)
	sortFiles(s.Failed)
	return s
}

// run is a pipeline: Workers decoders read files (several at once) into
// chunks of raw records; Workers parsers validate them into batches (so one
// big file still uses every core); two appenders store the batches.
func (im *importer) run(ctx context.Context, w *walker) error {
	g, ctx := errgroup.WithContext(ctx)
	jobCh := make(chan job)
	chunks := make(chan chunk, im.opts.Workers)
	batches := make(chan []event.Event, im.opts.Workers)

	g.Go(func() error {
		defer close(jobCh)
		return w.walk(func(j job) bool {
			select {
			case jobCh <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}, func(f SkippedFile, failed bool) { im.listed(ctx, f, failed) })
	})
	var decoders, parsers sync.WaitGroup
	for range im.opts.Workers {
		decoders.Go(func() {
			var dec logfile.Decoder
			for j := range jobCh {
				if ctx.Err() != nil {
					return
				}
				im.decodeFile(ctx, &dec, j, chunks)
			}
		})
		parsers.Go(func() {
			p := &parser{im: im, out: batches}
			for c := range chunks {
				p.parse(ctx, c)
			}
			p.flush(ctx)
		})
	}
	g.Go(func() error {
		decoders.Wait()
		close(chunks)
		parsers.Wait()
		close(batches)
		return nil
	})
	for range appenders {
		g.Go(func() error {
			for evs := range batches {
				if err := im.append(ctx, evs); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// append stores one batch, creating accounts first.
func (im *importer) append(ctx context.Context, evs []event.Event) error {
	if err := im.ensureAccounts(ctx, evs); err != nil {
		return err
	}
	backoff := 100 * time.Millisecond
	for {
		res, err := im.opts.Appender.Append(ctx, evs, store.AppendOptions{SkipDuplicates: true})
		if errors.Is(err, store.ErrBackpressure) {
			im.opts.Logger.WarnContext(ctx, "import: the store is busy; retrying", logKeyErr, err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		im.mu.Lock()
		im.imported += res.Appended
		im.duplicates += len(res.Duplicates)
		im.mu.Unlock()
		return nil
	}
}

func (im *importer) ensureAccounts(ctx context.Context, evs []event.Event) error {
	if im.opts.Accounts == nil {
		return nil
	}
	im.accountsMu.Lock()
	defer im.accountsMu.Unlock()
	for i := range evs {
		id := evs[i].Account
		if im.accounts[id] {
			continue
		}
		created, err := im.opts.Accounts.EnsureAccount(ctx, id)
		if err != nil {
			return fmt.Errorf("ensure account %s: %w", id, err)
		}
		im.accounts[id] = true
		if created {
			im.newAccounts = append(im.newAccounts, id)
			im.opts.Logger.InfoContext(ctx, "import: created account", logKeyAccount, id)
		}
	}
	return nil
}

// listed records a file the walk skipped or could not list.
func (im *importer) listed(ctx context.Context, f SkippedFile, failed bool) {
	im.mu.Lock()
	if failed {
		im.failed = append(im.failed, f)
	} else {
		im.skipped = append(im.skipped, f)
	}
	im.mu.Unlock()
	if failed {
		im.opts.Logger.ErrorContext(ctx, "import: cannot read file", logKeyPath, f.Path, logKeyReason, f.Reason)
	} else {
		im.opts.Logger.InfoContext(ctx, "import: skipping file", logKeyPath, f.Path, logKeyReason, f.Reason)
	}
}

func (im *importer) skip(ctx context.Context, j job, reason string) {
	im.mu.Lock()
	im.skipped = append(im.skipped, SkippedFile{Path: j.path, Reason: reason})
	im.mu.Unlock()
	im.opts.Logger.InfoContext(ctx, "import: skipping file", logKeyPath, j.path, logKeyReason, reason)
}

func (im *importer) fail(ctx context.Context, j job, reason string) {
	im.mu.Lock()
	im.failed = append(im.failed, SkippedFile{Path: j.path, Reason: reason})
	im.mu.Unlock()
	im.opts.Logger.ErrorContext(ctx, "import: cannot import file", logKeyPath, j.path, logKeyReason, reason)
}

// chunkSize is how many records a decoder hands to a parser at once.
const chunkSize = 256

// chunk is a run of records from one file.
type chunk struct {
	job  job
	recs []logfile.Record
}

// decodeFile reads one file into chunks.
func (im *importer) decodeFile(ctx context.Context, dec *logfile.Decoder, j job, out chan<- chunk) {
	counted := int64(0)
	defer func() {
		// Count the whole file as read, whatever part was.
		im.bytes.Add(j.size - counted)
		im.filesDone.Add(1)
	}()
	f, err := os.Open(j.path)
	if err != nil {
		im.fail(ctx, j, err.Error())
		return
	}
	defer f.Close()
	if err := dec.Reset(&countingReader{r: f, n: &im.bytes, counted: &counted}); err != nil {
		switch {
		case !errors.Is(err, logfile.ErrNotCloudTrail):
			im.fail(ctx, j, err.Error())
		case j.explicit:
			im.fail(ctx, j, err.Error())
		default:
			im.skip(ctx, j, err.Error())
		}
		return
	}
	im.mu.Lock()
	im.files++
	im.mu.Unlock()

	n := 0
	var recs []logfile.Record
	send := func() bool {
		if len(recs) == 0 {
			return true
		}
		select {
		case out <- chunk{job: j, recs: recs}:
			recs = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		rec, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if se, ok := errors.AsType[*logfile.SyntaxError](err); ok {
			im.events.Add(1)
			im.rejects.add(j.order, Rejection{File: j.path, Index: se.Index, Line: se.Line, Reason: "malformed JSON: " + se.Err.Error()})
			continue
		}
		if err != nil {
			im.fail(ctx, j, fmt.Sprintf("%v (after %s)", err, plural(n, "record")))
			break
		}
		n++
		im.events.Add(1)
		if recs = append(recs, rec); len(recs) == chunkSize && !send() {
			return
		}
	}
	send()
	im.opts.Logger.DebugContext(ctx, "import: read file", logKeyPath, j.path, logKeyCount, n)
}

// parser validates records into batches.
type parser struct {
	im    *importer
	out   chan<- []event.Event
	batch []event.Event
}

func (p *parser) parse(ctx context.Context, c chunk) {
	im := p.im
	for _, rec := range c.recs {
		if ctx.Err() != nil {
			return
		}
		ev, err := event.Parse(rec.Raw)
		if err != nil {
			reason := err.Error()
			if ve, ok := errors.AsType[*event.ValidationError](err); ok {
				reason = ve.Reason
				if ve.Field != "" {
					reason = ve.Field + ": " + ve.Reason
				}
				if ve.Field == "eventTime" && bytes.Contains(rec.Raw, []byte(`"@timestamp"`)) {
					reason += " (the record has Logstash's @timestamp instead: it was reshaped on its way here; import the original CloudTrail files)"
				}
			}
			im.rejects.add(c.job.order, Rejection{File: c.job.path, Index: rec.Index, Line: rec.Line, Reason: reason})
			continue
		}
		if !im.cutoff.IsZero() && ev.EventTime.Before(im.cutoff) {
			im.rejects.add(c.job.order, Rejection{File: c.job.path, Index: rec.Index, Line: rec.Line, Reason: im.retentionReason})
			continue
		}
		p.batch = append(p.batch, ev)
		if len(p.batch) >= im.opts.BatchSize {
			p.flush(ctx)
		}
	}
}

// flush hands the batch to the appenders.
func (p *parser) flush(ctx context.Context) {
	if len(p.batch) == 0 {
		return
	}
	select {
	case p.out <- p.batch:
	case <-ctx.Done():
	}
	p.batch = make([]event.Event, 0, p.im.opts.BatchSize)
}

// countingReader counts the bytes read, for the progress display.
type countingReader struct {
	r       io.Reader
	n       *atomic.Int64
	counted *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	*c.counted += int64(n)
	return n, err
}

// durationWords renders a retention: "90 days", "36h0m0s".
func durationWords(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return plural(int(d/day), "day")
	}
	return d.String()
}
