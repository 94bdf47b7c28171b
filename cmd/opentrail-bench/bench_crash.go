package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/event"
)

// Start-up after SIGKILL (issue 13): the crash phase appends more events
// to the imported data directory through a server and, once every one is
// acknowledged, kills its own process with SIGKILL, leaving the
// memtables and the followers' checkpoints as a crash leaves them; the
// restart phase then times a new server until LookupEvents finds the last
// event acknowledged.

// crashFile records what the crash phase acknowledged before it died.
const crashFile = "crash.json"

type crashRecord struct {
	Events    int    `json:"events"`
	LastEvent string `json:"lastEventID"`
}

// crashEvents is how many events the crash phase appends: enough to fill
// event history's memtables, which a restart must read back from the log.
func crashEvents(f benchFlags) int { return min(f.events, 500_000) }

func benchServer(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// server is a running server of a phase, with a client of the bench
// account.
type server struct {
	d       *daemon.Daemon
	ct      *cloudtrail.Client
	opened  time.Time
	startup float64 // seconds daemon.New took
	stop    func()
}

// startServer opens a server on dir (as `serve` does) and runs it until
// stop.
func startServer(ctx context.Context, dir string, log *slog.Logger) (*server, error) {
	opened := time.Now()
	d, err := daemon.New(benchServer(dir), log)
	if err != nil {
		return nil, err
	}
	startup := time.Since(opened).Seconds()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	stop := func() { cancel(); <-done }
	key, err := d.Identities().RootKey(benchAccount)
	if err != nil {
		stop()
		return nil, err
	}
	ct := cloudtrail.New(cloudtrail.Options{Region: benchRegion, BaseEndpoint: aws.String(d.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	return &server{d: d, ct: ct, opened: opened, startup: startup, stop: stop}, nil
}

func phaseCrash(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	dir := filepath.Join(f.dir, "import-data")
	d, err := daemon.New(benchServer(dir), log)
	if err != nil {
		return phaseResult{}, err
	}
	go d.Run(ctx)
	src := newIngestSource(f)
	n := crashEvents(f)
	// The events follow the imported ones: their ids must differ.
	offset := f.events
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for range max(1, f.concurrency/8) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next += 100
				mu.Unlock()
				if i >= n {
					return
				}
				evs := make([]event.Event, 0, 100)
				for j := i; j < min(i+100, n); j++ {
					evs = append(evs, src.event(offset+j))
				}
				if _, err := appendRetry(ctx, d.Store(), evs, 0); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return phaseResult{}, firstErr
	}
	b, _ := json.Marshal(crashRecord{Events: n, LastEvent: src.event(offset + n - 1).EventID})
	if err := os.WriteFile(filepath.Join(f.dir, crashFile), b, 0o644); err != nil {
		return phaseResult{}, err
	}
	syscall.Sync()
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func phaseRestart(ctx context.Context, f benchFlags, log *slog.Logger) (phaseResult, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, crashFile))
	if err != nil {
		return phaseResult{}, fmt.Errorf("restart: run the crash phase first: %w", err)
	}
	var rec crashRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return phaseResult{}, err
	}
	cpu0 := cpuSeconds()
	srv, err := startServer(ctx, filepath.Join(f.dir, "import-data"), log)
	if err != nil {
		return phaseResult{}, err
	}
	defer srv.stop()
	ct, opened, startup := srv.ct, srv.opened, srv.startup
	for {
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventId, AttributeValue: aws.String(rec.LastEvent)}}})
		if err == nil && len(out.Events) == 1 {
			break
		}
		if time.Since(opened) > 5*time.Minute {
			return phaseResult{}, fmt.Errorf("restart: after 5 minutes LookupEvents does not find %s (%v)", rec.LastEvent, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready := time.Since(opened).Seconds()
	// The CPU time and the profile (--cpuprofile) cover the start-up up
	// to the correct answer, not the shutdown after it.
	cpu := cpuSeconds() - cpu0
	pprof.StopCPUProfile()
	return phaseResult{Events: rec.Events, Seconds: ready, Extra: map[string]float64{"startupSeconds": startup, "readySeconds": ready, "cpuSeconds": cpu}}, nil
}

// runKilled runs the crash phase's child and requires it to die by
// SIGKILL.
func (c *benchCmd) runKilled(ctx context.Context, self string, args []string) error {
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = c.stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil
		}
	}
	return fmt.Errorf("bench phase crash: want the child killed by SIGKILL, got %v", err)
}
