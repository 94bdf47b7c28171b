package importer

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRenderBar(t *testing.T) {
	tests := []struct {
		f     float64
		width int
		want  string
	}{
		{0, 10, ">         "},
		{0.45, 10, "====>     "},
		{0.99, 10, "=========>"},
		{1, 10, "=========="},
		{1.5, 4, "===="},
	}
	for _, tt := range tests {
		if got := renderBar(tt.f, tt.width); got != tt.want {
			t.Errorf("renderBar(%v, %d) = %q, want %q", tt.f, tt.width, got, tt.want)
		}
	}
}

func TestClock(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                 "0:00",
		12 * time.Second:  "0:12",
		754 * time.Second: "12:34",
		time.Hour + 2*time.Minute + 5*time.Second: "1:02:05",
	} {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, 1000, 10, start)
	if p.tty {
		t.Fatal("a bytes.Buffer is not a terminal")
	}
	p.update(start.Add(1*time.Second), counts{bytes: 0, files: 0, events: 0})
	p.update(start.Add(2*time.Second), counts{bytes: 450, files: 4, events: 1234567}) // too soon
	p.update(start.Add(3*time.Second), counts{bytes: 450, files: 4, events: 1234567})
	p.finish(start.Add(4*time.Second), counts{bytes: 1000, files: 10, events: 2000000})
	want := []string{
		"import:   0%  0/10 files  0 events  0 ev/s  ETA --:--",
		"import:  45%  4/10 files  1,234,567 events  411,522 ev/s  ETA 0:04",
		"import: 100%  10/10 files  2,000,000 events  500,000 ev/s  ETA 0:00",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, 2000, 55, start)
	p.tty, p.interval, p.width = true, ttyInterval, 100 // pretend
	p.update(start.Add(10*time.Second), counts{bytes: 900, files: 12, events: 456780})
	p.update(start.Add(10*time.Second+100*time.Millisecond), counts{bytes: 901, files: 12, events: 456781}) // too soon
	p.finish(start.Add(20*time.Second), counts{bytes: 2000, files: 55, events: 1000000})
	want := "\r[=============>                ]  45%  12/55 files  456,780 events  45,678 ev/s  ETA 0:12\x1b[K" +
		"\r[==============================] 100%  55/55 files  1,000,000 events  50,000 ev/s  ETA 0:00\x1b[K\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	// A narrow terminal gets a shorter bar, then none.
	p.width = 80
	if line := p.barLine(counts{bytes: 900, files: 12, events: 456780}, 10*time.Second); len(line) > 79 || !strings.HasPrefix(line, "[====") {
		t.Errorf("barLine at width 80 = %q (%d columns)", line, len(line))
	}
	p.width = 40
	if line := p.barLine(counts{bytes: 900, files: 12, events: 456780}, 10*time.Second); strings.Contains(line, "[") {
		t.Errorf("barLine at width 40 = %q, want no bar", line)
	}
}
