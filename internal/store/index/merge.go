package index

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// errStopped ends a merge when the index closes.
var errStopped = errors.New("index closing")

func (ix *Index) nudgeMerge() {
	select {
	case ix.mergeCh <- struct{}{}:
	default:
	}
}

func (ix *Index) mergeLoop() {
	defer ix.wg.Done()
	tick := time.NewTicker(ix.opts.MergeIdle / 4)
	defer tick.Stop()
	for {
		select {
		case <-ix.stop:
			return
		case <-ix.mergeCh:
		case <-tick.C:
		}
		for {
			ix.mu.RLock()
			var run []*segment
			idle := time.Since(time.Unix(0, ix.lastFlush.Load())) >= ix.opts.MergeIdle
			if idle || len(ix.segs) > ix.opts.MaxSegments {
				run = pickRun(ix.segs, ix.holes)
			}
			for _, sg := range run {
				sg.acquire()
			}
			ix.mu.RUnlock()
			if run == nil {
				break
			}
			err := ix.merge(run)
			for _, sg := range run {
				sg.release()
			}
			if errors.Is(err, errStopped) {
				return
			}
			if err != nil {
				ix.log.Error("index: merge failed", "err", err)
				break
			}
			select {
			case <-ix.stop:
				return
			default:
			}
		}
	}
}

// pickRun chooses adjacent segments to merge (size-tiered): starting from
// the newest, a run grows while the next older segment is no larger than
// the run so far; it is merged once it has mergeMinRun segments. A run does
// not span a hole (a quarantined segment's range, to be rebuilt).
func pickRun(segs []*segment, holes []QuarantinedSegment) []*segment {
	j := len(segs) - 1
	if j < 0 {
		return nil
	}
	sum := segs[j].events
	for j > 0 {
		prev := segs[j-1].events
		if prev >= mergeMaxEvents || prev > sum || overlapsEntry(holes, segs[j-1].last+1, segs[j].first-1) {
			break
		}
		j--
		sum += prev
	}
	if len(segs)-j < mergeMinRun {
		return nil
	}
	return slices.Clone(segs[j:])
}

// merge writes the run's events, less those sweeps deleted, as one segment
// and swaps it in for the run. An input found damaged is quarantined and
// the merge given up.
// mergeWindows bounds the bytes of a merge's input windows.
const mergeWindows = 8 << 20

func (ix *Index) merge(run []*segment) error {
	ix.mu.RLock()
	sw := ix.sweeps
	ix.mu.RUnlock()
	num := ix.nextFile()
	path := filepath.Join(ix.dir, segName(num))
	wrote, err := ix.writeMerged(run, path, sw, run[0].first, run[len(run)-1].last)
	if errors.Is(err, errStopped) {
		return err
	}
	if err != nil {
		os.Remove(path + ".tmp")
		if ix.quarantineFor(err, false) {
			return nil
		}
		return fmt.Errorf("merge index segments: %w", err)
	}
	var out *segment
	if wrote {
		if out, err = openSegment(path, num, ix.cache, ix.codecs); err != nil {
			os.Remove(path)
			return err
		}
	}
	ix.manMu.Lock()
	defer ix.manMu.Unlock()
	// The run may have lost segments to a sweep meanwhile.
	ix.mu.RLock()
	at := slices.Index(ix.segs, run[0])
	ok := at >= 0 && at+len(run) <= len(ix.segs) && slices.Equal(ix.segs[at:at+len(run)], run)
	ix.mu.RUnlock()
	if !ok {
		if out != nil {
			out.release()
			os.Remove(path)
		}
		return nil
	}
	names := make([]string, 0, len(ix.man.Segments))
	for _, name := range ix.man.Segments {
		if name == segName(run[0].num) && out != nil {
			names = append(names, segName(num))
		}
		if !slices.ContainsFunc(run, func(sg *segment) bool { return segName(sg.num) == name }) {
			names = append(names, name)
		}
	}
	nm := ix.man
	nm.Segments = names
	if err := ix.writeManifest(nm); err != nil {
		if out != nil {
			out.release()
			os.Remove(path)
		}
		return err
	}
	ix.mu.Lock()
	segs := slices.Clone(ix.segs[:at])
	if out != nil {
		segs = append(segs, out)
	}
	ix.segs = append(segs, ix.segs[at+len(run):]...)
	ix.mu.Unlock()
	for _, sg := range run {
		ix.retire(sg)
	}
	return nil
}

// writeMerged writes the events of run (segments in sequence order) that
// no sweep of sw deleted as one segment with sequence range first..last.
// It reports false, writing nothing, when none are left. It streams: its
// memory does not grow with the segments' size beyond a bit per sequence
// number (when sweeps delete some events) and the chunk header tables of
// the posting lists it merges.
func (ix *Index) writeMerged(run []*segment, path string, sw sweeps, first, last uint64) (bool, error) {
	// Which events no sweep deleted: only needed if a sweep may have.
	filtering := false
	expected := 0
	for _, sg := range run {
		expected += sg.idCount
		f := newFilter(sw, noCut, sg.first, sg.last)
		for _, p := range sg.parts {
			if p.min < f.check {
				filtering = true
			}
		}
	}
	var live seqSet
	if filtering {
		live = newSeqSet(first, last)
		n := 0
		for _, sg := range run {
			f := newFilter(sw, noCut, sg.first, sg.last)
			for _, p := range sg.parts {
				err := sg.partEvents(p, func(x pos) bool {
					if f.visible(x) {
						live.add(x.s)
						n++
					}
					return true
				})
				if err != nil {
					return false, err
				}
			}
		}
		if n == 0 {
			return false, nil
		}
	}
	isLive := func(seq uint64) bool { return !filtering || live.has(seq) }
	all := newFilter(sw, noCut, first, last)
	ix.mu.RLock()
	rec := ix.rec
	ix.mu.RUnlock()
	w, err := newSegWriter(path, ix.enc, rec, first, expected)
	if err != nil {
		return false, err
	}
	fail := func(err error) (bool, error) {
		w.abort()
		return false, err
	}
	// Each input is read through a window: 1 MiB each, less once there
	// are more than eight, so that a full compaction of many segments
	// takes no more than a merge of eight.
	wins := make([]*window, len(run))
	for i, sg := range run {
		wins[i] = &window{sg: sg, size: min(1<<20, max(mergeWindows/len(run), 128<<10))}
	}
	// Record blocks, less those with no live record: copied as they are
	// from inputs with the current record dictionary, after a check of
	// their CRC-32C, and decoded (which checks their zstd checksum) and
	// compressed again with it from the others. The merge deletes its
	// inputs, so it must not carry damage over into a larger segment (the
	// damaged input is quarantined instead).
	var scratch, recomp []byte
	for si, sg := range run {
		err := sg.eachBlock(func(_ int, b blockRef, end uint64) error {
			if filtering && !live.any(b.first, end) {
				return nil
			}
			comp, err := wins[si].readAt(b.off, int(b.n))
			if err != nil {
				return err
			}
			if err := sg.checkBlock(b, comp); err != nil {
				return err
			}
			if sg.codec != rec || sg.version < 2 {
				if scratch, err = sg.codec.dec.DecodeAll(comp, scratch[:0]); err != nil {
					return sg.corrupt("block at %d: %v", b.off, err)
				}
				comp = w.recEnc.EncodeAll(scratch, recomp[:0])
				recomp = comp
			}
			w.addBlock(b.first, comp)
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	// Posting lists: a k-way merge of the directories by key, and of each
	// key's lists entry by entry.
	its := make([]*dirIter, len(run))
	ok := make([]bool, len(run))
	lits := make([]*listIter, len(run))
	for i, sg := range run {
		its[i] = &dirIter{sg: sg}
		lits[i] = &listIter{sg: sg}
		ok[i] = its[i].next()
		if its[i].err != nil {
			return fail(its[i].err)
		}
	}
	var key []byte
	cur := make([]*listIter, 0, len(run))
	var lm listMerger
	keys := 0
	for {
		key = key[:0]
		found := false
		for i, it := range its {
			if ok[i] && (!found || bytes.Compare(it.cur.key, key) < 0) {
				key, found = append(key[:0], it.cur.key...), true
			}
		}
		if !found {
			break
		}
		cur = cur[:0]
		n := 0
		for i, it := range its {
			if !ok[i] || !bytes.Equal(it.cur.key, key) {
				continue
			}
			if err := lits[i].reset(wins[i], it.cur); err != nil {
				return fail(err)
			}
			cur = append(cur, lits[i])
			n += it.cur.entries
			ok[i] = it.next()
			if it.err != nil {
				return fail(it.err)
			}
		}
		if filtering {
			// Count what is left first: a list's length comes before
			// its entries.
			n = 0
			for _, li := range cur {
				for x, ok := li.next(); ok; x, ok = li.next() {
					if all.visible(x) {
						n++
					}
				}
				if li.err != nil {
					return fail(li.err)
				}
				if err := li.reset(li.r, li.e); err != nil {
					return fail(err)
				}
			}
		}
		if keys++; keys%4096 == 0 && ix.stopping() {
			return fail(errStopped)
		}
		if n == 0 {
			continue
		}
		pw, err := w.beginPosting(key, n)
		if err != nil {
			return fail(err)
		}
		if err := lm.mergeLists(cur, &all, pw.add); err != nil {
			return fail(err)
		}
		if err := pw.finish(); err != nil {
			return fail(err)
		}
	}
	// The eventID tables: a k-way merge by (hash, seq), through a heap of
	// the inputs by their next entries, smallest on top (hashes interleave
	// across inputs, so a scan of all of them for each entry would cost a
	// merge of many inputs as much per event as the rest of it).
	ids := make([]*idIter, 0, len(run))
	for _, sg := range run {
		it := sg.idIterator()
		if it.next() {
			ids = append(ids, it)
		}
		if it.err != nil {
			return fail(it.err)
		}
	}
	for i := len(ids)/2 - 1; i >= 0; i-- {
		idDown(ids, i)
	}
	for len(ids) > 0 {
		it := ids[0]
		if isLive(it.seq) {
			if err := w.addID(it.h, it.seq); err != nil {
				return fail(err)
			}
		}
		if !it.next() {
			if it.err != nil {
				return fail(it.err)
			}
			ids[0] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
		}
		idDown(ids, 0)
	}
	if err := w.finish(last); err != nil {
		return false, err
	}
	return true, nil
}

// listMerger merges posting lists newest first with a heap of the lists
// by their next entries, newest on top: an entry costs O(log k)
// comparisons among k lists, and two when one list's entries come before
// all the others' (segments hold adjacent ranges of sequence numbers, so
// their lists rarely interleave). Its buffers are kept from key to key.
type listMerger struct {
	lists []*listIter
	heads []pos // heads[i] is the next entry of lists[i]
	heap  []int // indexes into lists; heap[0]'s head is the newest
}

// mergeLists calls emit with the entries of lists (each newest first)
// that f wants, newest first. It keeps lists until the next call.
func (m *listMerger) mergeLists(lists []*listIter, f *filter, emit func(pos)) error {
	m.lists = lists
	m.heads = slices.Grow(m.heads[:0], len(lists))[:len(lists)]
	m.heap = m.heap[:0]
	for i := range lists {
		if m.advance(i, f) {
			m.heap = append(m.heap, i)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	for len(m.heap) > 0 {
		top := m.heap[0]
		emit(m.heads[top])
		if !m.advance(top, f) {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap = m.heap[:last]
		}
		m.down(0)
	}
	for _, l := range lists {
		if l.err != nil {
			return l.err
		}
	}
	return nil
}

// advance moves list i to its next entry f wants; false at its end.
func (m *listMerger) advance(i int, f *filter) bool {
	l := m.lists[i]
	for {
		x, ok := l.next()
		if !ok {
			return false
		}
		if f.visible(x) {
			m.heads[i] = x
			return true
		}
	}
}

// down moves heap[i] down until neither child is newer.
func (m *listMerger) down(i int) {
	h := m.heap
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && m.heads[h[c]].less(m.heads[h[c+1]]) {
			c++
		}
		if !m.heads[h[i]].less(m.heads[h[c]]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// idDown moves h[i] down the heap h of eventID table iterators until
// neither child's next entry (hash, then sequence number) is smaller.
func idDown(h []*idIter, i int) {
	less := func(a, b *idIter) bool { return a.h < b.h || (a.h == b.h && a.seq < b.seq) }
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && less(h[c+1], h[c]) {
			c++
		}
		if !less(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// seqSet is a set of sequence numbers within first..last, a bit each.
type seqSet struct {
	first uint64
	bits  []uint64
}

func newSeqSet(first, last uint64) seqSet {
	return seqSet{first: first, bits: make([]uint64, (last-first)/64+1)}
}

func (s *seqSet) add(seq uint64) {
	if i := seq - s.first; seq >= s.first && i/64 < uint64(len(s.bits)) {
		s.bits[i/64] |= 1 << (i % 64)
	}
}

func (s *seqSet) has(seq uint64) bool {
	i := seq - s.first
	return seq >= s.first && i/64 < uint64(len(s.bits)) && s.bits[i/64]&(1<<(i%64)) != 0
}

// any reports whether the set holds a sequence number in [from, to).
func (s *seqSet) any(from, to uint64) bool {
	for q := max(from, s.first); q < to; q++ {
		i := q - s.first
		if i/64 >= uint64(len(s.bits)) {
			return false
		}
		if i%64 == 0 && s.bits[i/64] == 0 && q+64 <= to {
			q += 63
			continue
		}
		if s.bits[i/64]&(1<<(i%64)) != 0 {
			return true
		}
	}
	return false
}

func (ix *Index) stopping() bool {
	select {
	case <-ix.stop:
		return true
	default:
		return false
	}
}
