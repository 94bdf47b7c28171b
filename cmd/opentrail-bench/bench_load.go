package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithy "github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/identity"
)

// The load benchmark (opentrail-bench --load) runs a server with a logging
// trail (or uses the one at --endpoint, any OpenTrail version, with the
// key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, so that two versions
// compare under one load) and has --clients concurrent SDK clients call it
// for --seconds:
// most calls are LookupEvents; one client in fifty changes the trail's
// event selectors every fifth call (a trail change: delivery stages what
// was recorded before it). It reports the error count by kind and the
// latency of trail changes beside that of LookupEvents under the same
// load, the baseline: a trail change must not wait for the load to end.
func (c *benchCmd) runLoad(ctx context.Context, f benchFlags) error {
	url, keyID, secret := f.endpoint, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if url == "" {
		u, k, stop, err := startLoadServer(ctx, f)
		if err != nil {
			return err
		}
		defer stop()
		url, keyID, secret = u, k.AccessKeyID, k.SecretAccessKey
	} else if keyID == "" || secret == "" {
		return &usageError{msg: "--endpoint needs the server's key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}
	}
	return c.load(ctx, f, url, keyID, secret)
}

// startLoadServer runs a server in this process for the load benchmark.
func startLoadServer(ctx context.Context, f benchFlags) (string, identity.Key, func(), error) {
	dataDir := filepath.Join(f.dir, "load-data")
	os.RemoveAll(dataDir)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", identity.Key{}, nil, err
	}
	ids, err := identity.Open(dataDir)
	if err != nil {
		return "", identity.Key{}, nil, err
	}
	if _, err := ids.EnsureAccount(ctx, benchAccount); err != nil {
		return "", identity.Key{}, nil, err
	}
	key, err := ids.RootKey(benchAccount)
	if err != nil {
		return "", identity.Key{}, nil, err
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dataDir, "127.0.0.1:0", benchAccount
	cfg.Delivery.Interval = config.Duration(f.deliveryInterval)
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", identity.Key{}, nil, err
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	return d.URL(), key, func() { cancel(); <-done }, nil
}

// load runs the load against the server at url.
func (c *benchCmd) load(ctx context.Context, f benchFlags, url, keyID, secret string) error {
	creds := credentials.NewStaticCredentialsProvider(keyID, secret, "")
	// The SDK's default client and retries, as an application would use
	// it: errors here are what users would see.
	ct := cloudtrail.New(cloudtrail.Options{Region: benchRegion, BaseEndpoint: aws.String(url), Credentials: creds})
	s3c := s3.New(s3.Options{Region: benchRegion, BaseEndpoint: aws.String(url), Credentials: creds, UsePathStyle: true})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(benchBucket)}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(benchTrail), S3BucketName: aws.String(benchBucket)}); err != nil {
		return fmt.Errorf("create trail: %w", err)
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(benchTrail)}); err != nil {
		return fmt.Errorf("start logging: %w", err)
	}
	server := "an in-process server, delivery interval " + f.deliveryInterval.String()
	if f.endpoint != "" {
		server = f.endpoint
	}
	fmt.Fprintf(c.stdout, "opentrail-bench --load: %d clients for %gs against %s, %d CPUs (%s), Go %s, load average %s\n",
		f.clients, f.seconds, server, runtime.NumCPU(), cpuModel(), runtime.Version(), loadAvg())

	var calls, failed atomic.Int64
	var mu sync.Mutex
	var lookups, changes []time.Duration
	kinds := map[string]int{}
	stop := time.Now().Add(time.Duration(f.seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := range f.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; time.Now().Before(stop); j++ {
				change := i%50 == 0 && j%5 == 0
				t0 := time.Now()
				var err error
				if change {
					_, err = ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String(benchTrail),
						EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(j%10 == 0)}}})
				} else {
					_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(5)})
				}
				took := time.Since(t0)
				calls.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					failed.Add(1)
					kinds[errorKind(err)]++
				case change:
					changes = append(changes, took)
				case j%10 == 0: // a sample is enough, and keeps the slice small
					lookups = append(lookups, took)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lookups)
	slices.Sort(changes)
	pct := func(d []time.Duration, q float64) float64 {
		if len(d) == 0 {
			return 0
		}
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	w := c.stdout
	fmt.Fprintf(w, "\ncalls %d in %gs (%.0f/s), errors %d\n", calls.Load(), f.seconds, float64(calls.Load())/f.seconds, failed.Load())
	for k, n := range kinds {
		fmt.Fprintf(w, "  %d × %s\n", n, k)
	}
	fmt.Fprintf(w, "\n%-40s %10s %10s %10s\n", "latency, ms", "p50", "p99", "max")
	fmt.Fprintf(w, "%-40s %10.1f %10.1f %10.1f\n", fmt.Sprintf("trail change (PutEventSelectors, n=%d)", len(changes)), pct(changes, .5), pct(changes, .99), pct(changes, 1))
	fmt.Fprintf(w, "%-40s %10.1f %10.1f %10.1f\n", fmt.Sprintf("baseline: LookupEvents (n=%d)", len(lookups)), pct(lookups, .5), pct(lookups, .99), pct(lookups, 1))
	if b := pct(lookups, .99); b > 0 {
		fmt.Fprintf(w, "%-40s %10s %10.2f\n", "ratio trail change / baseline", "", pct(changes, .99)/b)
	}
	fmt.Fprintf(w, "load average after: %s\n", loadAvg())
	if failed.Load() > 0 {
		return errors.New("some calls failed (see above)")
	}
	return nil
}

// errorKind is a short description of a failed call: its API error code,
// or the end of its message.
func errorKind(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s)-i < 120 {
		return s[i+2:]
	}
	return s
}
