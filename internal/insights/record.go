package insights

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// The Insights types and the event categories they cover (insights.md §1).
const (
	CallRate  = "ApiCallRateInsight"
	ErrorRate = "ApiErrorRateInsight"
)

// An Insights record (insights.md §2–§3), in the member order of AWS's
// examples.
type record struct {
	EventVersion       string  `json:"eventVersion"`
	EventTime          string  `json:"eventTime"`
	AWSRegion          string  `json:"awsRegion"`
	EventID            string  `json:"eventID"`
	EventType          string  `json:"eventType"`
	RecipientAccountID string  `json:"recipientAccountId"`
	SharedEventID      string  `json:"sharedEventID"`
	InsightDetails     details `json:"insightDetails"`
	EventCategory      string  `json:"eventCategory"`
}

type details struct {
	State          string         `json:"state"`
	EventSource    string         `json:"eventSource"`
	EventName      string         `json:"eventName"`
	InsightType    string         `json:"insightType"`
	ErrorCode      string         `json:"errorCode,omitempty"`
	InsightContext insightContext `json:"insightContext"`
}

type insightContext struct {
	Statistics   statistics    `json:"statistics"`
	Attributions []attribution `json:"attributions,omitempty"`
}

type statistics struct {
	Baseline         average `json:"baseline"`
	Insight          average `json:"insight"`
	InsightDuration  int64   `json:"insightDuration"`
	BaselineDuration int64   `json:"baselineDuration"`
}

type average struct {
	Average float64 `json:"average"`
}

type attribution struct {
	Attribute string     `json:"attribute"`
	Insight   []valueAvg `json:"insight"`
	Baseline  []valueAvg `json:"baseline"`
}

type valueAvg struct {
	Value   string  `json:"value"`
	Average float64 `json:"average"`
}

// shown is how many values an attribution lists (insights.md §3).
const shown = 5

// averages turns the heaviest counts into per-minute averages.
func averages(t topK, minutes int64) []valueAvg {
	out := []valueAvg{}
	if minutes <= 0 {
		return out
	}
	for _, e := range t.top(shown) {
		out = append(out, valueAvg{Value: e.V, Average: round(e.N / float64(minutes))})
	}
	return out
}

// round keeps 10 significant digits, so averages print as AWS's do
// (0.0000882145) rather than with float noise.
func round(f float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 10, 64), 64)
	return r
}

// buildAttributions lists the attributions of a period against its
// baseline; errorCode only for the call rate (decision §63).
func buildAttributions(typ string, period *attrs, periodMinutes int64, base *attrs, baseMinutes int64) []attribution {
	out := []attribution{
		{Attribute: "userIdentityArn", Insight: averages(period.U, periodMinutes), Baseline: averages(base.U, baseMinutes)},
		{Attribute: "userAgent", Insight: averages(period.G, periodMinutes), Baseline: averages(base.G, baseMinutes)},
	}
	if typ == CallRate {
		out = append(out, attribution{Attribute: "errorCode", Insight: averages(period.E, periodMinutes), Baseline: averages(base.E, baseMinutes)})
	}
	return out
}

// Record is an Insights record the detector decided on.
type Record struct {
	Account, Region string
	// Category is the event category of the series it was raised on,
	// Management or Data; the record itself does not say (decision §81).
	Category string
	EventID  string
	Raw      []byte // the record's JSON text
}

// Event parses the record for the event log.
func (r Record) Event() (event.Event, error) {
	ev, err := event.Parse(r.Raw)
	if err != nil {
		return event.Event{}, fmt.Errorf("insights record %s: %w", r.EventID, err)
	}
	return ev, nil
}

func minuteTime(m int64) string { return event.FormatTime(time.Unix(m*60, 0)) }

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func marshalRecord(r *record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // plain strings and finite numbers always marshal
	}
	return b
}
