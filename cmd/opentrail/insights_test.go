package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/event"
)

// `opentrail insights` replays logs offline and prints a Start and an End
// per burst; --json prints the records themselves.
func TestInsightsReplayCommand(t *testing.T) {
	const apis = 4
	logs := insightsLog(t, apis)
	out := runOK(t, nil, opentrailBin, "insights", "--warm-up", "0s", logs)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	starts, ends := 0, 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 6 || f[2] != "ApiCallRateInsight" || f[3] != "ec2.amazonaws.com" || !strings.HasPrefix(f[4], "CreateThing") || f[5] != trailAccount+"/us-west-2" {
			t.Errorf("unexpected line %q", l)
			continue
		}
		switch {
		case f[1] == "Start" && strings.HasSuffix(l, "over 2 min"):
			starts++
		case f[1] == "End" && strings.HasSuffix(l, "insight 72/min over 10 min"):
			ends++
		default:
			t.Errorf("unexpected line %q", l)
		}
	}
	if starts != apis || ends != apis {
		t.Errorf("%d Starts and %d Ends, want %d each:\n%s", starts, ends, apis, out)
	}

	cmd := exec.Command(opentrailBin, "insights", "--warm-up", "0s", "--json", logs)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	shared := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		ev, err := event.Parse([]byte(l))
		if err != nil || !ev.Insight() {
			t.Fatalf("--json line is not an Insights record (%v): %s", err, l)
		}
		var r struct{ SharedEventID string }
		json.Unmarshal([]byte(l), &r)
		shared[r.SharedEventID]++
	}
	if len(shared) != apis {
		t.Errorf("%d sharedEventIDs, want %d", len(shared), apis)
	}
	if !strings.Contains(stderr.String(), "1 files") || !strings.Contains(stderr.String(), "8 Insights events, 0 anomalies still going on") {
		t.Errorf("summary: %s", stderr.String())
	}

	// A usage mistake exits 2.
	if err := exec.Command(opentrailBin, "insights").Run(); err == nil || err.(*exec.ExitError).ExitCode() != 2 {
		t.Errorf("no PATH: %v, want exit 2", err)
	}
	// The drop rule's settings are the detector's: a window that is not
	// whole hours is refused, and 0s turns drops off.
	out2, err := exec.Command(opentrailBin, "insights", "--drop-window", "90m", logs).CombinedOutput()
	if err == nil || err.(*exec.ExitError).ExitCode() != 2 || !strings.Contains(string(out2), "DropWindow") {
		t.Errorf("--drop-window 90m: %v, want exit 2 naming DropWindow:\n%s", err, out2)
	}
	if out := runOK(t, nil, opentrailBin, "insights", "--warm-up", "0s", "--drop-window", "0s", logs); len(strings.Split(strings.TrimSpace(string(out)), "\n")) != 2*apis {
		t.Errorf("--drop-window 0s:\n%s", out)
	}
}
