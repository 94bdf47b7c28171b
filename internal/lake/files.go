package lake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// manifestName is a store's manifest file (docs/format/lake.md).
const manifestName = "MANIFEST.json"

// File is one Parquet file of a store, as its MANIFEST lists it.
type File struct {
	Name    string    `json:"name"` // path under the store's directory
	Day     string    `json:"day"`  // UTC day of its rows, YYYY-MM-DD
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"`
	MinSeq  uint64    `json:"minSeq"`
	MaxSeq  uint64    `json:"maxSeq"`
	MinTime time.Time `json:"minTime"`
	MaxTime time.Time `json:"maxTime"`
	// SHA256 is the lowercase hex SHA-256 of the file's bytes: fsck and
	// the background scrub check it.
	SHA256 string `json:"sha256"`
}

// verify checks a listed file's size and hash.
func (s *storeFiles) verify(f File) error {
	path := filepath.Join(s.dir, f.Name)
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() != f.Bytes {
		return fmt.Errorf("%s is %d bytes, its MANIFEST says %d", path, st.Size(), f.Bytes)
	}
	if f.SHA256 == "" {
		return nil
	}
	sum, err := fileutil.SHA256(path)
	if err != nil {
		return err
	}
	if sum != f.SHA256 {
		return fmt.Errorf("%s does not have the SHA-256 its MANIFEST records: its bytes are damaged", path)
	}
	return nil
}

// manifest is MANIFEST.json.
type manifest struct {
	Version    int    `json:"version"`
	Store      string `json:"store"`
	Account    string `json:"account"`
	Checkpoint uint64 `json:"checkpoint"`
	Files      []File `json:"files"`
	Generation uint64 `json:"generation"`
	// Imports records each import's progress into the store, committed
	// with the files it wrote.
	Imports map[string]ImportMark `json:"imports,omitempty"`
}

// ImportMark is how far an import has got into a store: the source files
// it has finished (in its sorted file order) and the parts (files) it has
// written.
type ImportMark struct {
	Files int `json:"files"`
	Parts int `json:"parts"`
	// Round is the import's retry round the next two belong to: Retried
	// files of its retry list are done, those in RetryFailed failed again
	// (docs/format/lake.md).
	Round       int      `json:"round,omitempty"`
	Retried     int      `json:"retried,omitempty"`
	RetryFailed []string `json:"retryFailed,omitempty"`
}

// ErrDamaged means a store's files do not match its MANIFEST; the message
// says which and what to do.
var ErrDamaged = errors.New("lake: event data store files damaged")

// storeFiles is one event data store's directory: its manifest and the
// files queries may read. Its methods are safe for concurrent use.
type storeFiles struct {
	dir string
	log *slog.Logger
	// schema is the store's file schema, by its kind (set by
	// Engine.open; a store's kind never changes).
	schema *duck.Schema

	mu   sync.RWMutex
	man  manifest
	refs map[string]int // files held by running queries
	dead []string       // files no longer listed, deleted once unreferenced
	// aside names the dead files that go to quarantine instead (damaged
	// ones the scrub unlisted), with where: a query that read one before
	// the scrub found it keeps reading it where it was. asideDone has
	// where each went, or why it could not, for the scrub to report.
	aside     map[string]string
	asideDone map[string]asideResult
	// verified lists the files whose hash this process has checked.
	verified map[string]bool
	// blooms caches the eventid filters read so far (nil: unreadable);
	// bmu guards it (snapshot consults it under mu).
	bmu    sync.Mutex
	blooms map[string]*bloom
	// added is when this process last listed a new batch or import part
	// of each day (guarded by mu): compaction waits for a day to be quiet
	// before its final merge.
	added map[string]time.Time
}

// lastAdded returns when this process last listed a batch or import part
// of day (the zero time when it has not).
func (s *storeFiles) lastAdded(day string) time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.added[day]
}

// bloomOf returns the eventid filter of the listed file name, or nil when
// it is missing or damaged (the file is then read whatever the eventids).
func (s *storeFiles) bloomOf(name string) *bloom {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if b, ok := s.blooms[name]; ok {
		return b
	}
	var b *bloom
	p, err := os.ReadFile(filepath.Join(s.dir, name+bloomSuffix))
	if err == nil {
		b, err = unmarshalBloom(p)
	}
	if err != nil {
		s.log.Warn("lake: an eventid filter is missing or damaged; queries read the file until maintenance rewrites it", "file", filepath.Join(s.dir, name+bloomSuffix), "err", err)
	}
	s.blooms[name] = b
	return b
}

// openStoreFiles opens (or creates) the store's directory. Unlisted
// Parquet files that are provably leftovers of an interrupted write are
// removed; any other unlisted file is moved to quarantine. A listed file
// that is missing or has the wrong size is an ErrDamaged error, and so is
// a MANIFEST that is missing over existing files or does not parse.
func openStoreFiles(dir, quarantine, id, account string, log *slog.Logger) (*storeFiles, error) {
	s, err := readStoreFiles(dir, id, account, log)
	if err != nil {
		return nil, err
	}
	if s.man.Version == 0 { // a new store
		if err := fileutil.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("lake: %w", err)
		}
		s.man = manifest{Version: 1, Store: id, Account: account}
		if err := s.saveLocked(); err != nil {
			return nil, err
		}
	}
	if _, err := s.settle(quarantine, false); err != nil {
		return nil, err
	}
	return s, nil
}

// readStoreFiles reads the store's MANIFEST without changing anything. A
// store never written to (no MANIFEST, no Parquet file) has a zero
// manifest. A MANIFEST that is missing over existing files or does not
// parse is an ErrDamaged error: nothing tells which files made up the
// store, so neither the server nor a repair guesses.
func readStoreFiles(dir, id, account string, log *slog.Logger) (*storeFiles, error) {
	s := &storeFiles{dir: dir, log: log, refs: map[string]int{}, verified: map[string]bool{}, blooms: map[string]*bloom{}}
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if files := dataFiles(dir); len(files) > 0 {
			return nil, fmt.Errorf("%w: event data store %s: %s is missing but the store's directory holds %d files (%s, ...): restore the MANIFEST from a backup, or move the store's directory away to start the store empty; starting without it would drop them", ErrDamaged, id, filepath.Join(dir, manifestName), len(files), files[0])
		}
	case err != nil:
		return nil, fmt.Errorf("lake: %w", err)
	default:
		if err := json.Unmarshal(b, &s.man); err != nil || s.man.Version != 1 {
			why := fmt.Sprint(err)
			if err == nil {
				why = fmt.Sprintf("version %d, not 1", s.man.Version)
			}
			return nil, fmt.Errorf("%w: event data store %s: %s does not parse (%s); restore it from a backup, or move the store's directory away to start the store empty", ErrDamaged, id, filepath.Join(dir, manifestName), why)
		}
	}
	return s, nil
}

// settle removes the temporary files of interrupted MANIFEST writes and
// compares the directory with the manifest (check), returning what it
// did.
func (s *storeFiles) settle(quarantine string, keepLeftovers bool) ([]RepairAction, error) {
	temps, err := fileutil.RemoveTemps(s.dir)
	if err != nil {
		return nil, err
	}
	var acts []RepairAction
	for _, t := range temps {
		acts = append(acts, RepairAction{Store: s.man.Store, Path: filepath.Base(t), What: "removed, the temporary file of an interrupted MANIFEST write"})
	}
	more, err := s.check(quarantine, keepLeftovers)
	return append(acts, more...), err
}

// dataFiles lists the Parquet files under a store's directory.
func dataFiles(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// check compares the directory with the manifest (see openStoreFiles)
// and returns what it removed or moved to quarantine. With keepLeftovers,
// it moves even the provable leftovers to quarantine rather than deleting
// them: a repair trusts a MANIFEST it found damaged no further than that.
func (s *storeFiles) check(quarantine string, keepLeftovers bool) ([]RepairAction, error) {
	listed := map[string]File{}
	for _, f := range s.man.Files {
		listed[f.Name] = f
	}
	for _, f := range s.man.Files {
		st, err := os.Stat(filepath.Join(s.dir, f.Name))
		if err != nil {
			return nil, fmt.Errorf("%w: %s lists %s, which is missing (%v): restore it from a backup, or run `opentrail fsck --repair` to unlist it (its %d events are lost); `opentrail fsck` lists every such file", ErrDamaged, filepath.Join(s.dir, manifestName), f.Name, err, f.Rows)
		}
		if st.Size() != f.Bytes {
			return nil, fmt.Errorf("%w: %s is %d bytes, its MANIFEST says %d: restore it from a backup, or run `opentrail fsck --repair` to move it to quarantine (its %d events are lost)", ErrDamaged, filepath.Join(s.dir, f.Name), st.Size(), f.Bytes, f.Rows)
		}
	}
	var acts []RepairAction
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.dir, path)
		if d.IsDir() || rel == manifestName {
			return nil
		}
		if _, ok := listed[rel]; ok {
			return nil
		}
		if parquet, ok := strings.CutSuffix(rel, bloomSuffix); ok {
			if _, ok := listed[parquet]; ok {
				return nil
			}
			s.log.Info("lake: removing the eventid filter of a file the store no longer lists", "file", path)
			acts = append(acts, RepairAction{Store: s.man.Store, Path: rel, What: "removed, the eventid filter of a file the store no longer lists"})
			return os.Remove(path) // derived data of a removed file
		}
		if s.leftover(rel) && !keepLeftovers {
			s.log.Info("lake: removing the leftover of an interrupted write or of a removal", "file", path)
			acts = append(acts, RepairAction{Store: s.man.Store, Path: rel, What: "removed, the leftover of an interrupted write or of a removal (its events are in listed files or are written again)"})
			return os.Remove(path)
		}
		dst, err := setAside(path, s.quarantined(quarantine, rel))
		if err != nil {
			return err
		}
		s.log.Error("lake: a file the store's MANIFEST does not list was moved to quarantine", "file", path, "to", dst)
		acts = append(acts, RepairAction{Store: s.man.Store, Path: rel, Quarantine: dst, What: "not in the store's MANIFEST"})
		return nil
	})
	return acts, err
}

// quarantined is where a file of the store (rel, under its directory)
// goes in quarantine: quarantine/STORE-ID/ with the path's separators
// replaced by '_' (setAside adds a suffix if that name is taken).
func (s *storeFiles) quarantined(quarantine, rel string) string {
	return filepath.Join(quarantine, s.man.Store, strings.ReplaceAll(rel, string(filepath.Separator), "_"))
}

// setAside moves the file or directory at path to dst (in quarantine),
// or to dst.1, dst.2, … when that name is taken: nothing in quarantine is
// ever replaced. Both directories are synced, so the move is durable
// before a MANIFEST that no longer lists the file. It returns where the
// file went.
func setAside(path, dst string) (string, error) {
	if err := fileutil.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", fmt.Errorf("lake: quarantine: %w", err)
	}
	to := dst
	for i := 1; ; i++ {
		_, err := os.Lstat(to)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("lake: quarantine: %w", err)
		}
		to = fmt.Sprintf("%s.%d", dst, i)
	}
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("lake: quarantine: %w", err)
	}
	if err := errors.Join(fileutil.SyncDir(filepath.Dir(to)), fileutil.SyncDir(filepath.Dir(path))); err != nil {
		return to, fmt.Errorf("lake: quarantine: %w", err)
	}
	return to, nil
}

// leftover reports whether the unlisted file rel is provably the leftover
// of an interrupted write or of a removal. The MANIFEST is replaced
// atomically, and every file is listed by the commit that follows its
// write or by none, so an unlisted file of ours is either a write whose
// commit never happened or a file a later commit unlisted (compaction,
// retention) that was not deleted yet:
//   - a temporary file;
//   - a batch ('b'): its events are after the checkpoint (ingestion writes
//     them again) or were committed and have since been compacted or
//     expired;
//   - a compaction output ('c'): its inputs are still listed, or it was
//     itself replaced;
//   - an import part ('i') of an import the MANIFEST records: parts at or
//     after the import's mark are rewritten when it resumes, earlier ones
//     were committed and since removed.
//
// Anything else (a name we do not write, an import the MANIFEST does not
// know) is not ours to delete.
func (s *storeFiles) leftover(rel string) bool {
	base := filepath.Base(rel)
	if strings.HasPrefix(base, ".") && strings.HasSuffix(base, ".tmp") {
		return true
	}
	if id, _, ok := parseImportName(base); ok {
		_, known := s.man.Imports[id]
		return known
	}
	_, _, _, ok := parseFileName(base)
	return ok
}

// importName names an import's part.
func importName(day, id string, part int) string {
	return filepath.Join("day="+day, fmt.Sprintf("i-%s-%d.parquet", id, part))
}

// parseImportName parses the base name of an import part.
func parseImportName(base string) (id string, part int, ok bool) {
	name, found := strings.CutSuffix(base, ".parquet")
	if !found || !strings.HasPrefix(name, "i-") {
		return "", 0, false
	}
	name = name[2:]
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return name[:i], n, true
}

// fileName names a batch ('b') or compaction output ('c') file.
func fileName(kind byte, day string, lo, hi, gen uint64) string {
	name := fmt.Sprintf("%c-%d-%d", kind, lo, hi)
	if kind == 'c' {
		name += "-" + strconv.FormatUint(gen, 10)
	}
	return filepath.Join("day="+day, name+".parquet")
}

// parseFileName parses the base name of a Lake file.
func parseFileName(base string) (kind byte, lo, hi uint64, ok bool) {
	name, found := strings.CutSuffix(base, ".parquet")
	if !found || len(name) < 2 || name[1] != '-' || (name[0] != 'b' && name[0] != 'c') {
		return 0, 0, 0, false
	}
	p := strings.Split(name[2:], "-")
	if len(p) < 2 {
		return 0, 0, 0, false
	}
	lo, err1 := strconv.ParseUint(p[0], 10, 64)
	hi, err2 := strconv.ParseUint(p[1], 10, 64)
	if err1 != nil || err2 != nil || lo > hi {
		return 0, 0, 0, false
	}
	return name[0], lo, hi, true
}

// saveLocked writes the manifest atomically.
func (s *storeFiles) saveLocked() error {
	b, err := json.MarshalIndent(s.man, "", " ")
	if err != nil {
		return fmt.Errorf("lake: encode manifest: %w", err)
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(s.dir, manifestName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lake: save manifest: %w", err)
	}
	return nil
}

// checkpoint returns the store's checkpoint.
func (s *storeFiles) checkpoint() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.man.Checkpoint
}

// commit lists added files, unlists removed ones and sets the checkpoint
// (when not 0), in one manifest write. Removed files are deleted once no
// query holds them.
func (s *storeFiles) commit(added []File, removed []string, checkpoint uint64) error {
	return s.commitImport(added, removed, checkpoint, "", ImportMark{})
}

// importMark returns the import's progress into the store.
func (s *storeFiles) importMark(id string) ImportMark {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.man.Imports[id]
}

// commitImport is commit that also records import id's progress (when id
// is not "").
func (s *storeFiles) commitImport(added []File, removed []string, checkpoint uint64, id string, mark ImportMark) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.man
	for _, name := range removed {
		if !slices.ContainsFunc(old.Files, func(f File) bool { return f.Name == name }) {
			// Another commit replaced or dropped it first: listing the
			// replacement too would hold its events twice.
			return fmt.Errorf("lake: store %s: %s is no longer listed; nothing committed", old.Store, name)
		}
	}
	next := old
	if id != "" {
		next.Imports = make(map[string]ImportMark, len(old.Imports)+1)
		for k, v := range old.Imports {
			next.Imports[k] = v
		}
		next.Imports[id] = mark
	}
	next.Files = make([]File, 0, len(old.Files)+len(added))
	for _, f := range old.Files {
		if !slices.Contains(removed, f.Name) {
			next.Files = append(next.Files, f)
		}
	}
	next.Files = append(next.Files, added...)
	for _, f := range added {
		if kind := filepath.Base(f.Name)[0]; kind == 'b' || kind == 'i' {
			if s.added == nil {
				s.added = map[string]time.Time{}
			}
			s.added[f.Day] = time.Now()
		}
	}
	slices.SortFunc(next.Files, func(a, b File) int {
		if c := strings.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return int(a.MinSeq) - int(b.MinSeq)
	})
	if checkpoint > next.Checkpoint {
		next.Checkpoint = checkpoint
	}
	next.Generation++
	s.man = next
	if err := s.saveLocked(); err != nil {
		s.man = old
		return err
	}
	s.dead = append(s.dead, removed...)
	s.reapLocked()
	return nil
}

// snapshot returns the files a query reads (those matching keep, or all
// when keep is nil), holding them until release is called.
func (s *storeFiles) snapshot(keep func(File) bool) (files []File, release func()) {
	_, files, release = s.hold(keep)
	return files, release
}

// hold is snapshot that also returns the MANIFEST generation the files
// are of.
func (s *storeFiles) hold(keep func(File) bool) (gen uint64, files []File, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen = s.man.Generation
	for _, f := range s.man.Files {
		if keep == nil || keep(f) {
			files = append(files, f)
			s.refs[f.Name]++
		}
	}
	var once sync.Once
	return gen, files, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, f := range files {
				if s.refs[f.Name]--; s.refs[f.Name] <= 0 {
					delete(s.refs, f.Name)
				}
			}
			s.reapLocked()
		})
	}
}

// reapLocked deletes unlisted files no query holds, or moves them to
// quarantine (aside).
func (s *storeFiles) reapLocked() {
	kept := s.dead[:0]
	for _, name := range s.dead {
		if s.refs[name] > 0 {
			kept = append(kept, name)
			continue
		}
		if dst, ok := s.aside[name]; ok {
			delete(s.aside, name)
			s.setAsideLocked(name, dst)
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("lake: could not delete a replaced file; it is deleted at the next start", "file", name, "err", err)
		}
		_ = os.Remove(filepath.Join(s.dir, name+bloomSuffix))
		s.bmu.Lock()
		delete(s.blooms, name)
		s.bmu.Unlock()
	}
	s.dead = kept
}

type asideResult struct {
	to  string
	err error
}

// setAsideLocked moves the unlisted file name, and its eventid filter
// if it has one, to dst in quarantine (or dst.1, …), and records where in
// asideDone. A failure leaves the file where it is, unlisted: the next
// start moves it to quarantine.
func (s *storeFiles) setAsideLocked(name, dst string) {
	path := filepath.Join(s.dir, name)
	to, err := setAside(path, dst)
	if err == nil {
		if _, statErr := os.Stat(path + bloomSuffix); statErr == nil {
			_, err = setAside(path+bloomSuffix, to+bloomSuffix)
		}
	}
	if err != nil {
		s.log.Error("lake: moving an unlisted damaged file to quarantine failed; the next start moves it", "file", path, "err", err)
	}
	if s.asideDone == nil {
		s.asideDone = map[string]asideResult{}
	}
	s.asideDone[name] = asideResult{to, err}
	s.bmu.Lock()
	delete(s.blooms, name)
	s.bmu.Unlock()
}

// lists reports whether the MANIFEST lists the file name.
func (s *storeFiles) lists(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.ContainsFunc(s.man.Files, func(f File) bool { return f.Name == name })
}

// files returns a copy of the listed files.
func (s *storeFiles) files() []File {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.man.Files)
}

// CheckReport is what Check finds.
type CheckReport struct {
	Checkpoint uint64 // state.json's position (0 without one)
	// Seen is the highest log position any part of the lake has durably
	// processed: state.json's position or a store's checkpoint, whichever
	// is higher. The log must never end below it.
	Seen     uint64
	HasState bool
	// Quarantined lists the files set aside as damaged or unaccounted
	// for (DATA-DIR/lake/quarantine): their events are not in any store.
	Quarantined []string
	Stores      int
	Files       int
	Events      int64
	Bytes       int64
	Problems    []string
}

// Check reads the lake in dir without changing anything: state.json, and
// each store's MANIFEST against its files (for `opentrail fsck`).
// Unlisted files are reported, not removed.
func Check(dir string, stores []StoreSpec) CheckReport {
	var r CheckReport
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		r.Problems = append(r.Problems, err.Error())
	default:
		var st state
		if err := json.Unmarshal(b, &st); err != nil || st.Version != 1 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s does not parse (%v); restore it from a backup", filepath.Join(dir, stateName), err))
		}
		r.Checkpoint, r.HasState = st.Position, true
	}
	_ = filepath.WalkDir(filepath.Join(dir, quarantineDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r.Quarantined = append(r.Quarantined, p)
		}
		return nil
	})
	r.Seen = max(r.Seen, r.Checkpoint)
	for _, u := range UnknownStores(dir, stores) {
		r.Problems = append(r.Problems, fmt.Sprintf("%s holds an event data store the catalogue (trails/eventdatastores.json) does not know: restore the catalogue from a backup, or run `opentrail fsck --repair` to move the directory to quarantine", u))
	}
	for _, spec := range stores {
		sdir := filepath.Join(dir, spec.Account, spec.ID)
		sf, err := readStoreFiles(sdir, spec.ID, spec.Account, nil)
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
			continue
		}
		man := sf.man
		if man.Version == 0 {
			continue // never written to
		}
		r.Stores++
		r.Seen = max(r.Seen, man.Checkpoint)
		listed := map[string]bool{}
		for _, f := range man.Files {
			listed[f.Name] = true
			r.Files++
			r.Events += f.Rows
			r.Bytes += f.Bytes
			if err := sf.verify(f); errors.Is(err, os.ErrNotExist) {
				r.Problems = append(r.Problems, fmt.Sprintf("event data store %s: %s is missing: its %d events are lost unless restored from a backup (`opentrail fsck --repair` unlists it)", spec.ID, f.Name, f.Rows))
			} else if err != nil {
				r.Problems = append(r.Problems, fmt.Sprintf("event data store %s: %v (%d events; the server's scrub or `opentrail fsck --repair` moves it to quarantine)", spec.ID, err, f.Rows))
			}
		}
		_ = filepath.WalkDir(sdir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(sdir, path)
			if rel == manifestName || listed[rel] || strings.HasSuffix(rel, bloomSuffix) {
				return nil // a filter of an unlisted file is removed at the next start
			}
			if sf.leftover(rel) || strings.HasPrefix(filepath.Base(rel), ".") {
				return nil // removed at the next start
			}
			r.Problems = append(r.Problems, fmt.Sprintf("event data store %s: %s is not in its MANIFEST (the next start, or `opentrail fsck --repair`, moves it to quarantine)", spec.ID, rel))
			return nil
		})
	}
	return r
}

// scrub checks the hash of every listed file not checked yet. A damaged
// file is moved to quarantine and unlisted, and its loss is logged: its
// events are missing from the store from then on (a query would fail on
// it, or worse, read wrong values). It returns how many events were lost.
//
// With rebuild (not nil), a damaged or missing file is first rebuilt: the
// files rebuild returns (written and durable, not listed yet) replace it
// in the same MANIFEST commit that unlists it, and only the events they
// do not hold are lost.
func (s *storeFiles) scrub(quarantine string, rebuild func(File) ([]File, error)) (int64, error) {
	acts, err := s.unlistDamaged(quarantine, rebuild)
	var lost int64
	for _, a := range acts {
		f := a.Lost
		n := f.Rows - a.Rebuilt
		lost += n
		if a.Rebuilt > 0 {
			s.log.Warn("lake: a damaged event data store file was replaced by files rebuilt from the event log; it moves to quarantine with its eventid filter, unless it was missing, once no query reads it", "store", a.Store,
				"file", f.Name, "to", a.Quarantine, "events", f.Rows, "rebuilt", a.Rebuilt, "lost", n, "minSeq", f.MinSeq, "maxSeq", f.MaxSeq, "err", a.What)
		}
		if n > 0 {
			s.log.Error("lake: a damaged event data store file was unlisted; it moves to quarantine with its eventid filter, unless it was missing, once no query reads it; its events are missing from the store", "store", a.Store,
				"file", f.Name, "filter", f.Name+bloomSuffix, "to", a.Quarantine, "events", n, "minSeq", f.MinSeq, "maxSeq", f.MaxSeq, "from", f.MinTime, "until", f.MaxTime, "err", a.What)
		}
	}
	return lost, err
}

// unlistDamaged checks the size and hash of every listed file this
// process has not checked yet. One that is missing is unlisted (its
// eventid filter is then deleted, as a removed file's is); one that is
// damaged is moved with its filter to quarantine/STORE-ID/ and unlisted.
// It returns one action per file unlisted, with the file's MANIFEST entry.
func (s *storeFiles) unlistDamaged(quarantine string, rebuild func(File) ([]File, error)) ([]RepairAction, error) {
	var acts []RepairAction
	for _, f := range s.files() {
		s.mu.RLock()
		done := s.verified[f.Name]
		s.mu.RUnlock()
		if done {
			continue
		}
		err := s.verify(f)
		if err == nil {
			s.mu.Lock()
			s.verified[f.Name] = true
			s.mu.Unlock()
			continue
		}
		if !s.lists(f.Name) {
			continue // compacted or expired meanwhile: not a loss
		}
		lost := f
		a := RepairAction{Store: s.man.Store, Path: f.Name, Lost: &lost, What: err.Error()}
		var added []File
		if rebuild != nil {
			var rerr error
			if added, rerr = rebuild(f); rerr != nil {
				s.log.Error("lake: rebuilding a damaged file from the event log failed", "store", a.Store, "file", f.Name, "err", rerr)
				added = nil
			}
			for _, r := range added {
				a.Rebuilt += r.Rows
			}
		}
		if errors.Is(err, os.ErrNotExist) {
			a.What = "missing"
		} else {
			// Unlisted first, then moved to quarantine once no query
			// holds it (reapLocked, at the commit or a query's release).
			a.Quarantine = s.quarantined(quarantine, f.Name)
			s.mu.Lock()
			if s.aside == nil {
				s.aside = map[string]string{}
			}
			s.aside[f.Name] = a.Quarantine
			s.mu.Unlock()
		}
		if cErr := s.commit(added, []string{f.Name}, 0); cErr != nil {
			s.mu.Lock()
			delete(s.aside, f.Name)
			s.mu.Unlock()
			return acts, cErr
		}
		// No query held it: the commit moved it.
		s.mu.Lock()
		res, moved := s.asideDone[f.Name]
		delete(s.asideDone, f.Name)
		s.mu.Unlock()
		if moved {
			if res.err != nil {
				return acts, res.err
			}
			a.Quarantine = res.to
		}
		acts = append(acts, a)
	}
	return acts, nil
}

// UnknownStores lists the store directories under the lake dir that hold
// files but belong to no store of stores: the catalogue lost them.
func UnknownStores(dir string, stores []StoreSpec) []string {
	known := map[string]bool{}
	for _, s := range stores {
		known[filepath.Join(s.Account, s.ID)] = true
	}
	var out []string
	accts, _ := os.ReadDir(dir)
	for _, a := range accts {
		if !a.IsDir() || len(a.Name()) != 12 {
			continue // state.json, queries/, imports/, quarantine/
		}
		ids, _ := os.ReadDir(filepath.Join(dir, a.Name()))
		for _, id := range ids {
			rel := filepath.Join(a.Name(), id.Name())
			if id.IsDir() && !known[rel] && len(dataFiles(filepath.Join(dir, rel))) > 0 {
				out = append(out, filepath.Join(dir, rel))
			}
		}
	}
	return out
}

// Seen returns the highest log position the lake in dir has durably
// processed (CheckReport.Seen), reading only state.json and the stores'
// MANIFESTs: cheap enough for every start.
func Seen(dir string, stores []StoreSpec) uint64 {
	var seen uint64
	if b, err := os.ReadFile(filepath.Join(dir, stateName)); err == nil {
		var st state
		if json.Unmarshal(b, &st) == nil {
			seen = st.Position
		}
	}
	for _, spec := range stores {
		b, err := os.ReadFile(filepath.Join(dir, spec.Account, spec.ID, manifestName))
		if err != nil {
			continue
		}
		var man manifest
		if json.Unmarshal(b, &man) == nil {
			seen = max(seen, man.Checkpoint)
		}
	}
	return seen
}
