package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/logfile"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	benchAccount = "123456789012"
	benchRegion  = "us-east-1"
	benchPerFile = 5000
)

// benchCmd is the harness; Run parses the command line and runs either
// the whole benchmark (this process orchestrates, each phase runs in a
// child process) or, with --phase, one phase.
type benchCmd struct{ stdout, stderr io.Writer }

type benchFlags struct {
	events      int
	dir         string
	concurrency int
	queries     int
	seed        uint64
	phase       string
	keep        bool
	jsonOut     string
	cpuprofile  string
	memprofile  string
	trace       string
	// The delivery benchmark (bench_delivery.go).
	delivery         bool
	rate             int
	seconds          float64
	deliveryInterval time.Duration
	buckets          string
	versitygw        string
	// The load benchmark (bench_load.go).
	load     bool
	clients  int
	endpoint string
	// The PutAuditEvents benchmark (bench_audit.go).
	audit     bool
	auditRuns int
	// The CloudTrail Lake benchmark (bench_lake.go).
	lake        bool
	lakeRuns    int
	lakeRawRuns int
	lakePoll    time.Duration
	// The lookupload phase's background appends, events/s.
	ingestRate float64
}

// phaseResult is what one phase reports; a phase runs in a child process so
// its peak memory is its own.
type phaseResult struct {
	Phase    string                `json:"phase"`
	Events   int                   `json:"events"`
	Seconds  float64               `json:"seconds"`
	Bytes    int64                 `json:"bytes,omitempty"`
	Extra    map[string]float64    `json:"extra,omitempty"`
	Latency  map[string][2]float64 `json:"latency,omitempty"` // name -> p50, p99 in ms
	PeakRSSM float64               `json:"peakRSSMiB"`
	// Failed says what failed in a phase that measures on regardless.
	Failed string `json:"failed,omitempty"`
}

func (c *benchCmd) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("opentrail-bench", flag.ContinueOnError)
	var f benchFlags
	fs.IntVar(&f.events, "events", 1_000_000, "number of events to generate")
	fs.StringVar(&f.dir, "dir", "", "work directory (default: a new temporary directory, removed afterwards)")
	fs.IntVar(&f.concurrency, "concurrency", 256, "concurrent appenders (API clients) for the ingest phase")
	fs.IntVar(&f.queries, "queries", 300, "LookupEvents calls per attribute")
	fs.Float64Var(&f.ingestRate, "ingest-rate", 0, "events/s appended while the lookupload phase measures LookupEvents (default: half of the ingest100 phase's rate)")
	fs.Uint64Var(&f.seed, "seed", 1, "generator seed")
	fs.StringVar(&f.phase, "phase", "", "run one phase only (internal; used by the parent process)")
	fs.BoolVar(&f.keep, "keep", false, "keep the work directory")
	fs.StringVar(&f.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of each phase to DIR/<phase>.pprof")
	fs.StringVar(&f.memprofile, "memprofile", "", "write a heap profile of each phase, taken when its live heap peaked, to DIR/<phase>.heap.pprof")
	fs.StringVar(&f.trace, "trace", "", "write an execution trace of each phase to DIR/<phase>.trace (go tool trace; large: use with few --events or --queries)")
	fs.BoolVar(&f.delivery, "delivery", false, "measure trail delivery instead: acknowledgement to log file in the bucket, per bucket store")
	fs.IntVar(&f.rate, "rate", 5000, "with --delivery: events appended per second")
	fs.Float64Var(&f.seconds, "seconds", 30, "with --delivery: seconds of appending per bucket store")
	fs.DurationVar(&f.deliveryInterval, "delivery-interval", time.Second, "with --delivery: how often trails' buffered events are written as log files")
	fs.StringVar(&f.buckets, "buckets", "embedded,versitygw", "with --delivery: bucket stores to measure, comma-separated: embedded (DATA-DIR/buckets), versitygw (S3-compatible server)")
	fs.BoolVar(&f.load, "load", false, "measure instead trail changes (PutEventSelectors) under concurrent clients, beside LookupEvents under the same load")
	fs.IntVar(&f.clients, "clients", 500, "with --load: concurrent SDK clients (uses --seconds and --delivery-interval too)")
	fs.StringVar(&f.endpoint, "endpoint", "", "with --load: the URL of a running OpenTrail server to load instead of an in-process one (its key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	fs.BoolVar(&f.audit, "audit", false, "measure PutAuditEvents instead: --concurrency clients sending 100 events a call to a channel, beside the event log's own rate for the same records")
	fs.IntVar(&f.auditRuns, "audit-runs", 2, "with --audit: how many times the baseline and the measured phase alternate")
	fs.BoolVar(&f.lake, "lake", false, "measure CloudTrail Lake instead: import and ingestion into an event data store, bytes per event, and Lake queries through the SDK beside DuckDB over the raw logs")
	fs.IntVar(&f.lakeRuns, "lake-runs", 5, "with --lake: runs of each query (the first is reported apart, as cold)")
	fs.IntVar(&f.lakeRawRuns, "lake-raw-runs", 2, "with --lake: runs of the baseline group-by over the raw .json.gz logs")
	fs.DurationVar(&f.lakePoll, "lake-poll", 5*time.Millisecond, "with --lake: how often GetQueryResults is called until a query has finished")
	fs.StringVar(&f.versitygw, "versitygw", "", "with --delivery: the versitygw binary (default: $OPENTRAIL_VERSITYGW, .cache/bin/versitygw, $PATH)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: opentrail-bench [flags]   (from the repository: go run ./cmd/opentrail-bench [flags])\n\nGenerates N CloudTrail events shaped like real ones and measures, each beside a\nbaseline from the same run: durable ingest, import from .json.gz, LookupEvents\nlatency per attribute, bytes on disk per event and peak memory per phase.\n\nWith --delivery it measures instead, per bucket store, the time from an event's\nacknowledgement to its log file in the trail's bucket at --rate events/s.\n\nWith --load it measures instead the latency of trail changes under --clients\nconcurrent clients, beside LookupEvents under the same load, and counts errors.\n\nWith --lake it measures CloudTrail Lake instead: import and ingestion into an\nevent data store, its bytes per event, and Lake queries through the SDK, beside\ndecode-only, a server without a store and DuckDB over the raw .json.gz logs.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, c.stdout); err != nil {
		return err
	}
	if f.events < 1 {
		return &usageError{msg: "--events must be at least 1"}
	}
	if f.phase != "" {
		if f.cpuprofile != "" {
			pf, err := os.Create(filepath.Join(f.cpuprofile, f.phase+".pprof"))
			if err != nil {
				return err
			}
			defer pf.Close()
			pprof.StartCPUProfile(pf)
			defer pprof.StopCPUProfile()
		}
		if f.trace != "" {
			tf, err := os.Create(filepath.Join(f.trace, f.phase+".trace"))
			if err != nil {
				return err
			}
			defer tf.Close()
			if err := trace.Start(tf); err != nil {
				return err
			}
			defer trace.Stop()
		}
		if f.memprofile != "" {
			stop := watchHeap(filepath.Join(f.memprofile, f.phase+".heap.pprof"), c.stderr)
			defer stop()
		}
		res, err := runPhase(ctx, f)
		if err != nil {
			return err
		}
		res.Phase = f.phase
		return json.NewEncoder(c.stdout).Encode(res)
	}
	if f.dir == "" {
		d, err := os.MkdirTemp("", "opentrail-bench-")
		if err != nil {
			return err
		}
		f.dir = d
		if !f.keep {
			defer os.RemoveAll(d)
		}
	}
	if f.delivery {
		return c.orchestrateDelivery(ctx, f)
	}
	if f.audit {
		if f.auditRuns < 1 {
			return &usageError{msg: "--audit-runs must be at least 1"}
		}
		return c.orchestrateAudit(ctx, f)
	}
	if f.lake {
		if f.lakeRuns < 1 {
			return &usageError{msg: "--lake-runs must be at least 1"}
		}
		return c.orchestrateLake(ctx, f)
	}
	if f.load {
		if f.clients < 1 {
			return &usageError{msg: "--clients must be at least 1"}
		}
		return c.runLoad(ctx, f)
	}
	return c.orchestrate(ctx, f)
}

func (c *benchCmd) orchestrate(ctx context.Context, f benchFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "opentrail-bench: %d events, %d CPUs (%s), Go %s, work dir %s\n", f.events, runtime.NumCPU(), cpuModel(), runtime.Version(), f.dir)
	results := map[string]phaseResult{}
	for _, ph := range []string{"gen", "decode", "import", "writebase", "ingest", "ingest100", "lookup", "lookupload", "crash", "restart"} {
		fmt.Fprintf(c.stderr, "bench: phase %s ...\n", ph)
		args := []string{"--phase", ph, "--events", fmt.Sprint(f.events), "--dir", f.dir,
			"--concurrency", fmt.Sprint(f.concurrency), "--queries", fmt.Sprint(f.queries), "--seed", fmt.Sprint(f.seed)}
		if ph == "lookupload" {
			r := f.ingestRate
			if r <= 0 {
				r = rate(results["ingest100"]) / 2
			}
			args = append(args, "--ingest-rate", fmt.Sprint(r))
		}
		if ph == "crash" {
			if err := c.runKilled(ctx, self, args); err != nil {
				return err
			}
			continue
		}
		r, rusage, err := c.runChild(ctx, self, ph, append(args, f.profileArgs()...))
		if err != nil {
			return err
		}
		if rusage != nil {
			r.PeakRSSM = float64(rusage.Maxrss) / 1024
		}
		results[ph] = r
	}
	c.report(f, results)
	if err := writeResults(f.jsonOut, results); err != nil {
		return err
	}
	return nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func rate(r phaseResult) float64 { return r.rate() }

// rate is the phase's events per second.
func (r phaseResult) rate() float64 { return float64(r.Events) / r.Seconds }

func (c *benchCmd) report(f benchFlags, res map[string]phaseResult) {
	w := c.stdout
	dec, imp, wb, ing, lk, gen := res["decode"], res["import"], res["writebase"], res["ingest"], res["lookup"], res["gen"]
	fmt.Fprintf(w, "\n%-44s %14s %14s %8s\n", "measure", "OpenTrail", "baseline", "ratio")
	row := func(name string, v, b float64, unit string) {
		fmt.Fprintf(w, "%-44s %11.0f %-2s %11.0f %-2s %7.2f\n", name, v, unit, b, unit, v/b)
	}
	row("import from .json.gz (events/s) vs decode-only", rate(imp), rate(dec), "")
	if ic, dc := imp.Extra["cpuSeconds"], dec.Extra["cpuSeconds"]; ic > 0 && dc > 0 {
		fmt.Fprintf(w, "%-44s %14.2f %14.2f %8.2f\n", "  CPU s per 1M events; ratio decode/import", 1e6*ic/float64(imp.Events), 1e6*dc/float64(dec.Events), (dc/float64(dec.Events))/(ic/float64(imp.Events)))
	}
	row("durable ingest, 1 event/call (events/s)", rate(ing), rate(wb), "")
	row("durable ingest, 100 events/call (events/s)", rate(res["ingest100"]), rate(wb), "")
	for _, ph := range []string{"ingest", "ingest100"} {
		if r := res[ph]; r.Extra["cpuSeconds"] > 0 {
			fmt.Fprintf(w, "%-44s %14.2f %14.2f\n", "  "+ph+": CPU s per 1M events, acked / indexed", 1e6*r.Extra["cpuSeconds"]/float64(r.Events), 1e6*r.Extra["indexedCPUSeconds"]/float64(r.Events))
		}
	}
	fmt.Fprintf(w, "%-44s %14.1f %14.1f %8.2f\n", "bytes on disk per event vs .json.gz input", imp.Extra["diskBytesPerEvent"], float64(gen.Bytes)/float64(gen.Events), imp.Extra["diskBytesPerEvent"]/(float64(gen.Bytes)/float64(gen.Events)))
	fmt.Fprintf(w, "%-44s %14.1f %14.1f %8.2f\n", "  after full compaction", imp.Extra["compactedBytesPerEvent"], float64(gen.Bytes)/float64(gen.Events), imp.Extra["compactedBytesPerEvent"]/(float64(gen.Bytes)/float64(gen.Events)))
	fmt.Fprintf(w, "%-44s %14.0f\n", "record JSON bytes per event (uncompressed)", gen.Extra["jsonBytes"]/float64(gen.Events))
	fmt.Fprintf(w, "%-44s %14.1f %14.1f %8.2f\n", "ingest: seconds until indexed / acked", ing.Extra["indexedSeconds"], ing.Seconds, ing.Extra["indexedSeconds"]/ing.Seconds)
	fmt.Fprintf(w, "%-44s %14.3f\n", "start-up after a clean stop (s)", lk.Extra["startupSeconds"])
	rs := res["restart"]
	fmt.Fprintf(w, "%-44s %14.3f\n", "start-up after SIGKILL (s)", rs.Extra["startupSeconds"])
	fmt.Fprintf(w, "%-44s %14.3f\n", fmt.Sprintf("  until a lookup finds the last of %d acked", rs.Events), rs.Extra["readySeconds"])
	fmt.Fprintf(w, "\npeak memory (MiB): gen %.0f, decode-only %.0f, import %.0f, raw write %.0f, ingest %.0f, ingest100 %.0f, lookup %.0f, lookup while ingesting %.0f\n",
		gen.PeakRSSM, dec.PeakRSSM, imp.PeakRSSM, wb.PeakRSSM, ing.PeakRSSM, res["ingest100"].PeakRSSM, lk.PeakRSSM, res["lookupload"].PeakRSSM)
	fmt.Fprintf(w, "\nLookupEvents latency at %d events, ms (p50 / p99), %d calls each, MaxResults 50:\n", f.events, f.queries)
	fmt.Fprintf(w, "%-22s %20s %20s %20s\n", "attribute", "API (SDK, signed)", "store query only", "history's wait")
	keys := make([]string, 0, len(lk.Latency))
	for k := range lk.Latency {
		if !strings.Contains(k, ":") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		a, s, hw := lk.Latency[k], lk.Latency["store:"+k], lk.Latency["wait:"+k]
		fmt.Fprintf(w, "%-22s %9.2f / %-8.2f %9.2f / %-8.2f %9.2f / %-8.2f\n", k, a[0], a[1], s[0], s[1], hw[0], hw[1])
	}
	b1, b2 := lk.Latency["base:empty-account"], lk.Latency["base:fsync"]
	fmt.Fprintf(w, "%-22s %9.2f / %-8.2f\n", "baseline: empty acct", b1[0], b1[1])
	fmt.Fprintf(w, "%-22s %9.2f / %-8.2f\n", "baseline: one fsync", b2[0], b2[1])
	ll := res["lookupload"]
	fmt.Fprintf(w, "\nThe same while ingest runs at %.0f events/s (target %.0f, half of ingest100's), ms (p50 / p99):\n", ll.Extra["ingestRate"], ll.Extra["targetRate"])
	for _, k := range append(keys, "base:empty-account", "base:fsync") {
		a, s, hw := ll.Latency[k], ll.Latency["store:"+k], ll.Latency["wait:"+k]
		if strings.HasPrefix(k, "base:") {
			fmt.Fprintf(w, "%-22s %9.2f / %-8.2f\n", strings.TrimPrefix(k, "base:"), a[0], a[1])
			continue
		}
		fmt.Fprintf(w, "%-22s %9.2f / %-8.2f %9.2f / %-8.2f %9.2f / %-8.2f\n", k, a[0], a[1], s[0], s[1], hw[0], hw[1])
	}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.IndexByte(l, ':'); i >= 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return runtime.GOARCH
}

func (f benchFlags) gen() *benchGen {
	span := 30 * 24 * time.Hour
	return &benchGen{account: benchAccount, region: benchRegion, start: time.Now().Add(-span - time.Hour), span: span, n: f.events, seed: f.seed}
}

func runPhase(ctx context.Context, f benchFlags) (phaseResult, error) {
	logs := filepath.Join(f.dir, "logs")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch f.phase {
	case "gen":
		return phaseGen(f, logs)
	case "decode":
		return phaseDecode(logs)
	case "import":
		dir := filepath.Join(f.dir, "import-data")
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
		zero := 0
		start, cpu0 := time.Now(), cpuSeconds()
		dd, err := datadir.Open(dir, quiet)
		if err != nil {
			return phaseResult{}, err
		}
		sum, err := daemon.Import(ctx, dd, []string{logs}, daemon.ImportOptions{RetentionDays: &zero, Logger: quiet})
		if err := errors.Join(err, dd.Close()); err != nil {
			return phaseResult{}, err
		}
		el, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
		// Reopen once: the index deletes files made obsolete by its last
		// compactions lazily, so measure what stays on disk.
		oo := daemon.OfflineOptions{Logger: quiet}
		off, err := daemon.OpenOffline(dir, oo)
		if err != nil {
			return phaseResult{}, err
		}
		time.Sleep(2 * time.Second)
		off.Close()
		disk := dirSize(filepath.Join(dir, datadir.EventsDir))
		// Then measure again after a full compaction.
		if off, err = daemon.OpenOffline(dir, oo); err != nil {
			return phaseResult{}, err
		}
		if err := off.History.Compact(); err != nil {
			return phaseResult{}, err
		}
		off.Close()
		if off, err = daemon.OpenOffline(dir, oo); err != nil {
			return phaseResult{}, err
		}
		time.Sleep(2 * time.Second)
		off.Close()
		compacted := dirSize(filepath.Join(dir, datadir.EventsDir))
		return phaseResult{Events: sum.Imported, Seconds: el, Bytes: disk, Extra: map[string]float64{
			"diskBytesPerEvent":      float64(disk) / float64(sum.Imported),
			"compactedBytesPerEvent": float64(compacted) / float64(sum.Imported),
			"duplicates":             float64(sum.Duplicates), "rejected": float64(sum.Rejected),
			"cpuSeconds": cpu,
		}}, nil
	case "writebase":
		return phaseWriteBase(f)
	case "ingest":
		return phaseIngest(ctx, f, 1, quiet)
	case "auditbase":
		return phaseAuditBase(ctx, f, quiet)
	case "audit":
		return phaseAudit(ctx, f, quiet)
	case "ingest100":
		f.concurrency = max(1, f.concurrency/8)
		return phaseIngest(ctx, f, 100, quiet)
	case "lookup":
		return phaseLookup(ctx, f, quiet)
	case "lookupload":
		return phaseLookupLoad(ctx, f, quiet)
	case "crash":
		return phaseCrash(ctx, f, quiet)
	case "restart":
		return phaseRestart(ctx, f, quiet)
	case "delivery":
		return phaseDelivery(ctx, f, quiet)
	}
	if res, ok, err := runLakePhase(ctx, f, logs, quiet); ok {
		return res, err
	}
	return phaseResult{}, &usageError{msg: fmt.Sprintf("unknown phase %q", f.phase)}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func phaseGen(f benchFlags, logs string) (phaseResult, error) {
	os.RemoveAll(logs)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return phaseResult{}, err
	}
	g := f.gen()
	start := time.Now()
	files := (f.events + benchPerFile - 1) / benchPerFile
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total, jsonBytes int64
	var firstErr error
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for fi := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			lo, hi := fi*benchPerFile, min((fi+1)*benchPerFile, f.events)
			t := g.start.Add(time.Duration(float64(g.span) * float64(lo) / float64(g.n)))
			name := filepath.Join(logs, fmt.Sprintf("%s_CloudTrail_%s_%s_%06d.json.gz", benchAccount, benchRegion, t.UTC().Format("20060102T1504Z"), fi))
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
			bw := bufio.NewWriter(zw)
			bw.WriteString(`{"Records":[`)
			var js int64
			for i := lo; i < hi; i++ {
				if i > lo {
					bw.WriteByte(',')
				}
				rec := g.record(i)
				js += int64(len(rec))
				bw.Write(rec)
			}
			bw.WriteString("]}")
			bw.Flush()
			zw.Close()
			err := os.WriteFile(name, buf.Bytes(), 0o644)
			mu.Lock()
			total += int64(buf.Len())
			jsonBytes += js
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return phaseResult{Events: f.events, Seconds: time.Since(start).Seconds(), Bytes: total, Extra: map[string]float64{"jsonBytes": float64(jsonBytes)}}, firstErr
}

// phaseDecode is the import baseline: decompress and parse every file (the
// same decoder and record parser the importer uses) without storing.
func phaseDecode(logs string) (phaseResult, error) {
	ents, err := os.ReadDir(logs)
	if err != nil {
		return phaseResult{}, err
	}
	start, cpu0 := time.Now(), cpuSeconds()
	var n, bad int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	var firstErr error
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cnt, nbad int64
			for path := range work {
				fh, err := os.Open(path)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				dec, err := logfile.NewDecoder(fh)
				if err != nil {
					fh.Close()
					mu.Lock()
					firstErr = err
					mu.Unlock()
					continue
				}
				for {
					rec, err := dec.Next()
					if err != nil {
						break
					}
					if _, err := event.Parse(rec.Raw); err != nil {
						nbad++
					}
					cnt++
				}
				fh.Close()
			}
			mu.Lock()
			n += cnt
			bad += nbad
			mu.Unlock()
		}()
	}
	for _, e := range ents {
		work <- filepath.Join(logs, e.Name())
	}
	close(work)
	wg.Wait()
	if bad > 0 {
		return phaseResult{}, fmt.Errorf("decode: %d records failed to parse", bad)
	}
	return phaseResult{Events: int(n), Seconds: time.Since(start).Seconds(), Extra: map[string]float64{"cpuSeconds": cpuSeconds() - cpu0}}, firstErr
}

// cpuSeconds is the CPU time (user and system) the process has used: on a
// machine other work shares, the import's CPU beside decode-only's says
// what the store costs where the rates move with the load.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// ingestTemplates is how many distinct events the ingest phases generate;
// event i is template i%ingestTemplates with a fresh eventID, so memory
// stays bounded at any --events.
const ingestTemplates = 50_000

// ingestSource pre-generates the templates (a different seed from the
// import set, so nothing is a duplicate).
type ingestSource struct {
	tmpl []event.Event
	// idAt is, per template, the offset in Raw of its eventID's value
	// (locateIDs, once the templates are set).
	idAt []int
}

func newIngestSource(f benchFlags) *ingestSource {
	g := f.gen()
	g.seed = f.seed + 1000
	n := min(f.events, ingestTemplates)
	src := &ingestSource{tmpl: make([]event.Event, n)}
	var wg sync.WaitGroup
	per := (n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	for w := range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * per; i < min((w+1)*per, n); i++ {
				ev, err := event.Parse(g.record(i))
				if err != nil {
					panic(err)
				}
				src.tmpl[i] = ev
			}
		}()
	}
	wg.Wait()
	src.locateIDs()
	return src
}

// locateIDs fills idAt.
func (s *ingestSource) locateIDs() {
	s.idAt = make([]int, len(s.tmpl))
	for i, t := range s.tmpl {
		at := bytes.Index(t.Raw, []byte(`"eventID":"`+t.EventID+`"`))
		if at < 0 {
			panic("bench: a template's eventID is not in its JSON as generated")
		}
		s.idAt[i] = at + len(`"eventID":"`)
	}
}

// event returns event i: its template with the eventID's last 12 hex digits
// replaced by i, patched in a copy of the JSON bytes (same length, so still
// valid). The harness's own cost per event stays small beside the store's:
// it shares the cores with the store it measures.
func (s *ingestSource) event(i int) event.Event {
	k := i % len(s.tmpl)
	t := s.tmpl[k]
	ev := t
	ev.Raw = bytes.Clone(t.Raw)
	id := ev.Raw[s.idAt[k] : s.idAt[k]+len(t.EventID)]
	const hexDigits = "0123456789abcdef"
	for j, v := len(id)-1, uint64(i); j >= len(id)-12; j, v = j-1, v>>4 {
		id[j] = hexDigits[v&15]
	}
	ev.EventID = string(id)
	return ev
}

// phaseWriteBase is the ingest baseline: the same bytes written to one
// file, fsynced once per 1,000 events, with no framing, indexing or
// concurrency.
func phaseWriteBase(f benchFlags) (phaseResult, error) {
	src := newIngestSource(f)
	path := filepath.Join(f.dir, "writebase.bin")
	fh, err := os.Create(path)
	if err != nil {
		return phaseResult{}, err
	}
	defer os.Remove(path)
	defer fh.Close()
	bw := bufio.NewWriterSize(fh, 1<<20)
	start := time.Now()
	for i := range f.events {
		ev := src.event(i)
		bw.Write(ev.Raw)
		if i%1000 == 999 || i == f.events-1 {
			bw.Flush()
			if err := syscall.Fdatasync(int(fh.Fd())); err != nil {
				return phaseResult{}, err
			}
		}
	}
	return phaseResult{Events: f.events, Seconds: time.Since(start).Seconds()}, nil
}

// appendRetry appends evs, appending again while the store answers with
// back-pressure (the store asking the caller to wait, as a client retries
// ThrottlingException), after pause each time.
func appendRetry(ctx context.Context, st *store.Store, evs []event.Event, pause time.Duration) (store.AppendResult, error) {
	for {
		r, err := st.Append(ctx, evs, store.AppendOptions{})
		if !errors.Is(err, store.ErrBackpressure) {
			return r, err
		}
		time.Sleep(pause)
	}
}

// phaseIngest appends events from many goroutines, batch events per call
// (1 like API requests, 100 like PutAuditEvents), and measures until every
// append is acknowledged (durable).
func phaseIngest(ctx context.Context, f benchFlags, batch int, log *slog.Logger) (phaseResult, error) {
	// The phase stands for a server's ingest: it runs under the server's
	// soft memory limit (daemon.Run sets it; the import phase gets it
	// from daemon.Import).
	daemon.LimitGoMemory(log)
	src := newIngestSource(f)
	dir := filepath.Join(f.dir, "ingest-data")
	os.RemoveAll(dir)
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{Logger: log})
	if err != nil {
		return phaseResult{}, err
	}
	defer os.RemoveAll(dir)
	st := off.Store
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	cpu0 := cpuSeconds()
	start := time.Now()
	for range f.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next += int64(batch)
				mu.Unlock()
				if i >= int64(f.events) {
					return
				}
				evs := make([]event.Event, 0, batch)
				for j := i; j < min(i+int64(batch), int64(f.events)); j++ {
					evs = append(evs, src.event(int(j)))
				}
				if _, err := appendRetry(ctx, st, evs, 0); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	acked := time.Since(start).Seconds()
	ackedCPU := cpuSeconds() - cpu0
	if err := off.History.WaitCaughtUp(ctx); err != nil {
		return phaseResult{}, err
	}
	indexed := time.Since(start).Seconds()
	indexedCPU := cpuSeconds() - cpu0
	if err := off.Close(); err != nil {
		return phaseResult{}, err
	}
	return phaseResult{Events: f.events, Seconds: acked, Extra: map[string]float64{"indexedSeconds": indexed,
		"cpuSeconds": ackedCPU, "indexedCPUSeconds": indexedCPU}}, firstErr
}

func percentiles(d []time.Duration) [2]float64 {
	if len(d) == 0 {
		return [2]float64{}
	}
	slices.Sort(d)
	p := func(q float64) float64 {
		i := int(q*float64(len(d))+0.5) - 1
		i = max(0, min(i, len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return [2]float64{p(0.50), p(0.99)}
}

func phaseLookup(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	// Start-up after a clean stop: the import phase closed the data
	// directory.
	srv, err := startServer(ctx, filepath.Join(f.dir, "import-data"), log)
	if err != nil {
		return phaseResult{}, err
	}
	defer srv.stop()
	res := phaseResult{Events: f.events, Latency: map[string][2]float64{}, Extra: map[string]float64{"startupSeconds": srv.startup}}
	return res, measureLookups(ctx, f, srv, res.Latency)
}

// measureLookups times f.queries LookupEvents calls per attribute through
// the SDK and the same queries against the store alone, then the
// baselines (an account with no events, one fsync), into lat.
func measureLookups(ctx context.Context, f benchFlags, srv *server, lat map[string][2]float64) error {
	d, ct := srv.d, srv.ct
	// Sample attribute values from the generated events.
	g := f.gen()
	r := rand.New(rand.NewPCG(f.seed, 99))
	values := map[cttypes.LookupAttributeKey][]string{}
	for range f.queries {
		ev, err := event.Parse(g.record(r.IntN(f.events)))
		if err != nil {
			return err
		}
		s := ev.Summary
		add := func(k cttypes.LookupAttributeKey, v string) {
			if v != "" {
				values[k] = append(values[k], v)
			}
		}
		add(cttypes.LookupAttributeKeyEventId, s.EventID)
		add(cttypes.LookupAttributeKeyEventName, s.EventName)
		add(cttypes.LookupAttributeKeyReadOnly, fmt.Sprint(*s.ReadOnly))
		add(cttypes.LookupAttributeKeyUsername, s.Username)
		add(cttypes.LookupAttributeKeyEventSource, s.EventSource)
		add(cttypes.LookupAttributeKeyAccessKeyId, s.AccessKeyID)
		for _, res := range s.LookupResources {
			add(cttypes.LookupAttributeKeyResourceType, res.ResourceType)
			add(cttypes.LookupAttributeKeyResourceName, res.ResourceName)
		}
	}
	storeKeys := map[cttypes.LookupAttributeKey]history.AttrKey{
		cttypes.LookupAttributeKeyEventId: history.AttrEventID, cttypes.LookupAttributeKeyEventName: history.AttrEventName,
		cttypes.LookupAttributeKeyReadOnly: history.AttrReadOnly, cttypes.LookupAttributeKeyUsername: history.AttrUsername,
		cttypes.LookupAttributeKeyResourceType: history.AttrResourceType, cttypes.LookupAttributeKeyResourceName: history.AttrResourceName,
		cttypes.LookupAttributeKeyEventSource: history.AttrEventSource, cttypes.LookupAttributeKeyAccessKeyId: history.AttrAccessKeyID,
	}
	run := func(name string, in func(i int) *cloudtrail.LookupEventsInput, q func(i int) history.Query) error {
		var api, sq, wq []time.Duration
		for i := range f.queries {
			t := time.Now()
			if _, err := ct.LookupEvents(ctx, in(i)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			api = append(api, time.Since(t))
			// History's wait for what was acknowledged before the query
			// (WaitCaughtUp, which Lookup does first), timed apart from
			// the query itself.
			t = time.Now()
			if err := d.History().WaitCaughtUp(ctx); err != nil {
				return err
			}
			wq = append(wq, time.Since(t))
			t = time.Now()
			if _, err := d.History().Lookup(ctx, q(i)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			sq = append(sq, time.Since(t))
		}
		lat[name] = percentiles(api)
		lat["store:"+name] = percentiles(sq)
		lat["wait:"+name] = percentiles(wq)
		return nil
	}
	base := func(i int) history.Query { return history.Query{Account: benchAccount, Region: benchRegion, Limit: 50} }
	if err := run("(none)", func(int) *cloudtrail.LookupEventsInput { return &cloudtrail.LookupEventsInput{} }, base); err != nil {
		return err
	}
	for k, vs := range values {
		if err := run(string(k), func(i int) *cloudtrail.LookupEventsInput {
			return &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: k, AttributeValue: aws.String(vs[i%len(vs)])}}}
		}, func(i int) history.Query {
			q := base(i)
			q.Key, q.Value = storeKeys[k], vs[i%len(vs)]
			return q
		}); err != nil {
			return err
		}
	}
	// Baselines: the same call for an account with no events, and one
	// fsync of the data disk (every API call waits for one to record itself).
	if _, err := d.Identities().EnsureAccount(ctx, "210987654321"); err != nil {
		return err
	}
	k2, _ := d.Identities().RootKey("210987654321")
	empty := cloudtrail.New(cloudtrail.Options{Region: benchRegion, BaseEndpoint: aws.String(d.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(k2.AccessKeyID, k2.SecretAccessKey, "")})
	var eb, fsy []time.Duration
	fh, err := os.Create(filepath.Join(f.dir, "fsync.bin"))
	if err != nil {
		return err
	}
	defer os.Remove(fh.Name())
	defer fh.Close()
	buf := make([]byte, 1500)
	for range f.queries {
		t := time.Now()
		if _, err := empty.LookupEvents(ctx, &cloudtrail.LookupEventsInput{}); err != nil {
			return err
		}
		eb = append(eb, time.Since(t))
		t = time.Now()
		fh.Write(buf)
		syscall.Fdatasync(int(fh.Fd()))
		fsy = append(fsy, time.Since(t))
	}
	lat["base:empty-account"] = percentiles(eb)
	lat["base:fsync"] = percentiles(fsy)
	return nil
}

// runChild runs one bench phase in a child process and returns its result
// and the child's resource usage (nil where the platform has none).
// profileArgs are the flags that pass --cpuprofile, --memprofile and --trace on to
// a phase's child process.
func (f benchFlags) profileArgs() []string {
	var args []string
	if f.cpuprofile != "" {
		args = append(args, "--cpuprofile", f.cpuprofile)
	}
	if f.memprofile != "" {
		args = append(args, "--memprofile", f.memprofile)
	}
	if f.trace != "" {
		args = append(args, "--trace", f.trace)
	}
	return args
}

func (c *benchCmd) runChild(ctx context.Context, self, name string, args []string) (phaseResult, *syscall.Rusage, error) {
	cmd := exec.CommandContext(ctx, self, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = c.stderr
	if err := cmd.Run(); err != nil {
		return phaseResult{}, nil, fmt.Errorf("bench phase %s: %w", name, err)
	}
	var r phaseResult
	if err := json.Unmarshal(lastLine(out.Bytes()), &r); err != nil {
		return phaseResult{}, nil, fmt.Errorf("bench phase %s: bad result %q: %w", name, out.String(), err)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return r, ru, nil
}

// writeResults writes the raw results as JSON when path is set (--json).
func writeResults(path string, results map[string]phaseResult) error {
	if path == "" {
		return nil
	}
	b, _ := json.MarshalIndent(results, "", "  ")
	return os.WriteFile(path, b, 0o644)
}
