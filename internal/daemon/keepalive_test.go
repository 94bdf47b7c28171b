package daemon_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// TestLargeResponsesOverKeepAlive sends many sequential lookups with large
// responses over the SDK's default (keep-alive) client to the real server:
// every response must arrive whole.
func TestLargeResponsesOverKeepAlive(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	now := seedLarge(t, d)
	ct := rootClient(t, d, testAccount, "us-east-1")
	for i := range 200 {
		out, err := ct.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(50), EndTime: aws.Time(now)})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(out.Events) != 50 {
			t.Fatalf("call %d: %d events", i, len(out.Events))
		}
	}
}

// TestConcurrentLargeResponsesArriveWhole is the server side of issue 8's
// "use of closed network connection ... after HTTP 200" under 500 clients:
// many concurrent keep-alive connections, each asking again and again for
// large responses through a plain net/http client (no SDK in between),
// must get every body whole: the status, the Content-Length and the JSON.
// The errors seen under load come from the client: the SDK's transport
// closes its own connection when writing the request body fails late
// (aws-sdk-go-v2#2737; the SDK retries net.ErrClosed by default since
// v1.32.8 of its core, PR #2949, so only clients with retries off see it).
func TestConcurrentLargeResponsesArriveWhole(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	now := seedLarge(t, d)
	k, err := d.Identities().RootKey(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
	body, _ := json.Marshal(map[string]any{"MaxResults": 50, "EndTime": now.Unix()})
	sum := sha256.Sum256(body)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				req, _ := http.NewRequest(http.MethodPost, d.URL(), bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				req.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
				if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "cloudtrail", "us-east-1", time.Now()); err != nil {
					errs <- err
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					errs <- fmt.Errorf("client %d call %d: %w", c, i, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				var out struct{ Events []json.RawMessage }
				switch {
				case err != nil:
					errs <- fmt.Errorf("client %d call %d: reading a %d-byte body: %w", c, i, resp.ContentLength, err)
				case resp.StatusCode != http.StatusOK || int64(len(b)) != resp.ContentLength:
					errs <- fmt.Errorf("client %d call %d: status %d, %d of %d bytes", c, i, resp.StatusCode, len(b), resp.ContentLength)
				case json.Unmarshal(b, &out) != nil || len(out.Events) != 50:
					errs <- fmt.Errorf("client %d call %d: body of %d bytes is not 50 events", c, i, len(b))
				default:
					continue
				}
				return
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// seedLarge stores 100 events of about 4 KB each and returns the time
// they end at.
func seedLarge(t *testing.T, d *daemon.Daemon) time.Time {
	t.Helper()
	now := time.Now().UTC()
	var evs []event.Event
	for i := range 100 {
		b, _ := json.Marshal(map[string]any{
			"eventVersion": "1.09", "eventTime": event.FormatTime(now.Add(-time.Duration(i) * time.Second)),
			"eventSource": "s3.amazonaws.com", "eventName": "PutObject", "awsRegion": "us-east-1",
			"eventID": fmt.Sprintf("big-%03d", i), "recipientAccountId": testAccount, "eventCategory": "Management",
			"requestParameters": map[string]any{"blob": strings.Repeat("x", 4000)},
		})
		ev, err := event.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if _, err := d.Store().Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	return now
}
