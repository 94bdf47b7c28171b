package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
)

// The CloudTrail Lake benchmark (--lake): each phase in a child process,
// each figure beside a baseline measured in the same run.
//
//	gen          the N events as gzipped log files (shared with the main benchmark)
//	decode       baseline of lakeimport: decompress and parse the same files
//	lakeimport   daemon.ImportLake of the files into a new event data store
//	ingestbase   baseline of lakeingest: the same appends to a server without a store
//	lakeingest   appends to a server with an enabled store, until the store has them all
//	lakecompact  Engine.Maintain (compaction) of both stores, then bytes per event
//	lakequery    Lake queries through the Go SDK against the imported store
//	lakeparquet  the same queries in plain DuckDB over the store's Parquet files
//	lakeraw      baseline of lakequery: the group-by in plain DuckDB over the raw .json.gz files
var lakePhases = []string{"gen", "decode", "lakeimport", "ingestbase", "lakeingest", "lakecompact", "lakequery", "lakeparquet", "lakeraw"}

const (
	lakeImportStore = "bench-import"
	lakeIngestStore = "bench-ingest"
	lakeImportDir   = "lake-import-data"
	lakeIngestDir   = "lake-ingest-data"
	lakeBaseDir     = "lake-ingestbase-data"
)

// The measured queries, each run --lake-runs times with the parameters of
// run k (a different user, day and eventid each time, as a user looking
// into different things would).
const (
	qGroupBy = "groupby"
	qUserDay = "userday"
	qEventID = "eventid"
)

var lakeQueries = []string{qGroupBy, qUserDay, qEventID}

// lakeQueryText describes each query for the report.
var lakeQueryText = map[string]string{
	qGroupBy: "group-by eventName, top 10",
	qUserDay: "one user in one day",
	qEventID: "one event by eventid (SELECT *)",
}

// lakeQueryTarget is the target for each query, ms.
var lakeQueryTarget = map[string]float64{qGroupBy: 500, qUserDay: 200, qEventID: 100}

// lakeParams are the parameters of run k of the queries, the same in
// every phase that runs them.
type lakeParams struct {
	user    string
	dayFrom string // 'YYYY-MM-DD 00:00:00'
	dayTo   string
	eventID string
}

func (f benchFlags) lakeParams(k int) (lakeParams, error) {
	g := f.gen()
	// Users 10 to 199 are not the generator's heavy hitters: a typical one.
	r := rand.New(rand.NewPCG(f.seed, 7000+uint64(k)))
	p := lakeParams{user: fmt.Sprintf("user-%03d", 10+r.IntN(190))}
	// A whole day inside the generated month, counted from the first log
	// file's time (this process's generator starts when it is made).
	first, err := firstLogTime(filepath.Join(f.dir, "logs"))
	if err != nil {
		return p, err
	}
	days := max(1, int(g.span/(24*time.Hour))-2)
	day := first.Truncate(24*time.Hour).AddDate(0, 0, 1+k%days)
	p.dayFrom, p.dayTo = day.Format(time.DateTime), day.AddDate(0, 0, 1).Format(time.DateTime)
	ev, err := event.Parse(g.record(r.IntN(f.events)))
	if err != nil {
		return p, err
	}
	p.eventID = ev.EventID
	return p, nil
}

// firstLogTime returns the time in the name of the first log file the gen
// phase wrote (ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_N.json.gz).
func firstLogTime(logs string) (time.Time, error) {
	ents, err := os.ReadDir(logs)
	if err != nil {
		return time.Time{}, err
	}
	for _, e := range ents {
		parts := strings.Split(e.Name(), "_")
		if len(parts) == 5 {
			if t, err := time.Parse("20060102T1504Z", parts[3]); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("no generated log file in %s: run the gen phase first", logs)
}

// lakeSQL returns the Lake statement of query q over table.
func lakeSQL(q, table string, p lakeParams) string {
	switch q {
	case qGroupBy:
		return "SELECT eventName, COUNT(*) AS n FROM " + table + " GROUP BY eventName ORDER BY n DESC LIMIT 10"
	case qUserDay:
		return "SELECT eventTime, eventName, eventSource, sourceIPAddress FROM " + table +
			" WHERE userIdentity.userName = '" + p.user + "' AND eventTime >= '" + p.dayFrom + "' AND eventTime < '" + p.dayTo + "'"
	case qEventID:
		return "SELECT * FROM " + table + " WHERE eventID = '" + p.eventID + "'"
	}
	panic("unknown query " + q)
}

// orchestrateLake runs the Lake benchmark's phases and reports.
func (c *benchCmd) orchestrateLake(ctx context.Context, f benchFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "opentrail-bench --lake: %d events, %d CPUs (%s), Go %s, load average %s, work dir %s\n",
		f.events, runtime.NumCPU(), cpuModel(), runtime.Version(), loadAvg(), f.dir)
	results := map[string]phaseResult{}
	for _, ph := range lakePhases {
		// The machine is shared: the load at each phase's start says
		// what else was running.
		fmt.Fprintf(c.stderr, "bench: phase %s ... (load average %s)\n", ph, loadAvg())
		args := []string{"--phase", ph, "--events", fmt.Sprint(f.events), "--dir", f.dir,
			"--concurrency", fmt.Sprint(f.concurrency), "--seed", fmt.Sprint(f.seed),
			"--lake-runs", fmt.Sprint(f.lakeRuns), "--lake-raw-runs", fmt.Sprint(f.lakeRawRuns), "--lake-poll", f.lakePoll.String()}
		r, rusage, err := c.runChild(ctx, self, ph, append(args, f.profileArgs()...))
		if err != nil {
			return err
		}
		if rusage != nil {
			r.PeakRSSM = float64(rusage.Maxrss) / 1024
		}
		results[ph] = r
	}
	if err := checkLakeAnswers(f, results); err != nil {
		return err
	}
	c.reportLake(f, results)
	fmt.Fprintf(c.stdout, "load average after: %s\n", loadAvg())
	return writeResults(f.jsonOut, results)
}

// checkLakeAnswers fails the run when the engines disagree: the top-10
// counts of the group-by (their sum, which ties at the tenth place do not
// change) between the API, DuckDB over the store's files and DuckDB over
// the raw logs, and the rows of the other queries between the first two.
func checkLakeAnswers(f benchFlags, res map[string]phaseResult) error {
	q, pq, raw := res["lakequery"], res["lakeparquet"], res["lakeraw"]
	if a, b, c := q.Extra["groupby.top10"], pq.Extra["groupby.top10"], raw.Extra["groupby.top10"]; a != b || a != c || a <= 0 {
		return fmt.Errorf("the group-by's top 10 counts add up to %.0f through the API, %.0f in DuckDB over the store's Parquet files and %.0f over the raw logs; they must agree", a, b, c)
	}
	for _, name := range []string{qUserDay + ".rows", qEventID + ".rows"} {
		if q.Extra[name] != pq.Extra[name] {
			return fmt.Errorf("%s: %.0f through the API, %.0f in DuckDB over the store's files; they must agree", name, q.Extra[name], pq.Extra[name])
		}
	}
	if n := q.Extra[qEventID+".rows"]; n != float64(f.lakeRuns) {
		return fmt.Errorf("the eventid queries returned %.0f rows in %d runs, want one each", n, f.lakeRuns)
	}
	return nil
}

func (c *benchCmd) reportLake(f benchFlags, res map[string]phaseResult) {
	w := c.stdout
	gen, dec, imp, base, ing, cmp := res["gen"], res["decode"], res["lakeimport"], res["ingestbase"], res["lakeingest"], res["lakecompact"]
	q, pq, raw := res["lakequery"], res["lakeparquet"], res["lakeraw"]
	gz := float64(gen.Bytes) / float64(gen.Events)
	fmt.Fprintf(w, "\n%-52s %12s %12s %8s  %s\n", "measure", "OpenTrail", "baseline", "ratio", "target")
	row := func(name string, v, b float64, target string) {
		fmt.Fprintf(w, "%-52s %12.1f %12.1f %8.2f  %s\n", name, v, b, v/b, target)
	}
	row("lake import (events/s) vs decode-only", rate(imp), rate(dec), "")
	row("lake ingest into Parquet (events/s) vs no store", ing.Extra["queryableRate"], rate(base), "≥ 100,000 events/s")
	fmt.Fprintf(w, "%-52s %12.1f %12.1f\n", "  seconds until queryable / acked (no store: acked)", ing.Extra["queryableSeconds"], base.Seconds)
	fmt.Fprintf(w, "%-52s %12.1f\n", "  acked (events/s) with the store", rate(ing))
	row("bytes per event, imported store vs .json.gz input", cmp.Extra["import.after"], gz, "≤ 200")
	row("bytes per event, ingested store compacted vs .json.gz", cmp.Extra["ingest.after"], gz, "≤ 200")
	fmt.Fprintf(w, "%-52s %12.1f\n", "  ingested store before compaction", cmp.Extra["ingest.before"])
	fmt.Fprintf(w, "%-52s %12.0f %12.0f\n", "  files in the ingested store before / after", cmp.Extra["ingest.filesBefore"], cmp.Extra["ingest.filesAfter"])
	fmt.Fprintf(w, "%-52s %12.1f %12.1f\n", "  seconds of maintenance: imported / ingested store", cmp.Extra["import.seconds"], cmp.Extra["ingest.seconds"])
	if cmp.Failed != "" {
		fmt.Fprintf(w, "  FAILED: %s\n", cmp.Failed)
	}
	fmt.Fprintf(w, "\nLake queries through the Go SDK at %d events (StartQuery to the last page of FINISHED results, polled every %s), ms:\n", f.events, f.lakePoll)
	fmt.Fprintf(w, "%-34s %9s %9s %9s %9s %11s  %s\n", "query", "cold", "p50", "p90", "rows/run", "DuckDB p50", "target")
	for _, name := range lakeQueries {
		fmt.Fprintf(w, "%-34s %9.1f %9.1f %9.1f %9.1f %11.1f  ≤ %.0f ms\n", lakeQueryText[name], q.Extra[name+".cold"], q.Extra[name+".p50"], q.Extra[name+".p90"],
			q.Extra[name+".rows"]/float64(f.lakeRuns), pq.Extra[name+".p50"], lakeQueryTarget[name])
	}
	fmt.Fprintf(w, "(DuckDB p50: the same statement in plain DuckDB over the store's Parquet files, no API, no pruning by the engine)\n")
	fmt.Fprintf(w, "%-34s %9.1f %9.1f %9s %9s\n", "baseline: group-by over raw .json.gz", raw.Extra[qGroupBy+".cold"], raw.Extra[qGroupBy+".p50"], "", "")
	fmt.Fprintf(w, "%-52s %12.1f %12.1f %8.1f  ≥ 70×\n", "raw json.gz / Lake group-by, p50 (ms)", raw.Extra[qGroupBy+".p50"], q.Extra[qGroupBy+".p50"], raw.Extra[qGroupBy+".p50"]/q.Extra[qGroupBy+".p50"])
	for _, ph := range lakePhases {
		if r := res[ph]; r.Failed != "" && ph != "lakecompact" {
			fmt.Fprintf(w, "%s: %s\n", ph, r.Failed)
		}
	}
	fmt.Fprintf(w, "\npeak memory, MiB: RSS (of which Go heap at most)\n")
	fmt.Fprintf(w, "  decode-only %.0f\n", dec.PeakRSSM)
	for _, m := range []struct {
		name string
		r    phaseResult
	}{{"lake import", imp}, {"server without a store", base}, {"server with a store (ingest)", ing}, {"compaction", cmp},
		{"queries (server)", q}, {"DuckDB over Parquet", pq}, {"DuckDB over raw logs", raw}} {
		fmt.Fprintf(w, "  %s %.0f (%.0f)\n", m.name, m.r.PeakRSSM, m.r.Extra["goHeapPeakMiB"])
	}
}

// runLakePhase runs one phase of the Lake benchmark; ok is false for a
// phase name that is not one of them. Beside the process's peak RSS (which
// counts DuckDB's own memory), each phase reports the peak of Go's heap,
// sampled every 100 ms.
func runLakePhase(ctx context.Context, f benchFlags, logs string, log *slog.Logger) (res phaseResult, ok bool, err error) {
	// lakelevels runs only on its own (--phase), after lakeimport.
	if !slices.Contains(lakePhases, f.phase) && f.phase != "lakelevels" || f.phase == "gen" || f.phase == "decode" {
		return res, false, nil
	}
	peak := sampleGoHeap()
	errs := &errorLog{}
	log = slog.New(errs)
	defer func() {
		if res.Extra == nil {
			res.Extra = map[string]float64{}
		}
		res.Extra["goHeapPeakMiB"] = peak()
		if n, first := errs.count(); n > 0 {
			res.Extra["serverErrors"] = float64(n)
			res.Failed += fmt.Sprintf("the server logged %d errors, the first: %s", n, first)
		}
	}()
	switch f.phase {
	case "lakeimport":
		res, err = phaseLakeImport(ctx, f, logs, log)
	case "ingestbase":
		res, err = phaseLakeIngest(ctx, f, false, log)
	case "lakeingest":
		res, err = phaseLakeIngest(ctx, f, true, log)
	case "lakecompact":
		res, err = phaseLakeCompact(ctx, f, log)
	case "lakequery":
		res, err = phaseLakeQuery(ctx, f, log)
	case "lakeparquet":
		res, err = phaseLakeParquet(ctx, f)
	case "lakeraw":
		res, err = phaseLakeRaw(ctx, f, logs)
	case "lakelevels":
		res, err = phaseLakeLevels(ctx, f)
	}
	return res, true, err
}

// errorLog is a log handler that keeps nothing but a count of the
// records at level Error and the first one's text: the server runs on
// while its maintenance fails, and the benchmark reports it.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first string
}

func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		h.first = b.String()
	}
	h.n++
	return nil
}

func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLog) WithGroup(string) slog.Handler      { return h }

func (h *errorLog) count() (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, h.first
}

// sampleGoHeap samples the Go heap in use until the returned function is
// called, which returns the largest sample in MiB.
func sampleGoHeap() func() float64 {
	stop := make(chan struct{})
	done := make(chan float64)
	go func() {
		var most uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			most = max(most, ms.HeapInuse)
			select {
			case <-stop:
				done <- float64(most) / (1 << 20)
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 { close(stop); return <-done }
}

// phaseLakeImport imports the generated logs into a new event data store
// of an empty data directory, as `opentrail import --event-data-store`
// does.
func phaseLakeImport(ctx context.Context, f benchFlags, logs string, log *slog.Logger) (phaseResult, error) {
	dir := filepath.Join(f.dir, lakeImportDir)
	if err := os.RemoveAll(dir); err != nil {
		return phaseResult{}, err
	}
	start := time.Now()
	dd, err := datadir.Open(dir, log)
	if err != nil {
		return phaseResult{}, err
	}
	r, err := daemon.ImportLake(ctx, dd, []string{logs}, daemon.LakeImportOptions{Store: lakeImportStore, Account: benchAccount, Region: benchRegion, Logger: log})
	if err := errors.Join(err, dd.Close()); err != nil {
		return phaseResult{}, err
	}
	el := time.Since(start).Seconds()
	st := r.Import.Stats
	if st.EventsCompleted != int64(f.events) || st.FailedEntries != 0 {
		return phaseResult{}, fmt.Errorf("lake import: %d events imported, %d skipped, %d failures, want %d imported", st.EventsCompleted, st.EventsSkipped, st.FailedEntries, f.events)
	}
	return phaseResult{Events: int(st.EventsCompleted), Seconds: el, Bytes: dirSize(filepath.Join(dir, datadir.LakeDir, benchAccount, r.Store.ID))}, nil
}

// lakeManifest is what the benchmark reads of a store's MANIFEST.json
// (docs/format/lake.md).
type lakeManifest struct {
	Checkpoint uint64 `json:"checkpoint"`
	Files      []struct {
		Rows int64 `json:"rows"`
	} `json:"files"`
}

func readLakeManifest(storeDir string) (lakeManifest, error) {
	var m lakeManifest
	b, err := os.ReadFile(filepath.Join(storeDir, "MANIFEST.json"))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil // nothing written yet
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m, err
}

func (m lakeManifest) rows() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Rows
	}
	return n
}

// lakeServer is a server (daemon.New and Run, as `opentrail serve`) of
// the data directory dir in this process, with an SDK client of the
// benchmark's account.
type lakeServer struct {
	d    *daemon.Daemon
	ct   *cloudtrail.Client
	stop func() error
}

// openLakeDaemon opens a server of the benchmark's account on the data
// directory dir, not yet running; it fails in a build without the Lake.
func openLakeDaemon(dir string, log *slog.Logger) (*daemon.Daemon, error) {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.AccountID = benchAccount
	d, err := daemon.New(cfg, log)
	if err != nil {
		return nil, err
	}
	if d.Lake() == nil {
		d.Close()
		return nil, errors.New("this build has no CloudTrail Lake (it needs cgo)")
	}
	return d, nil
}

func startLakeServer(ctx context.Context, dir string, log *slog.Logger) (*lakeServer, error) {
	d, err := openLakeDaemon(dir, log)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	key, err := d.Identities().RootKey(benchAccount)
	if err != nil {
		cancel()
		return nil, errors.Join(err, <-done)
	}
	ct := cloudtrail.New(cloudtrail.Options{Region: benchRegion, BaseEndpoint: aws.String(d.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	return &lakeServer{d: d, ct: ct, stop: func() error { cancel(); return <-done }}, nil
}

// lakeSource is the ingest phases' events: those of ingestSource, each
// moved to its own time in one UTC day (event i at i/N of the day), so that
// the copies of a template, which differ only in eventID, do not sit side
// by side in the store's files (sorted by eventtime) as they would at the
// template's own time, and compress as unique events do. The eventID's
// last 12 hex digits are a bijection of i that looks random (mix48), not
// i itself: a counter there compresses (about 7 bytes an event of the
// store, in `eventid` and `eventjson`), and real eventIDs are random.
//
// The templates are kept compressed, lakeBlock to a zstd frame, with only
// their summaries parsed: the phase measures a server, and a server fed by
// real clients does not hold 50,000 events of its own. Parsed and
// uncompressed, as ingestSource holds them, they took about 105 MiB of the
// process's heap; compressed, about a fifth of it (BENCHMARKS.md).
type lakeSource struct {
	sums   []event.Summary // each template's, its Raw not kept
	idAt   []int           // each template's eventID offset in its JSON
	ends   []int           // each template's JSON end in its block's bytes
	blocks [][]byte        // lakeBlock templates each, their JSON run together and compressed
	dec    *zstd.Decoder
	day    time.Time
	n      int
}

// lakeBlock is how many templates a compressed block holds: an Append's
// worth, which the appenders take in order.
const lakeBlock = 100

func newLakeSource(f benchFlags) (*lakeSource, error) {
	g := f.gen()
	g.seed = f.seed + 1000
	n := min(f.events, ingestTemplates)
	nb := (n + lakeBlock - 1) / lakeBlock
	s := &lakeSource{sums: make([]event.Summary, n), idAt: make([]int, n), ends: make([]int, n), blocks: make([][]byte, nb),
		day: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1), n: f.events}
	var err error
	if s.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0)); err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	var next atomic.Int64
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			var buf, z []byte
			for b := int(next.Add(1)) - 1; b < nb; b = int(next.Add(1)) - 1 {
				buf = buf[:0]
				for k := b * lakeBlock; k < min((b+1)*lakeBlock, n); k++ {
					ev, err := event.Parse(g.record(k))
					if err != nil {
						errs[w] = err
						return
					}
					at := bytes.Index(ev.Raw, []byte(`"eventID":"`+ev.EventID+`"`))
					if at < 0 {
						errs[w] = fmt.Errorf("template %d: its eventID is not in its JSON as generated", k)
						return
					}
					s.idAt[k] = len(buf) + at + len(`"eventID":"`)
					buf = append(buf, ev.Raw...)
					s.ends[k] = len(buf)
					s.sums[k] = internSummary(ev.Summary)
				}
				z = enc.EncodeAll(buf, z[:0])
				s.blocks[b] = bytes.Clone(z) // EncodeAll's own buffer has room for buf
			}
		})
	}
	wg.Wait()
	return s, errors.Join(errs...)
}

// internSummary returns sum with its strings that repeat from event to
// event (names, sources, accounts, resource types) shared with the other
// templates'.
func internSummary(sum event.Summary) event.Summary {
	in := func(s *string) { *s = unique.Make(*s).Value() }
	for _, p := range []*string{&sum.EventName, &sum.EventSource, &sum.Account, &sum.Region, &sum.Category, &sum.EventType, &sum.Username, &sum.ErrorCode} {
		in(p)
	}
	for _, rs := range [][]event.LookupResource{sum.Resources, sum.LookupResources} {
		for i := range rs {
			in(&rs[i].ResourceType)
			in(&rs[i].ResourceName)
		}
	}
	return sum
}

// lakeReader reads a lakeSource's events, keeping the last block it
// decompressed: one per appender.
type lakeReader struct {
	s     *lakeSource
	block int
	buf   []byte
}

func (s *lakeSource) reader() *lakeReader { return &lakeReader{s: s, block: -1} }

// event returns event i (a reader of its own; appenders keep one).
func (s *lakeSource) event(i int) (event.Event, error) { return s.reader().event(i) }

// event returns event i: a copy of its template's JSON, with its eventID
// and eventTime changed in place (same length, so still valid).
func (r *lakeReader) event(i int) (event.Event, error) {
	s := r.s
	k := i % len(s.sums)
	if b := k / lakeBlock; b != r.block {
		var err error
		if r.buf, err = s.dec.DecodeAll(s.blocks[b], r.buf[:0]); err != nil {
			return event.Event{}, fmt.Errorf("event %d: %w", i, err)
		}
		r.block = b
	}
	from := 0
	if k%lakeBlock > 0 {
		from = s.ends[k-1]
	}
	ev := event.Event{Raw: bytes.Clone(r.buf[from:s.ends[k]]), Summary: s.sums[k]}
	at := s.idAt[k] - from
	id := ev.Raw[at : at+len(ev.EventID)]
	const hexDigits = "0123456789abcdef"
	for j, v := len(id)-1, mix48(uint64(i)); j >= len(id)-12; j, v = j-1, v>>4 {
		id[j] = hexDigits[v&15]
	}
	ev.EventID = string(id)
	t := s.day.Add(time.Duration(float64(24*time.Hour) * float64(i) / float64(s.n))).Truncate(time.Second)
	old := []byte(`"eventTime":"` + ev.EventTime.UTC().Format(time.RFC3339) + `"`)
	at = bytes.Index(ev.Raw, old)
	if at < 0 {
		return ev, fmt.Errorf("event %d: cannot move its eventTime %s", i, ev.EventTime)
	}
	copy(ev.Raw[at+len(`"eventTime":"`):], t.Format(time.RFC3339))
	ev.EventTime = t
	return ev, nil
}

// mix48 is a bijection of the numbers below 2^48 whose outputs look
// random (xor-shifts and odd multipliers, each invertible modulo 2^48):
// distinct events keep distinct eventIDs.
func mix48(x uint64) uint64 {
	const mask = 1<<48 - 1
	x &= mask
	x = (x ^ x>>24) * 0x9e3779b97f4a7c15 & mask
	x = (x ^ x>>23) * 0xbf58476d1ce4e5b9 & mask
	return x ^ x>>24
}

// phaseLakeIngest appends N events to a running server's event log, 100
// per Append from concurrent appenders (PutAuditEvents-sized calls), as
// the main benchmark's ingest phase does. With a store (an enabled event
// data store created through the API first) it measures until the store's
// MANIFEST checkpoint covers the last event appended, i.e. every event is
// in a committed Parquet file and queryable; without, until every append
// is acknowledged (the baseline).
func phaseLakeIngest(ctx context.Context, f benchFlags, withStore bool, log *slog.Logger) (res phaseResult, err error) {
	dir := filepath.Join(f.dir, lakeBaseDir)
	if withStore {
		dir = filepath.Join(f.dir, lakeIngestDir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return res, err
	}
	if !withStore {
		defer os.RemoveAll(dir)
	}
	src, err := newLakeSource(f)
	if err != nil {
		return res, err
	}
	if _, err := src.event(0); err != nil {
		return res, err
	}
	srv, err := startLakeServer(ctx, dir, log)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, srv.stop()) }()
	storeDir := ""
	if withStore {
		out, err := srv.ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String(lakeIngestStore)})
		if err != nil {
			return res, err
		}
		arn := aws.ToString(out.EventDataStoreArn)
		got, err := srv.ct.GetEventDataStore(ctx, &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String(arn)})
		if err != nil {
			return res, err
		}
		if got.Status != cttypes.EventDataStoreStatusEnabled {
			return res, fmt.Errorf("the new event data store is %s, want ENABLED", got.Status)
		}
		storeDir = filepath.Join(dir, datadir.LakeDir, benchAccount, arn[strings.LastIndex(arn, "/")+1:])
	}
	batch := 100
	conc := max(1, f.concurrency/8)
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	var lastSeq uint64
	st := srv.d.Store()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rd := src.reader()
			for {
				mu.Lock()
				i := next
				next += int64(batch)
				stop := firstErr != nil
				mu.Unlock()
				if i >= int64(f.events) || stop {
					return
				}
				evs := make([]event.Event, 0, batch)
				for j := i; j < min(i+int64(batch), int64(f.events)); j++ {
					ev, err := rd.event(int(j))
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					evs = append(evs, ev)
				}
				r, err := appendRetry(ctx, st, evs, 0)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lastSeq = max(lastSeq, r.LastSeq)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	acked := time.Since(start).Seconds()
	res = phaseResult{Events: f.events, Seconds: acked, Extra: map[string]float64{}}
	if !withStore {
		return res, nil
	}
	// Every event up to the MANIFEST's checkpoint that the store ingests is
	// in a file the MANIFEST lists: queryable.
	var m lakeManifest
	for {
		if m, err = readLakeManifest(storeDir); err != nil {
			return res, err
		}
		if m.Checkpoint >= lastSeq {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	queryable := time.Since(start).Seconds()
	// The store also holds the server's own record of the calls made after
	// it was created (CreateEventDataStore's own event, at most).
	if n := m.rows(); n < int64(f.events) || n > int64(f.events)+10 {
		return res, fmt.Errorf("the store holds %d events, want the %d appended (and the server's own few)", n, f.events)
	}
	res.Extra["queryableSeconds"] = queryable
	res.Extra["queryableRate"] = float64(f.events) / queryable
	res.Extra["storeRows"] = float64(m.rows())
	res.Extra["storeFiles"] = float64(len(m.Files))
	return res, nil
}

// phaseLakeCompact runs one round of the engine's maintenance (scrub,
// compaction of the days with many files) on each store, in a server that
// is opened but not serving (so its own maintenance loop does not run
// beside), and measures each store's directory before and after.
func phaseLakeCompact(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	res := phaseResult{Events: f.events, Extra: map[string]float64{}}
	start := time.Now()
	for _, s := range []struct{ key, dir string }{{"import", lakeImportDir}, {"ingest", lakeIngestDir}} {
		dir := filepath.Join(f.dir, s.dir)
		d, err := openLakeDaemon(dir, log)
		if err != nil {
			return res, err
		}
		storeDir, err := onlyStoreDir(filepath.Join(dir, datadir.LakeDir, benchAccount))
		if err != nil {
			d.Close()
			return res, err
		}
		m, err := readLakeManifest(storeDir)
		if err != nil {
			d.Close()
			return res, err
		}
		rows := float64(m.rows())
		res.Extra[s.key+".before"] = float64(dirSize(storeDir)) / rows
		res.Extra[s.key+".filesBefore"] = float64(len(m.Files))
		// A failed round is a result: the sizes are then what the store
		// keeps until a round succeeds.
		t := time.Now()
		merr := d.Lake().Maintain(ctx)
		res.Extra[s.key+".seconds"] = time.Since(t).Seconds()
		if err := d.Close(); err != nil {
			return res, err
		}
		if merr != nil {
			res.Failed += fmt.Sprintf("maintenance of the %s store: %v; ", s.key, merr)
		}
		if m, err = readLakeManifest(storeDir); err != nil {
			return res, err
		}
		if float64(m.rows()) != rows {
			return res, fmt.Errorf("%s store: %.0f events before maintenance, %d after", s.key, rows, m.rows())
		}
		res.Extra[s.key+".after"] = float64(dirSize(storeDir)) / rows
		res.Extra[s.key+".filesAfter"] = float64(len(m.Files))
		res.Extra[s.key+".rows"] = rows
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// onlyStoreDir returns the one store directory under an account's lake
// directory.
func onlyStoreDir(acct string) (string, error) {
	ents, err := os.ReadDir(acct)
	if err != nil {
		return "", err
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(acct, e.Name()))
		}
	}
	if len(dirs) != 1 {
		return "", fmt.Errorf("%s holds %d event data stores, want 1", acct, len(dirs))
	}
	return dirs[0], nil
}

// lakeTimings records run k's time of query q and, after the last run,
// the cold (first) run, the median and the 90th percentile of the others
// (or of the one run there is), in ms.
func lakeTimings(extra map[string]float64, q string, times []time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for k, t := range times {
		extra[fmt.Sprintf("%s.run%d", q, k)] = ms(t)
	}
	extra[q+".cold"] = ms(times[0])
	warm := slices.Clone(times)
	if len(warm) > 1 {
		warm = warm[1:]
	}
	slices.Sort(warm)
	pick := func(p float64) float64 {
		i := int(p*float64(len(warm))+0.999999) - 1
		return ms(warm[max(0, min(i, len(warm)-1))])
	}
	extra[q+".p50"] = pick(0.5)
	extra[q+".p90"] = pick(0.9)
}

// top10Sum adds up the counts (column 1) of group-by result rows.
func top10Sum(rows [][]string) (float64, error) {
	var sum float64
	for _, r := range rows {
		if len(r) != 2 {
			return 0, fmt.Errorf("group-by row %q: want 2 columns", r)
		}
		n, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			return 0, fmt.Errorf("group-by row %q: %w", r, err)
		}
		sum += n
	}
	return sum, nil
}

// phaseLakeQuery runs the queries through the Go SDK against a server of
// the imported store: StartQuery, then GetQueryResults every --lake-poll
// until FINISHED, then every page. The first run of each query is the
// server's first (a new DuckDB instance, nothing cached in it).
func phaseLakeQuery(ctx context.Context, f benchFlags, log *slog.Logger) (res phaseResult, err error) {
	srv, err := startLakeServer(ctx, filepath.Join(f.dir, lakeImportDir), log)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, srv.stop()) }()
	ct := srv.ct
	var id string
	list, err := ct.ListEventDataStores(ctx, &cloudtrail.ListEventDataStoresInput{})
	if err != nil {
		return res, err
	}
	for _, s := range list.EventDataStores {
		if aws.ToString(s.Name) == lakeImportStore {
			arn := aws.ToString(s.EventDataStoreArn)
			id = arn[strings.LastIndex(arn, "/")+1:]
		}
	}
	if id == "" {
		return res, fmt.Errorf("no event data store named %s: run the lakeimport phase first", lakeImportStore)
	}
	// The imported store ingests the server's own events too (it was
	// created enabled): stop that, so every query reads the same events.
	// A run on a kept directory finds it stopped already.
	st, err := ct.GetEventDataStore(ctx, &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String(id)})
	if err != nil {
		return res, err
	}
	if st.Status != cttypes.EventDataStoreStatusStoppedIngestion {
		if _, err := ct.StopEventDataStoreIngestion(ctx, &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: aws.String(id)}); err != nil {
			return res, err
		}
	}
	return timeLakeQueries(f, func(q string, p lakeParams) ([][]string, error) {
		return sdkQuery(ctx, ct, lakeSQL(q, id, p), f.lakePoll)
	})
}

// timeLakeQueries runs each query --lake-runs times through run, with the
// parameters of each run, and records the timings, the rows and the
// group-by's top-10 total.
func timeLakeQueries(f benchFlags, run func(q string, p lakeParams) ([][]string, error)) (phaseResult, error) {
	res := phaseResult{Events: f.events, Extra: map[string]float64{}}
	start := time.Now()
	for _, q := range lakeQueries {
		var times []time.Duration
		var rows int
		for k := range f.lakeRuns {
			p, err := f.lakeParams(k)
			if err != nil {
				return res, err
			}
			t := time.Now()
			got, err := run(q, p)
			if err != nil {
				return res, fmt.Errorf("%s: %w", lakeQueryText[q], err)
			}
			times = append(times, time.Since(t))
			rows += len(got)
			if q == qGroupBy && k == 0 {
				if res.Extra["groupby.top10"], err = top10Sum(got); err != nil {
					return res, err
				}
			}
		}
		lakeTimings(res.Extra, q, times)
		res.Extra[q+".rows"] = float64(rows)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// sdkQuery runs statement as a Lake user does and returns every result row,
// its cells in column order.
func sdkQuery(ctx context.Context, ct *cloudtrail.Client, statement string, poll time.Duration) ([][]string, error) {
	out, err := ct.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(statement)})
	if err != nil {
		return nil, err
	}
	var rows [][]string
	var token *string
	for {
		r, err := ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: out.QueryId, NextToken: token, MaxQueryResults: aws.Int32(1000)})
		if err != nil {
			return nil, err
		}
		switch r.QueryStatus {
		case cttypes.QueryStatusQueued, cttypes.QueryStatusRunning:
			if token != nil {
				return nil, fmt.Errorf("query %s went back to %s while its pages were read", aws.ToString(out.QueryId), r.QueryStatus)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(poll):
			}
			continue
		case cttypes.QueryStatusFinished:
		default:
			return nil, fmt.Errorf("query %s: %s: %s", aws.ToString(out.QueryId), r.QueryStatus, aws.ToString(r.ErrorMessage))
		}
		for _, row := range r.QueryResultRows {
			cells := make([]string, 0, len(row))
			for _, cell := range row {
				for _, v := range cell {
					cells = append(cells, v)
				}
			}
			rows = append(rows, cells)
		}
		if r.NextToken == nil {
			return rows, nil
		}
		token = r.NextToken
	}
}

// duckQuery runs q on db and returns its rows, NULL as "".
func duckQuery(ctx context.Context, db *duck.DB, q string) ([][]string, error) {
	var rows [][]string
	_, err := db.Query(ctx, q, func(cells []*string) error {
		r := make([]string, len(cells))
		for i, c := range cells {
			if c != nil {
				r[i] = *c
			}
		}
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

// phaseLakeParquet runs the same statements in plain DuckDB (2 threads, as
// the engine's instances) over the imported store's Parquet files, read as
// any Parquet reader would: what the engine adds on top (the API, the
// translation, the snapshot, its pruning, the polling) is the difference.
func phaseLakeParquet(ctx context.Context, f benchFlags) (phaseResult, error) {
	storeDir, err := onlyStoreDir(filepath.Join(f.dir, lakeImportDir, datadir.LakeDir, benchAccount))
	if err != nil {
		return phaseResult{}, err
	}
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{storeDir}, Threads: 2, MemoryLimit: "1GB",
		Init: []string{"SET TimeZone = 'UTC'"}})
	if err != nil {
		return phaseResult{}, err
	}
	defer db.Close()
	table := "read_parquet('" + filepath.Join(storeDir, "day=*", "*.parquet") + "')"
	return timeLakeQueries(f, func(q string, p lakeParams) ([][]string, error) {
		return duckQuery(ctx, db, lakeSQL(q, table, p))
	})
}

// phaseLakeRaw is the query baseline: the group-by in plain DuckDB (2
// threads) over the raw .json.gz log files, the way a forensic user without
// a Lake asks it (read_json, unnest the Records).
func phaseLakeRaw(ctx context.Context, f benchFlags, logs string) (phaseResult, error) {
	abs, err := filepath.Abs(logs)
	if err != nil {
		return phaseResult{}, err
	}
	db, err := duck.Open(ctx, duck.Options{AllowedDirs: []string{abs}, Threads: 2})
	if err != nil {
		return phaseResult{}, err
	}
	defer db.Close()
	sql := "SELECT r.eventName, COUNT(*) AS n FROM (SELECT unnest(Records) AS r FROM read_json('" +
		filepath.Join(abs, "*.json.gz") + "')) GROUP BY r.eventName ORDER BY n DESC LIMIT 10"
	res := phaseResult{Events: f.events, Extra: map[string]float64{}}
	var times []time.Duration
	start := time.Now()
	for k := range max(1, f.lakeRawRuns) {
		t := time.Now()
		got, err := duckQuery(ctx, db, sql)
		if err != nil {
			return res, fmt.Errorf("%s: %w", sql, err)
		}
		times = append(times, time.Since(t))
		if k == 0 {
			if res.Extra["groupby.top10"], err = top10Sum(got); err != nil {
				return res, err
			}
		}
	}
	lakeTimings(res.Extra, qGroupBy, times)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
