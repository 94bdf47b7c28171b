package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: Load never panics; it either returns a configuration that
// validates, or an error; and a loaded configuration written back as JSON
// loads to the same value.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"dataDir":"d","listen":"127.0.0.1:1","eventHistoryRetentionDays":0,"regions":["us-east-1"],"shutdownTimeout":"5s"}`))
	f.Add([]byte(`{"listen":"nonsense","regions":["BAD"],"maxRequestBytes":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"unknown":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.json")
		os.WriteFile(path, data, 0o644)
		c, err := Load(path)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a config that does not validate: %v", err)
		}
		b, err := marshalConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, b, 0o644)
		c2, err := Load(path)
		if err != nil {
			t.Fatalf("reloading %s: %v", b, err)
		}
		b2, _ := marshalConfig(c2)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the config:\n%s\n%s", b, b2)
		}
	})
}

func marshalConfig(c Config) ([]byte, error) { return json.Marshal(c) }
