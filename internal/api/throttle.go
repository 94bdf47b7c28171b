package api

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per key (account and region), refilled at rate
// tokens per second up to a burst of max(1, ceil(rate)).
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory. Beyond it, full buckets (which
// behave exactly like fresh ones) are dropped; if none is full, all are:
// that briefly hands every caller a fresh burst, which is better than
// unbounded growth (any authenticated caller can invent regions when
// Options.Regions is empty).
const maxBuckets = 10000

func newLimiter(rate float64) *limiter {
	return &limiter{rate: rate, burst: math.Max(1, math.Ceil(rate)), buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket, reporting false when it is empty.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
