package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// LookupEvents while ingest runs (issue 13: "p99 ≤ 5 ms for every
// attribute, also while ingest runs at half its maximum rate"): the
// lookupload phase opens a server on the imported data directory, as the
// lookup phase does, appends events in the background at --ingest-rate
// (the orchestrated run passes half of what the ingest100 phase measured),
// 100 per call from 32 appenders, and meanwhile measures the lookup
// phase's queries again.

// loadOffset is where the phase's event numbers start: past the imported
// events and the crash phase's (at most f.events more), so no eventID
// repeats one already stored.
func loadOffset(f benchFlags) int { return 2 * f.events }

func phaseLookupLoad(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	if f.ingestRate <= 0 {
		return phaseResult{}, fmt.Errorf("the lookupload phase needs --ingest-rate (events/s)")
	}
	srv, err := startServer(ctx, filepath.Join(f.dir, "import-data"), log)
	if err != nil {
		return phaseResult{}, err
	}
	defer srv.stop()
	src := newIngestSource(f)
	lctx, stopLoad := context.WithCancel(ctx)
	var appended atomic.Int64
	var loadErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next int64
	start := time.Now()
	const batch = 100
	for range 32 {
		wg.Go(func() {
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				// Batch k is due at start + k*batch/rate: a steady rate,
				// not bursts.
				due := start.Add(time.Duration(float64(k*batch) / f.ingestRate * float64(time.Second)))
				select {
				case <-lctx.Done():
					return
				case <-time.After(time.Until(due)):
				}
				evs := make([]event.Event, batch)
				for j := range evs {
					evs[j] = src.event(loadOffset(f) + int(k)*batch + j)
				}
				_, err := appendRetry(lctx, srv.d.Store(), evs, 0)
				switch {
				case err == nil:
					appended.Add(batch)
				case lctx.Err() == nil:
					mu.Lock()
					loadErr = err
					mu.Unlock()
				}
			}
		})
	}
	res := phaseResult{Events: f.events, Latency: map[string][2]float64{}}
	err = measureLookups(ctx, f, srv, res.Latency)
	elapsed := time.Since(start).Seconds()
	stopLoad()
	wg.Wait()
	if err == nil {
		err = loadErr
	}
	res.Extra = map[string]float64{"ingestRate": float64(appended.Load()) / elapsed, "targetRate": f.ingestRate}
	return res, err
}
