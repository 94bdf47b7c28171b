package api

import (
	"math"
	"time"

	"github.com/opentrail/opentrail/internal/ratelimit"
)

// limiter is a token bucket per key (account and region), refilled at
// rate tokens per second up to a burst of max(1, ceil(rate)).
type limiter struct{ l *ratelimit.Limiter }

func newLimiter(rate float64) *limiter {
	return &limiter{ratelimit.New(rate, math.Max(1, math.Ceil(rate)))}
}

// allow takes a token from key's bucket, reporting false when it is empty.
func (l *limiter) allow(key string, now time.Time) bool { return l.l.Allow(key, now) }
