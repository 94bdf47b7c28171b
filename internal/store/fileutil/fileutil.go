// Package fileutil holds the crash-safe file primitives the store and the
// identity files share: directory fsync, atomic replace, and an exclusive
// lock on a data directory; and a file's SHA-256, read in passes.
package fileutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SyncDir fsyncs a directory so that entries created, renamed or removed in
// it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// MkdirAll is os.MkdirAll that also fsyncs the parent of every directory
// it creates, so that a directory made and then written to cannot vanish
// in a crash.
func MkdirAll(dir string, perm os.FileMode) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("mkdir %s: not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	return SyncDir(parent)
}

// OpenFile is os.OpenFile with flag|os.O_CREATE, except that a file it
// creates has its directory fsynced before it returns, so that what is
// later written and fsynced to the file cannot vanish with its directory
// entry in a crash.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag&^os.O_CREATE, perm)
	if !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	if f, err = os.OpenFile(path, flag|os.O_CREATE, perm); err != nil {
		return nil, err
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// OpenAppend opens the file at path for appending, creating it with perm
// (and fsyncing its directory) when it does not exist.
func OpenAppend(path string, perm os.FileMode) (*os.File, error) {
	return OpenFile(path, os.O_WRONLY|os.O_APPEND, perm)
}

// AppendSync appends data to the file at path (OpenAppend) and fsyncs it:
// once it returns nil, data is durable.
func AppendSync(path string, data []byte, perm os.FileMode) error {
	f, err := OpenAppend(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// WriteFileAtomic replaces path with data: it writes a temporary file in the
// same directory, fsyncs it, renames it over path and fsyncs the directory.
// A crash leaves either the old or the new content, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// ErrLocked means another process holds the directory lock.
var ErrLocked = errors.New("directory is locked by another process")

// LockedError is returned by Lock when the directory is in use. PID is the
// holder's process id when it could be read, else 0.
type LockedError struct {
	Dir string
	PID int
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("data directory %s is in use by another OpenTrail process (pid %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by another OpenTrail process", e.Dir)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is an exclusive advisory lock on a directory, held through a LOCK file
// inside it. The kernel releases it when the process exits, however it exits.
type Lock struct {
	f *os.File
}

// LockDir takes the lock on dir without waiting. It returns a *LockedError
// when another process holds it.
func LockDir(dir string) (*Lock, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. It is safe to call twice.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}

// isTemp reports whether name is a temporary file of WriteFileAtomic:
// "." + the target's name + ".tmp" + the digits os.CreateTemp adds.
func isTemp(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	i := strings.LastIndex(name, ".tmp")
	if i <= 1 || i+4 == len(name) {
		return false
	}
	for _, c := range name[i+4:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Temps lists the temporary files an interrupted WriteFileAtomic left in
// dir (a missing dir has none).
func Temps(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && isTemp(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// RemoveTemps removes the temporary files an interrupted WriteFileAtomic
// left in dir and returns their paths. The files they were to replace are
// intact: a temporary file is renamed only once complete.
func RemoveTemps(dir string) ([]string, error) {
	temps, err := Temps(dir)
	if err != nil {
		return nil, err
	}
	for i, p := range temps {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return temps[:i], fmt.Errorf("remove %s: %w", p, err)
		}
	}
	if len(temps) > 0 {
		if err := SyncDir(dir); err != nil {
			return temps, err
		}
	}
	return temps, nil
}

// SHA256 returns the lowercase hex SHA-256 of the file at path, read a
// buffer at a time.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
