// Package s3test starts a real S3-compatible server, versitygw with its
// posix backend, for tests of code that talks to S3.
//
// The binary is found through the OPENTRAIL_VERSITYGW environment variable
// (a path) or at <repo>/.cache/bin/versitygw, where scripts/versitygw
// builds it. When it is missing, tests skip, unless CI=true, where they
// fail.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Root credentials of the started server.
const (
	AccessKey = "opentrail-test-access"
	SecretKey = "opentrail-test-secret-key"
)

// Binary returns the versitygw binary to run, or "" when there is none.
func Binary() string {
	if p := os.Getenv("OPENTRAIL_VERSITYGW"); p != "" {
		return p
	}
	root, err := repoRoot()
	if err != nil {
		return ""
	}
	p := filepath.Join(root, ".cache", "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

// StartVersity starts versitygw on a free 127.0.0.1 port with the posix
// backend on a fresh t.TempDir(), waits until it answers, and stops it when
// the test ends. It returns the endpoint URL and the root credentials.
func StartVersity(t testing.TB) (endpoint, access, secret string) {
	t.Helper()
	return StartVersityWith(t, AccessKey, SecretKey)
}

// StartVersityWith is StartVersity with the given root credentials, so a
// client can use one key for OpenTrail and for versitygw.
func StartVersityWith(t testing.TB, access, secret string) (endpoint, _, _ string) {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("versitygw binary not found: run scripts/versitygw")
		}
		t.Skip("versitygw binary not found: run scripts/versitygw")
	}
	var lastErr error
	for range 3 { // the free port may be taken before versitygw binds it
		endpoint, err := start(t, bin, access, secret)
		if err == nil {
			return endpoint, access, secret
		}
		lastErr = err
	}
	t.Fatalf("start versitygw: %v", lastErr)
	return "", "", ""
}

// syncBuffer is a bytes.Buffer safe to write from the process and read
// from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func start(t testing.TB, bin, access, secret string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dataDir := t.TempDir()
	out := &syncBuffer{}
	cmd := exec.Command(bin,
		"--port", addr,
		"--access", access,
		"--secret", secret,
		"--region", "us-east-1",
		"--quiet",
		"posix", dataDir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	endpoint := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		select {
		case <-exited:
			return "", fmt.Errorf("versitygw exited early:\n%s", out.String())
		case <-ctx.Done():
			stop()
			return "", fmt.Errorf("versitygw did not answer on %s within 15s:\n%s", addr, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		break // any answer (403 without credentials) means it is serving
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	return endpoint, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
