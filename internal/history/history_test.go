package history_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/store/index"
	"github.com/opentrail/opentrail/internal/store/wal"
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
		"eventSource":        []string{"sqs.amazonaws.com", "ec2.amazonaws.com"}[i%2],
		"eventName":          fmt.Sprintf("Op%d", i%5),
		"awsRegion":          region,
		"eventID":            fmt.Sprintf("id-%06d", i),
		"readOnly":           i%2 == 0,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": acct,
		"eventCategory":      "Management",
		"resources":          []any{map[string]any{"ARN": fmt.Sprintf("arn:aws:s3:::b%d", i%7), "type": "AWS::S3::Bucket"}},
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

// rig is an event store with event history following it, as the daemon
// runs them.
type rig struct {
	*store.Store
	h      *history.History
	f      *store.Follower
	cancel context.CancelFunc
	done   chan error
	closed bool
}

func (r *rig) Lookup(ctx context.Context, q history.Query) (history.Page, error) {
	return r.h.Lookup(ctx, q)
}

func (r *rig) Replayed() int       { return r.h.Replayed() }
func (r *rig) Sweep() (int, error) { return r.h.Sweep() }

// WaitIndexed waits until history has applied every event appended so far.
func (r *rig) WaitIndexed(ctx context.Context) error { return r.h.WaitApplied(ctx, r.Head()) }

// Close stops history (after it has applied everything) and closes both.
func (r *rig) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	err := <-r.done
	return errors.Join(err, r.f.Close(), r.h.Close(), r.Store.Close())
}

func openStore(t testing.TB, dir string, mut func(*history.Options)) *rig {
	t.Helper()
	return openStoreWith(t, dir, mut, nil)
}

// openStoreWith is openStore with the store's options changed by smut.
func openStoreWith(t testing.TB, dir string, mut func(*history.Options), smut func(*store.Options)) *rig {
	t.Helper()
	ho := history.DefaultOptions()
	ho.Retention = 0
	ho.Now = func() time.Time { return base.Add(24 * time.Hour) }
	ho.Logger = slog.New(slog.DiscardHandler)
	if mut != nil {
		mut(&ho)
	}
	h, err := history.Open(filepath.Join(dir, "index"), ho)
	if err != nil {
		t.Fatal(err)
	}
	so := store.DefaultOptions()
	so.Dedupe = h
	so.Logger = ho.Logger
	if smut != nil {
		smut(&so)
	}
	so.Followers = append(so.Followers, "history")
	st, err := store.Open(dir, so)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Follow("history", h.Checkpoint(), store.FollowOptions{Gate: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{Store: st, h: h, f: f, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- h.Run(ctx, f) }()
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func ids(p history.Page) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.EventID)
	}
	return out
}

func lookupAll(t testing.TB, s *rig, q history.Query) []string {
	t.Helper()
	var out []string
	for {
		p, err := s.Lookup(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ids(p)...)
		if p.Next == nil {
			return out
		}
		q.Cursor = p.Next
	}
}

func TestAppendLookup(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, mkEvent(t, i, nil))
	}
	res, err := s.Append(context.Background(), evs, store.AppendOptions{})
	if err != nil || res.Appended != 100 || res.LastSeq != 100 {
		t.Fatalf("Append = %+v, %v", res, err)
	}
	want := func(pred func(i int) bool) []string {
		var out []string
		for i := 99; i >= 0; i-- {
			if pred(i) {
				out = append(out, fmt.Sprintf("id-%06d", i))
			}
		}
		return out
	}
	cases := []struct {
		name string
		key  history.AttrKey
		val  string
		pred func(int) bool
	}{
		{"all", history.AttrNone, "", func(int) bool { return true }},
		{"EventId", history.AttrEventID, "id-000042", func(i int) bool { return i == 42 }},
		{"EventName", history.AttrEventName, "Op3", func(i int) bool { return i%5 == 3 }},
		{"ReadOnly", history.AttrReadOnly, "true", func(i int) bool { return i%2 == 0 }},
		{"Username", history.AttrUsername, "user1", func(i int) bool { return i%3 == 1 }},
		{"ResourceType", history.AttrResourceType, "AWS::S3::Bucket", func(int) bool { return true }},
		{"ResourceName", history.AttrResourceName, "arn:aws:s3:::b4", func(i int) bool { return i%7 == 4 }},
		{"EventSource", history.AttrEventSource, "ec2.amazonaws.com", func(i int) bool { return i%2 == 1 }},
		{"AccessKeyId", history.AttrAccessKeyID, "AKIA2", func(i int) bool { return i%4 == 2 }},
		{"no match", history.AttrEventName, "Op", func(int) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, limit := range []int{1, 7, 50} {
				got := lookupAll(t, s, history.Query{Account: acct, Region: region, Key: c.key, Value: c.val, Limit: limit})
				if diff := cmp.Diff(want(c.pred), got); diff != "" {
					t.Fatalf("limit %d (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
	t.Run("time range inclusive", func(t *testing.T) {
		got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50,
			Start: base.Add(10 * time.Second), End: base.Add(20 * time.Second)})
		if diff := cmp.Diff(want(func(i int) bool { return i >= 10 && i <= 20 }), got); diff != "" {
			t.Fatal(diff)
		}
	})
	t.Run("other partition sees nothing", func(t *testing.T) {
		for _, q := range []history.Query{{Account: "999999999999", Region: region}, {Account: acct, Region: "eu-west-1"}} {
			q.Limit = 50
			if got := lookupAll(t, s, q); len(got) != 0 {
				t.Fatalf("%+v: got %v", q, got)
			}
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		_, err := s.Lookup(context.Background(), history.Query{Account: acct, Region: region, Limit: 5, Cursor: []byte("xx")})
		if err != history.ErrBadCursor {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestInsightAndDataEventsSeparate(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	evs := []event.Event{
		mkEvent(t, 1, nil),
		mkEvent(t, 2, func(m map[string]any) { m["managementEvent"] = false; m["eventCategory"] = "Data" }),
		mkEvent(t, 3, func(m map[string]any) {
			m["eventType"] = "AwsCloudTrailInsight"
			m["eventCategory"] = "Insight"
			m["insightDetails"] = map[string]any{"eventName": "Op3", "eventSource": "s3.amazonaws.com"}
		}),
	}
	if _, err := s.Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50}); !slices.Equal(got, []string{"id-000001"}) {
		t.Fatalf("management: %v", got)
	}
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50, Insight: true}); !slices.Equal(got, []string{"id-000003"}) {
		t.Fatalf("insight: %v", got)
	}
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50, Key: history.AttrEventID, Value: "id-000002"}); len(got) != 0 {
		t.Fatalf("data event visible: %v", got)
	}
}

func TestDedupe(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	evs := []event.Event{mkEvent(t, 1, nil), mkEvent(t, 2, nil), mkEvent(t, 1, nil)}
	res, err := s.Append(context.Background(), evs, store.AppendOptions{SkipDuplicates: true})
	if err != nil || res.Appended != 2 || !slices.Equal(res.Duplicates, []int{2}) {
		t.Fatalf("first = %+v, %v", res, err)
	}
	res, _ = s.Append(context.Background(), evs[:2], store.AppendOptions{SkipDuplicates: true})
	if res.Appended != 0 || len(res.Duplicates) != 2 {
		t.Fatalf("second = %+v", res)
	}
	s.Close()
	s = openStore(t, dir, nil)
	res, _ = s.Append(context.Background(), evs[:2], store.AppendOptions{SkipDuplicates: true})
	if res.Appended != 0 || len(res.Duplicates) != 2 {
		t.Fatalf("after reopen = %+v", res)
	}
	// An event stored without dedupe (an API call) is still seen by a
	// deduplicating append right after, indexed or not yet.
	for i := 10; i < 200; i++ {
		e := mkEvent(t, i, nil)
		s.Append(context.Background(), []event.Event{e}, store.AppendOptions{})
		res, _ := s.Append(context.Background(), []event.Event{e}, store.AppendOptions{SkipDuplicates: true})
		if res.Appended != 0 {
			t.Fatalf("event %d stored twice", i)
		}
	}
}

func TestReplayUnindexedWAL(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	s.Append(context.Background(), []event.Event{mkEvent(t, 1, nil)}, store.AppendOptions{})
	s.Close()
	// Simulate a crash after the WAL fsync but before the index applied:
	// append records to the WAL behind the store's back.
	w, err := wal.Open(filepath.Join(dir, "wal"), wal.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		ev := mkEvent(t, i, nil)
		w.Write([]wal.Entry{{Account: ev.Account, Region: ev.Region, Raw: ev.Raw}})
	}
	w.Sync()
	w.Close()
	s = openStore(t, dir, nil)
	got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50})
	if diff := cmp.Diff([]string{"id-000005", "id-000004", "id-000003", "id-000002", "id-000001"}, got); diff != "" {
		t.Fatal(diff)
	}
	res, _ := s.Append(context.Background(), []event.Event{mkEvent(t, 6, nil)}, store.AppendOptions{})
	if res.LastSeq != 6 {
		t.Fatalf("seq after replay = %d, want 6", res.LastSeq)
	}
}

func TestOpenReplaysOnlyTheTail(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, nil)
	var evs []event.Event
	for i := range 2000 {
		evs = append(evs, mkEvent(t, i, nil))
	}
	s.Append(context.Background(), evs, store.AppendOptions{})
	s.Close()
	s = openStore(t, dir, nil)
	if err := s.WaitIndexed(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := s.Replayed(); n != 0 {
		t.Fatalf("after a clean close Open replayed %d records, want 0", n)
	}
	s.Close()
	// Three records the index never saw (a crash right after their fsync).
	w, err := wal.Open(filepath.Join(dir, "wal"), wal.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := 5000; i < 5003; i++ {
		ev := mkEvent(t, i, nil)
		w.Write([]wal.Entry{{Account: ev.Account, Region: ev.Region, Raw: ev.Raw}})
	}
	w.Sync()
	w.Close()
	s = openStore(t, dir, nil)
	if err := s.WaitIndexed(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := s.Replayed(); n != 3 {
		t.Fatalf("Open replayed %d records, want exactly the 3 unapplied ones", n)
	}
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50}); len(got) != 2003 {
		t.Fatalf("found %d events, want 2003", len(got))
	}
}

func TestRetention(t *testing.T) {
	now := base.Add(100 * time.Second)
	s := openStore(t, t.TempDir(), func(o *history.Options) {
		o.Retention = 50 * time.Second
		o.Now = func() time.Time { return now }
	})
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, mkEvent(t, i, nil))
	}
	s.Append(context.Background(), evs, store.AppendOptions{})
	// Before the sweep, lookups already hide expired events.
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50}); len(got) != 50 {
		t.Fatalf("visible before sweep = %d, want 50", len(got))
	}
	s.WaitIndexed(context.Background())
	n, err := s.Sweep()
	if err != nil || n != 50 {
		t.Fatalf("Sweep = %d, %v; want 50", n, err)
	}
	now = base // move the clock back: swept events must really be gone
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50, Key: history.AttrEventName, Value: "Op1", End: base.Add(200 * time.Second)}); len(got) != 10 {
		t.Fatalf("after sweep Op1 = %d, want 10", len(got))
	}
	if got := lookupAll(t, s, history.Query{Account: acct, Region: region, Limit: 50, Key: history.AttrEventID, Value: "id-000003", End: base.Add(200 * time.Second)}); len(got) != 0 {
		t.Fatalf("swept id still found")
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// appliedLog records the progress history reports to the log.
type appliedLog struct {
	*store.Follower
	mu      sync.Mutex
	applied []uint64
}

func (l *appliedLog) Applied(seq uint64) {
	l.mu.Lock()
	l.applied = append(l.applied, seq)
	l.mu.Unlock()
	l.Follower.Applied(seq)
}

// TestApplyPublishesChunks: history reports events as applied a chunk at
// a time, not once per batch it reads, so a lookup waits only for the
// events acknowledged before it.
func TestApplyPublishesChunks(t *testing.T) {
	dir := t.TempDir()
	ho := history.DefaultOptions()
	ho.Retention = 0
	ho.Logger = slog.New(slog.DiscardHandler)
	h, err := history.Open(filepath.Join(dir, "index"), ho)
	if err != nil {
		t.Fatal(err)
	}
	so := store.DefaultOptions()
	so.Dedupe = h
	so.Logger = ho.Logger
	so.Followers = []string{"history"}
	st, err := store.Open(dir, so)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000 // one batch of the log, several chunks
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = mkEvent(t, i, nil)
	}
	if _, err := st.Append(t.Context(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := st.Follow("history", h.Checkpoint(), store.FollowOptions{Gate: true})
	if err != nil {
		t.Fatal(err)
	}
	log := &appliedLog{Follower: f}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, log) }()
	if err := h.WaitApplied(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	got := slices.Clone(log.applied)
	log.mu.Unlock()
	var want []uint64
	for seq := uint64(index.ApplyChunk); seq < n; seq += index.ApplyChunk {
		want = append(want, seq)
	}
	want = append(want, n)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress reported to the log (-want +got):\n%s", diff)
	}
	if err := errors.Join(f.Close(), h.Close(), st.Close()); err != nil {
		t.Fatal(err)
	}
}
