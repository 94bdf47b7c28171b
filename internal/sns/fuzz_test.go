package sns_test

import (
	"errors"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/sns"
)

// FuzzDeliveryPolicy: the policy parsers never panic, refuse with
// ErrInvalidParameter, and what they accept keeps within SNS's limits.
func FuzzDeliveryPolicy(f *testing.F) {
	for _, s := range []string{
		`{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":60,"numRetries":50,"numNoDelayRetries":3,"numMinDelayRetries":2,"numMaxDelayRetries":35,"backoffFunction":"exponential"},"throttlePolicy":{"maxReceivesPerSecond":10},"requestPolicy":{"headerContentType":"application/json"}}`,
		`{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"backoffFunction":"linear"},"disableSubscriptionOverrides":true}}`,
		`{}`, `{"healthyRetryPolicy":{"numRetries":100,"minDelayTarget":36,"maxDelayTarget":36}}`, `null`, `[`, `{"healthyRetryPolicy":{"minDelayTarget":-1}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(p *sns.RetryPolicy) {
			if p == nil {
				return
			}
			var total time.Duration
			for _, d := range p.Delays() {
				if d < 0 {
					t.Fatalf("%s: negative delay %v", s, d)
				}
				total += d
			}
			if total > sns.MaxRetryTime {
				t.Fatalf("%s: accepted a policy of %v of retries", s, total)
			}
		}
		sp, err := sns.ParseSubscriptionDeliveryPolicy(s)
		if err != nil && !errors.Is(err, sns.ErrInvalidParameter) {
			t.Fatalf("ParseSubscriptionDeliveryPolicy(%q) = %v", s, err)
		}
		if err == nil && sp.HealthyRetryPolicy != nil && sp.HealthyRetryPolicy.MinDelayTarget > 0 {
			check(sp.HealthyRetryPolicy)
		}
		tp, err := sns.ParseTopicDeliveryPolicy(s)
		if err != nil && !errors.Is(err, sns.ErrInvalidParameter) {
			t.Fatalf("ParseTopicDeliveryPolicy(%q) = %v", s, err)
		}
		if err == nil && tp.HTTP != nil && tp.HTTP.DefaultHealthyRetryPolicy != nil && tp.HTTP.DefaultHealthyRetryPolicy.MinDelayTarget > 0 {
			check(tp.HTTP.DefaultHealthyRetryPolicy)
		}
	})
}

// FuzzTopicARN: ParseTopicARN accepts exactly what TopicARN builds.
func FuzzTopicARN(f *testing.F) {
	for _, s := range []string{"arn:aws:sns:us-east-1:111122223333:alerts", "arn:aws:sns::1:a", "arn:aws:sns:r:a:b:c", "arn:aws:s3:r:a:b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		region, account, name, ok := sns.ParseTopicARN(s)
		if !ok {
			return
		}
		if got := sns.TopicARN(region, account, name); got != s {
			t.Fatalf("ParseTopicARN(%q) = %q %q %q, which builds %q", s, region, account, name, got)
		}
	})
}
