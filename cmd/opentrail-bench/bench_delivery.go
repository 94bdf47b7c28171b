package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sdktest"
)

// The delivery benchmark (opentrail-bench --delivery) measures, for each
// bucket store, how long an event takes from its acknowledgement (Append
// returned: durable) to a log file holding it being listable in the
// trail's bucket, at a steady event rate. Baselines from the same run: the
// delivery interval (an event waits interval/2 on average for the next
// write), gzip + SHA-256 of a median file's JSON (what staging a file
// computes), a direct PutObject of a median-size file to the same store,
// and one ListObjectsV2 poll of the watcher.

const (
	benchBucket    = "opentrail-bench-delivery"
	benchTrail     = "bench"
	benchPoll      = 20 * time.Millisecond // how often the watcher lists the bucket
	benchPutRounds = 20                    // PutObject calls of the baseline
	// benchDeliveryTemplates is how many distinct events the delivery phase
	// generates; event i is template i%benchDeliveryTemplates with its own
	// eventID.
	benchDeliveryTemplates = 10_000
)

// deliveryBackends are the bucket stores --buckets may name.
var deliveryBackends = []string{"embedded", "versitygw"}

// orchestrateDelivery runs the delivery phase once per bucket store, each in
// its own child process, and prints the figures side by side.
func (c *benchCmd) orchestrateDelivery(ctx context.Context, f benchFlags) error {
	backends := strings.Split(f.buckets, ",")
	for _, b := range backends {
		if !slices.Contains(deliveryBackends, b) {
			return &usageError{msg: fmt.Sprintf("--buckets: unknown store %q (want %s)", b, strings.Join(deliveryBackends, ","))}
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "opentrail-bench --delivery: %d events/s for %gs per bucket store, delivery interval %s, %d CPUs (%s), Go %s, load average %s, work dir %s\n",
		f.rate, f.seconds, f.deliveryInterval, runtime.NumCPU(), cpuModel(), runtime.Version(), loadAvg(), f.dir)
	results := map[string]phaseResult{}
	for _, b := range backends {
		fmt.Fprintf(c.stderr, "bench: phase delivery (%s) ...\n", b)
		args := []string{"--phase", "delivery", "--buckets", b, "--dir", f.dir,
			"--rate", fmt.Sprint(f.rate), "--seconds", fmt.Sprint(f.seconds), "--delivery-interval", f.deliveryInterval.String(),
			"--concurrency", fmt.Sprint(f.concurrency), "--seed", fmt.Sprint(f.seed)}
		if f.versitygw != "" {
			args = append(args, "--versitygw", f.versitygw)
		}
		r, _, err := c.runChild(ctx, self, "delivery ("+b+")", append(args, f.profileArgs()...))
		if err != nil {
			return err
		}
		// The phase reports its own peak RSS: the child's rusage would be
		// the larger of it and versitygw's, its own child.
		r.Phase = "delivery:" + b
		results[r.Phase] = r
	}
	c.reportDelivery(f, backends, results)
	fmt.Fprintf(c.stdout, "load average after: %s\n", loadAvg())
	return writeResults(f.jsonOut, results)
}

func (c *benchCmd) reportDelivery(f benchFlags, backends []string, res map[string]phaseResult) {
	w := c.stdout
	fmt.Fprintf(w, "\n%-52s", "measure")
	for _, b := range backends {
		fmt.Fprintf(w, " %12s", b)
	}
	fmt.Fprintln(w)
	row := func(name, format string, v func(r phaseResult) float64) {
		fmt.Fprintf(w, "%-52s", name)
		for _, b := range backends {
			cell := "-"
			if x := v(res["delivery:"+b]); x != 0 {
				cell = fmt.Sprintf(format, x)
			}
			fmt.Fprintf(w, " %12s", cell)
		}
		fmt.Fprintln(w)
	}
	lat := func(name string, i int) func(r phaseResult) float64 {
		return func(r phaseResult) float64 { return r.Latency[name][i] }
	}
	ex := func(name string) func(r phaseResult) float64 {
		return func(r phaseResult) float64 { return r.Extra[name] }
	}
	row(fmt.Sprintf("events appended, events/s (target %d)", f.rate), "%.0f", rate)
	row("events delivered (each exactly once)", "%.0f", func(r phaseResult) float64 { return float64(r.Events) })
	row("log files", "%.0f", ex("files"))
	row("median log file, KiB gzipped", "%.0f", func(r phaseResult) float64 { return r.Extra["medianFileBytes"] / 1024 })
	row("ack -> file in bucket, ms: p50", "%.0f", lat("ack-to-bucket", 0))
	row("                           p90", "%.0f", ex("p90Ms"))
	row("                           p99", "%.0f", lat("ack-to-bucket", 1))
	row("                           max", "%.0f", ex("maxMs"))
	row("baseline: interval/2 (mean wait for the next file)", "%.0f", func(r phaseResult) float64 { return r.Extra["intervalMs"] / 2 })
	row("overhead: p50 - interval/2, ms", "%.0f", ex("overheadMs"))
	row("baseline: gzip + SHA-256 of a median file, ms p50", "%.1f", lat("base:encode", 0))
	row("baseline: PutObject of a median-size file, ms p50", "%.1f", lat("base:put", 0))
	row("                                            p99", "%.1f", lat("base:put", 1))
	row(fmt.Sprintf("watcher: one ListObjectsV2 poll (every %s), ms p50", benchPoll), "%.1f", lat("base:list", 0))
	row("peak memory, MiB: opentrail (daemon, load, watcher)", "%.0f", func(r phaseResult) float64 { return r.PeakRSSM })
	row("                  versitygw", "%.0f", ex("versitygwPeakRSSMiB"))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fs := strings.Fields(string(b))
	if len(fs) < 3 {
		return "unknown"
	}
	return strings.Join(fs[:3], " ")
}

// phaseDelivery runs a daemon in this process with one trail delivering to
// f.buckets, appends f.rate events/s for f.seconds straight into its store,
// and watches the bucket until every acknowledged event is in exactly one
// log file.
func phaseDelivery(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	if !slices.Contains(deliveryBackends, f.buckets) {
		return phaseResult{}, &usageError{msg: fmt.Sprintf("--phase delivery needs --buckets %s", strings.Join(deliveryBackends, " or "))}
	}
	if f.rate < 1 || f.seconds <= 0 || f.deliveryInterval <= 0 {
		return phaseResult{}, &usageError{msg: "--rate, --seconds and --delivery-interval must be positive"}
	}
	total := int(float64(f.rate) * f.seconds)
	if total < 1 {
		return phaseResult{}, &usageError{msg: "--rate × --seconds is less than one event"}
	}
	dir := filepath.Join(f.dir, "delivery-"+f.buckets)
	os.RemoveAll(dir)
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return phaseResult{}, err
	}
	// The account and its root key exist before the daemon does, so that
	// versitygw can start with the same key as its root credentials.
	ids, err := identity.Open(dataDir)
	if err != nil {
		return phaseResult{}, err
	}
	if _, _, err := ids.CreateDefault(benchAccount); err != nil {
		return phaseResult{}, err
	}
	key, err := ids.RootKey(benchAccount)
	if err != nil {
		return phaseResult{}, err
	}
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Listen = "127.0.0.1:0"
	cfg.AccountID = benchAccount
	cfg.Delivery.Interval = config.Duration(f.deliveryInterval)
	var vg *versitygwProc
	if f.buckets == "versitygw" {
		bin := versitygwBinary(f.versitygw)
		if bin == "" {
			return phaseResult{}, errors.New("versitygw not found: run ./scripts/versitygw, or pass --versitygw PATH or set OPENTRAIL_VERSITYGW")
		}
		if vg, err = startVersitygw(ctx, bin, filepath.Join(dir, "versitygw"), key.AccessKeyID, key.SecretAccessKey); err != nil {
			return phaseResult{}, err
		}
		defer vg.stop()
		cfg.Buckets = config.Buckets{Endpoint: vg.endpoint, Region: benchRegion, AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	}
	d, err := daemon.New(cfg, log)
	if err != nil {
		return phaseResult{}, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	stopped := false
	stopDaemon := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	defer stopDaemon()

	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(awshttp.NewBuildableClient().GetTransport())
	s3URL := d.URL()
	if vg != nil {
		s3URL = vg.endpoint
	}
	s3c := s3.New(s3.Options{Region: benchRegion, BaseEndpoint: aws.String(s3URL), Credentials: creds, HTTPClient: hc, UsePathStyle: true,
		// As the daemon's own S3 client: checksums only where required.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true})
	ct := cloudtrail.New(cloudtrail.Options{Region: benchRegion, BaseEndpoint: aws.String(d.URL()), Credentials: creds, HTTPClient: hc})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(benchBucket)}); err != nil {
		return phaseResult{}, fmt.Errorf("create bucket: %w", err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(benchTrail), S3BucketName: aws.String(benchBucket)}); err != nil {
		return phaseResult{}, fmt.Errorf("create trail: %w", err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(benchTrail)}); err != nil {
		return phaseResult{}, fmt.Errorf("start logging: %w", err)
	}

	src := newDeliverySource(f, total)
	t0 := time.Now()
	w := newDeliveryWatch(s3c, "AWSLogs/"+benchAccount+"/CloudTrail/", src, total, t0)
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); w.run(wctx) }()
	defer func() { stopWatch(); <-watchDone }()

	// Event i is due at t0 + i/rate; each worker takes the next event,
	// waits for its time and appends it alone, as one API call records
	// one event. Workers that fall behind show as a lower achieved rate.
	ack := make([]time.Duration, total)
	var next atomic.Int64
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var appendErr error
	for range max(1, f.concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				due := time.Duration(float64(i) * float64(time.Second) / float64(f.rate))
				if wait := due - time.Since(t0); wait > 0 {
					time.Sleep(wait)
				}
				evs := []event.Event{src.event(i)}
				if _, err := appendRetry(ctx, d.Store(), evs, time.Millisecond); err != nil {
					errMu.Lock()
					appendErr = errors.Join(appendErr, fmt.Errorf("append event %d: %w", i, err))
					errMu.Unlock()
					next.Store(int64(total))
					return
				}
				ack[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	if appendErr != nil {
		return phaseResult{}, appendErr
	}
	appended := slices.Max(ack)

	// Wait for every acknowledged event, then one more interval to see
	// whether anything arrives twice.
	deadline := time.Now().Add(3*f.deliveryInterval + 60*time.Second)
	for w.delivered.Load() < int64(total) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return phaseResult{}, errors.Join(fmt.Errorf("delivery: %d of %d acknowledged events never reached the bucket within %s of the last acknowledgement",
				int64(total)-w.delivered.Load(), total, (time.Since(t0)-appended).Round(time.Millisecond)), w.failure())
		}
		time.Sleep(benchPoll)
	}
	allSeen := time.Since(t0)
	time.Sleep(f.deliveryInterval + 4*benchPoll)
	stopWatch()
	<-watchDone
	if err := w.failure(); err != nil {
		return phaseResult{}, err
	}

	lat := make([]time.Duration, total)
	for i := range total {
		lat[i] = w.seen[i] - ack[i]
	}
	slices.Sort(lat)
	var ours []deliveredFile
	var bytesTotal int64
	for _, fl := range w.files {
		if fl.ours > 0 {
			ours = append(ours, fl)
		}
		bytesTotal += int64(fl.size)
	}
	slices.SortFunc(ours, func(a, b deliveredFile) int { return a.size - b.size })
	median := ours[len(ours)/2].size

	// Baseline: what staging a file costs before any I/O, gzip (the same
	// library and level) and SHA-256 of the median file's JSON.
	raw, err := getGunzip(ctx, s3c, ours[len(ours)/2].key)
	if err != nil {
		return phaseResult{}, err
	}
	var encs []time.Duration
	for range 5 {
		t := time.Now()
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		sha256.Sum256(raw)
		encs = append(encs, time.Since(t))
	}

	// Baseline: PutObject of a file of the median size into the same store,
	// once delivery is idle.
	body := make([]byte, median)
	rand.NewChaCha8([32]byte{byte(f.seed)}).Read(body)
	var puts []time.Duration
	for i := range benchPutRounds {
		t := time.Now()
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket),
			Key: aws.String(fmt.Sprintf("bench-baseline/put-%02d.bin", i)), Body: bytes.NewReader(body)}); err != nil {
			return phaseResult{}, fmt.Errorf("baseline PutObject: %w", err)
		}
		puts = append(puts, time.Since(t))
	}

	if err := stopDaemon(); err != nil {
		return phaseResult{}, fmt.Errorf("stop daemon: %w", err)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p50, p99 := ms(pick(lat, 0.50)), ms(pick(lat, 0.99))
	res := phaseResult{
		Events:   total,
		Seconds:  appended.Seconds(),
		Bytes:    bytesTotal,
		PeakRSSM: float64(ru.Maxrss) / 1024,
		Latency: map[string][2]float64{
			"ack-to-bucket": {p50, p99},
			"base:put":      percentiles(puts),
			"base:list":     percentiles(w.lists),
			"base:encode":   percentiles(encs),
		},
		Extra: map[string]float64{
			"targetRate":       float64(f.rate),
			"intervalMs":       ms(f.deliveryInterval),
			"p90Ms":            ms(pick(lat, 0.90)),
			"maxMs":            ms(lat[len(lat)-1]),
			"overheadMs":       p50 - ms(f.deliveryInterval)/2,
			"files":            float64(len(ours)),
			"otherFiles":       float64(len(w.files) - len(ours)),
			"medianFileBytes":  float64(median),
			"medianFileRaw":    float64(len(raw)),
			"otherEvents":      float64(w.other),
			"allSeenSeconds":   allSeen.Seconds(),
			"lastAckToAllSeen": ms(allSeen - appended),
		},
	}
	if vg != nil {
		res.Extra["versitygwPeakRSSMiB"] = vg.stop()
	}
	return res, nil
}

// pick returns the q-quantile of sorted d (nearest rank).
func pick(d []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(d))+0.5) - 1
	return d[max(0, min(i, len(d)-1))]
}

// deliverySource makes the phase's events: templates shaped like real
// events, timed within the last minute, each use with its own eventID.
type deliverySource struct {
	ingestSource
	total int
}

func newDeliverySource(f benchFlags, total int) *deliverySource {
	n := min(total, benchDeliveryTemplates)
	g := &benchGen{account: benchAccount, region: benchRegion, start: time.Now().Add(-time.Minute), span: time.Minute, n: n, seed: f.seed + 2000}
	src := &deliverySource{ingestSource: ingestSource{tmpl: make([]event.Event, n)}, total: total}
	for i := range n {
		ev, err := event.Parse(g.record(i))
		if err != nil {
			panic(err)
		}
		src.tmpl[i] = ev
	}
	src.locateIDs()
	return src
}

// index returns the number of the phase's event with this eventID, or false
// for any other event (such as the API calls that set the trail up).
func (s *deliverySource) index(id string) (int, bool) {
	if len(id) != 36 {
		return 0, false
	}
	i, err := strconv.ParseUint(id[24:], 16, 64)
	if err != nil || i >= uint64(s.total) {
		return 0, false
	}
	t := s.tmpl[int(i)%len(s.tmpl)].EventID
	return int(i), id[:24] == t[:24]
}

// deliveryWatch lists the trail's log files every benchPoll, notes when
// each key is first seen, and downloads each new file once to map its
// events to that time.
type deliveryWatch struct {
	s3c    *s3.Client
	prefix string
	src    *deliverySource
	t0     time.Time

	delivered atomic.Int64 // distinct phase events seen in files

	// Owned by the watcher until run returns.
	seen  []time.Duration // per event: when its file was first listed, since t0
	file  []int32         // per event: index into files, -1 before
	files []deliveredFile
	keys  map[string]bool
	lists []time.Duration
	other int // events in the files that are not the phase's

	mu   sync.Mutex
	errs []error
}

type deliveredFile struct {
	key  string
	seen time.Duration
	size int
	ours int
}

func newDeliveryWatch(s3c *s3.Client, prefix string, src *deliverySource, total int, t0 time.Time) *deliveryWatch {
	w := &deliveryWatch{s3c: s3c, prefix: prefix, src: src, t0: t0, seen: make([]time.Duration, total), file: make([]int32, total), keys: map[string]bool{}}
	for i := range w.file {
		w.file[i] = -1
	}
	return w
}

func (w *deliveryWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) < 10 {
		w.errs = append(w.errs, err)
	}
}

// failure returns what went wrong so far: list or download errors and
// events delivered twice.
func (w *deliveryWatch) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.errs...)
}

func (w *deliveryWatch) run(ctx context.Context) {
	type found struct {
		key  string
		seen time.Duration
	}
	queue := make(chan found, 4096)
	var dl sync.WaitGroup
	dl.Add(1)
	go func() { // one downloader, so the listing keeps its pace
		defer dl.Done()
		for fd := range queue {
			w.download(ctx, fd.key, fd.seen)
		}
	}()
	defer func() { close(queue); dl.Wait() }()
	tick := time.NewTicker(benchPoll)
	defer tick.Stop()
	for {
		start := time.Now()
		var token *string
		for {
			out, err := w.s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(benchBucket), Prefix: aws.String(w.prefix), ContinuationToken: token})
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				w.fail(fmt.Errorf("list %s: %w", w.prefix, err))
				break
			}
			now := time.Since(w.t0)
			for _, o := range out.Contents {
				if k := aws.ToString(o.Key); !w.keys[k] {
					w.keys[k] = true
					queue <- found{k, now}
				}
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			token = out.NextContinuationToken
		}
		w.lists = append(w.lists, time.Since(start))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// download reads one log file and credits its events with the time its key
// was first listed.
func (w *deliveryWatch) download(ctx context.Context, key string, seen time.Duration) {
	body, raw, err := getObject(ctx, w.s3c, key)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(err)
		}
		return
	}
	var doc struct {
		Records []struct {
			EventID string `json:"eventID"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		w.fail(fmt.Errorf("%s: %w", key, err))
		return
	}
	ids := make([]string, len(doc.Records))
	for i, r := range doc.Records {
		ids[i] = r.EventID
	}
	w.credit(deliveredFile{key: key, seen: seen, size: len(body)}, ids)
}

// credit records a downloaded file and its events; an event already in
// another file is an exactly-once failure.
func (w *deliveryWatch) credit(fl deliveredFile, ids []string) {
	fi := int32(len(w.files))
	for _, id := range ids {
		i, ok := w.src.index(id)
		if !ok {
			w.other++
			continue
		}
		fl.ours++
		if prev := w.file[i]; prev >= 0 {
			w.fail(fmt.Errorf("exactly once: event %s is in %s and in %s", id, w.files[prev].key, fl.key))
			continue
		}
		w.file[i] = fi
		w.seen[i] = fl.seen
		w.delivered.Add(1)
	}
	w.files = append(w.files, fl)
}

// getGunzip returns the decompressed content of a log file.
func getGunzip(ctx context.Context, s3c *s3.Client, key string) ([]byte, error) {
	_, raw, err := getObject(ctx, s3c, key)
	return raw, err
}

// getObject downloads a log file and returns it as stored and decompressed.
func getObject(ctx context.Context, s3c *s3.Client, key string) (body, raw []byte, err error) {
	out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", key, err)
	}
	body, err = io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", key, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	if raw, err = io.ReadAll(zr); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	return body, raw, nil
}

// versitygwBinary returns the versitygw to run: flag, then
// OPENTRAIL_VERSITYGW, then .cache/bin/versitygw in the module this is run
// from (where ./scripts/versitygw builds it), then $PATH; "" if none.
func versitygwBinary(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv("OPENTRAIL_VERSITYGW"); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".cache", "bin", "versitygw")
				if _, err := os.Stat(p); err == nil {
					return p
				}
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// versitygwProc is a running versitygw with the posix backend.
type versitygwProc struct {
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
	out      *lockedBuffer
	once     sync.Once
	rss      float64
}

// startVersitygw starts versitygw on a free 127.0.0.1 port with its posix
// backend in dir and the given root credentials, and waits until it
// answers. A port taken between choosing and binding it is retried.
func startVersitygw(ctx context.Context, bin, dir, access, secret string) (*versitygwProc, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var errs []error
	for range 3 {
		p, err := tryVersitygw(ctx, bin, dir, access, secret)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("start versitygw: %w", errors.Join(errs...))
}

func tryVersitygw(ctx context.Context, bin, dir, access, secret string) (*versitygwProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &versitygwProc{endpoint: "http://" + addr, exited: make(chan struct{}), out: &lockedBuffer{}}
	p.cmd = exec.Command(bin, "--port", addr, "--access", access, "--secret", secret, "--region", benchRegion, "--quiet", "posix", dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("versitygw exited early:\n%s", p.out.String())
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 15s:\n%s", addr, p.out.String())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(p.endpoint + "/")
		if err != nil {
			continue
		}
		resp.Body.Close()
		return p, nil // any answer (403 without credentials) means it serves
	}
}

// stop kills versitygw and returns its peak RSS in MiB, read from
// /proc/PID/status (VmHWM): the rusage of an exec'd child would also count
// this process's RSS at the fork.
func (p *versitygwProc) stop() float64 {
	p.once.Do(func() {
		p.rss = vmHWM(p.cmd.Process.Pid)
		p.cmd.Process.Kill()
		<-p.exited
	})
	return p.rss
}

// vmHWM returns a process's peak resident set size in MiB, 0 if unknown.
func vmHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// lockedBuffer collects a child's output from its writer goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
