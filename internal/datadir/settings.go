package datadir

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opentrail/opentrail/internal/store/fileutil"
)

// Retention limits, in days.
const (
	DefaultRetentionDays = 90
	MaxRetentionDays     = 3653 // ten years
)

// Settings are what a data directory keeps between runs, so that `serve`
// and `import` agree (docs/format/settings.md).
type Settings struct {
	// EventHistoryRetentionDays: 0 keeps everything.
	EventHistoryRetentionDays int `json:"eventHistoryRetentionDays"`
}

// DefaultSettings are the settings of a new data directory.
func DefaultSettings() Settings {
	return Settings{EventHistoryRetentionDays: DefaultRetentionDays}
}

// Retention returns the retention as a duration (0 = keep everything).
func (s Settings) Retention() time.Duration {
	return time.Duration(s.EventHistoryRetentionDays) * 24 * time.Hour
}

// RetentionError is a retention outside 0..MaxRetentionDays.
type RetentionError struct{ Days int }

func (e *RetentionError) Error() string {
	return fmt.Sprintf("event history retention %d days is outside 0..%d (0 keeps everything)", e.Days, MaxRetentionDays)
}

// CheckRetention returns a *RetentionError unless days is within
// 0..MaxRetentionDays.
func CheckRetention(days int) error {
	if days < 0 || days > MaxRetentionDays {
		return &RetentionError{Days: days}
	}
	return nil
}

// ReadSettings reads root's settings.json, validated; exists is false (and
// the settings the defaults) when there is none. A damaged or invalid file
// is an error naming it.
func ReadSettings(root string) (s Settings, exists bool, err error) {
	path := filepath.Join(root, SettingsFile)
	s = DefaultSettings()
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, false, nil
	case err != nil:
		return s, false, fmt.Errorf("settings: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, true, fmt.Errorf("settings %s: %w; fix or remove it (removing it restores the defaults)", path, err)
	}
	if err := CheckRetention(s.EventHistoryRetentionDays); err != nil {
		return s, true, fmt.Errorf("settings %s: %w", path, err)
	}
	return s, true, nil
}

// Change is the settings a run uses: the data directory's (From, the
// defaults when it has none yet) with what the run overrides (To).
type Change struct {
	From, To Settings
	// Stored is false when the directory has no settings yet, or when its
	// settings.json is invalid and an override replaces it; From is then
	// the defaults, or, for an invalid file, a retention of 0 (unknown:
	// anything shorter may delete events).
	Stored bool
}

// Changed reports whether To must be saved.
func (c Change) Changed() bool { return !c.Stored || c.From != c.To }

// Shortens reports whether the change makes event history keep less.
func (c Change) Shortens() bool {
	from, to := c.From.EventHistoryRetentionDays, c.To.EventHistoryRetentionDays
	return to > 0 && (from == 0 || to < from)
}

// ResolveSettings reads root's settings and applies an explicit retention
// override; it writes nothing (see SaveSettings). An invalid override is a
// *RetentionError. An invalid settings.json is an error unless an override
// replaces it.
func ResolveSettings(root string, retentionDays *int) (Change, error) {
	if retentionDays != nil {
		if err := CheckRetention(*retentionDays); err != nil {
			return Change{}, err
		}
	}
	cur, exists, err := ReadSettings(root)
	c := Change{From: cur, To: cur, Stored: exists}
	if err != nil {
		if retentionDays == nil || !exists {
			return Change{}, err
		}
		c = Change{From: Settings{EventHistoryRetentionDays: 0}, Stored: false}
	}
	if retentionDays != nil {
		c.To.EventHistoryRetentionDays = *retentionDays
	}
	return c, nil
}

// SaveSettings replaces the data directory's settings.json.
func (d *Dir) SaveSettings(s Settings) error {
	if err := CheckRetention(s.EventHistoryRetentionDays); err != nil {
		return err
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if err := fileutil.WriteFileAtomic(d.Path(SettingsFile), append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

// TokenKeyBytes is the size of the pagination token key.
const TokenKeyBytes = 32

// ReadTokenKey reads root's token.key without changing it: nil when there
// is none; an error when it cannot be read or is not TokenKeyBytes long.
func ReadTokenKey(root string) ([]byte, error) {
	path := filepath.Join(root, TokenKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if len(b) != TokenKeyBytes {
		return nil, fmt.Errorf("token key %s is %d bytes, want %d: it is damaged; the next start replaces it (pagination tokens handed out before then stop working)", path, len(b), TokenKeyBytes)
	}
	return b, nil
}

// TokenKey returns the key that signs pagination tokens, creating it when
// there is none. A damaged key (wrong size) is replaced: the only cost is
// that tokens handed out before stop working. replaced says so.
func (d *Dir) TokenKey() (key []byte, replaced bool, err error) {
	b, err := ReadTokenKey(d.root)
	if b != nil {
		return b, false, nil
	}
	var damaged bool
	if err != nil {
		if _, serr := os.Stat(d.Path(TokenKeyFile)); serr != nil {
			return nil, false, err // not readable at all: say so
		}
		damaged = true
	}
	b = make([]byte, TokenKeyBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, false, fmt.Errorf("token key: %w", err)
	}
	if err := fileutil.WriteFileAtomic(d.Path(TokenKeyFile), b, 0o600); err != nil {
		return nil, false, fmt.Errorf("token key: %w", err)
	}
	return b, damaged, nil
}
