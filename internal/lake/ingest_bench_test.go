package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/logfile"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

// memLog is a Log of parsed events held in memory, as the event log's
// tail serves them to a follower that keeps up.
type memLog struct {
	mu   sync.Mutex
	ents []store.Entry
	next int
}

func (l *memLog) Read(limit int) ([]store.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(limit, len(l.ents)-l.next)
	out := l.ents[l.next : l.next+n]
	l.next += n
	return out, nil
}

func (l *memLog) Position() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(l.next)
}

func (l *memLog) Progress() <-chan struct{} { return make(chan struct{}) }
func (l *memLog) Release(uint64)            {}

// oneStore is a catalogue of one store that ingests everything.
type oneStore struct{ spec StoreSpec }

func (o oneStore) DataStores() []StoreSpec { return []StoreSpec{o.spec} }
func (o oneStore) Purge(string) error      { return nil }

// benchEvents returns n real events (the invictus logs of their main
// account, repeated) with fresh event ids, spread over one day in order.
func benchEvents(b *testing.B, n int) []store.Entry {
	dir := filepath.Join(testenv.CloudTrailData(b), "invictus-ir-aws-dataset")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no test logs in %s: %v", dir, err)
	}
	var raws [][]byte
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		dec, err := logfile.NewDecoder(f)
		if err != nil {
			b.Fatal(err)
		}
		for {
			rec, err := dec.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if ev, err := event.Parse(rec.Raw); err == nil && ev.EventID != "" && ev.Account == benchAccount {
				raws = append(raws, ev.Raw)
			}
		}
		f.Close()
	}
	day := time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC)
	out := make([]store.Entry, n)
	for i := range out {
		ev, _ := event.Parse(raws[i%len(raws)])
		s := string(ev.Raw)
		s = strings.Replace(s, `"eventID":"`+ev.EventID+`"`, fmt.Sprintf(`"eventID":"%08x-0000-4000-8000-%012x"`, i, i), 1)
		if ev.EventTime.IsZero() {
			b.Fatal("an event without eventTime")
		}
		s = strings.Replace(s, `"eventTime":"`+event.FormatTime(ev.EventTime)+`"`, `"eventTime":"`+event.FormatTime(day.Add(time.Duration(i)*24*time.Hour/time.Duration(n)))+`"`, 1)
		p, err := event.Parse([]byte(s))
		if err != nil {
			b.Fatal(err)
		}
		out[i] = store.Entry{Seq: uint64(i + 1), Event: &p}
	}
	return out
}

// benchAccount is the account of most invictus events.
const benchAccount = "123837392027"

// BenchmarkIngest measures the Lake follower alone: events already parsed
// in memory (as a follower that keeps up reads them) until every one is in
// a committed Parquet file of a store that takes them all, maintenance
// (compaction) running beside it as in a server. It reports events per
// second and the process's CPU time per event.
func BenchmarkIngest(b *testing.B) {
	const n = 500_000
	ents := benchEvents(b, n)
	b.ResetTimer()
	var cpu time.Duration
	for b.Loop() {
		dir := b.TempDir()
		o := DefaultOptions()
		o.Stores = oneStore{StoreSpec{ID: "0b3f0000-0000-4000-8000-00000000000b", Account: benchAccount, HomeRegion: "us-east-1", MultiRegion: true, Ingest: []Range{{From: 1}}, Generation: 1}}
		o.Logger = slog.New(slog.DiscardHandler)
		o.MaintainInterval = 5 * time.Second
		e, err := Open(context.Background(), dir, o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Init(0); err != nil {
			b.Fatal(err)
		}
		log := &memLog{ents: ents}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		c0 := cpuTime()
		go func() { done <- e.Run(ctx, log) }()
		stuck := time.Now().Add(10 * time.Minute) // a hang, not a measure
		for {
			s, err := e.open(o.Stores.DataStores()[0])
			if err != nil {
				b.Fatal(err)
			}
			if s.checkpoint() >= n {
				break
			}
			if time.Now().After(stuck) {
				b.Fatalf("the store's checkpoint is %d after 10 minutes, want %d", s.checkpoint(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cpu += cpuTime() - c0
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		e.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/event")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
