package fileutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Checkpoint is a follower's durable checkpoint: the seq of the event log
// up to which it has done its work, in a small JSON file
// {"version":1,"checkpoint":N} replaced atomically (the format pages of
// the engines that use it describe the file). It is safe for concurrent
// use.
type Checkpoint struct {
	path string
	mu   sync.Mutex
	seq  uint64
	ok   bool
}

type checkpointFile struct {
	Version    int    `json:"version"`
	Checkpoint uint64 `json:"checkpoint"`
}

// OpenCheckpoint reads the checkpoint at path; a missing file is no
// checkpoint yet. A file that does not parse, or of another version, is
// an error naming it.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	c := &Checkpoint{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	var f checkpointFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("%s is damaged or of an unknown version; `opentrail fsck` says more", path)
	}
	c.seq, c.ok = f.Checkpoint, true
	return c, nil
}

// Get returns the checkpoint and whether there is one.
func (c *Checkpoint) Get() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, c.ok
}

// Save writes seq durably, then makes it the checkpoint.
func (c *Checkpoint) Save(seq uint64) error {
	b, _ := json.Marshal(checkpointFile{Version: 1, Checkpoint: seq})
	if err := WriteFileAtomic(c.path, b, 0o644); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	c.mu.Lock()
	c.seq, c.ok = seq, true
	c.mu.Unlock()
	return nil
}
