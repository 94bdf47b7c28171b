package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/testenv"
)

// TestGracefulShutdown: SIGTERM stops the server with exit status 0, the
// WAL is left sealed (fully applied), and the events are there after a
// restart.
func TestGracefulShutdown(t *testing.T) {
	testenv.SkipShort(t, "process test")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", "123456789012")
	ids, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ids.RootKey("123456789012")
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")})
	for range 5 {
		if _, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		srv.kill()
		t.Fatal("server did not stop within 30s of SIGTERM")
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "events", "wal", "*.wal"))
	if len(segs) != 1 {
		t.Errorf("after a clean shutdown the WAL should be one empty segment, found %v", segs)
	} else if st, _ := os.Stat(segs[0]); st.Size() != 8 {
		t.Errorf("WAL segment %s has %d bytes, want only the 8-byte header", segs[0], st.Size())
	}
	srv = startServer(t, dir, addr)
	defer srv.kill()
	out, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	if err != nil || len(out.Events) != 5 {
		t.Fatalf("after restart: %d events, %v; want the 5 earlier calls", len(out.Events), err)
	}
}
