package sns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// Backoff functions of a retry policy's backoff phase.
const (
	BackoffLinear      = "linear"
	BackoffArithmetic  = "arithmetic"
	BackoffGeometric   = "geometric"
	BackoffExponential = "exponential"
)

// Limits of a delivery policy (alerts.md §2.5).
const (
	// MaxRetryTime bounds the sum of a policy's delays: AWS's hard limit.
	MaxRetryTime = 3600 * time.Second
	// MaxRetries bounds numRetries.
	MaxRetries = 100
)

// RetryPolicy is an HTTP/S healthy retry policy (alerts.md §2.5), in the
// JSON shape of DeliveryPolicy's healthyRetryPolicy; delays in seconds.
type RetryPolicy struct {
	MinDelayTarget     int    `json:"minDelayTarget"`
	MaxDelayTarget     int    `json:"maxDelayTarget"`
	NumRetries         int    `json:"numRetries"`
	NumMaxDelayRetries int    `json:"numMaxDelayRetries"`
	NumNoDelayRetries  int    `json:"numNoDelayRetries"`
	NumMinDelayRetries int    `json:"numMinDelayRetries"`
	BackoffFunction    string `json:"backoffFunction"`
}

// DefaultRetryPolicy is SNS's default for HTTP/S: three retries 20 s
// apart.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MinDelayTarget: 20, MaxDelayTarget: 20, NumRetries: 3, BackoffFunction: BackoffLinear}
}

// Validate checks the policy against SNS's rules.
func (p RetryPolicy) Validate() error {
	bad := func(format string, args ...any) error {
		return invalid("Invalid parameter: DeliveryPolicy: "+format, args...)
	}
	switch {
	case p.MinDelayTarget < 1:
		return bad("minDelayTarget must be at least 1 second")
	case p.MaxDelayTarget < p.MinDelayTarget:
		return bad("maxDelayTarget (%d) must be at least minDelayTarget (%d)", p.MaxDelayTarget, p.MinDelayTarget)
	case p.MaxDelayTarget > int(MaxRetryTime/time.Second):
		return bad("maxDelayTarget must be at most %d seconds", int(MaxRetryTime/time.Second))
	case p.NumRetries < 0 || p.NumRetries > MaxRetries:
		return bad("numRetries must be between 0 and %d", MaxRetries)
	case p.NumNoDelayRetries < 0 || p.NumMinDelayRetries < 0 || p.NumMaxDelayRetries < 0:
		return bad("retry counts must not be negative")
	case p.NumNoDelayRetries+p.NumMinDelayRetries+p.NumMaxDelayRetries > p.NumRetries:
		return bad("numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries must not exceed numRetries")
	case !slices.Contains([]string{BackoffLinear, BackoffArithmetic, BackoffGeometric, BackoffExponential}, p.BackoffFunction):
		return bad("backoffFunction must be one of linear, arithmetic, geometric, exponential")
	}
	var total time.Duration
	for _, d := range p.Delays() {
		total += d
	}
	if total > MaxRetryTime {
		return bad("the retries take %s; the total may be at most %s", total, MaxRetryTime)
	}
	return nil
}

// Delays returns the wait before each retry, in order: the no-delay
// phase (0), the pre-backoff phase (minDelayTarget), the backoff phase and
// the post-backoff phase (maxDelayTarget). The backoff phase holds the
// retries the other phases leave; its k-th of n delays is
// min + (max-min)·f(k/n), f being the backoff function ([backoff]). AWS
// publishes the functions only as a graph; these follow its shapes,
// without AWS's jitter, so that the schedule is exact and testable.
func (p RetryPolicy) Delays() []time.Duration {
	sec := func(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }
	var out []time.Duration
	for range p.NumNoDelayRetries {
		out = append(out, 0)
	}
	for range p.NumMinDelayRetries {
		out = append(out, sec(float64(p.MinDelayTarget)))
	}
	n := p.NumRetries - p.NumNoDelayRetries - p.NumMinDelayRetries - p.NumMaxDelayRetries
	lo, hi := float64(p.MinDelayTarget), float64(p.MaxDelayTarget)
	for k := 1; k <= n; k++ {
		out = append(out, sec(lo+(hi-lo)*backoff(p.BackoffFunction, float64(k)/float64(n))))
	}
	for range p.NumMaxDelayRetries {
		out = append(out, sec(hi))
	}
	return out
}

// backoff maps t in (0, 1] to the fraction of the way from the minimum to
// the maximum delay: linear grows evenly; arithmetic by increments that
// grow evenly (t²); exponential doubles-like, slow first (2^(10t)-1)/1023;
// geometric fast first, then flattening (1-(1-t)³).
func backoff(fn string, t float64) float64 {
	switch fn {
	case BackoffArithmetic:
		return t * t
	case BackoffExponential:
		return (math.Pow(2, 10*t) - 1) / 1023
	case BackoffGeometric:
		return 1 - math.Pow(1-t, 3)
	}
	return t
}

// ThrottlePolicy limits deliveries per second to one subscription.
type ThrottlePolicy struct {
	MaxReceivesPerSecond int `json:"maxReceivesPerSecond,omitempty"`
}

// RequestPolicy changes the HTTP request.
type RequestPolicy struct {
	HeaderContentType string `json:"headerContentType,omitempty"`
}

// headerContentTypes are the content types SNS accepts in a request
// policy.
var headerContentTypes = []string{
	"text/plain", "application/json", "application/xml", "text/plain; charset=UTF-8",
	"application/json; charset=UTF-8", "application/xml; charset=UTF-8",
}

// SubscriptionDeliveryPolicy is a subscription's DeliveryPolicy attribute.
type SubscriptionDeliveryPolicy struct {
	HealthyRetryPolicy *RetryPolicy    `json:"healthyRetryPolicy,omitempty"`
	ThrottlePolicy     *ThrottlePolicy `json:"throttlePolicy,omitempty"`
	RequestPolicy      *RequestPolicy  `json:"requestPolicy,omitempty"`
}

// TopicDeliveryPolicy is a topic's DeliveryPolicy attribute: the HTTP/S
// defaults of its subscriptions.
type TopicDeliveryPolicy struct {
	HTTP *TopicHTTPPolicy `json:"http,omitempty"`
}

// TopicHTTPPolicy is the "http" member of a topic's delivery policy.
type TopicHTTPPolicy struct {
	DefaultHealthyRetryPolicy    *RetryPolicy    `json:"defaultHealthyRetryPolicy,omitempty"`
	DisableSubscriptionOverrides bool            `json:"disableSubscriptionOverrides"`
	DefaultThrottlePolicy        *ThrottlePolicy `json:"defaultThrottlePolicy,omitempty"`
	DefaultRequestPolicy         *RequestPolicy  `json:"defaultRequestPolicy,omitempty"`
}

// decodeStrict decodes one JSON object, refusing unknown members.
func decodeStrict(s string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("Invalid parameter: DeliveryPolicy: %v", err)
	}
	if dec.More() {
		return invalid("Invalid parameter: DeliveryPolicy: trailing data after the JSON object")
	}
	return nil
}

// withDefaults fills a partial retry policy from def: AWS accepts a policy
// naming only some members.
func withDefaults(p *RetryPolicy, def RetryPolicy) RetryPolicy {
	if p == nil {
		return def
	}
	out := *p
	if out.BackoffFunction == "" {
		out.BackoffFunction = BackoffLinear
	}
	if out.MinDelayTarget == 0 {
		out.MinDelayTarget = def.MinDelayTarget
	}
	if out.MaxDelayTarget == 0 {
		out.MaxDelayTarget = max(def.MaxDelayTarget, out.MinDelayTarget)
	}
	return out
}

func checkRequest(r *RequestPolicy) error {
	if r != nil && r.HeaderContentType != "" && !slices.Contains(headerContentTypes, r.HeaderContentType) {
		return invalid("Invalid parameter: DeliveryPolicy: headerContentType %q is not supported", r.HeaderContentType)
	}
	return nil
}

func checkThrottle(t *ThrottlePolicy) error {
	if t != nil && t.MaxReceivesPerSecond < 0 {
		return invalid("Invalid parameter: DeliveryPolicy: maxReceivesPerSecond must be at least 1")
	}
	return nil
}

// ParseTopicDeliveryPolicy validates a topic's DeliveryPolicy attribute.
func ParseTopicDeliveryPolicy(s string) (TopicDeliveryPolicy, error) {
	var p TopicDeliveryPolicy
	if err := decodeStrict(s, &p); err != nil {
		return p, err
	}
	if h := p.HTTP; h != nil {
		if h.DefaultHealthyRetryPolicy != nil {
			if err := withDefaults(h.DefaultHealthyRetryPolicy, DefaultRetryPolicy()).Validate(); err != nil {
				return p, err
			}
		}
		if err := checkRequest(h.DefaultRequestPolicy); err != nil {
			return p, err
		}
		if err := checkThrottle(h.DefaultThrottlePolicy); err != nil {
			return p, err
		}
	}
	return p, nil
}

// ParseSubscriptionDeliveryPolicy validates a subscription's
// DeliveryPolicy attribute.
func ParseSubscriptionDeliveryPolicy(s string) (SubscriptionDeliveryPolicy, error) {
	var p SubscriptionDeliveryPolicy
	if err := decodeStrict(s, &p); err != nil {
		return p, err
	}
	if p.HealthyRetryPolicy != nil {
		if err := withDefaults(p.HealthyRetryPolicy, DefaultRetryPolicy()).Validate(); err != nil {
			return p, err
		}
	}
	if err := checkRequest(p.RequestPolicy); err != nil {
		return p, err
	}
	return p, checkThrottle(p.ThrottlePolicy)
}

// effective is the delivery policy in force for one subscription: the
// subscription's members win over the topic's defaults unless the topic
// disables overrides (alerts.md §2.5).
type effective struct {
	Retry       RetryPolicy
	Throttle    int // deliveries per second; 0: none
	ContentType string
}

func effectivePolicy(topicPolicy, subPolicy string) effective {
	e := effective{Retry: DefaultRetryPolicy(), ContentType: "text/plain; charset=UTF-8"}
	var tp TopicDeliveryPolicy
	if topicPolicy != "" {
		tp, _ = ParseTopicDeliveryPolicy(topicPolicy) // validated when set
	}
	overrides := true
	if h := tp.HTTP; h != nil {
		e.Retry = withDefaults(h.DefaultHealthyRetryPolicy, e.Retry)
		if h.DefaultThrottlePolicy != nil {
			e.Throttle = h.DefaultThrottlePolicy.MaxReceivesPerSecond
		}
		if h.DefaultRequestPolicy != nil && h.DefaultRequestPolicy.HeaderContentType != "" {
			e.ContentType = h.DefaultRequestPolicy.HeaderContentType
		}
		overrides = !h.DisableSubscriptionOverrides
	}
	if subPolicy == "" || !overrides {
		return e
	}
	sp, _ := ParseSubscriptionDeliveryPolicy(subPolicy)
	if sp.HealthyRetryPolicy != nil {
		e.Retry = withDefaults(sp.HealthyRetryPolicy, e.Retry)
	}
	if sp.ThrottlePolicy != nil {
		e.Throttle = sp.ThrottlePolicy.MaxReceivesPerSecond
	}
	if sp.RequestPolicy != nil && sp.RequestPolicy.HeaderContentType != "" {
		e.ContentType = sp.RequestPolicy.HeaderContentType
	}
	return e
}

// defaultEffectiveDeliveryPolicy is the topic attribute
// EffectiveDeliveryPolicy of a topic without a DeliveryPolicy, as
// alerts.md §2.1 gives it.
const defaultEffectiveDeliveryPolicy = `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false}}`

// topicEffectiveDeliveryPolicy renders the topic's
// EffectiveDeliveryPolicy: its DeliveryPolicy with the defaults filled.
func topicEffectiveDeliveryPolicy(policy string) string {
	if policy == "" {
		return defaultEffectiveDeliveryPolicy
	}
	tp, err := ParseTopicDeliveryPolicy(policy)
	if err != nil {
		return defaultEffectiveDeliveryPolicy
	}
	h := TopicHTTPPolicy{}
	if tp.HTTP != nil {
		h = *tp.HTTP
	}
	r := withDefaults(h.DefaultHealthyRetryPolicy, DefaultRetryPolicy())
	h.DefaultHealthyRetryPolicy = &r
	b, err := json.Marshal(TopicDeliveryPolicy{HTTP: &h})
	if err != nil {
		return defaultEffectiveDeliveryPolicy
	}
	return string(b)
}

// subscriptionEffectiveDeliveryPolicy renders a subscription's
// EffectiveDeliveryPolicy.
func subscriptionEffectiveDeliveryPolicy(e effective) string {
	p := SubscriptionDeliveryPolicy{HealthyRetryPolicy: &e.Retry}
	if e.Throttle > 0 {
		p.ThrottlePolicy = &ThrottlePolicy{MaxReceivesPerSecond: e.Throttle}
	}
	p.RequestPolicy = &RequestPolicy{HeaderContentType: e.ContentType}
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("sns: encode delivery policy: %v", err)) // plain structs always encode
	}
	return string(b)
}
