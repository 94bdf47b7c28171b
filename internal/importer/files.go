package importer

import (
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

// fileList is what expanding the command-line paths found.
type fileList struct {
	jobs    []job
	skipped []SkippedFile // found in a walk but not worth opening
	failed  []SkippedFile // could not be listed
	bytes   int64
}

// listFiles expands paths: files stay as they are, directories are walked
// recursively in lexical order. A path that does not exist is an error.
// Hidden files and directories (".git", ".DS_Store") found in a walk are
// ignored silently; digest files and other non-regular files are skipped
// with a reason. A file reached twice is read once.
func listFiles(paths []string) (fileList, error) {
	var fl fileList
	seen := map[string]bool{}
	add := func(path string, size int64, explicit bool) {
		key := path
		if abs, err := filepath.Abs(path); err == nil {
			key = abs
		}
		if seen[key] {
			return
		}
		seen[key] = true
		fl.jobs = append(fl.jobs, job{path: path, size: size, explicit: explicit, order: len(fl.jobs)})
		fl.bytes += size
	}
	for _, root := range paths {
		fi, err := os.Stat(root)
		if err != nil {
			return fileList{}, fmt.Errorf("list files: %w", err)
		}
		if !fi.IsDir() {
			if !fi.Mode().IsRegular() {
				fl.failed = append(fl.failed, SkippedFile{Path: root, Reason: "not a regular file"})
				continue
			}
			add(root, fi.Size(), true)
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fl.failed = append(fl.failed, SkippedFile{Path: path, Reason: err.Error()})
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
				fl.skipped = append(fl.skipped, SkippedFile{Path: path, Reason: "CloudTrail digest file (hashes of log files, no events)"})
				return nil
			}
			fi, err := os.Stat(path) // follows a symbolic link
			switch {
			case err != nil:
				fl.failed = append(fl.failed, SkippedFile{Path: path, Reason: err.Error()})
			case fi.IsDir():
				fl.skipped = append(fl.skipped, SkippedFile{Path: path, Reason: "symbolic link to a directory (not followed)"})
			case !fi.Mode().IsRegular():
				fl.skipped = append(fl.skipped, SkippedFile{Path: path, Reason: "not a regular file"})
			default:
				add(path, fi.Size(), false)
			}
			return nil
		})
		if err != nil {
			return fileList{}, fmt.Errorf("list files: %w", err)
		}
	}
	return fl, nil
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
