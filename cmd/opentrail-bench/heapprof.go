package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// watchHeap samples the live heap every 100 ms and writes a heap profile
// to path each time it reaches a new peak (at least 5% above the last one
// written), so the file ends up showing what the heap held at its
// largest. It returns a function that stops the sampling (writing the
// profile then if it never did) and reports the peak on w.
func watchHeap(path string, w io.Writer) (stop func()) {
	const name = "/gc/heap/live:bytes"
	s := []metrics.Sample{{Name: name}}
	done := make(chan struct{})
	finished := make(chan struct{})
	var peak, written uint64
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(s)
			if s[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			v := s[0].Value.Uint64()
			peak = max(peak, v)
			if v < written+written/20 {
				continue
			}
			if err := writeHeapProfile(path); err != nil {
				fmt.Fprintln(w, "bench: heap profile:", err)
				return
			}
			written = v
		}
	}()
	return func() {
		close(done)
		<-finished
		if written == 0 { // a phase shorter than a sample
			if err := writeHeapProfile(path); err != nil {
				fmt.Fprintln(w, "bench: heap profile:", err)
			}
		}
		fmt.Fprintf(w, "bench: peak live heap %.0f MiB (profile at %.0f MiB in %s)\n", float64(peak)/(1<<20), float64(written)/(1<<20), path)
	}
}

func writeHeapProfile(path string) error {
	// The profile shows the heap as of the last completed GC cycle but
	// one: two cycles make it the current heap.
	runtime.GC()
	runtime.GC()
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
