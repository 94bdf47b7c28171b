package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store/fileutil"
	"github.com/opentrail/opentrail/internal/store/index"
	"github.com/opentrail/opentrail/internal/store/wal"
)

type fsckCmd struct{ stdout, stderr io.Writer }

func (*fsckCmd) Name() string    { return "fsck" }
func (*fsckCmd) Summary() string { return "check a data directory's event store without changing it" }

// errFsckProblems makes fsck exit non-zero after reporting problems.
var errFsckProblems = errors.New("fsck found problems (see above)")

func (c *fsckCmd) Run(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("fsck", flag.ContinueOnError)
	dataDir := fs.String("data-dir", config.DefaultDataDir, "data directory")
	repair := fs.Bool("repair", false, "repair a damaged WAL first, keeping every readable record, and say what was dropped")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: opentrail fsck [--data-dir DIR] [--repair]\n\nMakes the WAL check the server makes before it starts (the segment chain, a\ntorn tail, every record's framing, checksum and sequence number) and checks\nthat each record is a valid event; reads every index segment whole\n(checksums, order, counts) and compares the index's checkpoint with the WAL;\nchecks the trail catalogue, the signing keys and trail delivery's state.\nWithout --repair it changes nothing. Stop the server on DIR first.\n\nWith --repair it first repairs the WAL: every record that can still be read\nis kept under its own sequence number; damaged bytes are dropped, each run\nof lost records is recorded as a gap that readers skip, and every segment\nchanged is first copied to DIR/events/wal/quarantine/. It prints each\naction: segment, offsets, bytes dropped and the sequence numbers lost.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{cmd: "fsck", msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	lock, err := fileutil.LockDir(*dataDir)
	if err != nil {
		return fmt.Errorf("%w; stop the server first", err)
	}
	defer lock.Unlock()
	events := filepath.Join(*dataDir, datadir.EventsDir)
	if _, err := os.Stat(events); err != nil {
		return fmt.Errorf("no event store in %s: %w", *dataDir, err)
	}
	problems := 0
	report := func(format string, a ...any) {
		problems++
		fmt.Fprintf(c.stdout, "PROBLEM: "+format+"\n", a...)
	}

	walDir := filepath.Join(events, "wal")
	if *repair {
		if err := c.repairWAL(*dataDir, walDir); err != nil {
			return err
		}
	}

	// The WAL: the check start-up makes (so whatever makes it refuse is a
	// problem here), and every record a valid event.
	var first, last uint64
	var records, invalid int
	wr, err := wal.Check(walDir, func(rec wal.Record) {
		if first == 0 {
			first = rec.Seq
		}
		last = rec.Seq
		records++
		if _, err := event.Parse(rec.Raw); err != nil {
			invalid++
			if invalid <= 5 {
				report("WAL record %d is not a valid event: %v", rec.Seq, err)
			}
		}
	})
	if err != nil {
		return err
	}
	for _, ce := range wr.Problems {
		if ce.Offset >= 0 {
			report("WAL segment %s is damaged at offset %d: %v", ce.Segment, ce.Offset, ce.Err)
		} else {
			report("WAL segment %s: %v", ce.Segment, ce.Err)
		}
	}
	if len(wr.Problems) > 0 {
		fmt.Fprintf(c.stdout, "The server refuses to start until the WAL is repaired: `opentrail fsck --repair --data-dir %s` keeps every readable record and sets the damage aside.\n", *dataDir)
	}
	for _, f := range wr.Fixes {
		fmt.Fprintf(c.stdout, "WAL: on start the server will %s\n", f)
	}
	for _, g := range wr.Gaps {
		fmt.Fprintf(c.stdout, "WAL: %s (gap record in %s)\n", g, g.Segment)
	}
	for _, n := range wr.Notes {
		fmt.Fprintf(c.stdout, "WAL: note: %s\n", n)
	}
	if invalid > 5 {
		report("%d more WAL records are not valid events", invalid-5)
	}
	if records == 0 {
		fmt.Fprintln(c.stdout, "WAL: empty (everything has been applied to the index)")
	} else {
		fmt.Fprintf(c.stdout, "WAL: %d records, sequence %d to %d\n", records, first, last)
	}

	// The index: its checkpoint must lie within what the WAL can replay.
	ixo := index.DefaultOptions()
	ixo.ReadOnly = true
	ix, err := index.Open(filepath.Join(events, "index"), ixo)
	if err != nil {
		report("the index does not open: %v", err)
		return errFsckProblems
	}
	ck := ix.Checkpoint()
	vr := ix.Verify()
	ix.Close()
	fmt.Fprintf(c.stdout, "index: checkpoint %d, %d segments, %d events\n", ck, vr.Segments, vr.Events)
	for _, p := range vr.Problems {
		report("%s", p)
	}
	switch {
	case records > 0 && ck+1 < first:
		report("the index stops at %d but the WAL starts at %d: events %d to %d are in neither", ck, first, ck+1, first-1)
	case records > 0 && ck > last:
		report("the index is at %d, past the WAL's last record %d: the WAL lost records the index had applied", ck, last)
	case records > 0:
		fmt.Fprintf(c.stdout, "the next start replays %d WAL records into the index\n", last-ck)
	}
	// Trails: the catalogue, the signing keys and delivery's state.
	tr := daemon.CheckTrails(*dataDir)
	fmt.Fprintf(c.stdout, "trails: %d (%d logging); delivery: checkpoint %d, %d files staged, %d digest chains, %d notifications waiting\n",
		tr.Trails, tr.Logging, tr.Delivery.Checkpoint, tr.Delivery.Staged, tr.Delivery.Chains, tr.Delivery.Notes)
	for _, p := range tr.Problems {
		report("%s", p)
	}
	if records > 0 && tr.Delivery.Checkpoint > last {
		report("trail delivery is at %d, past the WAL's last record %d: the delivery state does not belong to this event store", tr.Delivery.Checkpoint, last)
	}
	if problems > 0 {
		return errFsckProblems
	}
	fmt.Fprintln(c.stdout, "OK")
	return nil
}

// repairWAL runs wal.Repair, telling it the highest sequence number the
// index and trail delivery have seen, and prints what it did.
func (c *fsckCmd) repairWAL(dataDir, walDir string) error {
	seen := daemon.CheckTrails(dataDir).Delivery.Checkpoint
	ixo := index.DefaultOptions()
	ixo.ReadOnly = true
	if ix, err := index.Open(filepath.Join(filepath.Dir(walDir), "index"), ixo); err == nil {
		seen = max(seen, ix.Checkpoint())
		ix.Close()
	}
	// Every action is printed below; the log would say it twice.
	res, err := wal.Repair(walDir, wal.RepairOptions{Seen: seen, Logger: slog.New(slog.DiscardHandler)})
	if res != nil {
		for _, a := range res.Actions {
			line := a.What
			if a.Segment != "" {
				line = a.Segment + ": " + line
			}
			if a.Quarantine != "" {
				line += "; the original is kept in " + a.Quarantine
			}
			fmt.Fprintf(c.stdout, "REPAIRED: %s\n", line)
		}
		if len(res.Actions) == 0 && err == nil {
			fmt.Fprintln(c.stdout, "WAL: nothing to repair")
		}
	}
	if err != nil {
		return fmt.Errorf("fsck --repair: %w", err)
	}
	return nil
}
