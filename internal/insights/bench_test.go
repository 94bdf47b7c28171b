package insights

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// BenchmarkDetector measures what the detector costs per event: counting
// (add) and judging the minutes (advance), on a mix of 200 APIs, a fifth
// of them writes, with errors, 100,000 events a minute.
func BenchmarkDetector(b *testing.B) {
	const perMinute = 100_000
	evs := make([]*event.Event, 0, 4096)
	for i := range cap(evs) {
		c := call{at: t0.Add(time.Duration(i) * time.Millisecond), source: "ec2.amazonaws.com", name: fmt.Sprintf("Api%d", i%200),
			readOnly: i%5 != 0, user: fmt.Sprintf("user%d", i%50)}
		if i%40 == 0 {
			c.errorCode = "AccessDenied"
		}
		evs = append(evs, mkEvent(b, c))
	}
	o := DefaultOptions()
	o.Logger = discard
	d := newDetector(&o)
	b.ResetTimer()
	for i := range b.N {
		ev := evs[i%len(evs)]
		ev.EventTime = t0.Add(time.Duration(i) * time.Minute / perMinute)
		d.add(ev)
		if i%perMinute == perMinute-1 {
			d.advance(ev.EventTime.Add(time.Minute), true, always)
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	series := 0
	for _, p := range d.parts {
		series += len(p.series)
	}
	b.ReportMetric(float64(series), "series")
}

// BenchmarkDropPass measures the drop rule (decision §83) once a
// baseline is learned: one minute judged for 600 call-rate series with 8
// days of hourly sums each (200 APIs, 3 times what BenchmarkDetector
// has), none short. Divide by the events of a minute for the cost per
// event: at 100,000 events a minute, ns/op / 100,000.
func BenchmarkDropPass(b *testing.B) {
	o := DefaultOptions()
	o.Logger = discard
	d := newDetector(&o)
	now := floorDiv(t0.Unix(), 60) + 8*24*60 + 30 // a Tuesday, 00:30
	p := newPartition(acct, "us-east-1", now-8*24*60)
	d.parts[partKey{acct, "us-east-1"}] = p
	for i := range 600 {
		s := &series{Cat: "Management", Type: CallRate, Source: "ec2.amazonaws.com", Name: fmt.Sprintf("Api%d", i), Last: now}
		for h := floorDiv(p.Since, 60); h <= floorDiv(now, 60); h++ {
			s.Hours = append(s.Hours, hourAgg{H: h, S: 600, Sq: 6000})
		}
		p.series[s.key()] = s
	}
	b.ResetTimer()
	for b.Loop() {
		if recs := d.drops(p, now, nil, always); len(recs) != 0 {
			b.Fatalf("%d records", len(recs))
		}
	}
}
