package wal

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkSync appends one 1,500-byte record and syncs it, as every API
// call does for its own record, with segments preallocated (the default:
// fallocate where the file system has it), preallocated by writing zeros,
// and growing as they are written (NoSpare). It reports the latency's p50
// and p99.
func BenchmarkSync(b *testing.B) {
	for _, mode := range []struct {
		name    string
		noSpare bool
		zeros   bool
	}{{"prealloc", false, false}, {"zeros", false, true}, {"append", true, false}} {
		b.Run(mode.name, func(b *testing.B) {
			if mode.zeros {
				orig := fallocate
				fallocate = func(*os.File, int64) error { return errors.ErrUnsupported }
				defer func() { fallocate = orig }()
			}
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

// BenchmarkRotation appends groups of 100 records of 1,400 bytes, each
// synced, a millisecond apart (a busy ingest), across rotations of 32 MiB
// segments, and reports the time of the groups that rotated beside the
// others': with the MANIFEST written in the background (decision 106) and
// inline, before the new segment takes records, as before.
func BenchmarkRotation(b *testing.B) {
	for _, mode := range []struct {
		name   string
		inline bool
	}{{"background", false}, {"inline", true}} {
		b.Run(mode.name, func(b *testing.B) {
			w, err := Open(b.TempDir(), quietOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			w.manInline = mode.inline
			e := make([]Entry, 100)
			for i := range e {
				e[i] = Entry{Account: "123456789012", Region: "us-east-1", Raw: make([]byte, 1400)}
			}
			var norm, rot []time.Duration
			for b.Loop() {
				segs := len(w.man)
				t := time.Now()
				if _, err := w.Write(e); err != nil {
					b.Fatal(err)
				}
				if err := w.Sync(); err != nil {
					b.Fatal(err)
				}
				if d := time.Since(t); len(w.man) != segs {
					rot = append(rot, d)
				} else {
					norm = append(norm, d)
				}
				time.Sleep(time.Millisecond)
			}
			if len(rot) == 0 || len(norm) == 0 {
				return // too few groups for a rotation: run with -benchtime 3000x or more
			}
			slices.Sort(norm)
			slices.Sort(rot)
			b.ReportMetric(float64(norm[len(norm)/2].Microseconds()), "group-p50-µs")
			b.ReportMetric(float64(rot[len(rot)/2].Microseconds()), "rotation-p50-µs")
			b.ReportMetric(float64(rot[len(rot)-1].Microseconds()), "rotation-max-µs")
			b.ReportMetric(float64(len(rot)), "rotations")
		})
	}
}
