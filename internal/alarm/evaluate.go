package alarm

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Datapoint is the value of the alarm's statistic over one period.
type Datapoint struct {
	// Timestamp is any instant in the period; periods are aligned to the
	// Unix epoch (a 300-second period starts at a multiple of 300 s).
	Timestamp time.Time
	// Value is the statistic over the period.
	Value float64
	// SampleCount is the number of samples behind Value.
	SampleCount float64
}

// Result is the outcome of one evaluation.
type Result struct {
	// State is the new state; it equals the current one when nothing
	// changes (including "retain current state").
	State State
	// Reason is StateReason, and ReasonData StateReasonData (JSON). Both
	// are empty when the state is retained without evaluation (ignore).
	Reason     string
	ReasonData json.RawMessage
}

// EvaluationRange returns how many latest periods an evaluation looks at:
// N + 2, as the CloudWatch User Guide's tables do (5 for N = 3).
func EvaluationRange(evaluationPeriods int) int { return evaluationPeriods + 2 }

// period is one slot of the evaluation range.
type period struct {
	start   time.Time
	present bool
	dp      Datapoint
	breach  bool
}

// Evaluate decides the alarm's state at now from the datapoints of its
// metric. now should already be past the ingestion delay: the latest
// period evaluated is the last one that ends at or before now. Datapoints
// outside the evaluation range are ignored; of two in one period the later
// in the slice wins. cfg must have passed Validate (an invalid period or
// evaluation count keeps the current state).
func Evaluate(cfg *Config, current State, points []Datapoint, now time.Time) Result {
	if cfg.Period <= 0 || cfg.EvaluationPeriods <= 0 { // not validated: evaluate nothing
		return Result{State: current}
	}
	p := int64(cfg.Period)
	n, m := cfg.EvaluationPeriods, cfg.M()
	r := EvaluationRange(n)
	end := floorDiv(now.Unix(), p) * p // end of the latest complete period
	first := end - int64(r)*p
	slots := make([]period, r)
	for i := range slots {
		slots[i].start = time.Unix(first+int64(i)*p, 0).UTC()
	}
	for _, dp := range points {
		s := floorDiv(dp.Timestamp.Unix(), p) * p
		if s < first || s >= end {
			continue
		}
		i := (s - first) / p
		slots[i] = period{start: slots[i].start, present: true, dp: dp, breach: breaches(cfg, dp.Value)}
	}
	var existing []period
	for _, s := range slots {
		if s.present {
			existing = append(existing, s)
		}
	}
	ev := evaluation{cfg: cfg, current: current, now: now, slots: slots, m: m}
	if cfg.ExtendedStatistic != "" && cfg.EvaluateLowSampleCountPercentile == "ignore" {
		pct, _ := ParsePercentile(cfg.ExtendedStatistic)
		for _, s := range existing[max(0, len(existing)-n):] {
			if s.dp.SampleCount < lowSampleThreshold(pct) {
				return Result{State: current}
			}
		}
	}
	if len(existing) >= n {
		ev.evaluated = existing[len(existing)-n:]
		return ev.decide()
	}
	ev.evaluated = existing
	switch cfg.Treatment() {
	case TreatBreaching, TreatNotBreaching:
		ev.filled = n - len(existing)
		ev.fillBreach = cfg.Treatment() == TreatBreaching
		return ev.decide()
	case TreatIgnore:
		if len(existing) == 0 {
			return Result{State: current}
		}
		b := ev.breaching()
		if b < m && b >= min(m, len(existing)) {
			return Result{State: current}
		}
		ev.m = min(m, len(existing))
		return ev.decide()
	}
	// missing
	if len(existing) == 0 {
		return ev.insufficient()
	}
	ev.m = min(m, len(existing))
	return ev.decide()
}

// lowSampleThreshold is the sample count under which a percentile counts as
// low-sample: 10/(1-p) for p in [0.5, 1), 10/p below (User Guide,
// "Percentile-based alarms and low data samples").
func lowSampleThreshold(pct float64) float64 {
	p := pct / 100
	switch {
	case p >= 1 || p <= 0:
		return 0
	case p >= 0.5:
		return 10 / (1 - p)
	}
	return 10 / p
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func breaches(cfg *Config, v float64) bool {
	switch cfg.ComparisonOperator {
	case GreaterThanOrEqualToThreshold:
		return v >= cfg.Threshold
	case GreaterThanThreshold:
		return v > cfg.Threshold
	case LessThanThreshold:
		return v < cfg.Threshold
	case LessThanOrEqualToThreshold:
		return v <= cfg.Threshold
	}
	return false
}

var comparisonText = map[string]string{
	GreaterThanOrEqualToThreshold: "greater than or equal to",
	GreaterThanThreshold:          "greater than",
	LessThanThreshold:             "less than",
	LessThanOrEqualToThreshold:    "less than or equal to",
}

type evaluation struct {
	cfg        *Config
	current    State
	now        time.Time
	slots      []period
	evaluated  []period // real datapoints evaluated, oldest first
	filled     int      // missing datapoints filled in
	fillBreach bool
	m          int // datapoints needed for ALARM
}

func (e *evaluation) breaching() int {
	b := 0
	for _, s := range e.evaluated {
		if s.breach {
			b++
		}
	}
	return b
}

func (e *evaluation) decide() Result {
	b := e.breaching()
	if e.fillBreach {
		b += e.filled
	}
	total := len(e.evaluated) + e.filled
	cmpText := comparisonText[e.cfg.ComparisonOperator]
	thr := formatDouble(e.cfg.Threshold)
	var reason string
	state := StateOK
	if b >= e.m {
		state = StateAlarm
		list := e.list(true)
		switch {
		case len(list) == 0:
			reason = fmt.Sprintf("Threshold Crossed: no datapoints were received for %s and %s treated as [Breaching].",
				plural(e.filled, "period", "periods"), missingText(e.filled))
		default:
			reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s)",
				len(list), total, strings.Join(list, ", "), wasWere(len(list)), cmpText, thr)
			if e.fillBreach && e.filled > 0 {
				reason += fmt.Sprintf(" and %s treated as [Breaching]", missingText(e.filled))
			}
		}
		reason = strings.TrimSuffix(reason, ".") + fmt.Sprintf(" (minimum %s for %s -> ALARM transition).",
			plural(e.cfg.M(), "datapoint", "datapoints"), e.current)
	} else {
		list := e.list(false)
		switch {
		case len(list) == 0 && len(e.evaluated) == 0:
			reason = fmt.Sprintf("Threshold Crossed: no datapoints were received for %s and %s treated as [NonBreaching].",
				plural(e.filled, "period", "periods"), missingText(e.filled))
		case len(list) == 0:
			all := e.list(true)
			reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s), fewer than the %d needed",
				len(all), total, strings.Join(all, ", "), wasWere(len(all)), cmpText, thr, e.cfg.M())
		default:
			reason = fmt.Sprintf("Threshold Crossed: %s [%s] %s not %s the threshold (%s)",
				plural(len(list), "datapoint", "datapoints"), strings.Join(list, ", "), wasWere(len(list)), cmpText, thr)
		}
		if !strings.HasSuffix(reason, ".") {
			if e.filled > 0 && !e.fillBreach && len(e.evaluated) > 0 {
				reason += fmt.Sprintf(" and %s treated as [NonBreaching]", missingText(e.filled))
			}
			reason += "."
		}
	}
	return Result{State: state, Reason: reason, ReasonData: e.data()}
}

func (e *evaluation) insufficient() Result {
	n := e.cfg.EvaluationPeriods
	reason := fmt.Sprintf("Insufficient Data: %s unknown.", wasPhrase(n, "datapoint"))
	return Result{State: StateInsufficientData, Reason: reason, ReasonData: e.data()}
}

// list formats the evaluated datapoints that breach (or do not), newest
// first, as "2.0 (24/06/21 23:16:00)".
func (e *evaluation) list(breach bool) []string {
	var out []string
	for i := len(e.evaluated) - 1; i >= 0; i-- {
		s := e.evaluated[i]
		if s.breach == breach {
			out = append(out, fmt.Sprintf("%s (%s)", formatDouble(s.dp.Value), s.start.Format("02/01/06 15:04:05")))
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func missingText(n int) string { return wasPhrase(n, "missing datapoint") }

// wasPhrase returns "1 <noun> was" or "<n> <noun>s were".
func wasPhrase(n int, noun string) string {
	if n == 1 {
		return "1 " + noun + " was"
	}
	return fmt.Sprintf("%d %ss were", n, noun)
}

// reasonData is StateReasonData.
type reasonData struct {
	Version             string           `json:"version"`
	QueryDate           string           `json:"queryDate"`
	StartDate           string           `json:"startDate"`
	Statistic           string           `json:"statistic,omitempty"`
	ExtendedStatistic   string           `json:"extendedStatistic,omitempty"`
	Unit                string           `json:"unit,omitempty"`
	Period              int              `json:"period"`
	RecentDatapoints    []jsonDouble     `json:"recentDatapoints"`
	Threshold           jsonDouble       `json:"threshold"`
	EvaluatedDatapoints []evaluatedPoint `json:"evaluatedDatapoints,omitempty"`
}

type evaluatedPoint struct {
	Timestamp   string      `json:"timestamp"`
	SampleCount *jsonDouble `json:"sampleCount,omitempty"`
	Value       *jsonDouble `json:"value,omitempty"`
}

func (e *evaluation) data() json.RawMessage {
	d := reasonData{
		Version:           "1.0",
		QueryDate:         FormatTime(e.now),
		StartDate:         FormatTime(e.slots[len(e.slots)-e.cfg.EvaluationPeriods].start), // the N latest periods
		Statistic:         e.cfg.Statistic,
		ExtendedStatistic: e.cfg.ExtendedStatistic,
		Unit:              e.cfg.Unit,
		Period:            e.cfg.Period,
		RecentDatapoints:  []jsonDouble{},
		Threshold:         jsonDouble(e.cfg.Threshold),
	}
	for _, s := range e.evaluated {
		d.RecentDatapoints = append(d.RecentDatapoints, jsonDouble(s.dp.Value))
	}
	for i := len(e.evaluated) - 1; i >= 0; i-- {
		s := e.evaluated[i]
		v, c := jsonDouble(s.dp.Value), jsonDouble(s.dp.SampleCount)
		d.EvaluatedDatapoints = append(d.EvaluatedDatapoints, evaluatedPoint{Timestamp: FormatTime(s.start), SampleCount: &c, Value: &v})
	}
	b, err := marshal(d)
	if err != nil { // only non-finite numbers, which Validate and Aggregate keep out
		return nil
	}
	return b
}
