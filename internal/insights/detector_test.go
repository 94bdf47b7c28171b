package insights

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/event"
)

const acct = "111111111111"

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

// call is one API call in a test workload.
type call struct {
	at            time.Time
	source, name  string
	readOnly      bool
	errorCode     string
	user, agent   string
	region        string
	dataEvent     bool
	insightRecord bool
	// activity makes the call an event from outside AWS, as a channel
	// stores it (ActivityAuditLog, lake.md §7.5): source and name in
	// eventData.
	activity bool
}

var seq int

func mkEvent(t testing.TB, c call) *event.Event {
	t.Helper()
	seq++
	region := c.region
	if region == "" {
		region = "us-east-1"
	}
	user := c.user
	if user == "" {
		user = "alice"
	}
	agent := c.agent
	if agent == "" {
		agent = "aws-cli/2.15"
	}
	rec := map[string]any{
		"eventVersion": "1.08", "eventTime": event.FormatTime(c.at), "eventSource": c.source, "eventName": c.name,
		"awsRegion": region, "eventID": fmt.Sprintf("00000000-0000-4000-8000-%012d", seq), "eventType": "AwsApiCall",
		"readOnly": c.readOnly, "recipientAccountId": acct, "userAgent": agent, "sourceIPAddress": "192.0.2.1",
		"userIdentity":    map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + acct + ":user/" + user, "accountId": acct, "userName": user},
		"managementEvent": !c.dataEvent, "eventCategory": map[bool]string{false: "Management", true: "Data"}[c.dataEvent],
	}
	if c.errorCode != "" {
		rec["errorCode"] = c.errorCode
		rec["errorMessage"] = "denied"
	}
	if c.activity {
		data := map[string]any{"version": "1.0", "UID": rec["eventID"], "userIdentity": map[string]any{"type": "CustomUserIdentity", "principalId": user},
			"eventTime": rec["eventTime"], "eventSource": c.source, "eventName": c.name, "recipientAccountId": acct}
		if c.errorCode != "" {
			data["errorCode"] = c.errorCode
		}
		rec = map[string]any{"eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
			"eventID": rec["eventID"], "eventTime": rec["eventTime"], "awsRegion": region, "recipientAccountId": acct,
			"metadata":  map[string]any{"ingestionTime": rec["eventTime"], "channelARN": "arn:aws:cloudtrail:us-east-1:" + acct + ":channel/0c000000-0000-4000-8000-00000000000a"},
			"eventData": data}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return &ev
}

// testOptions are the defaults with deterministic ids.
func testOptions() *Options {
	o := DefaultOptions()
	n := 0
	o.NewID = func() string { n++; return fmt.Sprintf("00000000-0000-4000-8000-%012d", 900000+n) }
	return &o
}

func always(string, string, string, string) bool { return true }

// feed plays minutes of traffic through d: perMinute(m) gives the calls of
// minute m (0 is t0), and the clock advances past each minute.
func feed(t testing.TB, d *detector, from, to int, perMinute func(m int) []call, enabled EnabledFunc) []Record {
	t.Helper()
	var out []Record
	for m := from; m < to; m++ {
		for _, c := range perMinute(m) {
			d.add(mkEvent(t, c))
		}
		out = append(out, d.advance(t0.Add(time.Duration(m+1)*time.Minute+d.opts.Grace), true, enabled)...)
	}
	return out
}

// steady is 8, 10, 12 RunInstances calls a minute in turn, by alice.
func steady(m int) []call {
	n := 8 + 2*(m%3)
	out := make([]call, n)
	for i := range out {
		out[i] = call{at: t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second), source: "ec2.amazonaws.com", name: "RunInstances"}
	}
	return out
}

func decodeRecord(t *testing.T, r Record) record {
	t.Helper()
	var out record
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Event(); err != nil {
		t.Fatalf("the record does not parse as an event: %v", err)
	}
	return out
}

func TestBurstRaisesStartAndEnd(t *testing.T) {
	d := newDetector(testOptions())
	const day = 24 * 60
	burstAt, burstLen := 2*day+600, 10
	traffic := func(m int) []call {
		out := steady(m)
		if m >= burstAt && m < burstAt+burstLen {
			for i := range 50 {
				out = append(out, call{at: t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second), source: "ec2.amazonaws.com",
					name: "RunInstances", user: "mallory", agent: "python-requests/2"})
			}
		}
		return out
	}
	if recs := feed(t, d, 0, burstAt, traffic, always); len(recs) != 0 {
		t.Fatalf("steady traffic raised %d records; first: %s", len(recs), recs[0].Raw)
	}
	recs := feed(t, d, burstAt, burstAt+burstLen+10, traffic, always)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want Start and End", len(recs))
	}
	start, end := decodeRecord(t, recs[0]), decodeRecord(t, recs[1])

	// The baseline: two days of 8, 10, 12 calls a minute in turn.
	n := int64(burstAt)
	var sum float64
	for m := range burstAt {
		sum += float64(len(steady(m)))
	}
	mean := round(sum / float64(n))
	base := []valueAvg{{"arn:aws:iam::" + acct + ":user/alice", mean}}
	alice := float64(len(steady(burstAt))+len(steady(burstAt+1))) / 2
	wantStart := record{
		EventVersion: "1.11", EventTime: "2026-03-04T10:00:00Z", AWSRegion: "us-east-1", EventID: recs[0].EventID,
		EventType: "AwsCloudTrailInsight", RecipientAccountID: acct, SharedEventID: start.SharedEventID, EventCategory: "Insight",
		InsightDetails: details{State: "Start", EventSource: "ec2.amazonaws.com", EventName: "RunInstances", InsightType: CallRate,
			InsightContext: insightContext{
				Statistics: statistics{Baseline: average{mean}, Insight: average{float64(50 + len(steady(burstAt)))}, InsightDuration: 2, BaselineDuration: n},
				Attributions: []attribution{
					{Attribute: "userIdentityArn", Insight: []valueAvg{{"arn:aws:iam::" + acct + ":user/mallory", 50}, {"arn:aws:iam::" + acct + ":user/alice", alice}}, Baseline: base},
					{Attribute: "userAgent", Insight: []valueAvg{{"python-requests/2", 50}, {"aws-cli/2.15", alice}}, Baseline: []valueAvg{{"aws-cli/2.15", mean}}},
					{Attribute: "errorCode", Insight: []valueAvg{{"null", 50 + alice}}, Baseline: []valueAvg{{"null", mean}}},
				},
			}},
	}
	if diff := cmp.Diff(wantStart, start, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Start (-want +got):\n%s", diff)
	}
	if start.SharedEventID == "" || end.SharedEventID != start.SharedEventID || end.EventID == start.EventID {
		t.Errorf("sharedEventID %q / %q, eventID %q / %q: want one shared id and two event ids", start.SharedEventID, end.SharedEventID, start.EventID, end.EventID)
	}
	var burst float64
	for m := burstAt; m < burstAt+burstLen; m++ {
		burst += float64(len(traffic(m)))
	}
	st := end.InsightDetails.InsightContext.Statistics
	if end.EventTime != "2026-03-04T10:10:00Z" || end.InsightDetails.State != "End" || st.InsightDuration != int64(burstLen) ||
		math.Abs(st.Insight.Average-round(burst/float64(burstLen))) > 1e-9 || st.BaselineDuration != n || st.Baseline.Average != mean {
		t.Errorf("End: %s", recs[1].Raw)
	}
	if got := end.InsightDetails.InsightContext.Attributions[0].Insight[0]; got != (valueAvg{"arn:aws:iam::" + acct + ":user/mallory", 50}) {
		t.Errorf("End's top user %v, want mallory at 50 a minute", got)
	}
}

func TestNoInsights(t *testing.T) {
	const day = 24 * 60
	for _, tt := range []struct {
		name    string
		opts    func(*Options)
		traffic func(m int) []call
		enabled EnabledFunc
		minutes int
	}{
		{"steady traffic", nil, steady, always, 3 * day},
		{"a burst during warm-up", nil, func(m int) []call {
			out := steady(m)
			if m >= 600 && m < 620 {
				for range 5 {
					out = append(out, steady(m)...)
				}
			}
			return out
		}, always, 700},
		{"Insights off", nil, func(m int) []call {
			out := steady(m)
			if m >= 2*day && m < 2*day+10 {
				for range 5 {
					out = append(out, steady(m)...)
				}
			}
			return out
		}, func(string, string, string, string) bool { return false }, 2*day + 30},
		{"reads are not counted", nil, func(m int) []call {
			out := steady(m)
			if m >= 2*day && m < 2*day+10 {
				for i := range 100 {
					out = append(out, call{at: t0.Add(time.Duration(m)*time.Minute + time.Duration(i%60)*time.Second),
						source: "ec2.amazonaws.com", name: "DescribeInstances", readOnly: true})
				}
			}
			return out
		}, always, 2*day + 30},
		{"events from outside AWS are not counted", nil, func(m int) []call {
			out := steady(m)
			if m >= 2*day && m < 2*day+10 {
				for i := range 100 {
					out = append(out, call{at: t0.Add(time.Duration(m)*time.Minute + time.Duration(i%60)*time.Second),
						source: "ec2.amazonaws.com", name: "RunInstances", errorCode: "AccessDenied", activity: true})
				}
			}
			return out
		}, always, 2*day + 30},
		{"below the floor", func(o *Options) { o.WarmUp = 0 }, func(m int) []call {
			if m%60 == 0 || m >= 300 && m < 305 {
				return []call{{at: t0.Add(time.Duration(m) * time.Minute), source: "iam.amazonaws.com", name: "CreateUser"},
					{at: t0.Add(time.Duration(m) * time.Minute), source: "iam.amazonaws.com", name: "CreateUser"}}
			}
			return nil
		}, always, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			if tt.opts != nil {
				tt.opts(o)
			}
			d := newDetector(o)
			if recs := feed(t, d, 0, tt.minutes, tt.traffic, tt.enabled); len(recs) != 0 {
				t.Errorf("%d records; first: %s", len(recs), recs[0].Raw)
			}
		})
	}
}

var discard = slog.New(slog.DiscardHandler)
