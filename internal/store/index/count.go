package index

import (
	"fmt"
	"math"
)

// Count returns how many events the index holds that no sweep deleted, of
// every kind, among the events it has applied (see Checkpoint): events in a
// quarantined segment are not counted.
func (ix *Index) Count() (int, error) { return ix.CountBefore(math.MaxInt64) }

// CountBefore is Count for the events whose time is before cutoff (Unix
// seconds): how many a Sweep(cutoff) would delete now. It reads the
// partition tables of the segments, and scans only the partitions a sweep
// or the cutoff cuts through.
func (ix *Index) CountBefore(cutoff int64) (n int, err error) {
	err = ix.retryCorrupt(func() error {
		n, err = ix.countBefore(cutoff)
		return err
	})
	return n, err
}

func (ix *Index) countBefore(cutoff int64) (int, error) {
	ix.mu.RLock()
	sw := ix.sweeps
	v := ix.viewLocked()
	n := 0
	for _, m := range v.mems {
		n += m.countVisible(sw, cutoff)
	}
	ix.mu.RUnlock()
	defer v.release()
	for _, sg := range v.segs {
		c, err := sg.countVisible(sw, cutoff)
		if err != nil {
			return 0, fmt.Errorf("index count: %w", err)
		}
		n += c
	}
	return n, nil
}

// countVisible counts the memtable's events before cutoff that no sweep
// of sw deleted; the caller holds the index's mu.
func (m *memtable) countVisible(sw sweeps, cutoff int64) int {
	f := m.filter(sw, noCut)
	n := 0
	for _, r := range m.recs {
		if r.t < cutoff && f.visible(pos{r.t, r.seq}) {
			n++
		}
	}
	return n
}

// countVisible counts the segment's events before cutoff that no sweep of
// sw deleted. A partition whose time range lies wholly on one side of the
// cutoff and of the sweeps is counted from the partition table; the others
// are read.
func (sg *segment) countVisible(sw sweeps, cutoff int64) (int, error) {
	f := newFilter(sw, noCut, sg.first, sg.last)
	n := 0
	for _, p := range sg.parts {
		switch {
		case p.max < f.lo || p.min >= cutoff:
			continue // all deleted, or none before the cutoff
		case p.min >= f.check && p.max < cutoff:
			n += int(p.events) // none deleted, all before the cutoff
			continue
		}
		if err := sg.partEvents(p, func(x pos) bool {
			if x.t < cutoff && f.visible(x) {
				n++
			}
			return true
		}); err != nil {
			return 0, err
		}
	}
	return n, nil
}
