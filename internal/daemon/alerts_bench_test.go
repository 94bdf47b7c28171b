package daemon_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// arrivals records when each CloudTrail event (by requestID) reached an
// endpoint.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]time.Time
	wake chan struct{}
}

func newArrivals() *arrivals {
	return &arrivals{at: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	b, _ := io.ReadAll(r.Body)
	var env struct {
		Detail struct {
			RequestID string `json:"requestID"`
		} `json:"detail"`
	}
	json.Unmarshal(b, &env)
	a.mu.Lock()
	a.at[env.Detail.RequestID] = now
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *arrivals) wait(tb testing.TB, id string) time.Time {
	deadline := time.After(10 * time.Second)
	for {
		a.mu.Lock()
		t, ok := a.at[id]
		a.mu.Unlock()
		if ok {
			return t
		}
		select {
		case <-a.wake:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("event %s did not arrive within 10 s", id)
		}
	}
}

// BenchmarkAlertLatency measures, one call at a time, the time from a
// CloudTrail call to its event's arrival at an EventBridge rule's API
// destination (alerts.md §3; issue 12 asks p99 ≤ 1 s). The call's own
// round trip is reported beside it as the same-run baseline.
//
//	go test -run XXX -bench AlertLatency -benchtime 300x ./internal/daemon/
func BenchmarkAlertLatency(b *testing.B) {
	d := startDaemon(b, b.TempDir(), nil)
	ctx := b.Context()
	ct := rootClient(b, d, testAccount, "us-east-1")
	eb := eventsClient(b, d, testAccount, "us-east-1")
	arr := newArrivals()
	srv := httptest.NewServer(arr)
	b.Cleanup(srv.Close)
	dest := apiDestination(b, eb, "bench", srv.URL)
	loggingTrail(b, d, ct, "bench")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("tags"),
		EventPattern: aws.String(`{"source":["aws.cloudtrail"],"detail":{"eventName":["AddTags"]}}`)}); err != nil {
		b.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("tags"), Targets: []ebtypes.Target{{Id: aws.String("d"), Arn: aws.String(dest)}}}); err != nil {
		b.Fatal(err)
	}
	trail := "arn:aws:cloudtrail:us-east-1:" + testAccount + ":trail/bench"
	var lat, rtt []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		out, err := ct.AddTags(ctx, &cloudtrail.AddTagsInput{ResourceId: aws.String(trail),
			TagsList: []cttypes.Tag{{Key: aws.String("k"), Value: aws.String(time.Now().String())}}})
		if err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(start))
		lat = append(lat, arr.wait(b, requestID(out.ResultMetadata)).Sub(start))
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / float64(time.Millisecond) }
		b.ReportMetric(q(0.5), name+"-p50-ms")
		b.ReportMetric(q(0.99), name+"-p99-ms")
	}
	report("eventbridge", lat)
	report("call", rtt)
}
