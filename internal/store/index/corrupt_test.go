package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

const testAcct = "123456789012"

// richEvent builds event number i at t0+sec with attributes that vary with
// i: two regions, three kinds, readOnly true/false/absent, several identity
// types (Username, AccessKeyId), zero to two resources.
func richEvent(tb testing.TB, i int, sec int64) *event.Event {
	tb.Helper()
	names := []string{"GetObject", "PutObject", "ListBuckets", "AssumeRole"}
	sources := []string{"s3.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com"}
	region := "us-east-1"
	if i%5 == 4 {
		region = "eu-west-1"
	}
	m := map[string]any{
		"eventVersion": "1.08", "eventTime": event.FormatTime(t0.Add(time.Duration(sec) * time.Second)),
		"eventID": fmt.Sprintf("r-%04d", i), "awsRegion": region, "recipientAccountId": testAcct,
		"eventSource": sources[i%3], "eventName": names[i%4], "eventCategory": event.CategoryMgmt,
	}
	switch {
	case i%9 == 8:
		m["eventCategory"] = event.CategoryData
	case i%13 == 12:
		m["eventCategory"] = event.CategoryInsight
		m["insightDetails"] = map[string]any{"eventName": names[(i+1)%4], "eventSource": sources[(i+1)%3]}
	}
	switch i % 3 {
	case 0:
		m["readOnly"] = true
	case 1:
		m["readOnly"] = false
	}
	switch i % 4 {
	case 0:
		m["userIdentity"] = map[string]any{"type": "IAMUser", "userName": fmt.Sprint("user", i%3), "accessKeyId": fmt.Sprint("AKIA", i%5)}
	case 1:
		m["userIdentity"] = map[string]any{"type": "AssumedRole", "arn": fmt.Sprint("arn:aws:sts::123456789012:assumed-role/r/sess", i%2)}
	case 2:
		m["userIdentity"] = map[string]any{"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
	}
	switch i % 3 {
	case 0:
		m["resources"] = []any{map[string]any{"type": "AWS::S3::Bucket", "ARN": fmt.Sprint("arn:aws:s3:::bucket", i%2)}}
	case 1:
		m["resources"] = []any{
			map[string]any{"type": "AWS::S3::Object", "ARN": fmt.Sprint("arn:aws:s3:::bucket/key", i%4)},
			map[string]any{"type": "AWS::S3::Bucket", "ARNPrefix": "arn:aws:s3:::bucket"},
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := event.Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	return &e
}

// richItems returns n items with sequence numbers from firstSeq and times
// from sec0, one second apart.
func richItems(tb testing.TB, firstSeq uint64, n int, sec0 int64) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{firstSeq + uint64(i), richEvent(tb, int(firstSeq)+i, sec0+int64(i))}
	}
	return items
}

func applySync(t *testing.T, ix *Index, items []Item) {
	t.Helper()
	if err := ix.Apply(items); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Sync(); err != nil {
		t.Fatal(err)
	}
}

func readManifest(t *testing.T, dir string) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeManifestFile(t *testing.T, dir string, m manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildOneSegment writes the items into a fresh index in dir, syncs and
// closes it, and returns the path of its only segment.
func buildOneSegment(t *testing.T, dir string, items []Item) string {
	t.Helper()
	ix, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	applySync(t, ix, items)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, dir)
	if len(m.Segments) != 1 {
		t.Fatalf("MANIFEST lists %d segments, want 1", len(m.Segments))
	}
	return filepath.Join(dir, m.Segments[0])
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func editFile(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	editFile(t, path, func(b []byte) []byte {
		if off < 0 || off >= int64(len(b)) {
			t.Fatalf("flip at %d outside %s (%d bytes)", off, path, len(b))
		}
		b[off] ^= 0x5a
		return b
	})
}

// testCodecs returns a set of codecs closed when the test ends.
func testCodecs(tb testing.TB) *codecs {
	tb.Helper()
	cs := newCodecs(1)
	tb.Cleanup(cs.close)
	return cs
}

// plainCodec returns the codec without a record dictionary.
func plainCodec(tb testing.TB) *codec {
	tb.Helper()
	c, err := testCodecs(tb).plain()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// inspect opens a segment file directly, outside any index.
func inspect(t *testing.T, path string) *segment {
	t.Helper()
	num, err := segNum(filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	sg, err := openSegment(path, num, newBlockCache(8<<20), testCodecs(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sg.release)
	return sg
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// wantCorruption checks that err is a *CorruptionError naming path.
func wantCorruption(t *testing.T, err error, path string) *CorruptionError {
	t.Helper()
	var ce *CorruptionError
	switch {
	case err == nil:
		t.Fatalf("no error, want a *CorruptionError for %s", path)
	case !errors.As(err, &ce):
		t.Fatalf("error %q (%T) is not a *CorruptionError", err, err)
	case ce.Path != path:
		t.Fatalf("CorruptionError names %q, want %q", ce.Path, path)
	case ce.Reason == "":
		t.Fatal("CorruptionError without a reason")
	}
	return ce
}

// wantQuarantined checks that the segment file at path was quarantined by
// ix for a reason containing reason: gone from the live set and from
// MANIFEST, moved (never deleted) to quarantine/, and recorded there.
func wantQuarantined(t *testing.T, ix *Index, path, reason string) QuarantinedSegment {
	t.Helper()
	dir, name := filepath.Dir(path), filepath.Base(path)
	qs := ix.Quarantined()
	i := slices.IndexFunc(qs, func(q QuarantinedSegment) bool { return quarantineBase(q.File) == name })
	if i < 0 {
		t.Fatalf("%s is not quarantined (entries %+v)", name, qs)
	}
	q := qs[i]
	if !strings.Contains(q.Reason, reason) {
		t.Errorf("quarantined for %q, want a reason about %q", q.Reason, reason)
	}
	if exists(t, path) {
		t.Errorf("%s is still in the index directory", name)
	}
	if !exists(t, filepath.Join(dir, quarantineDir, q.File)) {
		t.Errorf("%s is not in quarantine/ as %s", name, q.File)
	}
	m := readManifest(t, dir)
	if slices.Contains(m.Segments, name) {
		t.Errorf("MANIFEST still lists %s", name)
	}
	if !slices.ContainsFunc(m.Quarantined, func(e QuarantinedSegment) bool { return e.File == q.File }) {
		t.Errorf("MANIFEST does not record the quarantine of %s: %+v", name, m.Quarantined)
	}
	ix.mu.RLock()
	live := slices.ContainsFunc(ix.segs, func(sg *segment) bool { return sg.path == path })
	ix.mu.RUnlock()
	if live {
		t.Errorf("%s is still served", name)
	}
	return q
}

// mustNotPanic runs fn and turns a panic into a test failure.
func mustNotPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	fn()
}

func allQuery(region string, kind byte) Query {
	return Query{Account: testAcct, Region: region, Kind: kind, Start: 0, End: t0.Unix() + 1_000_000, Limit: 10_000}
}

// idsOf returns the event IDs of items that a lookup of all events of the
// partition and kind returns, newest first (times strictly increase with
// the sequence number in richItems).
func idsOf(items []Item, region string, kind byte) []string {
	var ids []string
	for i := len(items) - 1; i >= 0; i-- {
		e := items[i].Event
		if e.Region == region && KindOf(&e.Summary) == kind {
			ids = append(ids, e.EventID)
		}
	}
	return ids
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenRemovesOrphans(t *testing.T) {
	dir := t.TempDir()
	items := richItems(t, 1, 40, 0)
	seg := buildOneSegment(t, dir, items)
	stray := filepath.Join(dir, "0000000000000099.seg")
	tmp := filepath.Join(dir, "xyz.seg.tmp")
	other := filepath.Join(dir, "notes.txt") // neither .seg nor .tmp: not ours to delete
	// The stray segment is a valid copy: if Open used it, lookups would
	// return every event twice.
	segBytes, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range map[string][]byte{stray: segBytes, tmp: []byte("half a segment"), other: []byte("x")} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix := openOpts(t, dir, func(o *Options) { o.Logger = slog.New(slog.DiscardHandler) })
	for _, p := range []string{stray, tmp} {
		if exists(t, p) {
			t.Errorf("Open left %s", filepath.Base(p))
		}
	}
	if !exists(t, seg) {
		t.Fatalf("Open deleted the listed segment %s", filepath.Base(seg))
	}
	if !exists(t, other) {
		t.Errorf("Open deleted %s, which is neither .seg nor .tmp", filepath.Base(other))
	}
	if m := readManifest(t, dir); len(m.Segments) != 1 || m.Segments[0] != filepath.Base(seg) {
		t.Errorf("MANIFEST segments %v, want [%s]", m.Segments, filepath.Base(seg))
	}
	hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hitIDs(t, hits), idsOf(items, "us-east-1", KindManagement); !sameStrings(got, want) {
		t.Fatalf("lookup after cleanup: got %v, want %v", got, want)
	}
	keys := make([]EventKey, len(items))
	for i, it := range items {
		keys[i] = EventKey{testAcct, it.Event.Region, it.Event.EventID, 0}
	}
	has, _, err := ix.HasEventIDs(keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range has {
		if !h {
			t.Errorf("HasEventIDs misses %s after cleanup", keys[i].EventID)
		}
	}
}

func TestOpenDetectsCorruption(t *testing.T) {
	pristine := t.TempDir()
	seg := buildOneSegment(t, pristine, richItems(t, 1, 50, 0))
	name := filepath.Base(seg)
	size := fileSize(t, seg)
	for _, c := range []struct {
		name   string
		edit   func([]byte) []byte
		reason string
	}{
		{"meta byte", func(b []byte) []byte { b[size-footerLen-1] ^= 0x01; return b }, "checksum"},
		{"meta first byte", func(b []byte) []byte {
			metaOff := binary.LittleEndian.Uint64(b[size-footerLen:])
			b[metaOff] ^= 0x80
			return b
		}, "checksum"},
		{"meta crc", func(b []byte) []byte { b[size-footerLen+36] ^= 0x01; return b }, "checksum"},
		{"truncated by 3 bytes", func(b []byte) []byte { return b[:len(b)-3] }, "footer magic"},
		{"truncated to the header", func(b []byte) []byte { return b[:len(segMagic)] }, "too short"},
		{"empty", func(b []byte) []byte { return nil }, "too short"},
		{"footer magic", func(b []byte) []byte { copy(b[size-8:], "XXXXXXXX"); return b }, "footer magic"},
		{"meta offset", func(b []byte) []byte { b[size-footerLen] ^= 0x04; return b }, "bounds"},
		{"meta length", func(b []byte) []byte { b[size-footerLen+8] ^= 0x01; return b }, "bounds"},
		{"meta offset below the header", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[size-footerLen:], 0)
			binary.LittleEndian.PutUint64(b[size-footerLen+8:], uint64(size-footerLen))
			return b
		}, "bounds"},
		{"huge meta length", func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[size-footerLen+8:], 1<<63)
			return b
		}, "bounds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			path := filepath.Join(dir, name)
			editFile(t, path, c.edit)
			// fsck's read-only Open reports the damage and changes nothing.
			var ro *Index
			var err error
			mustNotPanic(t, "read-only Open", func() {
				ro, err = Open(dir, Options{ReadOnly: true})
			})
			if err != nil {
				t.Fatalf("read-only Open: %v", err)
			}
			if p := ro.Verify().Problems; len(p) != 1 || !strings.Contains(p[0], c.reason) || !strings.Contains(p[0], name) {
				t.Errorf("read-only Verify problems %q, want one naming %s and %q", p, name, c.reason)
			}
			ro.Close()
			if !exists(t, path) {
				t.Fatal("read-only Open moved the damaged segment")
			}
			// Open quarantines it and serves the rest (nothing here).
			var ix *Index
			mustNotPanic(t, "Open", func() { ix, err = Open(dir, Options{ScrubPause: -1}) })
			if err != nil {
				t.Fatalf("Open: %v, want the damaged segment quarantined", err)
			}
			defer ix.Close()
			q := wantQuarantined(t, ix, path, c.reason)
			if hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err != nil || len(hits) != 0 {
				t.Errorf("lookup after the quarantine: %d hits, %v", len(hits), err)
			}
			if q.First != 1 || q.Last != 50 {
				t.Errorf("quarantined range %d..%d, want 1..50 (the footer's, or the gap it sits in)", q.First, q.Last)
			}
			if vr := ix.Verify(); len(vr.Problems) != 1 || !strings.Contains(vr.Problems[0], "1..50") || !strings.Contains(vr.Problems[0], "re-import") {
				t.Errorf("Verify problems %q, want the missing range and what to do", vr.Problems)
			}
		})
	}
	// The pristine copy still opens: the cases above failed for their edits.
	ix := open(t, copyDir(t, pristine))
	if hits, _, err := ix.Lookup(allQuery("us-east-1", KindManagement)); err != nil || len(hits) == 0 {
		t.Fatalf("pristine copy: %d hits, %v", len(hits), err)
	}
}

// postingKeyWith returns a directory entry of an attribute (not 0) list of
// the partition and kind with at least min entries.
func postingKeyWith(t *testing.T, sg *segment, part string, kind, attr byte, min int) (key, dirEntry) {
	t.Helper()
	it := &dirIter{sg: sg}
	for it.next() {
		k, err := parseKey(it.cur.key)
		if err != nil {
			t.Fatal(err)
		}
		if k.part == part && k.kind == kind && k.attr == attr && it.cur.entries >= min {
			return k, it.cur
		}
	}
	if it.err != nil {
		t.Fatal(it.err)
	}
	t.Fatalf("no list for %s %c attr %d with %d entries", part, kind, attr, min)
	return key{}, dirEntry{}
}

func TestLookupDetectsCorruption(t *testing.T) {
	pristine := t.TempDir()
	items := richItems(t, 1, 60, 0)
	seg := buildOneSegment(t, pristine, items)
	name := filepath.Base(seg)
	sg := inspect(t, seg)
	if len(segBlocks(t, sg)) != 1 {
		t.Fatalf("%d record blocks, want 1 (every lookup below reads it)", len(segBlocks(t, sg)))
	}
	part := partName(testAcct, "us-east-1")
	nameKey, nameList := postingKeyWith(t, sg, part, KindManagement, AttrEventName, 3)
	allList, ok, err := sg.find(appendKey(nil, part, KindManagement, 0, ""))
	if err != nil || !ok {
		t.Fatalf("attr 0 list: %v %v", ok, err)
	}
	nameQuery := allQuery("us-east-1", KindManagement)
	nameQuery.Attr, nameQuery.Value = AttrEventName, nameKey.value
	if len(segDirIdx(t, sg)) != 1 {
		t.Fatalf("%d directory blocks, want 1", len(segDirIdx(t, sg)))
	}
	blockAt := fmt.Sprintf("block at %d:", segBlocks(t, sg)[0].off)
	for _, c := range []struct {
		name   string
		off    int64
		q      Query
		reason string
	}{
		// Inside the first zstd frame: past its 4-byte magic, in the middle.
		{"record block", segBlocks(t, sg)[0].off + int64(segBlocks(t, sg)[0].n)/2, allQuery("us-east-1", KindManagement), blockAt},
		{"record block magic", int64(len(segMagic)), allQuery("us-east-1", KindManagement), blockAt},
		{"record block checksum", segBlocks(t, sg)[0].off + int64(segBlocks(t, sg)[0].n) - 1, allQuery("us-east-1", KindManagement), blockAt},
		{"posting chunk header", nameList.off + 3, nameQuery, fmt.Sprintf("posting list at %d: header checksum", nameList.off)},
		{"posting chunk end", nameList.off + 16, nameQuery, fmt.Sprintf("posting list at %d: header checksum", nameList.off)},
		{"posting chunk data", nameList.off + int64(nameList.chunks*chunkHdrLen) + 1, nameQuery, fmt.Sprintf("posting list at %d: corrupt posting list: chunk checksum", nameList.off)},
		{"attr 0 posting data", allList.off + int64(allList.chunks*chunkHdrLen), allQuery("us-east-1", KindManagement), fmt.Sprintf("posting list at %d: corrupt posting list: chunk checksum", allList.off)},
		{"directory block", segDirIdx(t, sg)[0].off + int64(segDirIdx(t, sg)[0].n)/2, nameQuery, fmt.Sprintf("block at %d:", segDirIdx(t, sg)[0].off)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			path := filepath.Join(dir, name)
			flipByte(t, path, c.off)
			ix := open(t, dir)
			// An unrelated partition of the same segment does not read
			// the damaged bytes.
			if c.name != "directory block" && c.name != "record block" && c.name != "record block magic" && c.name != "record block checksum" {
				q := allQuery("eu-west-1", KindManagement)
				hits, _, err := ix.Lookup(q)
				if err != nil {
					t.Fatalf("lookup of another partition: %v", err)
				}
				if got, want := hitIDs(t, hits), idsOf(items, "eu-west-1", KindManagement); !sameStrings(got, want) {
					t.Fatalf("another partition: got %v, want %v", got, want)
				}
				if n := ix.QuarantineCount(); n != 0 {
					t.Fatalf("%d segments quarantined by a lookup that read no damage", n)
				}
			}
			// The lookup that reads the damage quarantines the segment and
			// is answered from the rest: here, nothing.
			var hits []Hit
			var err error
			mustNotPanic(t, "Lookup", func() { hits, _, err = ix.Lookup(c.q) })
			if err != nil || len(hits) != 0 {
				t.Fatalf("Lookup = %d hits, %v; want none and no error", len(hits), err)
			}
			if q := wantQuarantined(t, ix, path, ""); !strings.HasPrefix(q.Reason, c.reason) {
				t.Errorf("reason %q, want %q...", q.Reason, c.reason)
			}
			if n := ix.QuarantineCount(); n != 1 {
				t.Errorf("QuarantineCount = %d, want 1", n)
			}
		})
	}
	t.Run("record block via HasEventIDs", func(t *testing.T) {
		dir := copyDir(t, pristine)
		path := filepath.Join(dir, name)
		flipByte(t, path, segBlocks(t, sg)[0].off+int64(segBlocks(t, sg)[0].n)/2)
		ix := open(t, dir)
		var err error
		var has []bool
		mustNotPanic(t, "HasEventIDs", func() {
			has, _, err = ix.HasEventIDs([]EventKey{{testAcct, items[0].Event.Region, items[0].Event.EventID, 0}})
		})
		if err != nil || has[0] {
			t.Fatalf("HasEventIDs = %v, %v; want false (the segment holding it is quarantined) and no error", has, err)
		}
		wantQuarantined(t, ix, path, "block at")
	})
}

func TestOpenManifestErrors(t *testing.T) {
	pristine := t.TempDir()
	seg := buildOneSegment(t, pristine, richItems(t, 1, 10, 0))
	name := filepath.Base(seg)
	for _, c := range []struct {
		name    string
		edit    func(dir string, m *manifest) // m is written back when not nil after edit
		wantMsg string
		notFind bool
	}{
		{"extra missing segment", func(dir string, m *manifest) {
			m.Segments = append(m.Segments, "00000000000000aa.seg")
		}, "00000000000000aa.seg", true},
		{"listed segment deleted", func(dir string, m *manifest) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}, name, true},
		{"not a segment name", func(dir string, m *manifest) { m.Segments = append(m.Segments, "notes.txt") }, "notes.txt", false},
		{"bad hex", func(dir string, m *manifest) { m.Segments = append(m.Segments, "zz.seg") }, "zz", false},
		{"future version", func(dir string, m *manifest) { m.Version = 3 }, "version", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, pristine)
			m := readManifest(t, dir)
			c.edit(dir, &m)
			writeManifestFile(t, dir, m)
			var err error
			mustNotPanic(t, "Open", func() {
				var ix *Index
				if ix, err = Open(dir, DefaultOptions()); err == nil {
					ix.Close()
				}
			})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not mention %q", err, c.wantMsg)
			}
			if c.notFind && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q is not fs.ErrNotExist", err)
			}
			// A failed Open deletes nothing: the listed segment is not an
			// orphan.
			if c.name != "listed segment deleted" && !exists(t, filepath.Join(dir, name)) {
				t.Error("failed Open deleted the listed segment")
			}
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		dir := copyDir(t, pristine)
		if err := os.WriteFile(filepath.Join(dir, manifestName), []byte(`{"version":1,"segments":[`), 0o644); err != nil {
			t.Fatal(err)
		}
		if ix, err := Open(dir, DefaultOptions()); err == nil {
			ix.Close()
			t.Fatal("Open accepted a truncated MANIFEST")
		}
		if !exists(t, filepath.Join(dir, name)) {
			t.Error("failed Open deleted the segment")
		}
	})
}

// TestEventIDTableChecksum: a damaged eventID table entry (which would
// resolve an id to another record, so HasEventIDs and EventId lookups would
// silently miss the event and an import would let a duplicate in) is
// caught by the table's per-group CRC, in lookups and in Verify.
func TestEventIDTableChecksum(t *testing.T) {
	dir := t.TempDir()
	items := richItems(t, 1, 30, 0)
	path := buildOneSegment(t, dir, items)
	idsOff := inspect(t, path).idsOff
	flipByte(t, path, idsOff+8) // entry 0's seq - first
	ix, err := Open(dir, DefaultOptions())
	if err != nil {
		wantCorruption(t, err, path)
		return
	}
	defer ix.Close()
	keys := make([]EventKey, len(items))
	for i, it := range items {
		keys[i] = EventKey{testAcct, it.Event.Region, it.Event.EventID, 0}
	}
	has, _, err := ix.HasEventIDs(keys)
	if err != nil {
		t.Fatal(err)
	}
	// The damage is found and the segment quarantined (fsck then reports
	// the missing events), never a silent wrong answer.
	if ix.QuarantineCount() == 0 {
		for i, h := range has {
			if !h {
				t.Errorf("HasEventIDs says stored event %s is absent, and nothing was quarantined (fsck problems: %q)", keys[i].EventID, ix.Verify().Problems)
			}
		}
		return
	}
	wantQuarantined(t, ix, path, "eventID table group 0: checksum")
	if p := ix.Verify().Problems; len(p) != 1 || !strings.Contains(p[0], "30 events (sequence 1..30)") {
		t.Errorf("Verify problems %q", p)
	}
}
