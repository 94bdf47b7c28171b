package lake

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// quarantineDir is the directory under the lake's where damaged and
// unaccounted-for files and directories are set aside.
const quarantineDir = "quarantine"

// RepairAction is one thing [Repair] (or the server, at start or in its
// scrub) did to a store.
type RepairAction struct {
	Store string // the store's id
	// Path is the file acted on, under the store's directory, or the
	// store's whole directory (absolute) when the catalogue did not know
	// it.
	Path string
	// What says what was wrong, or what was done to a file that was not
	// listed.
	What string
	// Quarantine is where Path was moved ("" when it was not moved).
	Quarantine string
	// Lost is the MANIFEST entry of a listed file that was unlisted (nil
	// for an action that lost no listed file): its events are no longer
	// in the store.
	Lost *File
	// Rebuilt counts the events of Lost that files rebuilt from the event
	// log hold again (the server's scrub; fsck --repair rebuilds nothing).
	Rebuilt int64
}

// String says what was done, for `opentrail fsck --repair`.
func (a RepairAction) String() string {
	if a.Lost == nil {
		if a.Quarantine != "" {
			return fmt.Sprintf("event data store %s: %s: %s; moved to %s", a.Store, a.Path, a.What, a.Quarantine)
		}
		return fmt.Sprintf("event data store %s: %s: %s", a.Store, a.Path, a.What)
	}
	f := a.Lost
	did := "unlisted from its MANIFEST (its eventid filter, derived from it, deleted)"
	if a.Quarantine != "" {
		did = "moved with its eventid filter to " + a.Quarantine + " and unlisted from its MANIFEST"
	}
	seq := fmt.Sprintf("log sequence %d to %d", f.MinSeq, f.MaxSeq)
	if f.MinSeq == 0 && f.MaxSeq == 0 {
		seq = "imported, no log sequence numbers"
	}
	return fmt.Sprintf("event data store %s: %s (%s): %s; its %d events are lost from the store (%s, eventtime %s to %s)",
		a.Store, f.Name, a.What, did, f.Rows, seq, f.MinTime.UTC().Format(time.RFC3339), f.MaxTime.UTC().Format(time.RFC3339))
}

// RepairReport is what [Repair] did and what it left.
type RepairReport struct {
	Actions []RepairAction
	// Refused are the problems Repair does not repair, each saying what
	// to do: the server keeps refusing to start on them.
	Refused []string
}

// Repair repairs the lake in dir (DATA-DIR/lake) of a stopped server so
// that it opens, for `opentrail fsck --repair`; stores is the whole
// catalogue. It moves every store directory the catalogue does not know
// to quarantine/ACCOUNT/STORE-ID/; in each store, it unlists a listed file
// that is missing, moves one with the wrong size or SHA-256 to quarantine
// and unlists it (as the server's scrub does), and then moves every file
// the MANIFEST does not list to quarantine. It deletes nothing but the
// temporary files of interrupted MANIFEST writes and eventid filters,
// which are derived data: not even an unlisted file that the server would
// delete at start as a leftover, since a damaged MANIFEST (a file name
// changed) may be what unlisted it.
//
// A store whose MANIFEST is missing over existing files, or does not
// parse, is left as it is and reported in Refused: nothing says which of
// its files made up the store. The caller must make sure stores is the
// real catalogue (not one lost or unreadable), or every store would be
// moved away.
func Repair(dir string, stores []StoreSpec) (RepairReport, error) {
	var r RepairReport
	log := slog.New(slog.DiscardHandler) // every action is returned
	quarantine := filepath.Join(dir, quarantineDir)
	for _, u := range UnknownStores(dir, stores) {
		rel, err := filepath.Rel(dir, u)
		if err != nil {
			return r, fmt.Errorf("lake: repair: %w", err)
		}
		dst, err := setAside(u, filepath.Join(quarantine, rel))
		if err != nil {
			return r, fmt.Errorf("lake: repair: %w", err)
		}
		r.Actions = append(r.Actions, RepairAction{Store: filepath.Base(u), Path: u, Quarantine: dst,
			What: "the catalogue (trails/eventdatastores.json) does not know this store directory (to keep the store, restore the catalogue from a backup and move the directory back)"})
	}
	for _, spec := range stores {
		s, err := readStoreFiles(filepath.Join(dir, spec.Account, spec.ID), spec.ID, spec.Account, log)
		if errors.Is(err, ErrDamaged) {
			r.Refused = append(r.Refused, err.Error())
			continue
		}
		if err != nil {
			return r, fmt.Errorf("lake: repair: %w", err)
		}
		if s.man.Version == 0 {
			continue // never written to
		}
		acts, err := s.unlistDamaged(quarantine, nil)
		r.Actions = append(r.Actions, acts...)
		if err != nil {
			return r, fmt.Errorf("lake: repair: event data store %s: %w", spec.ID, err)
		}
		acts, err = s.settle(quarantine, true)
		r.Actions = append(r.Actions, acts...)
		if err != nil {
			return r, fmt.Errorf("lake: repair: event data store %s: %w", spec.ID, err)
		}
	}
	return r, nil
}
