package wal

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkSync appends one 1,500-byte record and syncs it, as every API
// call does for its own record, with segments preallocated (the default)
// and growing as they are written (NoSpare). It reports the latency's p50
// and p99.
func BenchmarkSync(b *testing.B) {
	for _, mode := range []struct {
		name    string
		noSpare bool
	}{{"prealloc", false}, {"append", true}} {
		b.Run(mode.name, func(b *testing.B) {
			o := quietOptions()
			o.NoSpare = mode.noSpare
			w, err := Open(b.TempDir(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			for range 1000 {
				if mode.noSpare || w.spareReady() {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			e := []Entry{{Account: "123456789012", Region: "us-east-1", Raw: make([]byte, 1500)}}
			var ds []time.Duration
			for b.Loop() {
				t := time.Now()
				if _, err := w.Write(e); err != nil {
					b.Fatal(err)
				}
				if err := w.Sync(); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, time.Since(t))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}
