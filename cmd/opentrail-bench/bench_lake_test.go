package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
)

// TestLakeBenchCommand runs the Lake benchmark tiny, every phase in its
// own child process as a real run does: the import and the ingestion put
// every event in their stores, the queries answer through the SDK, and the
// harness's own check that the API, DuckDB over the store's files and
// DuckDB over the raw logs agree passes.
func TestLakeBenchCommand(t *testing.T) {
	if err := duck.Available(); err != nil {
		t.Skipf("no DuckDB in this build (a missing C compiler): %v", err)
	}
	dir := t.TempDir()
	results := filepath.Join(dir, "results.json")
	out, err := exec.Command(benchBin, "--lake", "--events", "3000", "--lake-runs", "2", "--lake-raw-runs", "1",
		"--concurrency", "16", "--dir", filepath.Join(dir, "work"), "--json", results).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"opentrail-bench --lake: 3000 events", "lake import (events/s) vs decode-only",
		"lake ingest into Parquet (events/s) vs no store", "bytes per event, imported store vs .json.gz input",
		"group-by eventName, top 10", "one user in one day", "one event by eventid", "baseline: group-by over raw .json.gz",
		"raw json.gz / Lake group-by", "server with a store (ingest)"} {
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
	for _, ph := range []string{"gen", "decode", "lakeimport", "ingestbase", "lakeingest"} {
		if r := res[ph]; r.Events != 3000 || r.Seconds <= 0 || r.PeakRSSM <= 0 {
			t.Errorf("phase %s: %+v, want 3000 events in a positive time", ph, r)
		}
	}
	ing := res["lakeingest"].Extra
	if ing["storeRows"] < 3000 || ing["queryableSeconds"] < res["lakeingest"].Seconds || ing["queryableRate"] <= 0 {
		t.Errorf("lakeingest: %v, want every event in the store, queryable after it was acknowledged", ing)
	}
	for ph, r := range res {
		if r.Failed != "" {
			t.Errorf("phase %s: %s", ph, r.Failed)
		}
	}
	cmpx := res["lakecompact"].Extra
	for _, k := range []string{"import.after", "ingest.after", "ingest.before"} {
		if cmpx[k] <= 0 {
			t.Errorf("lakecompact: %s is %v, want a size", k, cmpx[k])
		}
	}
	if cmpx["import.rows"] != 3000 {
		t.Errorf("lakecompact: the imported store holds %v events, want 3000", cmpx["import.rows"])
	}
	for _, ph := range []string{"lakequery", "lakeparquet"} {
		x := res[ph].Extra
		for _, q := range lakeQueries {
			if x[q+".cold"] <= 0 || x[q+".p50"] <= 0 || x[q+".p90"] < x[q+".p50"] {
				t.Errorf("%s: %s timings cold %v, p50 %v, p90 %v", ph, q, x[q+".cold"], x[q+".p50"], x[q+".p90"])
			}
		}
		if x["groupby.rows"] != 20 || x["eventid.rows"] != 2 {
			t.Errorf("%s: %v group-by rows and %v eventid rows in 2 runs, want 20 and 2", ph, x["groupby.rows"], x["eventid.rows"])
		}
	}
	if raw := res["lakeraw"].Extra; raw["groupby.top10"] != res["lakequery"].Extra["groupby.top10"] || raw["groupby.p50"] <= 0 {
		t.Errorf("lakeraw: %v", raw)
	}
}

func TestLakeTimings(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		times []time.Duration
		want  map[string]float64
	}{
		{"one run is cold and warm", ms(40), map[string]float64{"q.run0": 40, "q.cold": 40, "q.p50": 40, "q.p90": 40}},
		{"the cold run is apart", ms(90, 30, 10, 20, 50), map[string]float64{"q.run0": 90, "q.run1": 30, "q.run2": 10, "q.run3": 20, "q.run4": 50,
			"q.cold": 90, "q.p50": 20, "q.p90": 50}},
		{"two runs", ms(70, 5), map[string]float64{"q.run0": 70, "q.run1": 5, "q.cold": 70, "q.p50": 5, "q.p90": 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]float64{}
			lakeTimings(got, "q", tc.times)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestLakeSourceMovesEventTime: the ingest phases' events are spread over
// one UTC day in order, each record's eventTime and its summary agree, and
// everything else is the template's: byte for byte ingestSource's event
// with the eventID's digits and the eventTime changed, whichever reader
// (and block) gives it.
func TestLakeSourceMovesEventTime(t *testing.T) {
	f := benchFlags{events: 1000, seed: 1}
	src, err := newLakeSource(f)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := newIngestSource(f)
	rd := src.reader()
	var prev time.Time
	for _, i := range []int{0, 1, 99, 100, 499, 998, 999, 1000, 1099} {
		ev, err := rd.event(i)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := event.Parse(ev.Raw)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if d := cmp.Diff(parsed.Summary, ev.Summary); d != "" {
			t.Errorf("event %d: its summary is not its record's (-record +summary):\n%s", i, d)
		}
		if got := ev.EventTime.Truncate(24 * time.Hour); i < f.events && !got.Equal(src.day) {
			t.Errorf("event %d at %s, want on %s", i, ev.EventTime, src.day)
		}
		if !prev.IsZero() && i < f.events && !ev.EventTime.After(prev) {
			t.Errorf("event %d at %s, not after the one before (%s)", i, ev.EventTime, prev)
		}
		prev = ev.EventTime
		want := tmpl.event(i)
		want.Raw = bytes.Replace(want.Raw, []byte(want.EventID), []byte(ev.EventID), 1)
		want.Raw = bytes.Replace(want.Raw, []byte(`"eventTime":"`+want.EventTime.UTC().Format(time.RFC3339)),
			[]byte(`"eventTime":"`+ev.EventTime.Format(time.RFC3339)), 1)
		if !bytes.Equal(want.Raw, ev.Raw) || want.EventID[:24] != ev.EventID[:24] {
			t.Errorf("event %d differs from its template beyond its eventID and time:\n%s\n%s", i, ev.Raw, want.Raw)
		}
		again, err := src.event(i)
		if err != nil || !bytes.Equal(again.Raw, ev.Raw) {
			t.Errorf("event %d read again: %v, differs: %t", i, err, !bytes.Equal(again.Raw, ev.Raw))
		}
	}
}

func TestFirstLogTime(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"123456789012_CloudTrail_us-east-1_20261105T1004Z_000000.json.gz", "123456789012_CloudTrail_us-east-1_20261105T1030Z_000001.json.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := firstLogTime(dir)
	if want := time.Date(2026, 11, 5, 10, 4, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("firstLogTime = %v, %v; want %v", got, err, want)
	}
	if _, err := firstLogTime(t.TempDir()); err == nil || !strings.Contains(err.Error(), "run the gen phase first") {
		t.Errorf("empty directory: %v", err)
	}
}

// TestMix48 checks that the ingest phases' eventIDs stay distinct: mix48
// gives a million consecutive numbers a million different values, each
// below 2^48, and does not keep them in order.
func TestMix48(t *testing.T) {
	seen := make(map[uint64]bool, 1<<20)
	inOrder := 0
	for i := range uint64(1 << 20) {
		v := mix48(i)
		if v >= 1<<48 {
			t.Fatalf("mix48(%d) = %#x, not below 2^48", i, v)
		}
		if seen[v] {
			t.Fatalf("mix48(%d) = %#x, as for a number before it", i, v)
		}
		seen[v] = true
		if i > 0 && v > mix48(i-1) {
			inOrder++
		}
	}
	if inOrder > 600_000 || inOrder < 400_000 {
		t.Errorf("%d of 2^20 outputs above the one before: want about half", inOrder)
	}
}

// TestLakeLevelsPhase runs the lakelevels phase on a tiny imported store:
// every order and level writes the store's rows and reports its CPU and
// bytes per event.
func TestLakeLevelsPhase(t *testing.T) {
	if err := duck.Available(); err != nil {
		t.Skipf("no DuckDB in this build (a missing C compiler): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "work")
	var res phaseResult
	for _, ph := range []string{"gen", "lakeimport", "lakelevels"} {
		out, err := exec.Command(benchBin, "--phase", ph, "--events", "3000", "--dir", dir).Output()
		if err != nil {
			t.Fatalf("phase %s: %v", ph, err)
		}
		if ph == "lakelevels" {
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		}
	}
	if res.Events != 3000 {
		t.Errorf("lakelevels read %d events, want 3000", res.Events)
	}
	for _, o := range lakeLevelOrders {
		for _, l := range []string{"1", "3", "9", "11"} {
			k := o.name + ".level" + l + "."
			if res.Extra[k+"cpuMicrosPerEvent"] <= 0 || res.Extra[k+"bytesPerEvent"] < 50 {
				t.Errorf("%s: %v µs, %v bytes per event", k, res.Extra[k+"cpuMicrosPerEvent"], res.Extra[k+"bytesPerEvent"])
			}
		}
	}
}
