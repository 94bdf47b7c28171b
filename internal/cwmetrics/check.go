package cwmetrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Report is what Check found.
type Report struct {
	Files   int
	Records int
	// Torn maps a file to the bytes of its torn tail, which the next Open
	// cuts (never acknowledged data).
	Torn map[string]int64
}

// Check reads the directory dir of a stopped server without changing
// anything: every metric day file and the alarm log. Damage is a
// *CorruptionError naming the file and offset; a missing directory is
// fine (nothing stored yet).
func Check(dir string) (*Report, error) {
	rep := &Report{Torn: map[string]int64{}}
	if err := missingAlarmLog(dir); err != nil {
		return rep, err
	}
	names, err := dayFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		names = nil
	} else if err != nil {
		return rep, err
	}
	check := func(path string, visit func([]byte) error) error {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rep.Files++
		good, err := readFrames(path, data, func(_ int64, p []byte) error {
			rep.Records++
			return visit(p)
		})
		if err != nil {
			return err
		}
		if good < int64(len(data)) {
			rep.Torn[path] = int64(len(data)) - good
		}
		return nil
	}
	for _, n := range names {
		if err := check(filepath.Join(dir, metricsDir, n), func(p []byte) error {
			_, err := decodeRecord(p)
			return err
		}); err != nil {
			return rep, fmt.Errorf("check cloudwatch: %w", err)
		}
	}
	scratch := &Engine{alarms: map[string]*alarmEntry{}}
	if err := check(filepath.Join(dir, alarmsFile), func(p []byte) error {
		var r alarmRec
		if err := json.Unmarshal(p, &r); err != nil {
			return fmt.Errorf("alarm record: %w", err)
		}
		return scratch.applyAlarm(&r)
	}); err != nil {
		return rep, fmt.Errorf("check cloudwatch: %w", err)
	}
	return rep, nil
}
