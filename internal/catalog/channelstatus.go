package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// ChannelStatusFileName holds every channel's ingestion status
// (docs/format/channels.md).
const ChannelStatusFileName = "channelstatus.json"

// IngestionWriteInterval is the least time between two writes of
// channelstatus.json: PutAuditEvents changes a status on every call, and
// a crash loses at most this much of them.
const IngestionWriteInterval = time.Second

// Ingestion is a channel's ingestion status (GetChannel's
// IngestionStatus).
type Ingestion struct {
	LatestIngestionSuccessTime    time.Time `json:"latestIngestionSuccessTime,omitzero"`
	LatestIngestionSuccessEventID string    `json:"latestIngestionSuccessEventID,omitempty"`
	LatestIngestionErrorCode      string    `json:"latestIngestionErrorCode,omitempty"`
	LatestIngestionAttemptTime    time.Time `json:"latestIngestionAttemptTime,omitzero"`
	LatestIngestionAttemptEventID string    `json:"latestIngestionAttemptEventID,omitempty"`
}

// IngestionAttempt is what one PutAuditEvents call tells a channel's
// status: when it was made, the eventID of the last event it stored (""
// for none) and its error code ("" for none).
type IngestionAttempt struct {
	Time      time.Time
	EventID   string
	ErrorCode string
}

// ingestionFile is the JSON document.
type ingestionFile struct {
	Version  int                  `json:"version"`
	Channels map[string]Ingestion `json:"channels"`
}

// ingestion keeps the statuses in memory and writes them at most once per
// IngestionWriteInterval.
type ingestion struct {
	path string

	mu      sync.Mutex
	byARN   map[string]Ingestion
	dirty   bool
	lastW   time.Time
	timer   *time.Timer
	closed  bool
	problem string
	// writeMu serializes writes of the file.
	writeMu sync.Mutex
}

// loadIngestion reads DIR/channelstatus.json; a missing file is no
// status, and a damaged one is noted ([Catalog.Problems]) and ignored.
func (c *Catalog) loadIngestion(dir string) {
	c.ingest = &ingestion{path: filepath.Join(dir, ChannelStatusFileName), byARN: map[string]Ingestion{}}
	b, err := os.ReadFile(c.ingest.path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var f ingestionFile
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		c.ingest.problem = fmt.Sprintf("%s is damaged (%v): channels' ingestion statuses start empty; remove it to silence this", c.ingest.path, err)
		return
	}
	for arn, st := range f.Channels {
		c.ingest.byARN[arn] = st
	}
}

// Problems lists what Open found wrong but could live with: a damaged
// channelstatus.json. fsck reports them; serve logs them.
func (c *Catalog) Problems() []string {
	if c.ingest.problem == "" {
		return nil
	}
	return []string{c.ingest.problem}
}

// ChannelIngestion returns the ingestion status of the channel with this
// ARN (zero when no call was made).
func (c *Catalog) ChannelIngestion(arn string) Ingestion {
	c.ingest.mu.Lock()
	defer c.ingest.mu.Unlock()
	return c.ingest.byARN[arn]
}

// RecordIngestion notes a PutAuditEvents call on the channel with this
// ARN. The status is written to channelstatus.json at most once per
// IngestionWriteInterval, by the call itself when the last write is that
// old, else by a timer; [Catalog.Close] writes what is left. Errors of
// the write are returned by the call that writes (the status stays in
// memory and is written again next time).
func (c *Catalog) RecordIngestion(arn string, a IngestionAttempt) error {
	g := c.ingest
	g.mu.Lock()
	st := g.byARN[arn]
	st.LatestIngestionAttemptTime, st.LatestIngestionAttemptEventID = a.Time.UTC(), a.EventID
	if a.EventID != "" {
		st.LatestIngestionSuccessTime, st.LatestIngestionSuccessEventID = a.Time.UTC(), a.EventID
	}
	if a.ErrorCode != "" {
		st.LatestIngestionErrorCode = a.ErrorCode
	}
	g.byARN[arn] = st
	g.dirty = true
	now := c.now()
	due := !g.closed && now.Sub(g.lastW) >= IngestionWriteInterval
	if !due && g.timer == nil && !g.closed {
		g.timer = time.AfterFunc(IngestionWriteInterval, func() { _ = c.flushIngestion() })
	}
	g.mu.Unlock()
	if due {
		return c.flushIngestion()
	}
	return nil
}

// flushIngestion writes the statuses when they changed since the last
// write. Only channels the catalogue knows are written.
func (c *Catalog) flushIngestion() error {
	g := c.ingest
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	g.mu.Lock()
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if !g.dirty {
		g.mu.Unlock()
		return nil
	}
	f := ingestionFile{Version: 1, Channels: make(map[string]Ingestion, len(g.byARN))}
	c.mu.RLock()
	for arn, st := range g.byARN {
		if c.channelLocked(arn) != nil {
			f.Channels[arn] = st
		}
	}
	c.mu.RUnlock()
	g.dirty, g.lastW = false, c.now()
	g.mu.Unlock()
	b, err := json.MarshalIndent(f, "", "  ")
	if err == nil {
		err = fileutil.WriteFileAtomic(g.path, append(b, '\n'), 0o644)
	}
	if err != nil {
		g.mu.Lock()
		g.dirty = true
		g.mu.Unlock()
		return fmt.Errorf("save channel ingestion status: %w", err)
	}
	return nil
}

// Close writes the channels' ingestion statuses if they changed and stops
// the timer that would; later statuses are kept in memory only. It is
// safe to call twice.
func (c *Catalog) Close() error {
	c.ingest.mu.Lock()
	c.ingest.closed = true
	c.ingest.mu.Unlock()
	return c.flushIngestion()
}
