package daemon_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
)

// PrintHints names the profile that holds the advertised account's key:
// default for a directory's first account, the account id for one that
// --account-id adds later, on its first start and on every start after.
func TestPrintHintsProfile(t *testing.T) {
	dir := t.TempDir()
	creds, err := filepath.Abs(filepath.Join(dir, "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		account string // --account-id; "" for none
		want    []string
		notWant []string
	}{
		{
			name:    "first account",
			account: "111111111111",
			want: []string{
				"Created account 111111111111; its access key is in " + creds + " (profile default).",
				"AWS_SHARED_CREDENTIALS_FILE=" + creds + " aws --endpoint-url http://",
			},
			notWant: []string{"--profile"},
		},
		{
			name:    "second account in the same directory",
			account: "222222222222",
			want: []string{
				"Created account 222222222222; its access key is in " + creds + " (profile 222222222222).",
				" --profile 222222222222 cloudtrail lookup-events",
			},
			notWant: []string{"profile default"},
		},
		{
			name:    "second account again",
			account: "222222222222",
			want:    []string{" --profile 222222222222 cloudtrail lookup-events"},
			notWant: []string{"Created account"},
		},
		{
			name:    "no account id: the first account",
			want:    []string{" cloudtrail lookup-events"},
			notWant: []string{"Created account", "--profile"},
		},
	}
	for _, st := range steps {
		// Each step runs on what the previous ones left: no t.Run.
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.Listen = "127.0.0.1:0"
		cfg.AccountID = st.account
		d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		var buf bytes.Buffer
		d.PrintHints(&buf)
		if err := d.Close(); err != nil {
			t.Fatalf("%s: Close: %v", st.name, err)
		}
		for _, w := range st.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("%s: hints lack %q:\n%s", st.name, w, buf.String())
			}
		}
		for _, w := range st.notWant {
			if strings.Contains(buf.String(), w) {
				t.Errorf("%s: hints hold %q:\n%s", st.name, w, buf.String())
			}
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Metrics are served on their own address only (metricsListen), which
// starts with Run and stops with it; the API port answers the old metrics
// path as any unknown one, and without metricsListen nothing serves them.
func TestMetricsListener(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		d := startDaemon(t, t.TempDir(), nil)
		if u := d.MetricsURL(); u != "" {
			t.Errorf("MetricsURL() = %q with no metricsListen", u)
		}
		var buf bytes.Buffer
		d.PrintHints(&buf)
		if strings.Contains(buf.String(), "metrics") {
			t.Errorf("hints mention metrics that are off:\n%s", buf.String())
		}
		for _, path := range []string{"/_opentrail/metrics", daemon.MetricsPath} {
			if code, body := get(t, d.URL()+path); code == http.StatusOK || strings.Contains(body, "go_goroutines") {
				t.Errorf("API port %s: %d\n%s", path, code, body)
			}
		}
	})
	t.Run("own address", func(t *testing.T) {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Listen = "127.0.0.1:0"
		cfg.MetricsListen = "127.0.0.1:0"
		d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		u := d.MetricsURL()
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, daemon.MetricsPath) || strings.Contains(u, d.Addr()) {
			t.Fatalf("MetricsURL() = %q (API at %s)", u, d.Addr())
		}
		var buf bytes.Buffer
		d.PrintHints(&buf)
		if want := "Prometheus metrics are at " + u + " (no authentication)."; !strings.Contains(buf.String(), want) {
			t.Errorf("hints lack %q:\n%s", want, buf.String())
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()

		code, body := get(t, u)
		if code != http.StatusOK || !strings.Contains(body, "\nopentrail_store_writable 1\n") || !strings.Contains(body, "go_goroutines") {
			t.Errorf("GET %s: %d\n%s", u, code, body)
		}
		if code, _ := get(t, strings.TrimSuffix(u, daemon.MetricsPath)+"/other"); code != http.StatusNotFound {
			t.Errorf("metrics server, another path: %d, want 404", code)
		}
		for _, path := range []string{"/_opentrail/metrics", daemon.MetricsPath} {
			if code, body := get(t, d.URL()+path); code == http.StatusOK || strings.Contains(body, "go_goroutines") {
				t.Errorf("API port %s: %d\n%s", path, code, body)
			}
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, err := http.Get(u); err == nil {
			t.Errorf("the metrics server still answers after Run returned")
		}
	})
	t.Run("address in use", func(t *testing.T) {
		api := startDaemon(t, t.TempDir(), nil)
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Listen = "127.0.0.1:0"
		cfg.MetricsListen = api.Addr()
		_, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "for metrics") || !strings.Contains(err.Error(), "--metrics-listen") {
			t.Fatalf("New with a taken metrics address: %v", err)
		}
		// New released what it had opened: the data directory opens again.
		cfg.MetricsListen = ""
		d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("after a failed New: %v", err)
		}
		d.Close()
	})
}
