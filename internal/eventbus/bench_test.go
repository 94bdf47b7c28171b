package eventbus

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// benchEvents makes n CloudTrail management events of 40 services and 30
// API names each, as the follower reads them from the log.
func benchEvents(tb testing.TB, n int) []event.Event {
	tb.Helper()
	evs := make([]event.Event, n)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		src, name := fmt.Sprintf("svc%d.amazonaws.com", i%40), fmt.Sprintf("%sThing%d", []string{"Create", "Delete", "Put", "Describe"}[i%4], (i/40)%30)
		raw := fmt.Sprintf(`{"eventVersion":"1.11","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/u%d","accountId":"111122223333","userName":"u%d"},`+
			`"eventTime":%q,"eventSource":%q,"eventName":%q,"awsRegion":"us-east-1","sourceIPAddress":"192.0.2.%d","userAgent":"aws-cli/2.15",`+
			`"requestParameters":{"name":"r%d"},"responseElements":null,"requestID":"req-%d","eventID":"00000000-0000-4000-8000-%012d","readOnly":%t,`+
			`"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
			i%7, i%7, t0.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339), src, name, i%250, i, i, i, strings.HasPrefix(name, "Describe"))
		ev, err := event.Parse([]byte(raw))
		if err != nil {
			tb.Fatal(err)
		}
		evs[i] = ev
	}
	return evs
}

// benchRules returns n rules in the shapes CloudTrail monitoring uses:
// source and detail-type with a list of event names (most), a name
// prefix, anything-but on the user, a wildcard.
func benchRules(n int) []string {
	out := make([]string, n)
	for i := range n {
		src := fmt.Sprintf("aws.svc%d", (i*7)%40)
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			out[i] = fmt.Sprintf(`{"source":[%q],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventName":["CreateThing%d","DeleteThing%d","Nope%d"]}}`, src, i%30, (i+3)%30, i)
		case 6, 7:
			out[i] = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[{"prefix":"Put"}],"requestParameters":{"name":["r%d"]}}}`, src, i)
		case 8:
			out[i] = fmt.Sprintf(`{"source":[%q],"detail":{"userIdentity":{"userName":[{"anything-but":["u1","u2"]}]},"eventName":["PutThing%d"]}}`, src, i%30)
		default:
			out[i] = fmt.Sprintf(`{"source":[%q],"detail":{"eventName":[{"wildcard":"Delete*%d"}]}}`, src, i%30)
		}
	}
	return out
}

// BenchmarkFollow measures the default bus as a follower of the event
// log: reading events, building each envelope, matching it against every
// rule of the account's bus and recording the deliveries (to an API
// destination nobody serves; sending is not measured). rules=0 is the
// same-run baseline: the follower's own cost without matching.
//
//	go test -run XXX -bench Follow -benchtime 3x ./internal/eventbus/
func BenchmarkFollow(b *testing.B) {
	const n = 200000
	evs := benchEvents(b, n)
	for _, rules := range []int{0, 1000} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				so := store.DefaultOptions()
				so.Logger = discard
				so.TailBytes = 1 << 30 // the events are in memory, as for a follower that keeps up
				so.Followers = []string{"eventbus"}
				st, err := store.Open(filepath.Join(dir, "events"), so)
				if err != nil {
					b.Fatal(err)
				}
				// The follower is registered before the events arrive, so
				// it reads them from memory, parsed once, as live.
				f, err := st.Follow("eventbus", 0, store.FollowOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < n; i += 5000 {
					if _, err := st.Append(context.Background(), evs[i:min(n, i+5000)], store.AppendOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				o := DefaultOptions()
				o.Logger = discard
				o.RetryBase, o.RetryMax = time.Hour, time.Hour // sending stays out of the measure
				o.MaxRulesPerBus = rules
				e, err := Open(filepath.Join(dir, "bus"), o)
				if err != nil {
					b.Fatal(err)
				}
				e.Init(0)
				s := Scope{"111122223333", "us-east-1"}
				if rules > 0 {
					conn, _ := e.CreateConnection(s, Connection{Name: "c", AuthorizationType: AuthAPIKey, Auth: AuthParams{APIKey: &APIKeyAuth{APIKeyName: "k", APIKeyValue: "v"}}})
					d, err := e.CreateAPIDestination(s, APIDestination{Name: "d", ConnectionARN: conn.ARN(), Endpoint: "http://127.0.0.1:1/", Method: "POST"})
					if err != nil {
						b.Fatal(err)
					}
					for i, p := range benchRules(rules) {
						name := fmt.Sprintf("r%d", i)
						if _, err := e.PutRule(s, PutRuleInput{Name: name, EventPattern: p}); err != nil {
							b.Fatal(err)
						}
						if _, err := e.PutTargets(s, "", name, []Target{{ID: "t", ARN: d.ARN()}}); err != nil {
							b.Fatal(err)
						}
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()
				go func() { done <- e.Run(ctx, f) }()
				for {
					if ck, _ := e.Checkpoint(); ck >= uint64(n) {
						break
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				cancel()
				<-done
				b.ReportMetric(float64(e.out.size()), "deliveries/run")
				e.Close()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
