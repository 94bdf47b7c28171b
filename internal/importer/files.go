package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// job is one file to read.
type job struct {
	path     string
	size     int64
	explicit bool // named on the command line rather than found in a walk
	order    int  // position in the deterministic file order
}

// walker expands the command-line paths: files stay as they are,
// directories are walked recursively in lexical order. It hands each file
// to read to a callback as it finds it, and keeps no list of them: an
// AWSLogs/ tree can hold millions of files.
type walker struct {
	roots []root
	// named holds the files named on the command line, by absolute path,
	// and whether one was handed out already: a file reached twice is
	// read once.
	named map[string]bool
}

type root struct {
	path string
	info os.FileInfo
	skip bool // a directory another root's walk covers
}

// newWalker checks that every path exists. A path that does not exist is
// an error.
//
// Only the same path can be reached twice: named twice, named and found
// in a directory named, or found in two directories named of which one
// holds the other. So a directory inside another one named (and not
// under a hidden directory of it, which walks skip) is not walked again,
// and only the files named need remembering.
func newWalker(paths []string) (*walker, error) {
	w := &walker{named: map[string]bool{}}
	var dirs []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("list files: %w", err)
		}
		w.roots = append(w.roots, root{path: p, info: fi})
		switch {
		case fi.IsDir():
			dirs = append(dirs, absPath(p))
		case fi.Mode().IsRegular():
			w.named[absPath(p)] = false
		}
	}
	for i := range w.roots {
		r := &w.roots[i]
		if !r.info.IsDir() {
			continue
		}
		a := absPath(r.path)
		for j, d := range dirs {
			if covers(d, a) && (d != a || j < dirIndex(dirs, w.roots, i)) {
				r.skip = true
			}
		}
	}
	return w, nil
}

// dirIndex is the position of roots[i], a directory, in the list of
// directory roots.
func dirIndex(dirs []string, roots []root, i int) int {
	n := 0
	for _, r := range roots[:i] {
		if r.info.IsDir() {
			n++
		}
	}
	return n
}

// covers reports whether a walk of directory d reaches directory sub: sub
// is d or inside it, and not under a hidden directory.
func covers(d, sub string) bool {
	rel, err := filepath.Rel(d, sub)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	if rel == "." {
		return true
	}
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		if strings.HasPrefix(c, ".") {
			return false
		}
	}
	return true
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// reset forgets which named files were handed out, for another walk.
func (w *walker) reset() {
	for k := range w.named {
		w.named[k] = false
	}
}

// walk hands every file to read to visit, numbered in order, until visit
// returns false; note gets the files skipped (not worth opening) and
// failed (could not be listed).
func (w *walker) walk(visit func(job) bool, note func(f SkippedFile, failed bool)) error {
	order := 0
	add := func(path string, size int64, explicit bool) bool {
		if seen, ok := w.named[absPath(path)]; ok {
			if seen {
				return true
			}
			w.named[absPath(path)] = true
		}
		order++
		return visit(job{path: path, size: size, explicit: explicit, order: order - 1})
	}
	stop := errors.New("stop")
	for _, r := range w.roots {
		if r.skip {
			continue
		}
		if !r.info.IsDir() {
			if !r.info.Mode().IsRegular() {
				note(SkippedFile{Path: r.path, Reason: "not a regular file"}, true)
				continue
			}
			if !add(r.path, r.info.Size(), true) {
				return nil
			}
			continue
		}
		root := r.path
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				note(SkippedFile{Path: path, Reason: err.Error()}, true)
				if d != nil && d.IsDir() && path != root {
					return fs.SkipDir
				}
				return nil
			}
			if path != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if isDigest(path) {
				note(SkippedFile{Path: path, Reason: "CloudTrail digest file (hashes of log files, no events)"}, false)
				return nil
			}
			fi, err := os.Stat(path) // follows a symbolic link
			switch {
			case err != nil:
				note(SkippedFile{Path: path, Reason: err.Error()}, true)
			case fi.IsDir():
				note(SkippedFile{Path: path, Reason: "symbolic link to a directory (not followed)"}, false)
			case !fi.Mode().IsRegular():
				note(SkippedFile{Path: path, Reason: "not a regular file"}, false)
			default:
				if !add(path, fi.Size(), false) {
					return stop
				}
			}
			return nil
		})
		if errors.Is(err, stop) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list files: %w", err)
		}
	}
	return nil
}

// isDigest reports whether path is a CloudTrail digest file, by AWS's
// naming: AWSLogs/<account>/CloudTrail-Digest/<region>/.../
// <account>_CloudTrail-Digest_<region>_..._<time>Z.json.gz.
func isDigest(path string) bool {
	base := filepath.Base(path)
	if strings.Contains(base, "_CloudTrail-Digest_") {
		return true
	}
	for dir := filepath.Dir(path); ; {
		if filepath.Base(dir) == "CloudTrail-Digest" {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}
