package eventpattern

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchRules returns n rules of the kinds people write for CloudTrail
// events, built on the sources and event names of the events (so that a
// share of them match) and on made-up names (most rules of a real bus
// name calls an account rarely makes). The mix: 40% source + detail-type
// + eventName lists, 15% eventName prefixes, 10% anything-but, 10% $or,
// 5% eventName suffixes, 5% equals-ignore-case, 5% errorCode lists, 5%
// numeric or exists, 5% CIS-style root-usage rules; 30 of them (the
// per-bus quota) wildcards on the caller's ARN.
func benchRules(tb testing.TB, events [][]byte, n int) map[string]string {
	tb.Helper()
	bySource := map[string][]string{}
	for _, ev := range events {
		var e struct {
			Source string `json:"source"`
			Detail struct {
				EventName string `json:"eventName"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(ev, &e); err != nil {
			tb.Fatal(err)
		}
		if !slices.Contains(bySource[e.Source], e.Detail.EventName) {
			bySource[e.Source] = append(bySource[e.Source], e.Detail.EventName)
		}
	}
	sources := make([]string, 0, len(bySource))
	for s := range bySource {
		sources = append(sources, s)
		sort.Strings(bySource[s])
	}
	sort.Strings(sources)
	r := rand.New(rand.NewPCG(1, 2))
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	names := func(src string, i, k int) string {
		var out []string
		real := bySource[src]
		for j := range k {
			if j%2 == 0 && len(real) > 0 {
				out = append(out, q(real[r.IntN(len(real))]))
			} else {
				out = append(out, q(fmt.Sprintf("Op%dX%d", i, j)))
			}
		}
		return strings.Join(out, ",")
	}
	verbs := []string{"Create", "Delete", "Put", "Update", "Get", "List", "Describe", "Attach", "Detach", "Start", "Stop", "Modify"}
	rules := map[string]string{}
	wildcards := 0
	for i := range n {
		src := sources[r.IntN(len(sources))]
		var p string
		switch i % 20 {
		case 0, 1, 2, 3, 4, 5, 6, 7:
			p = fmt.Sprintf(`{"source":[%q],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":[%s]}}`, src, names(src, i, 1+r.IntN(5)))
		case 8, 9, 10:
			p = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[{"prefix":%q}]}}`, src, verbs[r.IntN(len(verbs))])
		case 11:
			p = fmt.Sprintf(`{"source":[%q],"detail":{"userIdentity":{"type":[{"anything-but":["AWSService","AWSAccount"]}]}}}`, src)
		case 12:
			p = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[%s],"sourceIPAddress":[{"anything-but":{"prefix":"10."}}]}}`, src, names(src, i, 2))
		case 13, 14:
			p = fmt.Sprintf(`{"source":[%q],"$or":[{"detail":{"eventName":[%s]}},{"detail":{"errorCode":[{"prefix":"AccessDenied"}]}}]}`, src, names(src, i, 2))
		case 15:
			if i%40 == 15 {
				p = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[%s],"requestParameters":{"maxResults":[{"numeric":[">",%d]}]}}}`, src, names(src, i, 2), r.IntN(100))
			} else {
				p = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[%s],"errorCode":[{"exists":true}]}}`, src, names(src, i, 2))
			}
		case 16:
			if wildcards < 30 {
				wildcards++
				p = fmt.Sprintf(`{"detail":{"userIdentity":{"arn":[{"wildcard":"arn:aws:iam::*:user/%c*"}]}}}`, 'a'+rune(r.IntN(26)))
			} else {
				p = fmt.Sprintf(`{"detail":{"eventSource":[%q],"eventName":[{"suffix":%q}]}}`, strings.TrimPrefix(src, "aws.")+".amazonaws.com", []string{"Policy", "Key", "User", "Trail"}[r.IntN(4)])
			}
		case 17:
			p = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[{"equals-ignore-case":%s}]}}`, src, names(src, i, 1))
		case 18:
			p = fmt.Sprintf(`{"source":[%q],"detail":{"errorCode":["AccessDenied","UnauthorizedOperation","Client.UnauthorizedOperation"]}}`, src)
		case 19:
			p = `{"detail":{"userIdentity":{"type":["Root"],"invokedBy":[{"exists":false}]},"eventType":[{"anything-but":"AwsServiceEvent"}]}}`
		}
		rules[fmt.Sprintf("rule-%04d", i)] = p
	}
	return rules
}

func benchSet(tb testing.TB, rules map[string]string) *Set {
	tb.Helper()
	s := NewSet()
	for id, text := range rules {
		s.Add(id, mustParse(tb, text))
	}
	return s
}

// runEvents matches the events round-robin, serially or on every
// GOMAXPROCS thread, and reports events per second of wall time and per
// second of CPU time the process used (all threads, GC included): on a
// machine shared with other work the second is the steadier figure.
func runEvents(b *testing.B, events [][]byte, match func([]byte) error) {
	report := func(b *testing.B, cpu0 time.Duration) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		if cpu := cpuTime() - cpu0; cpu > 0 {
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			if err := match(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
		}
		report(b, cpu0)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(7919))
			for pb.Next() {
				if err := match(events[i%len(events)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		report(b, cpu0)
	})
}

// BenchmarkSet matches the 2,900 real CloudTrail events of the repository's
// Invictus dataset, in EventBridge envelopes, against 1,000 rules.
func BenchmarkSet(b *testing.B) {
	events := corpus(b)
	s := benchSet(b, benchRules(b, events, 1000))
	matched := 0
	for _, ev := range events {
		ids, err := s.Match(ev)
		if err != nil {
			b.Fatal(err)
		}
		matched += len(ids)
	}
	b.Logf("%d events, %d rule matches in all (%.1f per event)", len(events), matched, float64(matched)/float64(len(events)))
	runEvents(b, events, func(ev []byte) error { _, err := s.Match(ev); return err })
}

// BenchmarkSetBaseline measures, on the same events, what any matcher must
// pay: reading the JSON once (json.Valid), and a set of one rule.
func BenchmarkSetBaseline(b *testing.B) {
	events := corpus(b)
	b.Run("json.Valid", func(b *testing.B) {
		runEvents(b, events, func(ev []byte) error {
			if !json.Valid(ev) {
				return fmt.Errorf("invalid event")
			}
			return nil
		})
	})
	b.Run("one-rule", func(b *testing.B) {
		s := benchSet(b, map[string]string{"r": cloudTrailRules["iam-policy-changes"]})
		runEvents(b, events, func(ev []byte) error { _, err := s.Match(ev); return err })
	})
}

// BenchmarkSetScaling shows how the cost per event follows the number of
// rules of the same mix (serially); the matches per event grow with the
// rules, since more rules of the mix match each event.
func BenchmarkSetScaling(b *testing.B) {
	events := corpus(b)
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			s := benchSet(b, benchRules(b, events, n))
			matches := 0
			for i := 0; b.Loop(); i++ {
				ids, err := s.Match(events[i%len(events)])
				if err != nil {
					b.Fatal(err)
				}
				matches += len(ids)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
		})
	}
}

// BenchmarkSetCompile measures the recompilation the first Match after an
// Add or Remove pays, with 1,000 rules.
func BenchmarkSetCompile(b *testing.B) {
	events := corpus(b)
	s := benchSet(b, benchRules(b, events, 1000))
	p := mustParse(b, `{"source":["aws.iam"]}`)
	for b.Loop() {
		s.Add("changed", p)
		if _, err := s.Match(events[0]); err != nil {
			b.Fatal(err)
		}
	}
}
