package insights

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// reference computes a baseline minute by minute, the slow and obvious
// way (decisions §61–§62).
func reference(count func(int64) float64, since, m int64, o *Options) baseline {
	window := int64(o.BaselineWindow / time.Minute)
	ws := max(since, ceilDiv(m-window, 60)*60)
	n := float64(m - ws)
	hour := func(x int64) int64 { return floorDiv(x, 60) }
	like := func(x int64) bool {
		return hour(x) != hour(m) && hourOfDay(hour(x)) == hourOfDay(hour(m)) && weekend(hour(x)) == weekend(hour(m))
	}
	var sum, sq, likeN float64
	for x := ws; x < m; x++ {
		c := count(x)
		sum, sq = sum+c, sq+c*c
		if like(x) {
			likeN++
		}
	}
	if likeN < 60 {
		like = func(x int64) bool { return hour(x) != hour(m) && hourOfDay(hour(x)) == hourOfDay(hour(m)) }
	}
	mean := sum / n
	b := baseline{Mean: mean, Expected: mean, Sigma: math.Sqrt(sq/n - mean*mean), Minutes: m - ws}
	var ls, ln float64
	for x := ws; x < m; x++ {
		if like(x) {
			ls, ln = ls+count(x), ln+1
		}
	}
	if ln > 0 {
		e := ls / ln
		var r float64
		for x := ws; x < m; x++ {
			if like(x) {
				r += (count(x) - e) * (count(x) - e)
			}
		}
		b.Expected, b.Sigma = e, math.Sqrt(r/ln)
	}
	b.Threshold = max(b.Expected+o.K*b.Sigma, o.Ratio*mean, o.Floor)
	return b
}

// The baseline is the mean per minute over the window, zero minutes
// included, and the threshold follows the hour of the day.
func TestBaselineStatistics(t *testing.T) {
	const day = 24 * 60
	// A daily cycle: busy from 08:00 to 18:00, with a job at :00 and
	// noise from the minute's number.
	count := func(m int64) float64 {
		c := float64(m % 7)
		if h := (m / 60) % 24; h >= 8 && h < 18 {
			c += 40
		}
		if m%60 == 0 {
			c += 25
		}
		return c
	}
	for _, tt := range []struct {
		name      string
		window    time.Duration
		since, at int64
	}{
		{"less than a day: the plain mean and spread", 7 * 24 * time.Hour, 0, 600},
		{"the first minute of an hour not seen yet", 7 * 24 * time.Hour, 100, 24*60 - 60},
		{"two days, mid-hour", 7 * 24 * time.Hour, 0, 2*day + 9*60 + 30},
		{"a full 2-day window sliding by the hour", 48 * time.Hour, 0, 5*day + 3*60 + 17},
		{"history starting mid-hour", 48 * time.Hour, 75, 3*day + 13*60},
		{"at night after busy days", 7 * 24 * time.Hour, 0, 4*day + 2*60 + 5},
		{"a weekend hour with weekends in the window", 7 * 24 * time.Hour, 0, 12*day + 10*60 + 40},
		{"the first weekend hour: weekdays stand in", 7 * 24 * time.Hour, 0, 5*day + 10*60 + 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			o.BaselineWindow = tt.window
			d := newDetector(o)
			p := newPartition(acct, "us-east-1", tt.since)
			s := &series{Cat: "Management", Type: CallRate, Source: "ec2.amazonaws.com", Name: "RunInstances"}
			for m := tt.since; m < tt.at; m++ {
				if c := count(m); c > 0 {
					d.remember(s, m, c, &attrs{})
				}
			}
			d.prune(&partition{Closed: tt.at, series: map[string]*series{"s": s}})
			got, ok := d.baseline(p, s, tt.at)
			if !ok {
				t.Fatal("no baseline")
			}
			want := reference(count, tt.since, tt.at, o)
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }), cmp.AllowUnexported(baseline{}),
				cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Attr" }, cmp.Ignore())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	p := newPartition(acct, "us-east-1", 100)
	if _, ok := newDetector(testOptions()).baseline(p, &series{}, 100); ok {
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
		{"variance dominates", 10, 5, 35},
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
