package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/store/fileutil"
	"github.com/opentrail/opentrail/internal/store/wal"
)

type fsckCmd struct{ stdout, stderr io.Writer }

func (*fsckCmd) Name() string    { return "fsck" }
func (*fsckCmd) Summary() string { return "check a data directory without changing it, or repair it" }

// errFsckProblems makes fsck exit non-zero after reporting problems.
var errFsckProblems = errors.New("fsck found problems (see above)")

func (c *fsckCmd) Run(_ context.Context, args []string) error {
	fs := newFlagSet("fsck", c.stdout)
	dataDir := fs.String("data-dir", config.DefaultDataDir, "data `directory`")
	repair := fs.Bool("repair", false, "repair first what can be repaired (the WAL, keeping every readable record; the index MANIFEST; Lake stores) and say what was dropped")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: opentrail fsck [--data-dir DIR] [--repair]\n\nMakes the WAL check the server makes before it starts (the segment chain, a\ntorn tail, every record's framing, checksum and sequence number) and checks\nthat each record is a valid event; reads every index segment whole\n(checksums, order, counts) and compares the index's checkpoint with the WAL;\nchecks the trail catalogue, the signing keys and trail delivery's state.\nWithout --repair it changes nothing. Stop the server on DIR first.\n\nWith --repair it first repairs the WAL: every record that can still be read\nis kept under its own sequence number; damaged bytes are dropped, each run\nof lost records is recorded as a gap that readers skip, and every segment\nchanged is first copied to DIR/events/wal/quarantine/. It prints each\naction: segment, offsets, bytes dropped and the sequence numbers lost.\nIt then rebuilds a missing or damaged index MANIFEST from the segments,\nand repairs CloudTrail Lake event data stores: a file a store's MANIFEST\nlists that is missing is unlisted; one with the wrong size or SHA-256 is\nmoved to DIR/lake/quarantine/STORE-ID/ and unlisted (for each, it prints\nthe store, the file, and the events, sequence and eventtime ranges lost);\na store directory the catalogue does not know is moved whole to\nDIR/lake/quarantine/ACCOUNT/STORE-ID/. A store whose MANIFEST is missing\nor does not parse is not repaired (nothing says which files made it up):\nrestore the MANIFEST from a backup, or move the store's directory away.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	dir, err := datadir.Lock(*dataDir)
	if err != nil {
		var le *fileutil.LockedError
		if errors.As(err, &le) {
			return fmt.Errorf("%w; stop the server first", err)
		}
		return err
	}
	defer dir.Close()
	if *repair {
		if err := c.repairWAL(*dataDir, filepath.Join(*dataDir, datadir.WALDir)); err != nil {
			return err
		}
		if err := c.repairIndex(*dataDir); err != nil {
			return err
		}
		if err := c.repairLake(*dataDir); err != nil {
			return err
		}
	}
	r := daemon.Check(*dataDir)
	for _, l := range r.Lines {
		fmt.Fprintln(c.stdout, l)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(c.stdout, "PROBLEM: %s\n", p)
	}
	if len(r.Problems) > 0 {
		return errFsckProblems
	}
	fmt.Fprintln(c.stdout, "OK")
	return nil
}

// repairWAL runs wal.Repair, telling it the highest sequence number the
// index and trail delivery have seen, and prints what it did.
func (c *fsckCmd) repairWAL(dataDir, walDir string) error {
	seen := daemon.Seen(dataDir)
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

// repairLake repairs the Lake's event data stores and prints what it did
// and what it could not repair.
func (c *fsckCmd) repairLake(dataDir string) error {
	rep, err := daemon.RepairLake(dataDir)
	for _, a := range rep.Actions {
		fmt.Fprintf(c.stdout, "REPAIRED: lake: %s\n", a)
	}
	for _, r := range rep.Refused {
		fmt.Fprintf(c.stdout, "NOT REPAIRED: lake: %s\n", r)
	}
	if err != nil {
		return fmt.Errorf("fsck --repair: %w", err)
	}
	if len(rep.Actions) == 0 && len(rep.Refused) == 0 {
		fmt.Fprintln(c.stdout, "lake: nothing to repair")
	}
	return nil
}

// repairIndex rebuilds a missing or damaged index MANIFEST from the
// segments and prints what it did.
func (c *fsckCmd) repairIndex(dataDir string) error {
	rep, err := daemon.RepairIndex(dataDir)
	if err != nil {
		return fmt.Errorf("fsck --repair: index: %w", err)
	}
	if rep == nil {
		fmt.Fprintln(c.stdout, "index: nothing to repair")
		return nil
	}
	w := c.stdout
	fmt.Fprintf(w, "REPAIRED: index MANIFEST rebuilt from %d segments, checkpoint %d\n", len(rep.Used), rep.Checkpoint)
	for _, u := range rep.Used {
		fmt.Fprintf(w, "REPAIRED: index: listed %s (sequence %d to %d, %d events)\n", u.File, u.First, u.Last, u.Events)
	}
	for _, s := range rep.Skipped {
		what := "not listed; the next start deletes it, the listed segments hold its events"
		if s.Quarantined {
			what = "moved to quarantine/"
		}
		fmt.Fprintf(w, "REPAIRED: index: %s (sequence %d to %d) %s: %s\n", s.File, s.First, s.Last, what, s.Reason)
	}
	for _, g := range rep.Gaps {
		fmt.Fprintf(w, "REPAIRED: index: no segment holds sequence %d to %d: those events are missing from event history unless the WAL still holds them\n", g.First, g.Last)
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(w, "REPAIRED: index: segment %s, which the old MANIFEST listed, is gone\n", m)
	}
	if !rep.Kept {
		fmt.Fprintln(w, "REPAIRED: index: the old MANIFEST was unreadable, so its retention sweeps are lost: the next sweep deletes expired events again (lookups hide them meanwhile)")
	}
	return nil
}
