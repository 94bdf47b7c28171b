package index

import (
	"fmt"
	"time"
)

// VerifyResult is what Verify found.
type VerifyResult struct {
	Segments int
	Events   int      // events in the segments (before sweeps)
	Problems []string // empty when everything checked out
	// Leftovers are what a crash left that the next start deletes
	// (read-only mode): the temporary files of interrupted writes, and
	// unlisted segments provably redundant (docs/format/index.md, "Files
	// that MANIFEST does not list"). They are not problems.
	Leftovers []string
	// Quarantined lists the quarantined segments; those without RebuiltAs
	// are also reported in Problems, with what to do.
	Quarantined []QuarantinedSegment
	// Missing counts the events of quarantined segments not rebuilt (as
	// their footers counted them).
	Missing int
}

// Verify reads every segment whole: each record block (zstd checksum and
// framing), each posting list (checksums, order, every entry's record
// inside the segment's range), and the eventID table (order, count, group
// checksums). In read-only mode it also reports what Open found: damaged
// segments and unlisted files it would refuse as problems, the leftovers
// of a crash it would delete as Leftovers. Quarantined segments whose
// events are missing are problems too. It changes nothing.
func (ix *Index) Verify() VerifyResult {
	ix.mu.RLock()
	v := ix.viewLocked()
	ix.mu.RUnlock()
	defer v.release()
	var res VerifyResult
	res.Problems = append(res.Problems, ix.problems...)
	res.Leftovers = append(res.Leftovers, ix.leftovers...)
	for i := len(v.segs) - 1; i >= 0; i-- {
		sg := v.segs[i]
		res.Segments++
		res.Events += sg.events
		if err := sg.verify(nil); err != nil {
			what := "the server moves it to quarantine/ when a lookup or its background check reads the damage"
			if ix.opts.ReadOnly {
				what = "the next start's background check moves it to quarantine/"
			}
			res.Problems = append(res.Problems, fmt.Sprintf("%v (%s, and its events %d..%d go missing from event history unless the WAL still holds them)", err, what, sg.first, sg.last))
		}
	}
	res.Quarantined = ix.Quarantined()
	for _, q := range res.Quarantined {
		if !q.missing() {
			continue
		}
		res.Missing += q.Events
		res.Problems = append(res.Problems, fmt.Sprintf("segment %s was quarantined (quarantine/%s) on %s because %s: %s", quarantineBase(q.File), q.File, q.Time.Format(time.RFC3339), q.Reason, missingText(q)))
	}
	return res
}

// verify reads the segment whole, bypassing the block cache. With a
// pacer (the background scrub) it works in slices and rests between them,
// and gives up with errStopped when the pacer's stop is closed; nil reads
// at full speed (fsck, Verify, Open's checks).
func (sg *segment) verify(pc *pacer) error {
	records := 0
	stopped := func() bool { return !pc.rest() }
	var prevFirst uint64
	err := sg.eachBlock(func(i int, b blockRef, _ uint64) error {
		if i > 0 && b.first <= prevFirst {
			return sg.corrupt("record blocks out of order at %d", i)
		}
		prevFirst = b.first
		if stopped() {
			return errStopped
		}
		data, err := sg.decodeRecords(b, nil)
		if err != nil {
			return err
		}
		if !forEachRecord(data, b.first, func(uint64, []byte) bool { records++; return true }) {
			return sg.corrupt("malformed record block %d", i)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w := &window{sg: sg}
	it := &dirIter{sg: sg}
	var prev []byte
	lit := &listIter{sg: sg}
	events := 0
	for it.next() {
		if stopped() {
			return errStopped
		}
		if prev != nil && string(it.cur.key) <= string(prev) {
			return sg.corrupt("directory keys out of order at %q", it.cur.key)
		}
		prev = append(prev[:0], it.cur.key...)
		if err := lit.reset(w, it.cur); err != nil {
			return err
		}
		n := 0
		var last pos
		for p, ok := lit.next(); ok; p, ok = lit.next() {
			if p.s < sg.first || p.s > sg.last {
				return sg.corrupt("posting %q names seq %d outside the segment", it.cur.key, p.s)
			}
			if n > 0 && !p.less(last) {
				return sg.corrupt("posting %q out of order", it.cur.key)
			}
			last = p
			n++
		}
		if lit.err != nil {
			return lit.err
		}
		if k, err := parseKey(it.cur.key); err != nil {
			return sg.corrupt("%v", err)
		} else if k.attr == 0 {
			events += n
		}
	}
	if it.err != nil {
		return it.err
	}
	if events != sg.events {
		return sg.corrupt("footer says %d events, posting lists hold %d", sg.events, events)
	}
	ids := sg.idIterator()
	var lastH, lastS uint64
	n := 0
	for ids.next() {
		if n > 0 && (ids.h < lastH || (ids.h == lastH && ids.seq <= lastS)) {
			return sg.corrupt("eventID table out of order at entry %d", n)
		}
		lastH, lastS = ids.h, ids.seq
		n++
	}
	if ids.err != nil {
		return ids.err
	}
	if n != sg.idCount || records < n {
		return sg.corrupt("eventID table has %d entries for %d records", n, records)
	}
	return nil
}

// pacer paces a background pass over segments so that it takes at most
// share of one core: after each slice of work (pacerSlice) it sleeps
// long enough that work/(work+sleep) = share. Lookups share the two
// cores with it, and a scrub at full speed (it decompresses a whole
// segment, 13 s of CPU for 10M events) showed in their tail latency.
type pacer struct {
	stop  <-chan struct{}
	share float64
	start time.Time // of the current slice of work; zero before the first
}

// pacerSlice is short: a lookup that comes during a slice finds one of
// the two cores taken (slices of 5 ms showed in the idle p99 at 10M).
const pacerSlice = time.Millisecond

// rest ends a slice of work when it is long enough by sleeping; it reports
// false once stop is closed. A nil pacer never rests or stops.
func (pc *pacer) rest() bool {
	if pc == nil {
		return true
	}
	select {
	case <-pc.stop:
		return false
	default:
	}
	now := time.Now()
	if pc.start.IsZero() {
		pc.start = now
		return true
	}
	work := now.Sub(pc.start)
	if work < pacerSlice {
		return true
	}
	t := time.NewTimer(time.Duration(float64(work) * (1 - pc.share) / pc.share))
	defer t.Stop()
	select {
	case <-pc.stop:
		return false
	case <-t.C:
	}
	pc.start = time.Now()
	return true
}
