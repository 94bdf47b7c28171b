package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// auditSent is what PutAuditEvents clients sent, by the UID inside each
// event's eventData: acked holds the eventID the response gave for each
// event of an acknowledged request (HTTP 200, the event in successful[]);
// maybe the events of requests that failed or whose answer the kill cut
// off, which may or may not be stored.
type auditSent struct {
	mu    sync.Mutex
	acked map[string]string // UID -> eventID
	maybe map[string]bool
	reqs  int // requests acknowledged
}

// putAuditUntil sends PutAuditEvents to the channel arn at addr, signed
// with key, from n clients until stop is called: each request is of one
// event or of 2 to 100, each event with a UID no other has. It records
// every event in sent. stop ends the calls and waits for them.
func putAuditUntil(t *testing.T, ctx context.Context, n int, addr, arn string, key identity.Key, round int, sent *auditSent) (stop func()) {
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			for r := 0; cctx.Err() == nil; r++ {
				k := 1
				if rand.IntN(2) == 1 {
					k = 2 + rand.IntN(99)
				}
				uids := make([]string, k)
				for j := range uids {
					uids[j] = fmt.Sprintf("r%d-c%d-q%d-e%d", round, c, r, j)
				}
				acked := putAuditOnce(t, cctx, addr, arn, key, uids)
				sent.mu.Lock()
				switch {
				case acked == nil:
					for _, u := range uids {
						sent.maybe[u] = true
					}
				case len(acked) > 0:
					sent.reqs++
					for u, id := range acked {
						sent.acked[u] = id
					}
				}
				sent.mu.Unlock()
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// putAuditOnce sends one PutAuditEvents request of events with these
// UIDs (ids e0, e1, ...) and returns each UID's eventID if the server
// acknowledged it, an empty map if the request could not be sent (no
// connection), or nil if it failed or its answer was lost.
// An acknowledged request that does not list every event as successful,
// once, fails t.
func putAuditOnce(t *testing.T, ctx context.Context, addr, arn string, key identity.Key, uids []string) map[string]string {
	var evs []map[string]string
	for i, uid := range uids {
		evs = append(evs, map[string]string{"id": fmt.Sprint("e", i), "eventData": appEvent(uid, trailAccount)})
	}
	body, _ := json.Marshal(map[string]any{"auditEvents": evs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/PutAuditEvents?"+url.Values{"channelArn": {arn}}.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return nil
	}
	req.Header.Set("Content-Type", "application/json")
	if err := sdktest.Sign(req, body, key.AccessKeyID, key.SecretAccessKey, "cloudtrail-data", "us-east-1"); err != nil {
		t.Error(err)
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if op := (*net.OpError)(nil); errors.As(err, &op) && op.Op == "dial" {
			return map[string]string{} // not sent: the server is down
		}
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	var out struct {
		Successful []struct{ ID, EventID string }
		Failed     []struct{ ID, ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Errorf("PutAuditEvents answered 200 with %q: %v", b, err)
		return nil
	}
	if len(out.Failed) > 0 || len(out.Successful) != len(uids) {
		t.Errorf("PutAuditEvents of %d good events: %s", len(uids), b)
	}
	got := map[string]string{}
	for _, s := range out.Successful {
		var i int
		if _, err := fmt.Sscanf(s.ID, "e%d", &i); err != nil || i < 0 || i >= len(uids) || s.EventID == "" {
			t.Errorf("PutAuditEvents: successful entry %+v", s)
			continue
		}
		got[uids[i]] = s.EventID
	}
	return got
}

// TestCrashDuringPutAuditEvents kills the server with SIGKILL again and
// again while clients send PutAuditEvents to a channel into an event data
// store of events from outside AWS, the store writing a batch every 100ms
// and compacting every few hundred milliseconds. Then `opentrail fsck`
// finds no problem; the channel's ingestion status names a stored event;
// and the store holds every acknowledged event exactly once, with the
// eventID its response gave, the events of requests without an answer at
// most once, and nothing else.
func TestCrashDuringPutAuditEvents(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir, key, addr, args := busyLake(t)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials:      credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		RetryMaxAttempts: 1, HTTPClient: sdktest.HTTPClient(http.DefaultTransport)})
	ctx := context.Background()

	srv := startServer(t, dir, addr, args...)
	st, err := ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("app-crash"), MultiRegionEnabled: aws.Bool(false),
		TerminationProtectionEnabled: aws.Bool(false), AdvancedEventSelectors: []types.AdvancedEventSelector{{FieldSelectors: []types.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"ActivityAuditLog"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	storeARN := aws.ToString(st.EventDataStoreArn)
	ch, err := ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{Name: aws.String("app-crash"), Source: aws.String("Custom"),
		Destinations: []types.Destination{{Type: types.DestinationTypeEventDataStore, Location: aws.String(storeARN)}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(ch.ChannelArn)

	sent := &auditSent{acked: map[string]string{}, maybe: map[string]bool{}}
	for round := range 6 {
		if round > 0 {
			srv = startServer(t, dir, addr, args...)
		}
		stop := putAuditUntil(t, ctx, 6, addr, arn, key, round, sent)
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		srv.kill()
		stop()
		t.Logf("round %d: %d requests (%d events) acknowledged, %d events unanswered so far", round, sent.reqs, len(sent.acked), len(sent.maybe))
	}
	if sent.reqs < 20 {
		t.Fatalf("only %d requests were acknowledged; the test did not exercise the server", sent.reqs)
	}
	if out, code := runBin(t, "fsck", "--data-dir", dir); code != 0 || strings.Contains(out, "PROBLEM") {
		t.Fatalf("fsck after the kills: exit %d\n%s", code, out)
	}

	srv = startServer(t, dir, addr, args...)
	defer srv.stop(t)
	// The ingestion status as the kills left it, before any new call.
	got, err := ct.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	status := got.IngestionStatus
	if status == nil || aws.ToString(status.LatestIngestionSuccessEventID) == "" || status.LatestIngestionSuccessTime == nil {
		t.Fatalf("IngestionStatus after the kills = %+v, want the last stored event", status)
	}
	// One more acknowledged request: the store ingests the log in order,
	// so once its event is in the store, every event before it is too.
	last := putAuditOnce(t, ctx, addr, arn, key, []string{"last"})
	if last == nil {
		t.Fatal("PutAuditEvents after the last restart failed")
	}
	sent.acked["last"] = last["last"]
	id := storeARN[len(storeARN)-36:]
	deadline := time.Now().Add(2 * time.Minute)
	for len(lakeQuery(t, ct, "SELECT eventid FROM "+id+" WHERE eventdata.uid = 'last'")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the store did not catch up with the log in 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Thousands of events can break a rule at once: the first few of each
	// kind are reported, then how many there were.
	failures := map[string]int{}
	fail := func(kind, format string, args ...any) {
		if failures[kind]++; failures[kind] <= 5 {
			t.Errorf(format, args...)
		}
	}
	stored := map[string]string{} // UID -> eventID
	eventIDs := map[string]bool{}
	for _, r := range lakeQuery(t, ct, "SELECT eventid, eventdata.uid AS uid FROM "+id) {
		eid, uid := r[0]["eventid"], r[1]["uid"]
		if _, ok := stored[uid]; ok {
			fail("in the store twice", "event %s is in the store twice (eventIDs %s and %s)", uid, stored[uid], eid)
		}
		if eventIDs[eid] {
			fail("with an eventID twice", "eventID %s is in the store twice", eid)
		}
		stored[uid], eventIDs[eid] = eid, true
		if _, ok := sent.acked[uid]; !ok && !sent.maybe[uid] {
			fail("not sent", "the store has an event no client sent: uid %q, eventID %s", uid, eid)
		}
	}
	for uid, eid := range sent.acked {
		switch got, ok := stored[uid]; {
		case !ok:
			fail("acknowledged but missing", "acknowledged event %s (eventID %s) is not in the store", uid, eid)
		case got != eid:
			fail("with another eventID", "acknowledged event %s is in the store with eventID %s; its response said %s", uid, got, eid)
		}
	}
	for kind, n := range failures {
		if n > 5 {
			t.Errorf("%d events in all: %s", n, kind)
		}
	}
	if s := aws.ToString(status.LatestIngestionSuccessEventID); !eventIDs[s] {
		t.Errorf("IngestionStatus.LatestIngestionSuccessEventID %s after the kills is not a stored event", s)
	}
	if s := aws.ToString(status.LatestIngestionAttemptEventID); s != "" && !eventIDs[s] {
		t.Errorf("IngestionStatus.LatestIngestionAttemptEventID %s after the kills is not a stored event", s)
	}
	unanswered := 0
	for uid := range stored {
		if sent.maybe[uid] {
			unanswered++
		}
	}
	t.Logf("%d requests (%d events) acknowledged, %d events unanswered of which %d stored; %d events in the store",
		sent.reqs, len(sent.acked), len(sent.maybe), unanswered, len(stored))
}
