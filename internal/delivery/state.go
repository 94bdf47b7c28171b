package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// stateFile and spoolDir are the names inside the delivery directory; see
// docs/format/delivery-state.md.
const (
	stateFile = "state.json"
	spoolDir  = "spool"
	spoolExt  = ".json.gz"
)

// state is state.json.
type state struct {
	Version    int    `json:"version"`
	Checkpoint uint64 `json:"checkpoint"`
	// Carry holds delivered files of a chain that has not started yet
	// (their epoch's chain waits for the previous one's final digest).
	Carry  map[string][]carried `json:"carry,omitempty"`
	Marks  map[string]uint64    `json:"marks"`
	Spool  []*spoolFile         `json:"spool"`
	Chains map[string]*chain    `json:"chains"`
	Status map[string]*Status   `json:"status"`
	Notes  []*note              `json:"notes"`
}

// spoolFile is a staged log file.
type spoolFile struct {
	ID       string    `json:"id"`
	Trail    string    `json:"trail"`
	Account  string    `json:"account"`
	Region   string    `json:"region"`
	Bucket   string    `json:"bucket"`
	Key      string    `json:"key"`
	Hash     string    `json:"hash"`
	Newest   time.Time `json:"newest"`
	Oldest   time.Time `json:"oldest"`
	Events   int       `json:"events"`
	Topic    string    `json:"topic,omitempty"`
	KMSKeyID string    `json:"kmsKeyId,omitempty"`
	Digest   bool      `json:"digest"`
	Staged   time.Time `json:"staged"`
	// FirstAck is when the oldest event of the file was read by delivery;
	// it measures delivery latency.
	FirstRead time.Time `json:"firstRead"`
	// Epoch is the trail's digest epoch when the file was staged: the
	// file goes into the digest chain of that epoch.
	Epoch time.Time `json:"epoch,omitzero"`
}

// chain is one digest chain: a trail's digests for one region.
type chain struct {
	Trail      string           `json:"trail"`
	Account    string           `json:"account"`
	Region     string           `json:"region"`
	Start      time.Time        `json:"start"`
	Prev       *prevDigest      `json:"prev"`
	Pending    []digest.LogFile `json:"pending"`
	Closing    bool             `json:"closing,omitempty"`
	ClosingEnd time.Time        `json:"closingEnd,omitzero"`
	// Where the chain's digests go: the trail's settings, kept current
	// while it exists, so a final digest can be written after DeleteTrail.
	// Epoch is the trail's digest epoch the chain belongs to.
	Epoch      time.Time `json:"epoch,omitzero"`
	Bucket     string    `json:"bucket"`
	Prefix     string    `json:"prefix,omitempty"`
	TrailName  string    `json:"trailName"`
	HomeRegion string    `json:"homeRegion"`
	KMSKeyID   string    `json:"kmsKeyId,omitempty"`
}

// place copies where digests go from the trail.
func (c *chain) place(t *catalog.Trail) {
	c.Bucket, c.Prefix, c.TrailName, c.HomeRegion, c.KMSKeyID = t.S3BucketName, t.S3KeyPrefix, t.Name, t.HomeRegion, t.KmsKeyID
}

// prevDigest is what the next digest of a chain points back to.
type prevDigest struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	Hash      string `json:"hash"`
	Signature string `json:"signature"`
}

// carried is a delivered file waiting for its epoch's chain.
type carried struct {
	Epoch time.Time      `json:"epoch"`
	File  digest.LogFile `json:"file"`
}

// note is a queued notification.
type note struct {
	Trail  string    `json:"trail"`
	Region string    `json:"region"`
	Topic  string    `json:"topic"`
	Bucket string    `json:"bucket"`
	Keys   []string  `json:"keys"`
	Queued time.Time `json:"queued"`
}

// Status is what GetTrailStatus reports about one trail in one region.
// Zero times and empty errors are left out of the response.
type Status struct {
	LatestDeliveryTime           time.Time `json:"latestDeliveryTime,omitzero"`
	LatestDeliveryAttemptTime    time.Time `json:"latestDeliveryAttemptTime,omitzero"`
	LatestDeliveryAttemptSucceed time.Time `json:"latestDeliveryAttemptSucceeded,omitzero"`
	LatestDeliveryError          string    `json:"latestDeliveryError,omitempty"`
	LatestNotificationTime       time.Time `json:"latestNotificationTime,omitzero"`
	LatestNotificationAttempt    time.Time `json:"latestNotificationAttemptTime,omitzero"`
	LatestNotificationSucceed    time.Time `json:"latestNotificationAttemptSucceeded,omitzero"`
	LatestNotificationError      string    `json:"latestNotificationError,omitempty"`
	LatestDigestDeliveryTime     time.Time `json:"latestDigestDeliveryTime,omitzero"`
	LatestDigestDeliveryError    string    `json:"latestDigestDeliveryError,omitempty"`
	// DeliveredFiles and DeliveredEvents count since the trail was created.
	DeliveredFiles  int64 `json:"deliveredFiles"`
	DeliveredEvents int64 `json:"deliveredEvents"`
}

func bufKey(trail, account, region string) string { return trail + "|" + account + "|" + region }
func chainKey(trail, region string) string        { return trail + "|" + region }

// trailOfKey returns the trail ARN part of a bufKey or chainKey.
func trailOfKey(k string) string {
	if i := strings.IndexByte(k, '|'); i >= 0 {
		return k[:i]
	}
	return k
}

// lostState reports a delivery directory whose state.json is gone while
// its spool still holds staged log files: their events were taken out of
// the log's hold when they were staged, so starting over would lose them
// to the trail without a word.
func lostState(dir string) error {
	ents, _ := os.ReadDir(filepath.Join(dir, spoolDir))
	if len(ents) == 0 {
		return nil
	}
	return fmt.Errorf("%s is missing but %s holds %d staged log files: restore state.json from a backup, or remove the spool directory to restart delivery from the newest event (the events in those files then never reach their trails)",
		filepath.Join(dir, stateFile), filepath.Join(dir, spoolDir), len(ents))
}

// loadState reads state.json and removes spool files it does not list.
// (Temporary files of an interrupted state.json write are datadir.Open's
// to remove.)
func loadState(dir string) (*state, error) {
	st := &state{Version: 1}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := lostState(dir); err != nil {
			return nil, fmt.Errorf("load delivery state: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("load delivery state: %w", err)
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("load delivery state: %s is damaged (%v); restore it from a backup, or remove it to restart delivery from the newest event", filepath.Join(dir, stateFile), err)
		}
	}
	if st.Marks == nil {
		st.Marks = map[string]uint64{}
	}
	if st.Chains == nil {
		st.Chains = map[string]*chain{}
	}
	if st.Status == nil {
		st.Status = map[string]*Status{}
	}
	for k, c := range st.Chains {
		if c == nil {
			delete(st.Chains, k)
		}
	}
	for k, s := range st.Status {
		if s == nil {
			delete(st.Status, k)
		}
	}
	notes := st.Notes[:0]
	for _, n := range st.Notes {
		if n != nil {
			notes = append(notes, n)
		}
	}
	st.Notes = notes
	listed := map[string]bool{}
	for _, f := range st.Spool {
		if f == nil || !alnum(f.ID) {
			return nil, fmt.Errorf("load delivery state: %s lists a staged file with a bad id; the delivery directory was changed by hand", filepath.Join(dir, stateFile))
		}
		listed[f.ID+spoolExt] = true
		if _, err := os.Stat(filepath.Join(dir, spoolDir, f.ID+spoolExt)); err != nil {
			return nil, fmt.Errorf("load delivery state: staged file %s is missing (%v); the delivery directory was changed by hand", f.ID, err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, spoolDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load delivery state: %w", err)
	}
	for _, e := range ents {
		if !listed[e.Name()] {
			if err := os.Remove(filepath.Join(dir, spoolDir, e.Name())); err != nil {
				return nil, fmt.Errorf("load delivery state: remove unlisted staged file: %w", err)
			}
		}
	}
	return st, nil
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// clone returns a copy of st that shares nothing st's users change: the
// maps, the slices and every chain and status are copied. Spool entries
// and notes are shared: they are never changed once in a state (they are
// only added and removed).
func (st *state) clone() *state {
	c := *st
	c.Marks = maps.Clone(st.Marks)
	c.Spool = slices.Clone(st.Spool)
	c.Notes = slices.Clone(st.Notes)
	if st.Carry != nil {
		c.Carry = make(map[string][]carried, len(st.Carry))
		for k, v := range st.Carry {
			c.Carry[k] = slices.Clone(v)
		}
	}
	c.Chains = make(map[string]*chain, len(st.Chains))
	for k, v := range st.Chains {
		ch := *v
		ch.Pending = slices.Clone(v.Pending)
		if v.Prev != nil {
			prev := *v.Prev
			ch.Prev = &prev
		}
		c.Chains[k] = &ch
	}
	c.Status = make(map[string]*Status, len(st.Status))
	for k, v := range st.Status {
		s := *v
		c.Status[k] = &s
	}
	return &c
}

// errUnchanged, returned by an update function, means it changed nothing:
// nothing is written and update returns nil.
var errUnchanged = errors.New("delivery state unchanged")

// updateLocked is how the engine changes its state: fn changes a copy,
// the copy is written to state.json, and only then does it replace the
// engine's state. When fn or the write fails, the engine's state is as it
// was (fn's error is returned; errUnchanged is not an error). e.mu MUST be
// held.
func (e *Engine) updateLocked(fn func(st *state) error) error {
	next := e.st.clone()
	if err := fn(next); errors.Is(err, errUnchanged) {
		return nil
	} else if err != nil {
		return err
	}
	if err := e.saveLocked(next); err != nil {
		return err
	}
	e.st = next
	e.committedLocked()
	return nil
}

// saveLocked writes st to state.json (write-temp, fsync, rename, fsync
// the directory).
func (e *Engine) saveLocked(st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save delivery state: %w", err)
	}
	if err := e.fs.WriteAtomic(filepath.Join(e.dir, stateFile), b); err != nil {
		return fmt.Errorf("save delivery state: %w", err)
	}
	return nil
}

func (st *state) status(k string) *Status {
	s := st.Status[k]
	if s == nil {
		s = &Status{}
		st.Status[k] = s
	}
	return s
}

// Report is what Check found in a delivery directory.
type Report struct {
	Checkpoint uint64 // the last WAL seq delivery has handled
	Staged     int    // files staged, not yet in their buckets
	Chains     int    // open digest chains
	Notes      int    // notifications waiting
	Problems   []string
}

// Check reads the delivery directory without changing it (for fsck): the
// state must parse and every staged file it lists must be there. Anything
// stray is reported too: staged files it does not list (Open deletes them)
// and files that are not delivery's (left alone). Temporary files of an
// interrupted state write are not: datadir lists and removes those.
func Check(dir string) Report {
	var r Report
	r.Problems = strays(dir)
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		if err := lostState(dir); err != nil {
			r.Problems = append(r.Problems, err.Error())
		}
		return r
	}
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("delivery state: %v", err))
		return r
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("delivery state %s is damaged (%v); restore it from a backup, or remove it to restart delivery from the newest event", filepath.Join(dir, stateFile), err))
		return r
	}
	r.Checkpoint, r.Staged, r.Chains, r.Notes = st.Checkpoint, len(st.Spool), len(st.Chains), len(st.Notes)
	listed := map[string]bool{}
	for _, f := range st.Spool {
		if f == nil || !alnum(f.ID) {
			r.Problems = append(r.Problems, "delivery state lists a staged file with a bad id")
			continue
		}
		listed[f.ID+spoolExt] = true
		if _, err := os.Stat(filepath.Join(dir, spoolDir, f.ID+spoolExt)); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("staged log file %s for s3://%s/%s is missing: its events are lost to the trail; restore the file or remove its entry", f.ID, f.Bucket, f.Key))
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, spoolDir))
	for _, e := range ents {
		if !listed[e.Name()] {
			r.Problems = append(r.Problems, fmt.Sprintf("spool file %s is not in the delivery state (left by a crash; the next start deletes it)", e.Name()))
		}
	}
	return r
}

// strays reports the entries of the delivery directory that are neither
// state.json, the spool, nor a temporary file of a state.json write.
func strays(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil // a missing directory is a new one
	}
	temps, _ := fileutil.Temps(dir)
	var out []string
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if e.Name() == stateFile || e.Name() == spoolDir && e.IsDir() || slices.Contains(temps, path) {
			continue
		}
		out = append(out, fmt.Sprintf("%s is not a delivery file (not written by OpenTrail; left alone)", path))
	}
	return out
}
