package importer

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress draws the import's progress: on a terminal one line redrawn in
// place,
//
//	[=========>          ] 45%  12/55 files  1,234,567 events  45,678 ev/s  ETA 0:12
//
// elsewhere a plain line at most every plainInterval, and a final line.
// Only the caller's goroutine touches it.
type progress struct {
	w        io.Writer
	tty      bool
	width    int   // terminal width, 0 if unknown
	total    int64 // bytes to read
	files    int   // files to read
	start    time.Time
	last     time.Time // last draw
	drawn    bool
	interval time.Duration
}

// Redraw intervals.
const (
	ttyInterval   = 200 * time.Millisecond
	plainInterval = 2 * time.Second
)

// counts is a snapshot of the import's counters.
type counts struct {
	bytes  int64
	files  int
	events int64
}

func newProgress(w io.Writer, totalBytes int64, files int, start time.Time) *progress {
	p := &progress{w: w, total: totalBytes, files: files, start: start, interval: plainInterval}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty, p.interval = true, ttyInterval
		if width, _, err := term.GetSize(int(f.Fd())); err == nil {
			p.width = width
		}
	}
	return p
}

// update draws c if the interval has passed since the last draw.
func (p *progress) update(now time.Time, c counts) {
	if p.drawn && now.Sub(p.last) < p.interval {
		return
	}
	p.draw(now, c)
}

// finish draws c one last time and ends the line.
func (p *progress) finish(now time.Time, c counts) {
	p.draw(now, c)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(now time.Time, c counts) {
	p.last, p.drawn = now, true
	elapsed := now.Sub(p.start)
	if p.tty {
		fmt.Fprint(p.w, "\r"+p.barLine(c, elapsed)+"\x1b[K")
		return
	}
	fmt.Fprintln(p.w, p.plainLine(c, elapsed))
}

// fraction is the share of bytes read, in [0, 1].
func (p *progress) fraction(c counts) float64 {
	if p.total <= 0 {
		if p.files == 0 {
			return 1
		}
		return min(1, float64(c.files)/float64(p.files))
	}
	return min(1, float64(c.bytes)/float64(p.total))
}

// stats renders the part after the bar or percentage.
func (p *progress) stats(c counts, elapsed time.Duration) string {
	f := p.fraction(c)
	s := fmt.Sprintf("%3d%%  %s/%s files  %s events", int(f*100), num(c.files), num(p.files), num(c.events))
	if secs := elapsed.Seconds(); secs > 0 {
		s += fmt.Sprintf("  %s ev/s", num(int64(float64(c.events)/secs)))
	}
	eta := "--:--"
	if f >= 1 {
		eta = clock(0)
	} else if f > 0 && elapsed > 0 {
		eta = clock(time.Duration(float64(elapsed) * (1 - f) / f))
	}
	return s + "  ETA " + eta
}

func (p *progress) barLine(c counts, elapsed time.Duration) string {
	stats := p.stats(c, elapsed)
	bar := 30
	if p.width > 0 {
		// "[" bar "] " stats, leaving the last column free.
		bar = min(bar, p.width-1-3-len(stats))
	}
	if bar < 5 {
		return stats
	}
	return "[" + renderBar(p.fraction(c), bar) + "] " + stats
}

func (p *progress) plainLine(c counts, elapsed time.Duration) string {
	return "import: " + p.stats(c, elapsed)
}

// renderBar draws a bar of width cells, full to fraction f: "=====>    ".
func renderBar(f float64, width int) string {
	full := int(f * float64(width))
	if full >= width {
		return strings.Repeat("=", width)
	}
	return strings.Repeat("=", full) + ">" + strings.Repeat(" ", width-full-1)
}

// clock formats d as m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Bar is the import progress display for other importers (the Lake's):
// the same bar on a terminal, plain lines elsewhere.
type Bar struct{ p *progress }

// NewBar starts a display for files files of totalBytes bytes.
func NewBar(w io.Writer, totalBytes int64, files int) *Bar {
	return &Bar{p: newProgress(w, totalBytes, files, time.Now())}
}

// Update shows the counts if the redraw interval has passed.
func (b *Bar) Update(bytes int64, files int, events int64) {
	b.p.update(time.Now(), counts{bytes: bytes, files: files, events: events})
}

// Finish draws the final counts.
func (b *Bar) Finish(bytes int64, files int, events int64) {
	b.p.finish(time.Now(), counts{bytes: bytes, files: files, events: events})
}
