package fileutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	c, err := OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(); ok {
		t.Fatal("a missing file has a checkpoint")
	}
	if err := c.Save(42); err != nil {
		t.Fatal(err)
	}
	c, err = OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if seq, ok := c.Get(); !ok || seq != 42 {
		t.Errorf("reopened = %d, %v", seq, ok)
	}
	for _, bad := range []string{`{"version":1,"checkpoint":`, `{"version":2,"checkpoint":1}`, `[]`} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := OpenCheckpoint(path); err == nil {
			t.Errorf("OpenCheckpoint(%s) worked", bad)
		}
	}
}
