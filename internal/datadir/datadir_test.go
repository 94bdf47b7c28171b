package datadir_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/store/fileutil"
)

func intPtr(v int) *int { return &v }

func open(t *testing.T, root string) *datadir.Dir {
	t.Helper()
	d, err := datadir.Open(root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readSettings(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, datadir.SettingsFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// resolveAndSave is what serve and import do: resolve, then save a change.
func resolveAndSave(t *testing.T, d *datadir.Dir, override *int) datadir.Change {
	t.Helper()
	c, err := datadir.ResolveSettings(d.Root(), override)
	if err != nil {
		t.Fatalf("ResolveSettings(%v): %v", override, err)
	}
	if c.Changed() {
		if err := d.SaveSettings(c.To); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestSettingsStick(t *testing.T) {
	root := t.TempDir()
	d := open(t, root)
	c := resolveAndSave(t, d, nil)
	if c.Stored || c.To.EventHistoryRetentionDays != datadir.DefaultRetentionDays || c.Shortens() {
		t.Fatalf("first run = %+v", c)
	}
	var onDisk datadir.Settings
	if err := json.Unmarshal([]byte(readSettings(t, root)), &onDisk); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(datadir.Settings{EventHistoryRetentionDays: 90}, onDisk); diff != "" {
		t.Errorf("settings.json (-want +got):\n%s", diff)
	}
	steps := []struct {
		name     string
		override *int
		want     int
		shortens bool
	}{
		{"override", intPtr(30), 30, true},
		{"later run", nil, 30, false},
		{"same override", intPtr(30), 30, false},
		{"keep everything", intPtr(0), 0, false},
		{"later run keeps everything", nil, 0, false},
		{"from everything to a window", intPtr(7), 7, true},
		{"longer", intPtr(datadir.MaxRetentionDays), datadir.MaxRetentionDays, false},
		{"back to default", intPtr(90), 90, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := resolveAndSave(t, d, st.override)
			if c.To.EventHistoryRetentionDays != st.want || c.Shortens() != st.shortens {
				t.Errorf("change = %+v (shortens %v), want retention %d, shortens %v", c, c.Shortens(), st.want, st.shortens)
			}
			if want := time.Duration(st.want) * 24 * time.Hour; c.To.Retention() != want {
				t.Errorf("Retention() = %v, want %v", c.To.Retention(), want)
			}
			var onDisk datadir.Settings
			if err := json.Unmarshal([]byte(readSettings(t, root)), &onDisk); err != nil {
				t.Fatal(err)
			}
			if onDisk.EventHistoryRetentionDays != st.want {
				t.Errorf("settings.json retention = %d, want %d", onDisk.EventHistoryRetentionDays, st.want)
			}
		})
	}
}

func TestResolveSettingsRefusals(t *testing.T) {
	tests := []struct {
		name     string
		content  string // settings.json; none when empty
		override *int
		want     int    // retention when accepted
		wantErr  string // substring of the error
	}{
		{name: "negative override", override: intPtr(-5), wantErr: "outside 0..3653"},
		{name: "override too long", override: intPtr(4000), wantErr: "outside 0..3653"},
		{name: "not json", content: `{"eventHistoryRetentionDays":`, wantErr: "unexpected end of JSON input"},
		{name: "wrong type", content: `{"eventHistoryRetentionDays": "90"}`, wantErr: "cannot unmarshal"},
		{name: "negative in file", content: `{"eventHistoryRetentionDays": -3}`, wantErr: "outside 0..3653"},
		{name: "too long in file", content: `{"eventHistoryRetentionDays": 99999}`, wantErr: "outside 0..3653"},
		{name: "override replaces a bad file", content: `{"eventHistoryRetentionDays": -3}`, override: intPtr(7), want: 7},
		{name: "missing field keeps the default", content: `{}`, want: datadir.DefaultRetentionDays},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, datadir.SettingsFile)
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := datadir.ResolveSettings(root, tc.override)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.To.EventHistoryRetentionDays != tc.want {
					t.Errorf("retention = %d, want %d", c.To.EventHistoryRetentionDays, tc.want)
				}
				if tc.override != nil && tc.content != "" && !c.Shortens() && tc.want > 0 {
					t.Errorf("an override of a damaged file must count as shortening (unknown before): %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ResolveSettings = %+v, %v; want an error containing %q", c, err, tc.wantErr)
			}
			if tc.content != "" && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			if tc.content == "" {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Error("a refused override created settings.json")
				}
			} else if got := readSettings(t, root); got != tc.content {
				t.Errorf("settings.json changed to %q", got)
			}
		})
	}
}

func TestTokenKey(t *testing.T) {
	root := t.TempDir()
	if k, err := datadir.ReadTokenKey(root); k != nil || err != nil {
		t.Fatalf("ReadTokenKey of a new directory = %x, %v", k, err)
	}
	d := open(t, root)
	k1, replaced, err := d.TokenKey()
	if err != nil || len(k1) != datadir.TokenKeyBytes || replaced {
		t.Fatalf("TokenKey = %d bytes, %v, %v", len(k1), replaced, err)
	}
	k2, _, _ := d.TokenKey()
	if string(k1) != string(k2) {
		t.Fatal("the key changed between calls")
	}
	// A damaged key: ReadTokenKey (fsck) says so; TokenKey (serve)
	// replaces it and says so.
	os.WriteFile(filepath.Join(root, datadir.TokenKeyFile), []byte("short"), 0o600)
	if _, err := datadir.ReadTokenKey(root); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Fatalf("ReadTokenKey of a damaged key = %v", err)
	}
	k3, replaced, err := d.TokenKey()
	if err != nil || !replaced || len(k3) != datadir.TokenKeyBytes || string(k3) == string(k1) {
		t.Fatalf("TokenKey over a damaged key = %v, %v", replaced, err)
	}
}

// Temporary files a killed atomic write left are removed at Open, in every
// directory written that way, and nothing else is.
func TestOpenRemovesTemps(t *testing.T) {
	root := t.TempDir()
	keep := []string{datadir.SettingsFile, "trails/trails.json", "delivery/state.json", "keys/global/k.json", "trails/.hidden", "delivery/.state.json.tmpx"}
	temps := []string{".settings.json.tmp123", "trails/.trails.json.tmp9", "delivery/.state.json.tmp77", "keys/global/.k.json.tmp1", "events/index/.MANIFEST.tmp42"}
	for _, p := range append(append([]string{}, keep...), temps...) {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := datadir.Temps(root)
	if err != nil || len(listed) != len(temps) {
		t.Fatalf("Temps = %v, %v; want %d files", listed, err, len(temps))
	}
	d := open(t, root)
	if len(d.Removed()) != len(temps) {
		t.Errorf("Removed = %v", d.Removed())
	}
	for _, p := range temps {
		if _, err := os.Stat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived Open", p)
		}
	}
	for _, p := range keep {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

func TestOpenLocks(t *testing.T) {
	root := t.TempDir()
	open(t, root)
	_, err := datadir.Open(root, nil)
	var le *fileutil.LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Open = %v, want a *LockedError naming this process", err)
	}
}
