package index

import "fmt"

// VerifyResult is what Verify found.
type VerifyResult struct {
	Segments int
	Events   int      // events in the segments
	Problems []string // empty when everything checked out
}

// Verify reads every segment whole: each record block (zstd checksum and
// framing), each posting list (checksums, order, every entry's record
// inside the segment's range), and the eventID table (order, count). Files
// a crash left behind are reported too. It changes nothing.
func (ix *Index) Verify() VerifyResult {
	ix.mu.RLock()
	v := ix.viewLocked()
	ix.mu.RUnlock()
	defer v.release()
	var res VerifyResult
	for _, n := range ix.orphans {
		res.Problems = append(res.Problems, fmt.Sprintf("%s is not listed in MANIFEST: a leftover of an interrupted flush or merge, deleted on the next start", n))
	}
	for i := len(v.segs) - 1; i >= 0; i-- {
		sg := v.segs[i]
		res.Segments++
		res.Events += sg.events
		if err := sg.verify(); err != nil {
			res.Problems = append(res.Problems, err.Error())
		}
	}
	return res
}

func (sg *segment) verify() error {
	records := 0
	for i, b := range sg.blocks {
		if i > 0 && b.first <= sg.blocks[i-1].first {
			return sg.corrupt("record blocks out of order at %d", i)
		}
		data, err := sg.block(false, i)
		if err != nil {
			return err
		}
		if !forEachRecord(data, b.first, func(uint64, []byte) bool { records++; return true }) {
			return sg.corrupt("malformed record block %d", i)
		}
	}
	w := &window{sg: sg}
	it := &dirIter{sg: sg}
	var prev []byte
	var all []pos
	events := 0
	for it.next() {
		if prev != nil && string(it.cur.key) <= string(prev) {
			return sg.corrupt("directory keys out of order at %q", it.cur.key)
		}
		prev = append(prev[:0], it.cur.key...)
		var err error
		if all, err = sg.all(w, it.cur, all[:0]); err != nil {
			return err
		}
		for j, p := range all {
			if p.s < sg.first || p.s > sg.last {
				return sg.corrupt("posting %q names seq %d outside the segment", it.cur.key, p.s)
			}
			if j > 0 && !p.less(all[j-1]) {
				return sg.corrupt("posting %q out of order", it.cur.key)
			}
		}
		if k, err := parseKey(it.cur.key); err != nil {
			return sg.corrupt("%v", err)
		} else if k.attr == 0 {
			events += len(all)
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
