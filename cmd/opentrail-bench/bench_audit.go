package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/auditapi"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sdktest"
)

// The PutAuditEvents benchmark (--audit): each phase in a child process,
// alternated --audit-runs times, each figure beside the same run's
// baseline.
//
//	auditbase  baseline: the records PutAuditEvents would store, built by
//	           auditapi.Record and appended straight to an offline event
//	           log, 100 a call, from --concurrency goroutines: the
//	           durable log's own rate for these records
//	audit      a server with an ActivityAuditLog store and a channel to it;
//	           --concurrency clients send PutAuditEvents requests of 100
//	           events each (SigV4-signed, with eventDataChecksum; 64 bodies
//	           built beforehand, sent in turn) over HTTP keep-alive
//	           connections; events/s is counted over the
//	           acknowledged ones; the time until the store holds them all
//	           is reported apart (the Lake follows the log)
var auditPhases = []string{"auditbase", "audit"}

// auditBatch is the events of one request: the most PutAuditEvents takes.
const auditBatch = 100

func (c *benchCmd) orchestrateAudit(ctx context.Context, f benchFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "opentrail-bench --audit: %d events a run, %d clients, %d runs, %d CPUs (%s), Go %s, load average %s\n",
		f.events, f.concurrency, f.auditRuns, runtime.NumCPU(), cpuModel(), runtime.Version(), loadAvg())
	all := map[string][]phaseResult{}
	results := map[string]phaseResult{}
	for run := range f.auditRuns {
		for _, ph := range auditPhases {
			fmt.Fprintf(c.stderr, "bench: run %d, phase %s ... (load average %s)\n", run+1, ph, loadAvg())
			args := []string{"--phase", ph, "--events", fmt.Sprint(f.events), "--dir", f.dir, "--concurrency", fmt.Sprint(f.concurrency)}
			r, rusage, err := c.runChild(ctx, self, ph, append(args, f.profileArgs()...))
			if err != nil {
				return err
			}
			if rusage != nil {
				r.PeakRSSM = float64(rusage.Maxrss) / 1024
			}
			all[ph] = append(all[ph], r)
			results[fmt.Sprintf("%s.%d", ph, run+1)] = r
		}
	}
	w := c.stdout
	fmt.Fprintf(w, "\n%-4s %14s %14s %7s %12s %12s %10s %10s %12s %9s\n", "run", "audit ev/s", "baseline ev/s", "ratio", "CPU µs/ev", "base µs/ev", "p50 ms", "p99 ms", "in store s", "RSS MiB")
	for i := range all["audit"] {
		a, b := all["audit"][i], all["auditbase"][i]
		fmt.Fprintf(w, "%-4d %14.0f %14.0f %7.2f %12.2f %12.2f %10.2f %10.2f %12.1f %9.0f\n", i+1, a.rate(), b.rate(), a.rate()/b.rate(),
			a.Extra["cpuSeconds"]/float64(a.Events)*1e6, b.Extra["cpuSeconds"]/float64(b.Events)*1e6,
			a.Extra["p50ms"], a.Extra["p99ms"], a.Extra["storedSeconds"], a.PeakRSSM)
	}
	fmt.Fprintf(w, "target: ≥ 100,000 events/s durably acknowledged, 100 events a call (issue 10)\nload average after: %s\n", loadAvg())
	return writeResults(f.jsonOut, results)
}

// auditEventData is the eventData of event i: shaped like the spec's
// example (lake.md §7.2), with a UID of its own.
func auditEventData(i int, t time.Time) string {
	return `{"version":"1.0","UID":"req-` + strconv.Itoa(i) + `","userIdentity":{"type":"CustomUserIdentity","principalId":"user-` + strconv.Itoa(i%997) +
		`","details":{"team":"ops"}},"eventTime":"` + t.UTC().Format("2006-01-02T15:04:05Z") + `","eventName":"` + []string{"Login", "Logout", "GetDocument", "UpdateDocument"}[i%4] +
		`","eventSource":"myapp.example.com","userAgent":"myapp/2.1","requestParameters":{"documentId":"doc-` + strconv.Itoa(i%5003) +
		`"},"sourceIPAddress":"198.51.100.` + strconv.Itoa(i%250) + `","recipientAccountId":"` + benchAccount + `"}`
}

// auditBody is the PutAuditEvents body of events from to to-1.
func auditBody(from, to int, t time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(`{"auditEvents":[`)
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte(',')
		}
		d := auditEventData(i, t)
		sum := sha256.Sum256([]byte(d))
		q, _ := json.Marshal(d)
		b.WriteString(`{"id":"` + strconv.Itoa(i-from) + `","eventData":`)
		b.Write(q)
		b.WriteString(`,"eventDataChecksum":"` + base64.StdEncoding.EncodeToString(sum[:]) + `"}`)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// runBatches calls fn(from, to) for every batch of auditBatch events of n
// from workers goroutines, and returns the first error.
func runBatches(workers, n int, fn func(from, to int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(auditBatch)) - auditBatch
				if i >= n {
					return
				}
				if err := fn(i, min(i+auditBatch, n)); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func phaseAuditBase(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	daemon.LimitGoMemory(log)
	dir := filepath.Join(f.dir, "auditbase-data")
	os.RemoveAll(dir)
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{Logger: log})
	if err != nil {
		return phaseResult{}, err
	}
	defer os.RemoveAll(dir)
	t := time.Now().Add(-time.Hour)
	arn := "arn:aws:cloudtrail:" + benchRegion + ":" + benchAccount + ":channel/00000000-0000-4000-8000-000000000000"
	cpu0 := cpuSeconds()
	start := time.Now()
	err = runBatches(f.concurrency, f.events, func(from, to int) error {
		evs := make([]event.Event, 0, to-from)
		for i := from; i < to; i++ {
			rec := auditapi.Record(auditapi.RecordFields{EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), EventTime: t,
				Region: benchRegion, Account: benchAccount, IngestionTime: start, ChannelARN: arn}, []byte(auditEventData(i, t)))
			ev, err := event.ParseStored(rec)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		_, err := appendRetry(ctx, off.Store, evs, 0)
		return err
	})
	acked := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	if cerr := off.Close(); err == nil {
		err = cerr
	}
	return phaseResult{Events: f.events, Seconds: acked, Extra: map[string]float64{"cpuSeconds": cpu}}, err
}

func phaseAudit(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	dir := filepath.Join(f.dir, "audit-data")
	os.RemoveAll(dir)
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return phaseResult{}, err
	}
	ids, err := identity.Open(dir)
	if err != nil {
		return phaseResult{}, err
	}
	if _, _, err := ids.CreateDefault(benchAccount); err != nil {
		return phaseResult{}, err
	}
	srv, err := startServer(ctx, dir, log)
	if err != nil {
		return phaseResult{}, err
	}
	defer srv.stop()
	eds, err := srv.ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("app-events"),
		TerminationProtectionEnabled: aws.Bool(false), MultiRegionEnabled: aws.Bool(false),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"ActivityAuditLog"}}}}}})
	if err != nil {
		return phaseResult{}, err
	}
	ch, err := srv.ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{Name: aws.String("app"), Source: aws.String("Custom"),
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: eds.EventDataStoreArn}}})
	if err != nil {
		return phaseResult{}, err
	}
	key, err := srv.d.Identities().RootKey(benchAccount)
	if err != nil {
		return phaseResult{}, err
	}
	endpoint := srv.d.URL() + "/PutAuditEvents?channelArn=" + url.QueryEscape(aws.ToString(ch.ChannelArn))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: f.concurrency, MaxConnsPerHost: f.concurrency}}
	t := time.Now().Add(-time.Hour)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, f.events/auditBatch+1)
	var throttled atomic.Int64
	cpu0 := cpuSeconds()
	start := time.Now()
	// The clients send 64 bodies built before the clock starts, in turn
	// (the server gives every event an id of its own, so a UID sent twice
	// is two events): what is measured is the server, not the clients'
	// JSON encoding.
	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = auditBody(i*auditBatch, (i+1)*auditBatch, t)
	}
	err = runBatches(f.concurrency, f.events, func(from, to int) error {
		body := bodies[from/auditBatch%len(bodies)]
		if to-from != auditBatch {
			body = auditBody(from, to, t)
		}
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
			if err != nil {
				return err
			}
			if err := sdktest.Sign(req, body, key.AccessKeyID, key.SecretAccessKey, "cloudtrail-data", benchRegion); err != nil {
				return err
			}
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			out, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			if resp.StatusCode == http.StatusBadRequest && resp.Header.Get("X-Amzn-ErrorType") == "ThrottlingException" {
				throttled.Add(1)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			d := time.Since(t0)
			var r struct {
				Successful []struct{ ID string }
				Failed     []struct{ ID, ErrorCode string }
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &r) != nil || len(r.Successful) != to-from || len(r.Failed) != 0 {
				return fmt.Errorf("PutAuditEvents: %d %.300s", resp.StatusCode, out)
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
			return nil
		}
	})
	acked := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	if err != nil {
		return phaseResult{}, err
	}
	// The Lake follows the log: how long until the store holds them all.
	stored, err := waitStored(ctx, srv.ct, eds.EventDataStoreArn, f.events)
	if err != nil {
		return phaseResult{}, err
	}
	storedAt := time.Since(start).Seconds()
	if stored != f.events {
		return phaseResult{}, fmt.Errorf("the store holds %d events, %d were acknowledged", stored, f.events)
	}
	slices.Sort(lat)
	p := percentiles(lat)
	return phaseResult{Events: f.events, Seconds: acked, Extra: map[string]float64{"cpuSeconds": cpu, "p50ms": p[0], "p99ms": p[1],
		"storedSeconds": storedAt, "throttled": float64(throttled.Load())}}, nil
}

// waitStored polls a count of the store's events until it reaches n.
func waitStored(ctx context.Context, ct *cloudtrail.Client, arn *string, n int) (int, error) {
	id := aws.ToString(arn)
	id = id[len(id)-36:]
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		q, err := ct.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT count(*) AS n FROM " + id)})
		if err != nil {
			return 0, err
		}
		for {
			r, err := ct.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: q.QueryId})
			if err != nil {
				return 0, err
			}
			if r.QueryStatus == cttypes.QueryStatusQueued || r.QueryStatus == cttypes.QueryStatusRunning {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if r.QueryStatus != cttypes.QueryStatusFinished || len(r.QueryResultRows) != 1 || len(r.QueryResultRows[0]) != 1 {
				return 0, fmt.Errorf("count query: %s", r.QueryStatus)
			}
			got, _ := strconv.Atoi(r.QueryResultRows[0][0]["n"])
			if got >= n {
				return got, nil
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	return 0, errors.New("the store did not receive every acknowledged event within 30 minutes")
}
