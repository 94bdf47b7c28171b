// Package datadir owns an OpenTrail data directory: its tree (which
// component keeps its files where), its lock, the settings it keeps between
// runs (settings.json), the key that signs pagination tokens (token.key),
// and the names of the event log's followers. Every file in the tree has a
// page under docs/format/; docs/format/README.md is the index.
//
// A process that works on a data directory opens it with [Open], which
// takes the directory's lock (one process at a time: serve, import or
// fsck) and removes the temporary files an interrupted atomic write left.
// The components then open their own parts at the paths named here.
package datadir

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// The tree, relative to the data directory. Each entry has one owner.
const (
	EventsDir       = "events"        // the event log (package store)
	WALDir          = "events/wal"    // its write-ahead log (package store/wal)
	IndexDir        = "events/index"  // event history (package history, store/index)
	TrailsDir       = "trails"        // the catalogue of trails and event data stores (package catalog)
	KeysDir         = "keys"          // digest signing keys (package keyring)
	DeliveryDir     = "delivery"      // trail delivery's state and spool (package delivery)
	BucketsDir      = "buckets"       // the embedded object store (package objstore/fsbucket)
	LakeDir         = "lake"          // CloudTrail Lake: event data stores and queries (package lake)
	InsightsDir     = "insights"      // the Insights detector's state (package insights)
	SNSDir          = "sns"           // SNS topics, subscriptions, signing key, delivery queue (package sns)
	EventBusDir     = "eventbus"      // EventBridge rules, checkpoint and outbox (package eventbus)
	LogsDir         = "logs"          // CloudWatch Logs groups, events and checkpoint (package cwlogs)
	CloudWatchDir   = "cloudwatch"    // CloudWatch metrics and alarms (package cwmetrics)
	AccountsFile    = "accounts.json" // accounts and keys (package identity)
	CredentialsFile = "credentials"   // the same keys for AWS clients (package identity)
	SettingsFile    = "settings.json" // this package
	TokenKeyFile    = "token.key"     // this package
	// GeneratedQueriesFile keeps GenerateQuery's aliases (package lake/querygen).
	GeneratedQueriesFile = "generated-queries.jsonl"
	LockFile             = "LOCK" // this package (package store/fileutil's lock file)
)

// The followers of the event log, by the names their checkpoints are
// registered under in the store. The daemon runs one engine for each.
const (
	HistoryFollower  = "history"
	DeliveryFollower = "delivery"
	LakeFollower     = "lake"
	InsightsFollower = "insights"
	EventBusFollower = "eventbus"
	LogsFollower     = "logs"
)

// Followers lists every follower of the event log.
var Followers = []string{HistoryFollower, DeliveryFollower, LakeFollower, InsightsFollower, EventBusFollower, LogsFollower}

// Dir is an open, locked data directory.
type Dir struct {
	root string
	lock *fileutil.Lock
	// removed lists the temporary files Open removed.
	removed []string
}

// atomicDirs returns the directories whose files are replaced with
// fileutil.WriteFileAtomic; a kill can leave its temporary files there.
func atomicDirs(root string) []string {
	dirs := []string{root}
	for _, sub := range []string{TrailsDir, DeliveryDir, IndexDir, LakeDir, InsightsDir, EventBusDir, LogsDir, CloudWatchDir, SNSDir, SNSDir + "/queue"} {
		dirs = append(dirs, filepath.Join(root, sub))
	}
	regions, _ := os.ReadDir(filepath.Join(root, KeysDir)) // one directory per key set
	for _, r := range regions {
		if r.IsDir() {
			dirs = append(dirs, filepath.Join(root, KeysDir, r.Name()))
		}
	}
	return dirs
}

// Open creates the data directory root if needed, takes its lock (a
// *fileutil.LockedError when another process holds it) and removes the
// temporary files interrupted atomic writes left in the tree.
func Open(root string, log *slog.Logger) (*Dir, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := fileutil.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lock, err := fileutil.LockDir(root)
	if err != nil {
		return nil, err
	}
	d := &Dir{root: root, lock: lock}
	for _, dir := range atomicDirs(root) {
		removed, err := fileutil.RemoveTemps(dir)
		d.removed = append(d.removed, removed...)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("data directory: %w", err), lock.Unlock())
		}
	}
	for _, p := range d.removed {
		log.Info("data directory: removed a temporary file an interrupted write left", "file", p)
	}
	return d, nil
}

// Lock takes the lock of the existing data directory root without changing
// anything in it (fsck).
func Lock(root string) (*Dir, error) {
	if st, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("data directory %s is not a directory", root)
	}
	lock, err := fileutil.LockDir(root)
	if err != nil {
		return nil, err
	}
	return &Dir{root: root, lock: lock}, nil
}

// Root is the data directory's path.
func (d *Dir) Root() string { return d.root }

// Path returns the path of rel (one of the tree's constants) inside the
// data directory.
func (d *Dir) Path(rel string) string { return filepath.Join(d.root, rel) }

// Removed lists the temporary files Open removed.
func (d *Dir) Removed() []string { return d.removed }

// Close releases the lock. It is safe to call twice.
func (d *Dir) Close() error {
	if d == nil {
		return nil
	}
	err := d.lock.Unlock()
	d.lock = nil
	return err
}

// Temps lists the temporary files of interrupted atomic writes in the
// tree of root, without removing them (fsck).
func Temps(root string) ([]string, error) {
	var out []string
	for _, dir := range atomicDirs(root) {
		t, err := fileutil.Temps(dir)
		if err != nil {
			return out, err
		}
		out = append(out, t...)
	}
	return out, nil
}
