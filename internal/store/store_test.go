package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
)

var base = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func mkEvent(t testing.TB, i int, mut func(m map[string]any)) event.Event {
	t.Helper()
	m := map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"type": "IAMUser", "userName": fmt.Sprintf("user%d", i%3),
			"accountId": acct, "accessKeyId": fmt.Sprintf("AKIA%d", i%4), "arn": "arn:aws:iam::123456789012:user/u"},
		"eventTime":          event.FormatTime(base.Add(time.Duration(i) * time.Second)),
		"eventSource":        []string{"s3.amazonaws.com", "ec2.amazonaws.com"}[i%2],
		"eventName":          fmt.Sprintf("Op%d", i%5),
		"awsRegion":          region,
		"eventID":            fmt.Sprintf("id-%06d", i),
		"readOnly":           i%2 == 0,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": acct,
		"eventCategory":      "Management",
	}
	if mut != nil {
		mut(m)
	}
	b, _ := json.Marshal(m)
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func openStore(t testing.TB, dir string, mut func(*store.Options)) *store.Store {
	t.Helper()
	o := store.DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mut != nil {
		mut(&o)
	}
	s, err := store.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	f, err := s.Follow("reader", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := s.Append(context.Background(), []event.Event{mkEvent(t, g*1000+i, nil)}, store.AppendOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got := readAll(t, f)
	ids := map[string]bool{}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		ids[e.Event.EventID] = true
	}
	if len(got) != 800 || len(ids) != 800 || s.Head() != 800 {
		t.Fatalf("read %d entries (%d ids), head %d; want 800", len(got), len(ids), s.Head())
	}
}

func TestClosedStore(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	s.Close()
	if _, err := s.Append(context.Background(), []event.Event{mkEvent(t, 1, nil)}, store.AppendOptions{}); err != store.ErrClosed {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := s.Follow("x", 0, store.FollowOptions{}); err != store.ErrClosed {
		t.Fatalf("Follow after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// Followers get the events Append was given, parsed once: the very same
// events while they keep up with the tail, and events read back from the
// WAL, parsed, once they fall behind it.
func TestFollowersShareParsedEvents(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(o *store.Options) { o.TailBytes = 4 << 10 })
	fast, err := s.Follow("fast", 0, store.FollowOptions{Gate: true})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := s.Follow("slow", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var appended []*event.Event
	for i := range 200 {
		evs := []event.Event{mkEvent(t, i, nil)}
		if _, err := s.Append(t.Context(), evs, store.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		appended = append(appended, &evs[0])
		ents, err := fast.Read(10)
		if err != nil || len(ents) != 1 {
			t.Fatalf("fast follower read %d entries, %v", len(ents), err)
		}
		if ents[0].Event != appended[i] {
			t.Fatalf("entry %d is not the appended event: parsed again", i)
		}
		fast.Applied(ents[0].Seq)
	}
	if fast.Parsed() != 0 {
		t.Fatalf("the follower keeping up parsed %d events", fast.Parsed())
	}
	// The slow one fell behind the 4 KiB tail: it reads the WAL, and gets
	// equal events.
	got := readAll(t, slow)
	if len(got) != 200 || slow.Parsed() == 0 {
		t.Fatalf("slow follower read %d entries, parsed %d", len(got), slow.Parsed())
	}
	for i, e := range got {
		if string(e.Event.Raw) != string(appended[i].Raw) || e.Event.EventID != appended[i].EventID || e.Event.EventTime != appended[i].EventTime {
			t.Fatalf("entry %d differs from the appended event", i)
		}
	}
	// Both at the head: new events come from the tail again.
	appendN(t, s, 500, 5)
	if n := len(readAll(t, slow)); n != 5 {
		t.Fatalf("read %d new entries", n)
	}
	parsed := slow.Parsed()
	appendN(t, s, 600, 5)
	readAll(t, slow)
	if slow.Parsed() != parsed {
		t.Fatal("a follower back at the head still parses")
	}
}

// recordingDeduper is a Deduper that knows a set of (id, time) up to a
// seq.
type recordingDeduper struct {
	mu      sync.Mutex
	ids     map[string]bool
	through uint64
}

func dedupeKey(id string, t int64) string { return fmt.Sprint(id, "@", t) }

func (d *recordingDeduper) HasEventIDs(keys []store.EventKey) ([]bool, uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]bool, len(keys))
	for i, k := range keys {
		if k.Time == 0 {
			return nil, 0, errors.New("a key without a time")
		}
		out[i] = d.ids[dedupeKey(k.EventID, k.Time)]
	}
	return out, d.through, nil
}

func (d *recordingDeduper) cover(ents []store.Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range ents {
		d.ids[dedupeKey(e.Event.EventID, e.Event.EventTime.Unix())] = true
		d.through = e.Seq
	}
}

// SkipDuplicates combines what the Deduper covers with what the store has
// appended since, and waits while the Deduper is behind the log it opened.
func TestSkipDuplicates(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(o *store.Options) { o.Followers = []string{"d"} })
	appendN(t, s, 0, 10)
	s.Close()

	d := &recordingDeduper{ids: map[string]bool{}}
	s = openStore(t, dir, func(o *store.Options) {
		o.Dedupe = d
		o.Followers = []string{"d"}
		o.BackpressureWait = 5 * time.Second
	})
	f, err := s.Follow("d", 0, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The Deduper has not seen the 10 events the log held at Open: a
	// deduplicating append waits for it.
	done := make(chan store.AppendResult, 1)
	go func() {
		res, err := s.Append(t.Context(), []event.Event{mkEvent(t, 3, nil), mkEvent(t, 42, nil)}, store.AppendOptions{SkipDuplicates: true})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		t.Fatalf("Append returned %+v before the Deduper caught up", res)
	case <-time.After(100 * time.Millisecond):
	}
	d.cover(readAll(t, f))
	res := <-done
	if res.Appended != 1 || !slices.Equal(res.Duplicates, []int{0}) {
		t.Fatalf("Append = %+v, want event 3 skipped", res)
	}
	// Appended since Open but not covered by the Deduper yet: pending.
	res, err = s.Append(t.Context(), []event.Event{mkEvent(t, 42, nil), mkEvent(t, 43, nil), mkEvent(t, 43, nil)}, store.AppendOptions{SkipDuplicates: true})
	if err != nil || res.Appended != 1 || !slices.Equal(res.Duplicates, []int{0, 2}) {
		t.Fatalf("Append = %+v, %v; want 42 and the second 43 skipped", res, err)
	}
	// The same eventID at another time is another event (decisions §92),
	// whether the Deduper covers the first (3) or it is pending (43).
	later := func(i int) event.Event {
		return mkEvent(t, i, func(m map[string]any) { m["eventTime"] = event.FormatTime(base.Add(time.Hour)) })
	}
	res, err = s.Append(t.Context(), []event.Event{later(3), later(43), later(43)}, store.AppendOptions{SkipDuplicates: true})
	if err != nil || res.Appended != 2 || !slices.Equal(res.Duplicates, []int{2}) {
		t.Fatalf("Append = %+v, %v; want 3 and 43 at a later time stored, the second 43 skipped", res, err)
	}
	// Without Options.Dedupe it is refused.
	s2 := openStore(t, t.TempDir(), nil)
	if _, err := s2.Append(t.Context(), []event.Event{mkEvent(t, 1, nil)}, store.AppendOptions{SkipDuplicates: true}); err == nil {
		t.Fatal("SkipDuplicates without a Deduper was accepted")
	}
}

// TestTightLagLimitErrors checks that a burst under a tight lag limit gets
// only success or ErrBackpressure; TestBackpressureRefusesThenWaits
// (internal) checks that back-pressure itself happens.
func TestTightLagLimitErrors(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *store.Options) {
		o.MaxLag = 1
		o.BackpressureWait = time.Millisecond
	})
	f, err := s.Follow("gate", 0, store.FollowOptions{Gate: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-f.Progress():
			}
			for _, e := range readAll(t, f) {
				f.Applied(e.Seq)
			}
		}
	}()
	var bp int
	for i := range 200 {
		_, err := s.Append(context.Background(), []event.Event{mkEvent(t, i, nil), mkEvent(t, i+1000, nil)}, store.AppendOptions{})
		switch {
		case err == nil:
		case errors.Is(err, store.ErrBackpressure):
			bp++
		default:
			t.Fatal(err)
		}
	}
	t.Logf("%d of 200 appends hit back-pressure", bp)
}
