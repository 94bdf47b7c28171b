package logfilter

import "testing"

// BenchmarkCISPerEvent is the metric-filter work per delivered CloudTrail
// event: the 15 CIS filters over one record, decoded once.
func BenchmarkCISPerEvent(b *testing.B) {
	recs := loadRecords(b)
	var msg []byte
	for _, r := range recs {
		if r.name() == "ConsoleLogin" {
			msg = r.raw
			break
		}
	}
	var filters []*Filter
	for _, c := range CIS {
		filters = append(filters, MustParse(c.FilterPattern))
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		ev := NewEvent(msg)
		for _, f := range filters {
			f.MatchEvent(ev)
		}
	}
}
