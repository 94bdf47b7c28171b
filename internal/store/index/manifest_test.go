package index

import (
	"encoding/json"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestNormalizeSweeps(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []sweep
		want sweeps
	}{
		{"none", nil, nil},
		{"one", []sweep{{10, 100}}, sweeps{{10, 100}}},
		{"a later sweep with a later cutoff replaces", []sweep{{10, 100}, {20, 150}}, sweeps{{20, 150}}},
		{"same cutoff replaces", []sweep{{10, 100}, {20, 100}}, sweeps{{20, 100}}},
		{"same seq: the later cutoff", []sweep{{10, 100}, {10, 90}}, sweeps{{10, 100}}},
		{"an earlier cutoff after a later one stays", []sweep{{10, 150}, {20, 100}}, sweeps{{10, 150}, {20, 100}}},
		{"unsorted", []sweep{{30, 50}, {10, 150}, {20, 100}, {15, 120}}, sweeps{{10, 150}, {15, 120}, {20, 100}, {30, 50}}},
		{"mixed", []sweep{{10, 150}, {20, 100}, {25, 160}, {40, 90}}, sweeps{{25, 160}, {40, 90}}},
		{"duplicates", []sweep{{10, 100}, {10, 100}}, sweeps{{10, 100}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, normalizeSweeps(c.in)); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

// naiveDeleted is the rule as docs/format/index.md states it.
func naiveDeleted(in []sweep, t int64, seq uint64) bool {
	return slices.ContainsFunc(in, func(s sweep) bool { return seq <= s.Seq && t < s.Before })
}

// TestSweepsRule checks cut and the filters against the rule on random
// lists, before and after normalizing.
func TestSweepsRule(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 2000 {
		in := make([]sweep, rng.Intn(5))
		for i := range in {
			in[i] = sweep{uint64(rng.Intn(50)), int64(rng.Intn(50))}
		}
		sw := normalizeSweeps(in)
		for i := 1; i < len(sw); i++ {
			if sw[i].Seq <= sw[i-1].Seq || sw[i].Before >= sw[i-1].Before {
				t.Fatalf("%v normalized to %v: not seq ascending, before descending", in, sw)
			}
		}
		first, last := uint64(rng.Intn(50)), uint64(rng.Intn(50))
		first, last = min(first, last), max(first, last)
		start := int64(rng.Intn(60)) - 5
		f := newFilter(sw, start, first, last)
		for seq := first; seq <= last; seq++ {
			for tm := int64(-2); tm < 55; tm++ {
				want := naiveDeleted(in, tm, seq)
				if got := sw.deleted(tm, seq); got != want {
					t.Fatalf("sweeps %v (from %v): deleted(%d, %d) = %v, want %v", sw, in, tm, seq, got, want)
				}
				if got := f.visible(pos{tm, seq}); got != (!want && tm >= start) {
					t.Fatalf("sweeps %v: filter of %d..%d from %d: visible(%d, %d) = %v", sw, first, last, start, tm, seq, got)
				}
			}
		}
		// Adding a sweep equals adding it to the raw list.
		extra := sweep{uint64(rng.Intn(50)), int64(rng.Intn(50))}
		if diff := cmp.Diff(normalizeSweeps(append(slices.Clone(in), extra)), sw.add(extra)); diff != "" {
			t.Fatal(diff)
		}
	}
}

func TestParseManifest(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     manifest
		err      string
	}{
		{"version 1 watermark", `{"version":1,"checkpoint":40,"sweptBefore":1767225600,"nextFile":3,"segments":["0000000000000001.seg","0000000000000002.seg"]}`,
			manifest{Version: 2, Checkpoint: 40, NextFile: 3, Sweeps: sweeps{{40, 1767225600}}, Segments: []string{"0000000000000001.seg", "0000000000000002.seg"}}, ""},
		{"version 1 never swept", `{"version":1,"checkpoint":0,"sweptBefore":0,"nextFile":1,"segments":null}`,
			manifest{Version: 2, NextFile: 1}, ""},
		{"version 2", `{"version":2,"checkpoint":9,"nextFile":8,"sweeps":[{"seq":5,"before":100},{"seq":3,"before":200}],"segments":["0000000000000007.seg"],` +
			`"quarantined":[{"file":"0000000000000005.seg.1","first":1,"last":4,"events":4,"reason":"x","time":"2026-01-01T00:00:00Z","rebuiltAs":"0000000000000007.seg"}]}`,
			manifest{Version: 2, Checkpoint: 9, NextFile: 8, Sweeps: sweeps{{3, 200}, {5, 100}}, Segments: []string{"0000000000000007.seg"},
				Quarantined: []QuarantinedSegment{{File: "0000000000000005.seg.1", First: 1, Last: 4, Events: 4, Reason: "x", Time: mustTime(t, "2026-01-01T00:00:00Z"), RebuiltAs: "0000000000000007.seg"}}}, ""},
		{"nextFile below a listed segment", `{"version":2,"nextFile":1,"segments":["000000000000000a.seg"]}`,
			manifest{Version: 2, NextFile: 11, Segments: []string{"000000000000000a.seg"}}, ""},
		{"nextFile below a quarantined segment", `{"version":2,"nextFile":1,"quarantined":[{"file":"000000000000000a.seg","first":0,"last":0}]}`,
			manifest{Version: 2, NextFile: 11, Quarantined: []QuarantinedSegment{{File: "000000000000000a.seg"}}}, ""},
		{"future version", `{"version":3}`, manifest{}, "version 3"},
		{"version 1 with sweeps", `{"version":1,"sweeps":[{"seq":1,"before":2}]}`, manifest{}, "version 1"},
		{"version 2 with sweptBefore", `{"version":2,"sweptBefore":5}`, manifest{}, "sweptBefore"},
		{"bad segment name", `{"version":2,"segments":["../x.seg"]}`, manifest{}, "bad segment name"},
		{"segment twice", `{"version":2,"segments":["0000000000000001.seg","0000000000000001.seg"]}`, manifest{}, "twice"},
		{"quarantined path", `{"version":2,"quarantined":[{"file":"../../etc/passwd"}]}`, manifest{}, "bad quarantined file name"},
		{"quarantined range", `{"version":2,"quarantined":[{"file":"a.seg","first":5,"last":4}]}`, manifest{}, "range"},
		{"quarantined half range", `{"version":2,"quarantined":[{"file":"a.seg","first":0,"last":4}]}`, manifest{}, "range"},
		{"quarantined twice", `{"version":2,"quarantined":[{"file":"a.seg"},{"file":"a.seg"}]}`, manifest{}, "twice"},
		{"rebuilt as nonsense", `{"version":2,"quarantined":[{"file":"a.seg","rebuiltAs":"x"}]}`, manifest{}, "rebuilt as"},
		{"truncated", `{"version":2,"segments":[`, manifest{}, "unexpected end"},
		{"max file number", `{"version":2,"segments":["ffffffffffffffff.seg"]}`, manifest{}, "bad segment name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := parseManifest([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one about %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, m); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

// FuzzManifest: parseManifest never panics, and what it accepts it writes
// back as version 2 that parses to the same value, with normalized sweeps,
// plain file names and a nextFile above every file it names.
func FuzzManifest(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"checkpoint":40,"sweptBefore":1767225600,"nextFile":3,"segments":["0000000000000001.seg","0000000000000002.seg"]}`,
		`{"version":2,"checkpoint":9,"nextFile":8,"sweeps":[{"seq":5,"before":100},{"seq":3,"before":200},{"seq":9,"before":-3}],"segments":["0000000000000007.seg"],"quarantined":[{"file":"0000000000000005.seg.1","first":1,"last":4,"events":4,"reason":"x","time":"2026-01-01T00:00:00Z","rebuiltAs":"0000000000000007.seg"}]}`,
		`{"version":2,"segments":null,"quarantined":[{"file":"x","first":0,"last":0,"time":"0001-01-01T00:00:00Z"}]}`,
		`{"version":2,"sweeps":[{"seq":18446744073709551615,"before":-9223372036854775808}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(b)
		if err != nil {
			return
		}
		for i := 1; i < len(m.Sweeps); i++ {
			if m.Sweeps[i].Seq <= m.Sweeps[i-1].Seq || m.Sweeps[i].Before >= m.Sweeps[i-1].Before {
				t.Fatalf("sweeps not normalized: %v", m.Sweeps)
			}
		}
		for _, n := range m.Segments {
			num, err := segNum(n)
			if err != nil || !validFileName(n) || num >= m.NextFile {
				t.Fatalf("segment %q accepted (nextFile %d)", n, m.NextFile)
			}
		}
		for _, q := range m.Quarantined {
			if !validFileName(q.File) || strings.ContainsAny(q.File, `/\`) {
				t.Fatalf("quarantined file %q accepted", q.File)
			}
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parseManifest(out)
		if err != nil {
			t.Fatalf("%s does not parse back: %v", out, err)
		}
		if diff := cmp.Diff(m, m2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %s:\n%s", out, diff)
		}
		if m.NextFile == 0 || m.NextFile == math.MaxUint64 && len(m.Segments) > 0 {
			t.Fatalf("nextFile %d", m.NextFile)
		}
	})
}
