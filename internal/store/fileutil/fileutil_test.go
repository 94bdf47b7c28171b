package fileutil_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestWriteFileAtomic(t *testing.T) {
	tests := []struct {
		name     string
		existing []byte // written first with mode 0o644 when non-nil
		data     []byte
		perm     fs.FileMode
	}{
		{name: "new file", data: []byte("hello\n"), perm: 0o644},
		{name: "private", data: []byte("secret"), perm: 0o600},
		{name: "group readable", data: []byte("x"), perm: 0o640},
		{name: "empty", data: []byte{}, perm: 0o644},
		{name: "replaces longer", existing: []byte("a much longer old content\n"), data: []byte("new\n"), perm: 0o644},
		{name: "replaces shorter", existing: []byte("old"), data: []byte("the new content is longer\n"), perm: 0o644},
		{name: "replace changes mode", existing: []byte("old"), data: []byte("new"), perm: 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "file.json")
			if tc.existing != nil {
				if err := os.WriteFile(path, tc.existing, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := fileutil.WriteFileAtomic(path, tc.data, tc.perm); err != nil {
				t.Fatalf("WriteFileAtomic: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(tc.data), string(got)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tc.perm {
				t.Errorf("mode = %v, want %v", fi.Mode(), tc.perm)
			}
			if diff := cmp.Diff([]string{"file.json"}, dirNames(t, dir)); diff != "" {
				t.Errorf("directory entries (-want +got), temp file left behind?\n%s", diff)
			}
		})
	}
}

func TestWriteFileAtomicRepeated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.json")
	for i := range 20 {
		want := fmt.Sprintf("version %d\n", i)
		if err := fileutil.WriteFileAtomic(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("after write %d: content = %q, want %q", i, got, want)
		}
	}
	if diff := cmp.Diff([]string{"settings.json"}, dirNames(t, dir)); diff != "" {
		t.Errorf("directory entries (-want +got):\n%s", diff)
	}
}

func TestWriteFileAtomicErrors(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "file")
		err := fileutil.WriteFileAtomic(path, []byte("x"), 0o644)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("WriteFileAtomic error = %v, want one wrapping fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	})
	t.Run("rename fails", func(t *testing.T) {
		// The target is a non-empty directory, so the rename fails after the
		// temporary file was written: it must be removed, and the target
		// left alone.
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "keep"), []byte("k"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := fileutil.WriteFileAtomic(target, []byte("x"), 0o644); err == nil {
			t.Fatal("WriteFileAtomic over a non-empty directory succeeded")
		}
		if diff := cmp.Diff([]string{"target"}, dirNames(t, dir)); diff != "" {
			t.Errorf("directory entries (-want +got), temp file left behind?\n%s", diff)
		}
		if diff := cmp.Diff([]string{"keep"}, dirNames(t, target)); diff != "" {
			t.Errorf("target entries (-want +got):\n%s", diff)
		}
	})
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := fileutil.SyncDir(dir); err != nil {
		t.Errorf("SyncDir(%s) = %v", dir, err)
	}
	missing := filepath.Join(dir, "missing")
	if err := fileutil.SyncDir(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SyncDir(missing) = %v, want one wrapping fs.ErrNotExist", err)
	}
}

// lockDir takes the lock on dir and releases it at the end of the test.
func lockDir(t *testing.T, dir string) *fileutil.Lock {
	t.Helper()
	l, err := fileutil.LockDir(dir)
	if err != nil {
		t.Fatalf("LockDir(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := l.Unlock(); err != nil {
			t.Errorf("Unlock: %v", err)
		}
	})
	return l
}

// wantLocked checks that err is a *LockedError for dir held by pid.
func wantLocked(t *testing.T, err error, dir string, pid int) {
	t.Helper()
	if !errors.Is(err, fileutil.ErrLocked) {
		t.Fatalf("LockDir error = %v, want one wrapping ErrLocked", err)
	}
	var le *fileutil.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("LockDir error = %#v, want *LockedError", err)
	}
	if diff := cmp.Diff(&fileutil.LockedError{Dir: dir, PID: pid}, le); diff != "" {
		t.Errorf("LockedError (-want +got):\n%s", diff)
	}
	if want := "pid " + strconv.Itoa(pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
}

func TestLockDirSameProcess(t *testing.T) {
	dir := t.TempDir()
	l := lockDir(t, dir)

	// flock locks belong to the open file description, so a second open
	// and flock in the same process conflicts with the first.
	l2, err := fileutil.LockDir(dir)
	if err == nil {
		l2.Unlock()
		t.Fatal("second LockDir in the same process succeeded")
	}
	wantLocked(t, err, dir, os.Getpid())

	b, err := os.ReadFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strconv.Itoa(os.Getpid())+"\n", string(b)); diff != "" {
		t.Errorf("LOCK content (-want +got):\n%s", diff)
	}

	// After Unlock the lock is free again, and Unlock twice is harmless.
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatalf("second Unlock: %v", err)
	}
	l3 := lockDir(t, dir)
	if err := l3.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLockDirErrors(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		_, err := fileutil.LockDir(filepath.Join(t.TempDir(), "missing"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("LockDir error = %v, want one wrapping fs.ErrNotExist", err)
		}
		if errors.Is(err, fileutil.ErrLocked) {
			t.Errorf("LockDir error %v wraps ErrLocked", err)
		}
	})
	t.Run("nil lock", func(t *testing.T) {
		var l *fileutil.Lock
		if err := l.Unlock(); err != nil {
			t.Errorf("nil Unlock = %v", err)
		}
	})
	t.Run("message without pid", func(t *testing.T) {
		err := &fileutil.LockedError{Dir: "/data"}
		if strings.Contains(err.Error(), "pid") {
			t.Errorf("Error() = %q, mentions a pid it does not know", err)
		}
	})
}

// lockChildEnv selects the child mode of TestLockDirAcrossProcesses: "hold"
// takes the lock, prints "locked" and sleeps until killed; "try" tries once
// and prints the outcome. FILEUTIL_LOCK_DIR names the directory.
const lockChildEnv = "FILEUTIL_LOCK_CHILD"

// lockChild is the child side; it never returns.
func lockChild(mode string) {
	dir := os.Getenv("FILEUTIL_LOCK_DIR")
	l, err := fileutil.LockDir(dir)
	switch {
	case mode == "try" && err == nil:
		fmt.Println("acquired")
		os.Exit(0)
	case mode == "try":
		var le *fileutil.LockedError
		if errors.As(err, &le) {
			fmt.Printf("locked by %d\n", le.PID)
			os.Exit(0)
		}
		fmt.Println("error:", err)
		os.Exit(1)
	case err != nil:
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	time.Sleep(time.Minute) // the parent kills us long before
	l.Unlock()
	os.Exit(2)
}

// startChild re-executes the test binary as a lock child.
func startChild(t *testing.T, mode, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDirAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+mode, "FILEUTIL_LOCK_DIR="+dir)
	cmd.Stderr = os.Stderr
	return cmd
}

// childTry runs a "try" child and returns what it printed.
func childTry(t *testing.T, dir string) string {
	t.Helper()
	out, err := startChild(t, "try", dir).Output()
	if err != nil {
		t.Fatalf("try child: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestLockDirAcrossProcesses(t *testing.T) {
	if mode := os.Getenv(lockChildEnv); mode != "" {
		lockChild(mode)
	}
	dir := t.TempDir()

	// The parent holds the lock: a child cannot take it, and learns our pid.
	l := lockDir(t, dir)
	if got, want := childTry(t, dir), fmt.Sprintf("locked by %d", os.Getpid()); got != want {
		t.Errorf("child with lock held printed %q, want %q", got, want)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if got := childTry(t, dir); got != "acquired" {
		t.Errorf("child after Unlock printed %q, want %q", got, "acquired")
	}

	// A child holds the lock: we cannot take it until it is killed.
	cmd := startChild(t, "hold", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("hold child printed %q (%v), want %q", line, err, "locked")
	}
	_, err = fileutil.LockDir(dir)
	wantLocked(t, err, dir, cmd.Process.Pid)

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	exited = true
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hold child exit = %v, want killed by SIGKILL", err)
	}
	// The kernel released the dead holder's lock.
	lockDir(t, dir)
}

func TestAppendSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.log")
	for _, line := range []string{"one\n", "two\n"} {
		if err := fileutil.AppendSync(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("file holds %q (%v), want both lines in order", b, err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("created with %v (%v), want 0600", st.Mode(), err)
	}
	if err := fileutil.AppendSync(filepath.Join(t.TempDir(), "no", "such", "dir"), []byte("x"), 0o600); err == nil {
		t.Fatal("AppendSync into a missing directory succeeded")
	}
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c")
	for range 2 { // the second time everything exists
		if err := fileutil.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Fatalf("%s: %v", dir, err)
		}
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fileutil.MkdirAll(filepath.Join(file, "sub"), 0o755); err == nil {
		t.Fatal("MkdirAll under a file succeeded")
	}
	if err := fileutil.MkdirAll(file, 0o755); err == nil {
		t.Fatal("MkdirAll of a file's path succeeded")
	}
}
