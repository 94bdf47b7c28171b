package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testenv"
)

// TestBenchDelivery runs the delivery benchmark tiny (300 events in 1.5 s,
// a 300 ms interval) in this process for each bucket store, so it keeps
// working: every event must arrive exactly once and the figures must be
// sane.
func TestBenchDelivery(t *testing.T) {
	for _, backend := range deliveryBackends {
		t.Run(backend, func(t *testing.T) {
			if backend == "versitygw" && versitygwBinary("") == "" {
				testenv.MissingTool(t, testenv.Versitygw, "binary not found: run scripts/versitygw")
			}
			f := benchFlags{phase: "delivery", buckets: backend, rate: 200, seconds: 1.5, deliveryInterval: 300 * time.Millisecond,
				concurrency: 16, seed: 1, dir: t.TempDir()}
			res, err := runPhase(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			lat := res.Latency["ack-to-bucket"]
			switch {
			case res.Events != 300:
				t.Errorf("Events = %d, want 300", res.Events)
			case res.Extra["files"] < 3:
				t.Errorf("%v log files over 1.5 s at a 300 ms interval, want at least 3", res.Extra["files"])
			case lat[0] <= 0 || lat[0] > lat[1] || lat[1] > res.Extra["maxMs"] || res.Extra["p90Ms"] < lat[0]:
				t.Errorf("latency p50 %v, p90 %v, p99 %v, max %v: not ordered", lat[0], res.Extra["p90Ms"], lat[1], res.Extra["maxMs"])
			case lat[0] > 5000:
				t.Errorf("latency p50 %v ms at a 300 ms interval", lat[0])
			case res.Latency["base:put"][0] <= 0 || res.Latency["base:list"][0] <= 0 || res.Latency["base:encode"][0] <= 0:
				t.Errorf("baselines missing: %v", res.Latency)
			case res.Extra["medianFileBytes"] <= 0 || res.PeakRSSM <= 0:
				t.Errorf("file size %v, peak RSS %v", res.Extra["medianFileBytes"], res.PeakRSSM)
			case backend == "versitygw" && res.Extra["versitygwPeakRSSMiB"] <= 0:
				t.Errorf("versitygw peak RSS missing")
			}
		})
	}
}

// TestBenchDeliveryCommand runs `opentrail-bench --delivery` tiny and
// checks it prints the figures.
func TestBenchDeliveryCommand(t *testing.T) {
	out, err := exec.Command(benchBin, "--delivery", "--buckets", "embedded", "--rate", "200", "--seconds", "1",
		"--delivery-interval", "300ms").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"events delivered (each exactly once)                          200",
		"ack -> file in bucket, ms: p50", "overhead: p50 - interval/2, ms", "baseline: PutObject of a median-size file"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDeliveryWatchCredit checks the watcher's bookkeeping: the phase's
// events are told from others, and an event in two files fails the run.
func TestDeliveryWatchCredit(t *testing.T) {
	src := newDeliverySource(benchFlags{seed: 1}, 30)
	w := newDeliveryWatch(nil, "", src, 30, time.Now())
	ids := func(lo, hi int) []string {
		var s []string
		for i := lo; i < hi; i++ {
			s = append(s, src.event(i).EventID)
		}
		return s
	}
	foreign := []string{"0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a00", "not-an-event-id", src.event(3).EventID[:24] + "00000000001e"}
	w.credit(deliveredFile{key: "a", seen: time.Second}, append(ids(0, 20), foreign...))
	if err := w.failure(); err != nil {
		t.Fatal(err)
	}
	if w.delivered.Load() != 20 || w.other != 3 || w.files[0].ours != 20 || w.seen[19] != time.Second {
		t.Fatalf("after one file: delivered %d, other %d, ours %d, seen %v", w.delivered.Load(), w.other, w.files[0].ours, w.seen[19])
	}
	w.credit(deliveredFile{key: "b", seen: 2 * time.Second}, ids(19, 30))
	if w.delivered.Load() != 30 {
		t.Errorf("delivered %d, want 30", w.delivered.Load())
	}
	if err := w.failure(); err == nil || !strings.Contains(err.Error(), "exactly once: event "+src.event(19).EventID+" is in a and in b") {
		t.Errorf("failure() = %v, want the duplicate of event 19", err)
	}
}
