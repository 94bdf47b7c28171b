package daemon

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/lake"
)

// TestChannelSources: every destination of every channel, deleted ones
// included, becomes a source of its store with the destination's ranges.
func TestChannelSources(t *testing.T) {
	storeA := "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/a"
	storeB := "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/b"
	live := catalog.Channel{ID: "c1", Account: "123456789012", HomeRegion: "us-east-1", Destinations: []catalog.ChannelDestination{
		{Type: catalog.DestinationEventDataStore, Location: storeA, Ingest: []catalog.SeqRange{{From: 5, To: 9}, {From: 20}}},
		{Type: catalog.DestinationEventDataStore, Location: storeB, Ingest: []catalog.SeqRange{{From: 7}}},
	}}
	gone := catalog.Channel{ID: "c2", Account: "123456789012", HomeRegion: "us-east-1", Destinations: []catalog.ChannelDestination{
		{Type: catalog.DestinationEventDataStore, Location: storeA, Ingest: []catalog.SeqRange{{From: 1, To: 3}}},
	}}
	got := channelSources([]catalog.Channel{live, gone})
	want := map[string][]lake.ChannelSource{
		storeA: {{ARN: live.ARN(), Ingest: []lake.Range{{From: 5, To: 9}, {From: 20}}}, {ARN: gone.ARN(), Ingest: []lake.Range{{From: 1, To: 3}}}},
		storeB: {{ARN: live.ARN(), Ingest: []lake.Range{{From: 7}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("channelSources (-want +got):\n%s", diff)
	}
}
