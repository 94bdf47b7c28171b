package alarm

import (
	"math"
	"slices"
)

// StatisticSet is a pre-aggregated set of samples, as PutMetricData's
// StatisticValues carries it.
type StatisticSet struct {
	SampleCount float64
	Sum         float64
	Minimum     float64
	Maximum     float64
}

// Aggregate accumulates the samples of one period. The zero value is empty
// and ready to use.
type Aggregate struct {
	set    StatisticSet
	values []weighted // for percentiles
	// sets is true once a StatisticSet was added: its samples are not
	// known one by one, so percentiles are unavailable.
	sets bool
}

type weighted struct {
	value float64
	count float64
}

// Add records value count times (count 1 for a single sample; PutMetricData
// Values/Counts pairs give other counts). Non-positive counts and non-finite
// values are ignored.
func (a *Aggregate) Add(value, count float64) {
	if count <= 0 || math.IsNaN(count) || math.IsInf(count, 0) || math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	a.merge(StatisticSet{SampleCount: count, Sum: value * count, Minimum: value, Maximum: value})
	a.values = append(a.values, weighted{value, count})
}

// AddSet records a pre-aggregated set. Percentiles of the aggregate are then
// unavailable. Sets with a non-positive SampleCount are ignored.
func (a *Aggregate) AddSet(s StatisticSet) {
	if !(s.SampleCount > 0) || math.IsInf(s.SampleCount, 0) {
		return
	}
	a.merge(s)
	a.sets = true
}

func (a *Aggregate) merge(s StatisticSet) {
	if a.set.SampleCount == 0 {
		a.set = s
		return
	}
	a.set.SampleCount += s.SampleCount
	a.set.Sum += s.Sum
	a.set.Minimum = min(a.set.Minimum, s.Minimum)
	a.set.Maximum = max(a.set.Maximum, s.Maximum)
}

// SampleCount returns the number of samples recorded.
func (a *Aggregate) SampleCount() float64 { return a.set.SampleCount }

// Statistic returns the named statistic: SampleCount, Average, Sum,
// Minimum, Maximum or a percentile pNN (nearest rank: the smallest sample
// with at least NN% of the samples at or below it). ok is false when the
// aggregate is empty, the name is unknown, or a percentile is asked of an
// aggregate holding statistic sets.
func (a *Aggregate) Statistic(name string) (v float64, ok bool) {
	if a.set.SampleCount == 0 {
		return 0, false
	}
	switch name {
	case "SampleCount":
		return a.set.SampleCount, true
	case "Sum":
		return a.set.Sum, true
	case "Average":
		return a.set.Sum / a.set.SampleCount, true
	case "Minimum":
		return a.set.Minimum, true
	case "Maximum":
		return a.set.Maximum, true
	}
	p, isPct := ParsePercentile(name)
	if !isPct || a.sets {
		return 0, false
	}
	vs := slices.Clone(a.values)
	slices.SortFunc(vs, func(x, y weighted) int {
		switch {
		case x.value < y.value:
			return -1
		case x.value > y.value:
			return 1
		}
		return 0
	})
	rank := p / 100 * a.set.SampleCount
	cum := 0.0
	for _, w := range vs {
		cum += w.count
		if cum >= rank {
			return w.value, true
		}
	}
	return vs[len(vs)-1].value, true
}
