package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBenchAuditCommand runs `opentrail-bench --audit` tiny (1,050
// events: the last request of 50) so it keeps working: the measured
// phase fails unless every request is acknowledged in full and the store
// then holds exactly the acknowledged events.
func TestBenchAuditCommand(t *testing.T) {
	out, err := exec.Command(benchBin, "--audit", "--events", "1050", "--concurrency", "4", "--audit-runs", "1", "--dir", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"opentrail-bench --audit: 1050 events a run, 4 clients", "audit ev/s  baseline ev/s   ratio", "target: ≥ 100,000 events/s"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
