package lake

import (
	"fmt"
	"path/filepath"

	"github.com/opentrail/opentrail/internal/lake/queries"
)

// Held is a store's file list at one MANIFEST generation, held for a
// reader outside the engine (federation's publisher): until Release, no
// file it lists is deleted, whatever compaction or retention unlists.
type Held struct {
	Generation uint64
	Dir        string // the store's directory; a file is Dir/File.Name
	Files      []File
	Release    func()
}

// HoldFiles returns the files the MANIFEST of store id lists now, held
// until the caller calls Release (exactly as a query holds its snapshot).
// It takes the store's lock only while it copies the list. A store that is
// not in the catalogue, or PENDING_DELETION, is queries.ErrStoreInactive.
func (e *Engine) HoldFiles(id string) (Held, error) {
	for _, spec := range e.opts.Stores.DataStores() {
		if spec.ID != id {
			continue
		}
		if spec.Deleted {
			break
		}
		s, err := e.open(spec)
		if err != nil {
			return Held{}, err
		}
		gen, files, release := s.hold(nil)
		return Held{Generation: gen, Dir: filepath.Clean(s.dir), Files: files, Release: release}, nil
	}
	return Held{}, fmt.Errorf("%w: %s", queries.ErrStoreInactive, id)
}
