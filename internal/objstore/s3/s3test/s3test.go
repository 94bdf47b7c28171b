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

	"github.com/opentrail/opentrail/internal/testenv"
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
	root, err := testenv.RepoRoot()
	if err != nil {
		return ""
	}
	p := filepath.Join(root, ".cache", "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
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
		testenv.MissingTool(t, testenv.Versitygw, "binary not found: run scripts/versitygw")
	}
	var lastErr error
	for range 3 { // the free port may be taken before versitygw binds it
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		v, err := start(t, bin, access, secret, "127.0.0.1:"+strconv.Itoa(port), t.TempDir())
		if err == nil {
			t.Cleanup(v.Stop)
			return v.Endpoint, access, secret
		}
		lastErr = err
	}
	t.Fatalf("start versitygw: %v", lastErr)
	return "", "", ""
}

// Versity is a running versitygw that a test may stop and start again on
// the same address and data, to make its buckets unreachable for a while.
type Versity struct {
	Endpoint string
	t        testing.TB
	bin      string
	access   string
	secret   string
	addr     string
	dir      string
	stop     func()
}

// StartVersityAt starts versitygw at addr with its data in dir; Stop and
// Start take it down and bring it back with the same buckets.
func StartVersityAt(t testing.TB, access, secret, addr, dir string) *Versity {
	t.Helper()
	bin := Binary()
	if bin == "" {
		testenv.MissingTool(t, testenv.Versitygw, "binary not found: run scripts/versitygw")
	}
	v, err := start(t, bin, access, secret, addr, dir)
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(v.Stop)
	return v
}

// Stop kills the server; it is safe to call twice.
func (v *Versity) Stop() {
	if v.stop != nil {
		v.stop()
		v.stop = nil
	}
}

// Start starts the stopped server again on the same address and data.
func (v *Versity) Start() {
	v.t.Helper()
	n, err := start(v.t, v.bin, v.access, v.secret, v.addr, v.dir)
	if err != nil {
		v.t.Fatalf("restart versitygw: %v", err)
	}
	v.stop = n.stop
}

// FreeAddr returns a free 127.0.0.1 address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
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

func start(t testing.TB, bin, access, secret, addr, dataDir string) (*Versity, error) {
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
		return nil, err
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
			return nil, fmt.Errorf("versitygw exited early:\n%s", out.String())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 15s:\n%s", addr, out.String())
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
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	return &Versity{Endpoint: endpoint, t: t, bin: bin, access: access, secret: secret, addr: addr, dir: dataDir, stop: stop}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
