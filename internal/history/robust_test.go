package history_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
)

// at returns event i with its own id and time.
func at(t testing.TB, id string, tm time.Time) event.Event {
	return mkEvent(t, 0, func(m map[string]any) {
		m["eventID"] = id
		m["eventTime"] = event.FormatTime(tm)
	})
}

func count(t testing.TB, s *rig) int {
	t.Helper()
	if err := s.WaitIndexed(t.Context()); err != nil {
		t.Fatal(err)
	}
	n, err := s.h.Count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRetentionChangeKeepsLaterOldEvents is OpenTrail issue 8 §1.1: a
// server with 90-day retention swept (version 1 then set a watermark at
// now-90d), then `import --event-history-retention 0` of 2023 logs said
// "imported", but lookups found none of them, fsck counted none, and a
// second import imported them all again: flushes and merges dropped every
// event older than the watermark, whenever it was added. A sweep deletes
// only the events that existed when it ran.
func TestRetentionChangeKeepsLaterOldEvents(t *testing.T) {
	dir := t.TempDir()
	now := base.Add(24 * time.Hour)
	clock := func(o *history.Options) { o.Now = func() time.Time { return now } }
	ninety := func(o *history.Options) { clock(o); o.Retention = 90 * 24 * time.Hour }
	forever := func(o *history.Options) { clock(o); o.Retention = 0 }

	// The server: 50 recent events and 5 expired ones, which its sweep
	// deletes.
	s := openStore(t, dir, ninety)
	var evs []event.Event
	for i := range 50 {
		evs = append(evs, at(t, fmt.Sprintf("new-%03d", i), now.Add(-time.Duration(i)*time.Minute)))
	}
	for i := range 5 {
		evs = append(evs, at(t, fmt.Sprintf("expired-%d", i), now.Add(-100*24*time.Hour)))
	}
	if _, err := s.Append(t.Context(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitIndexed(t.Context())
	if n, err := s.Sweep(); err != nil || n != 5 {
		t.Fatalf("90-day sweep = %d, %v; want 5", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The import, with retention 0: events from 2023.
	y2023 := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)
	var old []event.Event
	var want []string
	for i := range 2900 {
		old = append(old, at(t, fmt.Sprintf("imp-%05d", i), y2023.Add(time.Duration(i)*time.Minute)))
		want = append([]string{fmt.Sprintf("imp-%05d", i)}, want...)
	}
	s = openStore(t, dir, forever)
	res, err := s.Append(t.Context(), old, store.AppendOptions{SkipDuplicates: true})
	if err != nil || res.Appended != 2900 {
		t.Fatalf("import = %+v, %v", res, err)
	}
	q := history.Query{Account: acct, Region: region, Limit: 50, Start: y2023, End: y2023.AddDate(1, 0, 0)}
	check := func(t *testing.T, s *rig) {
		t.Helper()
		if diff := cmp.Diff(want, lookupAll(t, s, q)); diff != "" {
			t.Fatalf("2023 events (-want +got):\n%s", diff)
		}
		if n := count(t, s); n != 2950 {
			t.Errorf("Count = %d, want 2950 (50 recent, 2900 imported)", n)
		}
	}
	t.Run("memtable", func(t *testing.T) { check(t, s) })
	if err := s.Close(); err != nil { // flushes
		t.Fatal(err)
	}
	s = openStore(t, dir, forever)
	t.Run("flushed", func(t *testing.T) { check(t, s) })
	if err := s.h.Compact(); err != nil {
		t.Fatal(err)
	}
	t.Run("merged", func(t *testing.T) { check(t, s) })
	s.Close()
	s = openStore(t, dir, forever)
	t.Run("reopened", func(t *testing.T) { check(t, s) })
	// A second import finds every event already there.
	res, err = s.Append(t.Context(), old, store.AppendOptions{SkipDuplicates: true})
	if err != nil || res.Appended != 0 || len(res.Duplicates) != 2900 {
		t.Fatalf("second import = %d appended, %d duplicates, %v; want 0 and 2900", res.Appended, len(res.Duplicates), err)
	}
	s.Close()

	// Going back to 90 days: CountBefore says what the next sweep deletes,
	// and it does.
	s = openStore(t, dir, ninety)
	s.WaitIndexed(t.Context())
	if n, err := s.h.CountBefore(now.Add(-90 * 24 * time.Hour)); err != nil || n != 2900 {
		t.Fatalf("CountBefore(now-90d) = %d, %v; want 2900", n, err)
	}
	if n, err := s.Sweep(); err != nil || n != 2900 {
		t.Fatalf("sweep = %d, %v; want 2900", n, err)
	}
	if n := count(t, s); n != 50 {
		t.Fatalf("Count after the sweep = %d, want 50", n)
	}
}

func TestCountBefore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, mkEvent(t, i, nil)) // at base + i s
	}
	// Data and Insights events count too.
	evs = append(evs, mkEvent(t, 100, func(m map[string]any) { m["eventCategory"] = "Data"; m["managementEvent"] = false }))
	if _, err := s.Append(t.Context(), evs[:60], store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close() // the first 60 in a segment
	s = openStore(t, dir, nil)
	if _, err := s.Append(t.Context(), evs[60:], store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitIndexed(t.Context())
	for _, c := range []struct {
		before time.Time
		want   int
	}{
		{base, 0},
		{base.Add(30 * time.Second), 30},
		{base.Add(30*time.Second + 999*time.Millisecond), 30}, // second precision
		{base.Add(80 * time.Second), 80},
		{base.Add(time.Hour), 101},
	} {
		if n, err := s.h.CountBefore(c.before); err != nil || n != c.want {
			t.Errorf("CountBefore(base+%v) = %d, %v; want %d", c.before.Sub(base), n, err, c.want)
		}
	}
	if n := count(t, s); n != 101 {
		t.Errorf("Count = %d, want 101", n)
	}
}

// indexFile returns the path of the n-th segment the index lists.
func indexFile(t *testing.T, dir string, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index", "MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Segments []string }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) <= n {
		t.Fatalf("MANIFEST lists %v", m.Segments)
	}
	return filepath.Join(dir, "index", m.Segments[n])
}

// damage flips a byte inside the first record block of a segment file.
func damage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[8+40] ^= 0x5a // past the 8-byte header, inside the first zstd frame
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds (the test's own timeout bounds it).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatal("gave up")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestDamagedSegmentRebuiltFromLog is issue 8 §1.4: a damaged index
// segment made every LookupEvents page that touched it fail with a 500.
// Now the lookup that finds the damage quarantines the segment and is
// answered from the rest; history rebuilds the segment from the log,
// which still holds it here (another follower has not released it).
func TestDamagedSegmentRebuiltFromLog(t *testing.T) {
	dir := t.TempDir()
	hold := func(o *store.Options) { o.Followers = []string{"delivery"} } // delivery never registers: the WAL stays
	s := openStoreWith(t, dir, nil, hold)
	var evs []event.Event
	var want []string
	for i := range 500 {
		evs = append(evs, mkEvent(t, i, nil))
		want = append([]string{fmt.Sprintf("id-%06d", i)}, want...)
	}
	if _, err := s.Append(t.Context(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	seg := indexFile(t, dir, 0)
	damage(t, seg)
	s = openStoreWith(t, dir, nil, hold)
	q := history.Query{Account: acct, Region: region, Limit: 50}
	if _, err := s.Lookup(t.Context(), q); err != nil {
		t.Fatalf("lookup of a damaged segment: %v, want an answer from the rest", err)
	}
	waitFor(t, func() bool { return len(lookupAll(t, s, q)) == 500 })
	if diff := cmp.Diff(want, lookupAll(t, s, q)); diff != "" {
		t.Fatalf("after the rebuild (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "index", "quarantine", filepath.Base(seg))); err != nil {
		t.Fatalf("the damaged segment is not in quarantine/: %v", err)
	}
	if n := count(t, s); n != 500 {
		t.Fatalf("Count = %d, want 500", n)
	}
	// The rebuilt segment survives a restart, and so does the record of
	// the quarantine.
	s.Close()
	s = openStoreWith(t, dir, nil, hold)
	if diff := cmp.Diff(want, lookupAll(t, s, q)); diff != "" {
		t.Fatalf("after a restart (-want +got):\n%s", diff)
	}
}

// TestDamagedSegmentNotInLog: when the log no longer holds a damaged
// segment's range, its events stay missing, and lookups are answered from
// the other segments without an error.
func TestDamagedSegmentNotInLog(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	var evs []event.Event
	for i := range 400 {
		evs = append(evs, mkEvent(t, i, nil))
	}
	s.Append(t.Context(), evs[:200], store.AppendOptions{})
	s.Close() // segment 1; the WAL is released and truncated
	s = openStore(t, dir, nil)
	s.Append(t.Context(), evs[200:], store.AppendOptions{})
	s.Close() // segment 2
	damage(t, indexFile(t, dir, 0))
	s = openStore(t, dir, nil)
	var want []string
	for i := 399; i >= 200; i-- {
		want = append(want, fmt.Sprintf("id-%06d", i))
	}
	// The first pass serves the damaged segment's sound blocks until its
	// pages reach the damage (no error); from then on it is quarantined.
	q := history.Query{Account: acct, Region: region, Limit: 50}
	lookupAll(t, s, q)
	if diff := cmp.Diff(want, lookupAll(t, s, q)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if n := count(t, s); n != 200 {
		t.Fatalf("Count = %d, want 200", n)
	}
	// Event-ID lookups and duplicate checks answer too.
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50, Key: history.AttrEventID, Value: "id-000300"}); len(got) != 1 {
		t.Fatalf("EventId lookup: %v", got)
	}
	has, _, err := s.h.HasEventIDs([]store.EventKey{{Account: acct, Region: region, EventID: "id-000300"}, {Account: acct, Region: region, EventID: "id-000100"}})
	if err != nil || !has[0] || has[1] {
		t.Fatalf("HasEventIDs = %v, %v; want [true false]", has, err)
	}
}
