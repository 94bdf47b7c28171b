package main

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/importer"
	"github.com/opentrail/opentrail/internal/insights"
	"github.com/opentrail/opentrail/internal/store"
)

// insightsCmd replays log files through the Insights detector offline.
type insightsCmd struct{ stdout, stderr io.Writer }

func (*insightsCmd) Name() string { return "insights" }
func (*insightsCmd) Summary() string {
	return "replay CloudTrail log files through the Insights detector and print the Insights it finds"
}

func (c *insightsCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("insights", c.stdout)
	def := insights.DefaultOptions()
	warmUp := fs.Duration("warm-up", def.WarmUp, "history an account and region needs before a Start (`duration`)")
	k := fs.Float64("k", def.K, "threshold: standard deviations above the baseline mean")
	ratio := fs.Float64("ratio", def.Ratio, "threshold: at least this many times the baseline mean")
	floor := fs.Float64("floor", def.Floor, "threshold: at least this many calls a minute")
	startMin := fs.Int("start-minutes", def.StartMinutes, "unusual `minutes` in a row that raise a Start")
	endMin := fs.Int("end-minutes", def.EndMinutes, "normal `minutes` in a row that raise the End")
	dropWindow := fs.Duration("drop-window", def.DropWindow, "drops (a job that stops): whole hours before the current one judged together; 0s turns drops off (`duration`)")
	dropRatio := fs.Float64("drop-ratio", def.DropRatio, "drops: the window's calls fall below their expected sum divided by this")
	dropK := fs.Float64("drop-k", def.DropK, "drops: and below the expected sum less this many standard deviations")
	dropMin := fs.Float64("drop-min", def.DropMin, "drops: judge only APIs expecting at least this many calls in the window")
	asJSON := fs.Bool("json", false, "print the Insights records as JSON Lines, as CloudTrail writes them")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: opentrail insights [flags] PATH...

Reads CloudTrail log files (as 'opentrail import' does: .json, .json.gz,
directory trees such as an AWSLogs/ download) and runs them through the
Insights detector with Insights on everywhere: what CloudTrail Insights
would have said about them. It prints one line per Insights event (Start
and End), or the records themselves with --json. It needs no data
directory and changes nothing. Logs should come in time order (a trail's
file names do); events more than an hour out of order are not counted.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &usageError{cmd: "insights", msg: "no PATH given: name the log files or directories to replay"}
	}
	var missing []error
	for _, p := range fs.Args() {
		if _, err := os.Stat(p); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", pe.Path, pe.Err)
			}
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("insights: %w", errors.Join(missing...))
	}
	o := def
	o.WarmUp, o.K, o.Ratio, o.Floor, o.StartMinutes, o.EndMinutes = *warmUp, *k, *ratio, *floor, *startMin, *endMin
	o.DropWindow, o.DropRatio, o.DropK, o.DropMin = *dropWindow, *dropRatio, *dropK, *dropMin
	r, err := insights.NewReplayer(o)
	if err != nil {
		return &usageError{cmd: "insights", msg: err.Error()}
	}
	log, _ := newLogger(c.stderr, "error")
	app := &replayAppender{r: r}
	sum, err := importer.Run(ctx, fs.Args(), importer.Options{Appender: app, Workers: 1, Logger: log})
	if err != nil && !errors.Is(err, importer.ErrFailedFiles) {
		return err
	}
	app.flush()
	recs, open := r.Finish()
	for _, rec := range recs {
		if *asJSON {
			fmt.Fprintf(c.stdout, "%s\n", rec.Raw)
			continue
		}
		fmt.Fprintln(c.stdout, describeInsight(rec))
	}
	fmt.Fprintf(c.stderr, "%d files, %d events read (%d rejected, %d duplicates, %d too far out of order); %d Insights events, %d anomalies still going on at the end of the logs\n",
		sum.Files, sum.Events, sum.Rejected, sum.Duplicates, r.Late(), len(recs), open)
	for _, f := range sum.Failed {
		fmt.Fprintf(c.stderr, "not read: %s: %s\n", f.Path, f.Reason)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errReported, err)
	}
	return nil
}

// describeInsight is one line for an Insights record.
func describeInsight(rec insights.Record) string {
	var r struct {
		EventTime      string
		InsightDetails struct {
			State, EventSource, EventName, InsightType, ErrorCode string
			InsightContext                                        struct {
				Statistics struct {
					Baseline, Insight struct{ Average float64 }
					InsightDuration   int
				}
			}
		}
	}
	json.Unmarshal(rec.Raw, &r)
	d := r.InsightDetails
	st := d.InsightContext.Statistics
	api := d.EventSource + " " + d.EventName
	if d.ErrorCode != "" {
		api += " " + d.ErrorCode
	}
	return fmt.Sprintf("%s  %-5s  %-19s  %s  %s/%s  baseline %.4g/min, insight %.4g/min over %d min",
		r.EventTime, d.State, d.InsightType, api, rec.Account, rec.Region, st.Baseline.Average, st.Insight.Average, st.InsightDuration)
}

// replayAppender feeds imported events to the detector instead of a
// store, skipping repeated eventIDs as an import would. The importer
// appends batches from two goroutines, so their order can swap; the
// appender holds back the newest replayReorder events and hands the
// detector the oldest first.
type replayAppender struct {
	r    *insights.Replayer
	mu   sync.Mutex
	seen map[[3]string]bool
	held eventHeap
}

// replayReorder is how many events the appender holds back: a few of the
// importer's batches (1,000 events each).
const replayReorder = 10_000

func (a *replayAppender) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[[3]string]bool{}
	}
	var res store.AppendResult
	for i := range evs {
		k := [3]string{evs[i].Account, evs[i].Region, evs[i].EventID}
		if a.seen[k] {
			res.Duplicates = append(res.Duplicates, i)
			continue
		}
		a.seen[k] = true
		ev := evs[i]
		heap.Push(&a.held, &ev)
		for a.held.Len() > replayReorder {
			a.r.Add(heap.Pop(&a.held).(*event.Event))
		}
		res.Appended++
	}
	return res, nil
}

// flush hands the detector what is held back.
func (a *replayAppender) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.held.Len() > 0 {
		a.r.Add(heap.Pop(&a.held).(*event.Event))
	}
}

// eventHeap orders events by eventTime, oldest first.
type eventHeap []*event.Event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].EventTime.Before(h[j].EventTime) }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(*event.Event)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
