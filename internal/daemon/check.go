package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/store/index"
	"github.com/opentrail/opentrail/internal/store/wal"
)

// Report is what Check found in a data directory: Lines say what is there,
// Problems what makes serve refuse to start or loses data. Each problem
// says what to do.
type Report struct {
	Lines    []string
	Problems []string
}

func (r *Report) line(format string, a ...any) { r.Lines = append(r.Lines, fmt.Sprintf(format, a...)) }
func (r *Report) problem(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// followerState is a follower's durable state as fsck reads it.
type followerState struct {
	checkpoint uint64
	lines      []string
	problems   []string
	// mayStartOver is set when a checkpoint older than the WAL is not a
	// loss: the follower starts again at the newest event (trail
	// delivery with no trail logging).
	mayStartOver bool
}

// followerChecks checks each follower of the event log (datadir.Followers)
// in a stopped data directory without changing it, with the code the
// daemon opens it with.
var followerChecks = map[string]func(root string) followerState{
	datadir.HistoryFollower:  checkHistory,
	datadir.DeliveryFollower: checkDelivery,
	datadir.LakeFollower:     checkLake,
	datadir.InsightsFollower: checkInsights,
	datadir.EventBusFollower: checkEventBus,
	datadir.LogsFollower:     checkLogs,
}

// Check checks the data directory root of a stopped server without
// changing anything: every file serve relies on, read with the code serve
// reads it with. The caller holds the directory's lock.
func Check(root string) Report {
	var r Report
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		r.problem("%s is not an OpenTrail data directory (%v)", root, err)
		return r
	}
	if temps, err := datadir.Temps(root); err != nil {
		r.problem("%v", err)
	} else if len(temps) > 0 {
		r.line("%d temporary files of interrupted writes (the next start removes them): %s", len(temps), strings.Join(temps, ", "))
	}
	if s, _, err := datadir.ReadSettings(root); err != nil {
		r.problem("%v", err)
	} else if s.EventHistoryRetentionDays == 0 {
		r.line("settings: event history kept forever")
	} else {
		r.line("settings: event history kept %d days", s.EventHistoryRetentionDays)
	}
	if _, err := datadir.ReadTokenKey(root); err != nil {
		r.problem("%v", err)
	}
	accounts := -1
	if ids, err := identity.Open(root); err != nil {
		r.problem("%v; fix the file (the message names the member) or restore it", err)
	} else {
		accounts = len(ids.Accounts())
		r.line("accounts: %d", accounts)
	}

	checkCloudWatch(root, &r)
	checkDashboards(root, &r)
	checkGeneratedQueries(root, &r)
	sr := sns.Check(filepath.Join(root, datadir.SNSDir))
	r.line("sns: %d topics, %d subscriptions, %d deliveries queued", sr.Topics, sr.Subscriptions, sr.Pending)
	for _, p := range sr.Problems {
		r.problem("%s", p)
	}

	// The followers' checkpoints, then the WAL, which must still hold
	// everything after each of them.
	states := map[string]followerState{}
	for _, name := range datadir.Followers {
		states[name] = followerChecks[name](root)
	}
	after := map[string]int{} // WAL records after each checkpoint
	var invalid int
	var seen uint64
	for _, st := range states {
		seen = max(seen, st.checkpoint)
	}
	wr, err := wal.CheckSeen(filepath.Join(root, datadir.WALDir), seen, func(rec wal.Record) {
		for name, st := range states {
			if rec.Seq > st.checkpoint {
				after[name]++
			}
		}
		if _, err := event.Parse(rec.Raw); err != nil {
			if invalid++; invalid <= 5 {
				r.problem("WAL record %d is not a valid event: %v", rec.Seq, err)
			}
		}
	})
	if errors.Is(err, os.ErrNotExist) {
		r.line("WAL: none yet")
		wr = &wal.Report{}
	} else if err != nil {
		r.problem("%v", err)
		return r
	}
	if invalid > 5 {
		r.problem("%d more WAL records are not valid events", invalid-5)
	}
	for _, ce := range wr.Problems {
		if ce.Offset >= 0 {
			r.problem("WAL segment %s is damaged at offset %d: %v", ce.Segment, ce.Offset, ce.Err)
		} else {
			r.problem("WAL segment %s: %v", ce.Segment, ce.Err)
		}
	}
	if len(wr.Problems) > 0 {
		r.problem("the server refuses to start until the WAL is repaired: `opentrail fsck --repair --data-dir %s` keeps every readable record and sets the damage aside", root)
	}
	for _, f := range wr.Fixes {
		r.line("WAL: on start the server will %s", f)
	}
	for _, g := range wr.Gaps {
		r.line("WAL: %s (gap record in %s)", g, g.Segment)
	}
	for _, n := range wr.Notes {
		r.line("WAL: note: %s", n)
	}
	last := uint64(0)
	if wr.Next > 0 {
		last = wr.Next - 1
	}
	if accounts == 0 && last > 0 {
		r.problem("%v", errNoAccounts(root))
	}
	if wr.Records == 0 {
		r.line("WAL: no records (every follower has released everything)")
	} else {
		r.line("WAL: %d records, sequence %d to %d", wr.Records, wr.First, last)
	}
	for _, name := range datadir.Followers {
		st := states[name]
		r.Lines = append(r.Lines, st.lines...)
		r.Problems = append(r.Problems, st.problems...)
		if len(wr.Problems) > 0 || wr.Next == 0 {
			continue // the WAL's range is unknown
		}
		switch {
		case st.checkpoint > last:
			r.problem("%s is at %d, past the WAL's last record %d: the WAL lost records it had processed, or its state does not belong to this data directory; `opentrail fsck --repair` records the lost range", name, st.checkpoint, last)
		case st.checkpoint+1 < wr.First && st.checkpoint < last && !st.mayStartOver:
			r.problem("%s stops at %d but the WAL starts at %d: events %d to %d are lost to it", name, st.checkpoint, wr.First, st.checkpoint+1, wr.First-1)
		case st.checkpoint+1 < wr.First && st.checkpoint < last:
			r.line("%s: the next start begins at the newest event (nothing it would record was added meanwhile)", name)
		default:
			r.line("%s: the next start reads back %d WAL records", name, after[name])
		}
	}
	return r
}

// Seen returns the highest sequence number any follower of the event log
// in the stopped data directory root has processed durably (for a WAL
// repair, which must never hand those out again, and for opening the WAL,
// which must not cut them as a torn tail). It reads only checkpoints.
func Seen(root string) uint64 {
	var seen uint64
	for _, name := range datadir.Followers {
		seen = max(seen, followerCheckpoints[name](root))
	}
	return seen
}

// followerCheckpoints reads each follower's durable checkpoint, cheaply.
var followerCheckpoints = map[string]func(root string) uint64{
	datadir.HistoryFollower: func(root string) uint64 {
		o := index.DefaultOptions()
		o.ReadOnly = true
		ix, err := index.Open(filepath.Join(root, datadir.IndexDir), o)
		if err != nil {
			return 0
		}
		defer ix.Close()
		return ix.Checkpoint()
	},
	datadir.DeliveryFollower: func(root string) uint64 {
		return delivery.Check(filepath.Join(root, datadir.DeliveryDir)).Checkpoint
	},
	datadir.LakeFollower:     lakeCheckpoint,
	datadir.InsightsFollower: insightsCheckpoint,
	datadir.EventBusFollower: eventBusCheckpoint,
	datadir.LogsFollower:     logsCheckpoint,
}

// checkHistory reads event history's index without changing it.
func checkHistory(root string) followerState {
	var st followerState
	o := index.DefaultOptions()
	o.ReadOnly = true
	ix, err := index.Open(filepath.Join(root, datadir.IndexDir), o)
	if err != nil {
		st.problems = append(st.problems, fmt.Sprintf("event history: the index does not open: %v", err))
		return st
	}
	defer ix.Close()
	st.checkpoint = ix.Checkpoint()
	vr := ix.Verify()
	st.lines = append(st.lines, fmt.Sprintf("history: checkpoint %d, %d segments, %d events", st.checkpoint, vr.Segments, vr.Events))
	for _, l := range vr.Leftovers {
		st.lines = append(st.lines, "history: "+l)
	}
	st.problems = append(st.problems, vr.Problems...)
	return st
}

// checkDelivery reads the trail catalogue, the signing keys and trail
// delivery's state without changing them.
func checkDelivery(root string) followerState {
	var st followerState
	logging, trails := 0, 0
	var c *catalog.Catalog
	if _, err := os.Stat(filepath.Join(root, datadir.TrailsDir)); err == nil {
		if c, err = catalog.Open(filepath.Join(root, datadir.TrailsDir), catalog.DefaultOptions()); err != nil {
			st.problems = append(st.problems, err.Error())
		}
	}
	if c != nil {
		st.problems = append(st.problems, c.Problems()...)
		for _, t := range c.All() {
			trails++
			if t.Logging {
				logging++
			}
		}
	}
	if _, err := keyring.Open(filepath.Join(root, datadir.KeysDir), keyring.DefaultOptions()); err != nil {
		st.problems = append(st.problems, err.Error())
	}
	d := delivery.Check(filepath.Join(root, datadir.DeliveryDir))
	st.checkpoint = d.Checkpoint
	// Without a state yet, delivery starts at the newest event; with no
	// trail logging, it may start over there too.
	_, serr := os.Stat(filepath.Join(root, datadir.DeliveryDir, "state.json"))
	st.mayStartOver = logging == 0 || serr != nil
	st.problems = append(st.problems, d.Problems...)
	st.lines = append(st.lines, fmt.Sprintf("trails: %d (%d logging); delivery: checkpoint %d, %d files staged, %d digest chains, %d notifications waiting",
		trails, logging, d.Checkpoint, d.Staged, d.Chains, d.Notes))
	return st
}

// RepairIndex rebuilds event history's index MANIFEST from the segments
// when the index does not open because the MANIFEST is missing, damaged
// or does not account for the files (index.ManifestError); for `opentrail
// fsck --repair`, with the server stopped. It returns nil and no error
// when the index needed nothing. It deletes nothing (index.RebuildWith).
func RepairIndex(root string) (*index.RebuildReport, error) {
	dir := filepath.Join(root, datadir.IndexDir)
	o := index.DefaultOptions()
	o.ReadOnly = true
	ix, err := index.Open(dir, o)
	if err == nil {
		ix.Close()
		return nil, nil
	}
	if !errors.As(err, new(*index.ManifestError)) {
		return nil, err
	}
	var first uint64
	if wr, err := wal.Check(filepath.Join(root, datadir.WALDir), nil); err == nil && len(wr.Problems) == 0 {
		first = wr.First
	}
	rep, err := index.RebuildWith(dir, index.RebuildOptions{Logger: slog.New(slog.DiscardHandler), LogFirst: first})
	if err != nil {
		return nil, err
	}
	return &rep, nil
}
