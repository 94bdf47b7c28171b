package datadir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/datadir"
)

// FuzzReadSettings: reading any settings.json never panics; it either gives
// settings within the limits or an error naming the file; what it accepts
// survives a save and a read unchanged.
func FuzzReadSettings(f *testing.F) {
	for _, s := range []string{`{"eventHistoryRetentionDays":90}`, `{}`, `{"eventHistoryRetentionDays":-1}`, `null`, `[`, `{"eventHistoryRetentionDays":3653,"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, datadir.SettingsFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, exists, err := datadir.ReadSettings(root)
		if !exists {
			t.Fatal("an existing settings.json read as missing")
		}
		if err != nil {
			return
		}
		if datadir.CheckRetention(s.EventHistoryRetentionDays) != nil {
			t.Fatalf("accepted retention %d", s.EventHistoryRetentionDays)
		}
		d, err := datadir.Open(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.SaveSettings(s); err != nil {
			t.Fatal(err)
		}
		back, _, err := datadir.ReadSettings(root)
		if err != nil || back != s {
			t.Fatalf("saved %+v, read back %+v, %v", s, back, err)
		}
	})
}
