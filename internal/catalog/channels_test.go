package catalog_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
)

const chAccount = acct

// storeA and storeB are hand-written destinations for the damaged-file
// cases.
const storeA = "arn:aws:cloudtrail:us-east-1:" + acct + ":eventdatastore/aaaa"

func newChannel(name string) catalog.Channel {
	return catalog.Channel{Name: name, Account: chAccount, HomeRegion: "us-east-1", Source: catalog.SourceCustom}
}

// twoStores creates two event data stores in c and returns their ARNs.
func twoStores(t *testing.T, c *catalog.Catalog) (a, b string) {
	t.Helper()
	var arns []string
	for _, name := range []string{"a", "b"} {
		d, err := c.CreateDataStore(newStore(name, "us-east-1"), func() uint64 { return 0 })
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, d.ARN())
	}
	return arns[0], arns[1]
}

// TestChannelDestinationRanges: a destination ingests from the log's
// head+1 when added and stops at the head when removed or when the
// channel is deleted; a range no event was appended in is dropped; the
// whole state survives a reopen, the deleted channel included (the Lake
// still takes its events) but invisible to the API.
func TestChannelDestinationRanges(t *testing.T) {
	dir := t.TempDir()
	clk := &storeClock{t: storeNow}
	c := openStores(t, dir, clk, nil)
	storeA, storeB := twoStores(t, c)
	var head logHead
	head.n.Store(10)
	ch, err := c.CreateChannel(newChannel("app"), []string{storeA}, head.Head)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.ChannelDestination{{Type: catalog.DestinationEventDataStore, Location: storeA, Ingest: []catalog.SeqRange{{From: 11}}}}
	if diff := cmp.Diff(want, ch.Destinations); diff != "" {
		t.Fatalf("created (-want +got):\n%s", diff)
	}
	head.n.Store(20)
	upd := func(dests ...string) catalog.Channel {
		t.Helper()
		out, err := c.UpdateChannel(ch.ID, head.Head, func(_ *catalog.Channel, d *[]string) error { *d = dests; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ch = upd(storeB) // A stops at 20, B starts at 21
	ch = upd(storeA) // B had no event: dropped; A starts again at 21
	head.n.Store(30)
	ch = upd(storeA, storeB)
	want = []catalog.ChannelDestination{
		{Type: catalog.DestinationEventDataStore, Location: storeA, Ingest: []catalog.SeqRange{{From: 11, To: 20}, {From: 21}}},
		{Type: catalog.DestinationEventDataStore, Location: storeB, Ingest: []catalog.SeqRange{{From: 31}}},
	}
	if diff := cmp.Diff(want, ch.Destinations); diff != "" {
		t.Fatalf("after updates (-want +got):\n%s", diff)
	}
	if got := ch.CurrentDestinations(); !cmp.Equal(got, []string{storeA, storeB}) {
		t.Errorf("CurrentDestinations = %v", got)
	}
	if got := c.ChannelsDeliveringTo(storeB); len(got) != 1 || got[0] != ch.ARN() {
		t.Errorf("ChannelsDeliveringTo(B) = %+v", got)
	}
	head.n.Store(40)
	if err := c.DeleteChannel(ch.ID, head.Head); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.GetChannel(chAccount, ch.ID); ok {
		t.Error("a deleted channel is still found")
	}
	if got := c.ChannelsDeliveringTo(storeA); len(got) != 0 {
		t.Errorf("a deleted channel still delivers: %+v", got)
	}
	c2 := openStores(t, dir, clk, nil)
	all := c2.AllChannels()
	want = []catalog.ChannelDestination{
		{Type: catalog.DestinationEventDataStore, Location: storeA, Ingest: []catalog.SeqRange{{From: 11, To: 20}, {From: 21, To: 40}}},
		{Type: catalog.DestinationEventDataStore, Location: storeB, Ingest: []catalog.SeqRange{{From: 31, To: 40}}},
	}
	if len(all) != 1 || !all[0].Deleted() {
		t.Fatalf("after reopen: %+v", all)
	}
	if diff := cmp.Diff(want, all[0].Destinations); diff != "" {
		t.Errorf("after delete and reopen (-want +got):\n%s", diff)
	}
	if got := c2.ListChannels(chAccount, ""); len(got) != 0 {
		t.Errorf("ListChannels shows a deleted channel: %+v", got)
	}
	// The name is free again.
	if _, err := c2.CreateChannel(newChannel("app"), []string{storeA}, head.Head); err != nil {
		t.Errorf("re-creating a deleted channel's name: %v", err)
	}
}

// TestChannelNamesAndQuota: names are unique among an account's live
// channels in a region; the 26th channel of a region is refused.
func TestChannelNamesAndQuota(t *testing.T) {
	c := openStores(t, t.TempDir(), &storeClock{t: storeNow}, func(o *catalog.Options) { o.MaxChannelsPerRegion = 2 })
	storeA, _ := twoStores(t, c)
	var head logHead
	a, err := c.CreateChannel(newChannel("a"), []string{storeA}, head.Head)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateChannel(newChannel("a"), []string{storeA}, head.Head); !errors.Is(err, catalog.ErrChannelExists) {
		t.Errorf("duplicate name: %v", err)
	}
	other := newChannel("a")
	other.HomeRegion = "eu-west-1"
	if _, err := c.CreateChannel(other, nil, head.Head); err != nil {
		t.Errorf("same name in another region: %v", err)
	}
	b, err := c.CreateChannel(newChannel("b"), nil, head.Head)
	if err != nil {
		t.Fatal(err)
	}
	var le *catalog.LimitError
	if _, err := c.CreateChannel(newChannel("c"), nil, head.Head); !errors.As(err, &le) || !errors.Is(err, catalog.ErrChannelLimit) || errors.Is(err, catalog.ErrLimit) || le.Max != 2 {
		t.Errorf("third channel: %v", err)
	}
	if _, err := c.UpdateChannel(b.ID, head.Head, func(ch *catalog.Channel, _ *[]string) error { ch.Name = "a"; return nil }); !errors.Is(err, catalog.ErrChannelExists) {
		t.Errorf("rename onto a taken name: %v", err)
	}
	if err := c.DeleteChannel(a.ID, head.Head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateChannel(newChannel("c"), nil, head.Head); err != nil {
		t.Errorf("a deleted channel still counts against the quota: %v", err)
	}
	if err := c.DeleteChannel(a.ID, head.Head); !errors.Is(err, catalog.ErrChannelNotFound) {
		t.Errorf("deleting twice: %v", err)
	}
}

// TestChannelLookup: by id or ARN in the owner's account; ChannelByARN
// finds it for any account; an ARN naming another region or account does
// not.
func TestChannelLookup(t *testing.T) {
	c := openStores(t, t.TempDir(), &storeClock{t: storeNow}, nil)
	var head logHead
	ch, err := c.CreateChannel(newChannel("a"), nil, head.Head)
	if err != nil {
		t.Fatal(err)
	}
	arn := ch.ARN()
	for _, ref := range []string{ch.ID, arn} {
		if _, ok := c.GetChannel(chAccount, ref); !ok {
			t.Errorf("GetChannel(%s) not found", ref)
		}
		if _, ok := c.GetChannel("999999999999", ref); ok {
			t.Errorf("GetChannel(%s) found in another account", ref)
		}
	}
	if _, ok := c.ChannelByARN(arn); !ok {
		t.Error("ChannelByARN not found")
	}
	for _, bad := range []string{ch.ID, strings.Replace(arn, "us-east-1", "us-west-2", 1), strings.Replace(arn, chAccount, "999999999999", 1)} {
		if _, ok := c.ChannelByARN(bad); ok {
			t.Errorf("ChannelByARN(%s) found", bad)
		}
	}
}

// TestChannelIngestionStatus: statuses are kept in memory, written at
// most once per interval (the first call writes, the next ones within the
// second wait for a timer), written on Close and read back on Open.
func TestChannelIngestionStatus(t *testing.T) {
	dir := t.TempDir()
	clk := &storeClock{t: storeNow}
	c := openStores(t, dir, clk, nil)
	var head logHead
	ch, err := c.CreateChannel(newChannel("a"), nil, head.Head)
	if err != nil {
		t.Fatal(err)
	}
	read := func() map[string]catalog.Ingestion {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, catalog.ChannelStatusFileName))
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Channels map[string]catalog.Ingestion }
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		return f.Channels
	}
	t1 := storeNow.Add(time.Hour)
	if err := c.RecordIngestion(ch.ARN(), catalog.IngestionAttempt{Time: t1, EventID: "e1"}); err != nil {
		t.Fatal(err)
	}
	if got := read()[ch.ARN()]; got.LatestIngestionSuccessEventID != "e1" {
		t.Fatalf("first call not written: %+v", got)
	}
	// Within the interval (the clock has not moved): memory only.
	if err := c.RecordIngestion(ch.ARN(), catalog.IngestionAttempt{Time: t1.Add(time.Second), ErrorCode: "InvalidChecksum"}); err != nil {
		t.Fatal(err)
	}
	want := catalog.Ingestion{
		LatestIngestionSuccessTime: t1, LatestIngestionSuccessEventID: "e1",
		LatestIngestionErrorCode:   "InvalidChecksum",
		LatestIngestionAttemptTime: t1.Add(time.Second),
	}
	if diff := cmp.Diff(want, c.ChannelIngestion(ch.ARN())); diff != "" {
		t.Errorf("in memory (-want +got):\n%s", diff)
	}
	if got := read()[ch.ARN()]; got.LatestIngestionErrorCode != "" {
		t.Errorf("written within the interval: %+v", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openStores(t, dir, clk, nil)
	if diff := cmp.Diff(want, c2.ChannelIngestion(ch.ARN())); diff != "" {
		t.Errorf("after Close and reopen (-want +got):\n%s", diff)
	}
	// A damaged status file is a problem, not a refusal.
	if err := os.WriteFile(filepath.Join(dir, catalog.ChannelStatusFileName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	c3 := openStores(t, dir, clk, nil)
	if p := c3.Problems(); len(p) != 1 || !strings.Contains(p[0], "is damaged") {
		t.Errorf("Problems = %q", p)
	}
}

// TestDamagedChannelCatalogue: Open refuses entries that break the
// format's rules, naming the file and the entry.
func TestDamagedChannelCatalogue(t *testing.T) {
	for name, entry := range map[string]string{
		"bad id":         `{"id":"a/b","name":"x","account":"123456789012","homeRegion":"us-east-1","source":"Custom","destinations":[]}`,
		"partner source": `{"id":"a","name":"x","account":"123456789012","homeRegion":"us-east-1","source":"Okta","destinations":[]}`,
		"open but deleted": `{"id":"a","name":"x","account":"123456789012","homeRegion":"us-east-1","source":"Custom","deletedAt":"2026-01-01T00:00:00Z",
			"destinations":[{"type":"EVENT_DATA_STORE","location":"` + storeA + `","ingest":[{"from":1,"to":0}]}]}`,
		"ranges out of order": `{"id":"a","name":"x","account":"123456789012","homeRegion":"us-east-1","source":"Custom",
			"destinations":[{"type":"EVENT_DATA_STORE","location":"` + storeA + `","ingest":[{"from":5,"to":9},{"from":3,"to":0}]}]}`,
		"not a store": `{"id":"a","name":"x","account":"123456789012","homeRegion":"us-east-1","source":"Custom",
			"destinations":[{"type":"AWS_SERVICE","location":"config","ingest":[{"from":1,"to":0}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, catalog.ChannelsFileName)
			if err := os.WriteFile(path, []byte(`{"version":1,"channels":[`+entry+`]}`), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := catalog.Open(dir, catalog.DefaultOptions())
			if err == nil || !strings.Contains(err.Error(), path+" is damaged") || !strings.Contains(err.Error(), "channels[0]") {
				t.Errorf("Open: %v", err)
			}
		})
	}
}

// TestChannelStoreGuards: a destination must be a live store of the
// channel's account; a store a live channel delivers to cannot be
// deleted, and can once the channel no longer delivers to it.
func TestChannelStoreGuards(t *testing.T) {
	c := openStores(t, t.TempDir(), &storeClock{t: storeNow}, nil)
	a, b := twoStores(t, c)
	var head logHead
	if _, err := c.CreateChannel(newChannel("x"), []string{a + "0"}, head.Head); !errors.Is(err, catalog.ErrDataStoreNotFound) {
		t.Errorf("unknown destination: %v", err)
	}
	other := newChannel("x")
	other.Account = "999999999999"
	if _, err := c.CreateChannel(other, []string{a}, head.Head); !errors.Is(err, catalog.ErrDataStoreNotFound) {
		t.Errorf("another account's store: %v", err)
	}
	ch, err := c.CreateChannel(newChannel("x"), []string{a}, head.Head)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(a, "arn:aws:cloudtrail:us-east-1:"+acct+":eventdatastore/")
	if _, err := c.UpdateDataStore(id, head.Head, setStatus(catalog.StatusPendingDeletion)); !errors.Is(err, catalog.ErrStoreHasChannel) || !strings.Contains(err.Error(), ch.ARN()) {
		t.Errorf("deleting a destination: %v", err)
	}
	if _, err := c.UpdateChannel(ch.ID, head.Head, func(_ *catalog.Channel, d *[]string) error { *d = []string{b}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateDataStore(id, head.Head, setStatus(catalog.StatusPendingDeletion)); err != nil {
		t.Errorf("deleting a former destination: %v", err)
	}
	if _, err := c.UpdateChannel(ch.ID, head.Head, func(_ *catalog.Channel, d *[]string) error { *d = []string{a}; return nil }); !errors.Is(err, catalog.ErrDataStoreNotFound) {
		t.Errorf("a store pending deletion as destination: %v", err)
	}
}
