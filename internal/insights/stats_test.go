package insights

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The baseline is the mean and standard deviation of the per-minute
// counts over the window, zero minutes included (decision §58).
func TestBaselineStatistics(t *testing.T) {
	o := testOptions()
	o.BaselineWindow = 2 * time.Hour
	d := newDetector(o)
	p := newPartition(acct, "us-east-1", 0)
	// 3 calls every even minute, 7 every minute divisible by 5.
	count := func(m int64) float64 {
		switch {
		case m%5 == 0:
			return 7
		case m%2 == 0:
			return 3
		}
		return 0
	}
	for _, tt := range []struct {
		name      string
		since, at int64
		from      int64 // first minute of the window
	}{
		{"a full window", 0, 240, 120},
		{"mid-hour: the window starts at the next whole hour", 0, 230, 120},
		{"shorter history than the window", 30, 100, 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p.Since = tt.since
			s := &series{Cat: "Management", Type: CallRate, Source: "ec2.amazonaws.com", Name: "RunInstances"}
			for m := tt.since; m < tt.at; m++ {
				if c := count(m); c > 0 {
					d.remember(s, m, &minuteAgg{N: c})
				}
			}
			b, ok := d.baseline(p, s, tt.at)
			if !ok {
				t.Fatal("no baseline")
			}
			n := tt.at - tt.from
			var sum, sq float64
			for m := tt.from; m < tt.at; m++ {
				sum += count(m)
				sq += count(m) * count(m)
			}
			mean := sum / float64(n)
			sigma := math.Sqrt(sq/float64(n) - mean*mean)
			want := baseline{Mean: mean, Sigma: sigma, Minutes: n, Threshold: max(mean+4*sigma, 2*mean, 5)}
			if diff := cmp.Diff(want, b, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }), cmp.AllowUnexported(baseline{}),
				cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Attr" }, cmp.Ignore())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	p.Since = 100
	if _, ok := d.baseline(p, &series{}, 100); ok {
		t.Error("a baseline with no minutes of history")
	}
}

func TestThresholdTerms(t *testing.T) {
	o := testOptions()
	for _, tt := range []struct {
		name        string
		mean, sigma float64
		want        float64
	}{
		{"variance dominates", 10, 5, 30},
		{"steady: ratio", 10, 1, 20},
		{"rare: floor", 0.5, 0.5, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := max(tt.mean+o.K*tt.sigma, o.Ratio*tt.mean, o.Floor); got != tt.want {
				t.Errorf("threshold %v, want %v", got, tt.want)
			}
		})
	}
}

// Space-saving counting is exact up to topValues distinct values and
// never undercounts beyond.
func TestTopK(t *testing.T) {
	var k topK
	for i := range topValues {
		k.add(fmt.Sprint("v", i), float64(i+1))
	}
	top := k.top(3)
	if diff := cmp.Diff([]kv{{"v19", 20}, {"v18", 19}, {"v17", 18}}, top); diff != "" {
		t.Errorf("exact (-want +got):\n%s", diff)
	}
	k.add("new", 100)
	if got := k.top(1)[0]; got.V != "new" || got.N < 100 {
		t.Errorf("a heavy new value: %v", got)
	}
	if len(k) != topValues {
		t.Errorf("%d entries, want at most %d", len(k), topValues)
	}
	var a attrs
	a.add("arn1", "ua", "null", 2)
	var b attrs
	b.add("arn1", "ua", "AccessDenied", 3)
	a.merge(&b)
	if diff := cmp.Diff(attrs{U: topK{{"arn1", 5}}, G: topK{{"ua", 5}}, E: topK{{"null", 2}, {"AccessDenied", 3}}}, a); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
}

func TestRound(t *testing.T) {
	for _, tt := range []struct{ in, want float64 }{
		{0.1 + 0.2, 0.3},
		{1.0 / 11336, 0.00008821453776},
		{60, 60},
	} {
		if got := round(tt.in); got != tt.want {
			t.Errorf("round(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
