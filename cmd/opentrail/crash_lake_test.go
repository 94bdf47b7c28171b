package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// TestCrashDuringLakeIngestion kills the server with SIGKILL again and
// again while clients call it and an event data store ingests every call,
// writing a batch every 100ms and compacting every few hundred
// milliseconds, so kills land during batch writes and compactions. Then
// every acknowledged call is in the store exactly once, and the store holds
// exactly the events event history holds since the store was created.
// Where a kill lands is left to chance here; TestCrashDuringLakeCompaction
// aims kills at each stage of a compaction and checks where they landed.
func TestCrashDuringLakeIngestion(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir, key, addr, args := busyLake(t)
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	client := func() *cloudtrail.Client {
		return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
			Credentials: creds, RetryMaxAttempts: 1, HTTPClient: sdktest.HTTPClient(http.DefaultTransport)})
	}
	ctx := context.Background()

	srv := startServer(t, dir, addr, args...)
	out, err := client().CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("crash")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.EventDataStoreArn)
	id := arn[len(arn)-36:]
	var mu sync.Mutex
	acked := map[string]bool{}
	for round := range 6 {
		if round > 0 {
			srv = startServer(t, dir, addr, args...)
		}
		stop := callUntil(t, ctx, 8, func(int) *cloudtrail.Client { return client() }, &mu, acked)
		time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
		srv.kill()
		stop()
	}
	if len(acked) < 100 {
		t.Fatalf("only %d calls succeeded; the test did not exercise the server", len(acked))
	}

	// A last run: the lake catches up with the log.
	srv = startServer(t, dir, addr, args...)
	defer srv.stop(t)
	c := client()
	history := map[string]bool{} // request ids of the account's LookupEvents events
	var token *string
	pages := 0
	for {
		pages++
		p, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: token, MaxResults: aws.Int32(50),
			LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("LookupEvents")}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range p.Events {
			history[requestIDOf(t, aws.ToString(ev.CloudTrailEvent))] = true
		}
		if token = p.NextToken; token == nil {
			break
		}
	}
	var rows [][]map[string]string
	deadline := time.Now().Add(time.Minute)
	for {
		rows = lakeQuery(t, c, "SELECT requestid, count(*) AS n FROM "+id+" WHERE eventname = 'LookupEvents' GROUP BY requestid")
		if len(rows) >= len(history) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	inLake := map[string]bool{}
	for _, r := range rows {
		rid, n := r[0]["requestid"], r[1]["n"]
		if n != "1" {
			t.Errorf("request %s is in the store %s times", rid, n)
		}
		inLake[rid] = true
	}
	for rid := range acked {
		if !inLake[rid] {
			t.Errorf("acknowledged call %s is not in the event data store", rid)
		}
	}
	for rid := range history {
		if !inLake[rid] {
			t.Errorf("event history's call %s is not in the event data store", rid)
		}
	}
	// The LookupEvents calls that read event history above are in the
	// store but not in what they read; nothing else may be.
	extra := 0
	for rid := range inLake {
		if !history[rid] {
			extra++
		}
	}
	if extra > pages {
		t.Errorf("%d calls in the store are not in event history (%d were made reading it)", extra, pages)
	}
	t.Logf("%d acknowledged calls, %d in event history, %d in the store", len(acked), len(history), len(inLake))
}

// busyLake returns a data directory with the trail account, its root
// key, an address to listen on, and the serve arguments of a server whose
// Lake writes a batch every 100ms and compacts every few hundred
// milliseconds, so that kills land during both.
func busyLake(t *testing.T) (dir string, key identity.Key, addr string, args []string) {
	t.Helper()
	dir = t.TempDir()
	key = trailAccountKey(t, dir)
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, []byte(`{"lake":{"flushInterval":"100ms","maintainInterval":"250ms","compactFiles":2}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, key, freeAddr(t), []string{"--account-id", trailAccount, "--config", cfgFile}
}

// lakeQuery runs a Lake query to its end and returns every row.
func lakeQuery(t *testing.T, c *cloudtrail.Client, stmt string) [][]map[string]string {
	t.Helper()
	ctx := context.Background()
	q, err := c.StartQuery(ctx, &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt)})
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	var out [][]map[string]string
	var token *string
	for {
		r, err := c.GetQueryResults(ctx, &cloudtrail.GetQueryResultsInput{QueryId: q.QueryId, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		switch r.QueryStatus {
		case types.QueryStatusQueued, types.QueryStatusRunning:
			time.Sleep(50 * time.Millisecond)
			continue
		case types.QueryStatusFinished:
		default:
			t.Fatalf("%s: %s %s", stmt, r.QueryStatus, aws.ToString(r.ErrorMessage))
		}
		out = append(out, r.QueryResultRows...)
		if token = r.NextToken; token == nil {
			return out
		}
	}
}
