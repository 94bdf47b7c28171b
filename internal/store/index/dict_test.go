package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/opentrail/opentrail/internal/event"
)

// namedItems returns n events whose eventName cycles through names with
// the given weights (name i is used weights[i] times per cycle).
func namedItems(t *testing.T, firstSeq uint64, n int, names []string, weights []int) []Item {
	t.Helper()
	var cycle []string
	for i, nm := range names {
		for range weights[i] {
			cycle = append(cycle, nm)
		}
	}
	items := make([]Item, n)
	for i := range items {
		seq := firstSeq + uint64(i)
		raw := fmt.Sprintf(`{"eventVersion":"1.08","eventTime":%q,"eventID":"d-%d","awsRegion":"us-east-1","recipientAccountId":%q,`+
			`"eventSource":"s3.amazonaws.com","eventName":%q,"readOnly":true,"userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64"}`,
			event.FormatTime(t0.Add(time.Duration(seq)*time.Second)), seq, testAcct, cycle[i%len(cycle)])
		e, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		items[i] = Item{seq, &e}
	}
	return items
}

func memtableOf(t *testing.T, items []Item) *memtable {
	t.Helper()
	rec := plainCodec(t)
	mem, _, err := rec.encoders()
	if err != nil {
		t.Fatal(err)
	}
	m := newMemtable(rec, mem, nil)
	for _, it := range items {
		m.add(it.Seq, it.Event, nil)
	}
	return m
}

func TestBuildDict(t *testing.T) {
	names := []string{"GetObject", "PutObject", "ListBuckets"}
	items := namedItems(t, 1, 600, names, []int{5, 3, 1})
	m := memtableOf(t, items)
	rec := func(i int) string { return string(items[i].Event.Raw) }
	tests := []struct {
		name   string
		target int
		// want is the dictionary: records by index into items.
		want []int
	}{
		// The newest record of each name, most frequent first, laid
		// out in reverse.
		{"one per name", len(rec(598)) + len(rec(599)) + len(rec(593)) + 10, []int{593, 599, 598}},
		{"most frequent first", len(rec(598)) + len(rec(599)) + 5, []int{599, 598}},
		{"too small", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := buildDict(m, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for _, i := range tt.want {
				want = append(want, rec(i)...)
			}
			if diff := cmp.Diff(string(want), string(d)); diff != "" {
				t.Errorf("dictionary (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("filled at even intervals", func(t *testing.T) {
		d, err := buildDict(m, dictTarget)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) > dictTarget || len(d) < dictTarget-2*len(rec(0)) {
			t.Fatalf("dictionary of %d bytes, want nearly %d", len(d), dictTarget)
		}
		// The names' records come last; the rest are from all over the
		// memtable, the first record and a late one included.
		tail := rec(593) + rec(599) + rec(598)
		if !strings.HasSuffix(string(d), tail) {
			t.Errorf("dictionary does not end with the names' records")
		}
		late := false
		for i := 540; i < 590; i++ {
			late = late || i != 593 && bytes.Contains(d, items[i].Event.Raw)
		}
		if !bytes.Contains(d, items[0].Event.Raw) || !late {
			t.Errorf("dictionary does not sample the whole memtable")
		}
	})
	t.Run("empty memtable", func(t *testing.T) {
		d, err := buildDict(memtableOf(t, nil), dictTarget)
		if err != nil || d != nil {
			t.Fatalf("got %d bytes, %v; want none", len(d), err)
		}
	})
}

func TestWantDict(t *testing.T) {
	small := memtableOf(t, namedItems(t, 1, 3, []string{"A"}, []int{1}))
	big := memtableOf(t, namedItems(t, 1, 300, []string{"A"}, []int{1}))
	tests := []struct {
		name string
		cur  []byte
		m    *memtable
		want bool
	}{
		{"none yet", nil, small, true},
		{"short one, more records now", make([]byte, 100), big, true},
		{"short one, no more records", make([]byte, int(small.bytes)), small, false},
		{"long enough", make([]byte, dictTarget/2), big, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wantDict(tt.cur, tt.m); got != tt.want {
				t.Errorf("wantDict = %v, want %v", got, tt.want)
			}
		})
	}
}

// frameDicts returns the dictionary IDs the record blocks' frames name
// (0: none).
func frameDicts(t *testing.T, sg *segment) map[uint32]int {
	t.Helper()
	ids := map[uint32]int{}
	for _, b := range segBlocks(t, sg) {
		comp, err := sg.readAt(b.off, int(b.n))
		if err != nil {
			t.Fatal(err)
		}
		var h zstd.Header
		if err := h.Decode(comp); err != nil {
			t.Fatal(err)
		}
		ids[h.DictionaryID]++
	}
	return ids
}

// storedRecords reads every record of every segment, checking each
// segment whole first.
func storedRecords(t *testing.T, ix *Index) map[uint64]string {
	t.Helper()
	got := map[uint64]string{}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, sg := range ix.segs {
		if err := sg.verify(nil); err != nil {
			t.Fatal(err)
		}
		for i, b := range segBlocks(t, sg) {
			d, err := sg.block(false, i)
			if err != nil {
				t.Fatal(err)
			}
			forEachRecord(d, b.first, func(seq uint64, raw []byte) bool {
				got[seq] = string(raw)
				return true
			})
		}
	}
	return got
}

func recordsOf(items ...[]Item) map[uint64]string {
	want := map[uint64]string{}
	for _, its := range items {
		for _, it := range its {
			want[it.Seq] = string(it.Event.Raw)
		}
	}
	return want
}

// TestRecordDictionary follows a dictionary from the flush that makes it
// to the segments that use it, a merge that compresses the first flush's
// blocks again, and a restart that takes it up again.
func TestRecordDictionary(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	names := []string{"GetObject", "PutObject", "ListBuckets", "AssumeRole"}
	a := namedItems(t, 1, 400, names, []int{4, 3, 2, 1})
	b := namedItems(t, 401, 400, names, []int{4, 3, 2, 1})
	c := namedItems(t, 801, 400, names, []int{4, 3, 2, 1})
	applySync(t, ix, a)
	applySync(t, ix, b)
	applySync(t, ix, c)
	segs := func(ix *Index) []*segment {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		return append([]*segment(nil), ix.segs...)
	}
	s := segs(ix)
	if len(s) != 3 {
		t.Fatalf("%d segments, want 3", len(s))
	}
	if s[0].version != 2 || s[0].codec.dict != nil {
		t.Fatalf("first flush: version %d, dictionary of %d bytes; want version 2 without one", s[0].version, len(s[0].codec.dict))
	}
	dict := s[1].codec.dict
	if len(dict) == 0 || s[2].codec != s[1].codec {
		t.Fatalf("later flushes: dictionaries of %d and %d bytes, want the same one", len(dict), len(s[2].codec.dict))
	}
	if got, want := frameDicts(t, s[1]), map[uint32]int{dictID(dict): len(segBlocks(t, s[1]))}; !cmp.Equal(got, want) {
		t.Errorf("second flush's frames name dictionaries %v, want %v", got, want)
	}
	if got, want := frameDicts(t, s[0]), map[uint32]int{0: len(segBlocks(t, s[0]))}; !cmp.Equal(got, want) {
		t.Errorf("first flush's frames name dictionaries %v, want %v", got, want)
	}
	if err := ix.Compact(); err != nil {
		t.Fatal(err)
	}
	s = segs(ix)
	if len(s) != 1 || !bytes.Equal(s[0].codec.dict, dict) {
		t.Fatalf("after Compact: %d segments, the first's dictionary %d bytes; want one with the dictionary", len(s), len(s[0].codec.dict))
	}
	if got, want := frameDicts(t, s[0]), map[uint32]int{dictID(dict): len(segBlocks(t, s[0]))}; !cmp.Equal(got, want) {
		t.Errorf("merged frames name dictionaries %v, want %v", got, want)
	}
	if diff := cmp.Diff(recordsOf(a, b, c), storedRecords(t, ix)); diff != "" {
		t.Fatalf("records after Compact (-want +got):\n%s", diff)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = open(t, dir)
	d := namedItems(t, 1201, 50, names, []int{1, 1, 1, 1})
	applySync(t, ix, d)
	s = segs(ix)
	if len(s) != 2 || !bytes.Equal(s[1].codec.dict, dict) {
		t.Fatalf("after a restart: %d segments, the flush's dictionary %d bytes; want the one from before", len(s), len(s[1].codec.dict))
	}
	if diff := cmp.Diff(recordsOf(a, b, c, d), storedRecords(t, ix)); diff != "" {
		t.Fatalf("records after a restart (-want +got):\n%s", diff)
	}
	want := 0
	for _, it := range slices.Concat(a, b, c, d) {
		if it.Event.EventName == "AssumeRole" {
			want++
		}
	}
	hits, _, err := ix.Lookup(Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Attr: AttrEventName, Value: "AssumeRole", End: t0.Unix() + 2000, Limit: 1000})
	if err != nil || len(hits) != want {
		t.Fatalf("lookup: %d hits, %v; want %d", len(hits), err, want)
	}
}

// TestReadsVersion1 opens an index whose segment the version-1 writer
// wrote (testdata/index-v1): its events are served as they are, and a
// merge writes them into a version-2 segment with the dictionary.
func TestReadsVersion1(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{manifestName, "0000000000000001.seg"} {
		b, err := os.ReadFile(filepath.Join("testdata", "index-v1", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix := open(t, dir)
	old := richItems(t, 1, 40, 0)
	ix.mu.RLock()
	v1 := ix.segs[0]
	ix.mu.RUnlock()
	if v1.version != 1 || v1.codec.dict != nil {
		t.Fatalf("testdata segment: version %d, dictionary of %d bytes", v1.version, len(v1.codec.dict))
	}
	if diff := cmp.Diff(recordsOf(old), storedRecords(t, ix)); diff != "" {
		t.Fatalf("version-1 records (-want +got):\n%s", diff)
	}
	if res := ix.Verify(); len(res.Problems) != 0 || res.Events != 40 {
		t.Fatalf("Verify: %+v", res)
	}
	more := namedItems(t, 41, 300, []string{"GetObject", "PutObject"}, []int{1, 1})
	applySync(t, ix, more[:150])
	applySync(t, ix, more[150:])
	if err := ix.Compact(); err != nil {
		t.Fatal(err)
	}
	ix.mu.RLock()
	s := append([]*segment(nil), ix.segs...)
	ix.mu.RUnlock()
	if len(s) != 1 || s[0].version != 2 || s[0].codec.dict == nil {
		t.Fatalf("after Compact: %d segments; want one of version 2 with a dictionary", len(s))
	}
	if diff := cmp.Diff(recordsOf(old, more), storedRecords(t, ix)); diff != "" {
		t.Fatalf("records after Compact (-want +got):\n%s", diff)
	}
	hits, _, err := ix.Lookup(Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Attr: AttrEventID, Value: "r-0007", End: t0.Unix() + 10000, Limit: 5})
	if err != nil || len(hits) != 1 || string(hits[0].Raw) != recordsOf(old)[7] {
		t.Fatalf("EventId lookup of a version-1 event: %d hits, %v", len(hits), err)
	}
}

// TestDamagedDictionary: a segment whose dictionary bytes do not give its
// ID, or whose frames name a dictionary it lacks, is corrupt.
func TestDamagedDictionary(t *testing.T) {
	dir := t.TempDir()
	ix := open(t, dir)
	names := []string{"GetObject", "PutObject"}
	applySync(t, ix, namedItems(t, 1, 200, names, []int{1, 1}))
	applySync(t, ix, namedItems(t, 201, 200, names, []int{1, 1}))
	ix.mu.RLock()
	sg := ix.segs[1]
	ix.mu.RUnlock()
	if sg.codec.dict == nil {
		t.Fatal("the second flush has no dictionary")
	}
	path := sg.path
	ix.Close()
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// rewrite replaces the segment's meta section (dictionary included)
	// as edit changes it, with its checksum fixed.
	rewrite := func(edit func(*segMeta)) []byte {
		s := inspect(t, path)
		metaOff := int64(binary.LittleEndian.Uint64(orig[len(orig)-footerLen:]))
		meta := segMeta{blocks: segBlocks(t, s), dirIdx: segDirIdx(t, s), parts: s.parts, idsOff: s.idsOff, idCount: s.idCount,
			idSparse: s.idSparse, idCRCs: s.idCRCs, bloom: segBloom(t, s), first: s.first, last: s.last, events: s.events, dict: s.codec.dict}
		edit(&meta)
		return meta.appendTail(bytes.Clone(orig[:metaOff]), metaOff)
	}
	if got := rewrite(func(*segMeta) {}); !bytes.Equal(got, orig) {
		t.Fatal("the segment does not reassemble to itself")
	}
	tests := []struct {
		name string
		file []byte
		at   string // where the damage shows: "open" or "read"
	}{
		{"dictionary ID of other bytes", func() []byte {
			b := bytes.Clone(orig)
			// The dictionary is the meta section's end: flip its last
			// byte and fix the checksum.
			b[len(b)-footerLen-1] ^= 1
			return resealMeta(b)
		}(), "open"},
		{"dictionary missing", rewrite(func(m *segMeta) { m.dict = nil }), "read"},
		{"another dictionary", rewrite(func(m *segMeta) { m.dict = []byte(`{"eventVersion":"1.08"}`) }), "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "0000000000000002.seg")
			if err := os.WriteFile(p, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			var ce *CorruptionError
			s, err := openSegment(p, 2, newBlockCache(1<<20), testCodecs(t))
			if tt.at == "open" {
				if !errors.As(err, &ce) {
					t.Fatalf("openSegment: %v, want a CorruptionError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.release()
			if _, err := s.record(s.first); !errors.As(err, &ce) {
				t.Errorf("record: %v, want a CorruptionError", err)
			}
			if err := s.verify(nil); !errors.As(err, &ce) {
				t.Errorf("verify: %v, want a CorruptionError", err)
			}
		})
	}
}

// TestFirstDictionaryWhileApplying: the first memtable makes the index's
// first dictionary once it holds dictSample bytes of records, compresses
// its later blocks with it, still reads its earlier ones, and its flush
// writes every block with it.
func TestFirstDictionaryWhileApplying(t *testing.T) {
	ix := open(t, t.TempDir())
	items := namedItems(t, 1, 4000, []string{"GetObject", "PutObject", "AssumeRole"}, []int{3, 2, 1})
	var size int64
	crossed := false
	for i := 0; i < len(items); i += 100 {
		if err := ix.Apply(items[i : i+100]); err != nil {
			t.Fatal(err)
		}
		for _, it := range items[i : i+100] {
			size += int64(len(it.Event.Raw))
		}
		ix.mu.RLock()
		has := ix.rec.dict != nil && ix.mem.codec == ix.rec
		ix.mu.RUnlock()
		if want := size >= dictSample; has != want {
			t.Fatalf("after %d bytes of records: dictionary %v, want %v", size, has, want)
		}
		crossed = crossed || has
	}
	compressed(ix)
	ix.mu.RLock()
	codecs := map[*codec]int{}
	for _, b := range ix.mem.blocks {
		if b.comp != nil {
			codecs[b.codec]++
		}
	}
	ix.mu.RUnlock()
	if !crossed || len(codecs) != 2 {
		t.Fatalf("the memtable's blocks have %d codecs, want 2 (before and after the dictionary)", len(codecs))
	}
	// Every record reads back from the memtable, from blocks of both.
	for _, it := range items {
		hits, _, err := ix.Lookup(Query{Account: testAcct, Region: "us-east-1", Kind: KindManagement, Attr: AttrEventID, Value: it.Event.EventID, End: t0.Unix() + 9000, Limit: 1})
		if err != nil || len(hits) != 1 || !bytes.Equal(hits[0].Raw, it.Event.Raw) {
			t.Fatalf("event %d from the memtable: %d hits, %v", it.Seq, len(hits), err)
		}
	}
	if _, err := ix.Sync(); err != nil {
		t.Fatal(err)
	}
	ix.mu.RLock()
	sg := ix.segs[0]
	ix.mu.RUnlock()
	if sg.codec != ix.rec {
		t.Fatal("the flushed segment does not have the dictionary")
	}
	if got, want := frameDicts(t, sg), map[uint32]int{sg.codec.id: len(segBlocks(t, sg))}; !cmp.Equal(got, want) {
		t.Errorf("flushed frames name dictionaries %v, want %v", got, want)
	}
	if diff := cmp.Diff(recordsOf(items), storedRecords(t, ix)); diff != "" {
		t.Fatalf("records after the flush (-want +got):\n%s", diff)
	}
}

// TestMergeChecksCopiedBlocks: a merge copies the blocks of segments with
// the current dictionary without decompressing them, so it checks them
// by their CRC-32C: one damaged byte quarantines the input, whichever
// path the merge takes for the block.
func TestMergeChecksCopiedBlocks(t *testing.T) {
	tests := []struct {
		name   string
		seg    int // which of the three flushes to damage
		reason string
	}{
		{"copied block (current dictionary)", 1, "CRC-32C mismatch"},
		{"block compressed again (no dictionary)", 0, "CRC-32C mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := threeSegments(t)
			m := readManifest(t, dir)
			path := filepath.Join(dir, m.Segments[tt.seg])
			sg := inspect(t, path)
			if (sg.codec.dict != nil) != (tt.seg > 0) {
				t.Fatalf("segment %d: dictionary of %d bytes", tt.seg, len(sg.codec.dict))
			}
			damageBlock(t, path)
			ix := open(t, dir)
			if err := ix.Compact(); err != nil {
				t.Fatal(err)
			}
			wantQuarantined(t, ix, path, tt.reason)
		})
	}
}
