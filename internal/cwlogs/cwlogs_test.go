package cwlogs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var s1 = Scope{"111122223333", "us-east-1"}

type sink struct {
	mu  sync.Mutex
	pts []MetricPoint
}

func (s *sink) PutStatistics(account, region string, pts []MetricPoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pts = append(s.pts, pts...)
	return nil
}

func open(t *testing.T, dir string, now time.Time, sk MetricSink) *Engine {
	t.Helper()
	o := DefaultOptions()
	o.Now = func() time.Time { return now }
	o.Metrics = sk
	e, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func mustPut(t *testing.T, e *Engine, group, stream string, evs ...InputEvent) {
	t.Helper()
	if rej, err := e.PutLogEvents(s1, group, stream, evs); err != nil || rej != (Rejected{-1, -1, -1}) {
		t.Fatalf("PutLogEvents = %+v, %v", rej, err)
	}
}

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T, dir string, sk MetricSink) *Engine {
	e := open(t, dir, t0, sk)
	if err := e.Init(0); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateGroup(s1, "g"); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateStream(s1, "g", "s"); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMetricFiltersEmitStatisticSets(t *testing.T) {
	sk := &sink{}
	e := setup(t, t.TempDir(), sk)
	def := 0.0
	if err := e.PutMetricFilter(s1, "g", MetricFilter{FilterName: "lat", FilterPattern: `{ $.op = "get" }`,
		MetricTransformations: []MetricTransformation{{MetricName: "Latency", MetricNamespace: "App", MetricValue: "$.ms", Unit: "Milliseconds",
			Dimensions: map[string]string{"Host": "$.host"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.PutMetricFilter(s1, "g", MetricFilter{FilterName: "errs", FilterPattern: `ERROR`,
		MetricTransformations: []MetricTransformation{{MetricName: "Errors", MetricNamespace: "App", MetricValue: "1", DefaultValue: &def}}}); err != nil {
		t.Fatal(err)
	}
	ms := t0.UnixMilli()
	mustPut(t, e, "g", "s",
		InputEvent{ms, `{"op":"get","ms":10,"host":"a"}`},
		InputEvent{ms + 1000, `{"op":"get","ms":30,"host":"a"}`},
		InputEvent{ms + 2000, `{"op":"get","ms":5,"host":"b"}`},
		InputEvent{ms + 61000, `ERROR disk full`},
	)
	want := []MetricPoint{
		{Namespace: "App", Name: "Latency", Unit: "Milliseconds", Dimensions: map[string]string{"Host": "a"}, Minute: t0, Count: 2, Sum: 40, Min: 10, Max: 30},
		{Namespace: "App", Name: "Latency", Unit: "Milliseconds", Dimensions: map[string]string{"Host": "b"}, Minute: t0, Count: 1, Sum: 5, Min: 5, Max: 5},
		{Namespace: "App", Name: "Errors", Minute: t0, Count: 3, Sum: 0, Min: 0, Max: 0},
		{Namespace: "App", Name: "Errors", Minute: t0.Add(time.Minute), Count: 1, Sum: 1, Min: 1, Max: 1},
	}
	sort := cmpopts.SortSlices(func(a, b MetricPoint) bool {
		return a.Name+a.Minute.String()+dimsKey(a.Dimensions) < b.Name+b.Minute.String()+dimsKey(b.Dimensions)
	})
	if diff := cmp.Diff(want, sk.pts, sort, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("emitted (-want +got):\n%s", diff)
	}
}

func TestTornTailIsCutAndDamageRefused(t *testing.T) {
	dir := t.TempDir()
	e := setup(t, dir, nil)
	ms := t0.UnixMilli()
	mustPut(t, e, "g", "s", InputEvent{ms, "one"}, InputEvent{ms + 1, "two"})
	e.Close()
	g := e.cat.Groups[0]
	seg := segmentPath(filepath.Join(dir, "groups", g.ID), 1)
	whole, _ := os.ReadFile(seg)
	os.WriteFile(seg, append(append([]byte{}, whole...), 0, 0, 0, 40, 1, 2), 0o644) // a torn third record
	e = open(t, dir, t0, nil)
	out, _, err := e.FilterLogEvents(s1, FilterQuery{Group: "g"})
	if err != nil || len(out) != 2 {
		t.Fatalf("after a torn tail: %d events, %v", len(out), err)
	}
	if b, _ := os.ReadFile(seg); len(b) != len(whole) {
		t.Errorf("segment is %d bytes after the cut, want %d", len(b), len(whole))
	}
	mustPut(t, e, "g", "s", InputEvent{ms + 2, "three"})
	e.Close()

	// A flipped byte inside the first record is refused, file untouched.
	b, _ := os.ReadFile(seg)
	b[recordHeader+3] ^= 0x20
	os.WriteFile(seg, b, 0o644)
	o := DefaultOptions()
	_, err = Open(dir, o)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != 0 || !strings.Contains(err.Error(), "fsck") {
		t.Fatalf("open of a damaged segment = %v", err)
	}
	if after, _ := os.ReadFile(seg); string(after) != string(b) {
		t.Error("the refusal changed the segment")
	}
	if r := Check(dir); len(r.Problems) != 1 {
		t.Errorf("Check = %+v", r)
	}
}

func TestALostFileIsRefused(t *testing.T) {
	for _, lost := range []string{CatalogFile, StateFile, "groups", "2.seg"} {
		dir := t.TempDir()
		now := t0
		o := DefaultOptions()
		o.Now = func() time.Time { return now }
		e, err := Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		e.Init(0)
		e.CreateGroup(s1, "g")
		e.CreateStream(s1, "g", "s")
		for range 3 {
			mustPut(t, e, "g", "s", InputEvent{now.UnixMilli(), "x"})
			now = now.Add(24 * time.Hour)
		}
		e.Close()
		gdir := filepath.Join(dir, "groups", e.cat.Groups[0].ID)
		switch lost {
		case "groups":
			os.RemoveAll(gdir)
		case "2.seg":
			os.Remove(filepath.Join(gdir, "2.seg"))
		default:
			os.Remove(filepath.Join(dir, lost))
		}
		if _, err := Open(dir, o); err == nil {
			t.Errorf("open without %s succeeded", lost)
		}
		if r := Check(dir); len(r.Problems) == 0 {
			t.Errorf("Check without %s found nothing", lost)
		}
	}
}

func TestRetentionDropsSealedSegments(t *testing.T) {
	dir := t.TempDir()
	now := t0
	o := DefaultOptions()
	o.Now = func() time.Time { return now }
	e, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.CreateGroup(s1, "g")
	e.CreateStream(s1, "g", "s")
	mustPut(t, e, "g", "s", InputEvent{now.UnixMilli(), "day one"})
	now = now.Add(24 * time.Hour) // a new day seals the segment
	mustPut(t, e, "g", "s", InputEvent{now.UnixMilli(), "day two"})
	if err := e.SetRetention(s1, "g", 1); err != nil {
		t.Fatal(err)
	}
	now = now.Add(12 * time.Hour)
	e.sweep()
	out, _, _ := e.FilterLogEvents(s1, FilterQuery{Group: "g"})
	if len(out) != 1 || out[0].Message != "day two" {
		t.Fatalf("after retention: %+v", out)
	}
	ns, _ := segmentFiles(filepath.Join(dir, "groups", e.cat.Groups[0].ID))
	if len(ns) != 1 {
		t.Errorf("segments left: %v", ns)
	}
}

func TestFilterPagesNeverRepeatATokenAndCoverEverything(t *testing.T) {
	e := setup(t, t.TempDir(), nil)
	ms := t0.UnixMilli()
	var evs []InputEvent
	for i := range 95 {
		evs = append(evs, InputEvent{ms + int64(i), "m"})
	}
	mustPut(t, e, "g", "s", evs...)
	seen, tokens := 0, map[string]bool{}
	token := ""
	for {
		out, next, err := e.FilterLogEvents(s1, FilterQuery{Group: "g", Limit: 10, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(out)
		if next == "" {
			break
		}
		if tokens[next] {
			t.Fatalf("token %s came back twice", next)
		}
		tokens[next], token = true, next
	}
	if seen != 95 {
		t.Errorf("pages held %d events, want 95", seen)
	}
}

func TestParseGroupARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:logs:us-east-1:111122223333:log-group:CloudTrail/x:*": "us-east-1 111122223333 CloudTrail/x",
		"arn:aws:logs:eu-west-1:111122223333:log-group:a.b-c_d#e":      "eu-west-1 111122223333 a.b-c_d#e",
		"arn:aws:logs:us-east-1:111122223333:group:x":                  "",
		"arn:aws:s3:::bucket": "",
	} {
		r, a, n, ok := ParseGroupARN(arn)
		got := ""
		if ok {
			got = r + " " + a + " " + n
		}
		if got != want {
			t.Errorf("ParseGroupARN(%s) = %q, want %q", arn, got, want)
		}
	}
}

// FuzzSegment: any segment file is indexed or refused, never a panic.
func FuzzSegment(f *testing.F) {
	r1, _ := appendRecord(nil, &record{Stream: "s", Timestamp: 1, Ingestion: 2, Message: "m"})
	f.Add(r1)
	f.Add(append(r1, r1[:5]...))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 1), b, 0o644); err != nil {
			t.Fatal(err)
		}
		n := 0
		end, err := scanSegment(segmentPath(dir, 1), 0, func(int64, *record) bool { n++; return true })
		if err == nil && end != int64(len(b)) {
			t.Fatalf("clean scan ended at %d of %d", end, len(b))
		}
		if end > int64(len(b)) {
			t.Fatalf("scan went past the end")
		}
	})
}
