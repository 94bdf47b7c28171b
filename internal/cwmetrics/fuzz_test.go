package cwmetrics

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzReadFrames feeds arbitrary bytes to the frame reader and the record
// decoders: it must never panic, an intact prefix must re-read the same,
// and a failure must be a *CorruptionError.
func FuzzReadFrames(f *testing.F) {
	rec, _ := json.Marshal(&record{Account: acct, Region: region, Namespace: "App", Name: "m", Minute: 60, Count: 1, Sum: 1, Min: 1, Max: 1, Values: [][2]float64{{1, 1}}})
	f.Add(appendFrame(nil, rec))
	f.Add(appendFrame(appendFrame(nil, rec), []byte(`{"op":"sent","ids":[1]}`)))
	f.Add(appendFrame(nil, rec)[:7])
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'})
	f.Fuzz(func(t *testing.T, data []byte) {
		scratch := &Engine{o: DefaultOptions(), series: map[string]*series{}, alarms: map[string]*alarmEntry{}}
		n := 0
		good, err := readFrames("f", data, func(_ int64, p []byte) error {
			n++
			if r, err := decodeRecord(p); err == nil {
				scratch.apply(r)
				return nil
			}
			var a alarmRec
			if err := json.Unmarshal(p, &a); err != nil {
				return err
			}
			return scratch.applyAlarm(&a)
		})
		if err != nil {
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CorruptionError", err)
			}
			return
		}
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("intact prefix %d of %d bytes", good, len(data))
		}
		m := 0
		again, err := readFrames("f", data[:good], func(int64, []byte) error { m++; return nil })
		if err != nil || again != good || m != n {
			t.Fatalf("re-reading the intact prefix: %d frames, %d bytes, %v; first read %d frames, %d bytes", m, again, err, n, good)
		}
	})
}
