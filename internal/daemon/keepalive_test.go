package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// TestLargeResponsesOverKeepAlive sends many sequential lookups with large
// responses over the SDK's default (keep-alive) client to the real server:
// every response must arrive whole.
func TestLargeResponsesOverKeepAlive(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
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
