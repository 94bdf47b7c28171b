package config_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/datadir"
)

func intPtr(v int) *int { return &v }

// writeConfig writes content to a config file in a temporary directory.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "opentrail.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fieldErrors collects every *FieldError in err's tree, in order.
func fieldErrors(err error) []*config.FieldError {
	var out []*config.FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*config.FieldError); ok { //nolint:errorlint // walking the tree by hand
			out = append(out, fe)
			return
		}
		switch u := err.(type) { //nolint:errorlint // walking the tree by hand
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// paths returns the Path of each error.
func paths(errs []*config.FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Path)
	}
	return out
}

func TestDefaultValidates(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.EventHistoryRetentionDays != nil {
		t.Errorf("Default retention = %d, want nil (the data directory decides)", *c.EventHistoryRetentionDays)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    func(*config.Config)
	}{
		{name: "empty object", content: `{}`, want: func(*config.Config) {}},
		{
			name: "every field",
			content: `{
  "dataDir": "/var/lib/opentrail",
  "listen": "0.0.0.0:8080",
  "metricsListen": "127.0.0.1:9750",
  "accountId": "123456789012",
  "eventHistoryRetentionDays": 30,
  "lookupEventsRateLimit": 2.5,
  "regions": ["us-east-1", "eu-west-1"],
  "maxRequestBytes": 1048576,
  "shutdownTimeout": "1m30s"
}`,
			want: func(c *config.Config) {
				c.DataDir = "/var/lib/opentrail"
				c.Listen = "0.0.0.0:8080"
				c.MetricsListen = "127.0.0.1:9750"
				c.AccountID = "123456789012"
				c.EventHistoryRetentionDays = intPtr(30)
				c.LookupEventsRateLimit = 2.5
				c.Regions = []string{"us-east-1", "eu-west-1"}
				c.MaxRequestBytes = 1 << 20
				c.ShutdownTimeout = config.Duration(90 * time.Second)
			},
		},
		{
			name:    "some fields keep defaults",
			content: `{"listen": ":4750", "eventHistoryRetentionDays": 0}`,
			want: func(c *config.Config) {
				c.Listen = ":4750"
				c.EventHistoryRetentionDays = intPtr(0)
			},
		},
		{name: "null duration keeps default", content: `{"shutdownTimeout": null}`, want: func(*config.Config) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.Load(writeConfig(t, tc.content))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := config.Default()
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		wantPaths []string // FieldError paths, in order; nil for other errors
		wantText  string   // the message must contain this
	}{
		{name: "unknown field", content: `{"listen": ":1", "retentionDays": 30}`, wantText: `unknown field "retentionDays"`},
		{name: "misspelt field", content: `{"DataDirectory": "x"}`, wantText: `unknown field "DataDirectory"`},
		{name: "syntax", content: `{"listen": }`, wantText: "invalid character"},
		{name: "empty file", content: ``, wantText: "EOF"},
		{name: "trailing data", content: `{"listen": ":1"}}`, wantText: "unexpected data after"},
		{name: "second object", content: `{} {}`, wantText: "unexpected data after"},
		{name: "wrong type", content: `{"maxRequestBytes": "2MB"}`, wantPaths: []string{"maxRequestBytes"}},
		{name: "wrong element type", content: `{"regions": ["us-east-1", 5]}`, wantPaths: []string{"regions"}},
		{name: "duration without unit", content: `{"shutdownTimeout": "30"}`, wantPaths: []string{"shutdownTimeout"}, wantText: `"30" is not a duration`},
		{name: "duration as number", content: `{"shutdownTimeout": 30}`, wantPaths: []string{"shutdownTimeout"}, wantText: `30 is not a duration`},
		{
			name: "every value bad",
			content: `{
  "dataDir": "",
  "listen": "localhost",
  "accountId": "12345",
  "eventHistoryRetentionDays": 4000,
  "lookupEventsRateLimit": -1,
  "regions": ["us-east-1", "US_EAST_1"],
  "maxRequestBytes": 1000,
  "shutdownTimeout": "-5s"
}`,
			wantPaths: []string{"dataDir", "listen", "accountId", "eventHistoryRetentionDays", "lookupEventsRateLimit", "regions[1]", "maxRequestBytes", "shutdownTimeout"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.content)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
			if diff := cmp.Diff(tc.wantPaths, paths(fieldErrors(err))); diff != "" {
				t.Errorf("FieldError paths (-want +got):\n%s\nerror: %v", diff, err)
			}
			if tc.wantPaths != nil {
				var fe *config.FieldError
				if !errors.As(err, &fe) || fe.Path != tc.wantPaths[0] {
					t.Errorf("errors.As(*FieldError) = %v, want path %s", fe, tc.wantPaths[0])
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*config.Config)
		paths []string
	}{
		{"valid", func(*config.Config) {}, nil},
		{"empty data dir", func(c *config.Config) { c.DataDir = "" }, []string{"dataDir"}},
		{"listen without port", func(c *config.Config) { c.Listen = "127.0.0.1" }, []string{"listen"}},
		{"listen empty", func(c *config.Config) { c.Listen = "" }, []string{"listen"}},
		{"listen any host", func(c *config.Config) { c.Listen = ":0" }, nil},
		{"listen ipv6", func(c *config.Config) { c.Listen = "[::1]:4750" }, nil},
		{"metrics off", func(c *config.Config) { c.MetricsListen = "" }, nil},
		{"metrics address", func(c *config.Config) { c.MetricsListen = "127.0.0.1:4751" }, nil},
		{"metrics without port", func(c *config.Config) { c.MetricsListen = "127.0.0.1" }, []string{"metricsListen"}},
		{"metrics on the API address", func(c *config.Config) { c.MetricsListen = c.Listen }, []string{"metricsListen"}},
		{"metrics and API on free ports", func(c *config.Config) { c.Listen, c.MetricsListen = "127.0.0.1:0", "127.0.0.1:0" }, nil},
		{"account id short", func(c *config.Config) { c.AccountID = "12345678901" }, []string{"accountId"}},
		{"account id letters", func(c *config.Config) { c.AccountID = "12345678901a" }, []string{"accountId"}},
		{"account id valid", func(c *config.Config) { c.AccountID = "012345678901" }, nil},
		{"retention negative", func(c *config.Config) { c.EventHistoryRetentionDays = intPtr(-1) }, []string{"eventHistoryRetentionDays"}},
		{"retention too long", func(c *config.Config) { c.EventHistoryRetentionDays = intPtr(datadir.MaxRetentionDays + 1) }, []string{"eventHistoryRetentionDays"}},
		{"retention max", func(c *config.Config) { c.EventHistoryRetentionDays = intPtr(datadir.MaxRetentionDays) }, nil},
		{"retention forever", func(c *config.Config) { c.EventHistoryRetentionDays = intPtr(0) }, nil},
		{"rate negative", func(c *config.Config) { c.LookupEventsRateLimit = -0.5 }, []string{"lookupEventsRateLimit"}},
		{"rate off", func(c *config.Config) { c.LookupEventsRateLimit = 0 }, nil},
		{"regions", func(c *config.Config) { c.Regions = []string{"", "eu-west-1", "Eu-West-1"} }, []string{"regions[0]", "regions[2]"}},
		{"max request bytes zero", func(c *config.Config) { c.MaxRequestBytes = 0 }, []string{"maxRequestBytes"}},
		{"max request bytes minimum", func(c *config.Config) { c.MaxRequestBytes = 64 << 10 }, nil},
		{"public url", func(c *config.Config) { c.PublicURL = "https://opentrail.example.com" }, nil},
		{"public url not a url", func(c *config.Config) { c.PublicURL = "opentrail.example.com" }, []string{"publicUrl"}},
		{"query generator", func(c *config.Config) {
			c.QueryGenerator = config.QueryGenerator{URL: "http://127.0.0.1:11434/v1", Model: "qwen2.5-coder"}
		}, nil},
		{"query generator without model", func(c *config.Config) { c.QueryGenerator.URL = "http://127.0.0.1:11434/v1" }, []string{"queryGenerator.model"}},
		{"query generator model without url", func(c *config.Config) { c.QueryGenerator.Model = "m" }, []string{"queryGenerator.url"}},
		{"query generator url not a url", func(c *config.Config) {
			c.QueryGenerator = config.QueryGenerator{URL: "localhost:11434", Model: "m", Timeout: config.Duration(-time.Second)}
		}, []string{"queryGenerator.url", "queryGenerator.timeout"}},
		{"query generator timeout too long", func(c *config.Config) {
			c.QueryGenerator = config.QueryGenerator{URL: "http://127.0.0.1:11434/v1", Model: "m", Timeout: config.Duration(time.Minute)}
		}, []string{"queryGenerator.timeout"}},
		{"shutdown timeout zero", func(c *config.Config) { c.ShutdownTimeout = 0 }, []string{"shutdownTimeout"}},
		{"shutdown timeout negative", func(c *config.Config) { c.ShutdownTimeout = config.Duration(-time.Second) }, []string{"shutdownTimeout"}},
		{
			name: "all at once",
			edit: func(c *config.Config) {
				*c = config.Config{
					Listen:                    "nohostport",
					AccountID:                 "x",
					EventHistoryRetentionDays: intPtr(-1),
					LookupEventsRateLimit:     -1,
					Regions:                   []string{"us-east-1", "moon base"},
				}
			},
			paths: []string{"dataDir", "listen", "accountId", "eventHistoryRetentionDays", "lookupEventsRateLimit", "regions[1]", "maxRequestBytes", "shutdownTimeout"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			tc.edit(&c)
			err := c.Validate()
			if (err == nil) != (tc.paths == nil) {
				t.Fatalf("Validate() = %v, want paths %v", err, tc.paths)
			}
			if err == nil {
				return
			}
			// errors.Join: one *FieldError per problem, directly inside.
			joined, ok := err.(interface{ Unwrap() []error }) //nolint:errorlint // checking the shape
			if !ok {
				t.Fatalf("Validate() = %T, want an errors.Join of *FieldError", err)
			}
			var got []string
			for _, e := range joined.Unwrap() {
				var fe *config.FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("Validate() holds %T (%v), want *FieldError", e, e)
				}
				if fe.Msg == "" || fe.Error() != fe.Path+": "+fe.Msg {
					t.Errorf("FieldError %#v: Error() = %q", fe, fe.Error())
				}
				got = append(got, fe.Path)
			}
			if diff := cmp.Diff(tc.paths, got); diff != "" {
				t.Errorf("paths (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		name string
		d    config.Duration
		json string
	}{
		{"seconds", config.Duration(30 * time.Second), `"30s"`},
		{"mixed", config.Duration(90*time.Minute + 5*time.Second), `"1h30m5s"`},
		{"sub-second", config.Duration(250 * time.Millisecond), `"250ms"`},
		{"zero", 0, `"0s"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.json, string(b)); diff != "" {
				t.Errorf("Marshal (-want +got):\n%s", diff)
			}
			var got config.Duration
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got != tc.d {
				t.Errorf("round trip = %v, want %v", time.Duration(got), time.Duration(tc.d))
			}
		})
	}

	t.Run("inside Config", func(t *testing.T) {
		b, err := json.Marshal(config.Default())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"shutdownTimeout":"30s"`) {
			t.Errorf("Marshal(Default()) = %s, want shutdownTimeout \"30s\"", b)
		}
		var back config.Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(config.Default(), back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})

	for _, in := range []string{`"30"`, `"abc"`, `30`, `true`, `""`} {
		t.Run("invalid "+in, func(t *testing.T) {
			d := config.Duration(time.Second)
			if err := json.Unmarshal([]byte(in), &d); err == nil {
				t.Errorf("Unmarshal(%s) = %v, want an error", in, time.Duration(d))
			}
		})
	}
}
