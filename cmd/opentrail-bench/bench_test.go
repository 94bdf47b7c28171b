package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCommand runs the whole benchmark tiny, every phase in its own
// child process as a real run does, so the harness keeps working: the
// import phase imports every generated event through the same routine as
// 'opentrail import', and the report has every row.
func TestBenchCommand(t *testing.T) {
	results := filepath.Join(t.TempDir(), "results.json")
	prof := t.TempDir()
	out, err := exec.Command(benchBin, "--events", "3000", "--queries", "5", "--concurrency", "8", "--json", results, "--memprofile", prof).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"opentrail-bench: 3000 events", "import from .json.gz (events/s) vs decode-only",
		"durable ingest, 100 events/call", "ingest100: CPU s per 1M events, acked / indexed", "bytes on disk per event vs .json.gz input", "LookupEvents latency at 3000 events",
		"EventName", "baseline: one fsync", "start-up after a clean stop (s)", "start-up after SIGKILL (s)",
		"until a lookup finds the last of 3000 acked", "bench: peak live heap"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]phaseResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, ph := range []string{"gen", "decode", "import", "writebase", "ingest", "ingest100"} {
		if r := res[ph]; r.Events != 3000 || r.Seconds <= 0 || r.PeakRSSM <= 0 {
			t.Errorf("phase %s: %+v, want 3000 events in a positive time", ph, r)
		}
	}
	for _, ph := range []string{"ingest", "ingest100"} {
		if r := res[ph]; r.Extra["cpuSeconds"] <= 0 || r.Extra["indexedCPUSeconds"] < r.Extra["cpuSeconds"] {
			t.Errorf("phase %s: CPU seconds %v until acked, %v until indexed", ph, r.Extra["cpuSeconds"], r.Extra["indexedCPUSeconds"])
		}
	}
	for _, ph := range []string{"gen", "decode", "import", "writebase", "ingest", "ingest100", "lookup"} {
		// A heap profile is a gzipped protocol buffer.
		if b, err := os.ReadFile(filepath.Join(prof, ph+".heap.pprof")); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("phase %s: heap profile: %v (%d bytes)", ph, err, len(b))
		}
	}
	if s := res["lookup"].Extra["startupSeconds"]; s <= 0 {
		t.Errorf("lookup phase: start-up took %v s", s)
	}
	// The crash phase died by SIGKILL; the restart found its last event.
	if r := res["restart"]; r.Events != 3000 || r.Extra["startupSeconds"] <= 0 || r.Extra["readySeconds"] < r.Extra["startupSeconds"] {
		t.Errorf("restart phase: %+v", r)
	}
	if imp := res["import"]; imp.Extra["duplicates"] != 0 || imp.Extra["rejected"] != 0 || imp.Extra["diskBytesPerEvent"] <= 0 {
		t.Errorf("import phase: %+v", imp)
	}
	if len(res["lookup"].Latency) < 10 {
		t.Errorf("lookup phase measured %d queries, want every attribute and the baselines", len(res["lookup"].Latency))
	}
	// The lookups again while events were appended at half ingest100's rate.
	if ll := res["lookupload"]; len(ll.Latency) < 10 || ll.Extra["ingestRate"] <= 0 || ll.Extra["targetRate"] != res["ingest100"].rate()/2 {
		t.Errorf("lookupload phase: %+v; want every attribute measured while appending at half of ingest100's %v events/s", ll, res["ingest100"].rate())
	}
}

// TestLoadCommand runs the load benchmark tiny: it reports trail changes
// beside LookupEvents and no errors.
func TestLoadCommand(t *testing.T) {
	out, err := exec.Command(benchBin, "--load", "--clients", "20", "--seconds", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"opentrail-bench --load: 20 clients", ", errors 0", "trail change (PutEventSelectors, n=", "baseline: LookupEvents (n="} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no events", []string{"--events", "0"}, "--events must be at least 1"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
		{"argument", []string{"bench"}, `unexpected argument "bench"`},
		{"unknown store", []string{"--delivery", "--buckets", "nowhere"}, `--buckets: unknown store "nowhere"`},
		{"unknown phase", []string{"--phase", "nope"}, `unknown phase "nope"`},
		{"no clients", []string{"--load", "--clients", "0"}, "--clients must be at least 1"},
		{"no lake runs", []string{"--lake", "--lake-runs", "0"}, "--lake-runs must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(benchBin, tc.args...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "Run 'opentrail-bench -h' for usage.") {
				t.Errorf("output lacks %q and the usage hint:\n%s", tc.want, out)
			}
		})
	}
}
