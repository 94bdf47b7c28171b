package insights

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The per-minute counts behind the decisions, per period, survive a
// restart, and a crash between the journal and the state's commit
// writes no minute twice.
func TestMetrics(t *testing.T) {
	r := newRig(t)
	traffic := errorStorm(150, 160)
	r.appendMinutes(t, 0, 200, traffic)
	open := func() *Engine {
		o := shortOptions()
		o.Logger = discard
		o.Now = func() time.Time { return t0.Add(210 * time.Minute) }
		e, err := Open(r.dir, *o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	e := open()
	r.run(t, e)
	want := func(from, to, per int, source, name, code string, fill bool) []Point {
		var out []Point
		for p := from; p < to; p += per {
			var n float64
			for m := p; m < p+per; m++ {
				for _, c := range traffic(m) {
					if c.source == source && c.name == name && (code == "" && !c.readOnly || c.errorCode == code) {
						n++
					}
				}
			}
			if n > 0 || fill {
				out = append(out, Point{Time: at(p, 0).UTC(), Value: n})
			}
		}
		return out
	}
	q := MetricsQuery{Account: acct, Region: "us-east-1", Category: "Management", Type: CallRate, EventSource: "ec2.amazonaws.com",
		EventName: "RunInstances", Start: at(0, 0), End: at(199, 0), Period: time.Minute}
	check := func(name string, q MetricsQuery, want []Point) {
		t.Helper()
		got, err := e.Metrics(q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	check("call rate per minute", q, want(0, 199, 1, "ec2.amazonaws.com", "RunInstances", "", false))
	q5 := q
	q5.Period, q5.Start, q5.End = 5*time.Minute, at(3, 0), at(60, 0)
	check("per 5 minutes, from the next whole period", q5, want(5, 60, 5, "ec2.amazonaws.com", "RunInstances", "", false))
	qe := q
	qe.Type, qe.EventSource, qe.EventName, qe.ErrorCode, qe.Period, qe.FillWithZeros = ErrorRate, "s3.amazonaws.com", "DeleteBucket", "AccessDenied", time.Hour, true
	qe.End = at(180, 0)
	check("error rate per hour, with zeros", qe, want(0, 180, 60, "s3.amazonaws.com", "DeleteBucket", "AccessDenied", true))

	// A crash after the journal was written but before the state
	// recorded it: the next open cuts those lines, and the replay writes
	// them once.
	e.Close()
	path := filepath.Join(r.dir, MetricsFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`[29540170,1000,"` + acct + `","us-east-1","Management","ApiCallRateInsight","ec2.amazonaws.com","RunInstances",""]` + "\n[2954")
	f.Close()
	e = open()
	check("after a cut", q, want(0, 199, 1, "ec2.amazonaws.com", "RunInstances", "", false))
}
