package insights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/store"
)

// mixedBurst is steady management and data traffic in us-east-1 and, from
// minute 150 to 160, a burst of both: RunInstances (management) and
// GetObject (data); GetObject also bursts in us-west-2 from 170 to 180.
func mixedBurst(m int) []call {
	out := steady(m)
	n := 8 + 2*(m%3)
	for i := range n {
		out = append(out, call{at: at(m, i), source: "s3.amazonaws.com", name: "GetObject", readOnly: true, dataEvent: true})
		out = append(out, call{at: at(m, i), source: "s3.amazonaws.com", name: "GetObject", readOnly: true, dataEvent: true, region: "us-west-2"})
	}
	if m >= 150 && m < 160 {
		for i := range 60 {
			out = append(out, call{at: at(m, i), source: "ec2.amazonaws.com", name: "RunInstances"})
			out = append(out, call{at: at(m, i), source: "s3.amazonaws.com", name: "GetObject", readOnly: true, dataEvent: true})
		}
	}
	if m >= 170 && m < 180 {
		for i := range 60 {
			out = append(out, call{at: at(m, i), source: "s3.amazonaws.com", name: "GetObject", readOnly: true, dataEvent: true, region: "us-west-2"})
		}
	}
	return out
}

// dataRun runs the detector over mixedBurst until minute 200, with Now
// there, and returns the engine's directory rig and the engine (closed).
func dataRun(t *testing.T) (*rig, *Engine) {
	t.Helper()
	r := newRig(t)
	r.appendMinutes(t, 0, 200, mixedBurst)
	e := openAt200(t, r.dir)
	r.run(t, e)
	t.Cleanup(func() { e.Close() })
	return r, e
}

// openAt200 opens the detector in dir with the wall clock at minute 200.
func openAt200(t *testing.T, dir string) *Engine {
	t.Helper()
	o := shortOptions()
	o.Logger = discard
	o.Reorder = 5 * time.Minute
	o.SaveInterval = time.Hour
	o.Now = func() time.Time { return t0.Add(200 * time.Minute) }
	e, err := Open(dir, *o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type listed struct{ ID, State, Name, Region string }

func summarizeRecords(t *testing.T, e *Engine, q DataQuery) []listed {
	t.Helper()
	evs, err := e.DataRecords(q)
	if err != nil {
		t.Fatal(err)
	}
	out := []listed{}
	for _, ev := range evs {
		var rec record
		if err := json.Unmarshal(ev.Raw, &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, listed{ev.EventID, rec.InsightDetails.State, rec.InsightDetails.EventName, ev.Region})
	}
	return out
}

func TestDataRecordsAreTheDataCategoryOnes(t *testing.T) {
	r, e := dataRun(t)
	// The log holds the management and the data Insights; the index the
	// data ones, newest first.
	var want []listed
	mgmt := 0
	for _, rec := range r.insightRecords(t) {
		if rec.InsightDetails.EventName == "RunInstances" {
			mgmt++
			continue
		}
		want = append(want, listed{rec.EventID, rec.InsightDetails.State, rec.InsightDetails.EventName, rec.AWSRegion})
	}
	if mgmt != 2 || len(want) != 4 {
		t.Fatalf("the log holds %d management and %d data Insights records, want 2 and 4", mgmt, len(want))
	}
	recTime := map[string]time.Time{}
	for _, rec := range r.insightRecords(t) {
		tm, _ := time.Parse(time.RFC3339, rec.EventTime)
		recTime[rec.EventID] = tm
	}
	slices.SortFunc(want, func(a, b listed) int {
		if c := recTime[b.ID].Compare(recTime[a.ID]); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	all := DataQuery{Account: acct, Types: []string{CallRate, ErrorRate}, Start: t0, End: t0.Add(300 * time.Minute), Limit: 50}
	if diff := cmp.Diff(want, summarizeRecords(t, e, all)); diff != "" {
		t.Fatalf("all data records (-want +got):\n%s", diff)
	}
	at := func(i int) time.Time { return recTime[want[i].ID] }
	for _, tt := range []struct {
		name string
		q    func(q *DataQuery)
		want []listed
	}{
		{"us-east-1 only", func(q *DataQuery) { q.Regions = []string{"us-east-1"} }, filter(want, func(l listed) bool { return l.Region == "us-east-1" })},
		{"error rate only", func(q *DataQuery) { q.Types = []string{ErrorRate} }, []listed{}},
		{"no type", func(q *DataQuery) { q.Types = nil }, []listed{}},
		{"another account", func(q *DataQuery) { q.Account = "999999999999" }, []listed{}},
		{"event id", func(q *DataQuery) { q.Key, q.Value = KeyEventID, want[2].ID }, want[2:3]},
		{"event name", func(q *DataQuery) { q.Key, q.Value = KeyEventName, "GetObject" }, want},
		{"event name of management", func(q *DataQuery) { q.Key, q.Value = KeyEventName, "RunInstances" }, []listed{}},
		{"event source", func(q *DataQuery) { q.Key, q.Value = KeyEventSource, "s3.amazonaws.com" }, want},
		{"other event source", func(q *DataQuery) { q.Key, q.Value = KeyEventSource, "S3.amazonaws.com" }, []listed{}},
		{"start inclusive", func(q *DataQuery) { q.Start = at(1) }, want[:2]},
		{"end inclusive", func(q *DataQuery) { q.End = at(1) }, want[1:]},
		{"start inside a minute", func(q *DataQuery) { q.Start = at(1).Add(time.Second) }, want[:1]},
		{"limit", func(q *DataQuery) { q.Limit = 2 }, want[:2]},
		{"after", func(q *DataQuery) { q.AfterTime, q.AfterID = at(1), want[1].ID }, want[2:]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := all
			tt.q(&q)
			if diff := cmp.Diff(tt.want, summarizeRecords(t, e, q)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if rep := Check(r.dir); len(rep.Problems) != 0 || rep.DataRecords != 4 {
		t.Errorf("Check: %+v", rep)
	}
}

func filter(in []listed, keep func(listed) bool) []listed {
	out := []listed{}
	for _, l := range in {
		if keep(l) {
			out = append(out, l)
		}
	}
	return out
}

// Lines past the committed length (a crash between the fsync of
// data.jsonl and the state commit) are cut at the next open: their records
// were never appended.
func TestDataIndexCutToCommitted(t *testing.T) {
	r, e := dataRun(t)
	e.Close()
	path := filepath.Join(r.dir, DataFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(before), "\n"), "\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Replace(lines[0], lines[0][len(lines[0])-60:len(lines[0])-40], strings.Repeat("x", 20), 1) + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if rep := Check(r.dir); len(rep.Problems) != 0 || rep.DataRecords != 4 {
		t.Errorf("Check with uncommitted bytes: %+v", rep)
	}
	o := shortOptions()
	o.Logger = discard
	e2, err := Open(r.dir, *o)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("data.jsonl after open: %d bytes, want the %d committed", len(after), len(before))
	}
}

func TestCheckFindsDamagedDataIndex(t *testing.T) {
	for _, tt := range []struct {
		name     string
		damage   func(b []byte) []byte
		problems int
	}{
		{"cut between lines", func(b []byte) []byte { return b[:strings.Index(string(b), "\n")+1] }, 1},
		{"cut inside a line", func(b []byte) []byte { return b[:len(b)/2] }, 2}, // short, and a line cut
		{"a line not JSON", func(b []byte) []byte { b[0] = 'x'; return b }, 1},
		{"a record not an Insights event", func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"eventType":"AwsCloudTrailInsight"`, `"eventType":"AwsApiCall"`, 1))
		}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, e := dataRun(t)
			e.Close()
			path := filepath.Join(r.dir, DataFile)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			if rep := Check(r.dir); len(rep.Problems) != tt.problems {
				t.Errorf("Check: %+v", rep)
			}
		})
	}
}

// After 90 days the records leave the index, as they leave event
// history.
func TestDataIndexRetention(t *testing.T) {
	r, e := dataRun(t)
	e.Close()
	o := shortOptions()
	o.Logger = discard
	o.Now = func() time.Time { return t0.Add(91 * 24 * time.Hour) }
	e2, err := Open(r.dir, *o)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	// Something new to commit: compaction follows a commit.
	r.append(t, mkEvent(t, call{at: t0.Add(91 * 24 * time.Hour), source: "ec2.amazonaws.com", name: "RunInstances"}))
	r.run(t, e2)
	all := DataQuery{Account: acct, Types: []string{CallRate, ErrorRate}, Start: t0, End: t0.Add(300 * time.Minute), Limit: 50}
	if got := summarizeRecords(t, e2, all); len(got) != 0 {
		t.Errorf("after 91 days: %v", got)
	}
	if st, err := os.Stat(filepath.Join(r.dir, DataFile)); err != nil || st.Size() != 0 {
		t.Errorf("data.jsonl after 91 days: %v %v", st, err)
	}
	if rep := Check(r.dir); len(rep.Problems) != 0 {
		t.Errorf("Check: %+v", rep)
	}
}

// A state written before data.jsonl existed keeps the file whole.
func TestDataIndexOldState(t *testing.T) {
	r, e := dataRun(t)
	e.Close()
	b, err := os.ReadFile(filepath.Join(r.dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "data")
	b, _ = json.Marshal(m)
	if err := os.WriteFile(filepath.Join(r.dir, StateFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	o := shortOptions()
	o.Logger = discard
	e2, err := Open(r.dir, *o)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	all := DataQuery{Account: acct, Types: []string{CallRate}, Start: t0, End: t0.Add(300 * time.Minute), Limit: 50}
	if got := summarizeRecords(t, e2, all); len(got) != 4 {
		t.Errorf("%d records, want 4", len(got))
	}
}

// A crash after the commit that put records in the outbox, before they
// were appended: the next start appends them, and the index lists each
// record of the log once, with the log's eventIDs.
func TestDataIndexExactlyOnceAfterCrash(t *testing.T) {
	r := newRig(t)
	r.appendMinutes(t, 0, 158, mixedBurst)
	e := openAt200(t, r.dir)
	f, err := r.st.Follow("insights", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, _, err := e.consume(f, map[string]bool{})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := e.step(true, r.deps(f), true); err != nil {
		t.Fatal(err)
	}
	if len(e.outbox) == 0 {
		t.Fatal("the outbox is empty: nothing decided before the crash")
	}
	f.Close()
	e.Close() // the crash: nothing appended
	e = openAt200(t, r.dir)
	defer e.Close()
	r.appendMinutes(t, 158, 200, mixedBurst)
	r.run(t, e)
	var want []string
	for _, rec := range r.insightRecords(t) {
		if rec.InsightDetails.EventName == "GetObject" {
			want = append(want, rec.EventID)
		}
	}
	evs, err := e.DataRecords(DataQuery{Account: acct, Types: []string{CallRate}, Start: t0, End: t0.Add(300 * time.Minute), Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.EventID)
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) < 2 || !slices.Equal(want, got) {
		t.Errorf("index %v, log %v", got, want)
	}
}

// FuzzDataLine reads arbitrary data.jsonl lines: no panic, and a line that
// parses prints back, through the writer's encoding, to one that parses
// the same.
func FuzzDataLine(f *testing.F) {
	d := newDetector(shortOptions())
	recs := feed(f, d, 0, 200, mixedBurst, always)
	for _, r := range recs {
		if r.Category != "Data" {
			continue
		}
		line, err := dataLine(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(line)
	}
	f.Add([]byte(`[1,"a","r","t","s","n","e",{}]`))
	f.Add([]byte(`[1.5,"a","r","t","s","n","e",null]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseDataLine(b)
		if err != nil {
			return
		}
		again, err := json.Marshal([]any{e.Minute, e.Account, e.Region, e.Type, e.Source, e.Name, e.EventID, e.Record})
		if err != nil {
			t.Fatalf("%s parsed to %+v, which does not print: %v", b, e, err)
		}
		e2, err := parseDataLine(again)
		if err != nil {
			t.Fatalf("%s printed as %s, which does not parse: %v", b, again, err)
		}
		if diff := cmp.Diff(e, e2, cmp.Comparer(func(a, b json.RawMessage) bool {
			var x, y any
			return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
		})); diff != "" {
			t.Fatalf("%s and %s differ (-first +second):\n%s", b, again, diff)
		}
	})
}
