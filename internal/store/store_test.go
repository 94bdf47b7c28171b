package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
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
		"eventSource":        []string{"s3.amazonaws.com", "ec2.amazonaws.com"}[i%2],
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

func openStore(t testing.TB, dir string, mut func(*store.Options)) *store.Store {
	t.Helper()
	o := store.DefaultOptions()
	o.Retention = 0
	o.Now = func() time.Time { return base.Add(24 * time.Hour) }
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

func ids(p store.Page) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.EventID)
	}
	return out
}

func lookupAll(t testing.TB, s *store.Store, q store.Query) []string {
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
		key  store.AttrKey
		val  string
		pred func(int) bool
	}{
		{"all", store.AttrNone, "", func(int) bool { return true }},
		{"EventId", store.AttrEventID, "id-000042", func(i int) bool { return i == 42 }},
		{"EventName", store.AttrEventName, "Op3", func(i int) bool { return i%5 == 3 }},
		{"ReadOnly", store.AttrReadOnly, "true", func(i int) bool { return i%2 == 0 }},
		{"Username", store.AttrUsername, "user1", func(i int) bool { return i%3 == 1 }},
		{"ResourceType", store.AttrResourceType, "AWS::S3::Bucket", func(int) bool { return true }},
		{"ResourceName", store.AttrResourceName, "arn:aws:s3:::b4", func(i int) bool { return i%7 == 4 }},
		{"EventSource", store.AttrEventSource, "ec2.amazonaws.com", func(i int) bool { return i%2 == 1 }},
		{"AccessKeyId", store.AttrAccessKeyID, "AKIA2", func(i int) bool { return i%4 == 2 }},
		{"no match", store.AttrEventName, "Op", func(int) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, limit := range []int{1, 7, 50} {
				got := lookupAll(t, s, store.Query{Account: acct, Region: region, Key: c.key, Value: c.val, Limit: limit})
				if diff := cmp.Diff(want(c.pred), got); diff != "" {
					t.Fatalf("limit %d (-want +got):\n%s", limit, diff)
				}
			}
		})
	}
	t.Run("time range inclusive", func(t *testing.T) {
		got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50,
			Start: base.Add(10 * time.Second), End: base.Add(20 * time.Second)})
		if diff := cmp.Diff(want(func(i int) bool { return i >= 10 && i <= 20 }), got); diff != "" {
			t.Fatal(diff)
		}
	})
	t.Run("other partition sees nothing", func(t *testing.T) {
		for _, q := range []store.Query{{Account: "999999999999", Region: region}, {Account: acct, Region: "eu-west-1"}} {
			q.Limit = 50
			if got := lookupAll(t, s, q); len(got) != 0 {
				t.Fatalf("%+v: got %v", q, got)
			}
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		_, err := s.Lookup(context.Background(), store.Query{Account: acct, Region: region, Limit: 5, Cursor: []byte("xx")})
		if err != store.ErrBadCursor {
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
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50}); !slices.Equal(got, []string{"id-000001"}) {
		t.Fatalf("management: %v", got)
	}
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50, Insight: true}); !slices.Equal(got, []string{"id-000003"}) {
		t.Fatalf("insight: %v", got)
	}
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50, Key: store.AttrEventID, Value: "id-000002"}); len(got) != 0 {
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
	got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50})
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
	if n := s.Replayed(); n != 3 {
		t.Fatalf("Open replayed %d records, want exactly the 3 unapplied ones", n)
	}
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50}); len(got) != 2003 {
		t.Fatalf("found %d events, want 2003", len(got))
	}
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
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
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50}); len(got) != 800 {
		t.Fatalf("found %d events, want 800", len(got))
	}
}

func TestRetention(t *testing.T) {
	now := base.Add(100 * time.Second)
	s := openStore(t, t.TempDir(), func(o *store.Options) {
		o.Retention = 50 * time.Second
		o.Now = func() time.Time { return now }
	})
	var evs []event.Event
	for i := range 100 {
		evs = append(evs, mkEvent(t, i, nil))
	}
	s.Append(context.Background(), evs, store.AppendOptions{})
	// Before the sweep, lookups already hide expired events.
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50}); len(got) != 50 {
		t.Fatalf("visible before sweep = %d, want 50", len(got))
	}
	s.WaitIndexed(context.Background())
	n, err := s.Sweep()
	if err != nil || n != 50 {
		t.Fatalf("Sweep = %d, %v; want 50", n, err)
	}
	now = base // move the clock back: swept events must really be gone
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50, Key: store.AttrEventName, Value: "Op1", End: base.Add(200 * time.Second)}); len(got) != 10 {
		t.Fatalf("after sweep Op1 = %d, want 10", len(got))
	}
	if got := lookupAll(t, s, store.Query{Account: acct, Region: region, Limit: 50, Key: store.AttrEventID, Value: "id-000003", End: base.Add(200 * time.Second)}); len(got) != 0 {
		t.Fatalf("swept id still found")
	}
}

// TestTightLagLimitErrors checks that a burst under a tight lag limit gets
// only success or ErrBackpressure; TestBackpressureRefusesThenWaits (internal)
// checks that back-pressure itself happens.
func TestTightLagLimitErrors(t *testing.T) {
	s := openStore(t, t.TempDir(), func(o *store.Options) {
		o.MaxLag = 1
		o.BackpressureWait = time.Millisecond
	})
	// With MaxLag 1, appends only proceed once the index has caught up; a
	// burst must see either success or ErrBackpressure, never anything else.
	var bp int
	for i := range 200 {
		_, err := s.Append(context.Background(), []event.Event{mkEvent(t, i, nil), mkEvent(t, i+1000, nil)}, store.AppendOptions{})
		switch err {
		case nil:
		case store.ErrBackpressure:
			bp++
		default:
			t.Fatal(err)
		}
	}
	t.Logf("%d of 200 appends hit back-pressure", bp)
}

func TestClosedStore(t *testing.T) {
	s := openStore(t, t.TempDir(), nil)
	s.Close()
	if _, err := s.Append(context.Background(), []event.Event{mkEvent(t, 1, nil)}, store.AppendOptions{}); err != store.ErrClosed {
		t.Fatalf("Append after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
