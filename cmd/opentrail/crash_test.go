package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/testenv"
)

// server is an `opentrail serve` child process.
type server struct {
	cmd   *exec.Cmd
	addr  string
	hints []string // what it printed on start (daemon.PrintHints)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(t *testing.T, dir, addr string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dir, "--listen", addr, "--log-level", "warn"}, extra...)
	cmd := exec.Command(opentrailBin, args...)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The hints end with "Try:" and a command; the server listens by then.
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var hints []string
		ok := false
		for sc.Scan() {
			if ok {
				continue
			}
			hints = append(hints, sc.Text())
			if n := len(hints); n >= 2 && hints[n-2] == "Try:" {
				ok = true
				ready <- hints
			}
		}
		if !ok {
			ready <- nil
		}
	}()
	select {
	case hints := <-ready:
		if hints == nil {
			cmd.Wait()
			t.Fatalf("server exited before listening")
		}
		return &server{cmd: cmd, addr: addr, hints: hints}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start in 60s")
	}
	return nil
}

func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

// stop shuts the server down cleanly (SIGTERM) and waits for it.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("server exit: %v", err)
	}
}

// callUntil makes LookupEvents calls with n clients (client(i) makes the
// i-th) until stop is called, and records in acked, under mu, the request
// id of every call the server answered: what it acknowledged. An id
// answered twice fails t. stop ends the calls and waits for them.
func callUntil(t *testing.T, ctx context.Context, n int, client func(i int) *cloudtrail.Client, mu *sync.Mutex, acked map[string]bool) (stop func()) {
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := client(i)
			for cctx.Err() == nil {
				out, err := c.LookupEvents(cctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
				if err != nil {
					continue
				}
				id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
				mu.Lock()
				if acked[id] {
					t.Errorf("request id %s answered twice", id)
				}
				acked[id] = true
				mu.Unlock()
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// TestCrashLosesNothingAcknowledged kills the server with SIGKILL while
// many clients call it, again and again. Every call that got a successful
// response must have its event in the store exactly once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir := t.TempDir()
	addr := freeAddr(t)
	rounds := 6
	if v := os.Getenv("OPENTRAIL_CRASH_ROUNDS"); v != "" {
		fmt.Sscan(v, &rounds)
	}
	var mu sync.Mutex
	acked := map[string]bool{} // request ids of successful responses
	for round := range rounds {
		srv := startServer(t, dir, addr, "--account-id", "123456789012")
		ids, err := identity.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		key, err := ids.RootKey("123456789012")
		if err != nil {
			t.Fatal(err)
		}
		stop := callUntil(t, context.Background(), 16, func(c int) *cloudtrail.Client {
			return cloudtrail.New(cloudtrail.Options{
				Region: []string{"us-east-1", "eu-west-1"}[c%2], BaseEndpoint: aws.String("http://" + addr),
				Credentials:      credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
				RetryMaxAttempts: 1,
			})
		}, &mu, acked)
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		srv.kill()
		stop()
		mu.Lock()
		t.Logf("round %d: %d acknowledged calls so far", round, len(acked))
		mu.Unlock()
	}
	// Open the store directly, as a restarted server would, and count.
	off, err := daemon.OpenOffline(dir, daemon.OfflineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := off.History.WaitCaughtUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := off.History
	defer off.Close()
	seen := map[string]int{}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		q := history.Query{Account: "123456789012", Region: region, Limit: 50}
		for {
			p, err := st.Lookup(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range p.Events {
				seen[ev.RequestID]++
			}
			if p.Next == nil {
				break
			}
			q.Cursor = p.Next
		}
	}
	if len(acked) < 100 {
		t.Fatalf("only %d calls succeeded; the test did not exercise the server", len(acked))
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged call %s has %d events, want exactly 1", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("request %s recorded %d times", id, n)
		}
	}
	t.Logf("%d acknowledged calls, %d events stored (the rest were recorded but their responses were cut by the kill)", len(acked), len(seen))
}
