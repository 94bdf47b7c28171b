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
		if out, err = openSegment(path, num, ix.cache, ix.dec); err != nil {
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
// It reports false, writing nothing, when none are left.
func (ix *Index) writeMerged(run []*segment, path string, sw sweeps, first, last uint64) (bool, error) {
	// Which events no sweep deleted: only needed if a sweep may have.
	var live []uint64
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
	if filtering {
		for _, sg := range run {
			f := newFilter(sw, noCut, sg.first, sg.last)
			for _, p := range sg.parts {
				all, err := sg.partEvents(p)
				if err != nil {
					return false, err
				}
				for _, x := range all {
					if f.visible(x) {
						live = append(live, x.s)
					}
				}
			}
		}
		if len(live) == 0 {
			return false, nil
		}
		slices.Sort(live)
	}
	isLive := func(seq uint64) bool {
		_, ok := slices.BinarySearch(live, seq)
		return !filtering || ok
	}
	all := newFilter(sw, noCut, first, last)
	w, err := newSegWriter(path, ix.enc, first, expected)
	if err != nil {
		return false, err
	}
	fail := func(err error) (bool, error) {
		w.abort()
		return false, err
	}
	wins := make([]*window, len(run))
	for i, sg := range run {
		wins[i] = &window{sg: sg}
	}
	// Record blocks, copied as they are, less those with no live record.
	// Each is decoded first, which checks its zstd checksum: the merge
	// deletes its inputs, so it must not carry damage over into a larger
	// segment (the damaged input is quarantined instead).
	var scratch []byte
	for si, sg := range run {
		for i, b := range sg.blocks {
			if filtering {
				end := sg.last + 1
				if i+1 < len(sg.blocks) {
					end = sg.blocks[i+1].first
				}
				at, _ := slices.BinarySearch(live, b.first)
				if at == len(live) || live[at] >= end {
					continue
				}
			}
			comp, err := wins[si].readAt(b.off, int(b.n))
			if err != nil {
				return fail(err)
			}
			if scratch, err = ix.dec.DecodeAll(comp, scratch[:0]); err != nil {
				return fail(sg.corrupt("block at %d: %v", b.off, err))
			}
			w.addBlock(b.first, comp)
		}
	}
	// Posting lists: a k-way merge of the directories by key.
	its := make([]*dirIter, len(run))
	ok := make([]bool, len(run))
	for i, sg := range run {
		its[i] = &dirIter{sg: sg}
		ok[i] = its[i].next()
		if its[i].err != nil {
			return fail(its[i].err)
		}
	}
	var ents []pos
	var key []byte
	lists := make([][]pos, len(run))
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
		var err error
		nl := 0
		for i, it := range its {
			if !ok[i] || !bytes.Equal(it.cur.key, key) {
				continue
			}
			if lists[nl], err = it.sg.all(wins[i], it.cur, lists[nl][:0]); err != nil {
				return fail(err)
			}
			nl++
			ok[i] = it.next()
			if it.err != nil {
				return fail(it.err)
			}
		}
		ents = mergeDesc(ents[:0], lists[:nl], &all)
		if keys++; keys%4096 == 0 && ix.stopping() {
			return fail(errStopped)
		}
		if err := w.addPosting(key, ents); err != nil {
			return fail(err)
		}
	}
	// The eventID tables: a k-way merge by (hash, seq).
	ids := make([]*idIter, len(run))
	for i, sg := range run {
		ids[i] = sg.idIterator()
		ok[i] = ids[i].next()
		if ids[i].err != nil {
			return fail(ids[i].err)
		}
	}
	for {
		best := -1
		for i, it := range ids {
			if ok[i] && (best < 0 || it.h < ids[best].h || (it.h == ids[best].h && it.seq < ids[best].seq)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		it := ids[best]
		if isLive(it.seq) {
			if err := w.addID(it.h, it.seq); err != nil {
				return fail(err)
			}
		}
		ok[best] = it.next()
		if it.err != nil {
			return fail(it.err)
		}
	}
	if err := w.finish(last); err != nil {
		return false, err
	}
	return true, nil
}

// mergeDesc appends the entries of lists (each sorted newest first) that f
// wants to dst, newest first.
func mergeDesc(dst []pos, lists [][]pos, f *filter) []pos {
	if len(lists) == 1 {
		for _, x := range lists[0] {
			if x.t < f.lo {
				break
			}
			if f.keep(x) {
				dst = append(dst, x)
			}
		}
		return dst
	}
	idx := make([]int, len(lists))
	for {
		best := -1
		for i, l := range lists {
			for idx[i] < len(l) && !f.visible(l[idx[i]]) {
				idx[i]++
			}
			if idx[i] < len(l) && (best < 0 || lists[best][idx[best]].less(l[idx[i]])) {
				best = i
			}
		}
		if best < 0 {
			return dst
		}
		dst = append(dst, lists[best][idx[best]])
		idx[best]++
	}
}

func (ix *Index) stopping() bool {
	select {
	case <-ix.stop:
		return true
	default:
		return false
	}
}
