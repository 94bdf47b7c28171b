package alarm

import (
	"math"
	"testing"
)

func TestAggregate(t *testing.T) {
	var a Aggregate
	for i := 1; i <= 100; i++ {
		a.Add(float64(i), 1)
	}
	for _, c := range []struct {
		stat string
		want float64
	}{
		{"SampleCount", 100}, {"Sum", 5050}, {"Average", 50.5}, {"Minimum", 1}, {"Maximum", 100},
		{"p0", 1}, {"p1", 1}, {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.5", 100}, {"p100", 100},
	} {
		if got, ok := a.Statistic(c.stat); !ok || got != c.want {
			t.Errorf("%s = %v, %v; want %v", c.stat, got, ok, c.want)
		}
	}
	for _, s := range []string{"Median", "p101", ""} {
		if _, ok := a.Statistic(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestAggregateWeightedAndSets(t *testing.T) {
	var a Aggregate
	a.Add(10, 3) // Values/Counts: 10 three times
	a.Add(1, 1)
	a.Add(math.NaN(), 1)
	a.Add(5, 0)
	a.Add(7, -1)
	if n := a.SampleCount(); n != 4 {
		t.Errorf("SampleCount %v, want 4 (NaN, zero and negative counts ignored)", n)
	}
	if v, _ := a.Statistic("Sum"); v != 31 {
		t.Errorf("Sum %v, want 31", v)
	}
	if v, _ := a.Statistic("p25"); v != 1 {
		t.Errorf("p25 %v, want 1", v)
	}
	if v, _ := a.Statistic("p26"); v != 10 {
		t.Errorf("p26 %v, want 10", v)
	}
	a.AddSet(StatisticSet{SampleCount: 2, Sum: 100, Minimum: 0.5, Maximum: 99})
	a.AddSet(StatisticSet{SampleCount: 0, Sum: 1000, Minimum: -1, Maximum: 1000})
	for stat, want := range map[string]float64{"SampleCount": 6, "Sum": 131, "Minimum": 0.5, "Maximum": 99, "Average": 131.0 / 6} {
		if got, ok := a.Statistic(stat); !ok || got != want {
			t.Errorf("%s = %v, %v; want %v", stat, got, ok, want)
		}
	}
	if _, ok := a.Statistic("p50"); ok {
		t.Error("a percentile of statistic sets")
	}
	var empty Aggregate
	if _, ok := empty.Statistic("Sum"); ok {
		t.Error("Sum of nothing")
	}
	var setOnly Aggregate
	setOnly.AddSet(StatisticSet{SampleCount: 1, Sum: 2, Minimum: 2, Maximum: 2})
	if v, ok := setOnly.Statistic("Maximum"); !ok || v != 2 {
		t.Errorf("Maximum of one set: %v, %v", v, ok)
	}
}
