package daemon

import (
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/datadir"
)

// Every follower datadir names runs in the daemon, in one registry, and
// fsck has a check and a checkpoint reader for it: adding a follower in
// one place and not the others fails here.
func TestFollowerRegistry(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	d, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var running []string
	for _, f := range d.follow.list {
		running = append(running, f.name)
	}
	if !slices.Equal(running, datadir.Followers) {
		t.Errorf("the daemon runs followers %v, datadir names %v", running, datadir.Followers)
	}
	for _, name := range datadir.Followers {
		if followerChecks[name] == nil || followerCheckpoints[name] == nil {
			t.Errorf("follower %s has no fsck check or checkpoint reader", name)
		}
	}
	if len(followerChecks) != len(datadir.Followers) || len(followerCheckpoints) != len(datadir.Followers) {
		t.Errorf("fsck knows %d/%d followers, datadir names %d", len(followerChecks), len(followerCheckpoints), len(datadir.Followers))
	}
}
